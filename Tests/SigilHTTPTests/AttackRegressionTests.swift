import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SigilCore
import SigilFlows
import SigilJOSE
import SigilOAuth
import SigilSAML
import SigilServices
import SigilStore
import SigilWebAuthn
import SigilXML
import Testing
import X509
import _CryptoExtras

@testable import SigilHTTP

/// What the browser, service-provider and attack runs of issue 11 found, one named test per
/// finding; each fails on the code before its fix.
@Suite("Issue 11 regressions")
struct AttackRegressionTests {
    // MARK: 2. a second arrival at the continue link

    static func returnTo(_ r: TestResponse) throws -> String {
        let location = try #require(r.headers[.location])
        return try #require(URLComponents(string: location)?.queryItems?.first { $0.name == "return_to" }?.value)
    }

    @Test func continueLinkOpenedTwiceBySameBrowserAnswersAgain() async throws {
        try await Harness.run { h in
            let f = try await SAMLIdPTests.fixture(h)
            let first = try await SAMLIdPTests.post(f, SAMLIdPTests.request(id: "_twice"))
            let returnTo = try Self.returnTo(first)
            let cookie: HTTPFields = [.cookie: "\(SAMLIdPTests.cookieName)=\(f.cookie)"]
            let one = try SAMLIdPTests.form(try await h.request(.get, returnTo, headers: cookie))
            // Two sign-ins finished at once: the second session of the same user opens the link too.
            let (_, second) = try await h.services.sessions.start(tenantID: f.tenant.id, userID: f.user.id, amr: ["hwk", "user"], acr: "phrh")
            let again = try await h.request(.get, returnTo, headers: [.cookie: "\(SAMLIdPTests.cookieName)=\(second.value)"])
            let two = try SAMLIdPTests.form(again)
            #expect(one.action == two.action && one.relayState == two.relayState)
            for xml in [one.xml, two.xml] {
                let response = try await SAMLIdPTests.verifier(f).verifyEnveloped(xml)
                #expect(response.element.attribute("InResponseTo") == "_twice")
            }
            let events = try await h.store.audit.list(tenantID: f.tenant.id, page: PageRequest(limit: 100)).items
            #expect(events.contains { $0.action == "saml.sso.repeated" })
            // Another user's session, even with the link, is refused.
            let mallory = try await h.services.users.create(tenantID: f.tenant.id, .init(email: "m@example.com", givenName: "M", familyName: "M"), by: .cli)
            let (_, theirs) = try await h.services.sessions.start(tenantID: f.tenant.id, userID: mallory.id, amr: ["hwk"], acr: "phrh")
            #expect(try await h.request(.get, returnTo, headers: [.cookie: "\(SAMLIdPTests.cookieName)=\(theirs.value)"]).status == .badRequest)
        }
    }

    @Test func continueLinkIsRefusedAfterTheRepeatWindow() async throws {
        let clock = ManualClock(Date())
        try await Harness.run(clock: clock) { h in
            let f = try await SAMLIdPTests.fixture(h)
            let first = try await SAMLIdPTests.post(f, SAMLIdPTests.request(id: "_late", instant: clock.now()))
            let returnTo = try Self.returnTo(first)
            let cookie: HTTPFields = [.cookie: "\(SAMLIdPTests.cookieName)=\(f.cookie)"]
            _ = try SAMLIdPTests.form(try await h.request(.get, returnTo, headers: cookie))
            clock.advance(by: SAMLIdentityProviderService.repeatWindow + 1)
            #expect(try await h.request(.get, returnTo, headers: cookie).status == .badRequest)
        }
    }

    /// The answer's state change, participant row and audit event are one commit: when one of
    /// them cannot be written (the session is gone), the request stays unanswered.
    @Test func answeringIsOneCommit() async throws {
        try await Harness.run { h in
            let f = try await SAMLIdPTests.fixture(h)
            let returnTo = try Self.returnTo(try await SAMLIdPTests.post(f, SAMLIdPTests.request(id: "_atomic")))
            let query = try #require(URLComponents(string: returnTo)?.queryItems)
            let t = try #require(query.first { $0.name == "t" }?.value), k = try #require(query.first { $0.name == "k" }?.value)
            let (session, _) = try await h.services.sessions.start(tenantID: f.tenant.id, userID: f.user.id, amr: ["hwk"], acr: "phrh")
            var gone = session
            gone.id = "ses_gone"
            let outcome = try await h.services.saml.resume(
                transactionID: t, key: k, tenantID: f.tenant.id, issuer: SAMLIdPTests.issuer,
                session: (gone, f.user))
            guard case .error = outcome else { Issue.record("expected an error, got \(outcome)"); return }
            #expect(try await h.store.loginTransactions.get(tenantID: f.tenant.id, id: t).state == .pending)
            let actions = try await h.store.audit.list(tenantID: f.tenant.id, page: PageRequest(limit: 100)).items.map(\.action)
            #expect(!actions.contains("saml.sso.responded"))
            // The real session then answers it.
            _ = try SAMLIdPTests.form(try await h.request(.get, returnTo, headers: [.cookie: "\(SAMLIdPTests.cookieName)=\(f.cookie)"]))
        }
    }

    // MARK: 3. request signatures: one rule for both bindings

    @Test func signedRequestFromSPWithoutCertificateIsHandledAsUnsignedOnBothBindings() async throws {
        try await Harness.run { h in
            let f = try await SAMLIdPTests.fixture(h)
            let key = try SAMLIdPTests.SPKey()
            // HTTP-Redirect with a query signature: answered (was 400 before).
            let redirect = try await SAMLIdPTests.redirect(f, SAMLIdPTests.request(id: "_sr"), key: key.key)
            let answered = try SAMLIdPTests.form(redirect)
            #expect(SAMLIdPTests.statusCodes(try await SAMLIdPTests.verifier(f).verifyEnveloped(answered.xml).element) == [SAMLStatus.successCode])
            // HTTP-POST with an enveloped signature: the same.
            let signed = try LogoutTests.envelope(SAMLIdPTests.request(id: "_sp"), key: key)
            let post = try await SAMLIdPTests.post(f, signed, signedIn: true)
            _ = try SAMLIdPTests.form(post)
            let events = try await h.store.audit.list(tenantID: f.tenant.id, page: PageRequest(limit: 100)).items
                .filter { $0.action == "saml.sso.signature_unchecked" }
            #expect(Set(events.compactMap { $0.after?["request_id"] }) == ["_sr", "_sp"])
        }
    }

    @Test func signedRequestIsVerifiedOnBothBindingsWhenACertificateIsRegistered() async throws {
        try await Harness.run { h in
            let key = try SAMLIdPTests.SPKey()
            let f = try await SAMLIdPTests.fixture(h, certificate: key.pem)
            let other = try SAMLIdPTests.SPKey()
            #expect(try await SAMLIdPTests.redirect(f, SAMLIdPTests.request(), key: other.key).status == .badRequest)
            let forged = try LogoutTests.envelope(SAMLIdPTests.request(), key: other)
            #expect(try await SAMLIdPTests.post(f, forged, signedIn: true).status == .badRequest)
            _ = try SAMLIdPTests.form(try await SAMLIdPTests.post(f, try LogoutTests.envelope(SAMLIdPTests.request(), key: key), signedIn: true))
        }
    }

    @Test func nameIDFormatShortSpellingsAreAcceptedByTheAdminAPI() async throws {
        try await Harness.run { h in
            let created = try await h.admin(
                .post, "/applications",
                json: """
                    {"name":"SP","protocol":"saml","entity_id":"https://sp.example.org/m","acs":[{"url":"https://sp.example.org/acs"}],
                     "name_id_format":"emailAddress"}
                    """)
            #expect(created.status == .created, "\(created.text)")
            #expect((try created.json()["saml"] as? [String: Any])?["name_id_format"] as? String == NameIDFormat.emailAddress.rawValue)
            let id = try #require(try created.json()["id"] as? String)
            let patched = try await h.admin(
                .patch, "/applications/\(id)", json: #"{"name_id_format":"persistent"}"#,
                headers: [.contentType: "application/merge-patch+json"])
            #expect((try patched.json()["saml"] as? [String: Any])?["name_id_format"] as? String == NameIDFormat.persistent.rawValue, "\(patched.text)")
            try await h.admin(
                .patch, "/applications/\(id)", json: #"{"name_id_format":"nickname"}"#,
                headers: [.contentType: "application/merge-patch+json"]
            ).expectProblem(.unprocessableContent, "validation-failed")
        }
    }

    // MARK: 4. the registered client authentication method

    @Test func clientMustAuthenticateTheWayItRegistered() async throws {
        try await Harness.run { h in
            let f = try await OAuthTests.fixture(h) // client_secret_basic
            let post: HTTPFields = [:]
            let asPost = ["client_id": f.clientID, "client_secret": f.secret]
            for path in ["/oauth2/token", "/oauth2/par", "/oauth2/introspect", "/oauth2/revoke"] {
                var params = asPost
                switch path {
                case "/oauth2/token": params["grant_type"] = "client_credentials"
                case "/oauth2/par": params.merge(OAuthTests.authorizeParams(f)) { a, _ in a }
                default: params["token"] = "x"
                }
                let r = try await OAuthTests.form(f, path, params, headers: post)
                #expect(r.status == .unauthorized && (try? r.json()["error"] as? String) == "invalid_client", "\(path): \(r.status) \(r.text)")
            }
            // The registered method works.
            #expect(try await OAuthTests.form(f, "/oauth2/token", ["grant_type": "client_credentials"]).status == .ok)
            // And the other way round: a client_secret_post client cannot use Basic.
            let g = try await OAuthTests.fixture2Post(h, tenant: f.tenant)
            let basic: HTTPFields = [.authorization: "Basic " + Data("\(g.id):\(g.secret)".utf8).base64EncodedString()]
            #expect(try await OAuthTests.form(f, "/oauth2/token", ["grant_type": "client_credentials"], headers: basic).status == .unauthorized)
            #expect(
                try await OAuthTests.form(
                    f, "/oauth2/token", ["grant_type": "client_credentials", "client_id": g.id, "client_secret": g.secret],
                    headers: [:]
                ).status == .ok)
        }
    }

    // MARK: 5. a code or refresh token presented by the wrong client is not spent

    @Test func codeOfAnotherClientIsRefusedWithoutBeingConsumed() async throws {
        try await Harness.run { h in
            let f = try await OAuthTests.fixture(h)
            let code = try await OAuthTests.code(f)
            let thief = try await OAuthTests.fixture2(h, tenant: f.tenant)
            let stolen = try await OAuthTests.form(
                f, "/oauth2/token",
                [
                    "grant_type": "authorization_code", "code": code,
                    "redirect_uri": OAuthTests.redirect, "code_verifier": OAuthTests.verifier,
                ],
                headers: thief)
            #expect(try stolen.json()["error"] as? String == "invalid_grant")
            // Another tenant's client too.
            let other = try await h.services.tenants.create(slug: "beta", by: .cli)
            let (app, secret) = try await h.services.applications.createOIDC(
                tenantID: other.id, .init(name: "B", redirectURIs: [OAuthTests.redirect]), by: .cli)
            var elsewhere: HTTPFields = [.authorization: "Basic " + Data("\(app.clientID!):\(secret!.value)".utf8).base64EncodedString()]
            elsewhere[.contentType] = "application/x-www-form-urlencoded"
            let cross = try await h.client.execute(
                uri: "/t/beta/oauth2/token", method: .post, headers: elsewhere,
                body: ByteBuffer(
                    string: OAuthTests.query(
                        ["grant_type": "authorization_code", "code": code, "redirect_uri": OAuthTests.redirect, "code_verifier": OAuthTests.verifier])))
            #expect(try cross.json()["error"] as? String == "invalid_grant")
            // The client it was issued to still redeems it, once.
            let tokens = try await OAuthTests.exchange(f, code: code)
            #expect(tokens.status == .ok, "\(tokens.text)")
            let refresh = try #require(try tokens.json()["refresh_token"] as? String)
            // A stolen refresh token: refused, not rotated away from its client.
            let r = try await OAuthTests.form(f, "/oauth2/token", ["grant_type": "refresh_token", "refresh_token": refresh], headers: thief)
            #expect(try r.json()["error"] as? String == "invalid_grant")
            let rotated = try await OAuthTests.form(f, "/oauth2/token", ["grant_type": "refresh_token", "refresh_token": refresh])
            #expect(rotated.status == .ok, "\(rotated.text)")
            // Reuse by the right client still revokes the grant.
            #expect(try await OAuthTests.exchange(f, code: code).json()["error"] as? String == "invalid_grant")
            let afterReuse = try await OAuthTests.form(
                f, "/oauth2/token",
                [
                    "grant_type": "refresh_token",
                    "refresh_token": try #require(try rotated.json()["refresh_token"] as? String),
                ])
            #expect(try afterReuse.json()["error"] as? String == "invalid_grant")
        }
    }

    // MARK: 6. limits on everything that stores state or checks a secret

    @Test func wrongClientSecretsEndIn429EvenForTheRightOne() async throws {
        try await Harness.run { h in
            let f = try await OAuthTests.fixture(h)
            let bad: HTTPFields = [.authorization: "Basic " + Data("\(f.clientID):wrong".utf8).base64EncodedString()]
            var statuses: [HTTPResponse.Status] = []
            for path in ["/oauth2/token", "/oauth2/par"] {
                for _ in 0..<20 {
                    statuses.append(try await OAuthTests.form(f, path, ["grant_type": "client_credentials"], headers: bad).status)
                }
            }
            #expect(statuses.prefix(10).allSatisfy { $0 == .unauthorized })
            #expect(statuses.suffix(30).allSatisfy { $0 == .tooManyRequests }, "\(statuses)")
            let right = try await OAuthTests.form(f, "/oauth2/token", ["grant_type": "client_credentials"])
            #expect(right.status == .tooManyRequests && Int(right.headers[.retryAfter] ?? "") ?? 0 >= 1)
            #expect(try right.json()["error"] as? String == "temporarily_unavailable")
        }
    }

    @Test func authenticatedPushesPerClientAreBounded() async throws {
        try await Harness.run { h in
            let f = try await OAuthTests.fixture(h)
            var created = 0, limited = 0
            for _ in 0..<200 {
                let r = try await OAuthTests.form(f, "/oauth2/par", OAuthTests.authorizeParams(f))
                if r.status == .created { created += 1 } else if r.status == .tooManyRequests { limited += 1 }
            }
            #expect(created == 60 && limited == 140, "created \(created), limited \(limited)")
        }
    }

    @Test func unauthenticatedAuthnRequestsCannotFillTheStore() async throws {
        try await Harness.run { h in
            let f = try await SAMLIdPTests.fixture(h)
            var stored = 0, limited = 0
            for _ in 0..<100 {
                let r = try await SAMLIdPTests.redirect(f, SAMLIdPTests.request(), signedIn: false)
                if r.status == .seeOther { stored += 1 } else if r.status == .tooManyRequests { limited += 1 }
            }
            #expect(stored == 60 && limited == 40, "stored \(stored), limited \(limited)")
            // A signed-in browser from the same address is counted on its own session, not refused.
            let signedIn = try await SAMLIdPTests.redirect(f, SAMLIdPTests.request())
            #expect(signedIn.status == .ok, "\(signedIn.status)")
        }
    }

    @Test func adminWritesPerTenantAreBounded() async throws {
        try await Harness.run { h in
            var statuses: [HTTPResponse.Status] = []
            for i in 0..<110 {
                statuses.append(try await h.admin(.post, "/users", json: #"{"email":"u\#(i)@example.com","given_name":"U","family_name":"N"}"#).status)
            }
            #expect(statuses.filter { $0 == .created }.count == 100 && statuses.suffix(10).allSatisfy { $0 == .tooManyRequests })
            // Reads go on.
            #expect(try await h.admin(.get, "/users").status == .ok)
        }
    }

    @Test func signInLimitIsPerAddressAcrossTenants() async throws {
        try await Harness.run { h in
            _ = try await h.services.tenants.create(slug: "acme", by: .cli)
            _ = try await h.services.tenants.create(slug: "beta", by: .cli)
            for _ in 0..<30 {
                #expect(
                    try await h.request(
                        .post, "/t/acme/login/passkey/options", json: "{}",
                        headers: [.origin: "https://id.example.com"]
                    ).status == .ok)
            }
            let other = try await h.request(.post, "/t/beta/login/passkey/options", json: "{}", headers: [.origin: "https://id.example.com"])
            try other.expectProblem(.tooManyRequests, "rate-limited")
        }
    }

    @Test func wrongAdminTokensEndIn429() async throws {
        try await Harness.run { h in
            var statuses: [HTTPResponse.Status] = []
            for _ in 0..<25 { statuses.append(try await h.request(.get, "/api/admin/v1/users", token: "sigil_at_wrong").status) }
            #expect(statuses.prefix(20).allSatisfy { $0 == .unauthorized } && statuses.suffix(5).allSatisfy { $0 == .tooManyRequests })
            // From that address even the right token waits.
            #expect(try await h.admin(.get, "/users").status == .tooManyRequests)
        }
    }

    @Test func repeatedFormFieldsAreRefused() async throws {
        try await Harness.run { h in
            let f = try await SAMLIdPTests.fixture(h)
            let one = Data(SAMLIdPTests.request(id: "_one")).base64EncodedString().addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
            let two = Data(SAMLIdPTests.request(id: "_two")).base64EncodedString().addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
            let r = try await h.client.execute(
                uri: "/saml/sso", method: .post, headers: [.contentType: "application/x-www-form-urlencoded"],
                body: ByteBuffer(string: "SAMLRequest=\(one)&SAMLRequest=\(two)"))
            #expect(r.status == .badRequest && !r.text.contains("SAMLResponse"))
            _ = f
        }
    }

    @Test func rateLimitScaleMultipliesEveryRule() {
        let limiter = RateLimiter(scale: 3, now: { 0 })
        let rule = RateLimiter.Rule(capacity: 2, refillPerSecond: 1)
        #expect((0..<6).allSatisfy { _ in limiter.take("k", rule: rule) == nil })
        #expect(limiter.take("k", rule: rule) != nil)
        #expect(limiter.peek("k", rule: rule) != nil && limiter.peek("j", rule: rule) == nil)
    }

    // MARK: 7. duplicate JSON member names

    @Test func duplicateJSONMembersAreRefusedEverywhere() async throws {
        try await Harness.run { h in
            let r = try await h.admin(.post, "/users", json: #"{"email":"a@example.com","given_name":"A","family_name":"B","email":"b@example.com"}"#)
            let body = try r.expectProblem(.badRequest, "invalid-json")
            #expect((body["detail"] as? String)?.contains("duplicate member name \"email\"") == true)
            // Escaped spellings of the same name are the same name.
            try await h.admin(.post, "/users", json: #"{"email":"a@example.com","given_name":"A","family_name":"B","\u0065mail":"b@example.com"}"#)
                .expectProblem(.badRequest, "invalid-json")
            #expect(try await h.services.users.list(tenantID: try await h.defaultTenant().id, page: PageRequest(limit: 10), by: .cli).items.isEmpty)
            // PAR's JSON body (Okta's shape).
            let f = try await OAuthTests.fixture(h)
            var headers = f.basic
            headers[.contentType] = "application/json"
            let par = try await h.client.execute(
                uri: "/oauth2/par", method: .post, headers: headers,
                body: ByteBuffer(
                    string:
                        #"{"response_type":"code","client_id":"\#(f.clientID)","redirect_uri":"\#(OAuthTests.redirect)","scope":"openid","scope":"openid email","code_challenge":"\#(PKCE.challenge(for: OAuthTests.verifier))","code_challenge_method":"S256"}"#
                ))
            #expect(par.status == .badRequest, "\(par.text)")
        }
    }

    @Test func strictJSONRefusesWhatFoundationAccepts() throws {
        #expect(StrictJSON.isValid(Array(#"{"a":1,"b":[{"a":2},{"a":3}],"c":{"d":"\ud83d\ude00"}}"#.utf8)))
        for bad in [
            #"{"a":1,"a":2}"#, #"{"a":{"x":1,"x":1}}"#, #"[{"k":1,"\u006b":2}]"#, #"{"a":"\ud800"}"#, #"{"a":1} x"#,
            #"{"a":01}"#, #"{"a":"\x"}"#, String(repeating: "[", count: 100) + String(repeating: "]", count: 100),
        ] {
            #expect(!StrictJSON.isValid(Array(bad.utf8)), "\(bad)")
        }
        #expect(!StrictJSON.isValid([0x22, 0xC3, 0x28, 0x22])) // invalid UTF-8 in a string
        // JWS headers: a second "alg" is not resolved, it is refused.
        let header = Base64URL.encode(Array(#"{"alg":"RS256","alg":"none"}"#.utf8))
        #expect((try? JWS.parse(header + "." + Base64URL.encode(Array("{}".utf8)) + ".AA")) == nil)
    }

    // MARK: 10. sign-count regression

    @Test func signCountRegressionIsRefusedAndFlaggedUntilAnAdminClearsIt() async throws {
        try await Harness.run { h in
            let tenant = try await h.defaultTenant()
            let user = try await h.services.users.create(tenantID: tenant.id, .init(email: "ada@example.com", givenName: "Ada", familyName: "L"), by: .cli)
            let authenticator = SoftwarePasskey(userID: user.id)
            _ = try await h.store.passkeys.create(authenticator.record(tenantID: tenant.id, signCount: 10))
            let issuer = Harness.publicURL.absoluteString
            func signIn(count: UInt32) async throws -> PasskeyService.SignIn {
                let (transaction, _) = try await h.services.passkeys.beginAuthentication(tenantID: tenant.id, issuer: issuer, returnTo: "/account")
                return try await h.services.passkeys.finishAuthentication(
                    tenantID: tenant.id, issuer: issuer, transactionID: transaction.id,
                    response: authenticator.assertion(challenge: Array(Base64URL.decode(transaction.challenge)!), origin: issuer, signCount: count))
            }
            #expect(try await signIn(count: 11).user.id == user.id)
            // A copy with an older counter: refused, and the passkey is flagged.
            await #expect(throws: ServiceError.self) { _ = try await signIn(count: 5) }
            #expect(try await h.store.passkeys.get(tenantID: tenant.id, credentialID: authenticator.credentialIDText).cloneWarning)
            // Even the genuine authenticator is refused until an administrator clears the flag.
            await #expect(throws: ServiceError.self) { _ = try await signIn(count: 12) }
            let listed = try await h.admin(.get, "/users/\(user.id)/passkeys").json()
            #expect(((listed["items"] as? [[String: Any]])?.first?["clone_warning"] as? Bool) == true)
            let cleared = try await h.admin(.post, "/users/\(user.id)/passkeys/\(authenticator.credentialIDText)/clear-clone-warning")
            #expect(cleared.status == .ok, "\(cleared.text)")
            #expect(try cleared.json()["clone_warning"] as? Bool == false && (try cleared.json()["sign_count"] as? Int) == 0)
            #expect(try await signIn(count: 13).user.id == user.id)
            let actions = try await h.store.audit.list(tenantID: tenant.id, page: PageRequest(limit: 100)).items.map(\.action)
            #expect(actions.contains("passkey.possible_clone") && actions.contains("passkey.clone_warning_cleared"))
        }
    }

    // MARK: 11. security headers on every response

    @Test func unknownTenantAnswersWithTheSecurityHeaders() async throws {
        try await Harness.run { h in
            let r = try await h.request(.get, "/t/nosuch/login")
            #expect(r.status == .notFound)
            #expect(r.headers[.contentSecurityPolicy] == "default-src 'none'; frame-ancestors 'none'")
            #expect(r.headers[HTTPField.Name("X-Content-Type-Options")!] == "nosniff")
            #expect(r.headers[HTTPField.Name("Strict-Transport-Security")!] == "max-age=31536000")
            let page = try await h.request(.get, "/login")
            #expect(page.headers[HTTPField.Name("Strict-Transport-Security")!] == "max-age=31536000")
        }
    }

    // MARK: 12. honest answers

    @Test func unsolicitedLogoutResponseDoesNotClaimASignOut() async throws {
        try await Harness.run { h in
            let f = try await SAMLIdPTests.fixture(h)
            let xml = Array(
                """
                <samlp:LogoutResponse xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_u1" Version="2.0" IssueInstant="\(SAMLTime.format(Date()))" Destination="https://id.example.com/saml/slo" InResponseTo="_nothing"><saml:Issuer>\(SAMLIdPTests.spEntityID)</saml:Issuer><samlp:Status><samlp:StatusCode Value="\(SAMLStatus.successCode)"/></samlp:Status></samlp:LogoutResponse>
                """.utf8)
            let query = try SAMLRedirectBinding.encode(xml, parameter: "SAMLResponse", relayState: "samlslo_nope", signingKey: nil)
            let r = try await h.request(.get, "/saml/slo?" + query, headers: [.cookie: "\(SAMLIdPTests.cookieName)=\(f.cookie)"])
            #expect(r.status == .badRequest && !r.text.contains("You are signed out") && r.text.contains("nothing was signed out"))
            #expect(try await h.services.sessions.resolve(cookie: f.cookie, tenantID: f.tenant.id) != nil)
        }
    }

    @Test func failedPasskeySignInHasItsOwnProblemType() async throws {
        try await Harness.run { h in
            let origin: HTTPFields = [.origin: "https://id.example.com"]
            let start = try await h.request(.post, "/login/passkey/options", json: "{}", headers: origin).json()
            let transaction = try #require(start["transaction"] as? String)
            let r = try await h.request(
                .post, "/login/passkey/verify",
                json: """
                    {"transaction":"\(transaction)","credential":{"id":"AAAA","rawId":"AAAA","type":"public-key","response":{"clientDataJSON":"e30","authenticatorData":"AA","signature":"AA"}}}
                    """, headers: origin)
            try r.expectProblem(.forbidden, "sign-in-failed")
            #expect(r.headers[.wwwAuthenticate] == nil)
        }
    }

    // MARK: 13. request objects at PAR

    /// idpyoidc's PAR add-on pushes a signed request object with an empty `iss`: refused at once
    /// with request_not_supported (RFC 9101 §7; Sigil takes PAR parameters, not JAR), before any
    /// signature or key work, and nothing is stored.
    @Test func pushedRequestObjectIsRefusedAsUnsupported() async throws {
        try await Harness.run { h in
            let f = try await OAuthTests.fixture(h)
            let header = Base64URL.encode(Array(#"{"alg":"RS256","kid":"k1"}"#.utf8))
            let payload = Base64URL.encode(Array(#"{"iss":"","aud":"https://id.example.com","response_type":"code"}"#.utf8))
            var params = OAuthTests.authorizeParams(f)
            params["request"] = header + "." + payload + ".c2ln"
            let r = try await OAuthTests.form(f, "/oauth2/par", params)
            let error = try r.json()["error"] as? String
            #expect(r.status == .badRequest && error == "request_not_supported", "\(r.text)")
            let events = try await h.store.audit.list(tenantID: f.tenant.id, page: PageRequest(limit: 50)).items
            #expect(!events.contains { $0.action == "oauth.par_created" })
        }
    }

    // MARK: 1. form-action of hand-off pages

    @Test func handOffPagesAllowTheRedirectsThatFollowTheirForm() {
        #expect(WebOrigin.handOffFormAction(target: "https://tenant.auth0.com/login/callback?connection=sigil") == "form-action 'self' https:")
        #expect(WebOrigin.handOffFormAction(target: "http://127.0.0.1:9000/acs") == "form-action 'self' http:")
        #expect(WebOrigin.handOffFormAction(target: "com.example.app:/cb") == "form-action 'self' com.example.app: https:")
        #expect(WebOrigin.of("https://Example.com:8443/x?y") == "https://Example.com:8443")
        #expect(WebOrigin.of("urn:x") == nil)
    }
}

extension OAuthTests {
    /// A second client of the tenant, registered for `client_secret_post`.
    static func fixture2Post(_ h: Harness, tenant: Tenant) async throws -> (id: String, secret: String) {
        var input = ApplicationService.NewOIDCClient(name: "Poster", redirectURIs: [redirect])
        input.grantTypes = ["client_credentials"]
        input.tokenEndpointAuthMethod = "client_secret_post"
        let (app, secret) = try await h.services.applications.createOIDC(tenantID: tenant.id, input, by: .cli)
        return (app.clientID!, secret!.value)
    }
}

/// A P-256 passkey held in memory: its stored record, and assertions with a chosen counter.
struct SoftwarePasskey {
    let key = P256.Signing.PrivateKey()
    let credentialID: [UInt8] = Array((0..<16).map { UInt8($0 * 7 + 1) })
    let userID: String

    var credentialIDText: String { Base64URL.encode(credentialID) }

    func record(tenantID: String, signCount: Int) -> Passkey {
        let point = Array(key.publicKey.x963Representation) // 04 ‖ x ‖ y
        // COSE_Key {1: 2 (EC2), 3: -7 (ES256), -1: 1 (P-256), -2: x, -3: y}
        let cose: [UInt8] = [0xA5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21, 0x58, 0x20] + point[1..<33] + [0x22, 0x58, 0x20] + point[33..<65]
        return Passkey(
            credentialID: credentialIDText, tenantID: tenantID, userID: userID, publicKey: Base64URL.encode(cose), algorithm: -7,
            signCount: signCount, aaguid: String(repeating: "0", count: 32), backupEligible: false, backupState: false,
            transports: ["internal"], attestationType: "none", name: "test", createdAt: Date())
    }

    func assertion(challenge: [UInt8], origin: String, signCount: UInt32) throws -> AssertionResponse {
        let rpID = URLComponents(string: origin)!.host!
        var authenticatorData = Array(SHA256.hash(data: Array(rpID.utf8)))
        authenticatorData.append(0x05) // UP, UV
        authenticatorData += withUnsafeBytes(of: signCount.bigEndian, Array.init)
        let clientData = Array(#"{"type":"webauthn.get","challenge":"\#(Base64URL.encode(challenge))","origin":"\#(origin)","crossOrigin":false}"#.utf8)
        let signed = authenticatorData + Array(SHA256.hash(data: clientData))
        let signature = try key.signature(for: signed).derRepresentation
        return AssertionResponse(
            credentialID: credentialID, clientDataJSON: clientData, authenticatorData: authenticatorData,
            signature: Array(signature), userHandle: Array(userID.utf8))
    }
}
