import Foundation
import SQLKit
import SigilFlows

/// Migration 9: `login_transactions.context` becomes the typed, versioned `FlowState`
/// (`{"v":1,"flow":…,"data":…}`) instead of a flat object of strings. Every row the old code
/// wrote is converted by `FlowState.legacy`, which carries over every key it read. A row it
/// could not have written (a required key missing) cannot be continued by either version, so it
/// is deleted: these rows live minutes, and the flow's user starts again.
enum FlowStateMigration {
    static func run(_ db: any SQLDatabase) async throws {
        let rows = try await db.raw("SELECT id, tenant_id, kind, context FROM login_transactions").all()
        for row in rows {
            let id = try row.decode(column: "id", as: String.self)
            let tenantID = try row.decode(column: "tenant_id", as: String.self)
            let text = try row.decode(column: "context", as: String.self)
            if (try? JSONColumn.decode(FlowState.self, text)) != nil { continue }
            let converted: FlowState?
            if let kind = FlowKind(rawValue: try row.decode(column: "kind", as: String.self)),
                let legacy = try? JSONColumn.decode([String: String].self, text)
            {
                converted = try? FlowState.legacy(kind: kind, context: legacy)
            } else {
                converted = nil
            }
            if let converted {
                try await db.raw(
                    """
                    UPDATE login_transactions SET context = \(bind: try JSONColumn.encode(converted))
                    WHERE tenant_id = \(bind: tenantID) AND id = \(bind: id)
                    """
                ).run()
            } else {
                try await db.raw("DELETE FROM login_transactions WHERE tenant_id = \(bind: tenantID) AND id = \(bind: id)").run()
            }
        }
    }
}
