import Foundation
import SQLKit
import SigilStore

struct SQLApplicationStore: ApplicationStore {
    let runner: SQLRunner
    static let columns = "id, tenant_id, name, kind, settings, created_at, updated_at, version"

    func create(_ application: Application) async throws -> Application {
        let settings = try JSONColumn.encode(application.settings)
        return try await runner.write("application") { db in
            try await db.raw(
                """
                INSERT INTO applications (id, tenant_id, name, kind, client_id, entity_id, settings, created_at, updated_at, version)
                VALUES (\(bind: application.id), \(bind: application.tenantID), \(bind: application.name), \(bind: application.kind),
                        \(bind: application.clientID), \(bind: application.entityID), \(bind: settings),
                        \(bind: application.createdAt.ms), \(bind: application.updatedAt.ms), \(bind: Int64(application.version)))
                """
            ).run()
            return application
        }
    }

    func get(tenantID: String, id: String) async throws -> Application {
        let found = try await runner.read("application") { db in
            try await Self.fetch(db, tenantID: tenantID, id: id, lock: "")
        }
        guard let found else { throw StoreError.notFound("application", id) }
        return found
    }

    func find(tenantID: String, clientID: String) async throws -> Application? {
        try await findBy("client_id", tenantID: tenantID, value: clientID)
    }

    func find(tenantID: String, entityID: String) async throws -> Application? {
        try await findBy("entity_id", tenantID: tenantID, value: entityID)
    }

    private func findBy(_ column: String, tenantID: String, value: String) async throws -> Application? {
        try await runner.read("application") { db in
            try await db.raw(
                """
                SELECT \(unsafeRaw: Self.columns) FROM applications
                WHERE tenant_id = \(bind: tenantID) AND \(unsafeRaw: column) = \(bind: value)
                """
            ).first().map(Self.decode)
        }
    }

    func list(tenantID: String, page: PageRequest) async throws -> Page<Application> {
        try await runner.read("application") { db in
            let rows = try await db.raw(
                """
                SELECT \(unsafeRaw: Self.columns) FROM applications
                WHERE tenant_id = \(bind: tenantID) AND id > \(bind: page.after ?? "")
                ORDER BY id LIMIT \(bind: Int64(page.limit + 1))
                """
            ).all()
            return try Pagination.page(rows.map(Self.decode), limit: page.limit, id: \.id)
        }
    }

    func update(
        tenantID: String, id: String, expectedVersion: Int?,
        _ mutate: @escaping @Sendable (inout Application) throws -> Void
    ) async throws -> (before: Application, after: Application) {
        try await runner.write("application") { db in
            guard let before = try await Self.fetch(db, tenantID: tenantID, id: id, lock: runner.forUpdate) else {
                throw StoreError.notFound("application", id)
            }
            if let expectedVersion, expectedVersion != before.version {
                throw StoreError.conflict("application", "version \(before.version), expected \(expectedVersion)")
            }
            var after = before
            try mutate(&after)
            guard after.kind == before.kind else {
                throw StoreError.conflict("application", "an application's protocol cannot change")
            }
            after.id = before.id
            after.tenantID = before.tenantID
            after.createdAt = before.createdAt
            after.version = before.version + 1
            let settings = try JSONColumn.encode(after.settings)
            try await db.raw(
                """
                UPDATE applications SET name = \(bind: after.name), client_id = \(bind: after.clientID),
                    entity_id = \(bind: after.entityID), settings = \(bind: settings),
                    updated_at = \(bind: after.updatedAt.ms), version = \(bind: Int64(after.version))
                WHERE tenant_id = \(bind: tenantID) AND id = \(bind: id)
                """
            ).run()
            return (before, after)
        }
    }

    func delete(tenantID: String, id: String, expectedVersion: Int?) async throws -> Application {
        try await runner.write("application") { db in
            guard let app = try await Self.fetch(db, tenantID: tenantID, id: id, lock: runner.forUpdate) else {
                throw StoreError.notFound("application", id)
            }
            if let expectedVersion, expectedVersion != app.version {
                throw StoreError.conflict("application", "version \(app.version), expected \(expectedVersion)")
            }
            try await db.raw("DELETE FROM applications WHERE tenant_id = \(bind: tenantID) AND id = \(bind: id)").run()
            return app
        }
    }

    static func fetch(_ db: any SQLDatabase, tenantID: String, id: String, lock: String) async throws -> Application? {
        try await db.raw(
            """
            SELECT \(unsafeRaw: columns) FROM applications WHERE tenant_id = \(bind: tenantID) AND id = \(bind: id)\(unsafeRaw: lock)
            """
        ).first().map(decode)
    }

    static func decode(_ row: any SQLRow) throws -> Application {
        Application(
            id: try row.string("id"), tenantID: try row.string("tenant_id"), name: try row.string("name"),
            settings: try settings.decode(try row.string("settings")),
            createdAt: try row.date("created_at"), updatedAt: try row.date("updated_at"), version: try row.int("version"))
    }

    /// Decoded settings by their stored JSON text. Every OAuth request reads its client, and
    /// decoding its settings was about 3 % of a code flow's CPU. Keyed by the text itself, so an
    /// entry can never be stale: changed settings are different text.
    static let settings = DecodedJSONCache<ApplicationSettings>(capacity: 256)
}
