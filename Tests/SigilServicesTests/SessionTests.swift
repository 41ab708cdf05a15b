import Foundation
import SigilCore
import SigilServices
import SigilStore
import SigilTestSupport
import Testing

/// Browser sessions (`SessionService`): idle and absolute limits, tenant and user binding, one end.
@Suite struct SessionTests {
    @Test(arguments: Backend.enabled) func sessionsExpireWhenIdleAndAtTheirAbsoluteLimit(_ backend: Backend) async throws {
        try await withServices(backend) { h in
            let store = h.store
            let services = h.services
            let clock = h.clock
            let tenant = h.tenant
            let user = try await h.user("ada@example.com", given: "Ada", family: "L")
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
        }
    }

    @Test(arguments: Backend.enabled) func sessionsAreBoundToTheirTenantActiveUsersAndEndOnce(_ backend: Backend) async throws {
        try await withServices(backend) { h in
            let store = h.store
            let services = h.services
            let tenant = h.tenant
            let user = try await h.user("ada@example.com", given: "Ada", family: "L")
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
        }
    }

    /// A second sign-in of the same user in the same browser (a step-up, `prompt=login`, `max_age`)
    /// re-authenticates the session in place: same id, new cookie, new auth_time/amr/acr; the old
    /// cookie stops working; ending the session then ends everything issued under it.
    @Test(arguments: Backend.enabled) func aSecondSignInOfTheSameUserUpgradesTheSession(_ backend: Backend) async throws {
        try await withServices(backend) { h in
            let services = h.services
            let tenant = h.tenant
            let user = try await h.user("ada@example.com", given: "Ada", family: "L")
            let other = try await h.user("bob@example.com", given: "Bob", family: "M")
            let (first, firstCookie) = try await services.sessions.start(tenantID: tenant.id, userID: user.id, amr: ["hwk", "user"], acr: "phrh")
            h.clock.advance(by: 60)
            let (upgraded, cookie) = try await services.sessions.start(
                tenantID: tenant.id, userID: user.id, amr: ["swk", "face", "user", "mca", "mfa"], acr: "urn:sigil:acr:liveid", replacing: first)
            #expect(upgraded.id == first.id && upgraded.authTime == h.clock.now() && upgraded.acr == "urn:sigil:acr:liveid")
            #expect(upgraded.amr.contains("face") && upgraded.absoluteExpiresAt == first.absoluteExpiresAt)
            #expect(try await services.sessions.resolve(cookie: firstCookie.value, tenantID: tenant.id) == nil)
            #expect(try await services.sessions.resolve(cookie: cookie.value, tenantID: tenant.id)?.0.id == first.id)
            let audit = try await h.store.audit.list(tenantID: tenant.id, page: PageRequest(limit: 20)).items
            #expect(audit.contains { $0.action == "session.reauthenticated" && $0.targetID == first.id && $0.after?["acr"] == "urn:sigil:acr:liveid" })
            // Another user, or a session that ended meanwhile: a new session.
            let (bobs, _) = try await services.sessions.start(tenantID: tenant.id, userID: other.id, amr: ["hwk"], acr: "phrh", replacing: upgraded)
            #expect(bobs.id != first.id)
            try await services.oauth.endSession(upgraded, reason: "test")
            let (fresh, _) = try await services.sessions.start(tenantID: tenant.id, userID: user.id, amr: ["hwk"], acr: "phrh", replacing: upgraded)
            #expect(fresh.id != first.id)
        }
    }
}
