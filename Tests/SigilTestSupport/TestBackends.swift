import Foundation
import Logging
import PostgresNIO
import SigilSQLStore

/// The storage backends tests run against, shared by every test target that needs a real store:
/// SQLite always, PostgreSQL when `SIGIL_TEST_POSTGRES_URL` is set (CI sets it). Each test gets a
/// fresh, empty, migrated store: a new SQLite database, or a new PostgreSQL database created for
/// the test and dropped after.
public enum Backend: String, CaseIterable, Sendable {
    case sqlite
    case postgres

    public static var postgresURL: String? {
        ProcessInfo.processInfo.environment["SIGIL_TEST_POSTGRES_URL"].flatMap { $0.isEmpty ? nil : $0 }
    }

    public static var enabled: [Backend] {
        if postgresURL == nil {
            print("note: SIGIL_TEST_POSTGRES_URL is not set; the PostgreSQL test runs are skipped")
            return [.sqlite]
        }
        return [.sqlite, .postgres]
    }
}

/// A test's setup could not be made (no PostgreSQL URL, an unusable URL).
public struct TestSetupError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// How many PostgreSQL test databases may exist at once, across every test target of the run
/// (they share one process). Every PostgreSQL test creates and drops a whole database with its
/// own pool of up to 16 connections; run all at once beside the rest of the parallel test run,
/// that load made ordinary statements miss the store's 15 s deadline in a clean-clone CI run.
/// Tests beyond the limit wait their turn; none is skipped. Two since issue 13 (more PostgreSQL
/// suites, one more migration per database): three missed the deadline again on a loaded machine.
public actor PostgresTestSlots {
    public static let shared = PostgresTestSlots(limit: 2)
    private let limit: Int
    private var inUse = 0
    private var waiters: [CheckedContinuation<Void, Never>] = []

    public init(limit: Int) { self.limit = limit }

    public func acquire() async {
        if inUse < limit {
            inUse += 1
            return
        }
        await withCheckedContinuation { waiters.append($0) }
    }

    public func release() {
        if waiters.isEmpty { inUse -= 1 } else { waiters.removeFirst().resume() }
    }
}

/// The per-operation deadline of tests' PostgreSQL stores. The store's own 15 s is about a lost
/// database; in `swift test` every test shares one process whose cooperative pool has a thread per
/// core, and tests that keep those threads busy (key generation, image checks, in-process HTTP
/// peers) can hold a finished statement's continuation past 15 s of wall time on 2 cores. That
/// made `unavailable` errors that were the test run's, not the store's (seen in CI on
/// `codesAreConsumedOnceAndGrantsRevokeOnce`). The deadline itself is tested with a short limit.
public let testDatabaseOperationTimeout: Duration = .seconds(120)

/// Opens a store on a test PostgreSQL database with `testDatabaseOperationTimeout`.
public func testPostgresStore(url: String, logger: Logger = Logger(label: "sigil.store")) async throws -> SQLStore {
    try await SQLStore.postgres(url: url, logger: logger, operationTimeout: testDatabaseOperationTimeout)
}

/// A fresh, empty, migrated store and how to dispose of it: a new SQLite file, or a
/// PostgreSQL database created for the caller and dropped by `dispose`.
public func freshStore(_ backend: Backend) async throws -> (store: SQLStore, dispose: @Sendable () async throws -> Void) {
    var logger = Logger(label: "test")
    logger.logLevel = .warning
    switch backend {
    case .sqlite:
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sigil-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        let store = try await SQLStore.sqlite(path: dir.appendingPathComponent("test.sqlite").path, logger: logger)
        do { try await store.migrate() } catch {
            try? await store.close()
            try? FileManager.default.removeItem(at: dir)
            throw error
        }
        return (
            store,
            {
                try? await store.close()
                try? FileManager.default.removeItem(at: dir)
            }
        )
    case .postgres:
        guard let baseURL = Backend.postgresURL, var components = URLComponents(string: baseURL) else {
            throw TestSetupError("SIGIL_TEST_POSTGRES_URL is not a usable URL")
        }
        await PostgresTestSlots.shared.acquire()
        let name = "sigil_t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(20)
        do {
            try await administer(baseURL, "CREATE DATABASE \(name)")
            components.path = "/\(name)"
            guard let url = components.string else { throw TestSetupError("cannot name the test database") }
            let store = try await testPostgresStore(url: url, logger: logger)
            do { try await store.migrate() } catch {
                try? await store.close()
                throw error
            }
            return (
                store,
                {
                    try? await store.close()
                    try await administer(baseURL, "DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
                    await PostgresTestSlots.shared.release()
                }
            )
        } catch {
            try? await administer(baseURL, "DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
            await PostgresTestSlots.shared.release()
            throw error
        }
    }
}

/// A fresh, empty PostgreSQL database for tests that open several stores on it (nodes), within
/// the shared limit on test databases: its URL, and how to drop it (which also frees the slot).
public func freshPostgresDatabase() async throws -> (url: String, drop: @Sendable () async throws -> Void) {
    guard let baseURL = Backend.postgresURL, var components = URLComponents(string: baseURL) else {
        throw TestSetupError("SIGIL_TEST_POSTGRES_URL is not a usable URL")
    }
    await PostgresTestSlots.shared.acquire()
    let name = "sigil_n_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(20)
    do {
        try await administer(baseURL, "CREATE DATABASE \(name)")
    } catch {
        await PostgresTestSlots.shared.release()
        throw error
    }
    components.path = "/\(name)"
    guard let url = components.string else { throw TestSetupError("cannot name the test database") }
    return (
        url,
        {
            try? await administer(baseURL, "DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
            await PostgresTestSlots.shared.release()
        }
    )
}

/// Runs `body` with a fresh store, and disposes of it whatever happens.
public func withFreshStore(_ backend: Backend, _ body: (SQLStore) async throws -> Void) async throws {
    let (store, dispose) = try await freshStore(backend)
    do { try await body(store) } catch {
        try? await dispose()
        throw error
    }
    try await dispose()
}

/// Runs one statement on the database the URL names (used to create and drop test databases).
public func administer(_ url: String, _ statement: String) async throws {
    guard let components = URLComponents(string: url), let host = components.host else {
        throw TestSetupError("SIGIL_TEST_POSTGRES_URL is not a usable URL")
    }
    let database = String(components.path.dropFirst())
    let configuration = PostgresClient.Configuration(
        host: host, port: components.port ?? 5432, username: components.user ?? "postgres", password: components.password,
        database: database.isEmpty ? nil : database, tls: .disable)
    let client = PostgresClient(configuration: configuration, backgroundLogger: Logger(label: "test-admin"))
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { await client.run() }
        try await client.query(PostgresQuery(unsafeSQL: statement))
        group.cancelAll()
    }
}
