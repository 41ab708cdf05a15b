import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SigilCore
import SigilJOSE
import SigilOAuth
import SigilServices
import SigilStore
import Testing

/// The consent page, prompt handling and acr enforcement at /oauth2/authorize (docs/oidc.md
/// "Consent", "prompt", "acr"), consent revocation from /account and the admin API.
@Suite struct ConsentAndACRTests {
    typealias O = OAuthTests
    static let origin: HTTPFields = [.origin: "https://id.example.com"]

    static func thirdParty(_ h: Harness) async throws -> OAuthTests.Fixture {
        try await O.fixture(h) { $0.consent = .required }
    }

    /// Another client for the same user and session.
    static func another(_ f: OAuthTests.Fixture, consent: OIDCClientSettings.ConsentMode) async throws -> OAuthTests.Fixture {
        var input = ApplicationService.NewOIDCClient(name: "Third", redirectURIs: [O.redirect])
        input.consent = consent
        let (app, secret) = try await f.h.services.applications.createOIDC(tenantID: f.tenant.id, input, by: .cli)
        return OAuthTests.Fixture(h: f.h, tenant: f.tenant, user: f.user, clientID: app.clientID!, secret: secret?.value ?? "", cookie: f.cookie)
    }

    static func authorize(_ f: OAuthTests.Fixture, _ extra: [String: String?] = [:], cookie: HTTPFields? = nil) async throws -> TestResponse {
        try await f.h.request(.get, "/oauth2/authorize?" + O.query(O.authorizeParams(f, extra)), headers: cookie ?? f.cookieHeader)
    }

    static func unescape(_ s: String) -> String {
        s.replacingOccurrences(of: "&quot;", with: "\"").replacingOccurrences(of: "&#39;", with: "'")
            .replacingOccurrences(of: "&lt;", with: "<").replacingOccurrences(of: "&gt;", with: ">").replacingOccurrences(of: "&amp;", with: "&")
    }

    /// The consent page's hidden fields.
    static func consentFields(_ page: TestResponse) throws -> [String: String] {
        var out: [String: String] = [:]
        for name in ["sigil_request", "sigil_consent_at", "sigil_consent_mac"] {
            let pattern = try Regex(#"name="\#(name)" value="([^"]*)""#)
            let match = try #require(page.text.firstMatch(of: pattern), "no \(name) in \(page.text)")
            out[name] = unescape(String(try #require(match.output[1].substring)))
        }
        return out
    }

    static func answer(
        _ f: OAuthTests.Fixture, _ fields: [String: String], decision: String, cookie: HTTPFields? = nil,
        origin: HTTPFields = origin
    ) async throws -> TestResponse {
        var headers = cookie ?? f.cookieHeader
        headers.append(contentsOf: origin)
        var body = fields
        body["sigil_decision"] = decision
        return try await O.form(f, "/oauth2/consent", body, headers: headers)
    }

    static func isConsentPage(_ r: TestResponse) -> Bool {
        r.status == .ok && r.text.contains(#"data-page="consent""#)
    }

    static func idTokenClaims(_ f: OAuthTests.Fixture, code: String) async throws -> [String: JSONValue] {
        let r = try await O.exchange(f, code: code)
        #expect(r.status == .ok, "\(r.text)")
        return try JWS.parse(try #require(try r.json()["id_token"] as? String)).payload
    }

    static func auditActions(_ f: OAuthTests.Fixture) async throws -> [String] {
        try await f.h.store.audit.list(tenantID: f.tenant.id, page: PageRequest(limit: 200)).items.map(\.action)
    }

    // MARK: consent

    @Test func aThirdPartyClientAsksOnceAndAgainOnlyForNewScopes() async throws {
        try await Harness.run { h in
            let f = try await Self.thirdParty(h)
            let page = try await Self.authorize(f, ["scope": "openid email"])
            #expect(Self.isConsentPage(page), "\(page.status) \(page.text)")
            #expect(page.text.contains("See your email address") && page.text.contains(#"id="consent-app">RP<"#))
            #expect(page.headers[.contentSecurityPolicy]?.contains("form-action 'self' https:") == true)
            #expect(page.headers[.cacheControl] == "no-store")
            let allowed = try await Self.answer(f, try Self.consentFields(page), decision: "allow")
            let url = try O.location(allowed)
            #expect(url.host == "rp.example" && O.param(url, "state") == "st-1" && O.param(url, "code") != nil, "\(url)")
            let stored = try #require(try await h.store.consents.find(tenantID: f.tenant.id, userID: f.user.id, clientID: f.clientID))
            #expect(stored.scopes == ["email", "openid"] && stored.claims.isEmpty)
            #expect(try await Self.auditActions(f).contains("consent.granted"))
            // The same scopes again: no page.
            _ = try await O.code(f, ["scope": "openid email"])
            // A new scope asks again, and the grant grows.
            let more = try await Self.authorize(f, ["scope": "openid email profile"])
            #expect(Self.isConsentPage(more) && more.text.contains("See your name"))
            _ = try O.location(try await Self.answer(f, try Self.consentFields(more), decision: "allow"))
            let grown = try await h.store.consents.find(tenantID: f.tenant.id, userID: f.user.id, clientID: f.clientID)
            #expect(grown?.scopes == ["email", "openid", "profile"] && grown?.createdAt == stored.createdAt)
            // Claims asked through the claims parameter are part of the approval.
            let claims = try await Self.authorize(f, ["claims": #"{"userinfo":{"given_name":null}}"#])
            #expect(Self.isConsentPage(claims) && claims.text.contains("your given name"))
            _ = try O.location(try await Self.answer(f, try Self.consentFields(claims), decision: "allow"))
            _ = try await O.code(f, ["claims": #"{"userinfo":{"given_name":null}}"#])
        }
    }

    @Test func denyAnswersAccessDeniedAndStoresNothing() async throws {
        try await Harness.run { h in
            let f = try await Self.thirdParty(h)
            let page = try await Self.authorize(f)
            let denied = try await Self.answer(f, try Self.consentFields(page), decision: "deny")
            let url = try O.location(denied)
            #expect(
                url.host == "rp.example" && O.param(url, "error") == "access_denied" && O.param(url, "state") == "st-1"
                    && O.param(url, "iss") == O.issuer && O.param(url, "code") == nil)
            #expect(try await h.store.consents.find(tenantID: f.tenant.id, userID: f.user.id, clientID: f.clientID) == nil)
            #expect(try await Self.auditActions(f).contains("oauth.authorization_refused"))
        }
    }

    @Test func promptNoneBeforeApprovalIsConsentRequired() async throws {
        try await Harness.run { h in
            let f = try await Self.thirdParty(h)
            let none = try await Self.authorize(f, ["prompt": "none"])
            #expect(O.param(try O.location(none), "error") == "consent_required")
            let page = try await Self.authorize(f)
            _ = try O.location(try await Self.answer(f, try Self.consentFields(page), decision: "allow"))
            _ = try await O.code(f, ["prompt": "none"])
        }
    }

    @Test func promptConsentShowsThePageEvenForFirstPartyClients() async throws {
        try await Harness.run { h in
            // First-party (implicit, the default): no page, unless prompt=consent.
            let f = try await O.fixture(h)
            _ = try await O.code(f)
            let page = try await Self.authorize(f, ["prompt": "consent"])
            #expect(Self.isConsentPage(page))
            let allowed = try await Self.answer(f, try Self.consentFields(page), decision: "allow")
            #expect(O.param(try O.location(allowed), "code") != nil)
            // Nothing is stored for a first-party client.
            #expect(try await h.store.consents.list(tenantID: f.tenant.id, userID: f.user.id).isEmpty)
            // A third-party client with a grant still shows the page for prompt=consent.
            let g = try await Self.another(f, consent: .required)
            let first = try await Self.authorize(g)
            _ = try O.location(try await Self.answer(g, try Self.consentFields(first), decision: "allow"))
            _ = try await O.code(g)
            #expect(Self.isConsentPage(try await Self.authorize(g, ["prompt": "consent"])))
        }
    }

    @Test func theConsentAnswerMustComeFromThePageForThisSessionAndRequest() async throws {
        try await Harness.run { h in
            let f = try await Self.thirdParty(h)
            let fields = try Self.consentFields(try await Self.authorize(f))
            // Cross-site: no Origin.
            #expect(try await Self.answer(f, fields, decision: "allow", origin: [:]).status == .forbidden)
            // A changed request (wider scope) or a forged MAC.
            var widened = fields
            widened["sigil_request"] = fields["sigil_request"]!.replacingOccurrences(of: "scope=openid", with: "scope=openid%20offline_access")
            #expect(try await Self.answer(f, widened, decision: "allow").status == .badRequest)
            var forged = fields
            forged["sigil_consent_mac"] = "AAAA"
            #expect(try await Self.answer(f, forged, decision: "allow").status == .badRequest)
            // Another session of the same user cannot replay the page's answer.
            let (_, other) = try await h.services.sessions.start(tenantID: f.tenant.id, userID: f.user.id, amr: ["hwk"], acr: "phrh")
            let otherCookie: HTTPFields = [.cookie: "__Host-sigil_session_default=\(other.value)"]
            #expect(try await Self.answer(f, fields, decision: "allow", cookie: otherCookie).status == .badRequest)
            // Signed out.
            #expect(try await Self.answer(f, fields, decision: "allow", cookie: [:]).status == .badRequest)
            // An unknown decision.
            #expect(try await Self.answer(f, fields, decision: "maybe").status == .badRequest)
            #expect(try await h.store.consents.find(tenantID: f.tenant.id, userID: f.user.id, clientID: f.clientID) == nil)
            #expect(try await Self.auditActions(f).contains("oauth.consent_refused"))
            // The genuine answer still works.
            #expect(O.param(try O.location(try await Self.answer(f, fields, decision: "allow")), "code") != nil)
        }
    }

    @Test func aPushedRequestSurvivesTheConsentPage() async throws {
        try await Harness.run { h in
            let f = try await Self.thirdParty(h)
            let pushed = try await O.form(f, "/oauth2/par", O.authorizeParams(f))
            let uri = try #require(try pushed.json()["request_uri"] as? String)
            let page = try await h.request(.get, "/oauth2/authorize?" + O.query(["client_id": f.clientID, "request_uri": uri]), headers: f.cookieHeader)
            #expect(Self.isConsentPage(page))
            let allowed = try await Self.answer(f, try Self.consentFields(page), decision: "allow")
            #expect(O.param(try O.location(allowed), "code") != nil)
            // Single use: the same answer again gets no second code.
            let again = try await Self.answer(f, try Self.consentFields(page), decision: "allow")
            #expect(again.status == .badRequest && again.headers[.location] == nil)
        }
    }

    @Test func revokingConsentFromTheAccountPageRevokesTheClientsTokens() async throws {
        try await Harness.run { h in
            let f = try await Self.thirdParty(h)
            let page = try await Self.authorize(f)
            let code = try #require(O.param(try O.location(try await Self.answer(f, try Self.consentFields(page), decision: "allow")), "code"))
            let tokens = try await O.exchange(f, code: code).json()
            let refresh = try #require(tokens["refresh_token"] as? String)
            let access = try #require(tokens["access_token"] as? String)
            let account = try await h.request(.get, "/account", headers: f.cookieHeader)
            #expect(account.text.contains(#"id="consents""#) && account.text.contains("/account/consents/\(f.clientID)/delete"))
            let csrf = try #require(account.text.firstMatch(of: try Regex(#"name="csrf" value="([^"]+)""#))?.output[1].substring)
            var headers = f.cookieHeader
            headers.append(contentsOf: Self.origin)
            // Without the CSRF token: refused, nothing changes.
            let forged = try await O.form(f, "/account/consents/\(f.clientID)/delete", ["csrf": "nope"], headers: headers)
            #expect(forged.status == .forbidden)
            #expect(try await h.store.consents.find(tenantID: f.tenant.id, userID: f.user.id, clientID: f.clientID) != nil)
            let removed = try await O.form(f, "/account/consents/\(f.clientID)/delete", ["csrf": String(csrf)], headers: headers)
            #expect(removed.status == .seeOther && removed.headers[.location] == "/account")
            #expect(try await h.store.consents.find(tenantID: f.tenant.id, userID: f.user.id, clientID: f.clientID) == nil)
            let r = try await O.form(f, "/oauth2/token", ["grant_type": "refresh_token", "refresh_token": refresh])
            #expect(try r.json()["error"] as? String == "invalid_grant")
            let info = try await h.request(.get, "/oauth2/userinfo", headers: [.authorization: "Bearer \(access)"])
            #expect(info.status == .unauthorized)
            #expect(try await Self.auditActions(f).contains("consent.revoked"))
            // The next authorization asks again.
            #expect(Self.isConsentPage(try await Self.authorize(f)))
            #expect(try await h.request(.get, "/account", headers: f.cookieHeader).text.contains(#"id="no-consents""#))
        }
    }

    @Test func adminsListAndRevokeAUsersConsents() async throws {
        try await Harness.run { h in
            let f = try await Self.thirdParty(h)
            let page = try await Self.authorize(f)
            let code = try #require(O.param(try O.location(try await Self.answer(f, try Self.consentFields(page), decision: "allow")), "code"))
            let refresh = try #require(try await O.exchange(f, code: code).json()["refresh_token"] as? String)
            let list = try await h.admin(.get, "/users/\(f.user.id)/consents")
            #expect(list.status == .ok, "\(list.text)")
            let items = try #require(try list.json()["items"] as? [[String: Any]])
            #expect(items.count == 1 && items[0]["client_id"] as? String == f.clientID && items[0]["application_name"] as? String == "RP")
            #expect(items[0]["scopes"] as? [String] == ["email", "openid", "profile"])
            let deleted = try await h.admin(.delete, "/users/\(f.user.id)/consents/\(f.clientID)")
            #expect(deleted.status == .noContent)
            try await h.admin(.delete, "/users/\(f.user.id)/consents/\(f.clientID)").expectProblem(.notFound)
            try await h.admin(.get, "/users/usr_missing/consents").expectProblem(.notFound)
            let r = try await O.form(f, "/oauth2/token", ["grant_type": "refresh_token", "refresh_token": refresh])
            #expect(try r.json()["error"] as? String == "invalid_grant")
            let events = try await h.store.audit.list(tenantID: f.tenant.id, page: PageRequest(limit: 200)).items
            #expect(events.contains { $0.action == "consent.revoked" && $0.actor.hasPrefix("admin_token:") })
        }
    }

    @Test func consentAndDefaultACRAreApplicationSettings() async throws {
        try await Harness.run { h in
            let created = try await h.admin(
                .post, "/applications",
                json: """
                    {"name":"Third","protocol":"oidc","redirect_uris":["https://rp.example/cb"],"consent":"required","default_acr_values":["phr"]}
                    """)
            #expect(created.status == .created, "\(created.text)")
            let oidc = try #require(try created.json()["oidc"] as? [String: Any])
            #expect(oidc["consent"] as? String == "required" && oidc["default_acr_values"] as? [String] == ["phr"])
            let id = try #require(try created.json()["id"] as? String)
            let patched = try await h.admin(.patch, "/applications/\(id)", json: #"{"consent":"implicit","default_acr_values":[]}"#)
            let after = try #require(try patched.json()["oidc"] as? [String: Any])
            #expect(after["consent"] as? String == "implicit" && after["default_acr_values"] as? [String] == [])
            try await h.admin(.patch, "/applications/\(id)", json: #"{"default_acr_values":["gold"]}"#).expectProblem(.unprocessableContent)
            try await h.admin(.patch, "/applications/\(id)", json: #"{"consent":"sometimes"}"#).expectProblem(.badRequest)
            // Registered before the setting existed: implicit.
            let old =
                #"{"clientID":"c","redirectURIs":[],"postLogoutRedirectURIs":[],"grantTypes":[],"tokenEndpointAuthMethod":"none","#
                + #""requirePKCE":true,"requirePAR":false,"allowedScopes":[],"idTokenSigningAlg":"RS256","accessTokenLifetimeSeconds":600,"#
                + #""idTokenLifetimeSeconds":600,"refreshTokenLifetimeSeconds":600}"#
            let decoded = try JSONDecoder().decode(OIDCClientSettings.self, from: Data(old.utf8))
            #expect(decoded.consent == nil && !decoded.requiresConsent && decoded.defaultACRValues == nil)
        }
    }

    // MARK: prompt

    @Test func promptValues() async throws {
        try await Harness.run { h in
            let f = try await O.fixture(h)
            for bad in ["none login", "none consent", "none select_account", "bogus"] {
                let r = try await Self.authorize(f, ["prompt": bad])
                let url = try O.location(r)
                #expect(url.host == "rp.example" && O.param(url, "error") == "invalid_request" && O.param(url, "state") == "st-1", "\(bad)")
            }
            // select_account: the login page, offering the current account (one account per browser).
            let select = try O.location(try await Self.authorize(f, ["prompt": "select_account"]))
            #expect(select.path == "/login" && O.param(select, "prompt") == "login")
            let login = try await h.request(.get, select.path + "?" + (select.percentEncodedQuery ?? ""), headers: f.cookieHeader)
            #expect(login.status == .ok && login.text.contains(#"id="current-account""#) && login.text.contains(#"value="ada@example.com""#))
            // Without prompt=login the login page sends a signed-in browser straight back.
            let back = try await h.request(.get, "/login?return_to=/account", headers: f.cookieHeader)
            #expect(back.status == .seeOther)
            // prompt=login: a sign-in after the request satisfies it; the old session does not.
            let again = try O.location(try await Self.authorize(f, ["prompt": "login"]))
            let returnTo = try #require(O.param(again, "return_to"))
            let stale = try await h.request(.get, returnTo, headers: f.cookieHeader)
            #expect(try O.location(stale).path == "/login")
            let (_, fresh) = try await h.services.sessions.start(tenantID: f.tenant.id, userID: f.user.id, amr: ["hwk"], acr: "phrh")
            let resumed = try await h.request(.get, returnTo, headers: [.cookie: "__Host-sigil_session_default=\(fresh.value)"])
            #expect(O.param(try O.location(resumed), "code") != nil)
        }
    }

    // MARK: acr

    @Test func discoveryAdvertisesTheACRValues() async throws {
        try await Harness.run { h in
            let doc = try await h.request(.get, "/.well-known/openid-configuration").json()
            #expect(doc["acr_values_supported"] as? [String] == ["phrh", "phr", "urn:sigil:acr:liveid", "urn:sigil:acr:authenticator"])
            #expect(doc["prompt_values_supported"] as? [String] == ["none", "login", "consent", "select_account"])
        }
    }

    @Test func theIDTokenReportsTheSatisfiedValue() async throws {
        try await Harness.run { h in
            let f = try await O.fixture(h) // the session is phrh
            #expect(try await Self.idTokenClaims(f, code: try await O.code(f))["acr"]?.string == "phrh")
            #expect(try await Self.idTokenClaims(f, code: try await O.code(f, ["acr_values": "phr"]))["acr"]?.string == "phr")
            #expect(try await Self.idTokenClaims(f, code: try await O.code(f, ["acr_values": "phrh phr"]))["acr"]?.string == "phrh")
            let essential = #"{"id_token":{"acr":{"essential":true,"values":["urn:sigil:acr:authenticator"]}}}"#
            #expect(try await Self.idTokenClaims(f, code: try await O.code(f, ["claims": essential]))["acr"]?.string == "urn:sigil:acr:authenticator")
            // Values Sigil never produces are voluntary noise (the conformance suite sends "1 2").
            #expect(try await Self.idTokenClaims(f, code: try await O.code(f, ["acr_values": "1 2"]))["acr"]?.string == "phrh")
            #expect(try await Self.idTokenClaims(f, code: try await O.code(f, ["acr_values": "1 2", "prompt": "none"]))["acr"]?.string == "phrh")
        }
    }

    @Test func aWeakerSessionSignsInAgainOrIsRefused() async throws {
        try await Harness.run { h in
            let f = try await O.fixture(h)
            let (_, weak) = try await h.services.sessions.start(tenantID: f.tenant.id, userID: f.user.id, amr: ["swk", "user"], acr: "phr")
            let weakCookie: HTTPFields = [.cookie: "__Host-sigil_session_default=\(weak.value)"]
            // prompt=none cannot sign in again: login_required.
            let none = try O.location(try await Self.authorize(f, ["acr_values": "phrh", "prompt": "none"], cookie: weakCookie))
            #expect(O.param(none, "error") == "login_required" && O.param(none, "state") == "st-1")
            // Otherwise the login page, offering only passkeys.
            let login = try O.location(try await Self.authorize(f, ["acr_values": "phrh"], cookie: weakCookie))
            #expect(login.path == "/login" && O.param(login, "acr") == "phrh" && O.param(login, "prompt") == "login")
            let page = try await h.request(.get, login.path + "?" + (login.percentEncodedQuery ?? ""), headers: weakCookie)
            #expect(page.text.contains(#"id="acr-note""#) && !page.text.contains(#"id="authenticator""#))
            let plain = try await h.request(.get, "/login")
            #expect(plain.text.contains(#"id="authenticator""#) && !plain.text.contains(#"id="acr-note""#))
            // The new sign-in still reaches only phr: voluntary → a code reporting phr.
            let returnTo = try #require(O.param(login, "return_to"))
            let (_, again) = try await h.services.sessions.start(tenantID: f.tenant.id, userID: f.user.id, amr: ["swk", "user"], acr: "phr")
            let againCookie: HTTPFields = [.cookie: "__Host-sigil_session_default=\(again.value)"]
            let resumed = try await h.request(.get, returnTo, headers: againCookie)
            let code = try #require(O.param(try O.location(resumed), "code"))
            #expect(try await Self.idTokenClaims(f, code: code)["acr"]?.string == "phr")
            // Essential: the same shortfall ends in access_denied with a description.
            let essential = #"{"id_token":{"acr":{"essential":true,"values":["phrh"]}}}"#
            let strict = try O.location(try await Self.authorize(f, ["claims": essential], cookie: weakCookie))
            #expect(strict.path == "/login" && O.param(strict, "acr") == "phrh")
            let (_, third) = try await h.services.sessions.start(tenantID: f.tenant.id, userID: f.user.id, amr: ["swk", "user"], acr: "phr")
            let denied = try O.location(
                try await h.request(
                    .get, try #require(O.param(strict, "return_to")),
                    headers: [.cookie: "__Host-sigil_session_default=\(third.value)"]))
            #expect(O.param(denied, "error") == "access_denied" && O.param(denied, "error_description")?.contains("acr") == true)
            // ... and with a sign-in that reaches it, a code reporting phrh.
            let (_, strong) = try await h.services.sessions.start(tenantID: f.tenant.id, userID: f.user.id, amr: ["hwk", "user"], acr: "phrh")
            let ok = try await h.request(.get, try #require(O.param(strict, "return_to")), headers: [.cookie: "__Host-sigil_session_default=\(strong.value)"])
            #expect(try await Self.idTokenClaims(f, code: try #require(O.param(try O.location(ok), "code")))["acr"]?.string == "phrh")
            // An essential value Sigil never produces: access_denied at once, without a sign-in.
            let never = #"{"id_token":{"acr":{"essential":true,"value":"urn:example:gold"}}}"#
            let refused = try O.location(try await Self.authorize(f, ["claims": never]))
            #expect(O.param(refused, "error") == "access_denied" && O.param(refused, "code") == nil)
            #expect(try await Self.auditActions(f).filter { $0 == "oauth.authorization_refused" }.count >= 3)
        }
    }

    @Test func aClientsDefaultACRValuesApplyWhenTheRequestNamesNone() async throws {
        try await Harness.run { h in
            let f = try await O.fixture(h) { $0.defaultACRValues = ["phrh"] }
            #expect(try await Self.idTokenClaims(f, code: try await O.code(f))["acr"]?.string == "phrh")
            let (_, weak) = try await h.services.sessions.start(tenantID: f.tenant.id, userID: f.user.id, amr: ["swk"], acr: "urn:sigil:acr:authenticator")
            let weakCookie: HTTPFields = [.cookie: "__Host-sigil_session_default=\(weak.value)"]
            let login = try O.location(try await Self.authorize(f, cookie: weakCookie))
            #expect(login.path == "/login" && O.param(login, "acr") == "phrh")
            // The request's own acr_values win over the defaults.
            let own = try O.location(try await Self.authorize(f, ["acr_values": "urn:sigil:acr:authenticator"], cookie: weakCookie))
            #expect(O.param(own, "code") != nil)
        }
    }

    @Test func liveIDIsAStepUpAPasskeySessionCannotSkip() async throws {
        try await Harness.run { h in
            let f = try await O.fixture(h) // the session is phrh
            // A passkey session (phrh) does not satisfy LiveID: the login page asks for the app.
            let login = try O.location(try await Self.authorize(f, ["acr_values": ACR.liveID, "max_age": "60"], cookie: f.cookieHeader))
            #expect(login.path == "/login" && O.param(login, "acr") == ACR.liveID && O.param(login, "prompt") == "login")
            let page = try await h.request(.get, login.path + "?" + (login.percentEncodedQuery ?? ""), headers: f.cookieHeader)
            #expect(page.text.contains(#"id="acr-note""#) && page.text.contains("face or fingerprint"))
            #expect(page.text.contains(#"id="authenticator""#) && page.text.contains(#"id="push-button""#))
            #expect(!page.text.contains(#"id="passkey-button""#) && page.text.contains(#"data-liveid="true""#))
            #expect(page.text.contains(#"value="\#(f.user.email)""#))
            // prompt=none: login_required.
            let none = try O.location(try await Self.authorize(f, ["acr_values": ACR.liveID, "prompt": "none"], cookie: f.cookieHeader))
            #expect(O.param(none, "error") == "login_required")
            let returnTo = try #require(O.param(login, "return_to"))
            // An approval with a PIN is the plain authenticator class: a voluntary request gets it.
            let pin = AuthenticatorService.methods(userVerification: "pin")
            let (_, pinSession) = try await h.services.sessions.start(tenantID: f.tenant.id, userID: f.user.id, amr: pin.amr, acr: pin.acr)
            let pinResumed = try await h.request(.get, returnTo, headers: [.cookie: "__Host-sigil_session_default=\(pinSession.value)"])
            let pinCode = try #require(O.param(try O.location(pinResumed), "code"))
            #expect(try await Self.idTokenClaims(f, code: pinCode)["acr"]?.string == ACR.authenticator)
            // The face: LiveID, with its methods and a fresh auth_time in both tokens.
            let face = AuthenticatorService.methods(userVerification: "face")
            #expect(face.acr == ACR.liveID && face.amr.contains("face"))
            let login2 = try O.location(try await Self.authorize(f, ["acr_values": ACR.liveID], cookie: f.cookieHeader))
            let (_, faceSession) = try await h.services.sessions.start(tenantID: f.tenant.id, userID: f.user.id, amr: face.amr, acr: face.acr)
            let faceCookie: HTTPFields = [.cookie: "__Host-sigil_session_default=\(faceSession.value)"]
            let returnTo2 = try #require(O.param(login2, "return_to"))
            let faceResumed = try await h.request(.get, returnTo2, headers: faceCookie)
            let code = try #require(O.param(try O.location(faceResumed), "code"))
            let claims = try await Self.idTokenClaims(f, code: code)
            #expect(claims["acr"]?.string == ACR.liveID && claims["amr"]?.array?.compactMap(\.string).contains("face") == true)
            // Signed in with LiveID, the same request needs no page; LiveID does not satisfy phr.
            #expect(O.param(try O.location(try await Self.authorize(f, ["acr_values": ACR.liveID], cookie: faceCookie)), "code") != nil)
            let phr = try O.location(try await Self.authorize(f, ["acr_values": "phr"], cookie: faceCookie))
            #expect(phr.path == "/login" && O.param(phr, "acr") == "phr")
            // Essential LiveID with a PIN sign-in: access_denied.
            let essential = #"{"id_token":{"acr":{"essential":true,"values":["urn:sigil:acr:liveid"]}}}"#
            let strict = try O.location(try await Self.authorize(f, ["claims": essential], cookie: f.cookieHeader))
            let (_, pin2) = try await h.services.sessions.start(tenantID: f.tenant.id, userID: f.user.id, amr: pin.amr, acr: pin.acr)
            let strictReturn = try #require(O.param(strict, "return_to"))
            let denied = try O.location(try await h.request(.get, strictReturn, headers: [.cookie: "__Host-sigil_session_default=\(pin2.value)"]))
            #expect(O.param(denied, "error") == "access_denied")
        }
    }
}
