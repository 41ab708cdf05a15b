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
        public var total: Int {
            enrolmentTokens + sessions + loginTransactions + deviceNonces + authenticatorUserState + oauth + sessionParticipants + upstreamTraces
        }
    }

    public func run(now: Date) async throws -> Result {
        // Participants first: the session rows they hang off are about to go.
        let participants = try await context.store.sessionParticipants.deleteExpired(now: now)
        return Result(
            enrolmentTokens: try await context.store.enrolmentTokens.deleteExpired(now: now),
            sessions: try await context.store.sessions.deleteExpired(now: now),
            loginTransactions: try await context.store.loginTransactions.deleteExpired(now: now),
            deviceNonces: try await context.store.deviceNonces.deleteExpired(now: now),
            authenticatorUserState: try await context.store.authenticatorUserState.deleteIdle(windowOlderThan: now.addingTimeInterval(-86_400), now: now),
            oauth: try await context.store.oauth.deleteExpired(now: now), sessionParticipants: participants,
            upstreamTraces: try await context.store.upstreams.deleteExpiredTraces(now: now))
    }
}
