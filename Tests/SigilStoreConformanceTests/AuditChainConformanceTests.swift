import Foundation
import SQLKit
import SigilCore
import SigilStore
import SigilTestSupport
import Testing

@testable import SigilSQLStore

/// The audit hash chain on every backend (docs/audit.md): appends link up one after another, also
/// when many run at once; the events written before migration 10 are chained by it; and the pure
/// verifier reports each kind of edit made directly in the tables.
@Suite("Store conformance: audit hash chain")
struct AuditChainConformanceTests {
    let f = Fixtures()

    func event(_ tenant: Tenant?, _ action: String = "user.created", actor: String = "cli", after: [String: String]? = nil) -> AuditEvent {
        AuditEvent(
            id: f.ids.make(.auditEvent), tenantID: tenant?.id, occurredAt: f.clock.now().addingTimeInterval(0.0004), actor: actor,
            action: action, targetType: "user", targetID: "usr_1", after: after)
    }

    func verify(_ store: SQLStore, chain: String) async throws -> AuditChainReport {
        var verifier = AuditChainVerifier(chain: chain)
        for row in try await store.audit.chained(chain: chain, after: 0, limit: 10_000) { verifier.consume(row) }
        let head = try await store.audit.chainHeads().first { $0.chain == chain }
        return verifier.finish(head: head, checkpoints: [])
    }

    @Test(arguments: Backend.enabled)
    func appendsFormOneChainPerTenant(_ backend: Backend) async throws {
        try await withFreshStore(backend) { (store: SQLStore) async throws in
            let acme = try await store.tenants.create(f.tenant("acme"))
            let globex = try await store.tenants.create(f.tenant("globex"))
            try await store.audit.append(event(acme, after: ["email": "ada@example.com", "ünïcode": "värde"]))
            try await store.audit.append(event(globex))
            try await store.transaction { tx in
                try await tx.audit.append(self.event(acme, "keys.rotated"))
                try await tx.audit.append(self.event(nil, "tenant.created"))
            }
            let rows = try await store.audit.chained(chain: acme.id, after: 0, limit: 10)
            #expect(rows.map(\.sequence) == [1, 2])
            #expect(rows[0].previousHash == AuditChain.genesis && rows[1].previousHash == rows[0].hash)
            #expect(try await store.audit.chained(chain: globex.id, after: 0, limit: 10).map(\.sequence) == [1])
            #expect(try await store.audit.chained(chain: "", after: 0, limit: 10).map(\.event.action) == ["tenant.created"])
            #expect(try await store.audit.chainHeads().map(\.chain).sorted() == ["", acme.id, globex.id].sorted())
            for chain in ["", acme.id, globex.id] {
                let report = try await verify(store, chain: chain)
                #expect(report.intact, "\(report.findings)")
            }
            // A transaction that rolls back leaves no link behind.
            await #expect(throws: StoreError.self) {
                try await store.transaction { tx in
                    try await tx.audit.append(self.event(acme))
                    throw StoreError.conflict("test", "roll back")
                }
            }
            try await store.audit.append(event(acme))
            #expect(try await store.audit.chained(chain: acme.id, after: 0, limit: 10).map(\.sequence) == [1, 2, 3])
            #expect(try await verify(store, chain: acme.id).intact)
        }
    }

    @Test(arguments: Backend.enabled)
    func concurrentAppendsNeverFork(_ backend: Backend) async throws {
        try await withFreshStore(backend) { (store: SQLStore) async throws in
            let acme = try await store.tenants.create(f.tenant("acme"))
            let events = (0..<40).map { _ in event(acme) }
            try await withThrowingTaskGroup(of: Void.self) { group in
                for event in events { group.addTask { try await store.audit.append(event) } }
                try await group.waitForAll()
            }
            let rows = try await store.audit.chained(chain: acme.id, after: 0, limit: 100)
            #expect(rows.compactMap(\.sequence) == Array(1...40))
            #expect(Set(rows.map(\.event.id)) == Set(events.map(\.id)))
            let report = try await verify(store, chain: acme.id)
            #expect(report.intact && report.lastSequence == 40, "\(report.findings)")
        }
    }

    @Test(arguments: Backend.enabled)
    func migrationChainsEarlierEvents(_ backend: Backend) async throws {
        try await withFreshStore(backend) { (store: SQLStore) async throws in
            let acme = try await store.tenants.create(f.tenant("acme"))
            // Rows as the code before migration 10 wrote them: no chain columns.
            let legacy = [event(acme), event(nil, "tenant.created"), event(acme, "keys.rotated", after: ["current": "k1"])]
            try await store.backend.withTransaction { db in
                for (index, e) in legacy.enumerated() {
                    try await db.raw(
                        """
                        INSERT INTO audit_events (\(unsafeRaw: SQLAuditEventStore.columns))
                        VALUES (\(bind: e.id), \(bind: e.tenantID), \(bind: e.occurredAt.ms + Int64(index)), \(bind: e.actor), \(bind: e.action),
                                \(bind: e.targetType), \(bind: e.targetID), \(bind: e.outcome.rawValue), NULL,
                                \(bind: try e.after.map(JSONColumn.encode)), NULL)
                        """
                    ).run()
                }
            }
            #expect(try await store.audit.unchained(limit: 10).count == 3)
            try await store.backend.withLongTransaction { db in try await AuditChainMigration.run(db, now: self.f.clock.now()) }
            #expect(try await store.audit.unchained(limit: 10).isEmpty)
            #expect(try await store.audit.chained(chain: acme.id, after: 0, limit: 10).map(\.event.action) == ["user.created", "keys.rotated"])
            // New events continue the migrated chain.
            try await store.audit.append(event(acme))
            let report = try await verify(store, chain: acme.id)
            #expect(report.intact && report.lastSequence == 3, "\(report.findings)")
            #expect(try await verify(store, chain: "").intact)
        }
    }

    @Test(arguments: Backend.enabled)
    func verifierNamesEachEdit(_ backend: Backend) async throws {
        try await withFreshStore(backend) { (store: SQLStore) async throws in
            let acme = try await store.tenants.create(f.tenant("acme"))
            var events: [AuditEvent] = []
            for index in 0..<6 {
                let e = event(acme, index % 2 == 0 ? "user.created" : "user.updated")
                events.append(e)
                try await store.audit.append(e)
            }
            func edit(_ sql: String) async throws {
                try await store.backend.withTransaction { db in try await db.raw(SQLQueryString(sql)).run() }
            }
            // Changed content.
            try await edit("UPDATE audit_events SET actor = 'admin_token:x' WHERE id = '\(events[1].id)'")
            var report = try await verify(store, chain: acme.id)
            #expect(report.findings.map(\.kind) == [.changed] && report.findings.first?.eventID == events[1].id)
            // Deleted (on top of the change).
            try await edit("DELETE FROM audit_events WHERE id = '\(events[3].id)'")
            report = try await verify(store, chain: acme.id)
            #expect(Set(report.findings.map(\.kind)) == [.changed, .missing])
            #expect(report.findings.first { $0.kind == .missing }?.sequence == 4)
            // A checkpoint beyond the end: the tail was cut.
            var verifier = AuditChainVerifier(chain: acme.id)
            for row in try await store.audit.chained(chain: acme.id, after: 0, limit: 100) { verifier.consume(row) }
            let cut = verifier.finish(
                head: nil, checkpoints: [CheckedCheckpoint(sequence: 9, hash: String(repeating: "a", count: 64), issuedAt: f.clock.now())])
            #expect(cut.findings.contains { $0.kind == .truncated && $0.sequence == 7 })
            #expect(cut.findings.contains { $0.kind == .headMismatch })
        }
    }
}
