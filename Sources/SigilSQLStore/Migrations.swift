import Foundation
import SQLKit

/// One schema change. Migrations are ordered by `version`, live in code, and are recorded in
/// `sigil_migrations`; each runs once, inside the same transaction as its record.
struct Migration: Sendable {
    let version: Int
    let name: String
    let statements: @Sendable (SQLFlavor) -> [String]
}

enum Migrations {
    static let all: [Migration] = [
        Migration(version: 1, name: "foundation") { flavor in
            [
                """
                CREATE TABLE tenants (
                    id TEXT PRIMARY KEY,
                    slug TEXT NOT NULL UNIQUE,
                    display_name TEXT NOT NULL,
                    host TEXT UNIQUE,
                    created_at BIGINT NOT NULL,
                    updated_at BIGINT NOT NULL
                )
                """,
                """
                CREATE TABLE users (
                    id TEXT PRIMARY KEY,
                    tenant_id TEXT NOT NULL REFERENCES tenants(id),
                    email TEXT NOT NULL,
                    email_normalized TEXT NOT NULL,
                    given_name TEXT NOT NULL,
                    family_name TEXT NOT NULL,
                    status TEXT NOT NULL,
                    created_at BIGINT NOT NULL,
                    updated_at BIGINT NOT NULL,
                    version BIGINT NOT NULL,
                    UNIQUE (tenant_id, email_normalized)
                )
                """,
                "CREATE INDEX users_by_tenant ON users (tenant_id, id)",
                """
                CREATE TABLE applications (
                    id TEXT PRIMARY KEY,
                    tenant_id TEXT NOT NULL REFERENCES tenants(id),
                    name TEXT NOT NULL,
                    kind TEXT NOT NULL,
                    client_id TEXT,
                    entity_id TEXT,
                    settings TEXT NOT NULL,
                    created_at BIGINT NOT NULL,
                    updated_at BIGINT NOT NULL,
                    version BIGINT NOT NULL,
                    UNIQUE (tenant_id, client_id),
                    UNIQUE (tenant_id, entity_id)
                )
                """,
                "CREATE INDEX applications_by_tenant ON applications (tenant_id, id)",
                """
                CREATE TABLE signing_keys (
                    kid TEXT NOT NULL,
                    tenant_id TEXT NOT NULL REFERENCES tenants(id),
                    algorithm TEXT NOT NULL,
                    state TEXT NOT NULL,
                    sealed_private_key TEXT NOT NULL,
                    public_jwk TEXT NOT NULL,
                    certificate_pem TEXT,
                    created_at BIGINT NOT NULL,
                    updated_at BIGINT NOT NULL,
                    PRIMARY KEY (tenant_id, kid)
                )
                """,
                """
                CREATE TABLE admin_tokens (
                    id TEXT PRIMARY KEY,
                    tenant_id TEXT REFERENCES tenants(id),
                    name TEXT NOT NULL,
                    token_hash TEXT NOT NULL UNIQUE,
                    created_at BIGINT NOT NULL,
                    expires_at BIGINT,
                    revoked_at BIGINT
                )
                """,
                """
                CREATE TABLE enrolment_tokens (
                    id TEXT PRIMARY KEY,
                    tenant_id TEXT NOT NULL REFERENCES tenants(id),
                    purpose TEXT NOT NULL,
                    user_id TEXT,
                    token_hash TEXT NOT NULL UNIQUE,
                    created_at BIGINT NOT NULL,
                    expires_at BIGINT NOT NULL,
                    consumed_at BIGINT
                )
                """,
                """
                CREATE TABLE audit_events (
                    id TEXT PRIMARY KEY,
                    tenant_id TEXT,
                    occurred_at BIGINT NOT NULL,
                    actor TEXT NOT NULL,
                    action TEXT NOT NULL,
                    target_type TEXT,
                    target_id TEXT,
                    outcome TEXT NOT NULL,
                    before_summary TEXT,
                    after_summary TEXT,
                    reason TEXT
                )
                """,
                "CREATE INDEX audit_events_by_tenant ON audit_events (tenant_id, id)",
            ]
        },
    ]

    static var latestVersion: Int { all.last?.version ?? 0 }

    static let createLedger = """
        CREATE TABLE IF NOT EXISTS sigil_migrations (
            version BIGINT PRIMARY KEY,
            name TEXT NOT NULL,
            applied_at BIGINT NOT NULL
        )
        """

    /// Applies every missing migration in order; returns the versions applied now. Safe to run
    /// from several processes at once: PostgreSQL takes a transaction-scoped advisory lock,
    /// SQLite's `BEGIN IMMEDIATE` serializes writers.
    static func migrate(_ backend: any SQLBackend, now: Date) async throws -> [Int] {
        try await backend.withTransaction { db in
            if backend.flavor == .postgres {
                try await db.raw("SELECT pg_advisory_xact_lock(5119004200)").run()
            }
            try await db.raw(SQLQueryString(createLedger)).run()
            let applied = try await appliedVersions(db)
            if let newest = applied.max(), newest > latestVersion {
                throw SQLStoreError.schemaNewerThanBinary(applied: newest, known: latestVersion)
            }
            var done: [Int] = []
            for migration in all where !applied.contains(migration.version) {
                for statement in migration.statements(backend.flavor) {
                    try await db.raw(SQLQueryString(statement)).run()
                }
                try await db.raw("""
                    INSERT INTO sigil_migrations (version, name, applied_at)
                    VALUES (\(bind: migration.version), \(bind: migration.name), \(bind: now.unixMillisecondsForStore))
                    """).run()
                done.append(migration.version)
            }
            return done
        }
    }

    static func appliedVersions(_ db: any SQLDatabase) async throws -> Set<Int> {
        let rows = try await db.raw("SELECT version FROM sigil_migrations").all()
        return Set(try rows.map { Int(try $0.decode(column: "version", as: Int64.self)) })
    }
}

extension Date {
    var unixMillisecondsForStore: Int64 { Int64((timeIntervalSince1970 * 1000).rounded(.down)) }
}
