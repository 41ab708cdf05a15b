import Foundation
import SigilCore
import SigilJOSE
import SigilServices
import SigilStore
import SigilTestSupport
import SigilXML
import Testing
import X509

/// Signing keys at rest (`KeyService`).
@Suite struct KeyServiceTests {
    @Test(arguments: Backend.enabled) func privateKeysAreSealedAtRestAndDecryptToTheirKid(_ backend: Backend) async throws {
        try await withServices(backend) { h in
            let records = try await h.services.keys.list(tenantID: h.tenant.id)
            #expect(!records.isEmpty)
            for record in records {
                #expect(record.sealedPrivateKey.hasPrefix("v1."))
                #expect(try h.services.keys.decrypt(record).kid == record.kid)
                // Sealed for this row only: moving the ciphertext to another kid fails.
                var moved = record
                moved.kid = "another"
                #expect(throws: (any Error).self) { try h.services.keys.decrypt(moved) }
            }
        }
    }
}

/// The start-up check a restored database goes through (`sigil` refuses to run on it otherwise).
@Suite struct MasterKeyCheckTests {
    @Test(arguments: Backend.enabled) func anotherMasterKeyIsNamedWithTheTenantsItCannotOpen(_ backend: Backend) async throws {
        try await withServices(backend) { h in
            #expect(try await h.services.keys.tenantsUnreadableWithMasterKey().isEmpty)
            let other = ServiceSet(
                context: ServiceContext(
                    store: h.faults, clock: h.clock, random: InsecureSeededRandom(seed: "other"),
                    masterKey: try MasterKey(rawBytes: Array(repeating: 9, count: 32))))
            #expect(try await other.keys.tenantsUnreadableWithMasterKey().map(\.slug) == [Tenant.defaultSlug])
        }
    }
}

/// Keys kept parsed per tenant and kid (`SigningKeyCache`) and how rotation reaches every node.
@Suite struct SigningKeyCacheTests {
    /// A second node: its own services and its own key cache over the same store.
    static func otherNode(_ h: ServiceHarness) throws -> ServiceSet {
        ServiceSet(
            context: ServiceContext(
                store: h.faults, clock: h.clock, random: InsecureSeededRandom(seed: "node-b"),
                masterKey: try MasterKey(rawBytes: Array(repeating: 7, count: 32))))
    }

    /// A client-credentials token from `node`, with the kid it names.
    static func token(_ node: ServiceSet, tenantID: String, clientID: String, secret: String) async throws -> JWS.Parsed {
        let client = try await node.oauth.authenticate(
            tenantID: tenantID, issuer: ServiceHarness.issuer, credentials: .init(basicID: clientID, basicSecret: secret),
            endpoint: "/oauth2/token")
        let response = try await node.oauth.token(
            tenantID: tenantID, issuer: ServiceHarness.issuer, client: client, parameters: ["grant_type": "client_credentials"])
        return try JWS.parse(response.accessToken)
    }

    static func currentKid(_ node: ServiceSet, tenantID: String, _ algorithm: SigningAlgorithm) async throws -> String {
        let keys = try await node.keys.list(tenantID: tenantID)
        return try #require(keys.last { $0.state == .current && $0.algorithm == algorithm.rawValue }).kid
    }

    @Test(arguments: Backend.enabled) func rotationOnOneNodeIsFollowedByAnotherAtItsNextSignature(_ backend: Backend) async throws {
        try await withServices(backend) { h in
            let nodeA = h.services, nodeB = try Self.otherNode(h)
            let tenantID = h.tenant.id
            var clients: [SigningAlgorithm: (id: String, secret: String)] = [:]
            for algorithm in [SigningAlgorithm.rs256, .es256, .eddsa] {
                var new = ApplicationService.NewOIDCClient(name: "svc-\(algorithm.rawValue)", redirectURIs: ["https://rp.example/cb"])
                new.grantTypes = ["client_credentials"]
                new.idTokenSigningAlg = algorithm.rawValue
                let (app, secret) = try await nodeA.applications.createOIDC(tenantID: tenantID, new, by: .cli)
                clients[algorithm] = (try #require(app.clientID), try #require(secret).value)
            }
            // Node B signs (and so caches) every algorithm's current key and the SAML signer.
            var before: [SigningAlgorithm: String] = [:]
            for (algorithm, client) in clients {
                let kid = try await Self.currentKid(nodeA, tenantID: tenantID, algorithm)
                before[algorithm] = kid
                let token = try await Self.token(nodeB, tenantID: tenantID, clientID: client.id, secret: client.secret)
                #expect(token.keyID == kid)
                #expect(token.algorithm == algorithm.rawValue)
            }
            let oldPEM = try await nodeB.keys.currentCertificatePEM(tenantID: tenantID)
            let oldMetadata = try await nodeB.saml.metadata(tenantID: tenantID, issuer: ServiceHarness.issuer, signed: true)
            _ = try XMLSignatureVerifier(trustedCertificates: [try Certificate(pemEncoded: oldPEM)]).verifyEnveloped(oldMetadata)
            #expect(nodeB.context.signingKeyCache.count >= 3)

            // Node A rotates (what `sigil keys rotate` and the admin API call).
            let rotated = try await nodeA.keys.rotate(tenantID: tenantID, by: .cli)
            #expect(rotated.count == SigningAlgorithm.allCases.count)

            // Node B's next tokens are signed with the new current keys, and verify with them.
            let jwks = try await nodeB.keys.jwks(tenantID: tenantID)
            for (algorithm, client) in clients {
                let kid = try await Self.currentKid(nodeA, tenantID: tenantID, algorithm)
                #expect(kid != before[algorithm])
                let token = try await Self.token(nodeB, tenantID: tenantID, clientID: client.id, secret: client.secret)
                #expect(token.keyID == kid)
                let jwk = try #require(jwks.keys.first { $0.kid == kid })
                #expect(JWS.verify(token, with: jwk))
                let old = try #require(jwks.keys.first { $0.kid == before[algorithm] })
                #expect(!JWS.verify(token, with: old))
            }
            // And its next SAML signature is made with the new RSA key, under the new certificate.
            let newPEM = try await nodeA.keys.currentCertificatePEM(tenantID: tenantID)
            #expect(newPEM != oldPEM)
            let metadata = try await nodeB.saml.metadata(tenantID: tenantID, issuer: ServiceHarness.issuer, signed: true)
            _ = try XMLSignatureVerifier(trustedCertificates: [try Certificate(pemEncoded: newPEM)]).verifyEnveloped(metadata)
            #expect(throws: (any Error).self) {
                _ = try XMLSignatureVerifier(trustedCertificates: [try Certificate(pemEncoded: oldPEM)]).verifyEnveloped(metadata)
            }
        }
    }

    @Test(arguments: Backend.enabled) func theCacheNeverServesAnotherTenantsKey(_ backend: Backend) async throws {
        try await withServices(backend) { h in
            let other = try await h.services.tenants.create(slug: "other", by: .cli)
            let keys = h.services.keys
            // Both tenants' current keys loaded into one cache.
            let mine = try await keys.currentSigningKey(tenantID: h.tenant.id, algorithm: .rs256)
            let theirs = try await keys.currentSigningKey(tenantID: other.id, algorithm: .rs256)
            #expect(mine.kid != theirs.kid)
            #expect(try await keys.currentSigningKey(tenantID: h.tenant.id, algorithm: .rs256).kid == mine.kid)
            #expect(try await keys.currentSigningKey(tenantID: other.id, algorithm: .rs256).kid == theirs.kid)
            // A row claiming the other tenant's cached kid is not answered from the cache: its
            // sealed key is opened with its own tenant and kid, and fails.
            let records = try await keys.list(tenantID: other.id)
            var forged = try #require(records.first { $0.kid == theirs.kid })
            forged.tenantID = h.tenant.id
            #expect(throws: (any Error).self) { try keys.decrypt(forged) }
            let mineRecords = try await keys.list(tenantID: h.tenant.id)
            var borrowed = try #require(mineRecords.first { $0.kid == mine.kid })
            borrowed.tenantID = other.id
            #expect(throws: (any Error).self) { try keys.decrypt(borrowed) }
            // Each tenant's SAML signer carries its own certificate.
            for tenant in [h.tenant, other] {
                let pem = try await keys.currentCertificatePEM(tenantID: tenant.id)
                let metadata = try await h.services.saml.metadata(tenantID: tenant.id, issuer: ServiceHarness.issuer, signed: true)
                _ = try XMLSignatureVerifier(trustedCertificates: [try Certificate(pemEncoded: pem)]).verifyEnveloped(metadata)
            }
        }
    }

    @Test func aKeyIsParsedOnceAndSignsTheSameAsAFreshParse() throws {
        for algorithm in SigningAlgorithm.allCases {
            let key = try SigningKeyMaterial.generate(algorithm)
            let reloaded = try SigningKeyMaterial(algorithm: algorithm, privateKeyDER: key.privateKeyDER.value)
            let message = Array("header.payload".utf8)
            for _ in 0..<3 {
                #expect(try reloaded.verify(try key.sign(message), for: message))
                #expect(try key.verify(try reloaded.sign(message), for: message))
            }
            if algorithm == .rs256 { // PKCS#1 v1.5 is deterministic
                #expect(try key.sign(message) == (try reloaded.sign(message)))
            }
            #expect((key.rsaPrivateKey != nil) == (algorithm == .rs256))
        }
    }
}
