import Foundation
import SQLKit
import SigilStore

struct SQLAdminTokenStore: AdminTokenStore {
    let runner: SQLRunner
    static let columns = "id, tenant_id, name, token_hash, created_at, expires_at, revoked_at"

    func create(_ token: AdminToken) async throws -> AdminToken {
        try await runner.write("admin token") { db in
            try await db.raw(
                """
                INSERT INTO admin_tokens (\(unsafeRaw: Self.columns))
                VALUES (\(bind: token.id), \(bind: token.tenantID), \(bind: token.name), \(bind: token.tokenHash),
                        \(bind: token.createdAt.ms), \(bind: token.expiresAt.ms), \(bind: token.revokedAt.ms))
                """
            ).run()
            return token
        }
    }

    func find(tokenHash: String) async throws -> AdminToken? {
        try await runner.read("admin token") { db in
            try await db.raw("SELECT \(unsafeRaw: Self.columns) FROM admin_tokens WHERE token_hash = \(bind: tokenHash)")
                .first().map(Self.decode)
        }
    }

    func list(tenantID: String?) async throws -> [AdminToken] {
        try await runner.read("admin token") { db in
            if let tenantID {
                return try await db.raw("SELECT \(unsafeRaw: Self.columns) FROM admin_tokens WHERE tenant_id = \(bind: tenantID) ORDER BY id")
                    .all().map(Self.decode)
            }
            return try await db.raw("SELECT \(unsafeRaw: Self.columns) FROM admin_tokens ORDER BY id").all().map(Self.decode)
        }
    }

    func revoke(id: String, at: Date) async throws {
        try await runner.write("admin token") { db in
            let rows = try await db.raw(
                """
                UPDATE admin_tokens SET revoked_at = \(bind: at.ms) WHERE id = \(bind: id) AND revoked_at IS NULL RETURNING id
                """
            ).all()
            if rows.isEmpty { throw StoreError.notFound("admin token", id) }
        }
    }

    static func decode(_ row: any SQLRow) throws -> AdminToken {
        AdminToken(
            id: try row.string("id"), tenantID: try row.optionalString("tenant_id"), name: try row.string("name"),
            tokenHash: try row.string("token_hash"), createdAt: try row.date("created_at"),
            expiresAt: try row.optionalDate("expires_at"), revokedAt: try row.optionalDate("revoked_at"))
    }
}
