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
public actor BackChannelLogoutDispatcher {
    public nonisolated let sender: any BackChannelLogoutSender
    /// Attempts per delivery (the first try and the retries).
    public nonisolated let attempts: Int
    /// Wait before retry n (n = 1, 2, …) is `retryDelay * n`.
    public nonisolated let retryDelay: Duration
    private let tasks = TrackedTasks()

    public init(sender: any BackChannelLogoutSender = NoBackChannelLogoutSender(), attempts: Int = 3, retryDelay: Duration = .milliseconds(500)) {
        self.sender = sender; self.attempts = max(1, attempts); self.retryDelay = retryDelay
    }

    public func enqueue(_ work: @escaping @Sendable () async -> Void) { tasks.enqueue(work) }

    /// Waits for every queued delivery (graceful shutdown, tests).
    public func drain() async { await tasks.drain() }

    /// One delivery with retries; returns the last outcome and how many attempts it took.
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
    /// tenant's issuer (the logout tokens' `iss`).
    @discardableResult
    public func endSession(_ session: Session, issuer: String, reason: String, by principal: Principal? = nil) async throws -> [SessionParticipant] {
        let now = context.clock.now()
        let context = self.context
        let participants = try await context.store.sessionParticipants.list(tenantID: session.tenantID, sessionID: session.id)
        try await context.store.transaction { tx in
            var wasActive = true
            do { try await tx.sessions.revoke(id: session.id, at: now) } catch let error as StoreError where error.code == .notFound {
                wasActive = false
            }
            let revoked = try await tx.oauth.revokeGrants(tenantID: session.tenantID, sessionID: session.id, at: now)
            guard wasActive || revoked > 0 else { return }
            try await tx.audit.append(context.auditEvent("session.ended", by: principal ?? .user(session.userID), tenantID: session.tenantID,
                                                         targetType: "session", targetID: session.id,
                                                         after: ["grants_revoked": String(revoked), "relying_parties": String(participants.count)],
                                                         reason: reason))
        }
        await notifyBackChannel(participants.filter { $0.protocolKind == .oidc }, session: session, issuer: issuer)
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

    /// Signs one logout token per OIDC participant with a back-channel URI and queues its delivery.
    func notifyBackChannel(_ participants: [SessionParticipant], session: Session, issuer: String) async {
        for participant in participants {
            do {
                let app = try await context.store.applications.get(tenantID: session.tenantID, id: participant.applicationID)
                guard case .oidc(let settings) = app.settings, let uri = settings.backchannelLogoutURI else { continue }
                let token = try await logoutToken(settings: settings, participant: participant, session: session, issuer: issuer)
                let context = self.context
                let dispatcher = self.dispatcher
                let clientID = settings.clientID
                await dispatcher.enqueue {
                    let (outcome, tries) = await dispatcher.deliver(uri: uri, token: token)
                    let after = ["client_id": clientID, "backchannel_logout_uri": uri, "attempts": String(tries), "session": session.id]
                    switch outcome {
                    case .delivered(let status):
                        try? await context.store.audit.append(context.auditEvent(
                            "oidc.backchannel_logout", by: .system, tenantID: session.tenantID, targetType: "application", targetID: app.id,
                            after: after.merging(["status": String(status)]) { a, _ in a }))
                    case .rejected(let status):
                        await context.recordFailure("oidc.backchannel_logout", by: .system, tenantID: session.tenantID,
                                                    reason: "client \(clientID) answered HTTP \(status) after \(tries) attempt(s)")
                    case .unreachable(let why):
                        await context.recordFailure("oidc.backchannel_logout", by: .system, tenantID: session.tenantID,
                                                    reason: "client \(clientID) unreachable after \(tries) attempt(s): \(why)")
                    }
                }
            } catch {
                await context.recordFailure("oidc.backchannel_logout", by: .system, tenantID: session.tenantID,
                                            reason: "could not prepare the logout token for application \(participant.applicationID): \(error)")
            }
        }
    }

    /// Back-Channel Logout §2.4: `iss aud iat exp jti sub sid events`, never `nonce`; header `typ`
    /// `logout+jwt`; signed like the client's ID tokens.
    func logoutToken(settings: OIDCClientSettings, participant: SessionParticipant, session: Session, issuer: String) async throws -> Secret<String> {
        let now = Int64(context.clock.now().timeIntervalSince1970)
        let keys = KeyService(context: context)
        let key = try await keys.currentSigningKey(tenantID: session.tenantID, algorithm: settings.idTokenSigningAlg == "ES256" ? .es256 : .rs256)
        var claims: [String: JSONValue] = [
            "iss": .string(issuer), "aud": .string(settings.clientID), "iat": .int(now), "exp": .int(now + Int64(Self.logoutTokenLifetime)),
            "jti": .string(Base64URL.encode(context.random.bytes(18))),
            "events": .object([Self.backChannelEvent: .object([:])]),
            "sub": .string(participant.subject ?? session.userID),
        ]
        claims["sid"] = .string(participant.sid ?? session.id)
        return Secret(try JWS.sign(payload: claims, key: key, type: "logout+jwt"))
    }
}
