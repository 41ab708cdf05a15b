import Foundation
import SQLKit
import SigilStore

struct SQLSessionParticipantStore: SessionParticipantStore {
    let runner: SQLRunner
    static let columns = """
        tenant_id, session_id, application_id, protocol, name_id, name_id_format, session_index, subject, sid, created_at
        """

    func record(_ p: SessionParticipant) async throws {
        try await runner.write("session participant") { db in
            // The session must belong to the participant's tenant.
            let owner = try await db.raw("SELECT tenant_id FROM sessions WHERE id = \(bind: p.sessionID)").first()
            guard let owner, try owner.string("tenant_id") == p.tenantID else {
                throw StoreError.notFound("session", p.sessionID)
            }
            try await db.raw(
                """
                INSERT INTO session_participants (\(unsafeRaw: Self.columns))
                VALUES (\(bind: p.tenantID), \(bind: p.sessionID), \(bind: p.applicationID), \(bind: p.protocolKind.rawValue),
                        \(bind: p.nameID), \(bind: p.nameIDFormat), \(bind: p.sessionIndex), \(bind: p.subject), \(bind: p.sid),
                        \(bind: p.createdAt.ms))
                ON CONFLICT (session_id, application_id) DO UPDATE SET
                    protocol = excluded.protocol, name_id = excluded.name_id, name_id_format = excluded.name_id_format,
                    session_index = excluded.session_index, subject = excluded.subject, sid = excluded.sid
                """
            ).run()
        }
    }

    func list(tenantID: String, sessionID: String) async throws -> [SessionParticipant] {
        try await runner.read("session participant") { db in
            try await db.raw(
                """
                SELECT \(unsafeRaw: Self.columns) FROM session_participants
                WHERE tenant_id = \(bind: tenantID) AND session_id = \(bind: sessionID) ORDER BY created_at, application_id
                """
            ).all().map(Self.decode)
        }
    }

    func delete(tenantID: String, sessionID: String, applicationID: String) async throws -> Bool {
        try await runner.write("session participant") { db in
            try await !db.raw(
                """
                DELETE FROM session_participants
                WHERE tenant_id = \(bind: tenantID) AND session_id = \(bind: sessionID) AND application_id = \(bind: applicationID)
                RETURNING session_id
                """
            ).all().isEmpty
        }
    }

    func deleteAll(tenantID: String, sessionID: String) async throws -> Int {
        try await runner.write("session participant") { db in
            try await db.raw(
                """
                DELETE FROM session_participants WHERE tenant_id = \(bind: tenantID) AND session_id = \(bind: sessionID) RETURNING session_id
                """
            ).all().count
        }
    }

    func deleteExpired(now: Date) async throws -> Int {
        try await runner.write("session participant") { db in
            try await db.raw(
                """
                DELETE FROM session_participants WHERE session_id IN (
                    SELECT id FROM sessions WHERE absolute_expires_at <= \(bind: now.ms) OR idle_expires_at <= \(bind: now.ms)
                        OR revoked_at IS NOT NULL)
                RETURNING session_id
                """
            ).all().count
        }
    }

    static func decode(_ row: any SQLRow) throws -> SessionParticipant {
        guard let kind = SessionParticipant.ProtocolKind(rawValue: try row.string("protocol")) else {
            throw StoreError(.unavailable, entity: "session participant", detail: "stored protocol is unknown")
        }
        return SessionParticipant(
            tenantID: try row.string("tenant_id"), sessionID: try row.string("session_id"), applicationID: try row.string("application_id"),
            protocolKind: kind, nameID: try row.optionalString("name_id"), nameIDFormat: try row.optionalString("name_id_format"),
            sessionIndex: try row.optionalString("session_index"), subject: try row.optionalString("subject"),
            sid: try row.optionalString("sid"), createdAt: try row.date("created_at"))
    }
}
