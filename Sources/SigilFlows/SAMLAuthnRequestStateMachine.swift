import Foundation

/// A validated SAML AuthnRequest waiting for (or answered with) a sign-in. Its row ID is derived
/// from (tenant, SP, request ID), so creating it is the request-ID replay check.
public struct SAMLAuthnRequestFlow: Codable, Sendable, Equatable {
    public var applicationID: String
    public var spEntityID: String
    public var requestID: String
    public var acsURL: String
    public var nameIDFormat: String
    public var relayState: String?
    public var forceAuthn: Bool
    public var signed: Bool

    public init(
        applicationID: String, spEntityID: String, requestID: String, acsURL: String, nameIDFormat: String,
        relayState: String?, forceAuthn: Bool, signed: Bool
    ) {
        self.applicationID = applicationID; self.spEntityID = spEntityID; self.requestID = requestID; self.acsURL = acsURL
        self.nameIDFormat = nameIDFormat; self.relayState = relayState; self.forceAuthn = forceAuthn; self.signed = signed
    }
}

/// SP-initiated SSO at the IdP as a pure state machine.
///
///     received ──(signed in, no ForceAuthn)──▶ answered
///        ├──(IsPassive, not signed in)──▶ refused (NoPassive)
///        └──▶ waiting for sign-in ──resume with a fresh enough session──▶ answered
///     answered ──resume by the same user within the repeat window──▶ answered again
public struct SAMLAuthnRequestStateMachine: Sendable {
    public typealias Record = FlowRecord<SAMLAuthnRequestFlow>
    public private(set) var record: Record

    public init(_ record: Record) { self.record = record }

    /// The browser's session, as far as the flow needs it.
    public struct SignedIn: Sendable, Equatable {
        public var user: String
        public var authTime: Date
        public init(user: String, authTime: Date) { self.user = user; self.authTime = authTime }
    }

    private enum State: Equatable {
        case waiting
        case answered(user: String, at: Date)
        /// Closed without an answer to a user (NoPassive).
        case closed
        case expired
    }

    private func state(at now: Date) -> State {
        switch record.phase {
        case .completed:
            if let user = record.userID { return .answered(user: user, at: record.updatedAt) }
            return .closed
        case .denied: return .closed
        case .pending, .approved: return record.expiresAt > now ? .waiting : .expired
        }
    }

    public enum Action: Equatable, Sendable {
        /// Sign the Response for this session now (then feed `answered`).
        case answer
        /// The same browser again (double sign-in, reload, Back): answer again, audited as a repeat.
        case answerAgain
        /// Send the browser through the hosted login (`force`: even if signed in).
        case signIn(force: Bool)
        /// IsPassive and nobody signed in: a signed NoPassive status response.
        case refusePassive
        case refuse(FlowRefusal)
    }

    /// Does this session satisfy the request's ForceAuthn (a sign-in after the request arrived)?
    private func fresh(_ session: SignedIn) -> Bool {
        !record.payload.forceAuthn || session.authTime >= record.createdAt
    }

    /// The request arrived (its row was just created) with the browser's session, if any.
    public mutating func received(session: SignedIn?, isPassive: Bool, now: Date) -> Action {
        if session != nil, !record.payload.forceAuthn { return .answer }
        if isPassive {
            record.phase = .completed
            record.updatedAt = now
            return .refusePassive
        }
        return .signIn(force: record.payload.forceAuthn)
    }

    /// The browser came back to the continue link (its key checked by the caller).
    public mutating func resumed(session: SignedIn?, now: Date, repeatWindow: TimeInterval) -> Action {
        switch state(at: now) {
        case .answered(let user, let at):
            // "Same browser": it holds the link's key and a session of the user it was answered for.
            if let session, session.user == user, now.timeIntervalSince(at) < repeatWindow, record.expiresAt > now, fresh(session) {
                return .answerAgain
            }
            return .refuse(.used)
        case .closed, .expired: return .refuse(.used)
        case .waiting:
            guard let session else { return .signIn(force: false) }
            return fresh(session) ? .answer : .signIn(force: true)
        }
    }

    /// The signed Response is going out for `user` (in the transaction that records the participant).
    public mutating func answered(user: String, now: Date) -> Action {
        // Only "still pending" matters here: `received`/`resumed` checked the deadline just before.
        guard record.phase == .pending else { return .refuse(.used) }
        record.phase = .completed
        record.userID = user
        record.updatedAt = now
        return .answer
    }
}
