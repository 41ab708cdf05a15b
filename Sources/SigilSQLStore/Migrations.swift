import Foundation
import SQLKit

/// One schema change. Migrations are ordered by `version`, live in code, and are recorded in
/// `sigil_migrations`; each runs once, inside the same transaction as its record.
struct Migration: Sendable {
    let version: Int
    let name: String
    let statements: @Sendable (SQLFlavor) -> [String]
    /// Work SQL alone cannot do (Unicode normalisation), run after `statements` in the same
    /// transaction, with the migration's time.
    let code: (@Sendable (any SQLDatabase, Date) async throws -> Void)?

    init(
        version: Int, name: String, statements: @escaping @Sendable (SQLFlavor) -> [String],
        code: (@Sendable (any SQLDatabase, Date) async throws -> Void)? = nil
    ) {
        self.version = version; self.name = name; self.statements = statements; self.code = code
    }
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
        Migration(version: 2, name: "sign-in") { _ in
            [
                "ALTER TABLE users ADD COLUMN roles TEXT NOT NULL DEFAULT '[]'",
                """
                CREATE TABLE passkeys (
                    credential_id TEXT NOT NULL,
                    tenant_id TEXT NOT NULL REFERENCES tenants(id),
                    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                    public_key TEXT NOT NULL,
                    algorithm BIGINT NOT NULL,
                    sign_count BIGINT NOT NULL,
                    aaguid TEXT NOT NULL,
                    backup_eligible BIGINT NOT NULL,
                    backup_state BIGINT NOT NULL,
                    transports TEXT NOT NULL,
                    attestation_type TEXT NOT NULL,
                    name TEXT NOT NULL,
                    clone_warning BIGINT NOT NULL,
                    created_at BIGINT NOT NULL,
                    last_used_at BIGINT,
                    PRIMARY KEY (tenant_id, credential_id)
                )
                """,
                "CREATE INDEX passkeys_by_user ON passkeys (tenant_id, user_id)",
                """
                CREATE TABLE authenticator_devices (
                    id TEXT PRIMARY KEY,
                    tenant_id TEXT NOT NULL REFERENCES tenants(id),
                    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                    public_key TEXT NOT NULL,
                    name TEXT NOT NULL,
                    platform TEXT NOT NULL,
                    sealed_push_token TEXT,
                    created_at BIGINT NOT NULL,
                    last_used_at BIGINT,
                    UNIQUE (tenant_id, public_key)
                )
                """,
                "CREATE INDEX authenticator_devices_by_user ON authenticator_devices (tenant_id, user_id)",
                """
                CREATE TABLE sessions (
                    id TEXT PRIMARY KEY,
                    tenant_id TEXT NOT NULL REFERENCES tenants(id),
                    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                    token_hash TEXT NOT NULL UNIQUE,
                    created_at BIGINT NOT NULL,
                    last_seen_at BIGINT NOT NULL,
                    idle_expires_at BIGINT NOT NULL,
                    absolute_expires_at BIGINT NOT NULL,
                    auth_time BIGINT NOT NULL,
                    amr TEXT NOT NULL,
                    acr TEXT NOT NULL,
                    revoked_at BIGINT
                )
                """,
                "CREATE INDEX sessions_by_user ON sessions (tenant_id, user_id)",
                """
                CREATE TABLE login_transactions (
                    id TEXT PRIMARY KEY,
                    tenant_id TEXT NOT NULL REFERENCES tenants(id),
                    kind TEXT NOT NULL,
                    state TEXT NOT NULL,
                    challenge TEXT NOT NULL,
                    secret_hash TEXT,
                    user_id TEXT,
                    device_id TEXT,
                    number TEXT,
                    context TEXT NOT NULL,
                    failures BIGINT NOT NULL,
                    created_at BIGINT NOT NULL,
                    updated_at BIGINT NOT NULL,
                    expires_at BIGINT NOT NULL,
                    version BIGINT NOT NULL
                )
                """,
                "CREATE INDEX login_transactions_pending ON login_transactions (tenant_id, user_id, kind, state)",
            ]
        },
        Migration(version: 3, name: "authenticator") { _ in
            [
                "ALTER TABLE authenticator_devices ADD COLUMN key_protection TEXT NOT NULL DEFAULT 'software'",
                """
                CREATE TABLE authenticator_nonces (
                    device_id TEXT NOT NULL REFERENCES authenticator_devices(id) ON DELETE CASCADE,
                    nonce TEXT NOT NULL,
                    expires_at BIGINT NOT NULL,
                    PRIMARY KEY (device_id, nonce)
                )
                """,
                "CREATE INDEX authenticator_nonces_expiry ON authenticator_nonces (expires_at)",
                """
                CREATE TABLE authenticator_user_state (
                    tenant_id TEXT NOT NULL REFERENCES tenants(id),
                    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                    window_started_at BIGINT NOT NULL,
                    window_count BIGINT NOT NULL,
                    last_push_at BIGINT,
                    blocked_until BIGINT,
                    updated_at BIGINT NOT NULL,
                    PRIMARY KEY (tenant_id, user_id)
                )
                """,
                "CREATE INDEX login_transactions_device ON login_transactions (tenant_id, device_id)",
            ]
        },
        Migration(version: 4, name: "oauth") { _ in
            [
                """
                CREATE TABLE oauth_grants (
                    id TEXT PRIMARY KEY,
                    tenant_id TEXT NOT NULL REFERENCES tenants(id),
                    client_id TEXT NOT NULL,
                    user_id TEXT REFERENCES users(id) ON DELETE CASCADE,
                    session_id TEXT,
                    scopes TEXT NOT NULL,
                    claims TEXT,
                    created_at BIGINT NOT NULL,
                    expires_at BIGINT NOT NULL,
                    revoked_at BIGINT
                )
                """,
                "CREATE INDEX oauth_grants_by_session ON oauth_grants (tenant_id, session_id)",
                "CREATE INDEX oauth_grants_expiry ON oauth_grants (expires_at)",
                """
                CREATE TABLE oauth_codes (
                    code_hash TEXT PRIMARY KEY,
                    tenant_id TEXT NOT NULL REFERENCES tenants(id),
                    client_id TEXT NOT NULL,
                    grant_id TEXT NOT NULL REFERENCES oauth_grants(id) ON DELETE CASCADE,
                    user_id TEXT NOT NULL,
                    request TEXT NOT NULL,
                    created_at BIGINT NOT NULL,
                    expires_at BIGINT NOT NULL,
                    consumed_at BIGINT
                )
                """,
                "CREATE INDEX oauth_codes_expiry ON oauth_codes (expires_at)",
                """
                CREATE TABLE oauth_refresh_tokens (
                    token_hash TEXT PRIMARY KEY,
                    tenant_id TEXT NOT NULL REFERENCES tenants(id),
                    client_id TEXT NOT NULL,
                    grant_id TEXT NOT NULL REFERENCES oauth_grants(id) ON DELETE CASCADE,
                    user_id TEXT NOT NULL,
                    scopes TEXT NOT NULL,
                    data TEXT NOT NULL,
                    created_at BIGINT NOT NULL,
                    expires_at BIGINT NOT NULL,
                    used_at BIGINT
                )
                """,
                "CREATE INDEX oauth_refresh_tokens_expiry ON oauth_refresh_tokens (expires_at)",
                """
                CREATE TABLE oauth_par_requests (
                    request_uri_hash TEXT PRIMARY KEY,
                    tenant_id TEXT NOT NULL REFERENCES tenants(id),
                    client_id TEXT NOT NULL,
                    parameters TEXT NOT NULL,
                    created_at BIGINT NOT NULL,
                    expires_at BIGINT NOT NULL,
                    claimed_at BIGINT,
                    consumed_at BIGINT
                )
                """,
                "CREATE INDEX oauth_par_requests_expiry ON oauth_par_requests (expires_at)",
                """
                CREATE TABLE oauth_assertion_ids (
                    tenant_id TEXT NOT NULL REFERENCES tenants(id),
                    client_id TEXT NOT NULL,
                    jti TEXT NOT NULL,
                    expires_at BIGINT NOT NULL,
                    PRIMARY KEY (tenant_id, client_id, jti)
                )
                """,
                "CREATE INDEX oauth_assertion_ids_expiry ON oauth_assertion_ids (expires_at)",
            ]
        },
        // The relying parties each browser session signed into (SAML SLO, OIDC back-channel logout).
        Migration(version: 5, name: "session-participants") { _ in
            [
                """
                CREATE TABLE session_participants (
                    tenant_id TEXT NOT NULL REFERENCES tenants(id),
                    session_id TEXT NOT NULL REFERENCES sessions(id) ON DELETE CASCADE,
                    application_id TEXT NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
                    protocol TEXT NOT NULL,
                    name_id TEXT,
                    name_id_format TEXT,
                    session_index TEXT,
                    subject TEXT,
                    sid TEXT,
                    created_at BIGINT NOT NULL,
                    PRIMARY KEY (session_id, application_id)
                )
                """,
                "CREATE INDEX session_participants_by_application ON session_participants (application_id)",
            ]
        },
        Migration(version: 6, name: "consent") { _ in
            [
                """
                CREATE TABLE oauth_consents (
                    tenant_id TEXT NOT NULL REFERENCES tenants(id),
                    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                    client_id TEXT NOT NULL,
                    scopes TEXT NOT NULL,
                    claims TEXT NOT NULL,
                    created_at BIGINT NOT NULL,
                    updated_at BIGINT NOT NULL,
                    PRIMARY KEY (tenant_id, user_id, client_id)
                )
                """,
                "CREATE INDEX oauth_grants_by_user_client ON oauth_grants (tenant_id, user_id, client_id)",
            ]
        },
        Migration(version: 7, name: "logout-deliveries") { _ in
            [
                """
                CREATE TABLE logout_deliveries (
                    id TEXT PRIMARY KEY,
                    tenant_id TEXT NOT NULL REFERENCES tenants(id),
                    application_id TEXT NOT NULL REFERENCES applications(id) ON DELETE CASCADE,
                    session_id TEXT NOT NULL,
                    subject TEXT NOT NULL,
                    sid TEXT NOT NULL,
                    issuer TEXT NOT NULL,
                    rounds BIGINT NOT NULL,
                    next_attempt_at BIGINT NOT NULL,
                    claimed_until BIGINT,
                    created_at BIGINT NOT NULL
                )
                """,
                "CREATE INDEX logout_deliveries_due ON logout_deliveries (next_attempt_at)",
                "CREATE INDEX logout_deliveries_by_tenant ON logout_deliveries (tenant_id, next_attempt_at)",
            ]
        },
        // Email uniqueness keys were lower case only; they are now PRECIS case-mapped (NFC, width
        // mapping): recompute them, and report users whose addresses now collide.
        Migration(
            version: 8, name: "identifier-normalisation", statements: { _ in [] },
            code: { db, now in
                try await IdentifierNormalisation.run(db, now: now)
            }),
        Migration(
            version: 9, name: "typed-flow-state", statements: { _ in [] },
            code: { db, _ in
                try await FlowStateMigration.run(db)
            }),
        Migration(
            version: 10, name: "audit-chain", statements: AuditChainMigration.statements,
            code: { db, now in
                try await AuditChainMigration.run(db, now: now)
            }),
        Migration(version: 11, name: "upstream-connections") { _ in
            [
                """
                CREATE TABLE upstream_connections (
                    id TEXT PRIMARY KEY,
                    tenant_id TEXT NOT NULL REFERENCES tenants(id),
                    name TEXT NOT NULL,
                    display_name TEXT NOT NULL,
                    enabled BIGINT NOT NULL,
                    has_metadata_url BIGINT NOT NULL,
                    settings TEXT NOT NULL,
                    created_at BIGINT NOT NULL,
                    updated_at BIGINT NOT NULL,
                    version BIGINT NOT NULL,
                    UNIQUE (tenant_id, name)
                )
                """,
                """
                CREATE TABLE upstream_links (
                    tenant_id TEXT NOT NULL REFERENCES tenants(id),
                    connection_id TEXT NOT NULL REFERENCES upstream_connections(id) ON DELETE CASCADE,
                    subject TEXT NOT NULL,
                    user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
                    created_at BIGINT NOT NULL,
                    last_seen_at BIGINT NOT NULL,
                    PRIMARY KEY (tenant_id, connection_id, subject)
                )
                """,
                "CREATE INDEX upstream_links_by_user ON upstream_links (tenant_id, user_id)",
                """
                CREATE TABLE upstream_sessions (
                    session_id TEXT PRIMARY KEY REFERENCES sessions(id) ON DELETE CASCADE,
                    tenant_id TEXT NOT NULL REFERENCES tenants(id),
                    connection_id TEXT NOT NULL REFERENCES upstream_connections(id) ON DELETE CASCADE,
                    subject TEXT NOT NULL,
                    subject_format TEXT,
                    session_index TEXT,
                    created_at BIGINT NOT NULL
                )
                """,
                "CREATE INDEX upstream_sessions_by_subject ON upstream_sessions (tenant_id, connection_id, subject)",
                """
                CREATE TABLE upstream_traces (
                    id TEXT PRIMARY KEY,
                    tenant_id TEXT NOT NULL REFERENCES tenants(id),
                    connection_id TEXT NOT NULL REFERENCES upstream_connections(id) ON DELETE CASCADE,
                    flow_id TEXT,
                    outcome TEXT NOT NULL,
                    reason TEXT,
                    created_at BIGINT NOT NULL,
                    expires_at BIGINT NOT NULL,
                    data TEXT NOT NULL
                )
                """,
                "CREATE INDEX upstream_traces_by_connection ON upstream_traces (tenant_id, connection_id, created_at)",
                "CREATE INDEX upstream_traces_expiry ON upstream_traces (expires_at)",
            ]
        },
        // Upstream OIDC logout: the provider's ID token per upstream session (sealed, the
        // id_token_hint), and sessions found by the provider's sid (back-channel logout).
        Migration(version: 12, name: "upstream-oidc-logout") { _ in
            [
                "ALTER TABLE upstream_sessions ADD COLUMN sealed_id_token TEXT",
                "CREATE INDEX upstream_sessions_by_index ON upstream_sessions (tenant_id, connection_id, session_index)",
            ]
        },
        // Identity verification (issue 13): per-tenant settings and CSCA list, sealed evidence,
        // and the subjects' latest verified identities (sealed). Sessions are flow rows.
        Migration(version: 13, name: "identity-verification") { _ in
            [
                """
                CREATE TABLE idv_settings (
                    tenant_id TEXT PRIMARY KEY REFERENCES tenants(id),
                    settings TEXT NOT NULL,
                    updated_at BIGINT NOT NULL
                )
                """,
                """
                CREATE TABLE idv_cscas (
                    tenant_id TEXT NOT NULL REFERENCES tenants(id),
                    id TEXT NOT NULL,
                    subject TEXT NOT NULL,
                    der TEXT NOT NULL,
                    created_at BIGINT NOT NULL,
                    PRIMARY KEY (tenant_id, id)
                )
                """,
                """
                CREATE TABLE idv_evidence (
                    tenant_id TEXT NOT NULL REFERENCES tenants(id),
                    session_id TEXT NOT NULL,
                    kind TEXT NOT NULL,
                    sealed TEXT NOT NULL,
                    created_at BIGINT NOT NULL,
                    expires_at BIGINT NOT NULL,
                    PRIMARY KEY (tenant_id, session_id, kind)
                )
                """,
                "CREATE INDEX idv_evidence_expiry ON idv_evidence (expires_at)",
                """
                CREATE TABLE idv_subjects (
                    tenant_id TEXT NOT NULL REFERENCES tenants(id),
                    id TEXT NOT NULL,
                    client_id TEXT,
                    external_key_hash TEXT,
                    user_id TEXT REFERENCES users(id) ON DELETE CASCADE,
                    sealed_identity TEXT,
                    status TEXT,
                    verified_at BIGINT,
                    identity_expires_at BIGINT,
                    created_at BIGINT NOT NULL,
                    PRIMARY KEY (tenant_id, id)
                )
                """,
                "CREATE UNIQUE INDEX idv_subjects_by_external ON idv_subjects (tenant_id, client_id, external_key_hash)",
                "CREATE INDEX idv_subjects_by_user ON idv_subjects (tenant_id, user_id)",
                "CREATE INDEX idv_subjects_expiry ON idv_subjects (identity_expires_at)",
            ]
        },
        // One-click integrations (issue 14): what was set up on both sides, for the doctor. No
        // credential is ever stored.
        Migration(version: 14, name: "integrations") { _ in
            [
                """
                CREATE TABLE integrations (
                    tenant_id TEXT NOT NULL REFERENCES tenants(id),
                    id TEXT NOT NULL,
                    kind TEXT NOT NULL,
                    partner_domain TEXT NOT NULL,
                    application_id TEXT NOT NULL,
                    record TEXT NOT NULL,
                    created_at BIGINT NOT NULL,
                    PRIMARY KEY (tenant_id, id)
                )
                """,
                "CREATE INDEX integrations_by_created ON integrations (created_at)",
            ]
        },
        // Webhooks and the connector API. Endpoints (secrets sealed) with one subscription row
        // per event type, so queuing filters in SQL; the outbox of deliveries, written in the
        // audit event's transaction and kept after its endpoint is deleted (the delivery log);
        // connector keys (hashes only) and the first answers to idempotent requests (sealed).
        Migration(version: 15, name: "webhooks-and-connector-keys") { _ in
            [
                """
                CREATE TABLE webhook_endpoints (
                    id TEXT PRIMARY KEY,
                    tenant_id TEXT NOT NULL REFERENCES tenants(id),
                    url TEXT NOT NULL,
                    description TEXT,
                    event_types TEXT NOT NULL,
                    enabled BIGINT NOT NULL,
                    sealed_secret TEXT NOT NULL,
                    previous_sealed_secret TEXT,
                    previous_secret_expires_at BIGINT,
                    created_at BIGINT NOT NULL,
                    updated_at BIGINT NOT NULL
                )
                """,
                "CREATE INDEX webhook_endpoints_by_tenant ON webhook_endpoints (tenant_id, created_at)",
                """
                CREATE TABLE webhook_subscriptions (
                    endpoint_id TEXT NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
                    event_type TEXT NOT NULL,
                    PRIMARY KEY (endpoint_id, event_type)
                )
                """,
                """
                CREATE TABLE webhook_deliveries (
                    endpoint_id TEXT NOT NULL,
                    event_id TEXT NOT NULL,
                    tenant_id TEXT NOT NULL REFERENCES tenants(id),
                    event_type TEXT NOT NULL,
                    state TEXT NOT NULL,
                    attempts BIGINT NOT NULL,
                    next_attempt_at BIGINT NOT NULL,
                    claimed_until BIGINT,
                    last_attempt_at BIGINT,
                    last_status BIGINT,
                    last_error TEXT,
                    created_at BIGINT NOT NULL,
                    delivered_at BIGINT,
                    PRIMARY KEY (endpoint_id, event_id)
                )
                """,
                "CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_attempt_at)",
                "CREATE INDEX webhook_deliveries_by_created ON webhook_deliveries (created_at)",
                """
                CREATE TABLE connector_keys (
                    id TEXT PRIMARY KEY,
                    tenant_id TEXT NOT NULL REFERENCES tenants(id),
                    name TEXT NOT NULL,
                    key_hash TEXT NOT NULL UNIQUE,
                    display_prefix TEXT NOT NULL,
                    scopes TEXT NOT NULL,
                    redirect_origins TEXT NOT NULL,
                    created_at BIGINT NOT NULL,
                    expires_at BIGINT,
                    revoked_at BIGINT,
                    last_used_at BIGINT
                )
                """,
                "CREATE INDEX connector_keys_by_tenant ON connector_keys (tenant_id, created_at)",
                "CREATE UNIQUE INDEX connector_keys_unrevoked_name ON connector_keys (tenant_id, name) WHERE revoked_at IS NULL",
                """
                CREATE TABLE idempotency_records (
                    tenant_id TEXT NOT NULL REFERENCES tenants(id),
                    key_id TEXT NOT NULL REFERENCES connector_keys(id) ON DELETE CASCADE,
                    idempotency_key TEXT NOT NULL,
                    request_hash TEXT NOT NULL,
                    status BIGINT NOT NULL,
                    sealed_response TEXT NOT NULL,
                    created_at BIGINT NOT NULL,
                    expires_at BIGINT NOT NULL,
                    PRIMARY KEY (tenant_id, key_id, idempotency_key)
                )
                """,
                "CREATE INDEX idempotency_records_expiry ON idempotency_records (expires_at)",
            ]
        },
        // Flow rows due for a decision by kind (the expiry sweep's unanswered step-up challenges).
        Migration(version: 16, name: "flow-rows-due") { _ in
            ["CREATE INDEX login_transactions_due ON login_transactions (kind, state, expires_at)"]
        },
        // Inbound hook sources (/api/v1/hooks/{name}); their replay memory is idempotency_records.
        Migration(version: 17, name: "hook-sources") { _ in
            [
                """
                CREATE TABLE hook_sources (
                    id TEXT PRIMARY KEY,
                    tenant_id TEXT NOT NULL REFERENCES tenants(id),
                    name TEXT NOT NULL,
                    connector_key_id TEXT NOT NULL REFERENCES connector_keys(id) ON DELETE CASCADE,
                    signature TEXT NOT NULL,
                    sealed_secret TEXT NOT NULL,
                    config TEXT NOT NULL,
                    created_at BIGINT NOT NULL,
                    UNIQUE (tenant_id, name)
                )
                """
            ]
        },
        // Shared Signals streams, their subjects and the SETs owed to them (docs/ssf.md).
        Migration(version: 18, name: "ssf-streams") { _ in
            [
                """
                CREATE TABLE ssf_streams (
                    id TEXT PRIMARY KEY,
                    tenant_id TEXT NOT NULL REFERENCES tenants(id),
                    client_id TEXT NOT NULL,
                    description TEXT,
                    delivery_method TEXT NOT NULL,
                    endpoint_url TEXT,
                    sealed_authorization TEXT,
                    events_requested TEXT NOT NULL,
                    events_delivered TEXT NOT NULL,
                    profile TEXT NOT NULL,
                    status TEXT NOT NULL,
                    status_reason TEXT,
                    created_at BIGINT NOT NULL,
                    updated_at BIGINT NOT NULL
                )
                """,
                "CREATE INDEX ssf_streams_by_client ON ssf_streams (tenant_id, client_id, created_at)",
                """
                CREATE TABLE ssf_subjects (
                    stream_id TEXT NOT NULL REFERENCES ssf_streams(id) ON DELETE CASCADE,
                    user_id TEXT NOT NULL,
                    subject TEXT NOT NULL,
                    created_at BIGINT NOT NULL,
                    PRIMARY KEY (stream_id, user_id)
                )
                """,
                "CREATE INDEX ssf_subjects_by_user ON ssf_subjects (user_id)",
                """
                CREATE TABLE ssf_events (
                    stream_id TEXT NOT NULL REFERENCES ssf_streams(id) ON DELETE CASCADE,
                    jti TEXT NOT NULL,
                    tenant_id TEXT NOT NULL,
                    event_type TEXT NOT NULL,
                    subject TEXT NOT NULL,
                    payload TEXT NOT NULL,
                    event_time BIGINT NOT NULL,
                    state TEXT NOT NULL,
                    attempts BIGINT NOT NULL,
                    next_attempt_at BIGINT NOT NULL,
                    claimed_until BIGINT,
                    last_error TEXT,
                    created_at BIGINT NOT NULL,
                    PRIMARY KEY (stream_id, jti)
                )
                """,
                "CREATE INDEX ssf_events_due ON ssf_events (state, next_attempt_at)",
            ]
        },
        // Idempotency records of callers that are not connector keys: OAuth clients of the
        // connector API (`client:<client_id>`). The table is rebuilt without the key's foreign key
        // (SQLite cannot drop one); records of a deleted key now expire instead of cascading.
        Migration(version: 19, name: "idempotency-callers") { _ in
            [
                """
                CREATE TABLE idempotency_records_v19 (
                    tenant_id TEXT NOT NULL REFERENCES tenants(id),
                    key_id TEXT NOT NULL,
                    idempotency_key TEXT NOT NULL,
                    request_hash TEXT NOT NULL,
                    status BIGINT NOT NULL,
                    sealed_response TEXT NOT NULL,
                    created_at BIGINT NOT NULL,
                    expires_at BIGINT NOT NULL,
                    PRIMARY KEY (tenant_id, key_id, idempotency_key)
                )
                """,
                """
                INSERT INTO idempotency_records_v19 (tenant_id, key_id, idempotency_key, request_hash, status, sealed_response, created_at, expires_at)
                SELECT tenant_id, key_id, idempotency_key, request_hash, status, sealed_response, created_at, expires_at FROM idempotency_records
                """,
                "DROP TABLE idempotency_records",
                "ALTER TABLE idempotency_records_v19 RENAME TO idempotency_records",
                "CREATE INDEX idempotency_records_expiry ON idempotency_records (expires_at)",
            ]
        },
        // The verification reference of a session's last sign-in (a LiveID face re-match).
        Migration(version: 20, name: "session-verification") { _ in
            ["ALTER TABLE sessions ADD COLUMN verification_process TEXT"]
        },
    ]

    /// The migrations by version (the list above may be merged out of order).
    static var ordered: [Migration] { all.sorted { $0.version < $1.version } }

    static var latestVersion: Int { all.map(\.version).max() ?? 0 }

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
    static func migrate(_ backend: any SQLBackend, now: Date, migrations: [Migration] = ordered) async throws -> [Int] {
        let latest = migrations.map(\.version).max() ?? 0
        return try await backend.withLongTransaction { db in
            if backend.flavor == .postgres {
                try await db.raw("SELECT pg_advisory_xact_lock(5119004200)").run()
            }
            try await db.raw(SQLQueryString(createLedger)).run()
            let applied = try await appliedVersions(db)
            if let newest = applied.max(), newest > latest {
                throw SQLStoreError.schemaNewerThanBinary(applied: newest, known: latest)
            }
            // A version below the newest applied one (a migration merged later, e.g. 5 after 6)
            // still applies: each migration only adds its own tables.
            var done: [Int] = []
            for migration in migrations.sorted(by: { $0.version < $1.version }) where !applied.contains(migration.version) {
                for statement in migration.statements(backend.flavor) {
                    try await db.raw(SQLQueryString(statement)).run()
                }
                try await migration.code?(db, now)
                try await db.raw(
                    """
                    INSERT INTO sigil_migrations (version, name, applied_at)
                    VALUES (\(bind: migration.version), \(bind: migration.name), \(bind: now.unixMillisecondsForStore))
                    """
                ).run()
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
