import Foundation
import SigilCore
import SigilSQLStore
import SigilStore
import SigilTestSupport
import Testing

/// Conformance for the durable back-channel logout queue (migration 7).
@Suite("Store conformance: logout deliveries")
struct LogoutDeliveryConformanceTests {
    let f = Fixtures()

    func delivery(_ app: Application, due: Date, session: String = "ses_x") -> LogoutDelivery {
        LogoutDelivery(
            id: f.ids.make(.logoutDelivery), tenantID: app.tenantID, applicationID: app.id, sessionID: session,
            subject: "usr_1", sid: session, issuer: "https://id.example.com", nextAttemptAt: due, createdAt: f.clock.now())
    }

    @Test(arguments: Backend.enabled)
    func claimRescheduleComplete(_ backend: Backend) async throws {
        try await withFreshStore(backend) { (store: SQLStore) async throws in
            let acme = try await store.tenants.create(f.tenant("acme"))
            let other = try await store.tenants.create(f.tenant("other"))
            let rp = try await store.applications.create(f.oidcApp(acme))
            let otherRP = try await store.applications.create(f.oidcApp(other))
            let now = f.clock.now()
            let due = delivery(rp, due: now)
            let later = delivery(rp, due: now.addingTimeInterval(60))
            let elsewhere = delivery(otherRP, due: now)
            for d in [due, later, elsewhere] { try await store.logoutDeliveries.enqueue(d) }
            // An application of another tenant cannot be named.
            var wrong = delivery(otherRP, due: now)
            wrong.tenantID = acme.id
            await #expect(throws: StoreError.self) { try await store.logoutDeliveries.enqueue(wrong) }
            #expect(Set(try await store.logoutDeliveries.list(tenantID: acme.id).map(\.id)) == [due.id, later.id])

            // Only due rows of the tenant asked for, leased.
            let lease = now.addingTimeInterval(120)
            let claimed = try await store.logoutDeliveries.claimDue(tenantID: acme.id, now: now, leaseUntil: lease, limit: 10)
            #expect(claimed.map(\.id) == [due.id])
            #expect(claimed.first?.claimedUntil == lease && claimed.first?.subject == "usr_1" && claimed.first?.issuer == "https://id.example.com")
            // A held row is not handed out again until its lease runs out.
            #expect(try await store.logoutDeliveries.claimDue(tenantID: acme.id, now: now, leaseUntil: lease, limit: 10).isEmpty)
            let afterLease = try await store.logoutDeliveries.claimDue(tenantID: nil, now: lease, leaseUntil: lease.addingTimeInterval(120), limit: 10)
            #expect(Set(afterLease.map(\.id)) == [due.id, later.id, elsewhere.id])

            // Rescheduling records the round and releases the claim.
            try await store.logoutDeliveries.reschedule(id: due.id, rounds: 1, nextAttemptAt: lease.addingTimeInterval(600))
            let row = try #require(try await store.logoutDeliveries.list(tenantID: acme.id).first { $0.id == due.id })
            #expect(row.rounds == 1 && row.claimedUntil == nil && row.nextAttemptAt == lease.addingTimeInterval(600))
            await #expect(throws: StoreError.self) { try await store.logoutDeliveries.reschedule(id: "bcl_missing", rounds: 1, nextAttemptAt: now) }

            try await store.logoutDeliveries.complete(id: later.id)
            #expect(try await store.logoutDeliveries.list(tenantID: acme.id).map(\.id) == [due.id])
            // Deleting the application drops what was owed to it.
            _ = try await store.applications.delete(tenantID: acme.id, id: rp.id, expectedVersion: nil)
            #expect(try await store.logoutDeliveries.list(tenantID: acme.id).isEmpty)
            #expect(try await store.logoutDeliveries.list(tenantID: other.id).map(\.id) == [elsewhere.id])
        }
    }

    /// Nodes claiming at the same time never get the same row (PostgreSQL runs the claims on
    /// separate pooled connections; SQLite serialises them).
    @Test(arguments: Backend.enabled)
    func concurrentClaimsNeverOverlap(_ backend: Backend) async throws {
        try await withFreshStore(backend) { (store: SQLStore) async throws in
            let acme = try await store.tenants.create(f.tenant("acme"))
            let rp = try await store.applications.create(f.oidcApp(acme))
            let now = f.clock.now()
            var all: Set<String> = []
            for i in 0..<40 {
                let d = delivery(rp, due: now.addingTimeInterval(-Double(i)))
                all.insert(d.id)
                try await store.logoutDeliveries.enqueue(d)
            }
            let batches = try await withThrowingTaskGroup(of: [String].self) { group in
                for _ in 0..<8 {
                    group.addTask {
                        try await store.logoutDeliveries.claimDue(tenantID: nil, now: now, leaseUntil: now.addingTimeInterval(60), limit: 7).map(\.id)
                    }
                }
                var out: [[String]] = []
                for try await batch in group { out.append(batch) }
                return out
            }
            let claimed = batches.flatMap { $0 }
            #expect(claimed.count == Set(claimed).count, "a delivery was claimed twice")
            #expect(Set(claimed).isSubset(of: all))
            // Whatever was not claimed is still there for the next pass.
            let rest = try await store.logoutDeliveries.claimDue(tenantID: nil, now: now, leaseUntil: now.addingTimeInterval(60), limit: 100)
            #expect(Set(claimed).union(rest.map(\.id)) == all && Set(claimed).isDisjoint(with: rest.map(\.id)))
        }
    }
}
