import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SigilCore
import SigilFlows
import SigilJOSE
import SigilOAuth
import SigilServices
import SigilStore
import Testing

extension HTTPField.Name {
    static let pragma = Self("Pragma")!
}

/// The OpenID Connect provider over HTTP: discovery, authorize, PAR, token grants, userinfo,
/// introspection, revocation, logout, and the attacks RFC 9700 names.
@Suite struct OAuthTests {
    static let issuer = "https://id.example.com"
    static let redirect = "https://rp.example/cb"
    static let verifier = String(repeating: "k", count: 50)

    struct Fixture {
        let h: Harness
        let tenant: Tenant
        let user: User
        let clientID: String
        let secret: String
        let cookie: String

        var cookieHeader: HTTPFields { [.cookie: "__Host-sigil_session_default=\(cookie)"] }
        var basic: HTTPFields { [.authorization: "Basic " + Data("\(clientID):\(secret)".utf8).base64EncodedString()] }
    }

    static func fixture(_ h: Harness, configure: (inout ApplicationService.NewOIDCClient) -> Void = { _ in }) async throws -> Fixture {
        let tenant = try await h.defaultTenant()
        let user = try await h.services.users.create(tenantID: tenant.id, .init(email: "ada@example.com", givenName: "Ada", familyName: "Lovelace"), by: .cli)
        var input = ApplicationService.NewOIDCClient(name: "RP", redirectURIs: [redirect])
        input.postLogoutRedirectURIs = ["https://rp.example/bye"]
        input.grantTypes = ["authorization_code", "refresh_token", "client_credentials"]
        configure(&input)
        let (app, secret) = try await h.services.applications.createOIDC(tenantID: tenant.id, input, by: .cli)
        let (_, cookie) = try await h.services.sessions.start(tenantID: tenant.id, userID: user.id, amr: ["hwk", "user"], acr: "phrh")
        return Fixture(h: h, tenant: tenant, user: user, clientID: app.clientID!, secret: secret?.value ?? "", cookie: cookie.value)
    }

    static func query(_ params: [String: String]) -> String {
        params.sorted { $0.key < $1.key }.map { "\($0.key)=\(AuthorizationResponse.formEncode($0.value))" }.joined(separator: "&")
    }

    static func authorizeParams(_ f: Fixture, _ extra: [String: String?] = [:]) -> [String: String] {
        var p = [
            "response_type": "code", "client_id": f.clientID, "redirect_uri": redirect, "scope": "openid email profile",
            "state": "st-1", "nonce": "no-1", "code_challenge": PKCE.challenge(for: verifier), "code_challenge_method": "S256",
        ]
        for (k, v) in extra { p[k] = v }
        return p
    }

    static func location(_ r: TestResponse) throws -> URLComponents {
        let location = try #require(r.headers[.location], "no Location; status \(r.status) \(r.text)")
        return try #require(URLComponents(string: location))
    }

    static func param(_ url: URLComponents, _ name: String) -> String? { url.queryItems?.first { $0.name == name }?.value }

    /// Runs /authorize with the session and returns the code.
    static func code(_ f: Fixture, _ extra: [String: String?] = [:]) async throws -> String {
        let r = try await f.h.request(.get, "/oauth2/authorize?" + query(authorizeParams(f, extra)), headers: f.cookieHeader)
        #expect(r.status == .seeOther, "\(r.text)")
        let url = try location(r)
        #expect(url.host == "rp.example" && param(url, "state") == "st-1" && param(url, "iss") == issuer)
        return try #require(param(url, "code"), "\(url)")
    }

    static func form(_ f: Fixture, _ path: String, _ params: [String: String], headers: HTTPFields? = nil) async throws -> TestResponse {
        var h = headers ?? f.basic
        h[.contentType] = "application/x-www-form-urlencoded"
        return try await f.h.client.execute(uri: path, method: .post, headers: h, body: ByteBuffer(string: query(params)))
    }

    static func exchange(_ f: Fixture, code: String, verifier: String = verifier) async throws -> TestResponse {
        try await form(f, "/oauth2/token", ["grant_type": "authorization_code", "code": code, "redirect_uri": redirect, "code_verifier": verifier])
    }

    static func jwks(_ h: Harness) async throws -> JWKSet {
        try JSONDecoder().decode(JWKSet.self, from: Data(try await h.request(.get, "/oauth2/jwks").text.utf8))
    }

    @Test func discoveryListsTheEndpointsAndPolicies() async throws {
        try await Harness.run { h in
            let r = try await h.request(.get, "/.well-known/openid-configuration")
            #expect(r.status == .ok)
            let doc = try r.json()
            #expect(doc["issuer"] as? String == Self.issuer)
            #expect(doc["authorization_endpoint"] as? String == Self.issuer + "/oauth2/authorize")
            #expect(doc["pushed_authorization_request_endpoint"] as? String == Self.issuer + "/oauth2/par")
            #expect(doc["jwks_uri"] as? String == Self.issuer + "/oauth2/jwks")
            #expect(doc["code_challenge_methods_supported"] as? [String] == ["S256"])
            #expect(doc["authorization_response_iss_parameter_supported"] as? Bool == true)
            #expect(doc["claims_parameter_supported"] as? Bool == true)
            #expect(doc["require_pushed_authorization_requests"] as? Bool == false)
            #expect((doc["id_token_signing_alg_values_supported"] as? [String])?.contains("RS256") == true)
            #expect(doc["end_session_endpoint"] as? String == Self.issuer + "/oauth2/logout")
        }
    }

    @Test func codeFlowWithPKCEIssuesVerifiableTokens() async throws {
        try await Harness.run { h in
            let f = try await Self.fixture(h)
            // Without a session the browser goes to the hosted login, which returns to this request.
            let anonymous = try await h.request(.get, "/oauth2/authorize?" + Self.query(Self.authorizeParams(f)))
            let login = try Self.location(anonymous)
            #expect(login.path == "/login")
            let returnTo = try #require(Self.param(login, "return_to"))
            #expect(returnTo.hasPrefix("/oauth2/authorize?") && returnTo.contains("sigil_fresh_mac="))
            // The resumed request (with the marker) issues a code once signed in.
            let resumed = try await h.request(.get, returnTo, headers: f.cookieHeader)
            #expect(Self.param(try Self.location(resumed), "code") != nil)

            let code = try await Self.code(f)
            let r = try await Self.exchange(f, code: code)
            #expect(r.status == .ok, "\(r.text)")
            #expect(r.headers[.pragma] == "no-cache")
            #expect(r.headers[.cacheControl] == "no-store")
            let body = try r.json()
            #expect(body["token_type"] as? String == "Bearer")
            let access = try #require(body["access_token"] as? String)
            let idToken = try JWS.parse(try #require(body["id_token"] as? String))
            #expect(JWS.verify(idToken, with: try await Self.jwks(h)))
            #expect(idToken.algorithm == "RS256")
            let claims = idToken.payload
            #expect(claims["iss"]?.string == Self.issuer && claims["aud"]?.string == f.clientID && claims["sub"]?.string == f.user.id)
            #expect(claims["nonce"]?.string == "no-1" && claims["amr"] == .strings(["hwk", "user"]) && claims["acr"]?.string == "phrh")
            #expect(claims["at_hash"]?.string == TokenClaims.leftHalfHash(access) && claims["sid"] != nil && claims["auth_time"] != nil)
            let at = try JWS.parse(access)
            #expect(at.type == "at+jwt" && at.payload["client_id"]?.string == f.clientID && at.payload["jti"] != nil)

            let info = try await h.request(.get, "/oauth2/userinfo", headers: [.authorization: "Bearer \(access)"])
            #expect(info.status == .ok, "\(info.text)")
            let user = try info.json()
            #expect(user["sub"] as? String == f.user.id && user["email"] as? String == "ada@example.com" && user["given_name"] as? String == "Ada")
        }
    }

    @Test func aReusedCodeIsRefusedAndRevokesWhatItIssued() async throws {
        try await Harness.run { h in
            let f = try await Self.fixture(h)
            let code = try await Self.code(f)
            let first = try await Self.exchange(f, code: code).json()
            let access = try #require(first["access_token"] as? String)
            let refresh = try #require(first["refresh_token"] as? String)
            let again = try await Self.exchange(f, code: code)
            #expect(again.status == .badRequest)
            #expect(try again.json()["error"] as? String == "invalid_grant")
            let info = try await h.request(.get, "/oauth2/userinfo", headers: [.authorization: "Bearer \(access)"])
            #expect(info.status == .unauthorized && info.headers[.wwwAuthenticate]?.contains("invalid_token") == true)
            let r = try await Self.form(f, "/oauth2/token", ["grant_type": "refresh_token", "refresh_token": refresh])
            #expect(try r.json()["error"] as? String == "invalid_grant")
            let events = try await h.store.audit.list(tenantID: f.tenant.id, page: PageRequest(limit: 100)).items.map(\.action)
            #expect(events.contains("oauth.code_reused") && events.contains("oauth.code_issued") && events.contains("oauth.token_issued"))
        }
    }

    @Test func pkceIsEnforcedAndPlainRefused() async throws {
        try await Harness.run { h in
            let f = try await Self.fixture(h)
            let code = try await Self.code(f)
            let wrong = try await Self.exchange(f, code: code, verifier: String(repeating: "x", count: 50))
            #expect(try wrong.json()["error"] as? String == "invalid_grant")
            // Missing challenge (the client requires PKCE) and plain: errors go back to the client.
            for extra in [["code_challenge": nil, "code_challenge_method": nil], ["code_challenge_method": "plain"]] as [[String: String?]] {
                let r = try await h.request(.get, "/oauth2/authorize?" + Self.query(Self.authorizeParams(f, extra)), headers: f.cookieHeader)
                let url = try Self.location(r)
                #expect(Self.param(url, "error") == "invalid_request" && Self.param(url, "state") == "st-1" && Self.param(url, "iss") == Self.issuer)
            }
        }
    }

    @Test func untrustedRedirectsGetAnErrorPageAndPromptNoneAnswersLoginRequired() async throws {
        try await Harness.run { h in
            let f = try await Self.fixture(h)
            for extra in [["redirect_uri": "https://evil.example/cb"], ["redirect_uri": Self.redirect + "/"], ["client_id": "nope"]] as [[String: String?]] {
                let r = try await h.request(.get, "/oauth2/authorize?" + Self.query(Self.authorizeParams(f, extra)), headers: f.cookieHeader)
                #expect(r.status == .badRequest && r.headers[.location] == nil, "\(extra)")
            }
            let none = try await h.request(.get, "/oauth2/authorize?" + Self.query(Self.authorizeParams(f, ["prompt": "none"])))
            #expect(Self.param(try Self.location(none), "error") == "login_required")
            // prompt=login with a session sends the browser to sign in again.
            let again = try await h.request(.get, "/oauth2/authorize?" + Self.query(Self.authorizeParams(f, ["prompt": "login"])), headers: f.cookieHeader)
            let login = try Self.location(again)
            #expect(login.path == "/login" && Self.param(login, "prompt") == "login")
            // Repeated parameters are refused.
            let dup = try await h.request(.get, "/oauth2/authorize?" + Self.query(Self.authorizeParams(f)) + "&scope=openid", headers: f.cookieHeader)
            #expect(dup.status == .badRequest)
            // form_post delivers the code in an auto-submitting form with a hash-pinned script.
            let post = try await h.request(
                .get, "/oauth2/authorize?" + Self.query(Self.authorizeParams(f, ["response_mode": "form_post"])),
                headers: f.cookieHeader)
            #expect(post.status == .ok && post.text.contains(#"name="code""#) && post.text.contains(#"name="iss""#))
            #expect(post.headers[.contentSecurityPolicy]?.contains("form-action 'self' https:") == true)
        }
    }

    @Test func promptLoginAndMaxAgeNeedASignInAfterTheRequest() async throws {
        try await Harness.run { h in
            let f = try await Self.fixture(h)
            try await Task.sleep(for: .milliseconds(20))
            for extra in [["prompt": "login"], ["max_age": "0"]] as [[String: String?]] {
                let r = try await h.request(.get, "/oauth2/authorize?" + Self.query(Self.authorizeParams(f, extra)), headers: f.cookieHeader)
                let login = try Self.location(r)
                #expect(login.path == "/login" && Self.param(login, "prompt") == "login", "\(extra)")
                let returnTo = try #require(Self.param(login, "return_to"))
                // The old session does not satisfy the resumed request…
                let stale = try await h.request(.get, returnTo, headers: f.cookieHeader)
                #expect(try Self.location(stale).path == "/login", "\(extra)")
                // …a sign-in made after it does.
                try await Task.sleep(for: .milliseconds(5))
                let (_, cookie) = try await h.services.sessions.start(tenantID: f.tenant.id, userID: f.user.id, amr: ["hwk"], acr: "phrh")
                let fresh = try await h.request(.get, returnTo, headers: [.cookie: "__Host-sigil_session_default=\(cookie.value)"])
                #expect(Self.param(try Self.location(fresh), "code") != nil, "\(extra)")
                // A forged marker is ignored.
                let forged = returnTo.replacingOccurrences(of: "sigil_fresh_mac=", with: "sigil_fresh_mac=x")
                let refused = try await h.request(.get, forged, headers: f.cookieHeader)
                #expect(try Self.location(refused).path == "/login", "\(extra)")
            }
        }
    }

    @Test func cibaPollModeWithAnAuthenticatorApproval() async throws {
        try await Harness.run { h in
            let f = try await Self.fixture(h) { $0.grantTypes = ["authorization_code", OAuthService.cibaGrantType] }
            let start = try await Self.form(
                f, "/oauth2/bc-authorize",
                [
                    "scope": "openid email", "login_hint": "ada@example.com",
                    "binding_message": "Order 42",
                ])
            #expect(start.status == .ok, "\(start.text)")
            let body = try start.json()
            let authReqID = try #require(body["auth_req_id"] as? String)
            #expect(body["interval"] as? Int == 5 && (body["expires_in"] as? Int ?? 0) > 0)
            let poll = ["grant_type": OAuthService.cibaGrantType, "auth_req_id": authReqID]
            #expect(try await Self.form(f, "/oauth2/token", poll).json()["error"] as? String == "authorization_pending")
            // Another client cannot redeem it.
            let other = try await h.services.applications.createOIDC(
                tenantID: f.tenant.id,
                {
                    var i = ApplicationService.NewOIDCClient(name: "Other", redirectURIs: [Self.redirect])
                    i.grantTypes = [OAuthService.cibaGrantType]
                    return i
                }(), by: .cli)
            let otherAuth: HTTPFields = [.authorization: "Basic " + Data("\(other.0.clientID!):\(other.1!.value)".utf8).base64EncodedString()]
            #expect(try await Self.form(f, "/oauth2/token", poll, headers: otherAuth).json()["error"] as? String == "invalid_grant")
            // The phone approves (as the authenticator routes would record it).
            await h.services.pushDispatcher.drain()
            let transactionID = String(authReqID.split(separator: ".")[0])
            _ = try await h.store.loginTransactions.update(tenantID: f.tenant.id, id: transactionID) { t in
                t.state = .approved
                t.userID = f.user.id
                if case .authenticatorSignIn(var s) = t.flow {
                    s.userVerification = "face"
                    t.flow = .authenticatorSignIn(s)
                }
            }
            let tokens = try await Self.form(f, "/oauth2/token", poll)
            #expect(tokens.status == .ok, "\(tokens.text)")
            let id = try JWS.parse(try #require(try tokens.json()["id_token"] as? String))
            #expect(id.payload["sub"]?.string == f.user.id && id.payload["amr"]?.strings?.contains("face") == true)
            #expect(try await Self.form(f, "/oauth2/token", poll).json()["error"] as? String == "invalid_grant")
            // A declined request answers access_denied.
            let second = try await Self.form(f, "/oauth2/bc-authorize", ["scope": "openid", "login_hint": "ada@example.com"]).json()
            let secondID = try #require(second["auth_req_id"] as? String)
            await h.services.pushDispatcher.drain()
            _ = try await h.store.loginTransactions.update(tenantID: f.tenant.id, id: String(secondID.split(separator: ".")[0])) { $0.state = .denied }
            let denied = try await Self.form(f, "/oauth2/token", ["grant_type": OAuthService.cibaGrantType, "auth_req_id": secondID])
            #expect(try denied.json()["error"] as? String == "access_denied")
            // acr_values naming LiveID: the phone is told a face or fingerprint is needed; without, not.
            let live = try await Self.form(
                f, "/oauth2/bc-authorize", ["scope": "openid", "login_hint": "ada@example.com", "acr_values": "urn:sigil:acr:liveid"]
            ).json()
            let liveID = String(try #require(live["auth_req_id"] as? String).split(separator: ".")[0])
            let liveFlow = try await h.store.loginTransactions.get(tenantID: f.tenant.id, id: liveID).authenticatorSignIn
            #expect(liveFlow?.requiredUserVerification == "biometric")
            // CIBA has no browser to show a number: none to match; the binding message is shown instead.
            let row = try await h.store.loginTransactions.get(tenantID: f.tenant.id, id: transactionID)
            #expect(row.number == nil && row.authenticatorSignIn?.bindingMessage == "Order 42")
            let view = h.services.authenticator.view(row, tenant: f.tenant)
            #expect(view.numberMatching == false && view.message == "Order 42")
            let secondFlow = try await h.store.loginTransactions.get(tenantID: f.tenant.id, id: String(secondID.split(separator: ".")[0]))
                .authenticatorSignIn
            #expect(secondFlow?.requiredUserVerification == nil)
            // Clients without the grant are refused.
            let plain = try await Self.fixture2(h, tenant: f.tenant)
            #expect(
                try await Self.form(f, "/oauth2/bc-authorize", ["scope": "openid", "login_hint": "x@example.com"], headers: plain)
                    .json()["error"] as? String == "unauthorized_client")
        }
    }

    static func fixture2(_ h: Harness, tenant: Tenant) async throws -> HTTPFields {
        let (app, secret) = try await h.services.applications.createOIDC(tenantID: tenant.id, .init(name: "Plain", redirectURIs: [redirect]), by: .cli)
        return [.authorization: "Basic " + Data("\(app.clientID!):\(secret!.value)".utf8).base64EncodedString()]
    }

    @Test func pathTenantsHaveTheirOwnIssuerAndLoginPath() async throws {
        try await Harness.run { h in
            let acme = try await h.services.tenants.create(slug: "acme", by: .cli)
            let doc = try await h.request(.get, "/t/acme/.well-known/openid-configuration").json()
            #expect(doc["issuer"] as? String == Self.issuer + "/t/acme")
            #expect(doc["token_endpoint"] as? String == Self.issuer + "/t/acme/oauth2/token")
            let (app, _) = try await h.services.applications.createOIDC(tenantID: acme.id, .init(name: "RP", redirectURIs: [Self.redirect]), by: .cli)
            let params = [
                "response_type": "code", "client_id": app.clientID!, "scope": "openid", "state": "s",
                "code_challenge": PKCE.challenge(for: Self.verifier), "code_challenge_method": "S256",
            ]
            let r = try await h.request(.get, "/t/acme/oauth2/authorize?" + Self.query(params))
            let login = try Self.location(r)
            #expect(login.path == "/t/acme/login")
            #expect(Self.param(login, "return_to")?.hasPrefix("/t/acme/oauth2/authorize?") == true)
            // The default tenant does not know acme's client.
            #expect(try await h.request(.get, "/oauth2/authorize?" + Self.query(params)).status == .badRequest)
            // Browser clients may call the token endpoint across origins.
            let preflight = try await h.request(.options, "/t/acme/oauth2/token")
            #expect(preflight.status == .noContent && preflight.headers[.accessControlAllowOrigin] == "*")
        }
    }

    @Test func es256IDTokensPerClient() async throws {
        try await Harness.run { h in
            let f = try await Self.fixture(h) { $0.idTokenSigningAlg = "ES256" }
            let tokens = try await Self.exchange(f, code: try await Self.code(f)).json()
            let id = try JWS.parse(try #require(tokens["id_token"] as? String))
            let keys = try await Self.jwks(h)
            #expect(id.algorithm == "ES256" && JWS.verify(id, with: keys))
        }
    }

    @Test func eddsaIDTokensPerClientAndForClientCredentials() async throws {
        try await Harness.run { h in
            let f = try await Self.fixture(h) { $0.idTokenSigningAlg = "EdDSA" }
            let tokens = try await Self.exchange(f, code: try await Self.code(f)).json()
            let idToken = try #require(tokens["id_token"] as? String)
            let id = try JWS.parse(idToken)
            let keys = try await Self.jwks(h)
            #expect(id.algorithm == "EdDSA" && JWS.verify(id, with: keys))
            #expect(keys.keys.contains { $0.kid == id.keyID && $0.kty == "OKP" && $0.crv == "Ed25519" })
            // A tampered payload fails; the same token checked against an RS256 key fails.
            var parts = idToken.split(separator: ".").map(String.init)
            parts[1] = Base64URL.encode(Array(#"{"sub":"someone-else"}"#.utf8))
            #expect(!JWS.verify(try JWS.parse(parts.joined(separator: ".")), with: keys))
            #expect(!JWS.verify(id, with: JWKSet(keys: keys.keys.filter { $0.kty == "RSA" })))
            let cc = try await Self.form(f, "/oauth2/token", ["grant_type": "client_credentials"]).json()
            let at = try JWS.parse(try #require(cc["access_token"] as? String))
            #expect(at.algorithm == "EdDSA" && JWS.verify(at, with: keys))
            let discovery = try await h.request(.get, "/.well-known/openid-configuration").json()
            #expect((discovery["id_token_signing_alg_values_supported"] as? [String])?.contains("EdDSA") == true)
        }
    }

    @Test func refreshTokensRotateAndReuseRevokesTheFamily() async throws {
        try await Harness.run { h in
            let f = try await Self.fixture(h)
            let first = try await Self.exchange(f, code: try await Self.code(f)).json()
            let r1 = try #require(first["refresh_token"] as? String)
            let second = try await Self.form(f, "/oauth2/token", ["grant_type": "refresh_token", "refresh_token": r1])
            #expect(second.status == .ok, "\(second.text)")
            let r2 = try #require(try second.json()["refresh_token"] as? String)
            #expect(r2 != r1)
            #expect(try second.json()["id_token"] != nil)
            let widened = try await Self.form(f, "/oauth2/token", ["grant_type": "refresh_token", "refresh_token": r2, "scope": "openid admin"])
            #expect(try widened.json()["error"] as? String == "invalid_scope")
            // The refused request did not spend r2; narrowing works and drops the profile claims from userinfo.
            let narrowed = try await Self.form(f, "/oauth2/token", ["grant_type": "refresh_token", "refresh_token": r2, "scope": "openid"])
            #expect(narrowed.status == .ok, "\(narrowed.text)")
            #expect(try narrowed.json()["scope"] as? String == "openid")
            let narrowAccess = try #require(try narrowed.json()["access_token"] as? String)
            let info = try await h.request(.get, "/oauth2/userinfo", headers: [.authorization: "Bearer \(narrowAccess)"]).json()
            #expect(info["sub"] as? String == f.user.id && info["email"] == nil)
            // An old (rotated) token presented again revokes the whole family.
            let reuse = try await Self.form(f, "/oauth2/token", ["grant_type": "refresh_token", "refresh_token": r1])
            #expect(try reuse.json()["error"] as? String == "invalid_grant")
            let events = try await h.store.audit.list(tenantID: f.tenant.id, page: PageRequest(limit: 100)).items.map(\.action)
            #expect(events.contains("oauth.refresh_token_reused"))
        }
    }

    @Test func clientAuthenticationFailuresAre401WithAChallenge() async throws {
        try await Harness.run { h in
            let f = try await Self.fixture(h)
            let bad: HTTPFields = [.authorization: "Basic " + Data("\(f.clientID):wrong".utf8).base64EncodedString()]
            let r = try await Self.form(f, "/oauth2/token", ["grant_type": "client_credentials"], headers: bad)
            #expect(r.status == .unauthorized && r.headers[.wwwAuthenticate]?.hasPrefix("Basic") == true)
            #expect(try r.json()["error"] as? String == "invalid_client")
            let none = try await Self.form(f, "/oauth2/token", ["grant_type": "client_credentials", "client_id": f.clientID], headers: [:])
            #expect(none.status == .unauthorized)
            let unsupported = try await Self.form(f, "/oauth2/token", ["grant_type": "password"])
            #expect(try unsupported.json()["error"] as? String == "unsupported_grant_type")
            // A client_secret_basic client may not send its secret in the body (AttackRegressionTests has more).
            let mismatched = try await Self.form(
                f, "/oauth2/token",
                [
                    "grant_type": "client_credentials", "client_id": f.clientID,
                    "client_secret": f.secret,
                ], headers: [:])
            #expect(mismatched.status == .unauthorized)
            // A client_secret_post client does; client credentials yields an RFC 9068 token without a user.
            let g = try await Self.fixture2Post(h, tenant: f.tenant)
            let post = try await Self.form(
                f, "/oauth2/token", ["grant_type": "client_credentials", "client_id": g.id, "client_secret": g.secret],
                headers: [:])
            #expect(post.status == .ok, "\(post.text)")
            let at = try JWS.parse(try #require(try post.json()["access_token"] as? String))
            #expect(at.payload["sub"]?.string == g.id && at.type == "at+jwt")
            #expect(try post.json()["id_token"] == nil)
            #expect(try post.json()["refresh_token"] == nil)
        }
    }

    @Test func parIsSingleUseAndAuthorizeNeedsNoClientID() async throws {
        try await Harness.run { h in
            let f = try await Self.fixture(h) { $0.tokenEndpointAuthMethod = "client_secret_post" }
            var params = Self.authorizeParams(f)
            params["claims"] = #"{"id_token":{"given_name":{"essential":true}}}"#
            params["client_secret"] = f.secret
            let pushed = try await Self.form(f, "/oauth2/par", params, headers: [:])
            #expect(pushed.status == .created, "\(pushed.text)")
            let body = try pushed.json()
            let requestURI = try #require(body["request_uri"] as? String)
            #expect(requestURI.hasPrefix("urn:ietf:params:oauth:request_uri:") && body["expires_in"] as? Int == 60)
            #expect(pushed.headers[.cacheControl] == "no-store")
            let r = try await h.request(.get, "/oauth2/authorize?request_uri=" + AuthorizationResponse.formEncode(requestURI), headers: f.cookieHeader)
            let code = try #require(Self.param(try Self.location(r), "code"))
            let again = try await h.request(.get, "/oauth2/authorize?request_uri=" + AuthorizationResponse.formEncode(requestURI), headers: f.cookieHeader)
            #expect(again.status == .badRequest)
            let tokens = try await Self.form(
                f, "/oauth2/token",
                [
                    "grant_type": "authorization_code", "code": code, "redirect_uri": Self.redirect,
                    "code_verifier": Self.verifier, "client_id": f.clientID, "client_secret": f.secret,
                ],
                headers: [:]
            ).json()
            let id = try JWS.parse(try #require(tokens["id_token"] as? String))
            #expect(id.payload["given_name"]?.string == "Ada")
            // request_uri inside a push, and a mismatched client_id at /authorize, are refused.
            var withURI = params
            withURI["request_uri"] = requestURI
            #expect(try await Self.form(f, "/oauth2/par", withURI, headers: [:]).status == .badRequest)
            let fresh = try await Self.form(f, "/oauth2/par", params, headers: [:]).json()["request_uri"] as! String
            let mismatch = try await h.request(
                .get, "/oauth2/authorize?client_id=other&request_uri=" + AuthorizationResponse.formEncode(fresh),
                headers: f.cookieHeader)
            #expect(mismatch.status == .badRequest)
            // A JSON body (as Okta's example shows) is tolerated, claims as an object.
            var json = params
            json["claims"] = nil
            var object = try JSONSerialization.jsonObject(with: try JSONSerialization.data(withJSONObject: json)) as! [String: Any]
            object["claims"] = ["id_token": ["email": NSNull()]]
            let jsonBody = String(decoding: try JSONSerialization.data(withJSONObject: object), as: UTF8.self)
            let viaJSON = try await h.request(.post, "/oauth2/par", json: jsonBody)
            #expect(viaJSON.status == .created, "\(viaJSON.text)")
        }
    }

    @Test func requiredPARRefusesPlainRequests() async throws {
        try await Harness.run { h in
            let f = try await Self.fixture(h) { $0.requirePAR = true }
            let r = try await h.request(.get, "/oauth2/authorize?" + Self.query(Self.authorizeParams(f)), headers: f.cookieHeader)
            #expect(Self.param(try Self.location(r), "error") == "invalid_request")
        }
    }

    @Test func introspectionAndRevocation() async throws {
        try await Harness.run { h in
            let f = try await Self.fixture(h)
            let tokens = try await Self.exchange(f, code: try await Self.code(f)).json()
            let access = try #require(tokens["access_token"] as? String)
            let active = try await Self.form(f, "/oauth2/introspect", ["token": access]).json()
            #expect(active["active"] as? Bool == true && active["sub"] as? String == f.user.id && active["client_id"] as? String == f.clientID)
            let refresh = try #require(tokens["refresh_token"] as? String)
            #expect(try await Self.form(f, "/oauth2/introspect", ["token": refresh]).json()["active"] as? Bool == true)
            #expect(try await Self.form(f, "/oauth2/introspect", ["token": "garbage"]).json()["active"] as? Bool == false)
            let revoked = try await Self.form(f, "/oauth2/revoke", ["token": refresh])
            #expect(revoked.status == .ok)
            #expect(try await Self.form(f, "/oauth2/introspect", ["token": access]).json()["active"] as? Bool == false)
            #expect(try await Self.form(f, "/oauth2/revoke", ["token": "unknown"]).status == .ok)
            let noBearer = try await h.request(.get, "/oauth2/userinfo")
            #expect(noBearer.status == .unauthorized && noBearer.headers[.wwwAuthenticate]?.hasPrefix("Bearer") == true)
        }
    }

    @Test func privateKeyJWTAuthenticatesOnceperAssertion() async throws {
        try await Harness.run { h in
            let key = try SigningKeyMaterial.generate(.es256)
            let jwks = String(decoding: try JSONEncoder().encode(JWKSet(keys: [key.publicJWK])), as: UTF8.self)
            let f = try await Self.fixture(h) {
                $0.tokenEndpointAuthMethod = "private_key_jwt"
                $0.jwks = jwks
            }
            let now = Int64(Date().timeIntervalSince1970)
            let assertion = try JWS.sign(
                payload: [
                    "iss": .string(f.clientID), "sub": .string(f.clientID), "aud": .string(Self.issuer + "/oauth2/token"),
                    "exp": .int(now + 60), "iat": .int(now), "jti": "jti-1",
                ], key: key)
            let params = ["grant_type": "client_credentials", "client_assertion_type": ClientAssertion.type, "client_assertion": assertion]
            let ok = try await Self.form(f, "/oauth2/token", params, headers: [:])
            #expect(ok.status == .ok, "\(ok.text)")
            let replay = try await Self.form(f, "/oauth2/token", params, headers: [:])
            #expect(replay.status == .unauthorized)
            let other = try SigningKeyMaterial.generate(.es256)
            let forged = try JWS.sign(
                payload: [
                    "iss": .string(f.clientID), "sub": .string(f.clientID), "aud": .string(Self.issuer),
                    "exp": .int(now + 60), "jti": "jti-2",
                ], key: other)
            #expect(
                try await Self.form(
                    f, "/oauth2/token",
                    [
                        "grant_type": "client_credentials", "client_assertion_type": ClientAssertion.type,
                        "client_assertion": forged,
                    ], headers: [:]
                ).status == .unauthorized)
        }
    }

    @Test func rpInitiatedLogoutEndsTheSessionAndItsGrants() async throws {
        try await Harness.run { h in
            let f = try await Self.fixture(h)
            let tokens = try await Self.exchange(f, code: try await Self.code(f)).json()
            let idToken = try #require(tokens["id_token"] as? String)
            let access = try #require(tokens["access_token"] as? String)
            let bad = try await h.request(
                .get, "/oauth2/logout?post_logout_redirect_uri=https%3A%2F%2Fevil.example&id_token_hint=\(idToken)",
                headers: f.cookieHeader)
            #expect(bad.status == .badRequest)
            // Without a hint the user is asked.
            let ask = try await h.request(.get, "/oauth2/logout", headers: f.cookieHeader)
            #expect(ask.status == .ok && ask.text.contains("logout-confirm"))
            let r = try await h.request(
                .get, "/oauth2/logout?state=s9&post_logout_redirect_uri=https%3A%2F%2Frp.example%2Fbye&id_token_hint=\(idToken)",
                headers: f.cookieHeader)
            #expect(r.headers[.location] == "https://rp.example/bye?state=s9")
            #expect(try await h.services.sessions.resolve(cookie: f.cookie, tenantID: f.tenant.id) == nil)
            let info = try await h.request(.get, "/oauth2/userinfo", headers: [.authorization: "Bearer \(access)"])
            #expect(info.status == .unauthorized)
        }
    }
}
