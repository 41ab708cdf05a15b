import Foundation
import SigilStore

/// Deletes rows whose lifetime has ended. Takes `now` so it is tested without waiting; the server
/// runs it on a timer (`sigil serve`), and any node may run it at the same time as another.
public struct ExpirySweep: Sendable {
    public let context: ServiceContext

    public init(context: ServiceContext) { self.context = context }

    public struct Result: Sendable, Equatable {
        public var enrolmentTokens: Int
        public var sessions: Int
        public var loginTransactions: Int
        public var deviceNonces: Int
        public var authenticatorUserState: Int
        /// Authorization codes, refresh tokens, PAR requests, client assertion ids and grants.
        public var oauth: Int = 0
        /// Relying parties of sessions that ended (most go with their session's row).
        public var sessionParticipants: Int = 0
        /// Upstream sign-in traces past their retention.
        public var upstreamTraces: Int = 0
        /// Delivered and failed webhook deliveries older than `webhookLogRetention`.
        public var webhookDeliveries: Int = 0
        /// Connector API idempotency answers past their lifetime.
        public var idempotencyRecords: Int = 0
        /// Shared Signals events delivered, failed, or never collected within `ssfRetention`.
        public var ssfEvents: Int = 0
        public var total: Int {
            enrolmentTokens + sessions + loginTransactions + deviceNonces + authenticatorUserState + oauth + sessionParticipants + upstreamTraces
                + webhookDeliveries + idempotencyRecords + ssfEvents
        }
    }

    public func run(now: Date) async throws -> Result {
        // Unanswered step-up challenges are decided (and their webhooks queued) before rows go.
        _ = try await ConnectorService.decideOverdueStepUps(now: now, context: context)
        // Participants first: the session rows they hang off are about to go.
        let participants = try await context.store.sessionParticipants.deleteExpired(now: now)
        return Result(
            enrolmentTokens: try await context.store.enrolmentTokens.deleteExpired(now: now),
            sessions: try await context.store.sessions.deleteExpired(now: now),
            loginTransactions: try await context.store.loginTransactions.deleteExpired(now: now),
            deviceNonces: try await context.store.deviceNonces.deleteExpired(now: now),
            authenticatorUserState: try await context.store.authenticatorUserState.deleteIdle(windowOlderThan: now.addingTimeInterval(-86_400), now: now),
            oauth: try await context.store.oauth.deleteExpired(now: now), sessionParticipants: participants,
            upstreamTraces: try await context.store.upstreams.deleteExpiredTraces(now: now),
            webhookDeliveries: try await context.store.webhooks.deleteFinished(before: now.addingTimeInterval(-Self.webhookLogRetention)),
            idempotencyRecords: try await context.store.connectorKeys.deleteExpiredIdempotent(before: now),
            ssfEvents: try await context.store.ssf.deleteFinished(before: now.addingTimeInterval(-Self.ssfRetention)))
    }

    /// How long a Shared Signals event is kept: delivered or failed ones, and pending ones a poll
    /// receiver never collected (docs/ssf.md).
    public static let ssfRetention: TimeInterval = 7 * 86_400

    /// How long the webhook delivery log keeps delivered and failed rows (docs/webhooks.md).
    public static let webhookLogRetention: TimeInterval = 30 * 86_400
}
