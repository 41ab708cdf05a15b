import Foundation
import Logging
import NIOSSL
import PostgresKit
import PostgresNIO
import SQLKit
import SQLiteKit
import SigilStore
import Synchronization

enum SQLFlavor: Sendable {
    case sqlite
    case postgres
}

/// A database connection source with transactions. Two implementations: one SQLite connection
/// serialized behind a lock, and a PostgreSQL connection pool.
protocol SQLBackend: Sendable {
    var flavor: SQLFlavor { get }
    func withConnection<R: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> R) async throws -> R
    func withTransaction<R: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> R) async throws -> R
    /// The change signal for this backend's deployment shape.
    func makeSignals(logger: Logger) -> any ChangeSignal
    /// A transaction without the per-operation deadline (migrations may legitimately take long).
    func withLongTransaction<R: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> R) async throws -> R
    func close() async throws
}

extension SQLBackend {
    func withLongTransaction<R: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> R) async throws -> R {
        try await withTransaction(body)
    }
}

/// `begin`, then `body`, then `COMMIT`; `ROLLBACK` (best effort) when the body throws. Both
/// backends' transactions, which differ only in how they begin.
func inTransaction<R>(_ db: any SQLDatabase, begin: String, _ body: (any SQLDatabase) async throws -> R) async throws -> R {
    try await db.raw("\(unsafeRaw: begin)").run()
    do {
        let result = try await body(db)
        try await db.raw("COMMIT").run()
        return result
    } catch {
        try? await db.raw("ROLLBACK").run()
        throw error
    }
}

/// A FIFO async lock. Waiters resume in arrival order.
actor AsyncLock {
    private var held = false
    private var waiters: [CheckedContinuation<Void, Never>] = []

    func acquire() async {
        if !held {
            held = true
            return
        }
        await withCheckedContinuation { waiters.append($0) }
    }

    func release() {
        if waiters.isEmpty {
            held = false
        } else {
            waiters.removeFirst().resume()
        }
    }

    func withLock<R: Sendable>(_ body: @Sendable () async throws -> R) async throws -> R {
        await acquire()
        do {
            let result = try await body()
            release()
            return result
        } catch {
            release()
            throw error
        }
    }
}

/// SQLite: one writer connection and, for a database file, a small pool of reader connections.
///
/// Writes and transactions take the writer's lock, so a transaction's statements never interleave
/// with another task's; `BEGIN IMMEDIATE` takes SQLite's write lock at once, so other processes on
/// the same file (CLI commands beside `sigil serve`) wait on `busy_timeout` instead of failing
/// half-way. Reads outside a transaction go to a reader (WAL lets readers run beside the writer,
/// each statement seeing the last commit), so a read never queues behind a transaction, the way
/// reads on PostgreSQL's pool do not. Readers are `query_only`: a write sent to one by mistake
/// fails instead of slipping past the writer's lock. An in-memory database has no readers (each
/// connection would open its own empty database): everything goes through the writer.
final class SQLiteBackend: SQLBackend {
    let flavor = SQLFlavor.sqlite
    private let connection: any SQLiteLink
    private let lock = AsyncLock()
    private let readers: ConnectionPool<any SQLiteLink>?

    private init(connection: any SQLiteLink, readers: [any SQLiteLink]) {
        self.connection = connection
        self.readers = readers.isEmpty ? nil : ConnectionPool(readers)
    }

    /// Reader connections of a database file: enough to keep SQLite's thread pool busy while one
    /// slow read (an audit export) runs.
    static let defaultReaders = 4

    static func open(path: String?, logger: Logger, readers readerCount: Int = defaultReaders, driver: SQLiteDriver = .statements)
        async throws -> SQLiteBackend
    {
        let connection = try await driver.open(path: path, logger: logger)
        let db = connection.sql
        do {
            if path != nil {
                try await db.raw("PRAGMA journal_mode = WAL").run()
            }
            try await db.raw("PRAGMA busy_timeout = 10000").run()
            try await db.raw("PRAGMA foreign_keys = ON").run()
            try await db.raw("PRAGMA synchronous = NORMAL").run()
        } catch {
            try? await connection.close()
            throw error
        }
        var readers: [any SQLiteLink] = []
        if path != nil {
            do {
                for _ in 0..<max(0, readerCount) {
                    let reader = try await driver.open(path: path, logger: logger)
                    readers.append(reader)
                    let rdb = reader.sql
                    try await rdb.raw("PRAGMA busy_timeout = 10000").run()
                    try await rdb.raw("PRAGMA query_only = ON").run()
                }
            } catch {
                for reader in readers { try? await reader.close() }
                try? await connection.close()
                throw error
            }
        }
        return SQLiteBackend(connection: connection, readers: readers)
    }

    func withConnection<R: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> R) async throws -> R {
        guard let readers else { return try await withWriter(body) }
        let reader = await readers.acquire()
        do {
            let result = try await reader.withAffinity { try await body(reader.sql) }
            await readers.release(reader)
            return result
        } catch {
            await readers.release(reader)
            throw error
        }
    }

    /// `VACUUM INTO path` (`sigil backup`): on a reader with `query_only` lifted for the one
    /// statement, since it writes only the new file; it reads the database in one read
    /// transaction, so writers carry on meanwhile. The writer does it for an in-memory database.
    func vacuum(into path: String) async throws {
        guard let readers else {
            return try await withWriter { db in try await db.raw("VACUUM INTO \(bind: path)").run() }
        }
        let reader = await readers.acquire()
        let db = reader.sql
        do {
            try await db.raw("PRAGMA query_only = OFF").run()
            do {
                try await db.raw("VACUUM INTO \(bind: path)").run()
            } catch {
                try await db.raw("PRAGMA query_only = ON").run()
                throw error
            }
            try await db.raw("PRAGMA query_only = ON").run()
            await readers.release(reader)
        } catch {
            // A reader whose query_only could not be restored is not lent again.
            let restored = (try? await db.raw("PRAGMA query_only").all().first?.decode(column: "query_only", as: Int.self)) == 1
            if restored { await readers.release(reader) }
            throw error
        }
    }

    /// The writer connection outside a transaction (statements that must not run on a reader).
    func withWriter<R: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> R) async throws -> R {
        let connection = self.connection
        return try await lock.withLock { try await connection.withAffinity { try await body(connection.sql) } }
    }

    func withTransaction<R: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> R) async throws -> R {
        let connection = self.connection
        return try await lock.withLock {
            try await connection.withAffinity { try await inTransaction(connection.sql, begin: "BEGIN IMMEDIATE", body) }
        }
    }

    func makeSignals(logger: Logger) -> any ChangeSignal { LocalChangeSignal() }

    func close() async throws {
        if let readers {
            for reader in await readers.drain() { try? await reader.close() }
        }
        try await connection.close()
    }
}

/// Which code drives SQLite. Sigil's own driver (the default) keeps prepared statements per
/// connection; SQLiteNIO's prepares each statement again. Both use the one SQLite library
/// sqlite-nio links in. `SIGIL_SQLITE_DRIVER=sqlite-nio` selects SQLiteNIO's (benchmarks compare
/// the two in one run; a way back should Sigil's driver misbehave somewhere).
enum SQLiteDriver: String, Sendable {
    case statements = "sigil"
    case sqliteNIO = "sqlite-nio"

    func open(path: String?, logger: Logger) async throws -> any SQLiteLink {
        switch self {
        case .statements:
            return try await SQLiteStatementConnection.open(path: path, logger: logger)
        case .sqliteNIO:
            let storage: SQLiteConnection.Storage = path.map { .file(path: $0) } ?? .memory
            return SQLiteNIOLink(connection: try await SQLiteConnection.open(storage: storage, logger: logger))
        }
    }
}

/// One SQLite connection, whichever driver opened it.
protocol SQLiteLink: Sendable {
    var sql: any SQLDatabase { get }
    /// Runs `body` where this connection's statements run cheapest (for Sigil's driver, on the
    /// connection's own thread).
    func withAffinity<R: Sendable>(_ body: () async throws -> R) async throws -> R
    func close() async throws
}

extension SQLiteStatementConnection: SQLiteLink {}

struct SQLiteNIOLink: SQLiteLink {
    let connection: SQLiteConnection
    var sql: any SQLDatabase { connection.sql(queryLogLevel: .trace) }
    func withAffinity<R: Sendable>(_ body: () async throws -> R) async throws -> R { try await body() }
    func close() async throws { try await connection.close() }
}

/// A fixed set of connections, each lent to one task at a time; waiters are served in arrival order.
actor ConnectionPool<Connection: Sendable> {
    private var idle: [Connection]
    private var waiters: [CheckedContinuation<Connection, Never>] = []
    private var all: [Connection]

    init(_ connections: [Connection]) {
        self.idle = connections
        self.all = connections
    }

    func acquire() async -> Connection {
        if let connection = idle.popLast() { return connection }
        return await withCheckedContinuation { waiters.append($0) }
    }

    func release(_ connection: Connection) {
        if waiters.isEmpty {
            idle.append(connection)
        } else {
            waiters.removeFirst().resume(returning: connection)
        }
    }

    /// Every connection, for closing; the pool lends none afterwards.
    func drain() -> [Connection] {
        defer {
            all = []
            idle = []
        }
        return all
    }
}

/// PostgreSQL through PostgresNIO's pooled client. The client's `run()` is owned by this backend:
/// started on open, cancelled on close.
final class PostgresBackend: SQLBackend {
    let flavor = SQLFlavor.postgres
    private let client: PostgresClient
    private let runTask: Task<Void, Never>

    private init(client: PostgresClient, runTask: Task<Void, Never>, operationTimeout: Duration) {
        self.client = client
        self.runTask = runTask
        self.operationTimeout = operationTimeout
    }

    /// How long one database operation (connection lease plus statements) may take before the
    /// caller gets `unavailable`, so a lost database answers requests with 503s instead of hanging
    /// them (and graceful shutdown with them).
    static let defaultOperationTimeout: Duration = .seconds(15)

    /// This backend's deadline per operation (`defaultOperationTimeout` unless the opener chose).
    let operationTimeout: Duration

    static func open(url: String, logger: Logger, operationTimeout: Duration = defaultOperationTimeout) async throws -> PostgresBackend {
        let configuration = try PostgresURL.parse(url)
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        // Lease only once run() has begun (PostgresClient warns about leases before it).
        let (started, signal) = AsyncStream<Void>.makeStream()
        let task = Task {
            signal.finish()
            await client.run()
        }
        for await _ in started {}
        try? await Task.sleep(for: .milliseconds(20))
        let backend = PostgresBackend(client: client, runTask: task, operationTimeout: operationTimeout)
        do {
            // Fail fast with a clear error when the server cannot be reached.
            try await backend.withConnection { db in try await db.raw("SELECT 1").run() }
        } catch {
            task.cancel()
            throw error
        }
        return backend
    }

    func withConnection<R: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> R) async throws -> R {
        let client = self.client
        return try await withDeadline(operationTimeout) {
            try await client.withConnection { connection in
                try await body(connection.sql(queryLogLevel: .trace))
            }
        }
    }

    func withTransaction<R: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> R) async throws -> R {
        try await withDeadline(operationTimeout) { try await self.withLongTransaction(body) }
    }

    func withLongTransaction<R: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> R) async throws -> R {
        try await client.withConnection { connection in
            try await inTransaction(connection.sql(queryLogLevel: .trace), begin: "BEGIN", body)
        }
    }

    func makeSignals(logger: Logger) -> any ChangeSignal { PostgresChangeSignal(client: client, logger: logger) }

    /// Stops the pool. Bounded: a connection wedged on a vanished server must not keep the
    /// process from exiting once the server has stopped taking requests.
    func close() async throws {
        runTask.cancel()
        let runTask = self.runTask
        _ = try? await withDeadline(Self.closeTimeout) { await runTask.value }
    }

    static let closeTimeout: Duration = .seconds(10)
}

/// Parses `postgres://user:password@host:port/database?sslmode=…`.
enum PostgresURL {
    static func parse(_ url: String) throws -> PostgresClient.Configuration {
        guard let components = URLComponents(string: url),
            let scheme = components.scheme, ["postgres", "postgresql"].contains(scheme),
            let host = components.host, !host.isEmpty
        else {
            throw SQLStoreError.invalidDatabaseURL("expected postgres://user[:password]@host[:port]/database")
        }
        let user = components.percentEncodedUser.flatMap { $0.removingPercentEncoding } ?? "postgres"
        let password = components.percentEncodedPassword.flatMap { $0.removingPercentEncoding }
        let database = String(components.path.drop(while: { $0 == "/" }))
        let sslmode = components.queryItems?.first(where: { $0.name == "sslmode" })?.value ?? "disable"
        let tls: PostgresClient.Configuration.TLS
        switch sslmode {
        case "disable": tls = .disable
        case "prefer", "allow": tls = .prefer(.makeClientConfiguration())
        case "require", "verify-ca", "verify-full": tls = .require(.makeClientConfiguration())
        default: throw SQLStoreError.invalidDatabaseURL("unknown sslmode \(sslmode)")
        }
        var configuration = PostgresClient.Configuration(
            host: host, port: components.port ?? 5432, username: user, password: password,
            database: database.isEmpty ? nil : database, tls: tls)
        configuration.options.maximumConnections = 16
        // The pool arms a timer (a `Task.sleep`) for each connection it gets back: an idle timeout
        // and a keep-alive. A cancelled sleep keeps its dispatch timer until the time it was
        // sleeping for, so every lease left ~60 s of timers behind and memory grew with load
        // (issue 17). No keep-alive query (a dead connection fails its next statement and is
        // replaced, which the per-operation deadline already bounds), and idle connections close
        // after 15 s instead of 60.
        configuration.options.keepAliveBehavior = nil
        configuration.options.connectionIdleTimeout = .seconds(15)
        return configuration
    }
}

public enum SQLStoreError: Error, CustomStringConvertible {
    case invalidDatabaseURL(String)
    case schemaNewerThanBinary(applied: Int, known: Int)
    case backupUnsupported(String)

    public var description: String {
        switch self {
        case .invalidDatabaseURL(let why): "invalid database URL: \(why)"
        case .schemaNewerThanBinary(let applied, let known):
            "the database schema is at migration \(applied) but this binary knows only \(known): upgrade Sigil"
        case .backupUnsupported(let why): why
        }
    }
}

/// Thrown when a database operation outlives its deadline.
struct DatabaseTimeout: Error {}

/// Runs `body`, giving up after `limit`: the body is cancelled and `DatabaseTimeout` thrown.
///
/// The caller is released at the deadline even when the body does not honour cancellation. A
/// task group would not do that: it waits for every child, so one database call stuck on a
/// connection that died mid-query (seen with PostgresNIO when the server vanished during a
/// statement) held its caller, and with it graceful shutdown, forever. The abandoned body keeps
/// running until its connection gives up; its result, if any, is dropped. As with any timeout on
/// a write, a commit may still have reached the server: callers see `unavailable`, not "not done".
///
/// Deadlines are watched by one `DeadlineClock`, not by a sleeping task per call: a cancelled
/// `Task.sleep` leaves its dispatch timer armed until the time it was sleeping for, so every
/// PostgreSQL statement used to leave a task and a timer behind for 15 s (under token load about
/// 20,000 of them, the anonymous memory that grew with load, issue 17).
func withDeadline<R: Sendable>(
    _ limit: Duration, clock: DeadlineClock = .shared, _ body: @escaping @Sendable () async throws -> R
) async throws -> R {
    let race = DeadlineRace<R>(clock: clock)
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<R, any Error>) in
            let watch = clock.watch(until: .now + limit) { race.finish(.failure(DatabaseTimeout())) }
            race.start(
                continuation,
                work: Task {
                    do { race.finish(.success(try await body())) } catch { race.finish(.failure(error)) }
                },
                watch: watch)
        }
    } onCancel: {
        race.finish(.failure(CancellationError()))
    }
}

/// The state `withDeadline` shares between its body, the deadline clock and its caller's
/// cancellation: the first outcome resumes the caller, cancels the body and stops watching the
/// deadline; later ones are dropped.
private final class DeadlineRace<R: Sendable>: Sendable {
    private struct State {
        var continuation: CheckedContinuation<R, any Error>?
        var early: Result<R, any Error>?
        var work: Task<Void, Never>?
        var watch: DeadlineClock.Watch?
        var done = false
    }
    private let state = Mutex(State())
    private let clock: DeadlineClock

    init(clock: DeadlineClock) {
        self.clock = clock
    }

    func start(_ continuation: CheckedContinuation<R, any Error>, work: Task<Void, Never>, watch: DeadlineClock.Watch) {
        let early: Result<R, any Error>? = state.withLock { s in
            s.work = work
            s.watch = watch
            if let early = s.early { return early }
            s.continuation = continuation
            return nil
        }
        if let early {
            work.cancel()
            clock.stop(watch)
            continuation.resume(with: early)
        }
    }

    func finish(_ outcome: Result<R, any Error>) {
        let (continuation, work, watch): (CheckedContinuation<R, any Error>?, Task<Void, Never>?, DeadlineClock.Watch?) = state.withLock { s in
            if s.done { return (nil, nil, nil) }
            s.done = true
            guard let continuation = s.continuation else {
                // Before `start` (a cancellation, or a body or deadline faster than `start`): `start` resumes.
                s.early = outcome
                return (nil, nil, nil)
            }
            s.continuation = nil
            return (continuation, s.work, s.watch)
        }
        work?.cancel()
        if let watch { clock.stop(watch) }
        continuation?.resume(with: outcome)
    }
}

/// Watches every pending database deadline with one task that wakes every `tick` while any is
/// pending and ends when none is. A deadline fires at most one tick late, which for limits of
/// seconds does not matter; registering and stopping a watch is a dictionary insert and removal.
final class DeadlineClock: Sendable {
    static let shared = DeadlineClock()
    static let tick: Duration = .milliseconds(100)

    struct Watch: Sendable, Hashable {
        fileprivate let id: UInt64
    }

    private struct Entry {
        var deadline: ContinuousClock.Instant
        var expire: @Sendable () -> Void
    }

    private struct State {
        var next: UInt64 = 0
        var pending: [UInt64: Entry] = [:]
        var ticking = false
    }

    private let state = Mutex(State())

    /// Calls `expire` once `deadline` has passed, unless `stop` came first.
    func watch(until deadline: ContinuousClock.Instant, expire: @escaping @Sendable () -> Void) -> Watch {
        let (id, startTicking) = state.withLock { s -> (UInt64, Bool) in
            s.next &+= 1
            s.pending[s.next] = Entry(deadline: deadline, expire: expire)
            if s.ticking { return (s.next, false) }
            s.ticking = true
            return (s.next, true)
        }
        if startTicking { Task.detached { await self.run() } }
        return Watch(id: id)
    }

    func stop(_ watch: Watch) {
        _ = state.withLock { $0.pending.removeValue(forKey: watch.id) }
    }

    /// Deadlines being watched (tests).
    var pendingCount: Int { state.withLock { $0.pending.count } }

    private func run() async {
        while true {
            try? await Task.sleep(for: Self.tick)
            let now = ContinuousClock.now
            let due: [@Sendable () -> Void]? = state.withLock { s in
                if s.pending.isEmpty {
                    s.ticking = false
                    return nil
                }
                let ids = s.pending.compactMap { $0.value.deadline <= now ? $0.key : nil }
                return ids.compactMap { s.pending.removeValue(forKey: $0)?.expire }
            }
            guard let due else { return }
            for expire in due { expire() }
        }
    }
}
