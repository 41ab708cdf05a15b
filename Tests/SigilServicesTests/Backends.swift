import Foundation
import Logging
import PostgresNIO
import SigilSQLStore
import Testing

// The backends, as the store conformance suite has them (Tests/SigilStoreConformanceTests/
// TestStores.swift; test targets cannot share sources): SQLite always, PostgreSQL when
// `SIGIL_TEST_POSTGRES_URL` is set (CI sets it).

enum Backend: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sqlite
    case postgres

    var testDescription: String { rawValue }

    static var postgresURL: String? {
        ProcessInfo.processInfo.environment["SIGIL_TEST_POSTGRES_URL"].flatMap { $0.isEmpty ? nil : $0 }
    }

    static var enabled: [Backend] {
        if postgresURL == nil {
            print("note: SIGIL_TEST_POSTGRES_URL is not set; the PostgreSQL service-test runs are skipped")
            return [.sqlite]
        }
        return [.sqlite, .postgres]
    }
}

/// How many PostgreSQL test databases this target holds at once (each test creates and drops a
/// whole database with its own pool; see the conformance suite's `PostgresTestSlots`).
actor PostgresTestSlots {
    static let shared = PostgresTestSlots(limit: 3)
    private let limit: Int
    private var inUse = 0
    private var waiters: [CheckedContinuation<Void, Never>] = []

    init(limit: Int) { self.limit = limit }

    func acquire() async {
        if inUse < limit {
            inUse += 1
            return
        }
        await withCheckedContinuation { waiters.append($0) }
    }

    func release() {
        if waiters.isEmpty { inUse -= 1 } else { waiters.removeFirst().resume() }
    }
}

/// A fresh, empty, migrated store and how to dispose of it: an in-memory SQLite database, or a
/// PostgreSQL database created for the caller and dropped by `dispose`.
func freshStore(_ backend: Backend) async throws -> (store: SQLStore, dispose: @Sendable () async throws -> Void) {
    var logger = Logger(label: "test")
    logger.logLevel = .warning
    switch backend {
    case .sqlite:
        let store = try await SQLStore.sqlite(path: nil, logger: logger)
        try await store.migrate()
        return (store, { try await store.close() })
    case .postgres:
        await PostgresTestSlots.shared.acquire()
        let baseURL = try #require(Backend.postgresURL)
        let name = "sigil_s_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(20)
        do {
            try await administer(baseURL, "CREATE DATABASE \(name)")
            var components = try #require(URLComponents(string: baseURL))
            components.path = "/\(name)"
            let store = try await SQLStore.postgres(url: try #require(components.string), logger: logger)
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

/// Runs one statement on the database the URL names (used to create and drop test databases).
func administer(_ url: String, _ statement: String) async throws {
    let components = try #require(URLComponents(string: url))
    let configuration = PostgresClient.Configuration(
        host: try #require(components.host), port: components.port ?? 5432, username: components.user ?? "postgres",
        password: components.password, database: String(components.path.dropFirst()).isEmpty ? nil : String(components.path.dropFirst()),
        tls: .disable)
    let client = PostgresClient(configuration: configuration, backgroundLogger: Logger(label: "test-admin"))
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { await client.run() }
        try await client.query(PostgresQuery(unsafeSQL: statement))
        group.cancelAll()
    }
}
