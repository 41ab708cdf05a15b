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

/// SQLite: one connection; every statement and transaction takes the lock, so a transaction's
/// statements never interleave with another task's. `BEGIN IMMEDIATE` takes SQLite's write lock
/// at once, so other processes on the same file (CLI commands beside `sigil serve`) wait on
/// `busy_timeout` instead of failing half-way.
final class SQLiteBackend: SQLBackend {
    let flavor = SQLFlavor.sqlite
    private let connection: SQLiteConnection
    private let lock = AsyncLock()

    private init(connection: SQLiteConnection) {
        self.connection = connection
    }

    static func open(path: String?, logger: Logger) async throws -> SQLiteBackend {
        let storage: SQLiteConnection.Storage = path.map { .file(path: $0) } ?? .memory
        let connection = try await SQLiteConnection.open(storage: storage, logger: logger)
        let db = connection.sql(queryLogLevel: .trace)
        if path != nil {
            try await db.raw("PRAGMA journal_mode = WAL").run()
        }
        try await db.raw("PRAGMA busy_timeout = 10000").run()
        try await db.raw("PRAGMA foreign_keys = ON").run()
        try await db.raw("PRAGMA synchronous = NORMAL").run()
        return SQLiteBackend(connection: connection)
    }

    func withConnection<R: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> R) async throws -> R {
        let db = connection.sql(queryLogLevel: .trace)
        return try await lock.withLock { try await body(db) }
    }

    func withTransaction<R: Sendable>(_ body: @escaping @Sendable (any SQLDatabase) async throws -> R) async throws -> R {
        let db = connection.sql(queryLogLevel: .trace)
        return try await lock.withLock {
            try await db.raw("BEGIN IMMEDIATE").run()
            do {
                let result = try await body(db)
                try await db.raw("COMMIT").run()
                return result
            } catch {
                try? await db.raw("ROLLBACK").run()
                throw error
            }
        }
    }

    func makeSignals(logger: Logger) -> any ChangeSignal { LocalChangeSignal() }

    func close() async throws {
        try await connection.close()
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
            let db = connection.sql(queryLogLevel: .trace)
            try await db.raw("BEGIN").run()
            do {
                let result = try await body(db)
                try await db.raw("COMMIT").run()
                return result
            } catch {
                try? await db.raw("ROLLBACK").run()
                throw error
            }
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
func withDeadline<R: Sendable>(_ limit: Duration, _ body: @escaping @Sendable () async throws -> R) async throws -> R {
    let race = DeadlineRace<R>()
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<R, any Error>) in
            race.start(
                continuation,
                work: Task {
                    do { race.finish(.success(try await body())) } catch { race.finish(.failure(error)) }
                },
                timer: Task {
                    do { try await Task.sleep(for: limit) } catch { return }
                    race.finish(.failure(DatabaseTimeout()))
                })
        }
    } onCancel: {
        race.finish(.failure(CancellationError()))
    }
}

/// The state `withDeadline` shares between its body, its timer and its caller's cancellation:
/// the first outcome resumes the caller and cancels the other tasks; later ones are dropped.
private final class DeadlineRace<R: Sendable>: Sendable {
    private struct State {
        var continuation: CheckedContinuation<R, any Error>?
        var early: Result<R, any Error>?
        var tasks: [Task<Void, Never>] = []
        var done = false
    }
    private let state = Mutex(State())

    func start(_ continuation: CheckedContinuation<R, any Error>, work: Task<Void, Never>, timer: Task<Void, Never>) {
        let early: Result<R, any Error>? = state.withLock { s in
            s.tasks = [work, timer]
            if let early = s.early { return early }
            s.continuation = continuation
            return nil
        }
        if let early {
            work.cancel()
            timer.cancel()
            continuation.resume(with: early)
        }
    }

    func finish(_ outcome: Result<R, any Error>) {
        let (continuation, tasks): (CheckedContinuation<R, any Error>?, [Task<Void, Never>]) = state.withLock { s in
            if s.done { return (nil, []) }
            s.done = true
            guard let continuation = s.continuation else {
                // Before `start` (only a cancellation can be that early): `start` resumes.
                s.early = outcome
                return (nil, [])
            }
            s.continuation = nil
            return (continuation, s.tasks)
        }
        for task in tasks { task.cancel() }
        continuation?.resume(with: outcome)
    }
}
