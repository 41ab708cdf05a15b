import Foundation

/// What a WebAuthn ceremony stores besides its challenge: what it is for.
public struct PasskeyCeremony: Codable, Sendable, Equatable {
    public enum Purpose: Codable, Sendable, Equatable {
        /// Sign in with a discoverable passkey, then go to `returnTo`.
        case signIn(returnTo: String)
        /// Register a first passkey from a one-time enrolment link (consumed in the same
        /// transaction); `newUser` is created then (first administrator, invitation without a user).
        case enrolment(linkHash: String, newUser: NewUser?)
        /// Add a passkey to the signed-in `sessionUser`'s account.
        case addToAccount(sessionUser: String)
    }

    public var purpose: Purpose

    public init(purpose: Purpose) { self.purpose = purpose }

    public var isRegistration: Bool {
        if case .signIn = purpose { return false }
        return true
    }
}

/// A WebAuthn registration or authentication ceremony (one challenge, used once) as a pure
/// state machine.
///
///     challenged ──verified──▶ used
///         └── failures (the service's maximum) ──▶ failed        (challenged expires)
public struct PasskeyCeremonyStateMachine: Sendable {
    public typealias Record = FlowRecord<PasskeyCeremony>
    public private(set) var record: Record
    public init(_ record: Record) { self.record = record }

    private enum State: Equatable { case challenged, used, failed, expired }

    private func state(at now: Date) -> State {
        // Past its deadline a ceremony is expired, whatever happened to it ("start again").
        if record.expiresAt <= now { return .expired }
        switch record.phase {
        case .completed: return .used
        case .denied: return .failed
        case .pending, .approved: return .challenged
        }
    }

    /// Why the ceremony cannot be finished now, if it cannot.
    public func usable(now: Date) -> FlowRefusal? {
        switch state(at: now) {
        case .challenged: nil
        case .expired: .expired
        case .used, .failed: .used
        }
    }

    public enum VerifiedAction: Equatable, Sendable {
        /// Carry out the purpose (create the passkey, or sign `user` in) in this transaction.
        case finish(PasskeyCeremony.Purpose)
        case refuse(FlowRefusal)
    }

    /// The browser's response verified over this challenge (by the caller); `user` is who it
    /// proved (sign-in) or the registration's owner.
    public mutating func verified(user: String?, now: Date) -> VerifiedAction {
        if let refusal = usable(now: now) { return .refuse(refusal) }
        record.phase = .completed
        if let user { record.userID = user }
        record.updatedAt = now
        return .finish(record.payload.purpose)
    }

    /// A response that did not verify. True when it used up the ceremony.
    public mutating func failed(now: Date, maximum: Int) -> Bool {
        record.failures += 1
        record.updatedAt = now
        guard record.failures >= maximum, record.phase == .pending else { return false }
        record.phase = .denied
        return true
    }
}
