import Foundation
import Logging
import ServiceLifecycle
import SigilServices

/// Empties this node's cached tenant documents (tenants, discovery, JWKS, SAML metadata) whenever
/// any node announces a change to a tenant or its keys (`TenantService.followChanges`).
struct TenantDocumentsFollower: Service, CustomStringConvertible {
    let services: ServiceSet
    var description: String { "tenant documents follower" }

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await services.tenants.followChanges()
        }
    }
}

/// Runs `work` now and then every `interval` until graceful shutdown. A failed pass is logged and
/// the next one runs on schedule.
struct PeriodicService: Service, CustomStringConvertible {
    let name: String
    let interval: Duration
    let logger: Logger
    let work: @Sendable () async throws -> Void

    var description: String { name }

    func run() async throws {
        do {
            try await cancelWhenGracefulShutdown {
                while true {
                    do {
                        try await work()
                    } catch is CancellationError {
                        return
                    } catch {
                        logger.warning("\(name) failed", metadata: ["error": .string("\(error)")])
                    }
                    try await Task.sleep(for: interval)
                }
            }
        } catch is CancellationError {
            return
        }
    }

    /// Deletes expired rows (sessions, login transactions, tokens, …) every 10 minutes.
    static func expirySweep(_ services: ServiceSet, logger: Logger) -> PeriodicService {
        PeriodicService(name: "expiry sweep", interval: .seconds(600), logger: logger) {
            let result = try await services.expirySweep.run(now: services.context.clock.now())
            if result.total > 0 {
                logger.info(
                    "expired rows deleted",
                    metadata: [
                        "enrolment_tokens": .stringConvertible(result.enrolmentTokens),
                        "sessions": .stringConvertible(result.sessions),
                        "login_transactions": .stringConvertible(result.loginTransactions),
                    ])
            }
            // IDV evidence and verified identities past the tenant's retention (audited).
            let idv = try await services.idv.sweep()
            if idv.evidence + idv.identities > 0 {
                logger.info(
                    "IDV retention sweep",
                    metadata: ["evidence": .stringConvertible(idv.evidence), "identities": .stringConvertible(idv.identities)])
            }
        }
    }

    /// Decides the connector's step-up challenges nobody answered, soon after their deadline, so
    /// their `stepup.decided` webhook (`expired`) goes out without anyone polling.
    static func stepUpExpiry(_ services: ServiceSet, interval: Duration, logger: Logger) -> PeriodicService {
        PeriodicService(name: "step-up expiry", interval: interval, logger: logger) {
            _ = try await ConnectorService.decideOverdueStepUps(now: services.context.clock.now(), context: services.context)
        }
    }

    /// Sends the back-channel logout tokens that are due: retries after a failed round, and
    /// deliveries a crash or restart interrupted (once their claim has run out).
    static func logoutDeliveries(_ services: ServiceSet, interval: Duration, logger: Logger) -> PeriodicService {
        PeriodicService(name: "back-channel logout delivery", interval: interval, logger: logger) {
            // Graceful shutdown cancels the pass: no new claims after that (claimed deliveries are
            // sent again once their lease runs out).
            while !Task.isCancelled, await services.logout.deliverDue(limit: 50) == 50 {}
        }
    }

    /// Sends the webhook deliveries that are due, on every node: new events, retries, and
    /// deliveries a crashed node held (once their lease has run out). Reports each pass's
    /// outcomes and the pending count to `record`.
    static func webhookDeliveries(
        _ services: ServiceSet, interval: Duration, logger: Logger,
        record: @escaping @Sendable (WebhookService.Pass, Int?) -> Void
    ) -> PeriodicService {
        PeriodicService(name: "webhook delivery", interval: interval, logger: logger) {
            let webhooks = services.webhooks
            while !Task.isCancelled {
                let pass = await webhooks.deliverDue(limit: 50)
                record(pass, pass.claimed == 0 ? try? await services.context.store.webhooks.pendingCount() : nil)
                if pass.claimed < 50 { break }
            }
        }
    }

    /// Pushes the Shared Signals events that are due (RFC 8935), on every node, with the
    /// tenant's issuer for each stream.
    static func ssfDeliveries(_ services: ServiceSet, publicURL: String, interval: Duration, logger: Logger) -> PeriodicService {
        PeriodicService(name: "ssf delivery", interval: interval, logger: logger) {
            let ssf = services.ssf
            let store = services.context.store
            while !Task.isCancelled {
                let pass = await ssf.deliverDue(limit: 50) { tenantID in
                    guard let tenant = try? await store.tenants.get(id: tenantID) else { return nil }
                    return TenantService.issuer(of: tenant, publicURL: publicURL)
                }
                if pass.claimed < 50 { break }
            }
        }
    }

    /// The integration doctor's scheduled check (Sigil's side: no vendor credential is kept),
    /// hourly: audits `integration.drift` for new findings and sets `sigil_integrations_drifting`.
    static func integrationCheck(_ services: ServiceSet, interval: Duration, logger: Logger, drifting: @escaping @Sendable (Int) -> Void)
        -> PeriodicService
    {
        PeriodicService(name: "integration check", interval: interval, logger: logger) {
            let result = await services.integrations.checkAll()
            drifting(result.drifting)
            if result.drifting > 0 {
                logger.warning(
                    "integrations drift from what was set up (sigil integration list)",
                    metadata: ["checked": .stringConvertible(result.checked), "drifting": .stringConvertible(result.drifting)])
            }
        }
    }

    /// Signs a checkpoint of every audit chain that moved (docs/audit.md), and logs each one: the
    /// log line is a copy of the chain's head outside the database.
    static func auditCheckpoints(_ services: ServiceSet, interval: Duration, logger: Logger) -> PeriodicService {
        PeriodicService(name: "audit checkpoints", interval: interval, logger: logger) {
            for checkpoint in try await services.audit.checkpoint() {
                logger.notice(
                    "audit checkpoint",
                    metadata: [
                        "chain": .string(checkpoint.chain.isEmpty ? "global" : checkpoint.chain),
                        "seq": .stringConvertible(checkpoint.sequence), "hash": .string(checkpoint.hash),
                        "checkpoint": .string(checkpoint.signed),
                    ])
            }
        }
    }
}

extension PeriodicService {
    /// Fetches upstream IdP metadata that is due (cacheDuration, validUntil) and warns about
    /// failed refreshes and certificates or metadata lapsing within 14 days. Every minute; each
    /// connection is fetched only when due.
    static func upstreamMetadata(_ services: ServiceSet, logger: Logger) -> PeriodicService {
        PeriodicService(name: "upstream metadata refresh", interval: .seconds(60), logger: logger) {
            for warning in try await services.upstreams.refreshDue() {
                logger.warning("upstream metadata", metadata: ["warning": .string(warning)])
            }
        }
    }
}

/// `SIGIL_AUDIT_CHECKPOINT_SECONDS` (default 300, at least 5).
func auditCheckpointInterval() throws -> Duration {
    guard let text = env("SIGIL_AUDIT_CHECKPOINT_SECONDS") else { return .seconds(300) }
    guard let seconds = Int(text), seconds >= 5 else {
        throw CLIError("SIGIL_AUDIT_CHECKPOINT_SECONDS must be a whole number of seconds, at least 5")
    }
    return .seconds(seconds)
}

/// `SIGIL_WEBHOOK_POLL_SECONDS`: how often each node looks for due webhook deliveries (default 2).
func webhookPollInterval() throws -> Duration {
    guard let text = env("SIGIL_WEBHOOK_POLL_SECONDS") else { return .seconds(2) }
    guard let seconds = Double(text), (0.2...60).contains(seconds) else {
        throw CLIError("SIGIL_WEBHOOK_POLL_SECONDS must be a number of seconds from 0.2 to 60")
    }
    return .milliseconds(Int(seconds * 1000))
}

/// `SIGIL_WEBHOOK_LEASE_SECONDS`: how long a node holds a delivery it is sending; after a crash,
/// another node sends it again once this has passed (default 30).
func webhookLease() throws -> TimeInterval {
    guard let text = env("SIGIL_WEBHOOK_LEASE_SECONDS") else { return 30 }
    guard let seconds = Int(text), (5...600).contains(seconds) else {
        throw CLIError("SIGIL_WEBHOOK_LEASE_SECONDS must be a whole number of seconds from 5 to 600")
    }
    return TimeInterval(seconds)
}
