import Foundation
import SQLKit
import SigilStore

struct SQLOAuthStore: OAuthStore {
    let runner: SQLRunner

    // MARK: grants

    static let grantColumns = "id, tenant_id, client_id, user_id, session_id, scopes, claims, created_at, expires_at, revoked_at"

    func createGrant(_ g: OAuthGrant) async throws -> OAuthGrant {
        let scopes = try JSONColumn.encode(g.scopes)
        return try await runner.write("oauth grant") { db in
            try await db.raw(
                """
                INSERT INTO oauth_grants (\(unsafeRaw: Self.grantColumns))
                VALUES (\(bind: g.id), \(bind: g.tenantID), \(bind: g.clientID), \(bind: g.userID), \(bind: g.sessionID),
                        \(bind: scopes), \(bind: g.claims), \(bind: g.createdAt.ms), \(bind: g.expiresAt.ms), \(bind: g.revokedAt.ms))
                """
            ).run()
            return g
        }
    }

    func grant(tenantID: String, id: String) async throws -> OAuthGrant? {
        try await runner.read("oauth grant") { db in
            try await db.raw(
                """
                SELECT \(unsafeRaw: Self.grantColumns) FROM oauth_grants WHERE tenant_id = \(bind: tenantID) AND id = \(bind: id)
                """
            ).first().map(Self.decodeGrant)
        }
    }

    func revokeGrant(tenantID: String, id: String, at: Date) async throws -> Bool {
        try await runner.write("oauth grant") { db in
            try await !db.raw(
                """
                UPDATE oauth_grants SET revoked_at = \(bind: at.ms)
                WHERE tenant_id = \(bind: tenantID) AND id = \(bind: id) AND revoked_at IS NULL RETURNING id
                """
            ).all().isEmpty
        }
    }

    func revokeGrants(tenantID: String, sessionID: String, at: Date) async throws -> Int {
        try await runner.write("oauth grant") { db in
            try await db.raw(
                """
                UPDATE oauth_grants SET revoked_at = \(bind: at.ms)
                WHERE tenant_id = \(bind: tenantID) AND session_id = \(bind: sessionID) AND revoked_at IS NULL RETURNING id
                """
            ).all().count
        }
    }

    static func decodeGrant(_ row: any SQLRow) throws -> OAuthGrant {
        OAuthGrant(
            id: try row.string("id"), tenantID: try row.string("tenant_id"), clientID: try row.string("client_id"),
            userID: try row.optionalString("user_id"), sessionID: try row.optionalString("session_id"),
            scopes: try JSONColumn.decode([String].self, try row.string("scopes")), claims: try row.optionalString("claims"),
            createdAt: try row.date("created_at"), expiresAt: try row.date("expires_at"), revokedAt: try row.optionalDate("revoked_at"))
    }

    // MARK: codes

    static let codeColumns = "code_hash, tenant_id, client_id, grant_id, user_id, request, created_at, expires_at, consumed_at"

    func createCode(_ c: AuthorizationCodeRecord) async throws {
        try await runner.write("authorization code") { db in
            try await db.raw(
                """
                INSERT INTO oauth_codes (\(unsafeRaw: Self.codeColumns))
                VALUES (\(bind: c.codeHash), \(bind: c.tenantID), \(bind: c.clientID), \(bind: c.grantID), \(bind: c.userID),
                        \(bind: c.request), \(bind: c.createdAt.ms), \(bind: c.expiresAt.ms), \(bind: c.consumedAt.ms))
                """
            ).run()
        }
    }

    func consumeCode(codeHash: String, at: Date) async throws -> AuthorizationCodeRecord? {
        try await runner.write("authorization code") { db in
            guard
                let before = try await db.raw(
                    """
                    SELECT \(unsafeRaw: Self.codeColumns) FROM oauth_codes WHERE code_hash = \(bind: codeHash)\(unsafeRaw: runner.forUpdate)
                    """
                ).first().map(Self.decodeCode)
            else { return nil }
            if before.consumedAt == nil {
                try await db.raw("UPDATE oauth_codes SET consumed_at = \(bind: at.ms) WHERE code_hash = \(bind: codeHash)").run()
            }
            return before
        }
    }

    static func decodeCode(_ row: any SQLRow) throws -> AuthorizationCodeRecord {
        AuthorizationCodeRecord(
            codeHash: try row.string("code_hash"), tenantID: try row.string("tenant_id"), clientID: try row.string("client_id"),
            grantID: try row.string("grant_id"), userID: try row.string("user_id"), request: try row.string("request"),
            createdAt: try row.date("created_at"), expiresAt: try row.date("expires_at"),
            consumedAt: try row.optionalDate("consumed_at"))
    }

    // MARK: refresh tokens

    static let refreshColumns = "token_hash, tenant_id, client_id, grant_id, user_id, scopes, data, created_at, expires_at, used_at"

    func createRefreshToken(_ t: RefreshTokenRecord) async throws {
        let scopes = try JSONColumn.encode(t.scopes)
        try await runner.write("refresh token") { db in
            try await db.raw(
                """
                INSERT INTO oauth_refresh_tokens (\(unsafeRaw: Self.refreshColumns))
                VALUES (\(bind: t.tokenHash), \(bind: t.tenantID), \(bind: t.clientID), \(bind: t.grantID), \(bind: t.userID),
                        \(bind: scopes), \(bind: t.data), \(bind: t.createdAt.ms), \(bind: t.expiresAt.ms), \(bind: t.usedAt.ms))
                """
            ).run()
        }
    }

    func useRefreshToken(tokenHash: String, at: Date) async throws -> RefreshTokenRecord? {
        try await runner.write("refresh token") { db in
            guard
                let before = try await db.raw(
                    """
                    SELECT \(unsafeRaw: Self.refreshColumns) FROM oauth_refresh_tokens
                    WHERE token_hash = \(bind: tokenHash)\(unsafeRaw: runner.forUpdate)
                    """
                ).first().map(Self.decodeRefresh)
            else { return nil }
            if before.usedAt == nil {
                try await db.raw("UPDATE oauth_refresh_tokens SET used_at = \(bind: at.ms) WHERE token_hash = \(bind: tokenHash)").run()
            }
            return before
        }
    }

    func findRefreshToken(tokenHash: String) async throws -> RefreshTokenRecord? {
        try await runner.read("refresh token") { db in
            try await db.raw(
                """
                SELECT \(unsafeRaw: Self.refreshColumns) FROM oauth_refresh_tokens WHERE token_hash = \(bind: tokenHash)
                """
            ).first().map(Self.decodeRefresh)
        }
    }

    static func decodeRefresh(_ row: any SQLRow) throws -> RefreshTokenRecord {
        RefreshTokenRecord(
            tokenHash: try row.string("token_hash"), tenantID: try row.string("tenant_id"), clientID: try row.string("client_id"),
            grantID: try row.string("grant_id"), userID: try row.string("user_id"),
            scopes: try JSONColumn.decode([String].self, try row.string("scopes")), data: try row.string("data"),
            createdAt: try row.date("created_at"), expiresAt: try row.date("expires_at"), usedAt: try row.optionalDate("used_at"))
    }

    // MARK: pushed authorization requests

    static let parColumns = "request_uri_hash, tenant_id, client_id, parameters, created_at, expires_at, claimed_at, consumed_at"

    func createPushedRequest(_ p: PushedAuthorizationRequestRecord) async throws {
        let parameters = try JSONColumn.encode(p.parameters)
        try await runner.write("pushed authorization request") { db in
            try await db.raw(
                """
                INSERT INTO oauth_par_requests (\(unsafeRaw: Self.parColumns))
                VALUES (\(bind: p.requestURIHash), \(bind: p.tenantID), \(bind: p.clientID), \(bind: parameters), \(bind: p.createdAt.ms),
                        \(bind: p.expiresAt.ms), \(bind: p.claimedAt.ms), \(bind: p.consumedAt.ms))
                """
            ).run()
        }
    }

    func findPushedRequest(requestURIHash: String) async throws -> PushedAuthorizationRequestRecord? {
        try await runner.read("pushed authorization request") { db in
            try await db.raw(
                """
                SELECT \(unsafeRaw: Self.parColumns) FROM oauth_par_requests WHERE request_uri_hash = \(bind: requestURIHash)
                """
            ).first().map(Self.decodePAR)
        }
    }

    func claimPushedRequest(requestURIHash: String, at: Date, expiresAt: Date) async throws -> Bool {
        try await runner.write("pushed authorization request") { db in
            try await !db.raw(
                """
                UPDATE oauth_par_requests SET claimed_at = \(bind: at.ms), expires_at = \(bind: expiresAt.ms)
                WHERE request_uri_hash = \(bind: requestURIHash) AND claimed_at IS NULL AND consumed_at IS NULL
                    AND expires_at > \(bind: at.ms) RETURNING request_uri_hash
                """
            ).all().isEmpty
        }
    }

    func consumePushedRequest(requestURIHash: String, at: Date) async throws -> Bool {
        try await runner.write("pushed authorization request") { db in
            try await !db.raw(
                """
                UPDATE oauth_par_requests SET consumed_at = \(bind: at.ms)
                WHERE request_uri_hash = \(bind: requestURIHash) AND consumed_at IS NULL AND expires_at > \(bind: at.ms)
                RETURNING request_uri_hash
                """
            ).all().isEmpty
        }
    }

    static func decodePAR(_ row: any SQLRow) throws -> PushedAuthorizationRequestRecord {
        PushedAuthorizationRequestRecord(
            requestURIHash: try row.string("request_uri_hash"), tenantID: try row.string("tenant_id"), clientID: try row.string("client_id"),
            parameters: try JSONColumn.decode([String: String].self, try row.string("parameters")), createdAt: try row.date("created_at"),
            expiresAt: try row.date("expires_at"), claimedAt: try row.optionalDate("claimed_at"), consumedAt: try row.optionalDate("consumed_at"))
    }

    // MARK: client assertion ids

    func recordAssertionID(tenantID: String, clientID: String, jti: String, expiresAt: Date) async throws {
        try await runner.write("client assertion") { db in
            try await db.raw(
                """
                INSERT INTO oauth_assertion_ids (tenant_id, client_id, jti, expires_at)
                VALUES (\(bind: tenantID), \(bind: clientID), \(bind: jti), \(bind: expiresAt.ms))
                """
            ).run()
        }
    }

    // MARK: expiry

    func deleteExpired(now: Date) async throws -> Int {
        try await runner.write("oauth") { db in
            var total = 0
            for table in ["oauth_codes", "oauth_refresh_tokens", "oauth_par_requests", "oauth_assertion_ids"] {
                total += try await db.raw(
                    """
                    DELETE FROM \(unsafeRaw: table) WHERE expires_at <= \(bind: now.ms) RETURNING expires_at
                    """
                ).all().count
            }
            total += try await db.raw(
                """
                DELETE FROM oauth_grants WHERE expires_at <= \(bind: now.ms) RETURNING id
                """
            ).all().count
            return total
        }
    }
}
