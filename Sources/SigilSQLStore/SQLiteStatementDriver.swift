import CSigilSQLite
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import SQLKit
import SQLiteKit

/// An error SQLite reported through Sigil's driver: its extended result code and message.
struct SQLiteFailure: Error, CustomStringConvertible {
    let code: Int32
    let message: String

    /// The primary result code (the low byte of the extended one).
    var primary: Int32 { code & 0xFF }

    var description: String { "SQLite error \(code): \(message)" }

    static let busy: Int32 = 5
    static let locked: Int32 = 6
    static let constraint: Int32 = 19
    static let constraintForeignKey: Int32 = 19 | (3 << 8)
    static let constraintPrimaryKey: Int32 = 19 | (6 << 8)
    static let constraintUnique: Int32 = 19 | (8 << 8)
}

/// One SQLite connection driven by Sigil instead of SQLiteNIO, for one reason: a statement is
/// prepared once per connection and kept (SQLiteNIO prepares every statement again, which was
/// about 9 % of a token request's CPU). The SQL text is the cache key; SQLKit renders the same
/// query to the same text with `?N` placeholders, so each store query is prepared once.
///
/// The SQLite library is the one sqlite-nio compiles in (see `CSigilSQLite`). Each connection has
/// its own thread (`SQLiteThread`), and every SQLite call of that connection runs there, never on
/// the event loop or the cooperative pool (a statement may wait on `busy_timeout`). The backend
/// runs a whole transaction's code on that thread (`withAffinity`, a task executor preference), so
/// its statements run inline: two thread hops per transaction instead of two per statement. A
/// connection is used by one task at a time (the backend's writer lock and reader pool see to
/// that); the lock here only makes misuse safe, never contended.
final class SQLiteStatementConnection: @unchecked Sendable {
    /// Statements kept per connection; past this, the cache is emptied and starts again (queries
    /// with a variable number of placeholders, `IN (…)`, each render to their own text).
    static let cacheCapacity = 256

    private let lock = NIOLock()
    private var handle: OpaquePointer?
    private var statements: [String: Prepared] = [:]
    /// How many times SQLite compiled a kept statement again before running it (tests: with the
    /// planner's stability guarantee on, new values never cause it).
    private var reprepared = 0
    var statementsReprepared: Int { lock.withLock { reprepared } }
    private let thread: SQLiteThread
    let logger: Logger

    private final class Prepared {
        let statement: OpaquePointer
        let columns: [String]
        init(statement: OpaquePointer, columns: [String]) {
            self.statement = statement
            self.columns = columns
        }
    }

    private init(handle: OpaquePointer, thread: SQLiteThread, logger: Logger) {
        self.handle = handle
        self.thread = thread
        self.logger = logger
    }

    /// Opens (creating it if needed) the database at `path`, or a private in-memory one.
    static func open(path: String?, logger: Logger) async throws -> SQLiteStatementConnection {
        let thread = SQLiteThread()
        do {
            return try await thread.run { try openBlocking(path: path, thread: thread, logger: logger) }
        } catch {
            thread.stop()
            throw error
        }
    }

    private static func openBlocking(path: String?, thread: SQLiteThread, logger: Logger) throws -> SQLiteStatementConnection {
        do {
            var handle: OpaquePointer?
            let flags = SIGIL_SQLITE_OPEN_READWRITE | SIGIL_SQLITE_OPEN_CREATE | SIGIL_SQLITE_OPEN_FULLMUTEX
            let rc = sqlite_nio_sqlite3_open_v2(path ?? ":memory:", &handle, flags, nil)
            guard rc == SIGIL_SQLITE_OK, let handle else {
                let message = handle.flatMap { sqlite_nio_sqlite3_errmsg($0) }.map { String(cString: $0) } ?? "cannot open"
                if let handle { sqlite_nio_sqlite3_close_v2(handle) }
                throw SQLiteFailure(code: rc, message: message)
            }
            // SQLite compiles a statement again whenever a new value is bound to a parameter its
            // plan may depend on (a `LIMIT ?`, `x IN (?, 'literal')`): a kept statement was then
            // parsed and planned anew on every run (3.5 % of the CPU of a code flow, the webhook
            // enqueue of every audited write among them). The query planner stability guarantee
            // plans once, without looking at values. Sigil's plans do not depend on them: no
            // STAT4 statistics, no partial indexes, only substring LIKE patterns.
            let qpsg = sigil_sqlite_enable_qpsg(handle)
            guard qpsg == SIGIL_SQLITE_OK else {
                sqlite_nio_sqlite3_close_v2(handle)
                throw SQLiteFailure(code: qpsg, message: "cannot configure the connection")
            }
            return SQLiteStatementConnection(handle: handle, thread: thread, logger: logger)
        }
    }

    /// Runs `body` with this connection's thread as the task's executor: the statements it sends
    /// through this connection then run inline, without a hop each.
    func withAffinity<R: Sendable>(_ body: () async throws -> R) async throws -> R {
        try await withTaskExecutorPreference(thread) { try await body() }
    }

    /// The connection as SQLKit sees it.
    var sql: any SQLDatabase { SQLiteStatementDatabase(connection: self) }

    /// Runs `sql` with `binds`, returning every row it produced.
    func run(_ sql: String, _ binds: [SQLiteData]) async throws -> [SQLiteStatementRow] {
        if thread.isCurrent { return try runBlocking(sql, binds) }
        return try await thread.run { try self.runBlocking(sql, binds) }
    }

    func close() async throws {
        try await thread.run {
            self.lock.withLock {
                for prepared in self.statements.values { sqlite_nio_sqlite3_finalize(prepared.statement) }
                self.statements.removeAll()
                if let handle = self.handle { sqlite_nio_sqlite3_close_v2(handle) }
                self.handle = nil
            }
        }
        thread.stop()
    }

    deinit {
        // A connection dropped without close() (a failed open of the backend) still lets go of
        // SQLite and of its thread.
        for prepared in statements.values { sqlite_nio_sqlite3_finalize(prepared.statement) }
        if let handle { sqlite_nio_sqlite3_close_v2(handle) }
        thread.stop()
    }

    private func failure(_ handle: OpaquePointer, _ rc: Int32) -> SQLiteFailure {
        let extended = sqlite_nio_sqlite3_extended_errcode(handle)
        let message = sqlite_nio_sqlite3_errmsg(handle).map { String(cString: $0) } ?? "SQLite error"
        return SQLiteFailure(code: extended != 0 ? extended : rc, message: message)
    }

    private func runBlocking(_ sql: String, _ binds: [SQLiteData]) throws -> [SQLiteStatementRow] {
        try lock.withLock {
            guard let handle else { throw SQLiteFailure(code: 21, message: "connection closed") }
            let prepared = try self.prepared(sql, handle)
            let statement = prepared.statement
            defer {
                sqlite_nio_sqlite3_reset(statement)
                sqlite_nio_sqlite3_clear_bindings(statement)
            }
            guard Int(sqlite_nio_sqlite3_bind_parameter_count(statement)) == binds.count else {
                throw SQLiteFailure(
                    code: 25, message: "the statement has \(sqlite_nio_sqlite3_bind_parameter_count(statement)) parameters, \(binds.count) values given")
            }
            for (offset, value) in binds.enumerated() {
                let index = Int32(offset + 1)
                let rc: Int32
                switch value {
                case .integer(let int): rc = sqlite_nio_sqlite3_bind_int64(statement, index, Int64(int))
                case .float(let double): rc = sqlite_nio_sqlite3_bind_double(statement, index, double)
                case .text(let text):
                    rc = text.utf8CString.withUnsafeBufferPointer { sigil_sqlite_bind_text(statement, index, $0.baseAddress, Int32($0.count - 1)) }
                case .blob(let buffer):
                    rc = buffer.withUnsafeReadableBytes {
                        sigil_sqlite_bind_blob(statement, index, $0.baseAddress ?? UnsafeRawPointer(bitPattern: 1), Int32($0.count))
                    }
                case .null: rc = sqlite_nio_sqlite3_bind_null(statement, index)
                }
                guard rc == SIGIL_SQLITE_OK else { throw failure(handle, rc) }
            }
            var rows: [SQLiteStatementRow] = []
            defer { reprepared += Int(sqlite_nio_sqlite3_stmt_status(statement, SIGIL_SQLITE_STMTSTATUS_REPREPARE, 1)) }
            while true {
                let rc = sqlite_nio_sqlite3_step(statement)
                if rc == SIGIL_SQLITE_DONE { break }
                guard rc == SIGIL_SQLITE_ROW else { throw failure(handle, rc) }
                var values: [SQLiteData] = []
                values.reserveCapacity(prepared.columns.count)
                for column in 0..<Int32(prepared.columns.count) {
                    values.append(Self.value(statement, column))
                }
                rows.append(SQLiteStatementRow(columns: prepared.columns, values: values))
            }
            return rows
        }
    }

    private func prepared(_ sql: String, _ handle: OpaquePointer) throws -> Prepared {
        if let known = statements[sql] { return known }
        var statement: OpaquePointer?
        var tail: UnsafePointer<CChar>?
        let rc = sql.withCString { text in
            let rc = sqlite_nio_sqlite3_prepare_v3(handle, text, -1, UInt32(SIGIL_SQLITE_PREPARE_PERSISTENT), &statement, &tail)
            // Anything but whitespace and semicolons after the first statement would be silently
            // skipped: refuse it instead.
            if rc == SIGIL_SQLITE_OK, let tail, String(cString: tail).contains(where: { !$0.isWhitespace && $0 != ";" }) {
                return Int32(-1)
            }
            return rc
        }
        if rc == -1 {
            if let statement { sqlite_nio_sqlite3_finalize(statement) }
            throw SQLiteFailure(code: 1, message: "more than one statement in one query")
        }
        guard rc == SIGIL_SQLITE_OK, let statement else { throw failure(handle, rc) }
        let count = sqlite_nio_sqlite3_column_count(statement)
        let columns = (0..<count).map { index in sqlite_nio_sqlite3_column_name(statement, index).map { String(cString: $0) } ?? "" }
        let prepared = Prepared(statement: statement, columns: columns)
        if statements.count >= Self.cacheCapacity {
            for old in statements.values { sqlite_nio_sqlite3_finalize(old.statement) }
            statements.removeAll(keepingCapacity: true)
        }
        statements[sql] = prepared
        return prepared
    }

    private static func value(_ statement: OpaquePointer, _ column: Int32) -> SQLiteData {
        switch sqlite_nio_sqlite3_column_type(statement, column) {
        case SIGIL_SQLITE_INTEGER: return .integer(Int(sqlite_nio_sqlite3_column_int64(statement, column)))
        case SIGIL_SQLITE_FLOAT: return .float(sqlite_nio_sqlite3_column_double(statement, column))
        case SIGIL_SQLITE_TEXT:
            guard let text = sqlite_nio_sqlite3_column_text(statement, column) else { return .text("") }
            let count = Int(sqlite_nio_sqlite3_column_bytes(statement, column))
            return .text(String(decoding: UnsafeBufferPointer(start: text, count: count), as: UTF8.self))
        case SIGIL_SQLITE_BLOB:
            let count = Int(sqlite_nio_sqlite3_column_bytes(statement, column))
            var buffer = ByteBufferAllocator().buffer(capacity: count)
            if count > 0, let bytes = sqlite_nio_sqlite3_column_blob(statement, column) {
                buffer.writeBytes(UnsafeRawBufferPointer(start: bytes, count: count))
            }
            return .blob(buffer)
        default: return .null
        }
    }
}

/// The thread one SQLite connection lives on, and a `TaskExecutor` for it: jobs of tasks that
/// prefer it and blocking work submitted to it run there, one at a time, in order. `stop()` lets
/// the thread finish what was queued and end.
///
/// However many connections a process has (a test run opens hundreds), at most as many of their
/// threads as there are cores (two at least) run at once: a thread takes a permit for each batch
/// of work, as Swift's cooperative pool has one thread per core. Unbounded, or at twice the
/// cores, they crowded out the cooperative pool and its timers ran many seconds late under the
/// test run's load. A statement waiting on SQLite's `busy_timeout` (another process holding the
/// write lock) holds its permit while it waits.
final class SQLiteThread: TaskExecutor, @unchecked Sendable {
    private static let permits = DispatchSemaphore(value: max(2, ProcessInfo.processInfo.activeProcessorCount))
    private enum Work {
        case job(UnownedJob)
        case block(() -> Void)
    }

    private static let current = ThreadSpecificVariable<SQLiteThread>()
    private let condition = NSCondition()
    private var queue: [Work] = []
    private var stopping = false

    init() {
        // The thread holds the executor until stop(): a job can never be queued to a thread gone.
        let thread = Thread { [self] in self.loop() }
        thread.name = "sigil-sqlite"
        thread.start()
    }

    /// Whether the caller is running on this thread.
    var isCurrent: Bool { Self.current.currentValue === self }

    func enqueue(_ job: consuming ExecutorJob) {
        push(.job(UnownedJob(job)))
    }

    /// Runs blocking `body` on this thread and returns its result to the caller.
    func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
            push(.block { continuation.resume(with: Result(catching: body)) })
        }
    }

    func stop() {
        condition.lock()
        stopping = true
        condition.signal()
        condition.unlock()
    }

    private func push(_ work: Work) {
        condition.lock()
        queue.append(work)
        condition.signal()
        condition.unlock()
    }

    private func loop() {
        Self.current.currentValue = self
        let executor = asUnownedTaskExecutor()
        var batch: [Work] = []
        while true {
            condition.lock()
            while queue.isEmpty && !stopping { condition.wait() }
            if queue.isEmpty {
                condition.unlock()
                Self.current.currentValue = nil
                return
            }
            swap(&batch, &queue)
            condition.unlock()
            Self.permits.wait()
            for work in batch {
                switch work {
                case .job(let job): job.runSynchronously(on: executor)
                case .block(let body): body()
                }
            }
            Self.permits.signal()
            batch.removeAll(keepingCapacity: true)
        }
    }
}

/// A row read by `SQLiteStatementConnection`: values decoded with SQLiteKit's own decoder, so a
/// column reads the same as through SQLiteNIO.
struct SQLiteStatementRow: SQLRow {
    let columns: [String]
    let values: [SQLiteData]

    var allColumns: [String] { columns }

    private func value(_ column: String) -> SQLiteData? {
        columns.firstIndex(of: column).map { values[$0] }
    }

    func contains(column: String) -> Bool { columns.contains(column) }

    func decodeNil(column: String) throws -> Bool { (value(column) ?? .null) == .null }

    func decode<D: Decodable>(column: String, as type: D.Type) throws -> D {
        guard let data = value(column) else { throw SQLiteFailure(code: 1, message: "no column \(column) in the row") }
        // The two types nearly every column is read as, without the decoder's machinery.
        if D.self == String.self, case .text(let text) = data { return text as! D }
        if D.self == Int64.self, case .integer(let int) = data { return Int64(int) as! D }
        return try SQLiteDataDecoder().decode(D.self, from: data)
    }
}

/// `SQLDatabase` over a `SQLiteStatementConnection`, in SQLite's dialect.
struct SQLiteStatementDatabase: SQLDatabase {
    let connection: SQLiteStatementConnection

    var logger: Logger { connection.logger }
    var eventLoop: any EventLoop { MultiThreadedEventLoopGroup.singleton.any() }
    var dialect: any SQLDialect { SQLiteDialect() }
    var queryLogLevel: Logger.Level? { .trace }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> Void) -> EventLoopFuture<Void> {
        let promise = eventLoop.makePromise(of: Void.self)
        promise.completeWithTask { try await self.execute(sql: query, onRow) }
        return promise.futureResult
    }

    func execute(sql query: any SQLExpression, _ onRow: @escaping @Sendable (any SQLRow) -> Void) async throws {
        let (sql, rawBinds) = serialize(query)
        // The SQL only, never the bound values: they can be secrets or personal data.
        logger.trace("Executing query", metadata: ["sql": .string(sql)])
        let encoder = SQLiteDataEncoder()
        let binds = try rawBinds.map { try encoder.encode($0) }
        for row in try await connection.run(sql, binds) { onRow(row) }
    }
}
