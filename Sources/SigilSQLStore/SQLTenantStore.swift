import Foundation
import SQLKit
import SigilStore

struct SQLTenantStore: TenantStore {
    let runner: SQLRunner
    static let columns = "id, slug, display_name, host, created_at, updated_at"

    func create(_ tenant: Tenant) async throws -> Tenant {
        try await runner.write("tenant") { db in
            try await db.raw(
                """
                INSERT INTO tenants (\(unsafeRaw: Self.columns))
                VALUES (\(bind: tenant.id), \(bind: tenant.slug), \(bind: tenant.displayName), \(bind: tenant.host),
                        \(bind: tenant.createdAt.ms), \(bind: tenant.updatedAt.ms))
                """
            ).run()
            return tenant
        }
    }

    func get(id: String) async throws -> Tenant {
        guard let tenant = try await one("WHERE id = ", id) else { throw StoreError.notFound("tenant", id) }
        return tenant
    }

    func get(slug: String) async throws -> Tenant {
        guard let tenant = try await one("WHERE slug = ", slug) else { throw StoreError.notFound("tenant", slug) }
        return tenant
    }

    func find(host: String) async throws -> Tenant? {
        try await one("WHERE host = ", host.lowercased())
    }

    func list() async throws -> [Tenant] {
        try await runner.read("tenant") { db in
            try await db.raw("SELECT \(unsafeRaw: Self.columns) FROM tenants ORDER BY id").all().map(Self.decode)
        }
    }

    private func one(_ clause: String, _ value: String) async throws -> Tenant? {
        try await runner.read("tenant") { db in
            try await db.raw("SELECT \(unsafeRaw: Self.columns) FROM tenants \(unsafeRaw: clause)\(bind: value)").first().map(Self.decode)
        }
    }

    static func decode(_ row: any SQLRow) throws -> Tenant {
        Tenant(
            id: try row.string("id"), slug: try row.string("slug"), displayName: try row.string("display_name"),
            host: try row.optionalString("host"), createdAt: try row.date("created_at"), updatedAt: try row.date("updated_at"))
    }
}
