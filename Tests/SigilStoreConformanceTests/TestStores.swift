import Foundation
import Logging
import PostgresNIO
import SigilCore
import SigilSQLStore
import SigilStore
import Testing

/// The backends the conformance suite runs against: SQLite always, PostgreSQL when
/// `SIGIL_TEST_POSTGRES_URL` is set (CI sets it). Each test gets a fresh, empty, migrated store:
/// a new SQLite file, or a new PostgreSQL database created for the test and dropped after.
enum Backend: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sqlite
    case postgres

    var testDescription: String { rawValue }

    static var postgresURL: String? {
        ProcessInfo.processInfo.environment["SIGIL_TEST_POSTGRES_URL"].flatMap { $0.isEmpty ? nil : $0 }
    }

    static var enabled: [Backend] {
        if postgresURL == nil {
            print("note: SIGIL_TEST_POSTGRES_URL is not set; the PostgreSQL conformance runs are skipped")
            return [.sqlite]
        }
        return [.sqlite, .postgres]
    }
}

/// How many PostgreSQL test databases may exist at once. Every PostgreSQL test creates and drops
/// a whole database (and a pool of up to 16 connections); run all at once beside the rest of the
/// parallel test run, that load made ordinary statements miss the store's 15 s deadline in a
/// clean-clone CI run. Tests beyond the limit wait their turn; none is skipped.
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

func withFreshStore(_ backend: Backend, _ body: (SQLStore) async throws -> Void) async throws {
    var logger = Logger(label: "test")
    logger.logLevel = .warning
    switch backend {
    case .sqlite:
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sigil-conformance-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let store = try await SQLStore.sqlite(path: dir.appendingPathComponent("test.sqlite").path, logger: logger)
        try await store.migrate()
        do { try await body(store) } catch { try? await store.close(); throw error }
        try await store.close()
    case .postgres:
        await PostgresTestSlots.shared.acquire()
        defer { Task { await PostgresTestSlots.shared.release() } }
        let baseURL = try #require(Backend.postgresURL)
        let name = "sigil_t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(20)
        try await administer(baseURL, "CREATE DATABASE \(name)")
        var components = try #require(URLComponents(string: baseURL))
        components.path = "/\(name)"
        let store = try await SQLStore.postgres(url: try #require(components.string), logger: logger)
        do {
            try await store.migrate()
            try await body(store)
        } catch {
            try? await store.close()
            try? await administer(baseURL, "DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
            throw error
        }
        try await store.close()
        try await administer(baseURL, "DROP DATABASE IF EXISTS \(name) WITH (FORCE)")
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

struct Fixtures {
    static let start = Date(timeIntervalSince1970: 1_800_000_000)
    let ids: IdentifierGenerator
    let clock: ManualClock

    init() {
        clock = ManualClock(Self.start)
        ids = IdentifierGenerator(clock: clock, random: SystemRandom())
    }

    func tenant(_ slug: String, host: String? = nil) -> Tenant {
        Tenant(id: ids.make(.tenant), slug: slug, displayName: slug.capitalized, host: host, createdAt: clock.now(), updatedAt: clock.now())
    }

    func user(_ tenant: Tenant, _ email: String) -> User {
        User(
            id: ids.make(.user), tenantID: tenant.id, email: email, givenName: "Ada", familyName: "Lovelace",
            status: .active, createdAt: clock.now(), updatedAt: clock.now())
    }

    func oidcApp(_ tenant: Tenant, clientID: String = UUID().uuidString) -> Application {
        Application(
            id: ids.make(.application), tenantID: tenant.id, name: "Portal",
            settings: .oidc(
                OIDCClientSettings(
                    clientID: clientID, clientSecretHash: tokenHash("s3cret"),
                    redirectURIs: ["https://rp.example/cb"], tokenEndpointAuthMethod: "client_secret_basic",
                    requirePKCE: true, requirePAR: false)),
            createdAt: clock.now(), updatedAt: clock.now())
    }

    func samlApp(_ tenant: Tenant, entityID: String) -> Application {
        Application(
            id: ids.make(.application), tenantID: tenant.id, name: "Okta",
            settings: .saml(
                SAMLServiceProviderSettings(
                    entityID: entityID,
                    assertionConsumerServices: [.init(url: "https://acme.okta.com/sso/saml2/0oa1", isDefault: true)])),
            createdAt: clock.now(), updatedAt: clock.now())
    }
}
