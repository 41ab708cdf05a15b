import Foundation
import SQLKit
import SigilIDV
import SigilStore

struct SQLIDVStore: IDVStore {
    let runner: SQLRunner
    static let subjectColumns =
        "tenant_id, id, client_id, external_key_hash, user_id, sealed_identity, status, verified_at, identity_expires_at, created_at"

    func settings(tenantID: String) async throws -> IDVSettings? {
        try await runner.read("idv settings") { db in
            try await db.raw("SELECT settings FROM idv_settings WHERE tenant_id = \(bind: tenantID)").first()
                .map { try JSONColumn.decode(IDVSettings.self, try $0.string("settings")) }
        }
    }

    func saveSettings(tenantID: String, _ settings: IDVSettings, at: Date) async throws {
        let text = try JSONColumn.encode(settings)
        try await runner.write("idv settings") { db in
            try await db.raw(
                """
                INSERT INTO idv_settings (tenant_id, settings, updated_at) VALUES (\(bind: tenantID), \(bind: text), \(bind: at.ms))
                ON CONFLICT (tenant_id) DO UPDATE SET settings = \(bind: text), updated_at = \(bind: at.ms)
                """
            ).run()
        }
    }

    func cscas(tenantID: String) async throws -> [CSCARecord] {
        try await runner.read("csca") { db in
            try await db.raw(
                "SELECT tenant_id, id, subject, der, created_at FROM idv_cscas WHERE tenant_id = \(bind: tenantID) ORDER BY created_at, id"
            ).all().map { row in
                CSCARecord(
                    tenantID: try row.string("tenant_id"), id: try row.string("id"), subject: try row.string("subject"),
                    der: [UInt8](Data(base64Encoded: try row.string("der")) ?? Data()), createdAt: try row.date("created_at"))
            }
        }
    }

    func addCSCA(_ r: CSCARecord) async throws -> Bool {
        try await runner.write("csca") { db in
            let rows = try await db.raw(
                """
                INSERT INTO idv_cscas (tenant_id, id, subject, der, created_at)
                VALUES (\(bind: r.tenantID), \(bind: r.id), \(bind: r.subject), \(bind: Data(r.der).base64EncodedString()), \(bind: r.createdAt.ms))
                ON CONFLICT (tenant_id, id) DO NOTHING RETURNING id
                """
            ).all()
            return !rows.isEmpty
        }
    }

    func deleteCSCA(tenantID: String, id: String) async throws -> Bool {
        try await runner.write("csca") { db in
            !(try await db.raw("DELETE FROM idv_cscas WHERE tenant_id = \(bind: tenantID) AND id = \(bind: id) RETURNING id").all()).isEmpty
        }
    }

    func putEvidence(_ r: IDVEvidenceRecord) async throws {
        try await runner.write("idv evidence") { db in
            try await db.raw(
                """
                INSERT INTO idv_evidence (tenant_id, session_id, kind, sealed, created_at, expires_at)
                VALUES (\(bind: r.tenantID), \(bind: r.sessionID), \(bind: r.kind), \(bind: r.sealed), \(bind: r.createdAt.ms), \(bind: r.expiresAt.ms))
                ON CONFLICT (tenant_id, session_id, kind) DO UPDATE SET sealed = \(bind: r.sealed), created_at = \(bind: r.createdAt.ms),
                    expires_at = \(bind: r.expiresAt.ms)
                """
            ).run()
        }
    }

    func evidence(tenantID: String, sessionID: String) async throws -> [IDVEvidenceRecord] {
        try await runner.read("idv evidence") { db in
            try await db.raw(
                """
                SELECT tenant_id, session_id, kind, sealed, created_at, expires_at FROM idv_evidence
                WHERE tenant_id = \(bind: tenantID) AND session_id = \(bind: sessionID) ORDER BY kind
                """
            ).all().map { row in
                IDVEvidenceRecord(
                    tenantID: try row.string("tenant_id"), sessionID: try row.string("session_id"), kind: try row.string("kind"),
                    sealed: try row.string("sealed"), createdAt: try row.date("created_at"), expiresAt: try row.date("expires_at"))
            }
        }
    }

    func deleteEvidence(tenantID: String, sessionID: String) async throws -> Int {
        try await runner.write("idv evidence") { db in
            try await db.raw(
                "DELETE FROM idv_evidence WHERE tenant_id = \(bind: tenantID) AND session_id = \(bind: sessionID) RETURNING kind"
            ).all().count
        }
    }

    func subject(tenantID: String, id: String) async throws -> IDVSubject? {
        try await runner.read("idv subject") { db in
            try await db.raw("SELECT \(unsafeRaw: Self.subjectColumns) FROM idv_subjects WHERE tenant_id = \(bind: tenantID) AND id = \(bind: id)")
                .first().map(Self.decodeSubject)
        }
    }

    func subject(tenantID: String, clientID: String, externalKeyHash: String) async throws -> IDVSubject? {
        try await runner.read("idv subject") { db in
            try await db.raw(
                """
                SELECT \(unsafeRaw: Self.subjectColumns) FROM idv_subjects
                WHERE tenant_id = \(bind: tenantID) AND client_id = \(bind: clientID) AND external_key_hash = \(bind: externalKeyHash)
                """
            ).first().map(Self.decodeSubject)
        }
    }

    func subjects(tenantID: String, userID: String) async throws -> [IDVSubject] {
        try await runner.read("idv subject") { db in
            try await db.raw(
                "SELECT \(unsafeRaw: Self.subjectColumns) FROM idv_subjects WHERE tenant_id = \(bind: tenantID) AND user_id = \(bind: userID) ORDER BY id"
            ).all().map(Self.decodeSubject)
        }
    }

    func saveSubject(_ s: IDVSubject) async throws {
        try await runner.write("idv subject") { db in
            try await db.raw(
                """
                INSERT INTO idv_subjects (\(unsafeRaw: Self.subjectColumns))
                VALUES (\(bind: s.tenantID), \(bind: s.id), \(bind: s.clientID), \(bind: s.externalKeyHash), \(bind: s.userID),
                        \(bind: s.sealedIdentity), \(bind: s.status), \(bind: s.verifiedAt.ms), \(bind: s.identityExpiresAt.ms), \(bind: s.createdAt.ms))
                ON CONFLICT (tenant_id, id) DO UPDATE SET sealed_identity = \(bind: s.sealedIdentity), status = \(bind: s.status),
                    verified_at = \(bind: s.verifiedAt.ms), identity_expires_at = \(bind: s.identityExpiresAt.ms), user_id = \(bind: s.userID)
                """
            ).run()
        }
    }

    func deleteSubject(tenantID: String, id: String) async throws -> Bool {
        try await runner.write("idv subject") { db in
            !(try await db.raw("DELETE FROM idv_subjects WHERE tenant_id = \(bind: tenantID) AND id = \(bind: id) RETURNING id").all()).isEmpty
        }
    }

    func sweep(before: Date) async throws -> (evidence: Int, identities: Int) {
        try await runner.write("idv retention") { db in
            let evidence = try await db.raw("DELETE FROM idv_evidence WHERE expires_at < \(bind: before.ms) RETURNING kind").all().count
            let identities = try await db.raw(
                """
                UPDATE idv_subjects SET sealed_identity = NULL, status = NULL, verified_at = NULL, identity_expires_at = NULL
                WHERE identity_expires_at IS NOT NULL AND identity_expires_at < \(bind: before.ms) RETURNING id
                """
            ).all().count
            return (evidence, identities)
        }
    }

    static func decodeSubject(_ row: any SQLRow) throws -> IDVSubject {
        IDVSubject(
            tenantID: try row.string("tenant_id"), id: try row.string("id"), clientID: try row.optionalString("client_id"),
            externalKeyHash: try row.optionalString("external_key_hash"), userID: try row.optionalString("user_id"),
            sealedIdentity: try row.optionalString("sealed_identity"), status: try row.optionalString("status"),
            verifiedAt: try row.optionalDate("verified_at"), identityExpiresAt: try row.optionalDate("identity_expires_at"),
            createdAt: try row.date("created_at"))
    }
}
