import Foundation

/// A Shared Signals stream (OpenID SSF 1.0 §8): one receiver's subscription, owned by the OAuth
/// client that created it (`clientID`, the SETs' `aud`). docs/ssf.md.
public struct SSFStream: Codable, Sendable, Equatable {
    public var id: String
    public var tenantID: String
    public var clientID: String
    public var description: String?
    /// `urn:ietf:rfc:8935` (push) or `urn:ietf:rfc:8936` (poll).
    public var deliveryMethod: String
    /// The receiver's push URL (push only).
    public var endpointURL: String?
    /// The Authorization header value to push with, sealed with the master key.
    public var sealedAuthorization: String?
    public var eventsRequested: [String]
    public var eventsDelivered: [String]
    /// `standard` or `okta` (the subject inside each event).
    public var profile: String
    /// `enabled`, `paused` (events held) or `disabled` (events dropped).
    public var status: String
    public var statusReason: String?
    public var createdAt: Date
    public var updatedAt: Date

    public init(
        id: String, tenantID: String, clientID: String, description: String?, deliveryMethod: String, endpointURL: String?,
        sealedAuthorization: String?, eventsRequested: [String], eventsDelivered: [String], profile: String, status: String,
        statusReason: String?, createdAt: Date, updatedAt: Date
    ) {
        self.id = id; self.tenantID = tenantID; self.clientID = clientID; self.description = description
        self.deliveryMethod = deliveryMethod; self.endpointURL = endpointURL; self.sealedAuthorization = sealedAuthorization
        self.eventsRequested = eventsRequested; self.eventsDelivered = eventsDelivered; self.profile = profile; self.status = status
        self.statusReason = statusReason; self.createdAt = createdAt; self.updatedAt = updatedAt
    }
}

/// One Security Event Token owed to a stream: what it says (built into a signed SET when it is
/// pushed or polled, so a key rotation signs with the current key) and where its delivery stands.
public struct SSFEvent: Codable, Sendable, Equatable {
    public enum State: String, Codable, Sendable { case pending, delivered, failed }
    public var streamID: String
    public var jti: String
    public var tenantID: String
    public var eventType: String
    /// The subject as the receiver named it (JSON, RFC 9493).
    public var subject: String
    /// The event's own claims (JSON object).
    public var payload: String
    public var eventTime: Date
    public var state: State
    public var attempts: Int
    public var nextAttemptAt: Date
    public var claimedUntil: Date?
    public var lastError: String?
    public var createdAt: Date

    public init(
        streamID: String, jti: String, tenantID: String, eventType: String, subject: String, payload: String, eventTime: Date,
        state: State = .pending, attempts: Int = 0, nextAttemptAt: Date, claimedUntil: Date? = nil, lastError: String? = nil, createdAt: Date
    ) {
        self.streamID = streamID; self.jti = jti; self.tenantID = tenantID; self.eventType = eventType; self.subject = subject
        self.payload = payload; self.eventTime = eventTime; self.state = state; self.attempts = attempts; self.nextAttemptAt = nextAttemptAt
        self.claimedUntil = claimedUntil; self.lastError = lastError; self.createdAt = createdAt
    }
}

public protocol SSFStore: Sendable {
    func createStream(_ stream: SSFStream) async throws
    func stream(tenantID: String, id: String) async throws -> SSFStream?
    /// The client's streams (every client's when `clientID` is nil: the admin API's view), oldest first.
    func streams(tenantID: String, clientID: String?) async throws -> [SSFStream]
    /// `notFound` when absent.
    func updateStream(_ stream: SSFStream) async throws
    /// Deletes the stream with its subjects and events; `false` when absent.
    func deleteStream(tenantID: String, id: String) async throws -> Bool

    /// Adds (or re-adds) a subject: `subject` is the receiver's JSON, `userID` the user it names.
    func addSubject(streamID: String, userID: String, subject: String, at: Date) async throws
    /// `false` when the stream did not have it.
    func removeSubject(streamID: String, userID: String) async throws -> Bool

    /// Queues an event for one stream (verification events); ignored when the jti exists.
    func enqueue(_ event: SSFEvent) async throws
    /// Claims due push events of enabled push streams, with a lease.
    func claimDuePush(now: Date, leaseUntil: Date, limit: Int) async throws -> [(SSFEvent, SSFStream)]
    func markDelivered(streamID: String, jti: String) async throws
    func markFailed(streamID: String, jti: String, error: String, nextAttemptAt: Date?) async throws
    /// Poll (RFC 8936): acknowledges `ack` (delivered), then returns up to `limit` pending events,
    /// oldest first, and whether more are pending. Held while the stream is not enabled.
    /// `errors`: SETs the receiver reports it could not accept (RFC 8936 `setErrs`): not sent again.
    func poll(tenantID: String, streamID: String, ack: [String], errors: [String: String], limit: Int) async throws -> (events: [SSFEvent], more: Bool)
    /// Deletes events created before `before`, delivered or not (a poll receiver that never
    /// collects them does not grow the table without bound).
    func deleteFinished(before: Date) async throws -> Int
}

/// The event types Sigil transmits, and which audit events raise them (docs/ssf.md). The SQL store
/// queues them in the audit event's own transaction, as it does webhook deliveries.
public enum SSFSignal {
    public static let sessionRevoked = "https://schemas.openid.net/secevent/caep/event-type/session-revoked"
    public static let credentialChange = "https://schemas.openid.net/secevent/caep/event-type/credential-change"
    public static let accountDisabled = "https://schemas.openid.net/secevent/risc/event-type/account-disabled"
    public static let accountEnabled = "https://schemas.openid.net/secevent/risc/event-type/account-enabled"
    public static let assuranceLevelChange = "https://schemas.openid.net/secevent/caep/event-type/assurance-level-change"
    public static let verification = "https://schemas.openid.net/secevent/ssf/event-type/verification"
    public static let supported = [sessionRevoked, credentialChange, assuranceLevelChange, accountDisabled, accountEnabled]
    /// What Okta's receiver accepts of Sigil's events (Okta's SSF receiver docs: its own risk
    /// events, CAEP session-revoked and device-compliance-change, RISC identifier-changed).
    public static let oktaSupported = [sessionRevoked]

    /// Whose and what: `userID` is the user's id, or nil with `sessionID` (`session.ended`) or
    /// `idvSubjectID` (`idv.decided`) set: the store reads that row's user.
    public struct Raised: Sendable, Equatable {
        public var type: String
        public var userID: String?
        public var sessionID: String?
        public var idvSubjectID: String? = nil
        /// The event's own claims (without `event_timestamp`, added when the SET is built).
        public var claims: [String: String]
    }

    public static func raised(by event: AuditEvent) -> Raised? {
        guard event.outcome == .success, let target = event.targetID else { return nil }
        let initiator = event.actor.hasPrefix("user:") ? "user" : event.actor == "system" ? "system" : "admin"
        let actorUser = event.actor.hasPrefix("user:") ? String(event.actor.dropFirst(5)) : nil
        switch event.action {
        case "session.ended":
            let why = initiator == "admin" ? "Signed out by an administrator" : initiator == "user" ? "Signed out by the user" : "Session ended"
            return Raised(type: sessionRevoked, userID: nil, sessionID: target, claims: ["initiating_entity": initiator, "reason_admin": why])
        case "user.updated":
            let before = event.before?["status"], after = event.after?["status"]
            guard before != after else { return nil }
            if after == "disabled" { return Raised(type: accountDisabled, userID: target, claims: [:]) }
            if after == "active" { return Raised(type: accountEnabled, userID: target, claims: [:]) }
            return nil
        case "passkey.registered", "passkey.removed":
            guard let actorUser else { return nil }
            return Raised(
                type: credentialChange, userID: actorUser,
                claims: [
                    "credential_type": "fido2-platform", "change_type": event.action == "passkey.registered" ? "create" : "delete",
                    "initiating_entity": initiator,
                ])
        case "idv.decided":
            // A verified identity of a person who is one of the tenant's users (the account page's
            // verification): their identity assurance is now this level.
            guard event.after?["decision"] == "VERIFIED", let subject = event.after?["subject"], !subject.isEmpty else { return nil }
            return Raised(
                type: assuranceLevelChange, userID: nil, sessionID: nil, idvSubjectID: subject,
                claims: ["namespace": "NIST-IAL", "current_level": event.after?["assurance_level"] ?? "ial1", "initiating_entity": "system"])
        case "authenticator.device_registered", "authenticator.device_removed":
            guard let user = event.after?["user"] ?? actorUser else { return nil }
            return Raised(
                type: credentialChange, userID: user,
                claims: [
                    "credential_type": "app", "change_type": event.action == "authenticator.device_registered" ? "create" : "delete",
                    "initiating_entity": initiator,
                ])
        default:
            return nil
        }
    }
}

extension SSFStore {
    public func poll(tenantID: String, streamID: String, ack: [String], limit: Int) async throws -> (events: [SSFEvent], more: Bool) {
        try await poll(tenantID: tenantID, streamID: streamID, ack: ack, errors: [:], limit: limit)
    }
}
