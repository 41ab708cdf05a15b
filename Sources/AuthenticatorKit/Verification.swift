import Foundation
import SigilAuthenticatorProtocol
import SigilCore

/// An identity verification's hand-off code, as the capture page shows it:
/// `{issuer}/idv/{session}/handoff?k={secret}` (docs/idv.md "From the Sigil authenticator").
public struct VerificationHandoff: Sendable, Equatable {
    public var issuer: String
    public var sessionID: String
    public var secret: String

    public static func parse(_ text: String) throws(AuthenticatorError) -> VerificationHandoff {
        guard let url = URLComponents(string: text.trimmingCharacters(in: .whitespacesAndNewlines)),
            url.scheme == "https" || (url.scheme == "http" && ["localhost", "127.0.0.1", "::1"].contains(url.host ?? "")),
            let range = url.path.range(of: "/idv/", options: .backwards)
        else { throw AuthenticatorError(.invalidCode, "not an identity verification code") }
        let tail = url.path[range.upperBound...].split(separator: "/")
        guard tail.count == 2, tail[1] == "handoff", tail[0].hasPrefix("idv_"),
            let secret = url.queryItems?.first(where: { $0.name == "k" })?.value, !secret.isEmpty
        else { throw AuthenticatorError(.invalidCode, "not an identity verification code") }
        var origin = URLComponents()
        origin.scheme = url.scheme
        origin.host = url.host
        origin.port = url.port
        let issuer = (origin.string ?? "") + String(url.path[..<range.lowerBound])
        return VerificationHandoff(issuer: issuer, sessionID: String(tail[0]), secret: secret)
    }
}

extension Authenticator {
    /// The enrolment for the code's issuer; the app must be enrolled there.
    func enrolment(for handoff: VerificationHandoff) async throws -> Enrolment {
        guard let e = try await enrolment(forIssuer: handoff.issuer) else {
            throw AuthenticatorError(.notEnrolled, "this device is not enrolled with \(handoff.issuer)")
        }
        return e
    }

    /// Claims the verification for this device (the hand-off works once).
    public func claimVerification(_ handoff: VerificationHandoff) async throws -> VerificationAnswer {
        let e = try await enrolment(for: handoff)
        let body = Wire.encode(["handoff": handoff.secret])
        return try Self.decode(VerificationAnswer.self, try await signed("POST", Self.prefix + "/idv/\(handoff.sessionID)/claim", body: body, as: e))
    }

    /// Sends one piece of evidence: `document_front`, `document_back`, `selfie` (JPEG or PNG), or
    /// `chip` (the JSON of the data groups read over NFC: `chipEvidence(sod:dataGroups:)`).
    public func sendEvidence(_ handoff: VerificationHandoff, kind: String, bytes: [UInt8]) async throws -> VerificationAnswer {
        let e = try await enrolment(for: handoff)
        let body = Wire.encode(["kind": kind, "data": Base64URL.encode(bytes)])
        return try Self.decode(
            VerificationAnswer.self, try await signed("POST", Self.prefix + "/idv/\(handoff.sessionID)/evidence", body: body, as: e))
    }

    /// Asks for an active liveness challenge: the steps to record (`neutral` first, then turns
    /// and a blink) and their time slots. A new challenge replaces the previous one.
    public func livenessChallenge(_ handoff: VerificationHandoff) async throws -> VerificationLiveness {
        let e = try await enrolment(for: handoff)
        let answer = try Self.decode(
            VerificationAnswer.self, try await signed("POST", Self.prefix + "/idv/\(handoff.sessionID)/liveness", body: Wire.encode([String: String]()), as: e))
        guard let liveness = answer.liveness else { throw AuthenticatorError(.transport, "the server sent no liveness challenge") }
        return liveness
    }

    /// The recorded frames of a challenge as the server takes them (`liveness` evidence):
    /// `frames[i]` are the images recorded for step `i`, in order, each stamped with its time from
    /// the challenge's start (milliseconds). `offsets[i][k]`, when given, is frame k's time inside
    /// its step's slot; by default the frames are spread evenly over the slot.
    public static func livenessEvidence(_ challenge: VerificationLiveness, frames: [[[UInt8]]], offsets: [[Int]]? = nil) throws -> [UInt8] {
        guard frames.count == challenge.steps.count else {
            throw AuthenticatorError(.invalidInput, "the challenge has \(challenge.steps.count) steps, the frames \(frames.count)")
        }
        struct Frame: Encodable { var step: Int, t: Int, image: String }
        struct Recording: Encodable { var challenge: String, frames: [Frame] }
        let slot = Int(challenge.stepSeconds * 1000)
        var list: [Frame] = []
        for (i, images) in frames.enumerated() {
            for (k, image) in images.enumerated() {
                let offset = offsets.flatMap { i < $0.count && k < $0[i].count ? $0[i][k] : nil } ?? (k + 1) * slot / (images.count + 1)
                list.append(Frame(step: i, t: i * slot + offset, image: Data(image).base64EncodedString()))
            }
        }
        return Array(try JSONEncoder().encode(Recording(challenge: challenge.challenge, frames: list)))
    }

    /// The capture is complete: the server checks and decides.
    public func submitVerification(_ handoff: VerificationHandoff, documentType: String) async throws -> VerificationAnswer {
        let e = try await enrolment(for: handoff)
        let body = Wire.encode(["document_type": documentType])
        return try Self.decode(VerificationAnswer.self, try await signed("POST", Self.prefix + "/idv/\(handoff.sessionID)/submit", body: body, as: e))
    }

    /// The chip's files as the server takes them.
    public static func chipEvidence(sod: [UInt8], dataGroups: [Int: [UInt8]]) -> [UInt8] {
        var object = ["sod": Base64URL.encode(sod)]
        for (n, bytes) in dataGroups { object["dg\(n)"] = Base64URL.encode(bytes) }
        return Wire.encode(object)
    }

    // MARK: the LiveID step-up's face re-match (`RequestView.faceMatch == "required"`)

    /// Asks for a liveness challenge to record for a step-up that needs a live face re-match.
    public func faceChallenge(_ request: ApprovalRequest) async throws -> VerificationLiveness {
        let enrolment = try await enrolment(for: request)
        let reply = try await signed(
            "POST", Self.prefix + "/transactions/\(request.transactionID)/face/challenge", body: Wire.encode([String: String]()), as: enrolment)
        guard let liveness = try Self.decode(FaceRematchAnswer.self, reply).liveness else {
            throw AuthenticatorError(.transport, "the server sent no liveness challenge")
        }
        return liveness
    }

    /// Sends the recorded frames (`livenessEvidence(_:frames:)`); the answer says `match` (approve
    /// now) or `no_match` with reasons, and whether another challenge may be asked for.
    public func sendFaceFrames(_ request: ApprovalRequest, recording: [UInt8]) async throws -> FaceRematchAnswer {
        let enrolment = try await enrolment(for: request)
        let body = Wire.encode(FaceFramesBody(frames: Base64URL.encode(recording)))
        return try Self.decode(
            FaceRematchAnswer.self, try await signed("POST", Self.prefix + "/transactions/\(request.transactionID)/face", body: body, as: enrolment))
    }
}
