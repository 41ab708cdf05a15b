import Foundation
import SigilStore
import Testing

@testable import SigilSQLStore

/// `sigil backup`: `SQLStore.backup(toPath:)` copies a live SQLite database with `VACUUM INTO`.
@Suite("SQLite backup")
struct BackupTests {
    static func tenant(_ slug: String) -> Tenant {
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        return Tenant(id: "ten_\(slug)", slug: slug, displayName: slug, host: nil, createdAt: now, updatedAt: now)
    }

    @Test func theCopyHoldsEveryCommitBeforeItAndOpensOnItsOwn() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sigil-backup-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let live = try await SQLStore.sqlite(path: dir.appendingPathComponent("live.sqlite").path)
        try await live.migrate()
        _ = try await live.tenants.create(Self.tenant("before"))
        let copyPath = dir.appendingPathComponent("copy.sqlite").path
        try await live.backup(toPath: copyPath)
        // Writes after the copy stay out of it; the live database goes on working.
        _ = try await live.tenants.create(Self.tenant("after"))
        // An existing file is never overwritten.
        await #expect(throws: SQLStoreError.self) { try await live.backup(toPath: copyPath) }
        try await live.close()
        // The copy alone (no -wal or -shm beside it) is a complete, current database.
        #expect(!FileManager.default.fileExists(atPath: copyPath + "-wal"))
        let copy = try await SQLStore.sqlite(path: copyPath)
        #expect(try await copy.migrate().isEmpty)
        #expect(try await copy.tenants.list().map(\.slug) == ["before"])
        try await copy.close()
    }
}
