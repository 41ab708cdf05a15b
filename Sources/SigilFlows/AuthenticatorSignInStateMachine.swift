import Foundation
import SigilIDV

/// What a QR or push sign-in with the Sigil authenticator stores (docs/authenticator-protocol.md
/// §3–§5). CIBA rides on a push sign-in whose "browser" is the client (`browserHash` binds it).
public struct AuthenticatorSignIn: Codable, Sendable, Equatable {
    public enum Channel: String, Codable, Sendable { case qr, push }
    /// How a sign-in ended without a session.
    public enum EndReason: String, Codable, Sendable {
        case declined, reported, superseded, cancelled
        case wrongNumber = "wrong_number"
        case tooManyFailures = "too_many_failures"
        /// The live face re-match failed as many times as allowed.
        case faceNotMatched = "face_not_matched"
    }

    /// The LiveID step-up's live face re-match (docs/connectors.md): before approving, the phone
    /// records an active liveness challenge, and its faces must match the portrait the user's
    /// identity verification checked.
    public struct FaceRematch: Codable, Sendable, Equatable {
        public struct Attempt: Codable, Sendable, Equatable {
            public var passed: Bool
            public var distance: Double?
            public var reasons: [String]
            public var at: Date
            public init(passed: Bool, distance: Double?, reasons: [String], at: Date) {
                self.passed = passed; self.distance = distance; self.reasons = reasons; self.at = at
            }
        }
        /// The IDV subject whose sealed identity holds the portrait's template.
        public var subjectID: String
        /// The verification (IDV session) that checked the portrait: the step-up's verification reference.
        public var process: String
        /// The challenge the phone asked for last (a new one replaces it).
        public var liveness: LivenessChallenge?
        /// The last measured attempt.
        public var result: Attempt?
        public var attempts: Int = 0

        public init(subjectID: String, process: String) { self.subjectID = subjectID; self.process = process }

        public var matched: Bool { result?.passed == true }
    }

    public var channel: Channel
    /// The browser's origin (signed over by the device).
    public var origin: String
    /// `tokenHash` of the browser-binding cookie (or of the CIBA client binding).
    public var browserHash: String
    /// Where the browser goes after the sign-in (a path under the tenant).
    public var returnTo: String
    public var issuer: String
    /// "Chrome on Linux", as shown on the phone.
    public var browser: String
    /// What the user signs in to, as shown on the phone.
    public var application: String
    public var clientIP: String?
    /// The QR code's secret sealed under the master key (to draw the code again), QR only.
    public var sealedSecret: String?
    public var claimedAt: Date?
    /// What the device reported for its local check (`face`, `fingerprint`, `pin`, `presence`, `none`).
    public var userVerification: String?
    /// The approval's signature, kept as evidence.
    public var signature: String?
    public var endReason: EndReason?
    /// A push that steps up an upstream sign-in (that flow's ID): redeemed only by the upstream
    /// step-up, never as a sign-in of its own.
    public var stepUpFor: String?
    /// `biometric` when the requester needs a face or fingerprint (LiveID): the phone is told.
    public var requiredUserVerification: String?
    /// Set when the approval needs a live face re-match first (a LiveID step-up of a user whose
    /// identity was verified with a portrait).
    public var faceRematch: FaceRematch?
    /// A CIBA client's `binding_message`, shown on the phone (CIBA requests have no number to match).
    public var bindingMessage: String?

    public init(
        channel: Channel, origin: String, browserHash: String, returnTo: String, issuer: String, browser: String,
        application: String, clientIP: String? = nil, sealedSecret: String? = nil
    ) {
        self.channel = channel; self.origin = origin; self.browserHash = browserHash; self.returnTo = returnTo; self.issuer = issuer
        self.browser = browser; self.application = application; self.clientIP = clientIP; self.sealedSecret = sealedSecret
    }
}

/// QR and push sign-in as a pure state machine: no store, no clock reads, no I/O. The service
/// loads the record, feeds one event, and stores `record` with the action's effects in one
/// transaction (AuthenticatorService).
///
///     waiting ──claim(QR)──▶ claimed ──answer──▶ approved ──complete──▶ completed
///        │  └────────────answer(push)───────────▶    │
///        └─ deny / report / wrong number / supersede / cancel / failures ──▶ ended
///     (any state but completed and ended becomes expired when its deadline passes)
public struct AuthenticatorSignInStateMachine: Sendable {
    public typealias Record = FlowRecord<AuthenticatorSignIn>
    public private(set) var record: Record

    public init(_ record: Record) { self.record = record }

    private enum State: Equatable {
        case waiting
        case claimed(device: String)
        case approved
        case ended(AuthenticatorSignIn.EndReason?)
        case completed
        case expired
    }

    private func state(at now: Date) -> State {
        switch record.phase {
        case .completed: return .completed
        case .denied: return .ended(record.payload.endReason)
        case .approved: return record.expiresAt > now ? .approved : .expired
        case .pending:
            if record.expiresAt <= now { return .expired }
            if record.payload.channel == .qr, let device = record.deviceID { return .claimed(device: device) }
            return .waiting
        }
    }

    /// Device-side events refuse an answered sign-in as answered even once its deadline passed.
    private func deviceRefusal(at now: Date) -> FlowRefusal {
        record.phase == .pending ? .expired : .answered
    }

    private mutating func end(_ reason: AuthenticatorSignIn.EndReason, now: Date) {
        record.phase = .denied
        record.payload.endReason = reason
        record.updatedAt = now
    }

    // MARK: the device claims a QR code

    public enum ClaimAction: Equatable, Sendable {
        /// This device now holds the sign-in; show it the request.
        case claimed
        /// This device had already claimed it (a retry): show it again, nothing changes.
        case alreadyClaimed
        case refuse(FlowRefusal)
    }

    /// A device scanned the code and proved it holds its secret.
    /// `faceRematch`: the user's verified portrait, when this sign-in must re-match it (LiveID).
    public mutating func claim(device: String, user: String, now: Date, faceRematch: AuthenticatorSignIn.FaceRematch? = nil) -> ClaimAction {
        guard record.payload.channel == .qr else { return .refuse(.unknown) }
        switch state(at: now) {
        case .waiting:
            record.deviceID = device
            record.userID = user
            if record.payload.faceRematch == nil { record.payload.faceRematch = faceRematch }
            record.payload.claimedAt = now
            record.updatedAt = now
            return .claimed
        case .claimed(let holder): return holder == device ? .alreadyClaimed : .refuse(.claimedByAnother)
        case .expired: return .refuse(deviceRefusal(at: now))
        case .approved, .ended, .completed: return .refuse(.answered)
        }
    }

    // MARK: push delivery

    public enum TargetAction: Equatable, Sendable {
        /// Deliver the push to this user's devices.
        case deliver
        case refuse(FlowRefusal)
    }

    /// The dispatcher found the user an identifier-first push names.
    /// `faceRematch`: the user's verified portrait, when this push must re-match it (LiveID).
    public mutating func target(user: String, now: Date, faceRematch: AuthenticatorSignIn.FaceRematch? = nil) -> TargetAction {
        guard record.payload.channel == .push else { return .refuse(.unknown) }
        switch state(at: now) {
        case .waiting:
            record.userID = user
            if record.payload.faceRematch == nil { record.payload.faceRematch = faceRematch }
            record.updatedAt = now
            return .deliver
        case .expired: return .refuse(.expired)
        default: return .refuse(.ended)
        }
    }

    /// A newer push for the same user replaces this one. True when this one ended now.
    public mutating func supersede(now: Date) -> Bool {
        guard record.phase == .pending else { return false }
        end(.superseded, now: now)
        return true
    }

    // MARK: the device answers

    public enum Answer: Equatable, Sendable {
        /// Approve, with whether the number the user picked matches (compared in constant time by
        /// the caller), what the device's local check was, and its signature.
        case approve(numberMatches: Bool, userVerification: String, signature: String)
        case deny
        /// "This wasn't me."
        case report
    }

    public enum AnswerAction: Equatable, Sendable {
        /// Approved: the browser may complete until `record.expiresAt` (the grace period).
        case approved
        case declined
        /// Reported: for a push, block the user's pushes for a while.
        case reported(push: Bool)
        /// The number did not match: the sign-in is stopped (counts as a failure).
        case wrongNumber
        /// An approval before the live face re-match passed: nothing changes; match the face first.
        case faceRequired
        case refuse(FlowRefusal)
    }

    /// A signed answer from `device` of `user` (whose signature the caller verified). A QR code is
    /// answered only by the device that claimed it, a push only by a device of the user it went to.
    public mutating func answer(_ answer: Answer, device: String, user: String, now: Date, approvedGrace: TimeInterval) -> AnswerAction {
        guard belongs(device: device, user: user) else { return .refuse(.unknown) }
        switch state(at: now) {
        case .waiting, .claimed:
            break
        case .expired: return .refuse(deviceRefusal(at: now))
        case .approved, .ended, .completed: return .refuse(.answered)
        }
        if case .approve(true, _, _) = answer, let face = record.payload.faceRematch, !face.matched { return .faceRequired }
        record.deviceID = device
        record.updatedAt = now
        switch answer {
        case .approve(let matches, let uv, let signature):
            guard matches else {
                record.failures += 1
                end(.wrongNumber, now: now)
                return .wrongNumber
            }
            record.phase = .approved
            record.payload.userVerification = uv
            record.payload.signature = signature
            record.expiresAt = now.addingTimeInterval(approvedGrace)
            return .approved
        case .deny:
            end(.declined, now: now)
            return .declined
        case .report:
            end(.reported, now: now)
            return .reported(push: record.payload.channel == .push)
        }
    }

    // MARK: the live face re-match (a LiveID step-up with a verified portrait)

    /// How many measured face attempts fail before the sign-in ends.
    public static let maximumFaceAttempts = 3

    public enum FaceAction: Equatable, Sendable {
        /// A challenge was issued (replacing any earlier one): the phone records it.
        case challengeIssued
        /// The attempt was recorded; on failure the phone may ask for another challenge.
        case matched
        case notMatched(retry: Bool)
        case refuse(FlowRefusal)
    }

    /// Whether `device` of `user` may take part in the re-match now.
    private func faceRefusal(device: String, user: String, now: Date) -> FlowRefusal? {
        guard record.payload.faceRematch != nil, belongs(device: device, user: user) else { return .unknown }
        if let refusal = answerable(now: now) { return refusal }
        if record.payload.faceRematch?.matched == true { return .answered }
        return nil
    }

    /// The phone asks for a liveness challenge to record.
    public mutating func issueFaceChallenge(_ challenge: LivenessChallenge, device: String, user: String, now: Date) -> FaceAction {
        if let refusal = faceRefusal(device: device, user: user, now: now) { return .refuse(refusal) }
        record.payload.faceRematch?.liveness = challenge
        record.updatedAt = now
        return .challengeIssued
    }

    /// A measured attempt on the current challenge (`challenge`: its id). The last allowed failure ends the sign-in.
    public mutating func recordFace(_ attempt: AuthenticatorSignIn.FaceRematch.Attempt, challenge: String, device: String, user: String, now: Date)
        -> FaceAction
    {
        if let refusal = faceRefusal(device: device, user: user, now: now) { return .refuse(refusal) }
        guard var face = record.payload.faceRematch, let current = face.liveness, current.id == challenge else { return .refuse(.unknown) }
        face.liveness = nil
        face.result = attempt
        face.attempts += 1
        record.payload.faceRematch = face
        record.updatedAt = now
        if attempt.passed { return .matched }
        guard face.attempts < Self.maximumFaceAttempts else {
            end(.faceNotMatched, now: now)
            return .notMatched(retry: false)
        }
        return .notMatched(retry: true)
    }

    public enum FailureAction: Equatable, Sendable {
        case counted
        /// The last allowed failure: the sign-in ended.
        case ended
    }

    /// A failed attempt against this sign-in (wrong secret, bad signature).
    public mutating func failed(now: Date, maximum: Int) -> FailureAction {
        record.failures += 1
        record.updatedAt = now
        if record.failures >= maximum, record.phase == .pending {
            end(.tooManyFailures, now: now)
            return .ended
        }
        return .counted
    }

    // MARK: the browser

    public enum CompleteAction: Equatable, Sendable {
        /// Start a session for `user` with the methods `userVerification` proves, then go to `returnTo`.
        case startSession(user: String, userVerification: String, returnTo: String)
        case refuse(FlowRefusal)
    }

    /// The browser that started it collects the approved sign-in (once).
    public mutating func complete(now: Date) -> CompleteAction {
        switch state(at: now) {
        case .approved:
            guard let user = record.userID else { return .refuse(.unknown) }
            record.phase = .completed
            record.updatedAt = now
            return .startSession(user: user, userVerification: record.payload.userVerification ?? "none", returnTo: record.payload.returnTo)
        case .waiting, .claimed: return .refuse(.notApproved)
        case .expired: return .refuse(.expired)
        case .ended: return .refuse(.ended)
        case .completed: return .refuse(.used)
        }
    }

    /// The user chose another way. True when a pending sign-in ended now.
    public mutating func cancel(now: Date) -> Bool {
        guard record.phase == .pending else { return false }
        end(.cancelled, now: now)
        return true
    }

    // MARK: views (no state change)

    /// Whether this device may see and answer the sign-in: the QR's claiming device, or any
    /// device of the user a push went to.
    public func belongs(device: String, user: String) -> Bool {
        switch record.payload.channel {
        case .qr: return record.deviceID == device
        case .push: return record.userID == user
        }
    }

    /// Whether a device may still answer, and if not, why.
    public func answerable(now: Date) -> FlowRefusal? {
        switch state(at: now) {
        case .waiting, .claimed: return nil
        case .expired: return deviceRefusal(at: now)
        case .approved, .ended, .completed: return .answered
        }
    }

    /// What the CIBA token endpoint answers while polling (CIBA Core §11).
    public enum Poll: Equatable, Sendable { case pending, expired, denied, used, ready }

    public func poll(now: Date) -> Poll {
        switch state(at: now) {
        case .waiting, .claimed: return .pending
        case .expired: return .expired
        case .ended: return .denied
        case .completed: return .used
        case .approved: return .ready
        }
    }

    /// The browser's view: `waiting`, `scanned`, `approved`, `completed`, `denied` or `expired`,
    /// whether the number is shown, and why it was denied (`declined`, `superseded`, `cancelled`, `failed`).
    public func browserView(now: Date) -> (state: String, showsNumber: Bool, reason: String?) {
        switch state(at: now) {
        case .waiting: return ("waiting", record.payload.channel == .push, nil)
        case .claimed: return ("scanned", true, nil)
        case .approved: return ("approved", false, nil)
        case .completed: return ("completed", false, nil)
        case .expired: return ("expired", false, nil)
        case .ended(let reason):
            let shown: String =
                switch reason {
                case .declined?, .reported?: "declined"
                case .superseded?: "superseded"
                case .cancelled?: "cancelled"
                default: "failed"
                }
            return ("denied", false, shown)
        }
    }
}
