import Foundation
import SigilFlows
import Testing

/// The connector's LiveID step-up challenge: decided once, by the push's outcome or by its
/// deadline, and kept readable for the retention period after.
@Suite struct StepUpChallengeStateMachineTests {
    let t0 = Date(timeIntervalSince1970: 1_800_000_000)

    func machine(requireBiometric: Bool = true) -> StepUpChallengeStateMachine {
        let payload = StepUpChallenge(
            keyID: "cnk_1", pushID: "ltx_1", reason: "new device", linkHash: "h", redirectURL: nil, requireBiometric: requireBiometric,
            answerBy: t0.addingTimeInterval(120))
        return StepUpChallengeStateMachine(
            FlowRecord(userID: "usr_1", createdAt: t0, expiresAt: t0.addingTimeInterval(120 + StepUpChallengeStateMachine.pendingGrace), payload: payload))
    }

    @Test func aBiometricApprovalIsAMatchKeptForTheRetention() {
        var m = machine()
        let now = t0.addingTimeInterval(30)
        let action = m.observe(.approved(device: "dev_1", userVerification: "face"), now: now, retention: 600)
        let decision = StepUpChallenge.Decision(matchResult: .match, userVerification: "face", reason: nil, decidedAt: now)
        #expect(action == .decided(decision))
        #expect(m.record.phase == .completed && m.record.deviceID == "dev_1")
        #expect(m.record.expiresAt == now.addingTimeInterval(600))
        #expect(m.view(now: now) == .decided(decision))
        // Decided once: a later outcome changes nothing.
        #expect(m.observe(.ended(reason: "declined"), now: now.addingTimeInterval(1), retention: 600) == .unchanged)
        #expect(m.record.payload.decision == decision)
    }

    @Test func aPINIsAMatchOnlyWhenTheFlowAcceptsAny() {
        var strict = machine()
        guard case .decided(let d) = strict.observe(.approved(device: "dev_1", userVerification: "pin"), now: t0, retention: 600) else {
            Issue.record("not decided")
            return
        }
        #expect(d.matchResult == .noMatch && d.reason == "user_verification_too_weak" && d.userVerification == "pin")
        #expect(strict.record.phase == .denied)

        var lenient = machine(requireBiometric: false)
        guard case .decided(let e) = lenient.observe(.approved(device: "dev_1", userVerification: "pin"), now: t0, retention: 600) else {
            Issue.record("not decided")
            return
        }
        #expect(e.matchResult == .match)
        // Presence alone is never a match.
        var presence = machine(requireBiometric: false)
        guard case .decided(let f) = presence.observe(.approved(device: "dev_1", userVerification: "presence"), now: t0, retention: 600) else {
            Issue.record("not decided")
            return
        }
        #expect(f.matchResult == .noMatch)
    }

    @Test func anEndedPushIsNoMatchWithItsReason() {
        var m = machine()
        guard case .decided(let d) = m.observe(.ended(reason: "wrong_number"), now: t0, retention: 600) else {
            Issue.record("not decided")
            return
        }
        #expect(d.matchResult == .noMatch && d.reason == "wrong_number" && d.userVerification == nil)
    }

    @Test func pendingUntilTheDeadlineThenExpired() {
        var m = machine()
        #expect(m.observe(.pending, now: t0.addingTimeInterval(119), retention: 600) == .unchanged)
        #expect(m.view(now: t0.addingTimeInterval(119)) == .pending)
        #expect(m.record.phase == .pending)
        let late = t0.addingTimeInterval(120)
        #expect(m.expire(now: late, retention: 600) == .decided(.init(matchResult: .expired, reason: "expired", decidedAt: late)))
        #expect(m.record.phase == .denied && m.record.expiresAt == late.addingTimeInterval(600))
        // A push that expired (or is gone) decides it too, even before the deadline by our clock.
        var n = machine()
        guard case .decided(let d) = n.observe(.expired, now: t0.addingTimeInterval(5), retention: 600) else {
            Issue.record("not decided")
            return
        }
        #expect(d.matchResult == .expired)
    }

    @Test func itIsStoredAsItsOwnKind() throws {
        let m = machine()
        let state = FlowState.stepUpChallenge(m.record.payload)
        #expect(state.kind == .stepUpChallenge)
        let data = try JSONEncoder().encode(state)
        #expect(try JSONDecoder().decode(FlowState.self, from: data) == state)
        #expect(String(decoding: data, as: UTF8.self).contains(#""flow":"step_up_challenge""#))
    }
}
