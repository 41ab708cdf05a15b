import Foundation
import Testing

@testable import SigilFlows

/// SP-initiated SSO at the IdP, against SAMLIdentityProviderService (25dd03e: `receive`,
/// `resume`, and the locked update in `assertion` for `.complete`).
@Suite struct SAMLAuthnRequestStateMachineTests {
    typealias Machine = SAMLAuthnRequestStateMachine
    typealias Record = Machine.Record
    typealias SignedIn = Machine.SignedIn

    /// When the request arrived (its row's `createdAt`).
    static let arrived = t0
    /// SAMLIdentityProviderService.pendingLifetime and .repeatWindow.
    static let lifetime: TimeInterval = 15 * 60
    static let repeatWindow: TimeInterval = 120
    /// When a resumed request was answered.
    static let answeredAt = t0 + 300
    static let now = t0 + 330

    static func payload(forceAuthn: Bool) -> SAMLAuthnRequestFlow {
        SAMLAuthnRequestFlow(
            applicationID: "app-1", spEntityID: "https://sp.example.org/metadata", requestID: "_3f9a1c",
            acsURL: "https://sp.example.org/acs", nameIDFormat: "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
            relayState: "https://sp.example.org/dashboard", forceAuthn: forceAuthn, signed: true)
    }

    enum S: String, CaseIterable, Sendable {
        case waiting
        /// Pending at its deadline (`expiresAt == now`).
        case expired
        /// Answered for user-1 at `answeredAt`.
        case answered
        /// Closed with NoPassive (completed without a user).
        case refusedPassive
        case denied
    }

    static func record(_ state: S, forceAuthn: Bool = false) -> Record {
        var r = Record(createdAt: arrived, expiresAt: arrived + lifetime, payload: payload(forceAuthn: forceAuthn))
        switch state {
        case .waiting: break
        case .expired: r.expiresAt = now
        case .answered: r.phase = .completed; r.userID = "user-1"; r.updatedAt = answeredAt
        case .refusedPassive: r.phase = .completed
        case .denied: r.phase = .denied; r.updatedAt = arrived + 1
        }
        return r
    }

    static let olderSession = SignedIn(user: "user-1", authTime: arrived - 3600)
    static let sessionAtArrival = SignedIn(user: "user-1", authTime: arrived)
    static let newerSession = SignedIn(user: "user-1", authTime: arrived + 200)

    // MARK: received (the row was just created, at `arrived`)

    @Test func receivedForEveryRequest() {
        let sessions: [SignedIn?] = [nil, Self.olderSession, Self.sessionAtArrival]
        for forceAuthn in [false, true] {
            for isPassive in [false, true] {
                for session in sessions {
                    let before = Self.record(.waiting, forceAuthn: forceAuthn)
                    var machine = Machine(before)
                    let action = machine.received(session: session, isPassive: isPassive, now: Self.arrived)
                    var expected = before
                    let expectedAction: Machine.Action
                    if session != nil, !forceAuthn {
                        expectedAction = .answer
                    } else if isPassive {
                        // The old `receive` closed the row (completed, no user) and sent NoPassive,
                        // also for a signed-in browser under ForceAuthn.
                        expectedAction = .refusePassive
                        expected.phase = .completed
                        expected.updatedAt = Self.arrived
                    } else {
                        // ForceAuthn signs in again even with a session from this very instant.
                        expectedAction = .signIn(force: forceAuthn)
                    }
                    let label = "force \(forceAuthn) passive \(isPassive) session \(session.map { "\($0.authTime)" } ?? "-")"
                    #expect(action == expectedAction, "\(label)")
                    #expect(machine.record == expected, "\(label)")
                }
            }
        }
    }

    @Test func aPassiveRefusalCannotBeResumed() {
        var machine = Machine(Self.record(.waiting))
        #expect(machine.received(session: nil, isPassive: true, now: Self.arrived) == .refusePassive)
        #expect(machine.record.userID == nil)
        #expect(machine.resumed(session: Self.newerSession, now: Self.arrived + 10, repeatWindow: Self.repeatWindow) == .refuse(.used))
        #expect(machine.answered(user: "user-1", now: Self.arrived + 10) == .refuse(.used))
    }

    // MARK: resumed

    @Test func resumedInEveryState() {
        let sessions: [SignedIn?] = [nil, Self.olderSession, Self.sessionAtArrival, Self.newerSession, SignedIn(user: "user-2", authTime: Self.now - 5)]
        for state in S.allCases {
            for forceAuthn in [false, true] {
                for session in sessions {
                    let before = Self.record(state, forceAuthn: forceAuthn)
                    var machine = Machine(before)
                    let action = machine.resumed(session: session, now: Self.now, repeatWindow: Self.repeatWindow)
                    let expectedAction: Machine.Action
                    switch state {
                    case .waiting:
                        if let session {
                            // ForceAuthn: only a sign-in at or after the request's arrival will do.
                            expectedAction = forceAuthn && session.authTime < Self.arrived ? .signIn(force: true) : .answer
                        } else {
                            expectedAction = .signIn(force: false)
                        }
                    case .answered:
                        // now - answeredAt = 30 s: within the window, so the same user (with a fresh
                        // enough session under ForceAuthn) gets the answer again.
                        if let session, session.user == "user-1", !(forceAuthn && session.authTime < Self.arrived) {
                            expectedAction = .answerAgain
                        } else {
                            expectedAction = .refuse(.used)
                        }
                    case .expired, .refusedPassive, .denied: expectedAction = .refuse(.used)
                    }
                    let label = "\(state) force \(forceAuthn) session \(session.map { "\($0.user)@\($0.authTime)" } ?? "-")"
                    #expect(action == expectedAction, "\(label)")
                    #expect(machine.record == before, "\(label)")
                }
            }
        }
    }

    @Test func resumedAtTheDeadlineEdges() {
        var before = Self.record(.waiting)
        before.expiresAt = Self.now + 1
        var machine = Machine(before)
        #expect(machine.resumed(session: Self.newerSession, now: Self.now, repeatWindow: Self.repeatWindow) == .answer)
        #expect(machine.resumed(session: Self.newerSession, now: Self.now + 1, repeatWindow: Self.repeatWindow) == .refuse(.used))
        #expect(machine.resumed(session: nil, now: Self.now + 1, repeatWindow: Self.repeatWindow) == .refuse(.used))
    }

    @Test func theRepeatWindow() {
        let answered = Self.record(.answered)
        func resume(at time: Date) -> Machine.Action {
            var machine = Machine(answered)
            return machine.resumed(session: Self.newerSession, now: time, repeatWindow: Self.repeatWindow)
        }
        #expect(resume(at: Self.answeredAt) == .answerAgain)
        #expect(resume(at: Self.answeredAt + 119) == .answerAgain)
        // `now - updatedAt < repeatWindow`: exactly two minutes later is too late.
        #expect(resume(at: Self.answeredAt + 120) == .refuse(.used))
        #expect(resume(at: Self.answeredAt + 600) == .refuse(.used))
    }

    @Test func theRepeatWindowEndsWithTheRequest() {
        var answered = Self.record(.answered)
        answered.expiresAt = Self.answeredAt + 60
        func resume(at time: Date) -> Machine.Action {
            var machine = Machine(answered)
            return machine.resumed(session: Self.newerSession, now: time, repeatWindow: Self.repeatWindow)
        }
        #expect(resume(at: Self.answeredAt + 59) == .answerAgain)
        #expect(resume(at: Self.answeredAt + 60) == .refuse(.used))
    }

    @Test func forceAuthnSessionOlderOrNewerThanTheRequest() {
        let waiting = Self.record(.waiting, forceAuthn: true)
        func resume(_ authTime: Date) -> Machine.Action {
            var machine = Machine(waiting)
            return machine.resumed(session: SignedIn(user: "user-1", authTime: authTime), now: Self.now, repeatWindow: Self.repeatWindow)
        }
        #expect(resume(Self.arrived - 1) == .signIn(force: true))
        #expect(resume(Self.arrived) == .answer)
        #expect(resume(Self.arrived + 1) == .answer)
        let answered = Self.record(.answered, forceAuthn: true)
        func repeatResume(_ authTime: Date) -> Machine.Action {
            var machine = Machine(answered)
            return machine.resumed(session: SignedIn(user: "user-1", authTime: authTime), now: Self.now, repeatWindow: Self.repeatWindow)
        }
        #expect(repeatResume(Self.arrived - 1) == .refuse(.used))
        #expect(repeatResume(Self.arrived) == .answerAgain)
    }

    // MARK: answered (the Response goes out)

    @Test func answeredInEveryState() {
        for state in S.allCases where state != .expired {
            let before = Self.record(state)
            var machine = Machine(before)
            let action = machine.answered(user: "user-3", now: Self.now)
            var expected = before
            let expectedAction: Machine.Action
            if state == .waiting {
                expectedAction = .answer
                expected.phase = .completed
                expected.userID = "user-3"
                expected.updatedAt = Self.now
            } else {
                expectedAction = .refuse(.used)
            }
            #expect(action == expectedAction, "\(state)")
            #expect(machine.record == expected, "\(state)")
        }
    }

    /// The old `.complete` step (in `assertion`, under the row lock) checked only
    /// `t.state == .pending`: the deadline had been checked by `resume` (or the row had just been
    /// created by `receive`). The machine also refuses a pending row at its deadline.
    @Test func answeredAtTheDeadline() {
        let before = Self.record(.expired)
        var machine = Machine(before)
        let action = machine.answered(user: "user-1", now: Self.now)
        #expect(action == .answer)
        #expect(machine.record.phase == .completed)
    }

    // MARK: whole flows

    @Test func signInThenAnswerThenTheSameBrowserAgain() {
        var machine = Machine(Self.record(.waiting, forceAuthn: true))
        #expect(machine.received(session: Self.olderSession, isPassive: false, now: Self.arrived) == .signIn(force: true))
        #expect(machine.resumed(session: Self.olderSession, now: Self.arrived + 100, repeatWindow: Self.repeatWindow) == .signIn(force: true))
        #expect(machine.resumed(session: Self.newerSession, now: Self.arrived + 210, repeatWindow: Self.repeatWindow) == .answer)
        #expect(machine.answered(user: "user-1", now: Self.arrived + 210) == .answer)
        #expect(machine.record.updatedAt == Self.arrived + 210)
        #expect(machine.resumed(session: Self.newerSession, now: Self.arrived + 215, repeatWindow: Self.repeatWindow) == .answerAgain)
        #expect(machine.answered(user: "user-1", now: Self.arrived + 215) == .refuse(.used))
        #expect(
            machine.resumed(
                session: SignedIn(user: "user-2", authTime: Self.arrived + 212), now: Self.arrived + 216,
                repeatWindow: Self.repeatWindow) == .refuse(.used))
    }
}
