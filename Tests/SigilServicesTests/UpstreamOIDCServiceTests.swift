import Foundation
import SigilCore
import SigilJOSE
import SigilOAuth
import SigilServices
import SigilStore
import SigilTestSupport
import Synchronization
import Testing

/// Sign-in through an upstream OpenID Provider, through the service on both backends, against an
/// in-process provider behind the outbound fetcher: discovery, JWKS and the token endpoint (which
/// checks PKCE and client authentication as a provider must). The interop suite repeats this with
/// a real provider (scripts/interop-oidc-upstream.sh).
@Suite struct UpstreamOIDCServiceTests {
    static let issuer = "https://op.example"

    /// What the fake provider should get wrong in its next ID token.
    enum Flaw: Sendable { case none, audience, nonce, expired, issuer, unknownKey, emailUnverified }

    final class FakeProvider: RemoteDocumentFetcher, Sendable {
        struct Grant: Sendable { var nonce: String; var challenge: String; var redirectURI: String }
        struct State: Sendable {
            var grants: [String: Grant] = [:]
            var flaw: Flaw = .none
            var sigilJWKS: JWKSet?
            var lastClientAuth: String = ""
            var lastIDToken: String = ""
            var sid = "op-session-1"
        }
        let key: SigningKeyMaterial
        let other: SigningKeyMaterial
        let clientSecret = "op-secret"
        let state = Mutex(State())
        let clock: ManualClock

        init(clock: ManualClock) throws {
            self.clock = clock
            key = try SigningKeyMaterial.generate(.rs256)
            other = try SigningKeyMaterial.generate(.rs256)
        }

        func set(_ flaw: Flaw) { state.withLock { $0.flaw = flaw } }

        /// The user signs in at the provider: a code for the authorization request `url`.
        func authorize(_ url: String) -> [String: String] {
            let query = Dictionary(
                uniqueKeysWithValues: (URLComponents(string: url)?.queryItems ?? []).map { ($0.name, $0.value ?? "") })
            let code = "code-" + UUID().uuidString
            state.withLock {
                $0.grants[code] = Grant(nonce: query["nonce"] ?? "", challenge: query["code_challenge"] ?? "", redirectURI: query["redirect_uri"] ?? "")
            }
            return ["code": code, "state": query["state"] ?? "", "iss": UpstreamOIDCServiceTests.issuer]
        }

        func fetch(_ url: URL, accept: String, maxBytes: Int, policy: OutboundPolicy) async throws -> RemoteDocument {
            let issuer = UpstreamOIDCServiceTests.issuer
            switch url.absoluteString {
            case issuer + "/.well-known/openid-configuration":
                let doc: JSONValue = .object([
                    "issuer": .string(issuer), "authorization_endpoint": .string(issuer + "/authorize"), "token_endpoint": .string(issuer + "/token"),
                    "jwks_uri": .string(issuer + "/jwks"), "response_types_supported": .strings(["code"]),
                    "token_endpoint_auth_methods_supported": .strings(["client_secret_basic", "private_key_jwt"]),
                    "code_challenge_methods_supported": .strings(["S256"]), "authorization_response_iss_parameter_supported": .bool(true),
                    "end_session_endpoint": .string(issuer + "/logout"), "backchannel_logout_supported": .bool(true),
                    "backchannel_logout_session_supported": .bool(true),
                ])
                return RemoteDocument(body: try doc.serialized())
            case issuer + "/jwks":
                return RemoteDocument(body: try JSONEncoder().encode(JWKSet(keys: [key.publicJWK])).map { $0 })
            default:
                throw RemoteFetchError.status(404)
            }
        }

        func send(_ request: OutboundRequest, maxBytes: Int, policy: OutboundPolicy) async throws -> OutboundResponse {
            guard request.url.absoluteString == UpstreamOIDCServiceTests.issuer + "/token", let body = request.body else {
                return OutboundResponse(status: 404, body: [])
            }
            let form = Dictionary(
                uniqueKeysWithValues: (URLComponents(string: "?" + String(decoding: body, as: UTF8.self))?.queryItems ?? []).map {
                    ($0.name, $0.value ?? "")
                })
            func error(_ code: String) -> OutboundResponse { OutboundResponse(status: 400, body: Array("{\"error\":\"\(code)\"}".utf8)) }
            // Client authentication: basic with the secret, or a client assertion by Sigil's published key for this endpoint (OIDC Core §9).
            if let assertion = form["client_assertion"] {
                guard let jwks = state.withLock({ $0.sigilJWKS }), let parsed = try? JWS.parse(assertion), JWS.verify(parsed, with: jwks),
                    parsed.payload["aud"]?.string == UpstreamOIDCServiceTests.issuer + "/token", parsed.payload["iss"]?.string == "sigil-client"
                else { return error("invalid_client") }
                state.withLock { $0.lastClientAuth = "private_key_jwt" }
            } else {
                let expected = "Basic " + Data("sigil-client:\(clientSecret)".utf8).base64EncodedString()
                guard request.headers.contains(where: { $0.0 == "authorization" && $0.1 == expected }) else { return error("invalid_client") }
                state.withLock { $0.lastClientAuth = "client_secret_basic" }
            }
            // One-time code, bound to its PKCE challenge and redirect URI.
            guard let code = form["code"], let grant = state.withLock({ $0.grants.removeValue(forKey: code) }) else { return error("invalid_grant") }
            guard let verifier = form["code_verifier"], PKCE.verify(verifier: verifier, challenge: grant.challenge), form["redirect_uri"] == grant.redirectURI
            else { return error("invalid_grant") }
            let flaw = state.withLock { $0.flaw }
            let now = Int64(clock.now().timeIntervalSince1970)
            var claims: [String: JSONValue] = [
                "iss": .string(flaw == .issuer ? "https://evil.example" : UpstreamOIDCServiceTests.issuer),
                "aud": .string(flaw == .audience ? "someone-else" : "sigil-client"), "sub": .string("op-user-42"),
                "iat": .int(now), "exp": .int(flaw == .expired ? now - 600 : now + 300), "nonce": .string(flaw == .nonce ? "other" : grant.nonce),
                "email": .string("ada@example.org"), "given_name": .string("Ada"), "family_name": .string("Lovelace"),
                "amr": .strings(["pwd", "mfa"]), "sid": .string(state.withLock { $0.sid }),
            ]
            if flaw == .emailUnverified { claims["email_verified"] = .bool(false) }
            let idToken = try JWS.sign(payload: claims, key: flaw == .unknownKey ? other : key)
            state.withLock { $0.lastIDToken = idToken }
            let response: JSONValue = .object(["id_token": .string(idToken), "access_token": .string("at"), "token_type": .string("Bearer")])
            return OutboundResponse(status: 200, body: try response.serialized())
        }
    }

    /// A logout token as the provider would send it (Back-Channel Logout 1.0 §2.4), with `changes` applied (`.null` removes a claim).
    func logoutToken(_ op: FakeProvider, _ changes: [String: JSONValue] = [:], key: SigningKeyMaterial? = nil, type: String = "logout+jwt")
        throws -> String
    {
        let now = Int64(op.clock.now().timeIntervalSince1970)
        var claims: [String: JSONValue] = [
            "iss": .string(Self.issuer), "aud": .string("sigil-client"), "iat": .int(now), "exp": .int(now + 120), "jti": .string(UUID().uuidString),
            "sub": .string("op-user-42"), "sid": .string("op-session-1"),
            "events": .object([UpstreamOIDC.backChannelLogoutEvent: .object([:])]),
        ]
        for (k, v) in changes { claims[k] = v == .null ? nil : v }
        return try JWS.sign(payload: claims, key: key ?? op.key, type: type)
    }

    func reason(_ body: () async throws -> Void) async -> String? {
        do { try await body() } catch let r as UpstreamService.Rejected { return r.reason } catch { return "other: \(error)" }
        return nil
    }

    func withProvider(_ backend: Backend, method: String = "client_secret_basic", _ body: (ServiceHarness, FakeProvider) async throws -> Void)
        async throws
    {
        let clock = ManualClock(ServiceHarness.start)
        let op = try FakeProvider(clock: clock)
        let h = try await ServiceHarness.open(backend, seed: "oidc-\(method)", fetcher: op)
        do {
            _ = try await h.services.upstreams.createOIDC(
                tenantID: h.tenant.id,
                .init(
                    name: "op", displayName: "Acme OP", issuer: Self.issuer, clientID: "sigil-client",
                    clientSecret: method == "private_key_jwt" ? nil : op.clientSecret, authMethod: method),
                by: .cli)
            let jwks = try JSONDecoder().decode(JWKSet.self, from: Data(try await h.services.upstreams.clientJWKS(tenantID: h.tenant.id, name: "op")))
            op.state.withLock { $0.sigilJWKS = jwks }
            try await body(h, op)
        } catch {
            try? await h.close()
            throw error
        }
        try await h.close()
    }

    func begin(_ h: ServiceHarness, browser: String) async throws -> String {
        let out = try await h.services.upstreams.begin(
            tenantID: h.tenant.id, issuer: ServiceHarness.issuer, name: "op", returnTo: "/account", browserHash: tokenHash(browser))
        guard case .redirect(let url) = out else { throw SigilError(.internalFailure, "not a redirect") }
        #expect(url.hasPrefix(Self.issuer + "/authorize?response_type=code&client_id=sigil-client"))
        #expect(
            url.contains("code_challenge_method=S256") && url.contains("nonce=")
                && url.contains("redirect_uri=https%3A%2F%2Fid.example.com%2Foidc%2Frp%2Fop%2Fcallback"))
        return url
    }

    @Test(arguments: Backend.enabled) func signInThroughTheProvider(_ backend: Backend) async throws {
        for method in ["client_secret_basic", "private_key_jwt"] {
            try await withProvider(backend, method: method) { h, op in
                let up = h.services.upstreams
                let response = op.authorize(try await begin(h, browser: "b"))
                let accepted = try await up.callback(tenantID: h.tenant.id, issuer: ServiceHarness.issuer, name: "op", query: response)
                #expect(op.state.withLock { $0.lastClientAuth } == method)
                // The same response again: the state is spent (and the code too, at the provider).
                #expect(
                    await reason { _ = try await up.callback(tenantID: h.tenant.id, issuer: ServiceHarness.issuer, name: "op", query: response) } == "replayed")
                let signedIn = try await up.continueSignIn(
                    tenantID: h.tenant.id, name: "op", flowID: accepted.flowID, key: accepted.key, browserHash: tokenHash("b"))
                #expect(signedIn.user.email == "ada@example.org" && signedIn.user.givenName == "Ada" && signedIn.session.amr == ["fed", "mfa"])
                // Again: the link (connection, sub) finds the same user.
                let again = try await up.callback(
                    tenantID: h.tenant.id, issuer: ServiceHarness.issuer, name: "op", query: op.authorize(try await begin(h, browser: "b")))
                let second = try await up.continueSignIn(tenantID: h.tenant.id, name: "op", flowID: again.flowID, key: again.key, browserHash: tokenHash("b"))
                #expect(second.user.id == signedIn.user.id)
                #expect(try await h.store.users.list(tenantID: h.tenant.id, page: PageRequest(limit: 10)).items.count == 1)
            }
        }
    }

    /// RP-Initiated Logout: Sigil's sign-out ends at the provider's end_session_endpoint with the
    /// provider's own ID token as the hint, and finishes once when the browser comes back.
    @Test(arguments: Backend.enabled) func signOutContinuesAtTheProvider(_ backend: Backend) async throws {
        try await withProvider(backend) { h, op in
            let up = h.services.upstreams
            let accepted = try await up.callback(
                tenantID: h.tenant.id, issuer: ServiceHarness.issuer, name: "op", query: op.authorize(try await begin(h, browser: "b")))
            let issued = op.state.withLock { $0.lastIDToken }
            let signedIn = try await up.continueSignIn(
                tenantID: h.tenant.id, name: "op", flowID: accepted.flowID, key: accepted.key, browserHash: tokenHash("b"))
            let held = try #require(try await h.store.upstreams.session(tenantID: h.tenant.id, sessionID: signedIn.session.id))
            #expect(held.sessionIndex == "op-session-1" && held.sealedIDToken != nil && held.sealedIDToken != issued)

            let outcome = try await up.signOut(signedIn.session, tenantID: h.tenant.id, issuer: ServiceHarness.issuer, reason: "sign-out", finish: "/login")
            guard case .redirect(let start) = outcome, start.hasPrefix("/oidc/rp/op/logout/start?flow=") else {
                Issue.record("expected the hop to the provider, got \(outcome)")
                return
            }
            #expect(try await h.store.sessions.listActive(tenantID: h.tenant.id, userID: signedIn.user.id, now: h.clock.now()).isEmpty)
            let flow = String(start.split(separator: "=", maxSplits: 1)[1])
            let step = try await up.startOIDCLogout(tenantID: h.tenant.id, issuer: ServiceHarness.issuer, name: "op", flowID: flow)
            guard case .redirect(let url) = step else {
                Issue.record("expected a redirect to the provider, got \(step)")
                return
            }
            let query = Dictionary(uniqueKeysWithValues: (URLComponents(string: url)?.queryItems ?? []).map { ($0.name, $0.value ?? "") })
            #expect(url.hasPrefix(Self.issuer + "/logout?"))
            #expect(query["id_token_hint"] == issued && query["client_id"] == "sigil-client" && query["state"] == flow)
            #expect(query["post_logout_redirect_uri"] == ServiceHarness.issuer + "/oidc/rp/op/logged-out")
            // The start step once: a second visit finishes without going to the provider again.
            guard case .finish = try await up.startOIDCLogout(tenantID: h.tenant.id, issuer: ServiceHarness.issuer, name: "op", flowID: flow) else {
                Issue.record("a second start must not redirect again")
                return
            }
            // Back from the provider: the sign-out finishes where it was going, once.
            guard case .finish(let target) = try await up.finishOIDCLogout(tenantID: h.tenant.id, name: "op", state: flow) else {
                Issue.record("expected the finish")
                return
            }
            #expect(target == "/login")
            #expect(await reason { _ = try await up.finishOIDCLogout(tenantID: h.tenant.id, name: "op", state: flow) } == "replayed")
            #expect(await reason { _ = try await up.finishOIDCLogout(tenantID: h.tenant.id, name: "op", state: "upolo_forged") } == "unknownFlow")
            #expect(await reason { _ = try await up.finishOIDCLogout(tenantID: h.tenant.id, name: "op", state: nil) } == "unknownFlow")
            let actions = try await h.auditActions()
            #expect(actions.contains("upstream.oidc.logout_started") && actions.contains("upstream.oidc.logout_completed"))
        }
    }

    /// Back-Channel Logout: a valid logout token ends the sessions of that provider session;
    /// every malformed, misaddressed or replayed one is refused and ends nothing.
    @Test(arguments: Backend.enabled) func backChannelLogoutTokens(_ backend: Backend) async throws {
        try await withProvider(backend) { h, op in
            let up = h.services.upstreams
            func signIn(sid: String) async throws -> UpstreamService.SignedIn {
                op.state.withLock { $0.sid = sid }
                let accepted = try await up.callback(
                    tenantID: h.tenant.id, issuer: ServiceHarness.issuer, name: "op", query: op.authorize(try await begin(h, browser: "b")))
                return try await up.continueSignIn(tenantID: h.tenant.id, name: "op", flowID: accepted.flowID, key: accepted.key, browserHash: tokenHash("b"))
            }
            let first = try await signIn(sid: "op-session-1")
            let second = try await signIn(sid: "op-session-2")
            func active() async throws -> Set<String> {
                Set(try await h.store.sessions.listActive(tenantID: h.tenant.id, userID: first.user.id, now: h.clock.now()).map(\.id))
            }
            func deliver(_ token: String?) async -> String? {
                await reason { _ = try await up.backChannelLogout(tenantID: h.tenant.id, issuer: ServiceHarness.issuer, name: "op", logoutToken: token) }
            }
            let now = Int64(h.clock.now().timeIntervalSince1970)
            let cases: [(String, String?, String)] = [
                ("no token", nil, "malformed"),
                ("not a JWT", "abc.def", "malformed"),
                ("another key", try logoutToken(op, key: op.other), "signatureInvalid"),
                ("wrong issuer", try logoutToken(op, ["iss": .string("https://evil.example")]), "wrongIssuer"),
                ("wrong audience", try logoutToken(op, ["aud": .string("someone-else")]), "wrongAudience"),
                ("no iat", try logoutToken(op, ["iat": .null]), "malformed"),
                ("stale iat", try logoutToken(op, ["iat": .int(now - 3600), "exp": .null]), "expired"),
                ("future iat", try logoutToken(op, ["iat": .int(now + 3600)]), "notYetValid"),
                ("expired", try logoutToken(op, ["exp": .int(now - 600)]), "expired"),
                ("no jti", try logoutToken(op, ["jti": .null]), "malformed"),
                ("no events", try logoutToken(op, ["events": .null]), "malformed"),
                ("another event", try logoutToken(op, ["events": .object(["urn:other": .object([:])])]), "malformed"),
                ("event not an object", try logoutToken(op, ["events": .object([UpstreamOIDC.backChannelLogoutEvent: .string("x")])]), "malformed"),
                ("a nonce (an ID token)", try logoutToken(op, ["nonce": .string("n")]), "malformed"),
                ("neither sub nor sid", try logoutToken(op, ["sub": .null, "sid": .null]), "malformed"),
                // An unusable sid is refused, not dropped (dropping it would end every session of the sub).
                ("sid too long", try logoutToken(op, ["sid": .string(String(repeating: "s", count: 1025))]), "malformed"),
                ("sid not a string", try logoutToken(op, ["sid": .int(1)]), "malformed"),
                ("sub empty", try logoutToken(op, ["sub": .string("")]), "malformed"),
                ("typ at+jwt", try logoutToken(op, type: "at+jwt"), "malformed"),
                ("an ID token", op.state.withLock { $0.lastIDToken }, "malformed"),
            ]
            for (name, token, expected) in cases {
                #expect(await deliver(token) == expected, "\(name)")
            }
            #expect(try await active() == [first.session.id, second.session.id])

            // sid: only that provider session's Sigil session ends.
            let valid = try logoutToken(op, ["sid": .string("op-session-1")])
            #expect(try await up.backChannelLogout(tenantID: h.tenant.id, issuer: ServiceHarness.issuer, name: "op", logoutToken: valid) == 1)
            #expect(try await active() == [second.session.id])
            #expect(await deliver(valid) == "replayed")
            // A sid with no session: accepted, nothing ends. sub alone: every session of that user from this connection.
            #expect(
                try await up.backChannelLogout(
                    tenantID: h.tenant.id, issuer: ServiceHarness.issuer, name: "op", logoutToken: try logoutToken(op, ["sid": .string("gone")])) == 0)
            #expect(
                try await up.backChannelLogout(
                    tenantID: h.tenant.id, issuer: ServiceHarness.issuer, name: "op", logoutToken: try logoutToken(op, ["sid": .null])) == 1)
            #expect(try await active().isEmpty)
            let actions = try await h.auditActions()
            #expect(actions.filter { $0 == "upstream.oidc.logout_rejected" }.count == cases.count + 1)
            #expect(actions.filter { $0 == "upstream.oidc.logout_received" }.count == 3)
        }
    }

    @Test(arguments: Backend.enabled) func badResponsesAndTokensAreRefused(_ backend: Backend) async throws {
        try await withProvider(backend) { h, op in
            let up = h.services.upstreams
            func callback(_ query: [String: String]) async -> String? {
                await reason { _ = try await up.callback(tenantID: h.tenant.id, issuer: ServiceHarness.issuer, name: "op", query: query) }
            }
            // Unknown state, an error from the provider, a mix-up (iss of another provider).
            var good = op.authorize(try await begin(h, browser: "b"))
            #expect(await callback(good.merging(["state": "forged"]) { _, b in b }) == "invalidState")
            #expect(await callback(["state": good["state"]!, "error": "access_denied", "iss": Self.issuer]) == "accessDenied")
            good = op.authorize(try await begin(h, browser: "b"))
            #expect(await callback(good.merging(["iss": "https://evil.example"]) { _, b in b }) == "mixUp")
            var noIss = op.authorize(try await begin(h, browser: "b"))
            noIss["iss"] = nil
            #expect(await callback(noIss) == "mixUp")
            // ID tokens the provider gets wrong.
            for (flaw, expected) in [
                (Flaw.audience, "wrongAudience"), (.nonce, "badNonce"), (.expired, "expired"), (.issuer, "wrongIssuer"),
                (.unknownKey, "signatureInvalid"), (.emailUnverified, "emailUnverified"),
            ] {
                op.set(flaw)
                #expect(await callback(op.authorize(try await begin(h, browser: "b"))) == expected, "\(flaw)")
            }
            op.set(.none)
            // Login CSRF: the response completed in another browser.
            let accepted = try await up.callback(
                tenantID: h.tenant.id, issuer: ServiceHarness.issuer, name: "op", query: op.authorize(try await begin(h, browser: "attacker")))
            #expect(
                await reason {
                    _ = try await up.continueSignIn(
                        tenantID: h.tenant.id, name: "op", flowID: accepted.flowID, key: accepted.key, browserHash: tokenHash("victim"))
                } == "otherBrowser")
            #expect(try await h.store.users.list(tenantID: h.tenant.id, page: PageRequest(limit: 10)).items.isEmpty)
            let actions = try await h.auditActions()
            #expect(actions.filter { $0 == "upstream.oidc.rejected" }.count >= 10)
        }
    }
}
