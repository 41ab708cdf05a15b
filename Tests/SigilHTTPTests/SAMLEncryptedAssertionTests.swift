import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SigilCore
import SigilHTTP
import SigilJOSE
import SigilSAML
import SigilServices
import SigilStore
import SigilXML
import Testing
import X509
import _CryptoExtras

/// Encrypted assertions end to end in process: sign, encrypt to the SP's certificate, sign the
/// Response; registration refuses certificates that cannot receive encrypted keys.
@Suite("SAML identity provider: encrypted assertions")
struct SAMLEncryptedAssertionTests {
    typealias IdP = SAMLIdPTests

    /// An SP key pair with a self-signed certificate without KeyUsage (it may receive keys).
    struct SPKey {
        let key: _RSA.Signing.PrivateKey
        let pem: String
        init() throws {
            key = try _RSA.Signing.PrivateKey(keySize: .bits2048)
            let name = try DistinguishedName { CommonName("sp") }
            pem = try Certificate(
                version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: Certificate.PrivateKey(key).publicKey,
                notValidBefore: Date().addingTimeInterval(-60), notValidAfter: Date().addingTimeInterval(86_400), issuer: name, subject: name,
                signatureAlgorithm: .sha256WithRSAEncryption, extensions: Certificate.Extensions {}, issuerPrivateKey: Certificate.PrivateKey(key)
            ).serializeAsPEM().pemString
        }
    }

    static func ecCertificatePEM() throws -> String {
        let key = P256.Signing.PrivateKey()
        let name = try DistinguishedName { CommonName("ec sp") }
        return try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: Certificate.PrivateKey(key).publicKey,
            notValidBefore: Date().addingTimeInterval(-60), notValidAfter: Date().addingTimeInterval(86_400), issuer: name, subject: name,
            signatureAlgorithm: .ecdsaWithSHA256, extensions: Certificate.Extensions {}, issuerPrivateKey: Certificate.PrivateKey(key)
        ).serializeAsPEM().pemString
    }

    @Test func encryptedAssertionForAnSPThatAsksForIt() async throws {
        try await Harness.run { h in
            let sp = try SPKey()
            let f = try await IdP.fixture(h, certificate: sp.pem)
            _ = try await h.services.applications.update(tenantID: f.tenant.id, id: f.app.id, expectedVersion: nil, by: .cli) { app in
                guard case .saml(var s) = app.settings else { return }
                s.encryptAssertions = true
                app.settings = .saml(s)
            }
            let (action, xml, _) = try IdP.form(try await IdP.redirect(f, IdP.request(id: "_enc1")))
            #expect(action == IdP.acs)
            let text = String(decoding: xml, as: UTF8.self)
            #expect(text.contains("<saml:EncryptedAssertion>"))
            #expect(!text.contains("<saml:Assertion"))
            #expect(!text.contains("ada@example.com"))
            let verifier = try await IdP.verifier(f)
            let response = try verifier.verifyEnveloped(xml) // covers the EncryptedAssertion
            #expect(response.element.attribute("InResponseTo") == "_enc1")
            let decryptor = XMLDecryptor(privateKey: try _RSA.Encryption.PrivateKey(derRepresentation: sp.key.derRepresentation))
            let decrypted = try SAMLEncryptedAssertion.decrypt(try XMLDocumentParser.parse(response.canonicalBytes), with: decryptor)
            let assertion = try verifier.verifyEnveloped(decrypted.serialized(), signedElement: .samlAssertion).element
            #expect(String(decoding: assertion.serialized(), as: UTF8.self).contains(">ada@example.com</saml:NameID>"))
            let responded = try await h.store.audit.list(tenantID: f.tenant.id, page: PageRequest(limit: 100)).items
                .filter { $0.action == "saml.sso.responded" }
            #expect(responded.last?.after?["encrypted"] == "true")
        }
    }

    @Test func anUnusableStoredCertificateGetsAnErrorPageNeverAPlainAssertion() async throws {
        try await Harness.run { h in
            let f = try await IdP.fixture(h)
            // Written to the store directly, past validation (as an older version might have).
            let ec = try Self.ecCertificatePEM()
            _ = try await h.store.applications.update(tenantID: f.tenant.id, id: f.app.id, expectedVersion: nil) { app in
                guard case .saml(var s) = app.settings else { return }
                s.encryptAssertions = true
                s.certificatePEM = ec
                app.settings = .saml(s)
            }
            let response = try await IdP.redirect(f, IdP.request())
            #expect(!response.text.contains("SAMLResponse"))
            #expect(response.text.contains("encryption certificate"))
            #expect(try await IdP.failures(f).contains { $0.reason?.contains("cannot encrypt") == true })
        }
    }

    @Test func registrationNeedsAnRSAEncryptionCertificate() async throws {
        try await Harness.run { h in
            let sp = try SPKey()
            let ec = try Self.ecCertificatePEM()
            func body(_ extra: String) -> String {
                #"{"name":"SP","protocol":"saml","entity_id":"https://enc.example/sp","acs":[{"url":"https://enc.example/acs"}],"encrypt_assertions":true"#
                    + extra + "}"
            }
            func fields(_ problem: [String: Any]) -> [String] {
                (problem["errors"] as? [[String: Any]])?.compactMap { $0["field"] as? String } ?? []
            }
            let none = try await h.admin(.post, "/applications", json: body("")).expectProblem(.unprocessableContent)
            #expect(fields(none).contains("certificate"))
            let ecProblem = try await h.admin(.post, "/applications", json: body(#","certificate":"# + Self.json(ec)))
                .expectProblem(.unprocessableContent)
            #expect(fields(ecProblem).contains("certificate"))
            #expect(String(describing: ecProblem).contains("RSA"))
            // RSA, but KeyUsage digitalSignature only.
            let signOnly = try await h.admin(.post, "/applications", json: body(#","certificate":"# + Self.json(try IdP.SPKey().pem)))
                .expectProblem(.unprocessableContent)
            #expect(String(describing: signOnly).contains("keyEncipherment"))
            // A separate encryption certificate is checked under its own field.
            let separate = try await h.admin(
                .post, "/applications",
                json: body(
                    #","certificate":"# + Self.json(sp.pem)
                        + #","encryption_certificate":"# + Self.json(ec))
            )
            .expectProblem(.unprocessableContent)
            #expect(fields(separate) == ["encryption_certificate"])
            let created = try await h.admin(.post, "/applications", json: body(#","certificate":"# + Self.json(sp.pem)))
            #expect(created.status == .created, "\(created.text)")
            let saml = try #require(try created.json()["saml"] as? [String: Any])
            #expect(saml["encrypt_assertions"] as? Bool == true)
            // PATCH: turning encryption on for an SP without a certificate is refused, nothing stored.
            let plain = try await h.admin(
                .post, "/applications", json: #"{"name":"P","protocol":"saml","entity_id":"https://p.example/sp","acs":[{"url":"https://p.example/acs"}]}"#)
            let id = try #require(try plain.json()["id"] as? String)
            try await h.admin(.patch, "/applications/\(id)", json: #"{"encrypt_assertions":true}"#).expectProblem(.unprocessableContent)
            let after = try await h.admin(.get, "/applications/\(id)")
            #expect((try after.json()["saml"] as? [String: Any])?["encrypt_assertions"] as? Bool == false)
        }
    }

    static func json(_ s: String) -> String {
        String(decoding: try! JSONEncoder().encode(s), as: UTF8.self)
    }
}
