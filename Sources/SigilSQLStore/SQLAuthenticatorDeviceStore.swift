import Foundation
import SQLKit
import SigilStore

struct SQLAuthenticatorDeviceStore: AuthenticatorDeviceStore {
    let runner: SQLRunner
    static let columns = "id, tenant_id, user_id, public_key, name, platform, sealed_push_token, created_at, last_used_at, key_protection"

    func create(_ d: AuthenticatorDevice) async throws -> AuthenticatorDevice {
        try await runner.write("authenticator device") { db in
            try await db.raw(
                """
                INSERT INTO authenticator_devices (\(unsafeRaw: Self.columns))
                VALUES (\(bind: d.id), \(bind: d.tenantID), \(bind: d.userID), \(bind: d.publicKey), \(bind: d.name), \(bind: d.platform),
                        \(bind: d.sealedPushToken), \(bind: d.createdAt.ms), \(bind: d.lastUsedAt.ms), \(bind: d.keyProtection))
                """
            ).run()
            return d
        }
    }

    func get(tenantID: String, id: String) async throws -> AuthenticatorDevice {
        let found = try await runner.read("authenticator device") { db in
            try await db.raw(
                """
                SELECT \(unsafeRaw: Self.columns) FROM authenticator_devices WHERE tenant_id = \(bind: tenantID) AND id = \(bind: id)
                """
            ).first().map(Self.decode)
        }
        guard let found else { throw StoreError.notFound("authenticator device", id) }
        return found
    }

    func list(tenantID: String, userID: String) async throws -> [AuthenticatorDevice] {
        try await runner.read("authenticator device") { db in
            try await db.raw(
                """
                SELECT \(unsafeRaw: Self.columns) FROM authenticator_devices WHERE tenant_id = \(bind: tenantID) AND user_id = \(bind: userID)
                ORDER BY id
                """
            ).all().map(Self.decode)
        }
    }

    func touch(tenantID: String, id: String, at: Date) async throws {
        try await runner.write("authenticator device") { db in
            let rows = try await db.raw(
                """
                UPDATE authenticator_devices SET last_used_at = \(bind: at.ms) WHERE tenant_id = \(bind: tenantID) AND id = \(bind: id) RETURNING id
                """
            ).all()
            if rows.isEmpty { throw StoreError.notFound("authenticator device", id) }
        }
    }

    func setPushToken(tenantID: String, id: String, sealed: String?) async throws {
        try await runner.write("authenticator device") { db in
            let rows = try await db.raw(
                """
                UPDATE authenticator_devices SET sealed_push_token = \(bind: sealed) WHERE tenant_id = \(bind: tenantID) AND id = \(bind: id) RETURNING id
                """
            ).all()
            if rows.isEmpty { throw StoreError.notFound("authenticator device", id) }
        }
    }

    func delete(tenantID: String, userID: String, id: String) async throws {
        try await runner.write("authenticator device") { db in
            let rows = try await db.raw(
                """
                DELETE FROM authenticator_devices WHERE tenant_id = \(bind: tenantID) AND user_id = \(bind: userID) AND id = \(bind: id) RETURNING id
                """
            ).all()
            if rows.isEmpty { throw StoreError.notFound("authenticator device", id) }
        }
    }

    static func decode(_ row: any SQLRow) throws -> AuthenticatorDevice {
        AuthenticatorDevice(
            id: try row.string("id"), tenantID: try row.string("tenant_id"), userID: try row.string("user_id"),
            publicKey: try row.string("public_key"), name: try row.string("name"), platform: try row.string("platform"),
            sealedPushToken: try row.optionalString("sealed_push_token"), createdAt: try row.date("created_at"),
            lastUsedAt: try row.optionalDate("last_used_at"), keyProtection: try row.string("key_protection"))
    }
}
