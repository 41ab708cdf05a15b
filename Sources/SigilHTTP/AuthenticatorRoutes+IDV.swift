import Foundation
import Hummingbird
import SigilAuthenticatorProtocol
import SigilCore
import SigilServices

/// The Sigil authenticator's side of identity verification: the app scans the capture page's
/// hand-off code, claims the session with its signed device request (binding the session to this
/// device), then sends evidence (document images, the chip's data groups read over NFC, a selfie)
/// and submits, each as a signed request; for liveness it asks for a challenge and sends the
/// frames it recorded as `liveness` evidence. Bodies are JSON; evidence is base64 (at most 10 MiB
/// decoded, so the signed body may reach 14 MiB).
extension AuthenticatorRoutes {
    static let idvBodyLimit = IDVService.maximumEvidenceBytes / 3 * 4 + 4096

    struct IDVClaimBody: Decodable { var handoff: String }
    struct IDVEvidenceBody: Decodable {
        var kind: String
        var data: String
    }
    struct IDVLivenessBody: Decodable {}
    struct IDVSubmitBody: Decodable {
        var documentType: String
        enum CodingKeys: String, CodingKey { case documentType = "document_type" }
    }
    typealias IDVAnswer = VerificationAnswer

    func idvSession(_ context: SigilRequestContext) throws -> String { try IDVRoutes.sid(context) }

    func idvClaim(_ request: Request, _ context: SigilRequestContext) async throws -> Response {
        let bytes = try await Self.read(request)
        let (tenant, device) = try await device(request, context, body: bytes)
        let body = try await deviceBody(IDVClaimBody.self, bytes, allowed: ["handoff"])
        let sid = try idvSession(context)
        try await refusedAsProblem {
            try await services.idv.claimForDevice(
                tenantID: tenant.id, id: sid, handoffSecret: body.handoff, deviceID: device.device.id, userID: device.user.id)
        }
        return try Self.json(IDVAnswer(sessionID: sid))
    }

    func idvEvidence(_ request: Request, _ context: SigilRequestContext) async throws -> Response {
        let bytes = try await Self.read(request, limit: Self.idvBodyLimit)
        let (tenant, device) = try await device(request, context, body: bytes, maximumBody: Self.idvBodyLimit)
        let body = try await deviceBody(IDVEvidenceBody.self, bytes, allowed: ["kind", "data"])
        let decoded: [UInt8]? = Base64URL.decode(body.data).map { Array($0) } ?? Data(base64Encoded: body.data).map { [UInt8]($0) }
        guard let data = decoded else {
            throw Problem.invalidType("data", "base64")
        }
        let sid = try idvSession(context)
        let have = try await refusedAsProblem {
            try await services.idv.addEvidenceFromDevice(tenantID: tenant.id, id: sid, deviceID: device.device.id, kind: body.kind, bytes: data)
        }
        let advice = await services.idv.advice(kind: body.kind, bytes: data)
        return try Self.json(IDVAnswer(sessionID: sid, evidence: have, advice: advice.isEmpty ? nil : advice))
    }

    func idvLiveness(_ request: Request, _ context: SigilRequestContext) async throws -> Response {
        let bytes = try await Self.read(request)
        let (tenant, device) = try await device(request, context, body: bytes)
        _ = try await deviceBody(IDVLivenessBody.self, bytes, allowed: [])
        let sid = try idvSession(context)
        let c = try await refusedAsProblem {
            try await services.idv.livenessChallengeForDevice(tenantID: tenant.id, id: sid, deviceID: device.device.id)
        }
        let liveness = VerificationLiveness(
            challenge: c.id, steps: c.steps.map(\.rawValue), stepSeconds: c.stepSeconds, deadline: Int64(c.deadline.timeIntervalSince1970))
        return try Self.json(IDVAnswer(sessionID: sid, liveness: liveness))
    }

    func idvSubmit(_ request: Request, _ context: SigilRequestContext) async throws -> Response {
        let bytes = try await Self.read(request)
        let (tenant, device) = try await device(request, context, body: bytes)
        let body = try await deviceBody(IDVSubmitBody.self, bytes, allowed: ["document_type"])
        let sid = try idvSession(context)
        let decision = try await refusedAsProblem {
            try await services.idv.submitFromDevice(tenantID: tenant.id, id: sid, deviceID: device.device.id, documentType: body.documentType)
        }
        return try Self.json(IDVAnswer(sessionID: sid, status: decision.rawValue))
    }

    // MARK: the LiveID step-up's live face re-match (IDVService+Rematch)

    struct FaceChallengeBody: Decodable {}

    func faceChallenge(_ request: Request, _ context: SigilRequestContext) async throws -> Response {
        let bytes = try await Self.read(request)
        let (tenant, device) = try await device(request, context, body: bytes)
        _ = try await deviceBody(FaceChallengeBody.self, bytes, allowed: [])
        let tx = context.parameters.get("tx") ?? ""
        let c = try await services.idv.faceChallenge(tenantID: tenant.id, device: device, transactionID: tx)
        let liveness = VerificationLiveness(
            challenge: c.id, steps: c.steps.map(\.rawValue), stepSeconds: c.stepSeconds, deadline: Int64(c.deadline.timeIntervalSince1970))
        return try Self.json(FaceRematchAnswer(transaction: tx, liveness: liveness))
    }

    func faceFrames(_ request: Request, _ context: SigilRequestContext) async throws -> Response {
        let bytes = try await Self.read(request, limit: Self.idvBodyLimit)
        let (tenant, device) = try await device(request, context, body: bytes, maximumBody: Self.idvBodyLimit)
        let body = try await deviceBody(FaceFramesBody.self, bytes, allowed: ["frames"])
        guard let frames = Base64URL.decode(body.frames).map({ Array($0) }) ?? Data(base64Encoded: body.frames).map({ [UInt8]($0) }) else {
            throw Problem.invalidType("frames", "base64")
        }
        let tx = context.parameters.get("tx") ?? ""
        let answer = try await services.idv.faceFrames(tenantID: tenant.id, device: device, transactionID: tx, frames: frames)
        return try Self.json(
            FaceRematchAnswer(transaction: tx, result: answer.passed ? "match" : "no_match", reasons: answer.reasons, retry: answer.retry))
    }

    /// The session's refusals as problem+json of the same name (`session_expired` → 410, …).
    func refusedAsProblem<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let refused as IDVService.Refused {
            throw Problem(status: IDVRoutes.status(of: refused), type: refused.code.replacingOccurrences(of: "_", with: "-"), title: refused.message)
        }
    }
}
