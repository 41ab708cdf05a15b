import Foundation
import SigilCore
import SigilSQLStore
import SigilServices
import SigilStore

/// The store-backed benchmarks' common set-up: `--postgres URL` (or SIGIL_BENCH_POSTGRES_URL) or a
/// fresh SQLite file in a temporary folder, migrated, with services over it and a tenant of its own.
struct BenchStore {
    let store: SQLStore
    let services: ServiceSet
    let tenant: Tenant
    let slug: String
    let isPostgres: Bool
    private let folder: URL

    /// Reads `--postgres URL` out of `arguments`; every other option is left to the caller.
    static func open(arguments: [String]) async throws -> BenchStore {
        var postgres: String? = ProcessInfo.processInfo.environment["SIGIL_BENCH_POSTGRES_URL"]
        if let i = arguments.firstIndex(of: "--postgres"), arguments.indices.contains(i + 1) { postgres = arguments[i + 1] }
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("sigil-bench-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let store: SQLStore =
            if let postgres { try await SQLStore.postgres(url: postgres) } else {
                try await SQLStore.sqlite(path: folder.appendingPathComponent("bench.sqlite").path)
            }
        try await store.migrate()
        let services = ServiceSet(context: ServiceContext(store: store, masterKey: try MasterKey(rawBytes: Array(repeating: 3, count: 32))))
        let slug = "bench" + String(UInt32.random(in: 0...UInt32.max), radix: 36)
        let tenant = try await services.tenants.create(slug: slug, by: .cli)
        return BenchStore(store: store, services: services, tenant: tenant, slug: slug, isPostgres: postgres != nil, folder: folder)
    }

    /// The value after `name` in `arguments`, if any.
    static func option(_ name: String, in arguments: [String]) -> String? {
        arguments.firstIndex(of: name).flatMap { arguments.indices.contains($0 + 1) ? arguments[$0 + 1] : nil }
    }

    func close() async throws {
        try await store.close()
        try? FileManager.default.removeItem(at: folder)
    }
}
