import Foundation
import SQLKit
import SigilCore
import SigilStore

/// Migration 8: every user's `email_normalized` becomes `User.normalizedEmail(email)` (PRECIS
/// case-mapped, NFC). Two users of a tenant whose addresses were distinct only by Unicode
/// normalisation or width (`josé` written in NFC and in NFD) now have the same key. The older
/// account keeps it; each newer one gets `key#user-id`, so nothing is lost and the unique index
/// holds, but it cannot be found by email until an administrator changes its address or deletes
/// it. Each such pair is audited as `user.identifier_collision` (docs/operations.md).
enum IdentifierNormalisation {
    static func run(_ db: any SQLDatabase, now: Date) async throws {
        let rows = try await db.raw("SELECT id, tenant_id, email, email_normalized FROM users ORDER BY created_at, id").all()
        var owner: [String: String] = [:] // tenant|key → the user that keeps the key
        var changes: [(id: String, key: String)] = []
        var collisions: [(tenantID: String, userID: String, keptBy: String)] = []
        for row in rows {
            let id = try row.decode(column: "id", as: String.self)
            let tenantID = try row.decode(column: "tenant_id", as: String.self)
            let current = try row.decode(column: "email_normalized", as: String.self)
            var key = User.normalizedEmail(try row.decode(column: "email", as: String.self))
            if let kept = owner[tenantID + "|" + key] {
                collisions.append((tenantID, id, kept))
                key += "#" + id
            } else {
                owner[tenantID + "|" + key] = id
            }
            if key != current { changes.append((id, key)) }
        }
        // Two steps, so no intermediate state breaks UNIQUE (tenant_id, email_normalized).
        for change in changes {
            try await db.raw("UPDATE users SET email_normalized = \(bind: "#migrating#" + change.id) WHERE id = \(bind: change.id)").run()
        }
        for change in changes {
            try await db.raw("UPDATE users SET email_normalized = \(bind: change.key) WHERE id = \(bind: change.id)").run()
        }
        let ids = IdentifierGenerator(clock: FixedClock(now), random: SystemRandom())
        for collision in collisions {
            let after = try JSONColumn.encode(["collides_with": collision.keptBy])
            try await db.raw(
                """
                INSERT INTO audit_events (id, tenant_id, occurred_at, actor, action, target_type, target_id, outcome, before_summary, after_summary, reason)
                VALUES (\(bind: ids.make(.auditEvent)), \(bind: collision.tenantID), \(bind: now.unixMilliseconds), \(bind: "system"),
                        \(bind: "user.identifier_collision"), \(bind: "user"), \(bind: collision.userID), \(bind: "failure"), \(bind: String?.none),
                        \(bind: after), \(bind: "this user's email is the same identifier as an older user's once normalised (NFC, case, width); "
                            + "it cannot be found by email until an administrator changes or deletes it"))
                """
            ).run()
        }
    }

    struct FixedClock: SigilClock {
        let time: Date
        init(_ time: Date) { self.time = time }
        func now() -> Date { time }
    }
}
