import Foundation
import SigilIDV

/// One identity verification (DESIGN §5, docs/idv.md): who started it, what evidence came in
/// (references to sealed blobs, never the data), which checks ran with what result, and the
/// decision. Stored as the `idv_session` flow payload.
public struct IDVSession: Codable, Sendable, Equatable {
    /// How the session was started.
    public enum Origin: Codable, Sendable, Equatable {
        /// An OpenID Connect request (scope `identity_assurance` or a `verified_claims` request;
        /// Okta's BYO IDV): the authorization request it answers, sealed (its claims request
        /// carries the names the relying party expects).
        case oidc(authorization: String)
        case admin
        case connector
        /// A signed-in user from the account page.
        case account
    }

    public enum EvidenceKind: String, Codable, Sendable, CaseIterable, Comparable {
        case documentFront = "document_front", documentBack = "document_back", mrz, barcode, chip, selfie, liveness
        public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
    }

    public typealias Check = IDVCheck
    public typealias Decision = IDVDecision

    public var origin: Origin
    /// The values the relying party expects (Okta's fuzzy given/family names), by claim, as a
    /// sealed JSON object: PII, never stored in clear.
    public var sealedExpected: String?
    /// Evidence received: kind → the sealed blob's reference.
    public var evidence: [EvidenceKind: String]
    public var checks: [Check]
    public var decision: Decision?
    public var reasons: [String]
    /// Why it ended without a decision (`cancelled`, `expired`).
    public var endReason: String?
    /// The OIDC client that asked (for `.oidc`), and the subject the verification is about.
    public var clientID: String?
    public var subjectID: String?
    /// SHA-256 of the one-time desktop-to-phone hand-off secret; when it was used.
    public var handoffHash: String?
    public var handoffUsedAt: Date?
    /// SHA-256 of the phone's own browser secret, set when the hand-off link was used.
    public var phoneSecretHash: String?
    /// The document type the user said they present (IDA: passport, idcard, driving_permit).
    public var documentType: String?
    /// The active liveness challenge last issued.
    public var liveness: LivenessChallenge?
    /// The result as a sealed `VerifiedIdentity` (its claims are PII), once decided.
    public var sealedIdentity: String?
    public var assuranceLevel: String?
    /// When the origin was answered (the code issued or the error sent): once only.
    public var answeredAt: Date?
    /// What a connector (a flow builder) asked of this session beyond the tenant's policy.
    public var connector: ConnectorOptions?

    /// A connector's requirements: they only ever narrow the tenant's policy.
    public struct ConnectorOptions: Codable, Sendable, Equatable {
        /// Document types accepted for this session (within the policy's); nil: the policy's.
        public var documentTypes: [String]?
        /// Active liveness required even where the policy does not ask for it.
        public var requireLiveness: Bool
        /// Where the capture page sends the person once decided (its origin is one the key allows).
        public var returnURL: String?
        /// The connector key that started the session (only it, or another key of the tenant with
        /// `idv:read`, reads the result).
        public var keyID: String

        public init(documentTypes: [String]?, requireLiveness: Bool, returnURL: String?, keyID: String) {
            self.documentTypes = documentTypes; self.requireLiveness = requireLiveness; self.returnURL = returnURL; self.keyID = keyID
        }
    }

    public init(origin: Origin, sealedExpected: String? = nil) {
        self.origin = origin; self.sealedExpected = sealedExpected; self.evidence = [:]; self.checks = []; self.reasons = []
    }
}

/// An identity verification as a pure state machine.
///
///     created ──evidence──▶ collecting ──submit (the required evidence is there)──▶ run checks
///        │                     │          ──decide (checks, decision, reasons)──▶ decided
///        └─────────────────────┴──cancel──▶ cancelled          (undecided) ──deadline──▶ expired
///
/// Every piece of evidence moves the deadline to `activityWindow` from now, never past
/// `maximumLifetime` after creation: a user may take well over the 10 minutes Okta allows for
/// capture, and an abandoned session still ends. Checks need the evidence the policy requires;
/// a decision needs checks. Once decided or cancelled nothing changes it.
public struct IDVSessionStateMachine: Sendable {
    public typealias Record = FlowRecord<IDVSession>
    public private(set) var record: Record

    /// How long the session waits for the next piece of evidence (`activityWindow` unless a
    /// test shortens it).
    public var window: TimeInterval

    public init(_ record: Record, window: TimeInterval = Self.activityWindow) {
        self.record = record
        self.window = window
    }

    public static let activityWindow: TimeInterval = 20 * 60
    public static let maximumLifetime: TimeInterval = 2 * 3600
    /// A decided session's result stays readable this long.
    public static let resultRetention: TimeInterval = 3600

    /// Answering the origin (issuing the OIDC code, or the error after a cancel): once, and only
    /// after a decision or a cancel.
    public mutating func answer(now: Date) -> Action {
        let state = state(at: now)
        guard state == .decided || state == .cancelled || (state == .expired && record.phase != .pending && record.phase != .approved) else {
            return .refuse(state == .expired ? .expired : .notApproved)
        }
        guard record.payload.answeredAt == nil else { return .refuse(.used) }
        record.payload.answeredAt = now
        record.updatedAt = now
        return record.payload.decision.map(Action.decided) ?? .cancelled
    }

    /// The desktop-to-phone hand-off link, once, while the session is open. A phone browser
    /// brings its own secret (`phoneSecretHash`); the app binds its device instead (`bind`).
    public mutating func useHandoff(secretHash: String, phoneSecretHash: String? = nil, now: Date) -> Action {
        switch state(at: now) {
        case .created, .collecting:
            guard let expected = record.payload.handoffHash, expected == secretHash else { return .refuse(.unknown) }
            guard record.payload.handoffUsedAt == nil else { return .refuse(.claimedByAnother) }
            record.payload.handoffUsedAt = now
            if let phoneSecretHash { record.payload.phoneSecretHash = phoneSecretHash }
            record.updatedAt = now
            return .stored
        case .decided, .cancelled: return .refuse(.used)
        case .expired: return .refuse(.expired)
        }
    }

    /// The Sigil authenticator that claimed the session (its evidence calls are signed by it).
    public mutating func bind(device: String) {
        record.deviceID = device
    }

    /// A new liveness challenge replaces the previous one (a retry), while the session is open.
    public mutating func issueLiveness(_ challenge: LivenessChallenge, now: Date) -> Action {
        switch state(at: now) {
        case .created, .collecting:
            record.payload.liveness = challenge
            record.updatedAt = now
            return .stored
        case .decided, .cancelled: return .refuse(.used)
        case .expired: return .refuse(.expired)
        }
    }

    /// Where the session stands, as the status endpoint reports it.
    public func stage(now: Date) -> String {
        switch state(at: now) {
        case .created: "created"
        case .collecting: "collecting"
        case .decided: "decided"
        case .cancelled: "cancelled"
        case .expired: "expired"
        }
    }

    private enum State: Equatable { case created, collecting, decided, cancelled, expired }

    private func state(at now: Date) -> State {
        switch record.phase {
        case .completed: return .decided
        case .denied: return record.payload.decision != nil ? .decided : .cancelled
        case .pending, .approved:
            guard record.expiresAt > now else { return .expired }
            return record.payload.evidence.isEmpty ? .created : .collecting
        }
    }

    public enum Action: Equatable, Sendable {
        case stored
        /// Run the checks over this evidence.
        case runChecks([IDVSession.EvidenceKind: String])
        /// Decided: answer the origin (the OIDC flow, the connector's webhook, …).
        case decided(IDVSession.Decision)
        case cancelled
        /// What the policy requires and has not arrived.
        case missing([IDVSession.EvidenceKind])
        case refuse(FlowRefusal)
    }

    /// Evidence arrived (a new capture of the same kind replaces the old one: a retry).
    public mutating func addEvidence(_ kind: IDVSession.EvidenceKind, reference: String, now: Date) -> Action {
        switch state(at: now) {
        case .created, .collecting:
            record.payload.evidence[kind] = reference
            record.updatedAt = now
            record.expiresAt = min(now.addingTimeInterval(window), record.createdAt.addingTimeInterval(Self.maximumLifetime))
            return .stored
        case .decided, .cancelled: return .refuse(.used)
        case .expired: return .refuse(.expired)
        }
    }

    /// The user (or the app) says the capture is complete: the checks run when `required` is all there.
    public mutating func submit(required: Set<IDVSession.EvidenceKind>, now: Date) -> Action {
        switch state(at: now) {
        case .created, .collecting:
            let missing = required.subtracting(record.payload.evidence.keys).sorted()
            guard missing.isEmpty else { return .missing(missing) }
            record.updatedAt = now
            return .runChecks(record.payload.evidence)
        case .decided, .cancelled: return .refuse(.used)
        case .expired: return .refuse(.expired)
        }
    }

    /// The checks ran; the policy's decision over them, with its reasons.
    public mutating func decide(checks: [IDVSession.Check], decision: IDVSession.Decision, reasons: [String], userID: String?, now: Date) -> Action {
        switch state(at: now) {
        case .created, .collecting:
            guard !checks.isEmpty, !(record.payload.evidence.isEmpty) else { return .refuse(.notApproved) }
            record.payload.checks = checks
            record.payload.decision = decision
            record.payload.reasons = reasons
            if let userID { record.userID = userID }
            record.phase = decision == .failed ? .denied : .completed
            record.updatedAt = now
            // The result stays readable (the OIDC continue, the connector's poll) for a while.
            record.expiresAt = max(record.expiresAt, now.addingTimeInterval(Self.resultRetention))
            return .decided(decision)
        case .decided, .cancelled: return .refuse(.used)
        case .expired: return .refuse(.expired)
        }
    }

    public mutating func cancel(now: Date) -> Action {
        switch state(at: now) {
        case .created, .collecting:
            record.phase = .denied
            record.payload.endReason = "cancelled"
            record.updatedAt = now
            return .cancelled
        case .decided, .cancelled: return .refuse(.used)
        case .expired: return .refuse(.expired)
        }
    }

    /// The result, once decided (what the OIDC token endpoint or the connector reads).
    public func result(now: Date) -> Action {
        switch state(at: now) {
        case .decided: return record.payload.decision.map(Action.decided) ?? .refuse(.unknown)
        case .cancelled: return .cancelled
        case .expired: return .refuse(.expired)
        case .created, .collecting: return .refuse(.notApproved)
        }
    }
}
