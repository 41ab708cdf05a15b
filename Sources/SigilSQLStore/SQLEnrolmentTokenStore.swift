import Foundation
import SQLKit
import SigilStore

struct SQLEnrolmentTokenStore: EnrolmentTokenStore {
    let runner: SQLRunner
    static let columns = "id, tenant_id, purpose, user_id, token_hash, created_at, expires_at, consumed_at"

    func create(_ token: EnrolmentToken) async throws -> EnrolmentToken {
        try await runner.write("enrolment token") { db in
            try await db.raw(
                """
                INSERT INTO enrolment_tokens (\(unsafeRaw: Self.columns))
                VALUES (\(bind: token.id), \(bind: token.tenantID), \(bind: token.purpose.rawValue), \(bind: token.userID),
                        \(bind: token.tokenHash), \(bind: token.createdAt.ms), \(bind: token.expiresAt.ms), \(bind: token.consumedAt.ms))
                """
            ).run()
            return token
        }
    }

    func consume(tokenHash: String, now: Date) async throws -> EnrolmentToken {
        // One conditional UPDATE: of two concurrent consumers exactly one gets the row.
        let row = try await runner.write("enrolment token") { db in
            try await db.raw(
                """
                UPDATE enrolment_tokens SET consumed_at = \(bind: now.ms)
                WHERE token_hash = \(bind: tokenHash) AND consumed_at IS NULL AND expires_at > \(bind: now.ms)
                RETURNING \(unsafeRaw: Self.columns)
                """
            ).first().map(Self.decode)
        }
        guard let row else { throw StoreError.notFound("enrolment token", "unknown, used or expired") }
        return row
    }

    func findUsable(tokenHash: String, now: Date) async throws -> EnrolmentToken? {
        try await runner.read("enrolment token") { db in
            try await db.raw(
                """
                SELECT \(unsafeRaw: Self.columns) FROM enrolment_tokens
                WHERE token_hash = \(bind: tokenHash) AND consumed_at IS NULL AND expires_at > \(bind: now.ms)
                """
            ).first().map(Self.decode)
        }
    }

    func anyConsumed(tenantID: String, purpose: EnrolmentToken.Purpose) async throws -> Bool {
        try await runner.read("enrolment token") { db in
            try await db.raw(
                """
                SELECT id FROM enrolment_tokens
                WHERE tenant_id = \(bind: tenantID) AND purpose = \(bind: purpose.rawValue) AND consumed_at IS NOT NULL LIMIT 1
                """
            ).first() != nil
        }
    }

    func deleteExpired(now: Date) async throws -> Int {
        try await runner.write("enrolment token") { db in
            try await db.raw("DELETE FROM enrolment_tokens WHERE expires_at <= \(bind: now.ms) RETURNING id").all().count
        }
    }

    static func decode(_ row: any SQLRow) throws -> EnrolmentToken {
        guard let purpose = EnrolmentToken.Purpose(rawValue: try row.string("purpose")) else {
            throw StoreError(.unavailable, entity: "enrolment token", detail: "stored purpose is unknown")
        }
        return EnrolmentToken(
            id: try row.string("id"), tenantID: try row.string("tenant_id"), purpose: purpose,
            userID: try row.optionalString("user_id"), tokenHash: try row.string("token_hash"),
            createdAt: try row.date("created_at"), expiresAt: try row.date("expires_at"),
            consumedAt: try row.optionalDate("consumed_at"))
    }
}
