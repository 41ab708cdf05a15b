import Foundation
import SQLKit
import SigilStore

struct SQLPasskeyStore: PasskeyStore {
    let runner: SQLRunner
    static let columns = """
        credential_id, tenant_id, user_id, public_key, algorithm, sign_count, aaguid, backup_eligible, backup_state, \
        transports, attestation_type, name, clone_warning, created_at, last_used_at
        """

    func create(_ p: Passkey) async throws -> Passkey {
        let transports = try JSONColumn.encode(p.transports)
        return try await runner.write("passkey") { db in
            try await db.raw(
                """
                INSERT INTO passkeys (\(unsafeRaw: Self.columns))
                VALUES (\(bind: p.credentialID), \(bind: p.tenantID), \(bind: p.userID), \(bind: p.publicKey), \(bind: Int64(p.algorithm)),
                        \(bind: Int64(p.signCount)), \(bind: p.aaguid), \(bind: Int64(p.backupEligible ? 1 : 0)), \(bind: Int64(p.backupState ? 1 : 0)),
                        \(bind: transports), \(bind: p.attestationType), \(bind: p.name), \(bind: Int64(p.cloneWarning ? 1 : 0)),
                        \(bind: p.createdAt.ms), \(bind: p.lastUsedAt.ms))
                """
            ).run()
            return p
        }
    }

    func get(tenantID: String, credentialID: String) async throws -> Passkey {
        let found = try await runner.read("passkey") { db in
            try await db.raw(
                """
                SELECT \(unsafeRaw: Self.columns) FROM passkeys WHERE tenant_id = \(bind: tenantID) AND credential_id = \(bind: credentialID)
                """
            ).first().map(Self.decode)
        }
        guard let found else { throw StoreError.notFound("passkey") }
        return found
    }

    func list(tenantID: String, userID: String) async throws -> [Passkey] {
        try await runner.read("passkey") { db in
            try await db.raw(
                """
                SELECT \(unsafeRaw: Self.columns) FROM passkeys WHERE tenant_id = \(bind: tenantID) AND user_id = \(bind: userID)
                ORDER BY created_at, credential_id
                """
            ).all().map(Self.decode)
        }
    }

    func recordUse(
        tenantID: String, credentialID: String, expectedSignCount: Int, signCount: Int, backupState: Bool,
        cloneWarning: Bool, at: Date
    ) async throws {
        try await runner.write("passkey") { db in
            let rows = try await db.raw(
                """
                UPDATE passkeys SET sign_count = \(bind: Int64(signCount)), backup_state = \(bind: Int64(backupState ? 1 : 0)),
                    clone_warning = CASE WHEN clone_warning = 1 THEN 1 ELSE \(bind: Int64(cloneWarning ? 1 : 0)) END,
                    last_used_at = \(bind: at.ms)
                WHERE tenant_id = \(bind: tenantID) AND credential_id = \(bind: credentialID) AND sign_count = \(bind: Int64(expectedSignCount))
                RETURNING credential_id
                """
            ).all()
            if rows.isEmpty {
                let exists =
                    try await db.raw(
                        """
                        SELECT credential_id FROM passkeys WHERE tenant_id = \(bind: tenantID) AND credential_id = \(bind: credentialID)
                        """
                    ).first() != nil
                throw exists ? StoreError.conflict("passkey", "sign count changed concurrently") : StoreError.notFound("passkey")
            }
        }
    }

    func setCloneWarning(tenantID: String, userID: String, credentialID: String, _ flagged: Bool) async throws -> Passkey {
        try await runner.write("passkey") { db in
            let rows = try await db.raw(
                """
                UPDATE passkeys SET clone_warning = \(bind: Int64(flagged ? 1 : 0)),
                    sign_count = CASE WHEN \(bind: Int64(flagged ? 1 : 0)) = 1 THEN sign_count ELSE 0 END
                WHERE tenant_id = \(bind: tenantID) AND user_id = \(bind: userID) AND credential_id = \(bind: credentialID)
                RETURNING \(unsafeRaw: Self.columns)
                """
            ).all()
            guard let row = rows.first else { throw StoreError.notFound("passkey") }
            return try Self.decode(row)
        }
    }

    func delete(tenantID: String, userID: String, credentialID: String) async throws {
        try await runner.write("passkey") { db in
            let rows = try await db.raw(
                """
                DELETE FROM passkeys WHERE tenant_id = \(bind: tenantID) AND user_id = \(bind: userID) AND credential_id = \(bind: credentialID)
                RETURNING credential_id
                """
            ).all()
            if rows.isEmpty { throw StoreError.notFound("passkey") }
        }
    }

    static func decode(_ row: any SQLRow) throws -> Passkey {
        Passkey(
            credentialID: try row.string("credential_id"), tenantID: try row.string("tenant_id"), userID: try row.string("user_id"),
            publicKey: try row.string("public_key"), algorithm: try row.int("algorithm"), signCount: try row.int("sign_count"),
            aaguid: try row.string("aaguid"), backupEligible: try row.int("backup_eligible") != 0,
            backupState: try row.int("backup_state") != 0,
            transports: try JSONColumn.decode([String].self, try row.string("transports")),
            attestationType: try row.string("attestation_type"), name: try row.string("name"),
            cloneWarning: try row.int("clone_warning") != 0, createdAt: try row.date("created_at"),
            lastUsedAt: try row.optionalDate("last_used_at"))
    }
}
