import Foundation
import SigilCore
import SigilSQLStore
import SigilServices
import SigilStore
import SigilTestSupport
import Testing

/// The services of one tenant over a fresh store, with no HTTP server: a `ServiceSet` whose
/// context has a fixed clock (`ManualClock`, 2027-01-15T08:00:00Z until a test advances it),
/// seeded randomness (`InsecureSeededRandom`, seeded with the test's name) and a fixed master key.
///
/// The services write through a `FaultInjectingStore`, which behaves exactly like the store until
/// a test arms a fault; `store` is the real store underneath, for reading what was committed.
struct ServiceHarness {
    static let issuer = "https://id.example.com"
    static let start = Date(timeIntervalSince1970: 1_800_000_000)

    let backend: Backend
    let store: SQLStore
    let faults: FaultInjectingStore
    let clock: ManualClock
    let services: ServiceSet
    /// The `default` tenant.
    let tenant: Tenant
    let push: RecordingPushSender
    private let dispose: @Sendable () async throws -> Void

    var context: ServiceContext { services.context }

    /// Opens a harness; the caller must `close()` it (`withServices` does).
    static func open(
        _ backend: Backend, seed: String = #function, backChannel: BackChannelLogoutDispatcher = BackChannelLogoutDispatcher(),
        masterKeyByte: UInt8 = 7, fetcher: (any RemoteDocumentFetcher)? = nil
    ) async throws -> ServiceHarness {
        let (store, dispose) = try await freshStore(backend)
        do {
            let faults = FaultInjectingStore(store)
            let clock = ManualClock(start)
            let push = RecordingPushSender()
            let context = ServiceContext(
                store: faults, clock: clock, random: InsecureSeededRandom(seed: seed),
                masterKey: try MasterKey(rawBytes: Array(repeating: masterKeyByte, count: 32)),
                remote: fetcher.map { RemoteDocuments(fetcher: $0, clock: clock) })
            let services = ServiceSet(context: context, pushSender: push, backChannel: backChannel)
            let tenant = try await services.tenants.ensureDefault()
            return ServiceHarness(
                backend: backend, store: store, faults: faults, clock: clock, services: services, tenant: tenant, push: push,
                dispose: dispose)
        } catch {
            try? await dispose()
            throw error
        }
    }

    func close() async throws { try await dispose() }

    func user(_ email: String = "ada@example.com", given: String = "Ada", family: String = "Lovelace") async throws -> User {
        try await services.users.create(tenantID: tenant.id, .init(email: email, givenName: given, familyName: family), by: .cli)
    }

    /// The tenant's audit actions (in no useful order while the clock stands still: count or test membership).
    func auditActions() async throws -> [String] {
        try await store.audit.list(tenantID: tenant.id, page: PageRequest(limit: 500)).items.map(\.action)
    }

    func row(_ id: String) async throws -> LoginTransaction {
        try await store.loginTransactions.get(tenantID: tenant.id, id: id)
    }
}

/// Runs `body` over a fresh harness and closes it, also when `body` throws.
func withServices(
    _ backend: Backend, seed: String = #function, backChannel: BackChannelLogoutDispatcher = BackChannelLogoutDispatcher(),
    _ body: (ServiceHarness) async throws -> Void
) async throws {
    let h = try await ServiceHarness.open(backend, seed: seed, backChannel: backChannel)
    do { try await body(h) } catch {
        try? await h.close()
        throw error
    }
    try await h.close()
}

/// Expects `body` to throw `FaultInjectingStore.Injected` (the armed write was reached and failed).
func expectInjected(_ body: () async throws -> Void, sourceLocation: SourceLocation = #_sourceLocation) async {
    await #expect(throws: FaultInjectingStore.Injected.self, sourceLocation: sourceLocation) { try await body() }
}
