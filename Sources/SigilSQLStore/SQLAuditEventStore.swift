import Foundation
import SQLKit
import SigilStore

struct SQLAuditEventStore: AuditEventStore {
    let runner: SQLRunner
    static let columns = "id, tenant_id, occurred_at, actor, action, target_type, target_id, outcome, before_summary, after_summary, reason"

    func append(_ event: AuditEvent) async throws {
        let before = try event.before.map(JSONColumn.encode)
        let after = try event.after.map(JSONColumn.encode)
        try await runner.write("audit event") { db in
            try await db.raw(
                """
                INSERT INTO audit_events (\(unsafeRaw: Self.columns))
                VALUES (\(bind: event.id), \(bind: event.tenantID), \(bind: event.occurredAt.ms), \(bind: event.actor),
                        \(bind: event.action), \(bind: event.targetType), \(bind: event.targetID), \(bind: event.outcome.rawValue),
                        \(bind: before), \(bind: after), \(bind: event.reason))
                """
            ).run()
        }
    }

    func list(tenantID: String?, page: PageRequest) async throws -> Page<AuditEvent> {
        // Newest first: the cursor is the last (smallest) id seen.
        let after = page.after ?? "\u{7F}"
        return try await runner.read("audit event") { db in
            let rows: [any SQLRow]
            if let tenantID {
                rows = try await db.raw(
                    """
                    SELECT \(unsafeRaw: Self.columns) FROM audit_events WHERE tenant_id = \(bind: tenantID) AND id < \(bind: after)
                    ORDER BY id DESC LIMIT \(bind: Int64(page.limit + 1))
                    """
                ).all()
            } else {
                rows = try await db.raw(
                    """
                    SELECT \(unsafeRaw: Self.columns) FROM audit_events WHERE id < \(bind: after)
                    ORDER BY id DESC LIMIT \(bind: Int64(page.limit + 1))
                    """
                ).all()
            }
            return try Pagination.page(rows.map(Self.decode), limit: page.limit, id: \.id)
        }
    }

    static func decode(_ row: any SQLRow) throws -> AuditEvent {
        AuditEvent(
            id: try row.string("id"), tenantID: try row.optionalString("tenant_id"), occurredAt: try row.date("occurred_at"),
            actor: try row.string("actor"), action: try row.string("action"), targetType: try row.optionalString("target_type"),
            targetID: try row.optionalString("target_id"),
            outcome: AuditEvent.Outcome(rawValue: try row.string("outcome")) ?? .failure,
            before: try row.optionalString("before_summary").map { try JSONColumn.decode([String: String].self, $0) },
            after: try row.optionalString("after_summary").map { try JSONColumn.decode([String: String].self, $0) },
            reason: try row.optionalString("reason"))
    }
}
