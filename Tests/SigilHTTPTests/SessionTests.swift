import Foundation
import HTTPTypes
import SigilCore
import SigilSQLStore
import SigilServices
import SigilFlows
import SigilStore
import Testing

@Suite struct SessionTests {
    func setUp() async throws -> (SQLStore, ServiceSet, ManualClock, Tenant, User) {
        let store = try await SQLStore.sqlite(path: nil)
        try await store.migrate()
        let clock = ManualClock()
        let services = ServiceSet(context: ServiceContext(store: store, clock: clock, masterKey: try MasterKey(rawBytes: Array(repeating: 3, count: 32))))
        let tenant = try await services.tenants.ensureDefault()
        let user = try await services.users.create(tenantID: tenant.id, .init(email: "ada@example.com", givenName: "Ada", familyName: "L"), by: .cli)
        return (store, services, clock, tenant, user)
    }

    @Test func sessionsExpireWhenIdleAndAtTheirAbsoluteLimit() async throws {
        let (store, services, clock, tenant, user) = try await setUp()
        let policy = services.sessions.policy
        let (session, cookie) = try await services.sessions.start(tenantID: tenant.id, userID: user.id, amr: ["hwk"], acr: "phrh")
        #expect(session.authTime == clock.now())
        #expect(try await store.sessions.find(tokenHash: tokenHash(cookie.value))?.id == session.id)
        // Activity keeps it alive past the first idle deadline…
        for _ in 0..<3 {
            clock.advance(by: policy.idleTimeout - 10)
            #expect(try await services.sessions.resolve(cookie: cookie.value, tenantID: tenant.id)?.0.id == session.id)
        }
        // …but never past the absolute limit.
        clock.advance(by: policy.absoluteTimeout)
        #expect(try await services.sessions.resolve(cookie: cookie.value, tenantID: tenant.id) == nil)

        let (_, second) = try await services.sessions.start(tenantID: tenant.id, userID: user.id, amr: ["hwk"], acr: "phrh")
        clock.advance(by: policy.idleTimeout + 1)
        #expect(try await services.sessions.resolve(cookie: second.value, tenantID: tenant.id) == nil)
        try await store.close()
    }

    @Test func sessionsAreBoundToTheirTenantActiveUsersAndEndOnce() async throws {
        let (store, services, _, tenant, user) = try await setUp()
        let other = try await services.tenants.create(slug: "other", by: .cli)
        let (session, cookie) = try await services.sessions.start(tenantID: tenant.id, userID: user.id, amr: ["hwk"], acr: "phrh")
        #expect(try await services.sessions.resolve(cookie: cookie.value, tenantID: other.id) == nil)
        #expect(try await services.sessions.resolve(cookie: "sigil_ss_forged", tenantID: tenant.id) == nil)
        #expect(try await services.sessions.resolve(cookie: "not-a-session", tenantID: tenant.id) == nil)
        _ = try await services.users.update(tenantID: tenant.id, id: user.id, .init(status: .disabled), expectedVersion: nil, by: .cli)
        #expect(try await services.sessions.resolve(cookie: cookie.value, tenantID: tenant.id) == nil)
        _ = try await services.users.update(tenantID: tenant.id, id: user.id, .init(status: .active), expectedVersion: nil, by: .cli)
        #expect(try await services.sessions.resolve(cookie: cookie.value, tenantID: tenant.id) != nil)
        try await services.sessions.end(session)
        #expect(try await services.sessions.resolve(cookie: cookie.value, tenantID: tenant.id) == nil)
        await #expect(throws: StoreError.self) { try await services.sessions.end(session) }
        let events = try await store.audit.list(tenantID: tenant.id, page: PageRequest(limit: 50)).items.map(\.action)
        #expect(events.contains("session.started") && events.contains("session.ended"))
        try await store.close()
    }
}

@Suite struct SignInPageTests {
    @Test func pagesCarryAStrictPolicyAndRefuseForeignPosts() async throws {
        try await Harness.run { h in
            let login = try await h.request(.get, "/login")
            #expect(login.status == .ok)
            #expect(login.headers[.contentSecurityPolicy]?.contains("script-src 'self'") == true)
            #expect(login.headers[.contentSecurityPolicy]?.contains("'unsafe-inline'") == false)
            #expect(login.text.contains(#"autocomplete="username webauthn""#))
            #expect(!login.text.contains("<script>"))
            #expect(try await h.request(.get, "/assets/sigil.js").status == .ok)

            let origin = HTTPField.Name("Origin")!
            try await h.request(.post, "/login/passkey/options", json: "{}", headers: [origin: "https://evil.example"])
                .expectProblem(.forbidden, "cross-origin")
            try await h.request(.post, "/login/passkey/options", json: "{}").expectProblem(.forbidden, "cross-origin")
            let ok = try await h.request(.post, "/login/passkey/options", json: #"{"return_to":"https://evil.example/steal"}"#,
                                         headers: [origin: "https://id.example.com"])
            #expect(ok.status == .ok, "\(ok.text)")
            let body = try ok.json()
            let options = try #require(body["publicKey"] as? [String: Any])
            #expect(options["rpId"] as? String == "id.example.com")
            #expect(options["userVerification"] as? String == "required")
            #expect((options["challenge"] as? String).flatMap(Base64URL.decode)?.count == 32)
            // An open redirect is not stored: the return path falls back to the account page.
            let transaction = try await h.store.loginTransactions.get(tenantID: try await h.defaultTenant().id, id: try #require(body["transaction"] as? String))
            #expect(transaction.passkeyCeremony?.purpose == .signIn(returnTo: "/account"))

            // Unknown or garbage ceremonies fail cleanly.
            try await h.request(.post, "/login/passkey/verify", json: #"{"transaction":"ltx_nope","credential":{"id":"AA","rawId":"AA","type":"public-key","response":{"clientDataJSON":"e30","authenticatorData":"AA","signature":"AA"}}}"#,
                                headers: [origin: "https://id.example.com"]).expectProblem(.unprocessableContent)
            try await h.request(.post, "/login/passkey/verify", json: #"{"transaction":"x"}"#, headers: [origin: "https://id.example.com"])
                .expectProblem(.badRequest, "invalid-field-type")

            // Enrolment links: unknown tokens get a page that says so.
            let bad = try await h.request(.get, "/enroll/sigil_en_unknown")
            #expect(bad.status == .notFound)
            #expect(bad.text.contains("invalid, used or expired"))
            // /account without a session goes to /login.
            let account = try await h.request(.get, "/account")
            #expect(account.status == .seeOther)
            #expect(account.headers[.location] == "/login?return_to=/account")
        }
    }
}
