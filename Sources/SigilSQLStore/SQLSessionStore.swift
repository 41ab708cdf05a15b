import Foundation
import SQLKit
import SigilStore

struct SQLSessionStore: SessionStore {
    let runner: SQLRunner
    static let columns = """
        id, tenant_id, user_id, token_hash, created_at, last_seen_at, idle_expires_at, absolute_expires_at, auth_time, amr, acr, revoked_at,
        verification_process
        """

    func create(_ s: Session) async throws -> Session {
        let amr = try JSONColumn.encode(s.amr)
        return try await runner.write("session") { db in
            try await db.raw(
                """
                INSERT INTO sessions (\(unsafeRaw: Self.columns))
                VALUES (\(bind: s.id), \(bind: s.tenantID), \(bind: s.userID), \(bind: s.tokenHash), \(bind: s.createdAt.ms), \(bind: s.lastSeenAt.ms),
                        \(bind: s.idleExpiresAt.ms), \(bind: s.absoluteExpiresAt.ms), \(bind: s.authTime.ms), \(bind: amr), \(bind: s.acr),
                        \(bind: s.revokedAt.ms), \(bind: s.verificationProcess))
                """
            ).run()
            return s
        }
    }

    func find(tokenHash: String) async throws -> Session? {
        try await runner.read("session") { db in
            try await db.raw("SELECT \(unsafeRaw: Self.columns) FROM sessions WHERE token_hash = \(bind: tokenHash)").first().map(Self.decode)
        }
    }

    func touch(id: String, lastSeenAt: Date, idleExpiresAt: Date) async throws {
        try await runner.write("session") { db in
            let rows = try await db.raw(
                """
                UPDATE sessions SET last_seen_at = \(bind: lastSeenAt.ms),
                    idle_expires_at = CASE WHEN absolute_expires_at < \(bind: idleExpiresAt.ms) THEN absolute_expires_at ELSE \(bind: idleExpiresAt.ms) END
                WHERE id = \(bind: id) AND revoked_at IS NULL RETURNING id
                """
            ).all()
            if rows.isEmpty { throw StoreError.notFound("session", id) }
        }
    }

    func reauthenticate(
        id: String, tokenHash: String, authTime: Date, amr: [String], acr: String, verificationProcess: String?, idleExpiresAt: Date
    ) async throws -> Session {
        let amrJSON = try JSONColumn.encode(amr)
        return try await runner.write("session") { db in
            guard
                let row = try await db.raw(
                    """
                    UPDATE sessions SET token_hash = \(bind: tokenHash), auth_time = \(bind: authTime.ms), amr = \(bind: amrJSON), acr = \(bind: acr),
                        verification_process = \(bind: verificationProcess), last_seen_at = \(bind: authTime.ms),
                        idle_expires_at = CASE WHEN absolute_expires_at < \(bind: idleExpiresAt.ms) THEN absolute_expires_at ELSE \(bind: idleExpiresAt.ms) END
                    WHERE id = \(bind: id) AND revoked_at IS NULL RETURNING \(unsafeRaw: Self.columns)
                    """
                ).first()
            else { throw StoreError.notFound("session", id) }
            return try Self.decode(row)
        }
    }

    func revoke(id: String, at: Date) async throws {
        try await runner.write("session") { db in
            let rows = try await db.raw(
                """
                UPDATE sessions SET revoked_at = \(bind: at.ms) WHERE id = \(bind: id) AND revoked_at IS NULL RETURNING id
                """
            ).all()
            if rows.isEmpty { throw StoreError.notFound("session", id) }
        }
    }

    func revokeAll(tenantID: String, userID: String, at: Date) async throws -> Int {
        try await runner.write("session") { db in
            try await db.raw(
                """
                UPDATE sessions SET revoked_at = \(bind: at.ms)
                WHERE tenant_id = \(bind: tenantID) AND user_id = \(bind: userID) AND revoked_at IS NULL RETURNING id
                """
            ).all().count
        }
    }

    func listActive(tenantID: String, userID: String, now: Date) async throws -> [Session] {
        try await runner.read("session") { db in
            try await db.raw(
                """
                SELECT \(unsafeRaw: Self.columns) FROM sessions
                WHERE tenant_id = \(bind: tenantID) AND user_id = \(bind: userID) AND revoked_at IS NULL
                    AND idle_expires_at > \(bind: now.ms) AND absolute_expires_at > \(bind: now.ms)
                ORDER BY created_at, id
                """
            ).all().map(Self.decode)
        }
    }

    func deleteExpired(now: Date) async throws -> Int {
        try await runner.write("session") { db in
            try await db.raw(
                """
                DELETE FROM sessions WHERE absolute_expires_at <= \(bind: now.ms) OR idle_expires_at <= \(bind: now.ms)
                    OR revoked_at IS NOT NULL RETURNING id
                """
            ).all().count
        }
    }

    static func decode(_ row: any SQLRow) throws -> Session {
        Session(
            id: try row.string("id"), tenantID: try row.string("tenant_id"), userID: try row.string("user_id"),
            tokenHash: try row.string("token_hash"), createdAt: try row.date("created_at"), lastSeenAt: try row.date("last_seen_at"),
            idleExpiresAt: try row.date("idle_expires_at"), absoluteExpiresAt: try row.date("absolute_expires_at"),
            authTime: try row.date("auth_time"), amr: try JSONColumn.decode([String].self, try row.string("amr")),
            acr: try row.string("acr"), revokedAt: try row.optionalDate("revoked_at"),
            verificationProcess: try row.optionalString("verification_process"))
    }
}
