import Foundation

/// Active liveness (docs/idv.md, "Liveness"): the server issues a random sequence of actions
/// (look straight, turn left, turn right, blink), each with its own time slot; the capture page
/// records timestamped frames while showing each instruction; the engine measures every frame
/// (one face, its descriptor, eye aspect ratio, yaw); this decides whether the sequence was
/// performed by one person, in order and in time.
///
/// Each person is measured against their own neutral baseline (open-eye ratios vary from about
/// 0.18 to 0.39 between people). It stops a printed photo or a still image held to the camera and
/// a replayed recording of a different sequence. It does **not** stop an injected camera stream
/// that renders the requested actions, a good mask, or a deepfake driven live; no ISO/IEC
/// 30107-3 claim is made.
public struct LivenessChallenge: Codable, Sendable, Equatable {
    public enum Step: String, Codable, Sendable, CaseIterable {
        case neutral, turnLeft = "turn_left", turnRight = "turn_right", blink
    }

    public var id: String
    /// The first step is always `neutral` (the baseline).
    public var steps: [Step]
    public var issuedAt: Date
    /// Each step's slot, in seconds from the challenge's start.
    public var stepSeconds: Double

    public init(id: String, steps: [Step], issuedAt: Date, stepSeconds: Double = 3) {
        self.id = id; self.steps = steps; self.issuedAt = issuedAt; self.stepSeconds = stepSeconds
    }

    /// A neutral baseline then three actions, random, no action twice in a row, at least one turn and one blink.
    public static func issue(id: String, now: Date, random: (Int) -> Int) -> LivenessChallenge {
        let actions: [Step] = [.turnLeft, .turnRight, .blink]
        while true {
            var steps: [Step] = [.neutral]
            for _ in 0..<3 {
                var next = actions[random(actions.count)]
                while next == steps.last { next = actions[random(actions.count)] }
                steps.append(next)
            }
            if steps.contains(.blink), steps.contains(where: { $0 == .turnLeft || $0 == .turnRight }) {
                return LivenessChallenge(id: id, steps: steps, issuedAt: now)
            }
        }
    }

    /// The whole challenge must be uploaded by then.
    public var deadline: Date { issuedAt.addingTimeInterval(Double(steps.count) * stepSeconds + Self.uploadGrace) }
    public static let uploadGrace: TimeInterval = 60
}

public enum Liveness {
    /// One recorded frame: the step it was recorded under, its time from the challenge start
    /// (milliseconds, the page's clock), and what the engine found in it.
    public struct Frame: Sendable, Equatable {
        public var step: Int
        public var milliseconds: Int
        public var faces: [DetectedFace]
        public init(step: Int, milliseconds: Int, faces: [DetectedFace]) { self.step = step; self.milliseconds = milliseconds; self.faces = faces }
    }

    public struct Thresholds: Sendable, Equatable {
        /// A turn: yaw at least this far (degrees) from the neutral baseline, the right way.
        public var turnDegrees: Double = 15
        /// A blink: eye aspect ratio below this fraction of the baseline, then back above `reopen`.
        public var closedFraction: Double = 0.65
        public var reopenFraction: Double = 0.85
        /// Every frame's face within this descriptor distance of the baseline (one person throughout).
        public var continuity: Double = 0.6
        public var minimumFramesPerStep = 2
        /// The engine's yaw sign for the person turning to their left (docs/idv-engines.md).
        public var leftYawSign: Double = 1
        public init() {}
    }

    public struct Result: Sendable, Equatable {
        public var passed: Bool
        public var reasons: [String]
    }

    public static func evaluate(
        _ challenge: LivenessChallenge, frames: [Frame], receivedAt: Date, selfie: DetectedFace?, thresholds t: Thresholds = Thresholds()
    ) -> Result {
        var reasons: [String] = []
        func fail(_ r: String) { if !reasons.contains(r) { reasons.append(r) } }
        guard receivedAt <= challenge.deadline else { return Result(passed: false, reasons: ["liveness_late"]) }
        let slot = Int(challenge.stepSeconds * 1000)
        var previous = -1
        for f in frames {
            guard f.step >= 0, f.step < challenge.steps.count else { return Result(passed: false, reasons: ["liveness_frames_malformed"]) }
            // Frames in order, each inside its step's slot (with a little slack for the page's timers).
            if f.milliseconds < previous { fail("liveness_frames_out_of_order") }
            previous = f.milliseconds
            if f.milliseconds < f.step * slot - 250 || f.milliseconds > (f.step + 1) * slot + 500 { fail("liveness_frame_outside_its_step") }
            if f.faces.isEmpty { fail("liveness_no_face") }
            if f.faces.count > 1 { fail("liveness_multiple_faces") }
        }
        let byStep = Dictionary(grouping: frames.filter { $0.faces.count == 1 }, by: \.step)
        for i in challenge.steps.indices where (byStep[i]?.count ?? 0) < t.minimumFramesPerStep { fail("liveness_too_few_frames") }
        guard let neutral = byStep[0], !neutral.isEmpty else { return Result(passed: false, reasons: reasons + ["liveness_no_baseline"]) }
        let baseline = neutral.map { $0.faces[0] }
        // One person throughout: every frame close to the first neutral frame, and to the selfie.
        let anchor = baseline[0]
        for f in frames where f.faces.count == 1 {
            if f.faces[0].distance(to: anchor) > t.continuity { fail("liveness_identity_changed") }
        }
        if let selfie, anchor.distance(to: selfie) > t.continuity { fail("liveness_not_the_selfie") }
        func median(_ xs: [Double]) -> Double? {
            guard !xs.isEmpty else { return nil }
            let s = xs.sorted()
            return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
        }
        guard let baseYaw = median(baseline.compactMap(\.yaw)), let baseEye = median(baseline.compactMap(\.eyeAspectRatio)), baseEye > 0 else {
            return Result(passed: false, reasons: reasons + ["liveness_no_baseline"])
        }
        for (i, step) in challenge.steps.enumerated() where i > 0 {
            let faces = (byStep[i] ?? []).map { $0.faces[0] }
            let seen: Bool
            switch step {
            case .neutral: seen = true
            case .turnLeft, .turnRight:
                let sign = (step == .turnLeft ? 1 : -1) * t.leftYawSign
                seen = faces.contains { face in face.yaw.map { ($0 - baseYaw) * sign >= t.turnDegrees } ?? false }
            case .blink:
                let ratios = faces.compactMap(\.eyeAspectRatio)
                if let closed = ratios.firstIndex(where: { $0 < baseEye * t.closedFraction }) {
                    // Eyes closed in the step and open again after, in the step or the next.
                    let later = ratios[(closed + 1)...] + (byStep[i + 1] ?? []).compactMap { $0.faces[0].eyeAspectRatio }
                    seen = later.contains { $0 >= baseEye * t.reopenFraction }
                } else {
                    seen = false
                }
            }
            if !seen { fail("liveness_\(step.rawValue)_not_seen") }
        }
        return Result(passed: reasons.isEmpty, reasons: reasons)
    }
}
