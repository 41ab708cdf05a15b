import Foundation

/// A LiveID step-up a flow builder asked for through the connector API (docs/connectors.md): a
/// push with number matching to the user's Sigil authenticator, answered after the phone's local
/// check. The push is its own authenticator sign-in row (`stepUpFor` names this challenge, so it
/// can never be redeemed as a sign-in); this row holds what the flow asked and, once known, the
/// decision, which stays readable for `retention` after it is taken.
public struct StepUpChallenge: Codable, Sendable, Equatable {
    public enum MatchResult: String, Codable, Sendable {
        /// The user's own enrolled device approved, with the number shown and the local check asked for.
        case match
        /// Declined, reported, the wrong number, or a weaker local check than asked for.
        case noMatch = "no_match"
        /// Nobody answered in time.
        case expired
    }

    public struct Decision: Codable, Sendable, Equatable {
        public var matchResult: MatchResult
        /// What the device reported for its local check (`face`, `fingerprint`, `pin`, `presence`, `none`), if it answered.
        public var userVerification: String?
        /// Why it is not a match (`declined`, `reported`, `wrong_number`, `user_verification_too_weak`,
        /// `too_many_failures`, `cancelled`, `superseded`, `expired`).
        public var reason: String?
        public var decidedAt: Date
        /// The live face re-match, when the step-up asked for one: `match` or `no_match`.
        public var faceMatch: String?

        public init(matchResult: MatchResult, userVerification: String? = nil, reason: String? = nil, decidedAt: Date, faceMatch: String? = nil) {
            self.matchResult = matchResult; self.userVerification = userVerification; self.reason = reason; self.decidedAt = decidedAt
            self.faceMatch = faceMatch
        }
    }

    /// The connector key that asked.
    public var keyID: String
    /// The push sign-in row the user's devices receive.
    public var pushID: String
    /// Shown on the phone with the application's name (at most 40 characters, like CIBA's binding message).
    public var reason: String?
    /// `tokenHash` of the challenge link's secret (`challenge_url`); the page's cookie carries it.
    public var linkHash: String
    /// Where the challenge page sends the browser once decided (an origin of the key), if anywhere.
    public var redirectURL: String?
    /// Only face or fingerprint counts as a match (the default); else a PIN does too.
    public var requireBiometric: Bool
    /// The push's deadline: unanswered by then, the challenge is expired. (The row itself lives a
    /// little longer while pending, `StepUpChallengeStateMachine.pendingGrace`, so the expiry
    /// sweep decides it before the row could be deleted.)
    public var answerBy: Date
    /// The verification (IDV session) whose portrait the face is re-matched against, when the
    /// push asks for a live face re-match (its approval is possible only after a match).
    public var faceVerification: String?
    public var decision: Decision?

    public init(
        keyID: String, pushID: String, reason: String?, linkHash: String, redirectURL: String?, requireBiometric: Bool, answerBy: Date
    ) {
        self.keyID = keyID; self.pushID = pushID; self.reason = reason; self.linkHash = linkHash
        self.redirectURL = redirectURL; self.requireBiometric = requireBiometric; self.answerBy = answerBy
    }
}

/// The step-up challenge as a pure state machine: no store, no clock reads, no I/O.
///
///     pending ──push answered──▶ decided (match / no_match)
///        └──── deadline passed ──▶ decided (expired)
///     (a decision is kept until `record.expiresAt`, moved to decision time + retention)
public struct StepUpChallengeStateMachine: Sendable {
    public typealias Record = FlowRecord<StepUpChallenge>
    public private(set) var record: Record

    public init(_ record: Record) { self.record = record }

    /// How long a pending row outlives its push's deadline (`answerBy`).
    public static let pendingGrace: TimeInterval = 300

    /// What became of the push, as the authenticator sign-in machine left it.
    public enum PushOutcome: Equatable, Sendable {
        case pending
        case approved(device: String, userVerification: String)
        /// Ended without approval (`AuthenticatorSignIn.EndReason`'s raw value).
        case ended(reason: String)
        case expired
    }

    public enum Action: Equatable, Sendable {
        /// Decided now: record it (audit `stepup.decided`).
        case decided(StepUpChallenge.Decision)
        /// Nothing new (still pending, or already decided).
        case unchanged
    }

    public enum View: Equatable, Sendable {
        case pending
        case decided(StepUpChallenge.Decision)
    }

    public func view(now: Date) -> View {
        if let decision = record.payload.decision { return .decided(decision) }
        return .pending
    }

    /// The user verifications that count as biometric.
    public static let biometric: Set<String> = ["face", "fingerprint"]

    /// The push changed (or was looked at): a final outcome decides the challenge, once.
    public mutating func observe(_ outcome: PushOutcome, now: Date, retention: TimeInterval) -> Action {
        guard record.payload.decision == nil else { return .unchanged }
        let decision: StepUpChallenge.Decision
        switch outcome {
        case .pending:
            guard record.payload.answerBy <= now else { return .unchanged }
            decision = .init(matchResult: .expired, reason: "expired", decidedAt: now)
        case .expired:
            decision = .init(matchResult: .expired, reason: "expired", decidedAt: now)
        case .ended(let reason):
            let face: String? = record.payload.faceVerification != nil && reason == "face_not_matched" ? "no_match" : nil
            decision = .init(matchResult: .noMatch, reason: reason, decidedAt: now, faceMatch: face)
        case .approved(let device, let uv):
            record.deviceID = device
            let strong = Self.biometric.contains(uv) || (!record.payload.requireBiometric && uv == "pin")
            // The push refuses an approval before the face matched, so an approval here had one.
            decision = .init(
                matchResult: strong ? .match : .noMatch, userVerification: uv, reason: strong ? nil : "user_verification_too_weak", decidedAt: now,
                faceMatch: record.payload.faceVerification != nil ? "match" : nil)
        }
        record.payload.decision = decision
        record.phase = decision.matchResult == .match ? .completed : .denied
        record.updatedAt = now
        record.expiresAt = now.addingTimeInterval(retention)
        return .decided(decision)
    }

    /// The expiry sweep: past `answerBy` with no answer, decided as expired.
    public mutating func expire(now: Date, retention: TimeInterval) -> Action {
        observe(.pending, now: now, retention: retention)
    }
}
