import ArgumentParser
import Foundation
import Logging
import ServiceLifecycle
import SigilCore
import SigilHTTP
import SigilPush
import SigilSQLStore
import SigilServices
import SigilStore

@main
struct Sigil: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sigil",
        abstract: "Sigil: a self-hosted, passwordless identity provider.",
        version: SigilServer.version,
        subcommands: [
            Serve.self, Migrate.self, TenantCommand.self, UserCommand.self, AppCommand.self, KeysCommand.self, AdminCommand.self, AuditCommand.self,
            Backup.self, UpstreamCommand.self, IntegrationCommand.self, IDVCommand.self,
        ],
        defaultSubcommand: nil)
}

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Run the server.")

    @Option(help: "Address to listen on. [env: SIGIL_HOST] (default: 127.0.0.1)") var host: String?
    @Option(help: "Port to listen on. [env: SIGIL_PORT] (default: 8080)") var port: Int?
    @Option(help: "The URL users reach Sigil at; the default tenant's issuer. [env: SIGIL_PUBLIC_URL] (default: http://HOST:PORT)")
    var publicURL: String?
    @OptionGroup var store: StoreOptions

    func run() async throws {
        let (logger, logWriter) = LogSetup.bootstrapServer(level: try store.resolvedLogLevel(default: .info))
        // Whatever the way out, the lines logged so far reach standard output.
        defer { logWriter.flush() }
        try await runReportingErrors {
            let host = self.host ?? env("SIGIL_HOST") ?? "127.0.0.1"
            guard let port = self.port ?? env("SIGIL_PORT").flatMap(Int.init), (1...65535).contains(port) else {
                throw CLIError("--port (or SIGIL_PORT) must be a number from 1 to 65535")
            }
            let urlHost = (host == "0.0.0.0" || host == "::") ? "localhost" : host
            let publicText = self.publicURL ?? env("SIGIL_PUBLIC_URL") ?? "http://\(urlHost):\(port)"
            guard let publicURL = URL(string: publicText.hasSuffix("/") ? String(publicText.dropLast()) : publicText),
                ["http", "https"].contains(publicURL.scheme ?? ""), publicURL.host != nil, publicURL.query == nil
            else {
                throw CLIError("--public-url must be an absolute http(s) URL without a query, e.g. https://id.example.com")
            }
            var rateLimitScale = 1.0
            if let text = env("SIGIL_RATE_LIMIT_SCALE") {
                guard let value = Double(text), value > 0, value <= 1_000_000 else {
                    throw CLIError("SIGIL_RATE_LIMIT_SCALE must be a positive number (1 = the documented limits)")
                }
                rateLimitScale = value
            }
            var trustedProxies = TrustedProxies.none
            if let text = env("SIGIL_TRUSTED_PROXIES") {
                guard let parsed = TrustedProxies(text) else {
                    throw CLIError("SIGIL_TRUSTED_PROXIES must list IP addresses or CIDR ranges, e.g. 10.0.0.0/8,127.0.0.1")
                }
                trustedProxies = parsed
            }
            // Push delivery (APNs, FCM) when configured; the devices' streams deliver either way.
            let pushClient = PushHTTPClient()
            let pushSender: any PushSender
            do {
                pushSender =
                    try PushConfiguration.make(
                        environment: ProcessInfo.processInfo.environment, logger: logger,
                        client: pushClient) ?? NoPushSender()
            } catch {
                try? await pushClient.shutdown()
                throw CLIError("push configuration: \(error)")
            }
            let runtime: Runtime
            do {
                runtime = try await Runtime.open(
                    store, logger: logger, pushSender: pushSender,
                    backChannelSender: BackChannelLogoutHTTPSender(
                        client: pushClient, policy: OutboundPolicy(environmentValue: env("SIGIL_OUTBOUND_ALLOW_HOSTS")),
                        logger: logger))
            } catch {
                try? await pushClient.shutdown()
                throw error
            }
            let metrics = HTTPMetrics(version: SigilServer.version, backend: runtime.store.backendName)
            logWriter.observeDrops { metrics.countDroppedLogLines($0) }
            let services = runtime.services
            let app = SigilServer.application(
                services: services, metrics: metrics, host: host, port: port, publicURL: publicURL, logger: logger,
                rateLimiter: RateLimiter(scale: rateLimitScale), trustedProxies: trustedProxies,
                onServerRunning: { _ in
                    await Self.announce(services: services, publicURL: publicURL, runtime: runtime)
                })
            let group = ServiceGroup(
                configuration: .init(
                    services: [
                        .init(service: app),
                        .init(service: PeriodicService.expirySweep(services, logger: logger)),
                        .init(service: PeriodicService.logoutDeliveries(services, interval: .seconds(15), logger: logger)),
                        .init(service: PeriodicService.stepUpExpiry(services, interval: .seconds(5), logger: logger)),
                        .init(
                            service: PeriodicService.webhookDeliveries(
                                services, interval: try webhookPollInterval(), logger: logger,
                                record: { pass, pending in
                                    metrics.recordWebhookPass(
                                        delivered: pass.delivered, retrying: pass.retrying, failed: pass.failed, pending: pending)
                                })),
                        .init(
                            service: PeriodicService.ssfDeliveries(
                                services, publicURL: publicURL.absoluteString, interval: try webhookPollInterval(), logger: logger)),
                        .init(service: PeriodicService.auditCheckpoints(services, interval: try auditCheckpointInterval(), logger: logger)),
                        .init(service: PeriodicService.upstreamMetadata(services, logger: logger)),
                        .init(
                            service: PeriodicService.integrationCheck(
                                services, interval: .seconds(3600), logger: logger, drifting: { metrics.setDriftingIntegrations($0) })),
                        .init(service: TenantDocumentsFollower(services: services)),
                    ],
                    gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
            do {
                try await group.run()
            } catch {
                await services.pushDispatcher.drain()
                await services.backChannel.drain()
                try? await pushClient.shutdown()
                await runtime.close()
                throw error
            }
            // Deliveries already queued finish before the store closes.
            logger.notice("stopping: server closed, finishing queued deliveries")
            await services.pushDispatcher.drain()
            await services.backChannel.drain()
            try? await pushClient.shutdown()
            logger.notice("stopping: closing storage")
            await runtime.close()
            logger.notice("stopped")
        }
    }

    /// The human banner on stderr: where Sigil listens and, until the first administrator has
    /// enrolled, a fresh one-time enrolment link (stored hashed, single use, 24 h).
    static func announce(services: ServiceSet, publicURL: URL, runtime: Runtime) async {
        var lines = ["Sigil \(SigilServer.version) is listening on \(publicURL.absoluteString) (storage: \(runtime.store.backendName))"]
        do {
            let tenant = try await services.tenants.get(slug: Tenant.defaultSlug)
            if try await services.context.store.enrolmentTokens.anyConsumed(tenantID: tenant.id, purpose: .firstAdmin) == false {
                let (url, expires) = try await services.enrolment.createFirstAdminLink(tenant: tenant, issuer: publicURL.absoluteString, by: .system)
                lines.append("Enrol the first administrator with this one-time link (expires \(iso(expires))):")
                lines.append("  \(url.value)")
            }
        } catch {
            runtime.logger.error("could not create the enrolment link", metadata: ["error": .string("\(error)")])
        }
        FileHandle.standardError.write(Data((lines.joined(separator: "\n") + "\n").utf8))
        runtime.logger.notice("ready", metadata: ["url": .string(publicURL.absoluteString), "storage": .string(runtime.store.backendName)])
    }
}

struct Migrate: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Apply database migrations (idempotent).")
    @OptionGroup var store: StoreOptions

    func run() async throws {
        let logger = LogSetup.bootstrap(level: try store.resolvedLogLevel(default: .warning))
        try await runReportingErrors {
            let runtime = try await Runtime.open(store, logger: logger)
            defer { Task { await runtime.close() } }
            let applied = runtime.migrationsApplied
            print(
                applied.isEmpty
                    ? "Database is up to date (migration \(SQLStore.latestMigration), \(runtime.store.backendName))."
                    : "Applied migrations \(applied.map(String.init).joined(separator: ", ")) (\(runtime.store.backendName)).")
            await runtime.close()
        }
    }
}

struct Backup: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Copy the live SQLite database to a new file (consistent while sigil serve runs; VACUUM INTO).",
        discussion: """
            The copy holds sealed signing keys that only the same master key opens: keep master.key (or \
            SIGIL_MASTER_KEY) with it, stored separately. PostgreSQL: use pg_dump (docs/operations.md).
            """)
    @Option(help: "The new file to write (must not exist).") var to: String
    @Flag(help: "Print JSON.") var json = false
    @OptionGroup var store: StoreOptions

    func run() async throws {
        try await withRuntime(store) { runtime in
            let masterKey = try Runtime.loadMasterKey(dataDir: runtime.dataDir, logger: runtime.logger)
            try await runtime.store.backup(toPath: to)
            // VACUUM INTO writes the file without syncing it: make it durable before saying so.
            let handle = try FileHandle(forUpdating: URL(fileURLWithPath: to))
            try handle.synchronize()
            try handle.close()
            let bytes = ((try? FileManager.default.attributesOfItem(atPath: to)[.size]) as? NSNumber)?.intValue ?? 0
            if json {
                try printJSON(
                    [
                        "path": to, "bytes": bytes, "migration": SQLStore.latestMigration,
                        "master_key_fingerprint": masterKey.fingerprint,
                    ] as [String: Any])
            } else {
                print("Wrote \(to) (\(bytes) bytes, migration \(SQLStore.latestMigration)); it needs the master key with fingerprint \(masterKey.fingerprint).")
            }
        }
    }
}

/// Runs `body` with an open runtime and closes it.
func withRuntime(_ options: StoreOptions, _ body: (Runtime) async throws -> Void) async throws {
    let logger = LogSetup.bootstrap(level: try options.resolvedLogLevel(default: .warning))
    try await runReportingErrors {
        let runtime = try await Runtime.open(options, logger: logger)
        do {
            try await body(runtime)
        } catch {
            await runtime.close()
            throw error
        }
        await runtime.close()
    }
}

func tenant(_ runtime: Runtime, _ slug: String) async throws -> Tenant {
    do {
        return try await runtime.services.tenants.get(slug: slug)
    } catch let error as StoreError where error.code == .notFound {
        throw CLIError("no tenant named \(slug) (see: sigil tenant list)")
    }
}
