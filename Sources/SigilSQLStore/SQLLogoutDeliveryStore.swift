import Foundation
import SQLKit
import SigilStore

struct SQLLogoutDeliveryStore: LogoutDeliveryStore {
    let runner: SQLRunner
    static let columns = """
        id, tenant_id, application_id, session_id, subject, sid, issuer, rounds, next_attempt_at, claimed_until, created_at
        """

    func enqueue(_ d: LogoutDelivery) async throws {
        try await runner.write("logout delivery") { db in
            let owner = try await db.raw("SELECT tenant_id FROM applications WHERE id = \(bind: d.applicationID)").first()
            guard let owner, try owner.string("tenant_id") == d.tenantID else {
                throw StoreError.notFound("application", d.applicationID)
            }
            try await db.raw(
                """
                INSERT INTO logout_deliveries (\(unsafeRaw: Self.columns))
                VALUES (\(bind: d.id), \(bind: d.tenantID), \(bind: d.applicationID), \(bind: d.sessionID), \(bind: d.subject),
                        \(bind: d.sid), \(bind: d.issuer), \(bind: Int64(d.rounds)), \(bind: d.nextAttemptAt.ms),
                        \(bind: d.claimedUntil.ms), \(bind: d.createdAt.ms))
                """
            ).run()
        }
    }

    func claimDue(tenantID: String?, now: Date, leaseUntil: Date, limit: Int) async throws -> [LogoutDelivery] {
        // On PostgreSQL the candidates are picked `FOR UPDATE SKIP LOCKED`: a row another node is
        // claiming right now is passed over instead of waited for (waiting chained the claimers
        // and could take row locks in opposite orders). The outer condition is checked again on
        // the row itself. SQLite has one writer at a time.
        let tenantFilter: SQLQueryString = tenantID.map { "AND tenant_id = \(bind: $0)" } ?? ""
        let skipLocked = runner.flavor == .postgres ? " FOR UPDATE SKIP LOCKED" : ""
        return try await runner.write("logout delivery") { db in
            try await db.raw(
                """
                UPDATE logout_deliveries SET claimed_until = \(bind: leaseUntil.ms)
                WHERE id IN (
                    SELECT id FROM logout_deliveries
                    WHERE next_attempt_at <= \(bind: now.ms) AND (claimed_until IS NULL OR claimed_until <= \(bind: now.ms)) \(tenantFilter)
                    ORDER BY next_attempt_at, id LIMIT \(bind: Int64(max(1, limit)))\(unsafeRaw: skipLocked))
                  AND (claimed_until IS NULL OR claimed_until <= \(bind: now.ms))
                RETURNING \(unsafeRaw: Self.columns)
                """
            ).all().map(Self.decode).sorted { ($0.nextAttemptAt, $0.id) < ($1.nextAttemptAt, $1.id) }
        }
    }

    func complete(id: String) async throws {
        try await runner.write("logout delivery") { db in
            try await db.raw("DELETE FROM logout_deliveries WHERE id = \(bind: id)").run()
        }
    }

    func reschedule(id: String, rounds: Int, nextAttemptAt: Date) async throws {
        try await runner.write("logout delivery") { db in
            let updated = try await db.raw(
                """
                UPDATE logout_deliveries SET rounds = \(bind: Int64(rounds)), next_attempt_at = \(bind: nextAttemptAt.ms), claimed_until = NULL
                WHERE id = \(bind: id) RETURNING id
                """
            ).all()
            if updated.isEmpty { throw StoreError.notFound("logout delivery", id) }
        }
    }

    func list(tenantID: String) async throws -> [LogoutDelivery] {
        try await runner.read("logout delivery") { db in
            try await db.raw(
                """
                SELECT \(unsafeRaw: Self.columns) FROM logout_deliveries WHERE tenant_id = \(bind: tenantID) ORDER BY created_at, id
                """
            ).all().map(Self.decode)
        }
    }

    static func decode(_ row: any SQLRow) throws -> LogoutDelivery {
        LogoutDelivery(
            id: try row.string("id"), tenantID: try row.string("tenant_id"), applicationID: try row.string("application_id"),
            sessionID: try row.string("session_id"), subject: try row.string("subject"), sid: try row.string("sid"),
            issuer: try row.string("issuer"), rounds: try row.int("rounds"), nextAttemptAt: try row.date("next_attempt_at"),
            claimedUntil: try row.optionalDate("claimed_until"), createdAt: try row.date("created_at"))
    }
}
