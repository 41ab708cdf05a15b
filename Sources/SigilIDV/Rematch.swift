import Foundation

/// The LiveID step-up's live face re-match (docs/connectors.md, "Face re-match"): the person does
/// an active liveness challenge on their enrolled phone, and the faces in those frames are compared
/// with the portrait their identity verification checked (its template, `VerifiedIdentity.portraitTemplate`).
/// Both must pass: the liveness (one person, the turns and the blink asked for, in time) and the
/// distance of the baseline frames to the template.
public enum FaceRematch {
    public struct Result: Sendable, Equatable {
        public var passed: Bool
        /// The median descriptor distance of the neutral frames to the template (nil when none was measured).
        public var distance: Double?
        /// Why it failed (`face_mismatch`, `liveness_identity_changed`, `liveness_late`, …); empty when it passed.
        public var reasons: [String]

        public init(passed: Bool, distance: Double?, reasons: [String]) {
            self.passed = passed; self.distance = distance; self.reasons = reasons
        }
    }

    /// Decides a re-match from measured frames: the liveness checks of `Liveness.evaluate`, then
    /// the median distance of the baseline (neutral step) faces to `template` against `threshold`.
    public static func evaluate(
        _ challenge: LivenessChallenge, frames: [Liveness.Frame], receivedAt: Date, template: [Double], threshold: Double,
        thresholds: Liveness.Thresholds = Liveness.Thresholds()
    ) -> Result {
        let liveness = Liveness.evaluate(challenge, frames: frames, receivedAt: receivedAt, selfie: nil, thresholds: thresholds)
        let reference = DetectedFace(box: [], descriptor: template)
        let distances = frames.filter { $0.step == 0 && $0.faces.count == 1 }.map { $0.faces[0].distance(to: reference) }.sorted()
        var reasons = liveness.reasons
        var median: Double?
        if distances.isEmpty || template.isEmpty {
            if !reasons.contains("liveness_no_baseline") { reasons.append("no_face_to_match") }
        } else {
            let m = distances.count % 2 == 1 ? distances[distances.count / 2] : (distances[distances.count / 2 - 1] + distances[distances.count / 2]) / 2
            median = m.isFinite ? m : nil
            if !(m <= threshold) { reasons.append("face_mismatch") }
        }
        return Result(passed: liveness.passed && reasons.isEmpty, distance: median, reasons: reasons)
    }
}
