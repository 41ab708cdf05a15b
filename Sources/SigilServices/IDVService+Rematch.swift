import Foundation
import SigilAuthenticatorProtocol
import SigilCore
import SigilFlows
import SigilIDV
import SigilStore

/// The LiveID step-up's live face re-match (docs/connectors.md, "Face re-match"). A step-up of a
/// user whose identity was VERIFIED with a face match carries `FaceRematch` on its push: before
/// approving, the user's phone asks for an active liveness challenge, records it, and sends the
/// frames (signed device requests, like IDV evidence). The engine measures the frames; the faces
/// must pass the liveness checks and lie within the tenant's face-match threshold of the verified
/// portrait's template, which is kept sealed in the subject's identity and swept with it. The
/// frames themselves are never stored.
extension IDVService {
    /// The user's verified portrait to re-match against: their latest VERIFIED identity still
    /// within its retention that kept a portrait template (nil when there is none).
    public static func portraitReference(context: ServiceContext, tenantID: String, userID: String) async throws
        -> AuthenticatorSignIn.FaceRematch?
    {
        let now = context.clock.now()
        let subjects = try await context.store.idv.subjects(tenantID: tenantID, userID: userID)
            .filter { $0.status == IDVDecision.verified.rawValue && $0.sealedIdentity != nil && ($0.identityExpiresAt ?? .distantPast) > now }
            .sorted { ($0.verifiedAt ?? .distantPast) > ($1.verifiedAt ?? .distantPast) }
        for s in subjects {
            guard let sealed = s.sealedIdentity, let template = try Self.template(context: context, tenantID: tenantID, subjectID: s.id, sealed: sealed)
            else { continue }
            return AuthenticatorSignIn.FaceRematch(subjectID: s.id, process: template.process)
        }
        return nil
    }

    static func template(context: ServiceContext, tenantID: String, subjectID: String, sealed: String) throws -> (
        descriptor: [Double], process: String
    )? {
        guard let identity = try openIdentity(context.masterKey, tenantID: tenantID, sealed: sealed, reference: subjectID),
            identity.status == .verified, let template = identity.portraitTemplate, template.count == 128
        else { return nil }
        return (template, identity.process)
    }

    /// The push a device answers, if it expects a face re-match from this device.
    func rematchTransaction(tenantID: String, device: AuthenticatedDevice, transactionID: String) async throws -> LoginTransaction {
        let t = try await AuthenticatorService.loginTransaction(context, tenantID: tenantID, id: transactionID)
        guard AuthenticatorService.belongs(t, to: device) else { throw AuthenticatorServiceError(.loginTransactionUnknown, "no such sign-in request") }
        try AuthenticatorService.checkAnswerable(t, now: context.clock.now())
        guard let face = t.authenticatorSignIn?.faceRematch, !face.matched else {
            throw AuthenticatorServiceError(.faceRematchNotExpected, "this request needs no face re-match")
        }
        return t
    }

    /// A new liveness challenge for the device to record (replacing any earlier one).
    public func faceChallenge(tenantID: String, device: AuthenticatedDevice, transactionID: String) async throws -> LivenessChallenge {
        _ = try await rematchTransaction(tenantID: tenantID, device: device, transactionID: transactionID)
        let challenge = newLivenessChallenge()
        let (deviceID, userID) = (device.device.id, device.user.id)
        try await context.store.transaction { tx in
            _ = try await tx.loginTransactions.update(tenantID: tenantID, id: transactionID) { t in
                guard var machine = AuthenticatorService.machine(t) else { throw AuthenticatorService.deviceError(.unknown) }
                let action = machine.issueFaceChallenge(challenge, device: deviceID, user: userID, now: challenge.issuedAt)
                if case .refuse(let refusal) = action { throw AuthenticatorService.deviceError(refusal) }
                t.apply(machine.record, FlowState.authenticatorSignIn)
            }
        }
        return challenge
    }

    public struct RematchAnswer: Sendable, Equatable {
        public var passed: Bool
        public var reasons: [String]
        /// Whether another challenge may be asked for (false once it passed or the step-up ended).
        public var retry: Bool
    }

    /// The recorded frames of the current challenge (`{"challenge": id, "frames": [...]}`, as for
    /// IDV liveness): measured by the engine outside any transaction, then recorded on the push
    /// with an audit event; the last allowed failure ends the push (and decides a connector's
    /// challenge `no_match`, reason `face_not_matched`).
    public func faceFrames(tenantID: String, device: AuthenticatedDevice, transactionID: String, frames bytes: [UInt8]) async throws
        -> RematchAnswer
    {
        let t = try await rematchTransaction(tenantID: tenantID, device: device, transactionID: transactionID)
        guard let face = t.authenticatorSignIn?.faceRematch, let challenge = face.liveness else {
            throw AuthenticatorServiceError(.invalidInput, "ask for a liveness challenge first (POST …/face/challenge)")
        }
        let receivedAt = context.clock.now()
        let settings = try await settings(tenantID: tenantID)
        let result: FaceRematch.Result
        let subject = try await context.store.idv.subject(tenantID: tenantID, id: face.subjectID)
        if let sealed = subject?.sealedIdentity, subject?.userID == device.user.id,
            let template = try Self.template(context: context, tenantID: tenantID, subjectID: face.subjectID, sealed: sealed)
        {
            switch await IDVChecks.measure(bytes, challenge: challenge, engine: engine) {
            case .failure(let unmeasured): result = FaceRematch.Result(passed: false, distance: nil, reasons: unmeasured.result.reasons)
            case .success(let frames):
                result = FaceRematch.evaluate(
                    challenge, frames: frames, receivedAt: receivedAt, template: template.descriptor, threshold: settings.faceMatchThreshold)
            }
        } else {
            // The verified identity went (deleted, swept) since the push started: nothing to match.
            result = FaceRematch.Result(passed: false, distance: nil, reasons: ["no_verified_portrait"])
        }
        let now = context.clock.now()
        let attempt = AuthenticatorSignIn.FaceRematch.Attempt(passed: result.passed, distance: result.distance, reasons: result.reasons, at: now)
        let context = self.context
        let (deviceID, userID) = (device.device.id, device.user.id)
        let action = try await context.store.transaction { tx -> AuthenticatorSignInStateMachine.FaceAction in
            let (updated, action) = try await tx.loginTransactions.update(tenantID: tenantID, id: transactionID) {
                t -> AuthenticatorSignInStateMachine.FaceAction in
                guard var machine = AuthenticatorService.machine(t) else { throw AuthenticatorService.deviceError(.unknown) }
                let action = machine.recordFace(attempt, challenge: challenge.id, device: deviceID, user: userID, now: now)
                if case .refuse(let refusal) = action { throw AuthenticatorService.deviceError(refusal) }
                t.apply(machine.record, FlowState.authenticatorSignIn)
                return action
            }
            var details = [
                "transaction": transactionID, "device": deviceID, "subject": face.subjectID, "verification": face.process,
                "result": result.passed ? "match" : "no_match",
            ]
            if let d = result.distance { details["distance"] = String(format: "%.3f", d) }
            details["threshold"] = String(format: "%.3f", settings.faceMatchThreshold)
            try await tx.audit.append(
                context.auditEvent(
                    "stepup.face_rematch", by: .user(userID), tenantID: tenantID, targetType: "login_transaction", targetID: transactionID,
                    outcome: result.passed ? .success : .failure, after: details, reason: result.reasons.first))
            if action == .notMatched(retry: false), let stepUp = updated.authenticatorSignIn?.stepUpFor,
                stepUp.hasPrefix(IdentifierKind.stepUpChallenge.rawValue + "_")
            {
                _ = try await ConnectorService.decide(
                    challengeID: stepUp, tenantID: tenantID, outcome: ConnectorService.outcome(of: updated, now: now), now: now,
                    context: context, tx: tx)
            }
            return action
        }
        await context.store.signals.publish(transactionID)
        return RematchAnswer(passed: result.passed, reasons: result.reasons, retry: action == .notMatched(retry: true))
    }
}
