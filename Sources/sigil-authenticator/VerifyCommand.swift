import ArgumentParser
import AuthenticatorKit
import Foundation
import SigilAuthenticatorProtocol

/// `sigil-authenticator verify`: identity verification from the app (docs/idv.md "From the Sigil
/// authenticator"): scan the capture page's hand-off code, send the document photos, the chip's
/// data groups (as read over NFC) and a selfie, each as a signed device request, then submit.
struct Verify: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Send identity evidence for a verification shown on a capture page (its hand-off link or a PNG of its QR code).")

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The capture page's hand-off link (…/idv/{session}/handoff?k=…), or a PNG image of its QR code.")
    var code: String

    @Option(name: .customLong("document-type"), help: "passport, idcard, driving_permit or residence_permit.")
    var documentType = "passport"

    @Option(name: .customLong("document-front"), help: "A photo of the document's front (JPEG or PNG).")
    var documentFront: String?

    @Option(name: .customLong("document-back"), help: "A photo of the back (driving licences: the PDF417 barcode).")
    var documentBack: String?

    @Option(help: "EF.SOD as read from the chip.")
    var sod: String?

    @Option(help: "DG1 as read from the chip.")
    var dg1: String?

    @Option(help: "DG2 (the portrait) as read from the chip.")
    var dg2: String?

    @Option(help: "A selfie (JPEG or PNG).")
    var selfie: String?

    @Option(
        help: ArgumentHelp(
            "Frames for the active liveness challenge: a folder with one sub-folder per step (neutral, turn_left, turn_right, blink) of JPEG or PNG frames, taken in name order.",
            valueName: "dir"))
    var liveness: String?

    @Flag(name: .customLong("no-submit"), help: "Send the evidence but do not submit (the page or a later call does).")
    var noSubmit = false

    static func explain(_ advice: String) -> String {
        switch advice {
        case "blurry": "the photo is blurry; hold still and let the camera focus"
        case "glare": "there is glare; tilt the document away from the light"
        case "too_dark": "the photo is too dark; find more light"
        case "too_small": "the image is too small; move closer so the document fills the frame"
        default: advice
        }
    }

    /// The frames recorded for one step: `dir/step/*.{jpg,jpeg,png}` in name order.
    static func frames(in directory: String, step: String) throws -> [[UInt8]] {
        let folder = URL(fileURLWithPath: directory).appendingPathComponent(step)
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? [])
            .filter { ["jpg", "jpeg", "png"].contains(($0 as NSString).pathExtension.lowercased()) }.sorted()
        guard !names.isEmpty else { throw CLIFailure.usage("no frames for the step \(step): put JPEG or PNG files in \(folder.path)") }
        return try names.map { name in
            do { return Array(try Data(contentsOf: folder.appendingPathComponent(name))) } catch {
                throw CLIFailure.usage("cannot read \(folder.appendingPathComponent(name).path)")
            }
        }
    }

    func run() async throws {
        let handoff = try VerificationHandoff.parse(try readCodeInput(code))
        func read(_ path: String) throws -> [UInt8] {
            do { return Array(try Data(contentsOf: URL(fileURLWithPath: path))) } catch { throw CLIFailure.usage("cannot read \(path)") }
        }
        var evidence: [(String, [UInt8])] = []
        if let documentFront { evidence.append(("document_front", try read(documentFront))) }
        if let documentBack { evidence.append(("document_back", try read(documentBack))) }
        if sod != nil || dg1 != nil || dg2 != nil {
            guard let sod, let dg1 else { throw CLIFailure.usage("the chip needs at least --sod and --dg1") }
            var groups: [Int: [UInt8]] = [1: try read(dg1)]
            if let dg2 { groups[2] = try read(dg2) }
            evidence.append(("chip", Authenticator.chipEvidence(sod: try read(sod), dataGroups: groups)))
        }
        if let selfie { evidence.append(("selfie", try read(selfie))) }
        let framesDirectory = liveness
        guard !evidence.isEmpty || framesDirectory != nil || !noSubmit else {
            throw CLIFailure.usage("nothing to send: give evidence or leave out --no-submit")
        }
        let (json, documentType, submit) = (global.json, documentType, !noSubmit)
        try await global.withAuthenticator(verifier: FixedUserVerifier(.none)) { authenticator, _ in
            _ = try await authenticator.claimVerification(handoff)
            var last = VerificationAnswer(sessionID: handoff.sessionID)
            for (kind, bytes) in evidence {
                last = try await authenticator.sendEvidence(handoff, kind: kind, bytes: bytes)
                if !json {
                    print("Sent \(kind.replacingOccurrences(of: "_", with: " ")).")
                    for advice in last.advice ?? [] { print("  Consider a retake: \(Self.explain(advice)).") }
                }
            }
            var issued: VerificationLiveness?
            if let framesDirectory {
                let challenge = try await authenticator.livenessChallenge(handoff)
                issued = challenge
                if !json { print("Liveness challenge: \(challenge.steps.joined(separator: ", ")).") }
                let frames = try challenge.steps.map { try Self.frames(in: framesDirectory, step: $0) }
                last = try await authenticator.sendEvidence(
                    handoff, kind: "liveness", bytes: try Authenticator.livenessEvidence(challenge, frames: frames))
                if !json { print("Sent the liveness frames (\(frames.map(\.count).reduce(0, +))).") }
            }
            if submit { last = try await authenticator.submitVerification(handoff, documentType: documentType) }
            last.liveness = issued
            if json {
                print(jsonLine(last))
            } else if let status = last.status {
                print(status == "VERIFIED" ? "Verified. Continue on your computer." : "Not verified (\(status)). Continue on your computer.")
            }
        }
    }
}
