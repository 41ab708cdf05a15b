import Foundation
import SigilCore
import SigilSQLStore
import SigilStore
import SigilTestSupport
import Testing

/// Conformance for the relying parties of a session (logout propagation).
@Suite("Store conformance: session participants")
struct SessionParticipantConformanceTests {
    let f = Fixtures()

    func session(_ user: User, _ token: String, lifetime: TimeInterval = 3600) -> Session {
        let now = f.clock.now()
        return Session(
            id: f.ids.make(.session), tenantID: user.tenantID, userID: user.id, tokenHash: tokenHash(token), createdAt: now,
            lastSeenAt: now, idleExpiresAt: now.addingTimeInterval(lifetime), absoluteExpiresAt: now.addingTimeInterval(lifetime),
            authTime: now, amr: ["hwk"], acr: "urn:sigil:acr:passkey")
    }

    @Test(arguments: Backend.enabled)
    func recordListUpsertDelete(_ backend: Backend) async throws {
        try await withFreshStore(backend) { (store: SQLStore) async throws in
            let acme = try await store.tenants.create(f.tenant("acme"))
            let other = try await store.tenants.create(f.tenant("other"))
            let ada = try await store.users.create(f.user(acme, "ada@example.com"))
            let s1 = try await store.sessions.create(session(ada, "one"))
            let s2 = try await store.sessions.create(session(ada, "two"))
            let sp = try await store.applications.create(f.samlApp(acme, entityID: "https://sp.example/metadata"))
            let rp = try await store.applications.create(f.oidcApp(acme))
            let now = f.clock.now()
            let saml = SessionParticipant(
                tenantID: acme.id, sessionID: s1.id, applicationID: sp.id, protocolKind: .saml,
                nameID: "ada@example.com", nameIDFormat: "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
                sessionIndex: "_idx1", createdAt: now)
            let oidc = SessionParticipant(
                tenantID: acme.id, sessionID: s1.id, applicationID: rp.id, protocolKind: .oidc,
                subject: ada.id, sid: s1.id, createdAt: now.addingTimeInterval(1))
            try await store.sessionParticipants.record(saml)
            try await store.sessionParticipants.record(oidc)
            try await store.sessionParticipants.record(
                SessionParticipant(
                    tenantID: acme.id, sessionID: s2.id, applicationID: sp.id,
                    protocolKind: .saml, nameID: "x", sessionIndex: "_idx2", createdAt: now))
            #expect(try await store.sessionParticipants.list(tenantID: acme.id, sessionID: s1.id) == [saml, oidc])
            // Another tenant sees nothing, and cannot attach to this tenant's session.
            #expect(try await store.sessionParticipants.list(tenantID: other.id, sessionID: s1.id).isEmpty)
            await #expect(throws: StoreError.notFound("session")) {
                try await store.sessionParticipants.record(
                    SessionParticipant(
                        tenantID: other.id, sessionID: s1.id, applicationID: sp.id,
                        protocolKind: .saml, createdAt: now))
            }
            // A second SSO to the same SP refreshes its row (one row per session and application).
            var again = saml
            again.sessionIndex = "_idx1b"
            again.createdAt = now.addingTimeInterval(5)
            try await store.sessionParticipants.record(again)
            let rows = try await store.sessionParticipants.list(tenantID: acme.id, sessionID: s1.id)
            #expect(rows.count == 2)
            #expect(rows.first { $0.applicationID == sp.id }?.sessionIndex == "_idx1b")
            #expect(rows.first { $0.applicationID == sp.id }?.createdAt == now)
            // Unknown session or application.
            await #expect(throws: StoreError.self) {
                try await store.sessionParticipants.record(
                    SessionParticipant(
                        tenantID: acme.id, sessionID: "ses_missing", applicationID: sp.id,
                        protocolKind: .saml, createdAt: now))
            }
            await #expect(throws: StoreError.self) {
                try await store.sessionParticipants.record(
                    SessionParticipant(
                        tenantID: acme.id, sessionID: s1.id, applicationID: "app_missing",
                        protocolKind: .oidc, createdAt: now))
            }
            #expect(try await store.sessionParticipants.delete(tenantID: acme.id, sessionID: s1.id, applicationID: rp.id))
            #expect(try await !store.sessionParticipants.delete(tenantID: acme.id, sessionID: s1.id, applicationID: rp.id))
            #expect(try await store.sessionParticipants.deleteAll(tenantID: acme.id, sessionID: s1.id) == 1)
            #expect(try await store.sessionParticipants.list(tenantID: acme.id, sessionID: s1.id).isEmpty)
            #expect(try await store.sessionParticipants.list(tenantID: acme.id, sessionID: s2.id).count == 1)
        }
    }

    @Test(arguments: Backend.enabled)
    func goWithTheirSession(_ backend: Backend) async throws {
        try await withFreshStore(backend) { (store: SQLStore) async throws in
            let acme = try await store.tenants.create(f.tenant("acme"))
            let ada = try await store.users.create(f.user(acme, "ada@example.com"))
            let live = try await store.sessions.create(session(ada, "live", lifetime: 7200))
            let short = try await store.sessions.create(session(ada, "short", lifetime: 60))
            let revoked = try await store.sessions.create(session(ada, "revoked", lifetime: 7200))
            let sp = try await store.applications.create(f.samlApp(acme, entityID: "https://sp.example/metadata"))
            let rp = try await store.applications.create(f.oidcApp(acme))
            let now = f.clock.now()
            for s in [live, short, revoked] {
                try await store.sessionParticipants.record(
                    SessionParticipant(
                        tenantID: acme.id, sessionID: s.id, applicationID: sp.id,
                        protocolKind: .saml, sessionIndex: "_i", createdAt: now))
            }
            try await store.sessionParticipants.record(
                SessionParticipant(
                    tenantID: acme.id, sessionID: live.id, applicationID: rp.id,
                    protocolKind: .oidc, subject: ada.id, sid: live.id, createdAt: now))
            try await store.sessions.revoke(id: revoked.id, at: now)
            // The sweep: the short and the revoked sessions' rows go; the live session keeps both.
            #expect(try await store.sessionParticipants.deleteExpired(now: now.addingTimeInterval(120)) == 2)
            #expect(try await store.sessionParticipants.list(tenantID: acme.id, sessionID: live.id).count == 2)
            // Deleting the session row (or the application) takes its participants with it.
            _ = try await store.applications.delete(tenantID: acme.id, id: rp.id, expectedVersion: nil)
            #expect(try await store.sessionParticipants.list(tenantID: acme.id, sessionID: live.id).map(\.applicationID) == [sp.id])
            try await store.sessions.revoke(id: live.id, at: now)
            _ = try await store.sessions.deleteExpired(now: now)
            #expect(try await store.sessionParticipants.list(tenantID: acme.id, sessionID: live.id).isEmpty)
        }
    }
}
