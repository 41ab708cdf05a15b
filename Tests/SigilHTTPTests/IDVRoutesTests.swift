import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SigilCore
import SigilJOSE
import SigilOAuth
import SigilServices
import Testing

/// Identity verification over HTTP (docs/idv.md): Okta's PAR to an IDV client, `/oauth2/idv-authorize`,
/// the capture page's cookie and CSRF, evidence, submit, `continue` once, the token, and the admin API.
@Suite("IDV over HTTP")
struct IDVRoutesTests {
    static let callback = "https://okta.example/idp/identity-verification/callback"
    static let verifier = String(repeating: "q", count: 48)
    static let origin = "https://id.example.com"

    func cookie(_ r: TestResponse) -> String? {
        r.headers[values: .setCookie].first.map { String($0.prefix { $0 != ";" }) }
    }

    @Test func oktaShapedRunWithCookieCSRFAndOneContinue() async throws {
        try await Harness.run { h in
            // The IDV client, as an admin registers it.
            let created = try await h.admin(
                .post, "/applications",
                json:
                    #"{"name":"Okta IDV","protocol":"oidc","redirect_uris":["\#(Self.callback)"],"token_endpoint_auth_method":"client_secret_post","grant_types":["authorization_code"],"allowed_scopes":["openid","profile","identity_assurance"],"identity_verification":true}"#
            )
            #expect(created.status == .created, "\(created.text)")
            let app = try created.json()
            let oidc = try #require(app["oidc"] as? [String: Any])
            #expect(oidc["identity_verification"] as? Bool == true)
            let clientID = try #require(oidc["client_id"] as? String), secret = try #require(app["client_secret"] as? String)
            let policy = try await h.admin(.put, "/idv/policy", json: #"{"require_liveness":false,"require_face_match":false}"#)
            #expect(policy.status == .ok, "\(policy.text)")
            #expect(try await h.admin(.put, "/idv/policy", json: #"{"document_types":[]}"#).status == .unprocessableContent)
            // Discovery says what verified claims come from here.
            let discovery = try await h.request(.get, "/.well-known/openid-configuration").json()
            #expect((discovery["trust_frameworks_supported"] as? [String])?.contains("IDV-DELEGATED") == true)

            let claims =
                #"{"id_token":{"verified_claims":[{"verification":{"trust_framework":{"value":"IDV-DELEGATED","essential":true},"assurance_level":{"value":"VERIFIED","essential":true}},"claims":{"given_name":{"value":"Erika","fuzzy":true},"family_name":{"value":"Mustermann","fuzzy":true}}}]}}"#
            let form = [
                "response_type": "code", "client_id": clientID, "client_secret": secret, "code_challenge": PKCE.challenge(for: Self.verifier),
                "code_challenge_method": "S256", "scope": "openid profile identity_assurance", "nonce": "n", "state": "okta-state",
                "login_hint": "00u1", "redirect_uri": Self.callback, "claims": claims,
            ].map { "\($0.key)=\(AuthorizationResponse.formEncode($0.value))" }.joined(separator: "&")
            let par = try await h.request(.post, "/oauth2/par", headers: [.contentType: "application/x-www-form-urlencoded"], body: form)
            #expect(par.status == .created, "\(par.text)")
            let requestURI = try #require(try par.json()["request_uri"] as? String)
            let authorize = try await h.request(.get, "/oauth2/idv-authorize?request_uri=" + AuthorizationResponse.formEncode(requestURI))
            #expect(authorize.status == .seeOther)
            let page = try #require(authorize.headers[.location])
            #expect(page.hasPrefix("/idv/idv_"))
            let jar = try #require(cookie(authorize))
            // The request_uri is spent.
            let replay = try await h.request(.get, "/oauth2/idv-authorize?request_uri=" + AuthorizationResponse.formEncode(requestURI))
            #expect(replay.status == .badRequest)

            // Without the cookie the page is refused; with it, it carries the CSRF token and a strict CSP.
            #expect(try await h.request(.get, page).status == .forbidden)
            let html = try await h.request(.get, page, headers: [.cookie: jar])
            #expect(html.status == .ok)
            #expect(html.headers[.contentSecurityPolicy]?.contains("script-src 'self'") == true)
            let csrf = try #require(html.text.firstMatch(of: /name="sigil-idv-csrf" content="([^"]+)"/)?.1).description
            #expect(html.text.contains(#"id="handoff-qr""#) && html.text.contains("data:image/svg+xml;base64,"))

            let selfie = ByteBuffer(bytes: [0xFF, 0xD8, 0xFF, 0xE0, 0, 0x10])
            let good: HTTPFields = [.cookie: jar, HTTPField.Name("X-Sigil-CSRF")!: csrf, .origin: Self.origin, .contentType: "image/jpeg"]
            var noCSRF = good
            noCSRF[HTTPField.Name("X-Sigil-CSRF")!] = "forged"
            #expect(try await h.client.execute(uri: page + "/evidence/selfie", method: .post, headers: noCSRF, body: selfie).status == .forbidden)
            var crossSite = good
            crossSite[.origin] = "https://evil.example"
            #expect(try await h.client.execute(uri: page + "/evidence/selfie", method: .post, headers: crossSite, body: selfie).status == .forbidden)
            let stored = try await h.client.execute(uri: page + "/evidence/document_front", method: .post, headers: good, body: selfie)
            #expect(stored.status == .ok, "\(stored.text)")
            #expect(try stored.json()["evidence"] as? [String] == ["document_front"])
            let bad = try await h.client.execute(uri: page + "/evidence/selfie", method: .post, headers: good, body: ByteBuffer(string: "GIF89a"))
            #expect(bad.status == .badRequest)
            #expect(try bad.json()["error"] as? String == "not_an_image")

            // Submit: without an engine the MRZ cannot be read, so the verification fails, with its reason.
            var jsonHeaders = good
            jsonHeaders[.contentType] = "application/json"
            let submit = try await h.client.execute(
                uri: page + "/submit", method: .post, headers: jsonHeaders, body: ByteBuffer(string: #"{"document_type":"passport"}"#))
            #expect(submit.status == .ok, "\(submit.text)")
            #expect(try submit.json()["status"] as? String == "FAILED")
            let sid = String(page.dropFirst("/idv/".count))
            let admin = try await h.admin(.get, "/idv/sessions/" + sid).json()
            #expect((admin["reasons"] as? [String])?.contains("engine_unavailable") == true, "\(admin)")
            #expect(admin["state"] as? String == "decided" && admin["origin"] as? String == "oidc")

            // Continue: once, to Okta's callback with a code; the code buys an ID token with FAILED.
            let cont = try await h.request(.get, page + "/continue", headers: [.cookie: jar])
            #expect(cont.status == .seeOther)
            let location = try #require(cont.headers[.location])
            #expect(location.hasPrefix(Self.callback) && location.contains("state=okta-state"))
            #expect(try await h.request(.get, page + "/continue", headers: [.cookie: jar]).status == .gone)
            let code = try #require(URLComponents(string: location)?.queryItems?.first { $0.name == "code" }?.value)
            let token = try await h.request(
                .post, "/oauth2/token", headers: [.contentType: "application/x-www-form-urlencoded"],
                body: "grant_type=authorization_code&client_id=\(clientID)&client_secret=\(secret)&code=\(code)&code_verifier=\(Self.verifier)&redirect_uri="
                    + AuthorizationResponse.formEncode(Self.callback))
            #expect(token.status == .ok, "\(token.text)")
            let idToken = try #require(try token.json()["id_token"] as? String)
            let payload = try JWS.parse(idToken).payload
            let entry = try #require(payload["verified_claims"]?.array?.first?.object)
            #expect(entry["verification"]?.object?["assurance_level"]?.string == "FAILED")
            #expect(entry["claims"]?.object?["given_name"]?.object?["value"] == .null)
        }
    }

    @Test func adminStartedSessionAndCSCAImport() async throws {
        try await Harness.run { h in
            let started = try await h.admin(.post, "/idv/sessions", json: #"{"expected":{"given_name":"Ada","family_name":"Lovelace"}}"#)
            #expect(started.status == .created, "\(started.text)")
            let body = try started.json()
            let url = try #require(body["session_url"] as? String)
            let path = String(url.dropFirst(Harness.publicURL.absoluteString.count))
            let open = try await h.request(.get, path)
            #expect(open.status == .seeOther && cookie(open) != nil)
            #expect(try await h.request(.get, path.replacingOccurrences(of: "k=", with: "k=x")).status == .forbidden)
            let id = try #require(body["id"] as? String)
            #expect(try await h.admin(.get, "/idv/sessions/" + id).json()["state"] as? String == "created")
            #expect(try await h.admin(.post, "/idv/cscas", json: #"{"pem":"not a certificate"}"#).status == .unprocessableContent)
            #expect(try await h.admin(.get, "/idv/cscas").json()["items"] as? [Any] != nil)
            #expect(try await h.admin(.delete, "/idv/cscas/" + String(repeating: "0", count: 64)).status == .notFound)
            #expect(try await h.admin(.get, "/idv/subjects/sub_00000000000000000000000000").status == .notFound)
        }
    }
}

extension Harness {
    func request(_ method: HTTPRequest.Method, _ path: String, headers: HTTPFields = [:], body: String) async throws -> TestResponse {
        try await client.execute(uri: path, method: method, headers: headers, body: ByteBuffer(string: body))
    }
}
