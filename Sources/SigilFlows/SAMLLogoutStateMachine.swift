import Foundation

/// A LogoutRequest whose signature, issuer, Destination, time and replay were all checked.
public struct AcceptedLogoutRequest: Codable, Sendable, Equatable {
    public var app: String
    public var requestID: String
    public var nameID: String
    public var nameIDFormat: String?
    public var sessionIndexes: [String]
    public var relayState: String?
    /// `post` or `redirect`: how it arrived.
    public var binding: String

    public init(
        app: String, requestID: String, nameID: String, nameIDFormat: String?, sessionIndexes: [String], relayState: String?,
        binding: String
    ) {
        self.app = app; self.requestID = requestID; self.nameID = nameID; self.nameIDFormat = nameIDFormat
        self.sessionIndexes = sessionIndexes; self.relayState = relayState; self.binding = binding
    }
}

/// A session's SAML participant still to be logged out (kept in the chain: the session's rows
/// are gone by then).
public struct LogoutParticipant: Codable, Sendable, Equatable {
    public var app: String
    public var nameID: String
    public var format: String?
    public var sessionIndex: String?
    public init(app: String, nameID: String, format: String?, sessionIndex: String?) {
        self.app = app; self.nameID = nameID; self.format = format; self.sessionIndex = sessionIndex
    }
}

/// What a `saml_logout` row holds: one of three things.
public enum SAMLLogoutFlow: Codable, Sendable, Equatable {
    /// A LogoutRequest ID seen from an SP (the replay check; created completed).
    case replayMarker(spEntityID: String, requestID: String)
    /// A verified POST-binding LogoutRequest waiting for its same-site step (a cross-site POST
    /// carries no SameSite=Lax cookie).
    case awaitingSameSiteStep(AcceptedLogoutRequest)
    /// A logout being propagated to a session's other service providers, one at a time.
    case propagation(LogoutChain)
}

/// The state of single-logout propagation.
public struct LogoutChain: Codable, Sendable, Equatable {
    /// The SP whose LogoutRequest started it, answered at the end.
    public struct Initiator: Codable, Sendable, Equatable {
        public var app: String
        public var requestID: String
        public var relayState: String?
        public init(app: String, requestID: String, relayState: String?) { self.app = app; self.requestID = requestID; self.relayState = relayState }
    }
    /// The LogoutRequest in flight.
    public struct Hop: Codable, Sendable, Equatable {
        public var app: String
        public var requestID: String
        public var deadline: Date
        public init(app: String, requestID: String, deadline: Date) { self.app = app; self.requestID = requestID; self.deadline = deadline }
    }

    public var sessionID: String
    public var initiator: Initiator?
    /// Where Sigil's own sign-out ends (a path under the tenant or a checked absolute URL).
    public var finish: String?
    public var queue: [LogoutParticipant]
    public var confirmed: Int = 0
    public var failed: Int = 0
    public var current: Hop?

    public init(sessionID: String, initiator: Initiator?, finish: String?, queue: [LogoutParticipant]) {
        self.sessionID = sessionID; self.initiator = initiator; self.finish = finish; self.queue = queue
    }
}

/// SAML single-logout propagation as a pure state machine.
///
///     next ──▶ sending(participant) ──sent──▶ waiting(hop) ──answer / skip──▶ next …
///       └── queue empty ──▶ finished(partial if any hop failed)
public struct SAMLLogoutChainStateMachine: Sendable {
    public typealias Record = FlowRecord<LogoutChain>
    public private(set) var record: Record

    public init(_ record: Record) { self.record = record }

    private enum State: Equatable {
        case ready
        case waiting(LogoutChain.Hop)
        case finished
        case expired
    }

    private func state(at now: Date) -> State {
        if record.phase != .pending { return .finished }
        if record.expiresAt <= now { return .expired }
        if let hop = record.payload.current { return .waiting(hop) }
        return .ready
    }

    /// How the chain ends.
    public enum Ending: Equatable, Sendable {
        /// A signed LogoutResponse to the SP that asked (PartialLogout when `partial`).
        case respond(to: LogoutChain.Initiator, partial: Bool)
        /// Sigil's own sign-out: go on to here.
        case redirect(String)
        case signedOutPage(partial: Bool)
    }

    public enum Action: Equatable, Sendable {
        /// Send this participant a LogoutRequest (then feed `sent`, or `unreachable` when it has
        /// no logout URL or is gone).
        case send(LogoutParticipant)
        case finish(Ending)
        /// Nothing to do: the chain finished, or another hop is in flight (a duplicate answer).
        case nothing
    }

    /// Takes the next step when no hop is in flight.
    public mutating func next(now: Date) -> Action {
        guard case .ready = state(at: now) else { return .nothing }
        if !record.payload.queue.isEmpty {
            return .send(record.payload.queue.removeFirst())
        }
        record.phase = .completed
        record.updatedAt = now
        let partial = record.payload.failed > 0
        if let initiator = record.payload.initiator { return .finish(.respond(to: initiator, partial: partial)) }
        if let finish = record.payload.finish { return .finish(.redirect(finish)) }
        return .finish(.signedOutPage(partial: partial))
    }

    /// The participant `next` returned cannot be told (no logout URL, SP gone): the logout is partial.
    public mutating func unreachable(now: Date) {
        record.payload.failed += 1
        record.updatedAt = now
    }

    /// Its LogoutRequest went out through the browser.
    public mutating func sent(app: String, requestID: String, now: Date, hopTimeout: TimeInterval) {
        record.payload.current = .init(app: app, requestID: requestID, deadline: now.addingTimeInterval(hopTimeout))
        record.updatedAt = now
    }

    /// A LogoutResponse (verified by the caller) or the browser's "continue" for the hop that
    /// sent `requestID`. Closes that hop once; then feed `next`.
    public mutating func hopEnded(requestID: String, confirmed: Bool, now: Date) -> Bool {
        guard case .waiting(let hop) = state(at: now), hop.requestID == requestID else { return false }
        record.payload.current = nil
        if confirmed { record.payload.confirmed += 1 } else { record.payload.failed += 1 }
        record.updatedAt = now
        return true
    }

    /// The hop the chain waits for, if it is still running.
    public func waitingFor(now: Date) -> LogoutChain.Hop? {
        if case .waiting(let hop) = state(at: now) { return hop }
        return nil
    }
}

/// The same-site step of a POST-binding LogoutRequest, taken once.
public struct SAMLLogoutResumeStateMachine: Sendable {
    public typealias Record = FlowRecord<AcceptedLogoutRequest>
    public private(set) var record: Record

    public init(_ record: Record) { self.record = record }

    public enum Action: Equatable, Sendable {
        /// Handle the request as if it had arrived now, with the browser's session.
        case accept(AcceptedLogoutRequest)
        case refuse(FlowRefusal)
    }

    public mutating func resumed(now: Date) -> Action {
        guard record.phase == .pending else { return .refuse(.used) }
        guard record.expiresAt > now else { return .refuse(.expired) }
        record.phase = .completed
        record.updatedAt = now
        return .accept(record.payload)
    }
}
