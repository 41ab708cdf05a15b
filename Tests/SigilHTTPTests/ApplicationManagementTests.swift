import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import NIOConcurrencyHelpers
import SigilCore
import SigilJOSE
import SigilOAuth
import SigilServices
import SigilStore
import Testing

/// A fetcher serving documents from memory, counting requests per URL.
final class MemoryFetcher: RemoteDocumentFetcher {
    private let state = NIOLockedValueBox<(documents: [String: RemoteDocument], failures: [String: RemoteFetchError], counts: [String: Int])>(([:], [:], [:]))

    func serve(_ url: String, _ body: String, maxAge: TimeInterval? = nil) {
        state.withLockedValue {
            $0.documents[url] = RemoteDocument(body: Array(body.utf8), maxAge: maxAge); $0.failures[url] = nil
        }
    }

    func fail(_ url: String, _ error: RemoteFetchError) { state.withLockedValue { $0.failures[url] = error } }

    func count(_ url: String) -> Int { state.withLockedValue { $0.counts[url, default: 0] } }

    func fetch(_ url: URL, accept: String, maxBytes: Int, policy: OutboundPolicy) async throws -> RemoteDocument {
        try state.withLockedValue { s in
            s.counts[url.absoluteString, default: 0] += 1
            if let error = s.failures[url.absoluteString] { throw error }
            guard let document = s.documents[url.absoluteString] else { throw RemoteFetchError.status(404) }
            guard document.body.count <= maxBytes else { throw RemoteFetchError.tooLarge(maxBytes) }
            return document
        }
    }
}

/// Managing OIDC clients and SAML SPs beyond create: secret rotation, key sources
/// (`jwks`/`jwks_uri`), and SP registration from a metadata URL.
@Suite struct ApplicationManagementTests {
    static let issuer = "https://id.example.com"

    static func basic(_ id: String, _ secret: String) -> HTTPFields {
        [.authorization: "Basic " + Data("\(id):\(secret)".utf8).base64EncodedString(), .contentType: "application/x-www-form-urlencoded"]
    }

    static func clientCredentials(_ h: Harness, _ headers: HTTPFields, body: String = "grant_type=client_credentials") async throws -> TestResponse {
        var headers = headers
        headers[.contentType] = "application/x-www-form-urlencoded"
        return try await h.client.execute(uri: "/oauth2/token", method: .post, headers: headers, body: ByteBuffer(string: body))
    }

    static func createClient(_ h: Harness, _ extra: String = "") async throws -> [String: Any] {
        let r = try await h.admin(
            .post, "/applications",
            json: """
                {"name": "Backend", "protocol": "oidc", "redirect_uris": ["https://rp.example/cb"],
                 "grant_types": ["client_credentials"]\(extra)}
                """)
        #expect(r.status == .created, "\(r.text)")
        return try r.json()
    }

    @Test func rotatingASecretWithAGracePeriodKeepsTheOldOneUntilItEnds() async throws {
        let clock = ManualClock(Date())
        try await Harness.run(clock: clock) { h in
            let created = try await Self.createClient(h)
            let id = try #require(created["id"] as? String)
            let clientID = try #require((created["oidc"] as? [String: Any])?["client_id"] as? String)
            let first = try #require(created["client_secret"] as? String)
            #expect(try await Self.clientCredentials(h, Self.basic(clientID, first)).status == .ok)

            let r = try await h.admin(.post, "/applications/\(id)/client-secret", json: #"{"grace_period": 3600}"#)
            #expect(r.status == .ok, "\(r.text)")
            #expect(r.headers[.cacheControl] == "no-store")
            let body = try r.json()
            let second = try #require(body["client_secret"] as? String)
            #expect(second != first && second.hasPrefix(ApplicationService.secretPrefix))
            #expect(body["previous_secret_expires_at"] is String)
            #expect(((body["application"] as? [String: Any])?["oidc"] as? [String: Any])?["previous_secret_expires_at"] is String)
            // Secrets never appear in reads.
            let read = try await h.admin(.get, "/applications/\(id)").text
            #expect(!read.contains(first) && !read.contains(second) && !read.contains("secret_hash"))

            #expect(try await Self.clientCredentials(h, Self.basic(clientID, second)).status == .ok)
            #expect(try await Self.clientCredentials(h, Self.basic(clientID, first)).status == .ok)
            clock.advance(by: 3601)
            #expect(try await Self.clientCredentials(h, Self.basic(clientID, first)).status == .unauthorized)
            #expect(try await Self.clientCredentials(h, Self.basic(clientID, second)).status == .ok)

            // Without a grace period the old secret stops at once, and a PATCH keeps the secret.
            let third = try #require(try await h.admin(.post, "/applications/\(id)/client-secret", json: "{}").json()["client_secret"] as? String)
            #expect(try await Self.clientCredentials(h, Self.basic(clientID, second)).status == .unauthorized)
            let patched = try await h.admin(.patch, "/applications/\(id)", json: #"{"name": "Backend 2"}"#)
            #expect(patched.status == .ok, "\(patched.text)")
            #expect(try await Self.clientCredentials(h, Self.basic(clientID, third)).status == .ok)

            let events = try await h.admin(.get, "/audit-events").text
            #expect(events.contains("application.secret_rotated") && !events.contains(third))
        }
    }

    @Test func rotationRefusesBadGraceAndClientsWithoutASecret() async throws {
        try await Harness.run { h in
            let created = try await Self.createClient(h)
            let id = try #require(created["id"] as? String)
            try await h.admin(.post, "/applications/\(id)/client-secret", json: #"{"grace_period": 999999}"#)
                .expectProblem(.unprocessableContent, "validation-failed")
            try await h.admin(.post, "/applications/\(id)/client-secret", json: #"{"grace": 5}"#).expectProblem(.badRequest)
            let spa = try await h.admin(
                .post, "/applications",
                json: """
                    {"name": "SPA", "protocol": "oidc", "public": true, "redirect_uris": ["https://spa.example/cb"]}
                    """)
            let spaID = try #require(try spa.json()["id"] as? String)
            try await h.admin(.post, "/applications/\(spaID)/client-secret", json: "{}").expectProblem(.unprocessableContent)
            try await h.admin(.post, "/applications/app_nope/client-secret", json: "{}").expectProblem(.notFound)
            // A stale version is refused and changes nothing.
            try await h.admin(.post, "/applications/\(id)/client-secret", json: "{}", headers: [.ifMatch: "\"99\""])
                .expectProblem(.preconditionFailed)
        }
    }

    static func assertion(_ key: SigningKeyMaterial, clientID: String, jti: String, now: Date) throws -> String {
        let t = Int64(now.timeIntervalSince1970)
        return try JWS.sign(
            payload: [
                "iss": .string(clientID), "sub": .string(clientID), "aud": .string(issuer + "/oauth2/token"),
                "exp": .int(t + 60), "iat": .int(t), "jti": .string(jti),
            ], key: key)
    }

    static func jwksJSON(_ keys: [SigningKeyMaterial]) throws -> String {
        String(decoding: try JSONEncoder().encode(JWKSet(keys: keys.map(\.publicJWK))), as: UTF8.self)
    }

    @Test func privateKeyJWTWithAJWKSURIFollowsTheClientsKeyRotation() async throws {
        let clock = ManualClock(Date())
        let fetcher = MemoryFetcher()
        let uri = "https://rp.example/jwks.json"
        let k1 = try SigningKeyMaterial.generate(.es256)
        fetcher.serve(uri, try Self.jwksJSON([k1]))
        try await Harness.run(clock: clock, fetcher: fetcher) { h in
            let created = try await Self.createClient(h, #", "token_endpoint_auth_method": "private_key_jwt", "jwks_uri": "\#(uri)""#)
            #expect(created["client_secret"] == nil)
            #expect((created["oidc"] as? [String: Any])?["jwks_uri"] as? String == uri)
            let clientID = try #require((created["oidc"] as? [String: Any])?["client_id"] as? String)
            func token(_ key: SigningKeyMaterial, _ jti: String) async throws -> TestResponse {
                let a = try Self.assertion(key, clientID: clientID, jti: jti, now: clock.now())
                return try await Self.clientCredentials(
                    h, [:],
                    body: "grant_type=client_credentials&client_assertion_type=\(AuthorizationResponse.formEncode(ClientAssertion.type))&client_assertion=\(a)")
            }
            #expect(try await token(k1, "a").status == .ok)
            #expect(try await token(k1, "b").status == .ok)
            #expect(fetcher.count(uri) == 1, "cached")

            // The client rotates to k2: the first failure refetches once, then k2 works.
            let k2 = try SigningKeyMaterial.generate(.es256)
            fetcher.serve(uri, try Self.jwksJSON([k2]))
            clock.advance(by: 61)
            #expect(try await token(k2, "c").status == .ok)
            #expect(fetcher.count(uri) == 2)
            // A forged key cannot make Sigil refetch more than once a minute.
            let forged = try SigningKeyMaterial.generate(.es256)
            #expect(try await token(forged, "d").status == .unauthorized)
            #expect(try await token(forged, "e").status == .unauthorized)
            #expect(fetcher.count(uri) == 2)
            // The old key is gone from the cache after the refetch.
            #expect(try await token(k1, "f").status == .unauthorized)

            // An unreachable jwks_uri is invalid_client, not a server error.
            clock.advance(by: 86_401)
            fetcher.fail(uri, .timeout)
            let down = try await token(k2, "g")
            let error = try down.json()["error"] as? String
            #expect(down.status == .unauthorized && error == "invalid_client")
        }
    }

    @Test func keySourcesAreValidated() async throws {
        try await Harness.run { h in
            let key = try SigningKeyMaterial.generate(.es256)
            let jwks = try Self.jwksJSON([key])
            // jwks as an object in the API, shown back as an object.
            let created = try await Self.createClient(h, #", "token_endpoint_auth_method": "private_key_jwt", "jwks": \#(jwks)"#)
            let id = try #require(created["id"] as? String)
            #expect(((created["oidc"] as? [String: Any])?["jwks"] as? [String: Any])?["keys"] is [Any])
            // Switching to a jwks_uri replaces the inline keys.
            let switched = try await h.admin(.patch, "/applications/\(id)", json: #"{"jwks_uri": "https://rp.example/keys"}"#)
            #expect(switched.status == .ok, "\(switched.text)")
            let oidc = try #require(try switched.json()["oidc"] as? [String: Any])
            #expect(oidc["jwks_uri"] as? String == "https://rp.example/keys" && oidc["jwks"] == nil)

            for (extra, field) in [
                (#", "token_endpoint_auth_method": "private_key_jwt""#, "jwks"),
                (#", "token_endpoint_auth_method": "private_key_jwt", "jwks_uri": "http://rp.example/keys""#, "jwks_uri"),
                (#", "token_endpoint_auth_method": "private_key_jwt", "jwks_uri": "https://u:p@rp.example/keys""#, "jwks_uri"),
                (#", "jwks_uri": "https://rp.example/keys""#, "jwks"),
                (
                    #", "token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [{"kty": "EC", "crv": "P-256", "x": "a", "y": "b", "d": "c"}]}"#,
                    "jwks"
                ),
            ] {
                let r = try await h.admin(
                    .post, "/applications",
                    json: """
                        {"name": "Bad", "protocol": "oidc", "redirect_uris": ["https://rp.example/cb"], "grant_types": ["client_credentials"]\(extra)}
                        """)
                let problem = try r.expectProblem(.unprocessableContent)
                let fields = (problem["errors"] as? [[String: Any]])?.compactMap { $0["field"] as? String } ?? []
                #expect(fields.contains(field), "\(extra): \(r.text)")
            }
            try await h.admin(
                .post, "/applications",
                json: """
                    {"name": "Bad", "protocol": "oidc", "redirect_uris": ["https://rp.example/cb"], "token_endpoint_auth_method": "private_key_jwt", "jwks": [1]}
                    """
            ).expectProblem(.badRequest)
            let list = try await h.admin(.get, "/applications").json()
            #expect((list["items"] as? [Any])?.count == 1, "refused clients are not stored")
        }
    }

    static let spMetadata = """
        <md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://sp.example/saml">
          <md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
            <md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:persistent</md:NameIDFormat>
            <md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://sp.example/acs" index="0"/>
          </md:SPSSODescriptor>
        </md:EntityDescriptor>
        """

    @Test func samlServiceProvidersFromAMetadataURLOrInlineMetadata() async throws {
        let fetcher = MemoryFetcher()
        fetcher.serve("https://sp.example/metadata", Self.spMetadata)
        fetcher.serve("https://sp.example/not-metadata", "<html>hello</html>")
        try await Harness.run(fetcher: fetcher) { h in
            let r = try await h.admin(
                .post, "/applications",
                json: """
                    {"name": "SP", "protocol": "saml", "metadata_url": "https://sp.example/metadata", "signing": "assertion"}
                    """)
            #expect(r.status == .created, "\(r.text)")
            let saml = try #require(try r.json()["saml"] as? [String: Any])
            #expect(saml["entity_id"] as? String == "https://sp.example/saml")
            #expect((saml["acs"] as? [[String: Any]])?.first?["url"] as? String == "https://sp.example/acs")
            #expect(saml["name_id_format"] as? String == "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent")
            #expect(saml["signing"] as? String == "assertion", "fields sent alongside override the metadata")

            // Inline metadata; a second SP with the same entity ID is refused.
            let inline = try await h.admin(
                .post, "/applications",
                json: try String(
                    decoding: JSONSerialization.data(withJSONObject: [
                        "name": "SP again", "protocol": "saml", "metadata": Self.spMetadata,
                    ]), as: UTF8.self))
            try inline.expectProblem(.conflict)

            for (json, field) in [
                (#"{"name": "X", "protocol": "saml", "metadata_url": "http://sp.example/metadata"}"#, "metadata_url"),
                (#"{"name": "X", "protocol": "saml", "metadata_url": "https://sp.example/missing"}"#, "metadata_url"),
                (#"{"name": "X", "protocol": "saml", "metadata_url": "https://sp.example/not-metadata"}"#, "metadata_url"),
                (#"{"name": "X", "protocol": "saml", "metadata": "<!DOCTYPE x [<!ENTITY e SYSTEM 'file:///etc/passwd'>]><x>&e;</x>"}"#, "metadata"),
            ] {
                let bad = try await h.admin(.post, "/applications", json: json)
                let problem = try bad.expectProblem(.unprocessableContent)
                let fields = (problem["errors"] as? [[String: Any]])?.compactMap { $0["field"] as? String } ?? []
                #expect(fields == [field], "\(json): \(bad.text)")
            }
            try await h.admin(
                .post, "/applications", json: #"{"name": "X", "protocol": "saml", "metadata_url": "https://sp.example/metadata", "metadata": "<x/>"}"#
            )
            .expectProblem(.badRequest)
            #expect(fetcher.count("http://sp.example/metadata") == 0, "refused URLs are never fetched")
            let list = try await h.admin(.get, "/applications").json()
            #expect((list["items"] as? [Any])?.count == 1)
        }
    }

    /// `ApplicationService.Change` is the one update rule: the admin API's PATCH builds one, the
    /// CLI's `sigil app update` builds one (add/remove redirect URIs), and both go through the
    /// same refusal of the other protocol's settings.
    @Test func oneChangeRuleForTheAdminAPIAndTheCLI() async throws {
        try await Harness.run { h in
            let tenant = try await h.defaultTenant()
            let (app, _) = try await h.services.applications.createOIDC(
                tenantID: tenant.id, .init(name: "Portal", redirectURIs: ["https://rp.example/a", "https://rp.example/b"]), by: .cli)
            var cli = ApplicationService.Change()
            cli.addRedirectURIs = ["https://rp.example/c"]
            cli.removeRedirectURIs = ["https://rp.example/a"]
            let changed = try await h.services.applications.update(tenantID: tenant.id, id: app.id, expectedVersion: app.version, cli, by: .cli)
            guard case .oidc(let s) = changed.settings else { Issue.record("not oidc"); return }
            #expect(s.redirectURIs == ["https://rp.example/b", "https://rp.example/c"])

            var saml = ApplicationService.Change()
            saml.entityID = "urn:sp"
            saml.signing = .response
            do {
                _ = try await h.services.applications.update(tenantID: tenant.id, id: app.id, expectedVersion: nil, saml, by: .cli)
                Issue.record("SAML settings were applied to an OIDC client")
            } catch let error as ServiceError {
                #expect(error.code == .invalidInput)
                #expect(error.fieldErrors.map(\.message) == ["entity_id applies to saml applications only", "signing applies to saml applications only"])
            }
            // The same rule, through the API.
            let p = try await h.admin(.patch, "/applications/\(app.id)", json: #"{"entity_id":"urn:sp","signing":"response"}"#)
                .expectProblem(.unprocessableContent, "validation-failed")
            #expect(
                (p["errors"] as? [[String: String]])?.compactMap { $0["message"] } == [
                    "entity_id applies to saml applications only", "signing applies to saml applications only",
                ])
        }
    }
}
