import Foundation
import SigilCore
import SigilJOSE
import SigilStore

/// OpenID Connect Back-Channel Logout 1.0: when a browser session ends, every OIDC client that
/// got an ID token from it and registered a `backchannel_logout_uri` receives a signed
/// `logout_token` by a direct POST. The HTTP sending is an edge adapter (`SigilPush`'s
/// `BackChannelLogoutHTTPSender`); tests record deliveries with `RecordingBackChannelLogoutSender`.
public enum BackChannelLogoutOutcome: Sendable, Equatable {
    /// 200 (or any 2xx): the RP logged the session out.
    case delivered(status: Int)
    /// The RP answered with an error status (400: it refused the token). Retried only for 5xx.
    case rejected(status: Int)
    /// No answer: connection refused, timeout, TLS failure (the reason names it, never the token).
    case unreachable(String)

    /// What went wrong, for logs and the audit trail ("" when delivered).
    var failureReason: String {
        switch self {
        case .delivered: ""
        case .rejected(let status): "HTTP \(status)"
        case .unreachable(let why): why
        }
    }

    var isRetryable: Bool {
        switch self {
        case .delivered: false
        case .rejected(let status): status >= 500 || status == 429
        case .unreachable: true
        }
    }
}

public protocol BackChannelLogoutSender: Sendable {
    /// POSTs `logout_token=…` form-encoded to `uri`. Never logs the token.
    func send(uri: String, logoutToken: Secret<String>) async -> BackChannelLogoutOutcome
}

/// Sends nothing (no adapter configured): every delivery is `unreachable` and audited as such.
public struct NoBackChannelLogoutSender: BackChannelLogoutSender {
    public init() {}
    public func send(uri: String, logoutToken: Secret<String>) async -> BackChannelLogoutOutcome { .unreachable("no sender configured") }
}

/// Records deliveries instead of sending them (tests).
public actor RecordingBackChannelLogoutSender: BackChannelLogoutSender {
    public struct Delivery: Sendable {
        public var uri: String
        public var logoutToken: String
    }
    public private(set) var deliveries: [Delivery] = []
    public private(set) var attempts = 0
    /// Outcomes to return in order; the last one repeats.
    public var outcomes: [BackChannelLogoutOutcome]
    public init(outcomes: [BackChannelLogoutOutcome] = [.delivered(status: 200)]) { self.outcomes = outcomes }
    public func setOutcomes(_ outcomes: [BackChannelLogoutOutcome]) { self.outcomes = outcomes }
    public func send(uri: String, logoutToken: Secret<String>) async -> BackChannelLogoutOutcome {
        attempts += 1
        let outcome = outcomes.count > 1 ? outcomes.removeFirst() : (outcomes.first ?? .delivered(status: 200))
        if case .delivered = outcome { deliveries.append(Delivery(uri: uri, logoutToken: logoutToken.value)) }
        return outcome
    }
}

/// Runs deliveries off the request path and keeps track of them so shutdown (and tests) can wait.
///
/// Deliveries are durable (`LogoutDeliveryStore`, written with the session's end). One *round* is
/// `attempts` quick tries; a round that ends with no answer or a 5xx/429 is scheduled again after
/// `roundBackoff[round - 1]` (the last value repeats) until `rounds` rounds have failed, and then
/// given up and audited. Whatever a crash interrupts, the periodic pass (`sigil serve`) resumes.
public actor BackChannelLogoutDispatcher {
    public nonisolated let sender: any BackChannelLogoutSender
    /// Attempts per round (the first try and the quick retries).
    public nonisolated let attempts: Int
    /// Wait before quick retry n (n = 1, 2, …) is `retryDelay * n`.
    public nonisolated let retryDelay: Duration
    /// Rounds before giving up.
    public nonisolated let rounds: Int
    /// Wait after failed round n (n = 1, 2, …) before the next one.
    public nonisolated let roundBackoff: [Duration]
    /// How long a node may hold a claimed delivery before another node may take it over.
    public nonisolated let lease: Duration
    private let tasks = TrackedTasks()

    public static let defaultRoundBackoff: [Duration] = [.seconds(60), .seconds(600), .seconds(3600)]

    public init(
        sender: any BackChannelLogoutSender = NoBackChannelLogoutSender(), attempts: Int = 3, retryDelay: Duration = .milliseconds(500),
        rounds: Int = 4, roundBackoff: [Duration] = BackChannelLogoutDispatcher.defaultRoundBackoff, lease: Duration = .seconds(120)
    ) {
        self.sender = sender; self.attempts = max(1, attempts); self.retryDelay = retryDelay
        self.rounds = max(1, rounds); self.roundBackoff = roundBackoff.isEmpty ? Self.defaultRoundBackoff : roundBackoff; self.lease = lease
    }

    public func enqueue(_ work: @escaping @Sendable () async -> Void) { tasks.enqueue(work) }

    /// Waits for every queued delivery (graceful shutdown, tests).
    public func drain() async { await tasks.drain() }

    /// The wait after failed round `round` (1-based).
    nonisolated func backoff(afterRound round: Int) -> Duration {
        roundBackoff[min(max(round, 1), roundBackoff.count) - 1]
    }

    /// One round: up to `attempts` tries; returns the last outcome and how many tries it took.
    nonisolated func deliver(uri: String, token: Secret<String>) async -> (BackChannelLogoutOutcome, Int) {
        var outcome = BackChannelLogoutOutcome.unreachable("not attempted")
        for attempt in 1...attempts {
            outcome = await sender.send(uri: uri, logoutToken: token)
            guard outcome.isRetryable, attempt < attempts else { return (outcome, attempt) }
            try? await Task.sleep(for: retryDelay * attempt)
        }
        return (outcome, attempts)
    }
}

/// Ends browser sessions everywhere: the session row, the OAuth grants issued from it (refresh
/// tokens die with their grant), an audit event, and back-channel logout tokens to the session's
/// OIDC clients. Returns the session's SAML participants so the caller can run front-channel
/// Single Logout through the browser.
public struct LogoutService: Sendable {
    public let context: ServiceContext
    public let dispatcher: BackChannelLogoutDispatcher
    /// Lifetime of a logout token (the RP checks `iat`/`exp`).
    public static let logoutTokenLifetime = 120
    public static let backChannelEvent = "http://schemas.openid.net/event/backchannel-logout"

    public init(context: ServiceContext, dispatcher: BackChannelLogoutDispatcher) {
        self.context = context; self.dispatcher = dispatcher
    }

    /// Ends `session` (already ended is fine) with `reason` for the audit log. `issuer` is the
    /// tenant's issuer (the logout tokens' `iss`). The back-channel deliveries owed to the
    /// session's OIDC clients are stored in the same transaction, then sent off the request path.
    /// `participants`: the session's participants when the caller already read them. `alsoInTransaction`
    /// runs inside the same store transaction (SAML single logout stores its chain there), whether
    /// or not the session was still active.
    @discardableResult
    public func endSession(
        _ session: Session, issuer: String, reason: String, by principal: Principal? = nil,
        participants known: [SessionParticipant]? = nil,
        alsoInTransaction: (@Sendable (any StoreSession) async throws -> Void)? = nil
    ) async throws -> [SessionParticipant] {
        let now = context.clock.now()
        let context = self.context
        let participants: [SessionParticipant]
        if let known {
            participants = known
        } else {
            participants = try await context.store.sessionParticipants.list(tenantID: session.tenantID, sessionID: session.id)
        }
        let deliveries = try await backChannelDeliveries(participants.filter { $0.protocolKind == .oidc }, session: session, issuer: issuer, now: now)
        let queued = try await context.store.transaction { tx -> Bool in
            try await alsoInTransaction?(tx)
            var wasActive = true
            do { try await tx.sessions.revoke(id: session.id, at: now) } catch let error as StoreError where error.code == .notFound {
                wasActive = false
            }
            let revoked = try await tx.oauth.revokeGrants(tenantID: session.tenantID, sessionID: session.id, at: now)
            guard wasActive || revoked > 0 else { return false }
            for delivery in deliveries { try await tx.logoutDeliveries.enqueue(delivery) }
            try await tx.audit.append(
                context.auditEvent(
                    "session.ended", by: principal ?? .user(session.userID), tenantID: session.tenantID,
                    targetType: "session", targetID: session.id,
                    after: ["grants_revoked": String(revoked), "relying_parties": String(participants.count)],
                    reason: reason))
            return !deliveries.isEmpty
        }
        if queued {
            let service = self
            await dispatcher.enqueue { _ = await service.deliverDue(tenantID: session.tenantID) }
        }
        return participants.filter { $0.protocolKind == .saml }
    }

    /// Ends every active session of a user (admin revocation); returns how many.
    @discardableResult
    public func endAllSessions(tenantID: String, userID: String, issuer: String, by principal: Principal) async throws -> Int {
        let sessions = try await context.store.sessions.listActive(tenantID: tenantID, userID: userID, now: context.clock.now())
        for session in sessions {
            try await endSession(session, issuer: issuer, reason: "sessions revoked by an administrator", by: principal)
        }
        return sessions.count
    }

    /// One delivery per OIDC participant whose client registered a back-channel logout URI.
    func backChannelDeliveries(_ participants: [SessionParticipant], session: Session, issuer: String, now: Date) async throws -> [LogoutDelivery] {
        var out: [LogoutDelivery] = []
        for participant in participants {
            let app: Application
            do { app = try await context.store.applications.get(tenantID: session.tenantID, id: participant.applicationID) } catch let error as StoreError
                where error.code == .notFound
            {
                continue
            }
            guard case .oidc(let settings) = app.settings, settings.backchannelLogoutURI != nil else { continue }
            out.append(
                LogoutDelivery(
                    id: context.ids.make(.logoutDelivery), tenantID: session.tenantID, applicationID: app.id,
                    sessionID: session.id, subject: participant.subject ?? session.userID,
                    sid: participant.sid ?? session.id, issuer: issuer, nextAttemptAt: now, createdAt: now))
        }
        return out
    }

    /// Claims the deliveries that are due (of one tenant, or all) and runs one round of each.
    /// Returns how many were claimed. Safe to run on several nodes at once.
    @discardableResult
    public func deliverDue(tenantID: String? = nil, limit: Int = 50) async -> Int {
        let now = context.clock.now()
        let claimed: [LogoutDelivery]
        do {
            claimed = try await context.store.logoutDeliveries.claimDue(
                tenantID: tenantID, now: now, leaseUntil: now.addingTimeInterval(dispatcher.lease.timeInterval), limit: limit)
        } catch {
            context.logger.warning("back-channel logout: could not read pending deliveries", metadata: ["error": .string("\(error)")])
            return 0
        }
        await withTaskGroup(of: Void.self) { group in
            for delivery in claimed {
                group.addTask { await self.runRound(delivery) }
            }
        }
        return claimed.count
    }

    /// One round of one delivery, then its bookkeeping: delete it when done, reschedule it when
    /// the client could not be reached and rounds are left.
    func runRound(_ delivery: LogoutDelivery) async {
        let context = self.context
        let store = context.store
        let tenantID = delivery.tenantID
        let app: Application
        let settings: OIDCClientSettings
        let uri: String
        do {
            app = try await store.applications.get(tenantID: tenantID, id: delivery.applicationID)
            guard case .oidc(let s) = app.settings, let u = s.backchannelLogoutURI else {
                try await store.logoutDeliveries.complete(id: delivery.id) // the client no longer wants them
                return
            }
            settings = s; uri = u
        } catch let error as StoreError where error.code == .notFound {
            try? await store.logoutDeliveries.complete(id: delivery.id)
            return
        } catch {
            await reschedule(delivery, why: "\(error)")
            return
        }
        let token: Secret<String>
        do {
            token = try await logoutToken(settings: settings, subject: delivery.subject, sid: delivery.sid, tenantID: tenantID, issuer: delivery.issuer)
        } catch {
            try? await store.logoutDeliveries.complete(id: delivery.id)
            await context.recordFailure(
                "oidc.backchannel_logout", by: .system, tenantID: tenantID,
                reason: "could not sign the logout token for client \(settings.clientID): \(error)")
            return
        }
        let (outcome, tries) = await dispatcher.deliver(uri: uri, token: token)
        if Task.isCancelled, outcome.isRetryable {
            // Interrupted by shutdown: not a round; sent again once the claim runs out.
            return
        }
        let round = delivery.rounds + 1
        let clientID = settings.clientID
        switch outcome {
        case .delivered(let status):
            try? await store.logoutDeliveries.complete(id: delivery.id)
            let after = [
                "client_id": clientID, "backchannel_logout_uri": uri, "attempts": String(tries), "round": String(round),
                "session": delivery.sessionID, "status": String(status),
            ]
            try? await store.audit.append(
                context.auditEvent(
                    "oidc.backchannel_logout", by: .system, tenantID: tenantID, targetType: "application", targetID: app.id, after: after))
        case .rejected(let status) where !outcome.isRetryable:
            try? await store.logoutDeliveries.complete(id: delivery.id)
            await context.recordFailure(
                "oidc.backchannel_logout", by: .system, tenantID: tenantID,
                reason: "client \(clientID) answered HTTP \(status) after \(tries) attempt(s)")
        case .rejected, .unreachable:
            let why = outcome.failureReason
            if round >= dispatcher.rounds {
                try? await store.logoutDeliveries.complete(id: delivery.id)
                await context.recordFailure(
                    "oidc.backchannel_logout", by: .system, tenantID: tenantID,
                    reason: "client \(clientID) unreachable after \(round) round(s), giving up: \(why)")
            } else {
                await reschedule(delivery, why: "client \(clientID): \(why)")
            }
        }
    }

    private func reschedule(_ delivery: LogoutDelivery, why: String) async {
        let round = delivery.rounds + 1
        let next = context.clock.now().addingTimeInterval(dispatcher.backoff(afterRound: round).timeInterval)
        context.logger.warning(
            "back-channel logout not delivered; will retry",
            metadata: [
                "delivery": .string(delivery.id), "round": .stringConvertible(round), "reason": .string(why),
            ])
        do {
            try await context.store.logoutDeliveries.reschedule(id: delivery.id, rounds: round, nextAttemptAt: next)
        } catch {
            // The claim runs out and another pass picks the row up again.
            context.logger.warning("back-channel logout: could not reschedule", metadata: ["error": .string("\(error)")])
        }
    }

    /// Back-Channel Logout §2.4: `iss aud iat exp jti sub sid events`, never `nonce`; header `typ`
    /// `logout+jwt`; signed with the key and algorithm of the client's ID tokens.
    func logoutToken(settings: OIDCClientSettings, subject: String, sid: String, tenantID: String, issuer: String) async throws -> Secret<String> {
        let now = Int64(context.clock.now().timeIntervalSince1970)
        let keys = KeyService(context: context)
        let key = try await keys.currentSigningKey(tenantID: tenantID, algorithm: SigningAlgorithm(rawValue: settings.idTokenSigningAlg) ?? .rs256)
        let claims: [String: JSONValue] = [
            "iss": .string(issuer), "aud": .string(settings.clientID), "iat": .int(now), "exp": .int(now + Int64(Self.logoutTokenLifetime)),
            "jti": .string(Base64URL.encode(context.random.bytes(18))),
            "events": .object([Self.backChannelEvent: .object([:])]),
            "sub": .string(subject), "sid": .string(sid),
        ]
        return Secret(try JWS.sign(payload: claims, key: key, type: "logout+jwt"))
    }
}

extension Duration {
    /// The duration in seconds, for `Date` arithmetic.
    var timeInterval: TimeInterval { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
