import Foundation
import Testing

@testable import SigilFlows

/// The IDV session machine: every event in every state.
@Suite struct IDVSessionStateMachineTests {
    let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    func machine(_ origin: IDVSession.Origin = .admin) -> IDVSessionStateMachine {
        IDVSessionStateMachine(
            FlowRecord(createdAt: t0, expiresAt: t0.addingTimeInterval(IDVSessionStateMachine.activityWindow), payload: IDVSession(origin: origin)))
    }

    @Test func aVerificationFromCaptureToDecision() {
        var m = machine(.oidc(authorization: "az_1"))
        let required: Set<IDVSession.EvidenceKind> = [.documentFront, .selfie]
        #expect(m.submit(required: required, now: t0) == .missing([.documentFront, .selfie]))
        #expect(m.addEvidence(.documentFront, reference: "blob1", now: t0.addingTimeInterval(60)) == .stored)
        // A retry of the same kind replaces it.
        #expect(m.addEvidence(.documentFront, reference: "blob2", now: t0.addingTimeInterval(120)) == .stored)
        #expect(m.submit(required: required, now: t0.addingTimeInterval(130)) == .missing([.selfie]))
        #expect(m.addEvidence(.selfie, reference: "blob3", now: t0.addingTimeInterval(600)) == .stored)
        #expect(m.submit(required: required, now: t0.addingTimeInterval(610)) == .runChecks([.documentFront: "blob2", .selfie: "blob3"]))
        let checks = [IDVSession.Check(name: "mrz", passed: true), IDVSession.Check(name: "face_match", passed: true)]
        #expect(m.decide(checks: checks, decision: .verified, reasons: [], userID: "usr_1", now: t0.addingTimeInterval(620)) == .decided(.verified))
        #expect(m.record.phase == .completed && m.record.userID == "usr_1" && m.record.payload.checks == checks)
        #expect(m.result(now: t0.addingTimeInterval(700)) == .decided(.verified))
        // Decided: nothing changes it.
        #expect(m.addEvidence(.selfie, reference: "x", now: t0.addingTimeInterval(630)) == .refuse(.used))
        #expect(m.decide(checks: checks, decision: .failed, reasons: ["x"], userID: nil, now: t0.addingTimeInterval(630)) == .refuse(.used))
        #expect(m.cancel(now: t0.addingTimeInterval(630)) == .refuse(.used))
    }

    @Test func failedIsDecidedToo() {
        var m = machine()
        _ = m.addEvidence(.chip, reference: "b", now: t0)
        #expect(
            m.decide(
                checks: [.init(name: "passive_authentication", passed: false, reasons: ["sod_signature_invalid"])], decision: .failed,
                reasons: ["sod_signature_invalid"], userID: nil, now: t0) == .decided(.failed))
        #expect(m.record.phase == .denied && m.result(now: t0) == .decided(.failed))
        #expect(m.cancel(now: t0) == .refuse(.used))
    }

    @Test func aDecisionNeedsEvidenceAndChecks() {
        var m = machine()
        #expect(m.decide(checks: [.init(name: "x", passed: true)], decision: .verified, reasons: [], userID: nil, now: t0) == .refuse(.notApproved))
        _ = m.addEvidence(.mrz, reference: "b", now: t0)
        #expect(m.decide(checks: [], decision: .verified, reasons: [], userID: nil, now: t0) == .refuse(.notApproved))
        #expect(m.result(now: t0) == .refuse(.notApproved))
    }

    @Test func activityExtendsTheDeadlineUpToTheMaximum() {
        var m = machine()
        let window = IDVSessionStateMachine.activityWindow
        // Activity every 15 minutes keeps it alive, up to the maximum lifetime.
        var now = t0
        while now.timeIntervalSince(t0) + 900 < IDVSessionStateMachine.maximumLifetime {
            now = now.addingTimeInterval(900)
            #expect(m.addEvidence(.documentFront, reference: "b", now: now) == .stored)
            #expect(m.record.expiresAt == min(now.addingTimeInterval(window), t0.addingTimeInterval(IDVSessionStateMachine.maximumLifetime)))
        }
        let end = t0.addingTimeInterval(IDVSessionStateMachine.maximumLifetime)
        #expect(m.addEvidence(.selfie, reference: "b", now: end) == .refuse(.expired))
        #expect(m.submit(required: [], now: end) == .refuse(.expired))
        #expect(m.cancel(now: end) == .refuse(.expired))
        #expect(m.result(now: end) == .refuse(.expired))
        // Idle past the window: expired.
        var idle = machine()
        _ = idle.addEvidence(.mrz, reference: "b", now: t0)
        #expect(idle.addEvidence(.selfie, reference: "c", now: t0.addingTimeInterval(window + 1)) == .refuse(.expired))
    }

    @Test func cancel() {
        var m = machine()
        #expect(m.cancel(now: t0) == .cancelled)
        #expect(m.record.phase == .denied && m.record.payload.endReason == "cancelled" && m.result(now: t0) == .cancelled)
        #expect(m.addEvidence(.mrz, reference: "b", now: t0) == .refuse(.used))
        #expect(m.submit(required: [], now: t0) == .refuse(.used))
    }

    @Test func thePayloadRoundTrips() throws {
        var session = IDVSession(origin: .oidc(authorization: "az_1"), sealedExpected: "sealed")
        session.evidence = [.chip: "b1", .selfie: "b2"]
        session.checks = [.init(name: "face_match", passed: false, reasons: ["distance_above_threshold"])]
        session.decision = .failed
        let data = try JSONEncoder().encode(session)
        #expect(try JSONDecoder().decode(IDVSession.self, from: data) == session)
    }
}
