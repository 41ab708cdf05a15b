import Foundation
import SQLKit
import SigilStore

/// Connector API keys (hashes only; a name is unique among a tenant's unrevoked keys, by a partial
/// unique index) and the first answers to idempotent requests (sealed).
struct SQLConnectorKeyStore: ConnectorKeyStore {
    let runner: SQLRunner
    static let columns = """
        id, tenant_id, name, key_hash, display_prefix, scopes, redirect_origins, created_at, expires_at, revoked_at, last_used_at
        """
    static let idempotencyColumns = """
        tenant_id, key_id, idempotency_key, request_hash, status, sealed_response, created_at, expires_at
        """

    func create(_ key: ConnectorKey) async throws {
        let scopes = try JSONColumn.encode(key.scopes)
        let origins = try JSONColumn.encode(key.redirectOrigins)
        try await runner.write("connector key") { db in
            try await db.raw(
                """
                INSERT INTO connector_keys (\(unsafeRaw: Self.columns))
                VALUES (\(bind: key.id), \(bind: key.tenantID), \(bind: key.name), \(bind: key.keyHash), \(bind: key.displayPrefix),
                        \(bind: scopes), \(bind: origins), \(bind: key.createdAt.ms), \(bind: key.expiresAt.ms), \(bind: key.revokedAt.ms),
                        \(bind: key.lastUsedAt.ms))
                """
            ).run()
        }
    }

    func find(keyHash: String) async throws -> ConnectorKey? {
        try await runner.read("connector key") { db in
            try await db.raw("SELECT \(unsafeRaw: Self.columns) FROM connector_keys WHERE key_hash = \(bind: keyHash)")
                .first().map(Self.decode)
        }
    }

    func get(tenantID: String, id: String) async throws -> ConnectorKey? {
        try await runner.read("connector key") { db in
            try await db.raw(
                "SELECT \(unsafeRaw: Self.columns) FROM connector_keys WHERE tenant_id = \(bind: tenantID) AND id = \(bind: id)"
            ).first().map(Self.decode)
        }
    }

    func list(tenantID: String) async throws -> [ConnectorKey] {
        try await runner.read("connector key") { db in
            try await db.raw(
                "SELECT \(unsafeRaw: Self.columns) FROM connector_keys WHERE tenant_id = \(bind: tenantID) ORDER BY created_at, id"
            ).all().map(Self.decode)
        }
    }

    func revoke(tenantID: String, id: String, at: Date) async throws -> Bool {
        try await runner.write("connector key") { db in
            !(try await db.raw(
                """
                UPDATE connector_keys SET revoked_at = \(bind: at.ms)
                WHERE tenant_id = \(bind: tenantID) AND id = \(bind: id) AND revoked_at IS NULL RETURNING id
                """
            ).all()).isEmpty
        }
    }

    func expire(tenantID: String, id: String, at: Date) async throws -> Bool {
        try await runner.write("connector key") { db in
            !(try await db.raw(
                """
                UPDATE connector_keys SET expires_at = \(bind: at.ms) WHERE tenant_id = \(bind: tenantID) AND id = \(bind: id) RETURNING id
                """
            ).all()).isEmpty
        }
    }

    func touch(id: String, at: Date) async throws {
        try await runner.write("connector key") { db in
            try await db.raw(
                """
                UPDATE connector_keys SET last_used_at = \(bind: at.ms)
                WHERE id = \(bind: id) AND (last_used_at IS NULL OR last_used_at < \(bind: at.ms))
                """
            ).run()
        }
    }

    // MARK: idempotency

    /// An expired answer under the same key is replaced (`idempotent` no longer returns it, so
    /// refusing the new one would leave the key unusable until the sweep). A live one is kept
    /// and `alreadyExists` thrown; `ON CONFLICT DO NOTHING` refuses without a constraint error,
    /// which on PostgreSQL would abort a caller's transaction.
    func saveIdempotent(_ record: IdempotencyRecord) async throws {
        try await runner.write("idempotency record") { db in
            try await db.raw(
                """
                DELETE FROM idempotency_records
                WHERE tenant_id = \(bind: record.tenantID) AND key_id = \(bind: record.keyID)
                  AND idempotency_key = \(bind: record.idempotencyKey) AND expires_at <= \(bind: record.createdAt.ms)
                """
            ).run()
            let inserted = try await db.raw(
                """
                INSERT INTO idempotency_records (\(unsafeRaw: Self.idempotencyColumns))
                VALUES (\(bind: record.tenantID), \(bind: record.keyID), \(bind: record.idempotencyKey), \(bind: record.requestHash),
                        \(bind: Int64(record.status)), \(bind: record.sealedResponse), \(bind: record.createdAt.ms),
                        \(bind: record.expiresAt.ms))
                ON CONFLICT (tenant_id, key_id, idempotency_key) DO NOTHING RETURNING key_id
                """
            ).all()
            if inserted.isEmpty { throw StoreError.alreadyExists("idempotency record", record.idempotencyKey) }
        }
    }

    func idempotent(tenantID: String, keyID: String, idempotencyKey: String, at: Date) async throws -> IdempotencyRecord? {
        try await runner.read("idempotency record") { db in
            try await db.raw(
                """
                SELECT \(unsafeRaw: Self.idempotencyColumns) FROM idempotency_records
                WHERE tenant_id = \(bind: tenantID) AND key_id = \(bind: keyID) AND idempotency_key = \(bind: idempotencyKey)
                  AND expires_at > \(bind: at.ms)
                """
            ).first().map(Self.decodeIdempotency)
        }
    }

    func deleteExpiredIdempotent(before: Date) async throws -> Int {
        try await runner.write("idempotency record") { db in
            try await db.raw("DELETE FROM idempotency_records WHERE expires_at <= \(bind: before.ms) RETURNING key_id").all().count
        }
    }

    // MARK: hook sources

    static let hookColumns = "id, tenant_id, name, connector_key_id, signature, sealed_secret, config, created_at"

    func createHookSource(_ source: HookSource) async throws {
        try await runner.write("hook source") { db in
            let known = try await db.raw(
                "SELECT id FROM connector_keys WHERE tenant_id = \(bind: source.tenantID) AND id = \(bind: source.connectorKeyID)"
            ).first()
            guard known != nil else { throw StoreError.notFound("connector key", source.connectorKeyID) }
            let inserted = try await db.raw(
                """
                INSERT INTO hook_sources (\(unsafeRaw: Self.hookColumns))
                VALUES (\(bind: source.id), \(bind: source.tenantID), \(bind: source.name), \(bind: source.connectorKeyID),
                        \(bind: source.signature), \(bind: source.sealedSecret), \(bind: source.config), \(bind: source.createdAt.ms))
                ON CONFLICT (tenant_id, name) DO NOTHING RETURNING id
                """
            ).all()
            if inserted.isEmpty { throw StoreError.alreadyExists("hook source", source.name) }
        }
    }

    func hookSource(tenantID: String, name: String) async throws -> HookSource? {
        try await runner.read("hook source") { db in
            try await db.raw(
                "SELECT \(unsafeRaw: Self.hookColumns) FROM hook_sources WHERE tenant_id = \(bind: tenantID) AND name = \(bind: name)"
            ).first().map(Self.decodeHook)
        }
    }

    func hookSources(tenantID: String) async throws -> [HookSource] {
        try await runner.read("hook source") { db in
            try await db.raw(
                "SELECT \(unsafeRaw: Self.hookColumns) FROM hook_sources WHERE tenant_id = \(bind: tenantID) ORDER BY name"
            ).all().map(Self.decodeHook)
        }
    }

    func deleteHookSource(tenantID: String, name: String) async throws -> Bool {
        try await runner.write("hook source") { db in
            !(try await db.raw(
                "DELETE FROM hook_sources WHERE tenant_id = \(bind: tenantID) AND name = \(bind: name) RETURNING id"
            ).all()).isEmpty
        }
    }

    static func decodeHook(_ row: any SQLRow) throws -> HookSource {
        HookSource(
            id: try row.string("id"), tenantID: try row.string("tenant_id"), name: try row.string("name"),
            connectorKeyID: try row.string("connector_key_id"), signature: try row.string("signature"),
            sealedSecret: try row.string("sealed_secret"), config: try row.string("config"), createdAt: try row.date("created_at"))
    }

    // MARK: rows

    static func decode(_ row: any SQLRow) throws -> ConnectorKey {
        ConnectorKey(
            id: try row.string("id"), tenantID: try row.string("tenant_id"), name: try row.string("name"),
            keyHash: try row.string("key_hash"), displayPrefix: try row.string("display_prefix"),
            scopes: try JSONColumn.decode([String].self, try row.string("scopes")),
            redirectOrigins: try JSONColumn.decode([String].self, try row.string("redirect_origins")),
            createdAt: try row.date("created_at"), expiresAt: try row.optionalDate("expires_at"),
            revokedAt: try row.optionalDate("revoked_at"), lastUsedAt: try row.optionalDate("last_used_at"))
    }

    static func decodeIdempotency(_ row: any SQLRow) throws -> IdempotencyRecord {
        IdempotencyRecord(
            tenantID: try row.string("tenant_id"), keyID: try row.string("key_id"), idempotencyKey: try row.string("idempotency_key"),
            requestHash: try row.string("request_hash"), status: try row.int("status"), sealedResponse: try row.string("sealed_response"),
            createdAt: try row.date("created_at"), expiresAt: try row.date("expires_at"))
    }
}
