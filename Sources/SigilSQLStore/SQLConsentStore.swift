import Foundation
import SQLKit
import SigilStore

struct SQLConsentStore: ConsentStore {
    let runner: SQLRunner

    static let columns = "tenant_id, user_id, client_id, scopes, claims, created_at, updated_at"

    func find(tenantID: String, userID: String, clientID: String) async throws -> ConsentGrant? {
        try await runner.read("consent") { db in
            try await db.raw(
                """
                SELECT \(unsafeRaw: Self.columns) FROM oauth_consents
                WHERE tenant_id = \(bind: tenantID) AND user_id = \(bind: userID) AND client_id = \(bind: clientID)
                """
            ).first().map(Self.decode)
        }
    }

    func save(_ g: ConsentGrant) async throws -> ConsentGrant {
        let scopes = try JSONColumn.encode(g.scopes), claims = try JSONColumn.encode(g.claims)
        return try await runner.write("consent") { db in
            // One statement in both dialects: the primary key decides insert or update.
            try await db.raw(
                """
                INSERT INTO oauth_consents (\(unsafeRaw: Self.columns))
                VALUES (\(bind: g.tenantID), \(bind: g.userID), \(bind: g.clientID), \(bind: scopes), \(bind: claims),
                        \(bind: g.createdAt.ms), \(bind: g.updatedAt.ms))
                ON CONFLICT (tenant_id, user_id, client_id) DO UPDATE
                SET scopes = excluded.scopes, claims = excluded.claims, updated_at = excluded.updated_at
                """
            ).run()
            guard
                let stored = try await db.raw(
                    """
                    SELECT \(unsafeRaw: Self.columns) FROM oauth_consents
                    WHERE tenant_id = \(bind: g.tenantID) AND user_id = \(bind: g.userID) AND client_id = \(bind: g.clientID)
                    """
                ).first().map(Self.decode)
            else {
                throw StoreError.notFound("consent")
            }
            return stored
        }
    }

    func list(tenantID: String, userID: String) async throws -> [ConsentGrant] {
        try await runner.read("consent") { db in
            try await db.raw(
                """
                SELECT \(unsafeRaw: Self.columns) FROM oauth_consents
                WHERE tenant_id = \(bind: tenantID) AND user_id = \(bind: userID) ORDER BY client_id
                """
            ).all().map(Self.decode)
        }
    }

    func delete(tenantID: String, userID: String, clientID: String) async throws -> ConsentGrant? {
        try await runner.write("consent") { db in
            try await db.raw(
                """
                DELETE FROM oauth_consents
                WHERE tenant_id = \(bind: tenantID) AND user_id = \(bind: userID) AND client_id = \(bind: clientID)
                RETURNING \(unsafeRaw: Self.columns)
                """
            ).first().map(Self.decode)
        }
    }

    func revokeTokens(tenantID: String, userID: String, clientID: String, at: Date) async throws -> Int {
        try await runner.write("oauth grant") { db in
            try await db.raw(
                """
                UPDATE oauth_grants SET revoked_at = \(bind: at.ms)
                WHERE tenant_id = \(bind: tenantID) AND user_id = \(bind: userID) AND client_id = \(bind: clientID)
                    AND revoked_at IS NULL RETURNING id
                """
            ).all().count
        }
    }

    static func decode(_ row: any SQLRow) throws -> ConsentGrant {
        ConsentGrant(
            tenantID: try row.string("tenant_id"), userID: try row.string("user_id"), clientID: try row.string("client_id"),
            scopes: try JSONColumn.decode([String].self, try row.string("scopes")),
            claims: try JSONColumn.decode([String].self, try row.string("claims")),
            createdAt: try row.date("created_at"), updatedAt: try row.date("updated_at"))
    }
}
