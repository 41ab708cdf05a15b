import Foundation
import Logging
import SQLKit
import SigilStore

/// The SQL implementation of `Store`, for SQLite (the default) and PostgreSQL.
public final class SQLStore: Store {
    let backend: any SQLBackend
    private let session: SQLSession
    public let signals: any ChangeSignal

    private init(backend: any SQLBackend, logger: Logger) {
        self.backend = backend
        self.session = SQLSession(runner: SQLRunner(backend: backend, transaction: nil))
        self.signals = backend.makeSignals(logger: logger)
    }

    /// Opens an SQLite database file (created if missing); `nil` opens a private in-memory database.
    /// A database file gets `readers` reader connections beside its writer (`SIGIL_SQLITE_READERS`,
    /// 0–16, unless given; 0 sends every read through the writer as before the pool existed).
    public static func sqlite(path: String?, readers: Int? = nil, logger: Logger = Logger(label: "sigil.store")) async throws -> SQLStore {
        let count = readers ?? ProcessInfo.processInfo.environment["SIGIL_SQLITE_READERS"].flatMap { Int($0) }.map { min(max($0, 0), 16) }
        var driver = SQLiteDriver.statements
        if let name = ProcessInfo.processInfo.environment["SIGIL_SQLITE_DRIVER"], !name.isEmpty {
            guard let named = SQLiteDriver(rawValue: name) else {
                throw StoreError(.unavailable, entity: "database", detail: "SIGIL_SQLITE_DRIVER must be sigil or sqlite-nio, not \(name)")
            }
            driver = named
        }
        return SQLStore(
            backend: try await SQLiteBackend.open(path: path, logger: logger, readers: count ?? SQLiteBackend.defaultReaders, driver: driver),
            logger: logger)
    }

    /// Connects to PostgreSQL (`postgres://user:password@host:port/database[?sslmode=require]`).
    /// `operationTimeout` bounds each operation, connection lease included (15 s unless given):
    /// past it the caller gets `unavailable` instead of waiting on a lost database.
    public static func postgres(
        url: String, logger: Logger = Logger(label: "sigil.store"), operationTimeout: Duration? = nil
    ) async throws -> SQLStore {
        let backend = try await PostgresBackend.open(
            url: url, logger: logger, operationTimeout: operationTimeout ?? PostgresBackend.defaultOperationTimeout)
        return SQLStore(backend: backend, logger: logger)
    }

    /// Opens the store a database URL names: `postgres://…`, `sqlite:///path/file.sqlite` or a plain path.
    public static func open(databaseURL: String, logger: Logger = Logger(label: "sigil.store")) async throws -> SQLStore {
        if databaseURL.hasPrefix("postgres://") || databaseURL.hasPrefix("postgresql://") {
            return try await postgres(url: databaseURL, logger: logger)
        }
        if databaseURL == "sqlite::memory:" { return try await sqlite(path: nil, logger: logger) }
        if databaseURL.hasPrefix("sqlite://") {
            return try await sqlite(path: String(databaseURL.dropFirst("sqlite://".count)), logger: logger)
        }
        if databaseURL.contains("://") {
            throw SQLStoreError.invalidDatabaseURL("use postgres://… or sqlite:///path")
        }
        return try await sqlite(path: databaseURL, logger: logger)
    }

    /// Applies missing migrations; returns the versions applied by this call.
    @discardableResult
    public func migrate(now: Date = Date()) async throws -> [Int] {
        try await Migrations.migrate(backend, now: now)
    }

    /// Applies `migrations` instead of the built-in list (tests of the migrator).
    func migrate(now: Date, migrations: [Migration]) async throws -> [Int] {
        try await Migrations.migrate(backend, now: now, migrations: migrations)
    }

    public static var latestMigration: Int { Migrations.latestVersion }

    /// Writes a consistent copy of this live SQLite database to a new file at `path` with
    /// `VACUUM INTO`: one read transaction, so the copy is the database as of one commit (WAL
    /// included) while other connections and processes keep writing; the file is compact and
    /// complete on its own (no `-wal` beside it). Refuses an existing file. PostgreSQL is backed
    /// up with `pg_dump` instead (docs/operations.md, Backups).
    public func backup(toPath path: String) async throws {
        guard backend.flavor == .sqlite else {
            throw SQLStoreError.backupUnsupported("sigil backup copies SQLite databases; back up PostgreSQL with pg_dump (docs/operations.md)")
        }
        guard !FileManager.default.fileExists(atPath: path) else {
            throw SQLStoreError.backupUnsupported("\(path) already exists; choose a new file")
        }
        guard let sqlite = backend as? SQLiteBackend else {
            throw SQLStoreError.backupUnsupported("sigil backup copies SQLite databases")
        }
        try await sqlite.vacuum(into: path)
    }

    public var backendName: String {
        switch backend.flavor {
        case .sqlite: "sqlite"
        case .postgres: "postgres"
        }
    }

    public var tenants: any TenantStore { session.tenants }
    public var users: any UserStore { session.users }
    public var applications: any ApplicationStore { session.applications }
    public var signingKeys: any SigningKeyStore { session.signingKeys }
    public var adminTokens: any AdminTokenStore { session.adminTokens }
    public var enrolmentTokens: any EnrolmentTokenStore { session.enrolmentTokens }
    public var audit: any AuditEventStore { session.audit }
    public var passkeys: any PasskeyStore { session.passkeys }
    public var authenticatorDevices: any AuthenticatorDeviceStore { session.authenticatorDevices }
    public var sessions: any SessionStore { session.sessions }
    public var sessionParticipants: any SessionParticipantStore { session.sessionParticipants }
    public var loginTransactions: any LoginTransactionStore { session.loginTransactions }
    public var deviceNonces: any DeviceNonceStore { session.deviceNonces }
    public var authenticatorUserState: any AuthenticatorUserStateStore { session.authenticatorUserState }
    public var oauth: any OAuthStore { session.oauth }
    public var consents: any ConsentStore { session.consents }
    public var logoutDeliveries: any LogoutDeliveryStore { session.logoutDeliveries }
    public var upstreams: any UpstreamStore { session.upstreams }
    public var idv: any IDVStore { session.idv }
    public var integrationRecords: any IntegrationStore { session.integrationRecords }
    public var webhooks: any WebhookStore { session.webhooks }
    public var connectorKeys: any ConnectorKeyStore { session.connectorKeys }
    public var ssf: any SSFStore { session.ssf }

    public func transaction<R: Sendable>(_ body: @escaping @Sendable (any StoreSession) async throws -> R) async throws -> R {
        let backend = self.backend
        return try await SQLRunner(backend: backend, transaction: nil).write("transaction") { db in
            try await body(SQLSession(runner: SQLRunner(backend: backend, transaction: db)))
        }
    }

    public func health() async -> StoreHealth {
        await health(deadline: .seconds(2))
    }

    /// `health()` with another deadline: /readyz keeps 2 s so an outage answers fast; tests that
    /// run beside many others wait longer, since they check the answer, not the time.
    public func health(deadline: Duration) async -> StoreHealth {
        let known = Migrations.all.count
        let backend = self.backend
        do {
            return try await withDeadline(deadline) {
                try await backend.withConnection { db -> StoreHealth in
                    try await db.raw("SELECT 1 AS one").run()
                    do {
                        let rows = try await db.raw("SELECT COUNT(*) AS n FROM sigil_migrations").all()
                        return StoreHealth(reachable: true, appliedMigrations: try rows.first?.int("n") ?? 0, knownMigrations: known)
                    } catch {
                        return StoreHealth(reachable: true, appliedMigrations: 0, knownMigrations: known, detail: "not migrated")
                    }
                }
            }
        } catch {
            return StoreHealth(reachable: false, appliedMigrations: 0, knownMigrations: known, detail: String(describing: error))
        }
    }

    public func close() async throws {
        (signals as? PostgresChangeSignal)?.stop()
        try await backend.close()
    }
}

struct SQLSession: StoreSession {
    let runner: SQLRunner
    var tenants: any TenantStore { SQLTenantStore(runner: runner) }
    var users: any UserStore { SQLUserStore(runner: runner) }
    var applications: any ApplicationStore { SQLApplicationStore(runner: runner) }
    var signingKeys: any SigningKeyStore { SQLSigningKeyStore(runner: runner) }
    var adminTokens: any AdminTokenStore { SQLAdminTokenStore(runner: runner) }
    var enrolmentTokens: any EnrolmentTokenStore { SQLEnrolmentTokenStore(runner: runner) }
    var audit: any AuditEventStore { SQLAuditEventStore(runner: runner) }
    var passkeys: any PasskeyStore { SQLPasskeyStore(runner: runner) }
    var authenticatorDevices: any AuthenticatorDeviceStore { SQLAuthenticatorDeviceStore(runner: runner) }
    var sessions: any SessionStore { SQLSessionStore(runner: runner) }
    var sessionParticipants: any SessionParticipantStore { SQLSessionParticipantStore(runner: runner) }
    var loginTransactions: any LoginTransactionStore { SQLLoginTransactionStore(runner: runner) }
    var deviceNonces: any DeviceNonceStore { SQLDeviceNonceStore(runner: runner) }
    var authenticatorUserState: any AuthenticatorUserStateStore { SQLAuthenticatorUserStateStore(runner: runner) }
    var oauth: any OAuthStore { SQLOAuthStore(runner: runner) }
    var consents: any ConsentStore { SQLConsentStore(runner: runner) }
    var logoutDeliveries: any LogoutDeliveryStore { SQLLogoutDeliveryStore(runner: runner) }
    var upstreams: any UpstreamStore { SQLUpstreamStore(runner: runner) }
    var idv: any IDVStore { SQLIDVStore(runner: runner) }
    var integrationRecords: any IntegrationStore { SQLIntegrationStore(runner: runner) }
    var webhooks: any WebhookStore { SQLWebhookStore(runner: runner) }
    var connectorKeys: any ConnectorKeyStore { SQLConnectorKeyStore(runner: runner) }
    var ssf: any SSFStore { SQLSSFStore(runner: runner) }
}
