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

    /// Sends the back-channel logout tokens that are due: retries after a failed round, and
    /// deliveries a crash or restart interrupted (once their claim has run out).
    static func logoutDeliveries(_ services: ServiceSet, interval: Duration, logger: Logger) -> PeriodicService {
        PeriodicService(name: "back-channel logout delivery", interval: interval, logger: logger) {
            while await services.logout.deliverDue(limit: 50) == 50 {}
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
