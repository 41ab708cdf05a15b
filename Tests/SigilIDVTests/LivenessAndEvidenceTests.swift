import Foundation
import Testing

@testable import SigilIDV

@Suite("Liveness, chip evidence, face comparison")
struct LivenessAndEvidenceTests {
    static let me = [Double](repeating: 0.1, count: 128)
    static let someoneElse = [Double](repeating: 0.4, count: 128)

    func face(_ d: [Double] = me, eye: Double = 0.3, yaw: Double = 0) -> DetectedFace {
        DetectedFace(box: [0, 0, 10, 10], descriptor: d, eyeAspectRatio: eye, yaw: yaw)
    }

    let challenge = LivenessChallenge(id: "c1", steps: [.neutral, .turnLeft, .blink, .turnRight], issuedAt: Date(timeIntervalSince1970: 1000))

    /// Two frames per step at the step's slot; `pose` gives each step's faces.
    func frames(_ pose: (LivenessChallenge.Step) -> [DetectedFace]) -> [Liveness.Frame] {
        challenge.steps.enumerated().flatMap { i, step in
            pose(step).enumerated().map { k, f in Liveness.Frame(step: i, milliseconds: i * 3000 + 500 + k * 800, faces: [f]) }
        }
    }

    func performed(_ step: LivenessChallenge.Step) -> [DetectedFace] {
        switch step {
        case .neutral: [face(), face()]
        case .turnLeft: [face(yaw: 4), face(yaw: 22)]
        case .turnRight: [face(yaw: -3), face(yaw: -21)]
        case .blink: [face(eye: 0.09), face(eye: 0.29)]
        }
    }

    var receivedInTime: Date { challenge.issuedAt.addingTimeInterval(20) }

    @Test func aPerformedChallengePasses() {
        let r = Liveness.evaluate(challenge, frames: frames(performed), receivedAt: receivedInTime, selfie: face())
        #expect(r.passed, "\(r.reasons)")
    }

    // MARK: the step-up's face re-match

    @Test func aRematchPassesOnlyForTheVerifiedPersonAlive() {
        let passed = FaceRematch.evaluate(challenge, frames: frames(performed), receivedAt: receivedInTime, template: Self.me, threshold: 0.6)
        #expect(passed == FaceRematch.Result(passed: true, distance: 0, reasons: []))
        // Someone else, alive: the liveness passes, the face does not.
        let other = FaceRematch.evaluate(challenge, frames: frames(performed), receivedAt: receivedInTime, template: Self.someoneElse, threshold: 0.6)
        #expect(!other.passed && other.reasons == ["face_mismatch"] && (other.distance ?? 0) > 0.6)
        // The verified person's photo held still: the face matches, the liveness does not.
        let still = FaceRematch.evaluate(
            challenge, frames: frames { _ in [face(), face()] }, receivedAt: receivedInTime, template: Self.me, threshold: 0.6)
        #expect(!still.passed && still.reasons.contains("liveness_turn_left_not_seen") && !still.reasons.contains("face_mismatch"))
        // Late, or with no face at all.
        let late = FaceRematch.evaluate(
            challenge, frames: frames(performed), receivedAt: challenge.deadline.addingTimeInterval(1), template: Self.me, threshold: 0.6)
        #expect(!late.passed && late.reasons.contains("liveness_late"))
        let empty = FaceRematch.evaluate(challenge, frames: [], receivedAt: receivedInTime, template: Self.me, threshold: 0.6)
        #expect(!empty.passed && empty.distance == nil)
        #expect(!FaceRematch.evaluate(challenge, frames: frames(performed), receivedAt: receivedInTime, template: [], threshold: 0.6).passed)
    }

    @Test func eachMissingActionIsNamed() {
        for skipped in [LivenessChallenge.Step.turnLeft, .turnRight, .blink] {
            let r = Liveness.evaluate(challenge, frames: frames { $0 == skipped ? [face(), face()] : performed($0) }, receivedAt: receivedInTime, selfie: nil)
            #expect(!r.passed && r.reasons == ["liveness_\(skipped.rawValue)_not_seen"], "\(skipped): \(r.reasons)")
        }
        // A turn the wrong way is not the turn asked for.
        let wrongWay = Liveness.evaluate(
            challenge, frames: frames { $0 == .turnLeft ? [face(yaw: -25), face(yaw: -25)] : performed($0) }, receivedAt: receivedInTime, selfie: nil)
        #expect(wrongWay.reasons == ["liveness_turn_left_not_seen"])
        // A blink that never reopens (a photo with closed eyes swapped in) is not a blink.
        let closed = Liveness.evaluate(
            challenge, frames: frames { $0 == .blink ? [face(eye: 0.09), face(eye: 0.09)] : ($0 == .turnRight ? [face(eye: 0.09, yaw: -25)] : performed($0)) },
            receivedAt: receivedInTime, selfie: nil)
        #expect(closed.reasons.contains("liveness_blink_not_seen"))
    }

    @Test func anotherPersonLateFramesOrAStillImageFail() {
        // Someone else's face in the middle of the sequence.
        let swapped = Liveness.evaluate(
            challenge, frames: frames { $0 == .blink ? [face(Self.someoneElse, eye: 0.09), face(Self.someoneElse)] : performed($0) },
            receivedAt: receivedInTime, selfie: nil)
        #expect(swapped.reasons.contains("liveness_identity_changed"))
        // The performer is not the selfie's person.
        #expect(
            Liveness.evaluate(challenge, frames: frames(performed), receivedAt: receivedInTime, selfie: face(Self.someoneElse)).reasons == [
                "liveness_not_the_selfie"
            ])
        // Uploaded after the deadline.
        #expect(
            Liveness.evaluate(challenge, frames: frames(performed), receivedAt: challenge.deadline.addingTimeInterval(1), selfie: nil).reasons == [
                "liveness_late"
            ])
        // A printed photo held still: nothing moves.
        let still = Liveness.evaluate(challenge, frames: frames { _ in [face(), face()] }, receivedAt: receivedInTime, selfie: nil)
        #expect(Set(still.reasons) == ["liveness_turn_left_not_seen", "liveness_blink_not_seen", "liveness_turn_right_not_seen"])
        // Frames claimed for a step outside its slot, and a frame with two faces.
        var shifted = frames(performed)
        shifted[3].milliseconds = 9000
        #expect(Liveness.evaluate(challenge, frames: shifted, receivedAt: receivedInTime, selfie: nil).reasons.contains("liveness_frame_outside_its_step"))
        var crowded = frames(performed)
        crowded[0].faces.append(face(Self.someoneElse))
        #expect(Liveness.evaluate(challenge, frames: crowded, receivedAt: receivedInTime, selfie: nil).reasons.contains("liveness_multiple_faces"))
        #expect(Liveness.evaluate(challenge, frames: [], receivedAt: receivedInTime, selfie: nil).reasons.contains("liveness_no_baseline"))
    }

    @Test func issuedChallengesAreRandomWithABaselineATurnAndABlink() {
        var seen = Set<[LivenessChallenge.Step]>()
        var state: UInt64 = 42
        for i in 0..<200 {
            let c = LivenessChallenge.issue(
                id: "c\(i)", now: Date(),
                random: { n in
                    state = state &* 6364136223846793005 &+ 1442695040888963407
                    return Int((state >> 33) % UInt64(n))
                })
            #expect(c.steps.first == .neutral && c.steps.count == 4 && c.steps.contains(.blink))
            #expect(c.steps.contains(.turnLeft) || c.steps.contains(.turnRight))
            #expect(zip(c.steps, c.steps.dropFirst()).allSatisfy { $0 != $1 })
            seen.insert(c.steps)
        }
        #expect(seen.count >= 6)
    }

    @Test func faceComparison() {
        let near = face(Self.me.map { $0 + 0.03 })
        #expect(FaceComparison.compare(selfie: [near], reference: [face()], threshold: 0.6).passed)
        #expect(FaceComparison.compare(selfie: [face(Self.someoneElse)], reference: [face()], threshold: 0.6).reasons == ["face_mismatch"])
        #expect(FaceComparison.compare(selfie: [], reference: [face()], threshold: 0.6).reasons == ["no_face_in_selfie"])
        #expect(FaceComparison.compare(selfie: [face(), near], reference: [face()], threshold: 0.6).reasons == ["multiple_faces_in_selfie"])
        #expect(FaceComparison.compare(selfie: [face()], reference: [], threshold: 0.6).reasons == ["no_face_in_document"])
    }

    static let td3 = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<L898902C36UTO7408122F3104150ZE184226B<<<<<16"

    func b64url(_ b: [UInt8]) -> String {
        Data(b).base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
    }

    @Test func chipEvidenceReadsDG1AndFindsTheDG2Portrait() throws {
        let mrz = Array(Self.td3.utf8)
        let dg1: [UInt8] = [0x61, UInt8(mrz.count + 3), 0x5F, 0x1F, UInt8(mrz.count)] + mrz
        let jpeg: [UInt8] = [0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3]
        let dg2: [UInt8] = [0x75, 0x0B, 0x7F, 0x61, 0x08, 0x02, 0x01, 0x01] + jpeg.prefix(3) + [0x00] + Array(jpeg.dropFirst(3))
        let json = #"{"dg1":"\#(b64url(dg1))","dg2":"\#(b64url(dg2))","sod":"\#(b64url([0x77, 0x00]))"}"#
        let chip = try ChipEvidence.parse(Array(json.utf8))
        #expect(chip.mrzText == String(Self.td3.prefix(44)) + "\n" + String(Self.td3.suffix(44)))
        #expect(try MRZ.parse(try #require(chip.mrzText)).checksPass)
        #expect(chip.portrait?.starts(with: [0xFF, 0xD8, 0xFF]) == true)
        #expect(throws: ChipEvidence.Malformed(reason: "chip_sod_missing")) { try ChipEvidence.parse(Array(#"{"dg1":"YQ"}"#.utf8)) }
        #expect(throws: ChipEvidence.Malformed(reason: "chip_dg1_missing")) { try ChipEvidence.parse(Array(#"{"sod":"dwA"}"#.utf8)) }
        #expect(throws: ChipEvidence.Malformed(reason: "chip_data_group_malformed")) {
            try ChipEvidence.parse(Array(#"{"sod":"dwA","dg1":"YQ","dg99":"YQ"}"#.utf8))
        }
        #expect(throws: ChipEvidence.Malformed(reason: "chip_evidence_not_json")) { try ChipEvidence.parse(Array("not json".utf8)) }
        // A DG1 of the wrong shape reads as no MRZ (the decision then fails on chip_dg1_unreadable).
        #expect(try ChipEvidence.parse(Array(#"{"sod":"dwA","dg1":"YQA"}"#.utf8)).mrzText == nil)
    }

    @Test func theBestMRZAmongOCRLines() {
        let lines = ["NOISE LINE", String(Self.td3.prefix(44)), String(Self.td3.suffix(44)), "MORE"]
        #expect(IDVChecks.bestMRZ(lines)?.documentNumber == "L898902C3")
        #expect(IDVChecks.bestMRZ(["short"]) == nil)
    }
}
