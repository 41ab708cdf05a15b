import Foundation

/// The coarse phase every flow row carries. The store indexes and queries it (a user's pending
/// pushes, the expiry sweep); each flow's state machine decides it.
public enum FlowPhase: String, Codable, Sendable {
    /// Waiting for the browser or the device.
    case pending
    /// The device approved; the browser has not collected the result yet.
    case approved
    /// Ended without a result (declined, reported, superseded, cancelled, failed).
    case denied
    /// Finished: a session, a credential or a response came out of it. Cannot be used again.
    case completed
}

/// What a flow's state machine reads and writes of its stored row: the row's own columns plus
/// the flow's typed payload. The service loads it, feeds one event to the machine, and writes the
/// machine's record back in the same store transaction as the action's side rows and audit event.
public struct FlowRecord<Payload: Codable & Sendable & Equatable>: Sendable, Equatable {
    public var phase: FlowPhase
    public var userID: String?
    public var deviceID: String?
    public var failures: Int
    public var createdAt: Date
    public var updatedAt: Date
    public var expiresAt: Date
    public var payload: Payload

    public init(
        phase: FlowPhase = .pending, userID: String? = nil, deviceID: String? = nil, failures: Int = 0, createdAt: Date,
        updatedAt: Date? = nil, expiresAt: Date, payload: Payload
    ) {
        self.phase = phase; self.userID = userID; self.deviceID = deviceID; self.failures = failures
        self.createdAt = createdAt; self.updatedAt = updatedAt ?? createdAt; self.expiresAt = expiresAt; self.payload = payload
    }
}

/// Why a flow refused an event. Services map these to their module's errors (one place each).
public enum FlowRefusal: String, Error, Sendable, Equatable {
    /// Unknown here, or not this flow (the same answer as for a row that does not exist).
    case unknown
    case expired
    /// A device already answered.
    case answered
    /// Another device claimed it first.
    case claimedByAnother
    /// The browser came before the device approved.
    case notApproved
    /// The user declined, reported, or the flow ended another way.
    case ended
    /// Already used: a flow finishes once.
    case used
    /// Too long after it finished to sign in with it.
    case tooLate
}
