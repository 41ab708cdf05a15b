import Foundation
import Logging
import SQLKit
import SigilStore
import Testing

@testable import SigilSQLStore

/// Sigil's SQLite driver (prepared statements kept per connection) against the cases SQLiteNIO
/// handled for it: every SQLite type in and out, NULLs, the same statement run again with other
/// values, errors that leave the statement usable, more statements than the cache holds.
@Suite struct SQLiteStatementDriverTests {
    private func withConnection(_ body: (any SQLDatabase) async throws -> Void) async throws {
        let connection = try await SQLiteStatementConnection.open(path: nil, logger: Logger(label: "test"))
        do {
            try await body(connection.sql)
        } catch {
            try await connection.close()
            throw error
        }
        try await connection.close()
    }

    @Test func valuesOfEveryTypeRoundTrip() async throws {
        try await withConnection { db in
            try await db.raw("CREATE TABLE t (id INTEGER PRIMARY KEY, s TEXT, n INTEGER, f REAL, b BLOB, flag INTEGER)").run()
            let text = "naïve \u{0} \"quoted\" 日本 🙂"
            let bytes: [UInt8] = [0, 1, 2, 255, 0]
            try await db.raw(
                "INSERT INTO t (id, s, n, f, b, flag) VALUES (1, \(bind: text), \(bind: Int64.max), \(bind: 2.5), \(bind: Data(bytes)), \(bind: true))"
            ).run()
            try await db.raw("INSERT INTO t (id, s, n, f, b, flag) VALUES (2, \(bind: String?.none), \(bind: Int64?.none), NULL, \(bind: Data()), 0)")
                .run()
            let rows = try await db.raw("SELECT id, s, n, f, b, flag FROM t ORDER BY id").all()
            #expect(rows.count == 2)
            #expect(try rows[0].decode(column: "s", as: String.self) == text)
            #expect(try rows[0].decode(column: "n", as: Int64.self) == Int64.max)
            #expect(try rows[0].decode(column: "f", as: Double.self) == 2.5)
            #expect(try rows[0].decode(column: "b", as: Data.self) == Data(bytes))
            #expect(try rows[0].decode(column: "flag", as: Bool.self))
            #expect(try rows[1].decode(column: "s", as: String?.self) == nil)
            #expect(try rows[1].decodeNil(column: "n") && rows[1].decodeNil(column: "f"))
            // An empty blob is a blob, not NULL.
            #expect(try !rows[1].decodeNil(column: "b") && rows[1].decode(column: "b", as: Data.self).isEmpty)
            #expect(rows[0].allColumns == ["id", "s", "n", "f", "b", "flag"] && !rows[0].contains(column: "x"))
            #expect(throws: (any Error).self) { try rows[0].decode(column: "x", as: String.self) }
            // A text column is not silently read as an integer.
            #expect(throws: (any Error).self) { try rows[0].decode(column: "s", as: Int64.self) }
        }
    }

    @Test func aKeptStatementRunsAgainWithOtherValues() async throws {
        try await withConnection { db in
            try await db.raw("CREATE TABLE t (k TEXT PRIMARY KEY, v INTEGER NOT NULL)").run()
            for i in 0..<50 { try await db.raw("INSERT INTO t (k, v) VALUES (\(bind: "k\(i)"), \(bind: i))").run() }
            for i in stride(from: 0, to: 50, by: 7) {
                let row = try await db.raw("SELECT v FROM t WHERE k = \(bind: "k\(i)")").first()
                #expect(try row?.decode(column: "v", as: Int.self) == i)
            }
            // A read that stops early (first()) leaves no statement open: a later write and read see it.
            try await db.raw("UPDATE t SET v = \(bind: -1) WHERE k = \(bind: "k7")").run()
            #expect(try await db.raw("SELECT v FROM t WHERE k = \(bind: "k7")").first()?.decode(column: "v", as: Int.self) == -1)
        }
    }

    /// A kept statement whose plan could depend on a bound value (here `LIMIT ?` and an IN list
    /// of a parameter and a literal) is not compiled again for each new value.
    @Test func newValuesDoNotCompileAKeptStatementAgain() async throws {
        let connection = try await SQLiteStatementConnection.open(path: nil, logger: Logger(label: "test"))
        let db = connection.sql
        do {
            try await db.raw("CREATE TABLE t (k TEXT PRIMARY KEY, kind TEXT NOT NULL)").run()
            try await db.raw("CREATE INDEX t_kind ON t (kind)").run()
            for i in 0..<20 { try await db.raw("INSERT INTO t (k, kind) VALUES (\(bind: "k\(i)"), \(bind: i % 2 == 0 ? "even" : "odd"))").run() }
            let before = connection.statementsReprepared
            for limit in [3, 5, 7, 5] {
                let rows = try await db.raw("SELECT k FROM t WHERE kind IN (\(bind: limit == 5 ? "odd" : "even"), '*') ORDER BY k LIMIT \(bind: limit)").all()
                #expect(rows.count == limit)
            }
            #expect(connection.statementsReprepared == before)
        } catch {
            try await connection.close()
            throw error
        }
        try await connection.close()
    }

    @Test func errorsAreSQLitesAndLeaveTheStatementUsable() async throws {
        try await withConnection { db in
            try await db.raw("CREATE TABLE t (k TEXT PRIMARY KEY)").run()
            try await db.raw("INSERT INTO t (k) VALUES (\(bind: "a"))").run()
            do {
                try await db.raw("INSERT INTO t (k) VALUES (\(bind: "a"))").run()
                Issue.record("a duplicate key was inserted")
            } catch let error as SQLiteFailure {
                #expect(error.code == SQLiteFailure.constraintPrimaryKey)
            }
            try await db.raw("INSERT INTO t (k) VALUES (\(bind: "b"))").run()
            #expect(try await db.raw("SELECT count(*) AS n FROM t").first()?.decode(column: "n", as: Int.self) == 2)
            await #expect(throws: SQLiteFailure.self) { try await db.raw("SELECT * FROM missing").run() }
            // Two statements in one query would run only the first: refused.
            await #expect(throws: SQLiteFailure.self) { try await db.raw("INSERT INTO t (k) VALUES ('c'); DELETE FROM t").run() }
            #expect(try await db.raw("SELECT count(*) AS n FROM t;").first()?.decode(column: "n", as: Int.self) == 2)
        }
    }

    @Test func moreStatementsThanTheCacheHolds() async throws {
        try await withConnection { db in
            try await db.raw("CREATE TABLE t (v INTEGER)").run()
            for i in 0..<(SQLiteStatementConnection.cacheCapacity + 20) {
                // Each text is its own statement.
                try await db.raw("INSERT INTO t (v) VALUES (\(unsafeRaw: String(i)))").run()
            }
            #expect(
                try await db.raw("SELECT count(*) AS n FROM t").first()?.decode(column: "n", as: Int.self) == SQLiteStatementConnection.cacheCapacity + 20)
        }
    }

    /// The store maps the driver's errors as it mapped SQLiteNIO's.
    @Test func theStoreMapsConstraintErrors() async throws {
        let store = try await SQLStore.sqlite(path: nil)
        _ = try await store.migrate(now: Date())
        let tenant = Tenant(id: "ten_driver", slug: "driver", displayName: "Driver", host: nil, createdAt: Date(), updatedAt: Date())
        _ = try await store.tenants.create(tenant)
        await #expect(throws: StoreError.self) { _ = try await store.tenants.create(tenant) }
        try await store.close()
    }
}

/// `DecodedJSONCache`: keyed by the stored text, so a changed row decodes anew; bounded.
@Suite struct DecodedJSONCacheTests {
    struct Settings: Codable, Sendable, Equatable { var name: String }

    @Test func theTextIsTheKeyAndTheCacheIsBounded() throws {
        let cache = DecodedJSONCache<Settings>(capacity: 3)
        #expect(try cache.decode(#"{"name":"a"}"#) == Settings(name: "a"))
        #expect(try cache.decode(#"{"name":"a"}"#) == Settings(name: "a"))
        #expect(cache.count == 1)
        // The same row after an update is other text: never the old value.
        #expect(try cache.decode(#"{"name":"b"}"#) == Settings(name: "b"))
        #expect(throws: (any Error).self) { try cache.decode(#"{"nom":"c"}"#) }
        for name in ["c", "d", "e"] { _ = try cache.decode(#"{"name":"\#(name)"}"#) }
        #expect(cache.count <= 3)
        #expect(try cache.decode(#"{"name":"a"}"#) == Settings(name: "a"))
    }
}
