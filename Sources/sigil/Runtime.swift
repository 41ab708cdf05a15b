import ArgumentParser
import Foundation
import Logging
import SigilCore
import SigilHTTP
import SigilIDV
import SigilRemote
import SigilSQLStore
import SigilServices
import SigilStore

/// Options every subcommand shares, so each acts on the same store as `sigil serve`.
struct StoreOptions: ParsableArguments {
    @Option(help: "Directory for the SQLite database and the master key file. [env: SIGIL_DATA_DIR] (default: ./sigil-data)")
    var dataDir: String?

    @Option(help: "postgres://user:password@host:port/database to use PostgreSQL instead of SQLite. [env: SIGIL_DATABASE_URL]")
    var databaseURL: String?

    @Option(help: "trace, debug, info, notice, warning, error or critical. [env: SIGIL_LOG_LEVEL] (default: info for serve, warning otherwise)")
    var logLevel: String?

    var resolvedDataDir: String { dataDir ?? env("SIGIL_DATA_DIR") ?? "./sigil-data" }
    var resolvedDatabaseURL: String? { databaseURL ?? env("SIGIL_DATABASE_URL") }

    func resolvedLogLevel(default fallback: Logger.Level) throws -> Logger.Level {
        guard let raw = logLevel ?? env("SIGIL_LOG_LEVEL") else { return fallback }
        guard let level = Logger.Level(rawValue: raw.lowercased()) else {
            throw ValidationError("unknown log level \(raw)")
        }
        return level
    }
}

func env(_ name: String) -> String? {
    guard let value = ProcessInfo.processInfo.environment[name], !value.isEmpty else { return nil }
    return value
}

/// An open store with everything the services need. Opening migrates (idempotent) and makes sure
/// the `default` tenant exists, so every command works on a fresh data directory.
struct Runtime {
    let store: SQLStore
    let services: ServiceSet
    let logger: Logger
    let dataDir: String
    let migrationsApplied: [Int]

    static func open(
        _ options: StoreOptions, logger: Logger, pushSender: any PushSender = NoPushSender(),
        backChannelSender: any BackChannelLogoutSender = NoBackChannelLogoutSender()
    ) async throws -> Runtime {
        // Everything Sigil writes (database, WAL, key file) is for its own user only.
        umask(0o077)
        let dataDir = options.resolvedDataDir
        try ensureDirectory(dataDir)
        let masterKey = try loadMasterKey(dataDir: dataDir, logger: logger)
        let store: SQLStore
        if let url = options.resolvedDatabaseURL {
            store = try await SQLStore.open(databaseURL: url, logger: logger)
        } else {
            store = try await SQLStore.sqlite(path: (dataDir as NSString).appendingPathComponent("sigil.sqlite"), logger: logger)
        }
        do {
            let applied = try await store.migrate()
            if !applied.isEmpty {
                logger.notice(
                    "migrations applied",
                    metadata: [
                        "versions": .string(applied.map(String.init).joined(separator: ",")),
                        "storage": .string(store.backendName),
                    ])
            }
            var policy = AuthenticatorPolicy()
            if let text = env("SIGIL_INSECURE_AUTHENTICATOR_LIFETIME_SECONDS") {
                guard let seconds = Double(text), seconds >= 5 else {
                    throw CLIError("SIGIL_INSECURE_AUTHENTICATOR_LIFETIME_SECONDS must be a number of seconds, at least 5")
                }
                policy = .withInsecureLifetime(seconds)
                logger.warning(
                    "authenticator lifetimes shortened for testing; never set this in production",
                    metadata: ["seconds": .string(text)])
            }
            // Outbound fetches go to public addresses only, unless the operator names a host.
            let outbound = OutboundPolicy(environmentValue: env("SIGIL_OUTBOUND_ALLOW_HOSTS"))
            let remote = RemoteDocuments(fetcher: HTTPDocumentFetcher.shared, policy: outbound)
            var services = ServiceSet(
                context: ServiceContext(store: store, masterKey: masterKey, logger: logger, remote: remote),
                authenticatorPolicy: policy, pushSender: pushSender,
                backChannel: BackChannelLogoutDispatcher(sender: backChannelSender))
            if let text = env("SIGIL_INSECURE_IDV_SESSION_LIFETIME_SECONDS") {
                guard let seconds = Double(text), seconds >= 2 else {
                    throw CLIError("SIGIL_INSECURE_IDV_SESSION_LIFETIME_SECONDS must be a number of seconds, at least 2")
                }
                services.idvActivityWindow = seconds
                logger.warning("IDV session lifetime shortened for testing; never set this in production", metadata: ["seconds": .string(text)])
            }
            services.webhookLease = try webhookLease()
            // The IDV image engine: $SIGIL_IDV_ENGINE or /usr/local/lib/sigil/sigil-idv-engine (docs/idv-engines.md).
            services.idvEngine = ProcessIDVEngine.fromEnvironment(logger: logger)
            if services.idvEngine is UnavailableIDVEngine {
                logger.notice("no IDV engine: face match, MRZ and barcode reading report engine_unavailable (sudo scripts/install-idv-engines.sh)")
            }
            if let text = env("SIGIL_OAUTH_REQUIRE_PAR") {
                guard ["true", "false", "1", "0"].contains(text) else { throw CLIError("SIGIL_OAUTH_REQUIRE_PAR must be true or false") }
                services.oauthPolicy.requirePAR = text == "true" || text == "1"
            }
            try await services.tenants.ensureDefault()
            // A database restored with another master key (or a node given the wrong one) stops
            // here, clearly, instead of serving a JWKS it cannot sign for.
            let unreadable = try await services.keys.tenantsUnreadableWithMasterKey()
            if !unreadable.isEmpty {
                throw CLIError(
                    "the master key (fingerprint \(masterKey.fingerprint)) does not open the signing keys of tenant(s) "
                        + unreadable.map(\.slug).joined(separator: ", ")
                        + "; use the master key this database was created with (SIGIL_MASTER_KEY or master.key beside a restored backup)")
            }
            return Runtime(store: store, services: services, logger: logger, dataDir: dataDir, migrationsApplied: applied)
        } catch {
            try? await store.close()
            throw error
        }
    }

    func close() async {
        try? await store.close()
    }

    static func ensureDirectory(_ path: String) throws {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw CLIError("\(path) exists and is not a directory") }
            return
        }
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    }

    /// `SIGIL_MASTER_KEY` (base64 of 32 bytes) or `{data dir}/master.key`, created with mode 0600
    /// on first use. Nodes that share a PostgreSQL database must share this key.
    static func loadMasterKey(dataDir: String, logger: Logger) throws -> MasterKey {
        if let encoded = env("SIGIL_MASTER_KEY") {
            return try MasterKey(encoded: encoded)
        }
        let path = (dataDir as NSString).appendingPathComponent("master.key")
        if FileManager.default.fileExists(atPath: path) {
            let attributes = try FileManager.default.attributesOfItem(atPath: path)
            if let mode = (attributes[.posixPermissions] as? NSNumber)?.intValue, mode & 0o077 != 0 {
                throw CLIError("\(path) is readable by other users (mode \(String(mode, radix: 8))); run chmod 600 on it")
            }
            return try MasterKey(encoded: try String(contentsOfFile: path, encoding: .utf8))
        }
        let (key, encoded) = MasterKey.generate(random: SystemRandom())
        // Create with 0600 from the start: no window where the key is readable by others.
        let fd = Foundation.open(path, O_WRONLY | O_CREAT | O_EXCL, 0o600)
        guard fd >= 0 else { throw CLIError("cannot create \(path): \(String(cString: strerror(errno)))") }
        let handle = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
        handle.write(Data((encoded + "\n").utf8))
        try handle.synchronize()
        try handle.close()
        logger.notice("master key created", metadata: ["path": .string(path), "fingerprint": .string(key.fingerprint)])
        return key
    }
}

struct CLIError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// Sets up logging once per process: JSON lines on stdout for `serve` (the server's output is its
/// log), on stderr for every other command (whose stdout is the command's result).
enum LogSetup {
    /// Every other command: each line written to standard error as it is logged.
    static func bootstrap(level: Logger.Level) -> Logger {
        let output = BufferedLineWriter.fileDescriptor(2)
        LoggingSystem.bootstrap { label in JSONLogHandler(label: label, level: level, output: output) }
        var logger = Logger(label: "sigil")
        logger.logLevel = level
        return logger
    }

    /// `serve`: lines go to standard output through a `BufferedLineWriter`, so no request waits
    /// for the write (a full buffer drops and counts lines instead). Flush it before exiting.
    static func bootstrapServer(level: Logger.Level) -> (Logger, BufferedLineWriter) {
        let writer = BufferedLineWriter(sink: BufferedLineWriter.fileDescriptor(1))
        LoggingSystem.bootstrap { label in JSONLogHandler(label: label, level: level, output: { _ = writer.write($0) }) }
        var logger = Logger(label: "sigil")
        logger.logLevel = level
        return (logger, writer)
    }
}

/// Turns errors into one clear line on stderr and an exit code.
func runReportingErrors(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let error as ServiceError {
        var message = "error: \(error.message)"
        for field in error.fieldErrors where error.fieldErrors.count > 1 { message += "\n  \(field.field): \(field.message)" }
        FileHandle.standardError.write(Data((message + "\n").utf8))
        throw ExitCode(2)
    } catch let error as StoreError {
        let text: String
        switch error.code {
        case .alreadyExists: text = "a \(error.entity) with the same unique value already exists"
        case .notFound: text = "no such \(error.entity)\(error.detail.isEmpty ? "" : " (\(error.detail))")"
        default: text = error.description
        }
        FileHandle.standardError.write(Data("error: \(text)\n".utf8))
        throw ExitCode(1)
    } catch let error as CLIError {
        FileHandle.standardError.write(Data("error: \(error.description)\n".utf8))
        throw ExitCode(1)
    } catch let error as SigilError {
        FileHandle.standardError.write(Data("error: \(error.message)\n".utf8))
        throw ExitCode(1)
    } catch let error as SQLStoreError {
        FileHandle.standardError.write(Data("error: \(error.description)\n".utf8))
        throw ExitCode(1)
    }
}

func printJSON(_ object: Any) throws {
    let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes])
    FileHandle.standardOutput.write(data + Data("\n".utf8))
}

func iso(_ date: Date) -> String { ISO8601DateFormatter().string(from: date) }
