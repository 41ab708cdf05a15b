import Foundation

/// A person a first-administrator or invitation link will create, named on the enrolment page.
/// The user row is created only when a credential registers, in the same transaction.
public struct NewUser: Codable, Sendable, Equatable {
    public var email: String
    public var givenName: String
    public var familyName: String
    public init(email: String, givenName: String, familyName: String) {
        self.email = email; self.givenName = givenName; self.familyName = familyName
    }
}

/// What a device enrolment stores (docs/authenticator-protocol.md §2).
public struct DeviceEnrolment: Codable, Sendable, Equatable {
    /// Where the enrolment was started.
    public enum Origin: Codable, Sendable, Equatable {
        /// A signed-in user on the account page.
        case account(sessionUser: String)
        /// A one-time enrolment link (consumed when the device registers); the browser that
        /// showed the code is then signed in once, and goes to `returnTo`.
        case link(tokenHash: String, returnTo: String, newUser: NewUser?)
    }

    public var startedFrom: Origin
    public var origin: String
    public var browserHash: String
    public var issuer: String
    /// The code's secret sealed under the master key (to draw the code again).
    public var sealedSecret: String
    public var previewedAt: Date?
    public var deviceName: String?
    /// When the browser that started a link enrolment was signed in with it.
    public var signedInAt: Date?
    /// Why it ended without a device (`cancelled`, `too_many_failures`).
    public var endReason: AuthenticatorSignIn.EndReason?

    public init(startedFrom: Origin, origin: String, browserHash: String, issuer: String, sealedSecret: String) {
        self.startedFrom = startedFrom; self.origin = origin; self.browserHash = browserHash; self.issuer = issuer
        self.sealedSecret = sealedSecret
    }
}

/// Device enrolment as a pure state machine.
///
///     waiting ──preview──▶ previewed ──register──▶ registered ──signIn (link only, once, ≤ 2 min)──▶ signed in
///        └──────────────────────────┴── failures / cancel ──▶ failed        (waiting/previewed expire)
public struct DeviceEnrolmentStateMachine: Sendable {
    public typealias Record = FlowRecord<DeviceEnrolment>
    public private(set) var record: Record
    /// How long after the device registered the browser may still collect its sign-in.
    public static let signInWindow: TimeInterval = 120

    public init(_ record: Record) { self.record = record }

    private enum State: Equatable {
        case waiting
        case previewed
        case registered(device: String)
        case signedIn
        case failed
        case expired
    }

    private func state(at now: Date) -> State {
        switch record.phase {
        case .completed:
            if record.payload.signedInAt != nil { return .signedIn }
            return .registered(device: record.deviceID ?? "")
        case .denied: return .failed
        case .pending, .approved:
            if record.expiresAt <= now { return .expired }
            return record.payload.previewedAt == nil ? .waiting : .previewed
        }
    }

    public enum PreviewAction: Equatable, Sendable {
        /// Show the device who it enrols for.
        case show
        case refuse(FlowRefusal)
    }

    /// The device scanned the code (secret checked by the caller) and asks what it is for.
    public mutating func preview(now: Date) -> PreviewAction {
        switch state(at: now) {
        case .waiting, .previewed:
            record.payload.previewedAt = now
            record.updatedAt = now
            return .show
        case .expired, .registered, .signedIn, .failed: return .refuse(.unknown)
        }
    }

    /// Whether a device may still preview and register with the code.
    public func registrable(now: Date) -> Bool {
        switch state(at: now) {
        case .waiting, .previewed: true
        default: false
        }
    }

    public enum RegisterAction: Equatable, Sendable {
        /// Create the device for `user` (and, from a link, consume it and create `newUser`).
        case createDevice(user: String, link: String?, newUser: NewUser?)
        case refuse(FlowRefusal)
    }

    /// The device proved possession of its new key over the challenge (checked by the caller).
    public mutating func register(device: String, name: String, now: Date) -> RegisterAction {
        switch state(at: now) {
        case .waiting, .previewed:
            guard let user = record.userID else { return .refuse(.unknown) }
            record.phase = .completed
            record.deviceID = device
            record.payload.deviceName = name
            record.updatedAt = now
            if case .link(let hash, _, let newUser) = record.payload.startedFrom {
                return .createDevice(user: user, link: hash, newUser: newUser)
            }
            return .createDevice(user: user, link: nil, newUser: nil)
        case .expired, .failed: return .refuse(.unknown)
        case .registered, .signedIn: return .refuse(.used)
        }
    }

    /// A failed proof or secret. True when it ended the enrolment.
    public mutating func failed(now: Date, maximum: Int) -> Bool {
        record.failures += 1
        record.updatedAt = now
        guard record.failures >= maximum, record.phase == .pending else { return false }
        record.phase = .denied
        record.payload.endReason = .tooManyFailures
        return true
    }

    /// The browser gave up (chose another way). True when a waiting enrolment ended now.
    public mutating func cancel(now: Date) -> Bool {
        guard record.phase == .pending else { return false }
        record.phase = .denied
        record.payload.endReason = .cancelled
        record.updatedAt = now
        return true
    }

    public enum SignInAction: Equatable, Sendable {
        /// Start a session for `user` (`amr` `swk`: possession of the new device key) and go to `returnTo`.
        case startSession(user: String, returnTo: String)
        case refuse(FlowRefusal)
    }

    /// The browser that showed a link's code collects its sign-in, once, soon after registration.
    public mutating func signIn(now: Date) -> SignInAction {
        guard case .link(_, let returnTo, _) = record.payload.startedFrom else { return .refuse(.unknown) }
        switch state(at: now) {
        case .registered:
            // `updatedAt` is when the device registered: nothing else changes a registered enrolment.
            guard now.timeIntervalSince(record.updatedAt) <= Self.signInWindow else { return .refuse(.tooLate) }
            guard let user = record.userID else { return .refuse(.unknown) }
            record.payload.signedInAt = now
            record.updatedAt = now
            return .startSession(user: user, returnTo: returnTo)
        case .signedIn:
            // The two-minute window is checked first, as for a registration not yet collected.
            return now.timeIntervalSince(record.updatedAt) > Self.signInWindow ? .refuse(.tooLate) : .refuse(.used)
        case .failed: return .refuse(.ended)
        case .expired: return .refuse(.expired)
        case .waiting, .previewed: return .refuse(.notApproved)
        }
    }

    /// The browser's view: `waiting`, `scanned`, `completed`, `denied` or `expired`.
    public func browserView(now: Date) -> String {
        switch state(at: now) {
        case .waiting: "waiting"
        case .previewed: "scanned"
        case .registered, .signedIn: "completed"
        case .failed: "denied"
        case .expired: "expired"
        }
    }

    /// The user the enrolment is for, as the device shows it (a new user's email, else nil: look it up).
    public var pendingEmail: String? {
        if case .link(_, _, let newUser?) = record.payload.startedFrom { return newUser.email }
        return nil
    }
}
