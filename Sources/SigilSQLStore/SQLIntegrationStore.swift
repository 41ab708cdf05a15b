import Foundation
import SQLKit
import SigilStore

/// One row per integration; the record itself (objects, values, the last check) as JSON, since
/// nothing queries inside it.
struct SQLIntegrationStore: IntegrationStore {
    let runner: SQLRunner

    func create(_ r: IntegrationRecord) async throws {
        let text = try JSONColumn.encode(r)
        try await runner.write("integration") { db in
            try await db.raw(
                """
                INSERT INTO integrations (tenant_id, id, kind, partner_domain, application_id, record, created_at)
                VALUES (\(bind: r.tenantID), \(bind: r.id), \(bind: r.kind), \(bind: r.partnerDomain), \(bind: r.applicationID),
                    \(bind: text), \(bind: r.createdAt.ms))
                """
            ).run()
        }
    }

    func get(tenantID: String, id: String) async throws -> IntegrationRecord? {
        try await runner.read("integration") { db in
            try await db.raw("SELECT record FROM integrations WHERE tenant_id = \(bind: tenantID) AND id = \(bind: id)").first()
                .map { try JSONColumn.decode(IntegrationRecord.self, try $0.string("record")) }
        }
    }

    func list(tenantID: String) async throws -> [IntegrationRecord] {
        try await runner.read("integration") { db in
            try await db.raw("SELECT record FROM integrations WHERE tenant_id = \(bind: tenantID) ORDER BY created_at, id").all()
                .map { try JSONColumn.decode(IntegrationRecord.self, try $0.string("record")) }
        }
    }

    func all(limit: Int) async throws -> [IntegrationRecord] {
        try await runner.read("integration") { db in
            try await db.raw("SELECT record FROM integrations ORDER BY created_at, id LIMIT \(bind: limit)").all()
                .map { try JSONColumn.decode(IntegrationRecord.self, try $0.string("record")) }
        }
    }

    func update(_ r: IntegrationRecord) async throws {
        let text = try JSONColumn.encode(r)
        try await runner.write("integration") { db in
            let rows = try await db.raw(
                """
                UPDATE integrations SET record = \(bind: text), application_id = \(bind: r.applicationID)
                WHERE tenant_id = \(bind: r.tenantID) AND id = \(bind: r.id) RETURNING id
                """
            ).all()
            if rows.isEmpty { throw StoreError.notFound("integration") }
        }
    }

    func delete(tenantID: String, id: String) async throws -> Bool {
        try await runner.write("integration") { db in
            !(try await db.raw("DELETE FROM integrations WHERE tenant_id = \(bind: tenantID) AND id = \(bind: id) RETURNING id").all()).isEmpty
        }
    }
}
