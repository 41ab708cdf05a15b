import Crypto
import CryptoExtras
import Foundation
import HTTPTypes
import SigilCore
import SigilJOSE
import SigilServices
import SigilStore
import Testing
import X509

@Suite struct KeysAndTenantsTests {
    func jwks(_ h: Harness, _ path: String = "/oauth2/jwks", headers: HTTPFields = [:]) async throws -> [[String: String]] {
        let response = try await h.request(.get, path, headers: headers)
        #expect(response.status == .ok)
        #expect(response.headers[.contentType] == "application/jwk-set+json")
        let keys = try #require(try response.json()["keys"] as? [[String: Any]])
        return keys.map { $0.compactMapValues { $0 as? String } }
    }

    /// RFC 7638 thumbprint computed here from the published members, independently of SigilJOSE.
    func thumbprint(_ key: [String: String]) -> String {
        let canonical =
            switch key["kty"] {
            case "RSA": #"{"e":"\#(key["e"]!)","kty":"RSA","n":"\#(key["n"]!)"}"#
            case "OKP": #"{"crv":"\#(key["crv"]!)","kty":"OKP","x":"\#(key["x"]!)"}"#
            default: #"{"crv":"\#(key["crv"]!)","kty":"EC","x":"\#(key["x"]!)","y":"\#(key["y"]!)"}"#
            }
        return Base64URL.encode(Array(SHA256.hash(data: Array(canonical.utf8))))
    }

    func states(_ h: Harness, tenantID: String) async throws -> [String: [String]] {
        var result: [String: [String]] = [:]
        for key in try await h.services.keys.list(tenantID: tenantID) {
            result["\(key.algorithm)/\(key.state.rawValue)", default: []].append(key.kid)
        }
        return result
    }

    @Test func healthReadinessAndMetrics() async throws {
        try await Harness.run { h in
            #expect(try await h.request(.get, "/healthz").status == .ok)
            // The probe has a 2 s database deadline (an outage must answer fast); beside the
            // whole parallel test run it can miss it, so a few tries are allowed.
            var ready = try await h.request(.get, "/readyz")
            for _ in 0..<4 where ready.status != .ok { ready = try await h.request(.get, "/readyz") }
            #expect(ready.status == .ok)
            #expect(try ready.json()["status"] as? String == "ready")
            _ = try await h.request(.get, "/oauth2/jwks")
            _ = try await h.request(.get, "/no/such/route")
            let metrics = try await h.request(.get, "/metrics").text
            #expect(metrics.contains(#"sigil_build_info{version="test",storage="sqlite"} 1"#))
            #expect(metrics.contains(#"sigil_http_requests_total{route="/oauth2/jwks",method="GET",status="200"} 1"#))
            #expect(metrics.contains(#"status="404""#))
            #expect(metrics.contains("sigil_http_request_duration_seconds_bucket"))
        }
    }

    @Test func jwksPublishesCurrentAndNextKeysOfBothAlgorithmsWithThumbprintKids() async throws {
        try await Harness.run { h in
            let keys = try await jwks(h)
            #expect(keys.count == 6)
            #expect(keys.filter { $0["alg"] == "RS256" && $0["kty"] == "RSA" }.count == 2)
            #expect(keys.filter { $0["alg"] == "ES256" && $0["kty"] == "EC" && $0["crv"] == "P-256" }.count == 2)
            #expect(keys.filter { $0["alg"] == "EdDSA" && $0["kty"] == "OKP" && $0["crv"] == "Ed25519" }.count == 2)
            for key in keys {
                #expect(key["kid"] == thumbprint(key))
                #expect(key["use"] == "sig")
                #expect(key["d"] == nil && key["p"] == nil)
            }
            let tenant = try await h.defaultTenant()
            let s = try await states(h, tenantID: tenant.id)
            #expect(Set(keys.map { $0["kid"]! }) == Set(s.values.flatMap { $0 }))
        }
    }

    @Test func rotationMovesNextToCurrentToPreviousWithStableKids() async throws {
        try await Harness.run { h in
            let tenant = try await h.defaultTenant()
            let before = try await states(h, tenantID: tenant.id)
            let certificateBefore = try await h.request(.get, "/saml/certificate.pem").text

            let rotated = try await h.admin(.post, "/keys/rotate")
            #expect(rotated.status == .ok, "\(rotated.text)")
            let after = try await states(h, tenantID: tenant.id)
            for alg in ["RS256", "ES256", "EdDSA"] {
                #expect(after["\(alg)/previous"] == before["\(alg)/current"])
                #expect(after["\(alg)/current"] == before["\(alg)/next"])
                #expect(after["\(alg)/next"]?.count == 1 && after["\(alg)/next"] != before["\(alg)/next"])
            }
            let published = Set(try await jwks(h).map { $0["kid"]! })
            #expect(published.count == 9)
            #expect(published.isSuperset(of: Set(before.values.flatMap { $0 })))

            // The certificate follows the current RSA key.
            let certificateAfter = try await h.request(.get, "/saml/certificate.pem").text
            #expect(certificateAfter != certificateBefore)
            let certificate = try Certificate(pemEncoded: certificateAfter)
            let currentRSA = try #require(try await jwks(h).first { $0["kid"] == after["RS256/current"]?.first })
            let spki = try #require(_RSA.Signing.PublicKey(certificate.publicKey))
            #expect(Base64URL.encode(SigningKeyMaterial.minimalBigEndian(try spki.getKeyPrimitives().modulus)) == currentRSA["n"])

            // A second rotation retires the first previous key: no longer published, still stored.
            _ = try await h.admin(.post, "/keys/rotate")
            let third = try await states(h, tenantID: tenant.id)
            #expect(third["RS256/retired"] == before["RS256/current"])
            let publishedAfterTwo = Set(try await jwks(h).map { $0["kid"]! })
            #expect(!publishedAfterTwo.contains(before["RS256/current"]![0]))
            #expect(publishedAfterTwo.count == 9)

            // Rotation is audited.
            let events = try await h.admin(.get, "/audit-events").json()["items"] as? [[String: Any]] ?? []
            #expect(events.filter { $0["action"] as? String == "keys.rotated" }.count == 6)
        }
    }

    @Test func tenantsResolveByPathPrefixAndHost() async throws {
        try await Harness.run { h in
            let created = try await h.admin(.post, "/tenants", json: #"{"name":"acme","host":"acme.example.com"}"#)
            #expect(created.status == .created, "\(created.text)")
            #expect(try created.json()["issuer"] as? String == "https://acme.example.com")
            _ = try await h.services.tenants.create(slug: "beta", by: .cli)
            let acme = try await h.services.tenants.get(slug: "acme")
            let acmeKids = Set(try await h.services.keys.list(tenantID: acme.id).map(\.kid))
            let defaultKids = Set(try await jwks(h).map { $0["kid"]! })
            let byPrefix = Set(try await jwks(h, "/t/acme/oauth2/jwks").map { $0["kid"]! })
            let byHost = Set(try await jwks(h, headers: [HTTPField.Name("Host")!: "ACME.example.com"]).map { $0["kid"]! })
            let beta = Set(try await jwks(h, "/t/beta/oauth2/jwks").map { $0["kid"]! })
            #expect(byPrefix == acmeKids)
            #expect(byHost == acmeKids)
            #expect(defaultKids.isDisjoint(with: acmeKids))
            #expect(beta.isDisjoint(with: acmeKids) && beta.isDisjoint(with: defaultKids))
            // Unknown host: the default tenant.
            #expect(Set(try await jwks(h, headers: [HTTPField.Name("Host")!: "other.example.com"]).map { $0["kid"]! }) == defaultKids)
            try await h.request(.get, "/t/nope/oauth2/jwks").expectProblem(.notFound, "tenant-not-found")
            // The admin API follows the same resolution.
            let list = try await h.request(.get, "/t/acme/api/admin/v1/users", token: h.globalToken)
            #expect(list.status == .ok)
            let tenants = try await h.admin(.get, "/tenants").json()["items"] as? [[String: Any]] ?? []
            let issuers = Dictionary(uniqueKeysWithValues: tenants.map { ($0["name"] as! String, $0["issuer"] as! String) })
            #expect(issuers == ["default": "https://id.example.com", "acme": "https://acme.example.com", "beta": "https://id.example.com/t/beta"])
            // Bad tenant input is refused.
            try await h.admin(.post, "/tenants", json: #"{"name":"Bad Name"}"#).expectProblem(.unprocessableContent, "validation-failed")
            try await h.admin(.post, "/tenants", json: #"{"name":"acme"}"#).expectProblem(.conflict, "already-exists")
            try await h.admin(.post, "/tenants", json: #"{"name":"gamma","host":"acme.example.com"}"#).expectProblem(.conflict, "already-exists")
            #expect(try await h.services.tenants.list().count == 3)
        }
    }

    @Test func certificateIsServedAsPEM() async throws {
        try await Harness.run { h in
            let response = try await h.request(.get, "/saml/certificate.pem")
            #expect(response.status == .ok)
            #expect(response.headers[.contentType] == "application/x-pem-file")
            let certificate = try Certificate(pemEncoded: response.text)
            #expect(certificate.publicKey.isValidSignature(certificate.signature, for: certificate))
            #expect(certificate.notValidAfter > Date().addingTimeInterval(365 * 86_400))
        }
    }
}
