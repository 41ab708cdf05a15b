import Foundation
import SigilIDV
import Testing

@testable import SigilFlows

/// QR and push sign-in (and CIBA polling, which rides on a push), against what
/// AuthenticatorService (25dd03e) decided: `claim`, `dispatchPush`, `answer`, `countFailure`,
/// `checkCompletable`/`complete`, `cancel`, `snapshot` and `cibaToken`.
@Suite struct AuthenticatorSignInStateMachineTests {
    typealias Machine = AuthenticatorSignInStateMachine
    typealias Record = Machine.Record

    static let created = t0
    /// Every event arrives at `now`; live rows expire 90 s later, expired ones exactly now.
    static let now = t0 + 30
    static let lifetime: TimeInterval = 120
    static let grace: TimeInterval = 60
    static let maximumFailures = 3

    /// The states a stored row can be in.
    enum S: String, CaseIterable, Sendable {
        /// QR: not claimed. Push: delivered to user-1.
        case waiting
        /// Push only: not delivered yet (or a decoy that goes nowhere).
        case untargeted
        /// QR only: claimed by device-1 of user-1.
        case claimed
        /// Pending at its deadline (`expiresAt == now`): QR claimed by device-1, push to user-1.
        case expired
        /// QR only: never claimed, at its deadline.
        case expiredUnclaimed
        /// Approved by device-1, the grace period running.
        case approved
        /// Approved, the grace period over (`expiresAt == now`).
        case approvedExpired
        case declined, reported, superseded, cancelled, wrongNumber, tooManyFailures
        /// Denied with no end reason stored.
        case deniedWithoutReason
        case completed

        func applies(to channel: AuthenticatorSignIn.Channel) -> Bool {
            switch self {
            case .untargeted: channel == .push
            case .claimed, .expiredUnclaimed: channel == .qr
            default: true
            }
        }

        var isPending: Bool { [.waiting, .untargeted, .claimed, .expired, .expiredUnclaimed].contains(self) }
        var isEnded: Bool { [.declined, .reported, .superseded, .cancelled, .wrongNumber, .tooManyFailures, .deniedWithoutReason].contains(self) }
    }

    static func payload(_ channel: AuthenticatorSignIn.Channel) -> AuthenticatorSignIn {
        AuthenticatorSignIn(
            channel: channel, origin: "https://id.example.com", browserHash: "browser-hash", returnTo: "/t/acme/account",
            issuer: "https://id.example.com/t/acme", browser: "Firefox on Linux", application: "Acme account",
            clientIP: "192.0.2.7", sealedSecret: channel == .qr ? "sealed-secret" : nil)
    }

    static func record(_ channel: AuthenticatorSignIn.Channel, _ state: S) -> Record {
        precondition(state.applies(to: channel))
        var r = Record(createdAt: created, expiresAt: created + lifetime, payload: payload(channel))
        func hold() {
            r.userID = "user-1"
            r.updatedAt = created + 5
            if channel == .qr {
                r.deviceID = "device-1"
                r.payload.claimedAt = created + 5
            }
        }
        func end(_ reason: AuthenticatorSignIn.EndReason?) {
            hold()
            r.deviceID = "device-1"
            r.phase = .denied
            r.payload.endReason = reason
            r.updatedAt = created + 10
        }
        switch state {
        case .waiting: if channel == .push { hold() }
        case .untargeted: break
        case .claimed: hold()
        case .expired: hold(); r.expiresAt = now
        case .expiredUnclaimed: r.expiresAt = now
        case .approved, .approvedExpired:
            hold()
            r.deviceID = "device-1"
            r.phase = .approved
            r.payload.userVerification = "face"
            r.payload.signature = "approval-signature"
            r.updatedAt = created + 10
            r.expiresAt = state == .approved ? now + 10 : now
        case .declined: end(.declined)
        case .reported: end(.reported)
        case .superseded: end(.superseded)
        case .cancelled: end(.cancelled)
        case .wrongNumber: end(.wrongNumber); r.failures = 1
        case .tooManyFailures: end(.tooManyFailures); r.failures = 3
        case .deniedWithoutReason: end(nil)
        case .completed:
            hold()
            r.deviceID = "device-1"
            r.phase = .completed
            r.payload.userVerification = "pin"
            r.payload.signature = "approval-signature"
            r.updatedAt = created + 20
        }
        return r
    }

    static var all: [(AuthenticatorSignIn.Channel, S)] {
        [AuthenticatorSignIn.Channel.qr, .push].flatMap { channel in S.allCases.filter { $0.applies(to: channel) }.map { (channel, $0) } }
    }

    // MARK: claim (QR)

    @Test func claimInEveryState() {
        for (channel, state) in Self.all where state != .approvedExpired {
            let before = Self.record(channel, state)
            var machine = Machine(before)
            let action = machine.claim(device: "device-1", user: "user-1", now: Self.now)
            var expected = before
            let expectedAction: Machine.ClaimAction
            if channel == .push {
                expectedAction = .refuse(.unknown)
            } else {
                switch state {
                case .waiting:
                    expectedAction = .claimed
                    expected.deviceID = "device-1"
                    expected.userID = "user-1"
                    expected.payload.claimedAt = Self.now
                    expected.updatedAt = Self.now
                case .claimed: expectedAction = .alreadyClaimed
                case .expired, .expiredUnclaimed: expectedAction = .refuse(.expired)
                default: expectedAction = .refuse(.answered)
                }
            }
            #expect(action == expectedAction, "\(channel) \(state)")
            #expect(machine.record == expected, "\(channel) \(state)")
        }
    }

    @Test func claimByAnotherDevice() {
        for state in S.allCases where state.applies(to: .qr) && state != .approvedExpired {
            let before = Self.record(.qr, state)
            var machine = Machine(before)
            let action = machine.claim(device: "device-2", user: "user-2", now: Self.now)
            let expected: Machine.ClaimAction =
                switch state {
                case .waiting:
                    .claimed
                case .claimed: .refuse(.claimedByAnother)
                case .expired, .expiredUnclaimed: .refuse(.expired)
                default: .refuse(.answered)
                }
            #expect(action == expected, "\(state)")
            if state == .waiting {
                #expect(machine.record.deviceID == "device-2" && machine.record.userID == "user-2")
            } else {
                #expect(machine.record == before, "\(state)")
            }
        }
    }

    @Test func claimAtTheDeadlineEdges() {
        var live = Self.record(.qr, .waiting)
        live.expiresAt = Self.now + 1
        var machine = Machine(live)
        #expect(machine.claim(device: "device-1", user: "user-1", now: Self.now) == .claimed)
        // Exactly at `expiresAt` the code is expired (the old check was `expiresAt > now`).
        machine = Machine(live)
        #expect(machine.claim(device: "device-1", user: "user-1", now: Self.now + 1) == .refuse(.expired))
        #expect(machine.record == live)
    }

    /// AuthenticatorService.checkAnswerable (25dd03e) asked "still pending?" before "expired?":
    /// an approved sign-in whose grace period ran out was "already answered"
    /// (`transactionAnswered`), for a claim as for an answer.
    @Test func claimOfAnApprovalWhoseGraceEndedIsAlreadyAnswered() {
        let before = Self.record(.qr, .approvedExpired)
        var machine = Machine(before)
        let action = machine.claim(device: "device-1", user: "user-1", now: Self.now)
        #expect(action == .refuse(.answered))
        #expect(machine.record == before)
    }

    // MARK: target (push delivery)

    @Test func targetInEveryState() {
        for (channel, state) in Self.all {
            let before = Self.record(channel, state)
            var machine = Machine(before)
            let action = machine.target(user: "user-7", now: Self.now)
            var expected = before
            let expectedAction: Machine.TargetAction
            if channel == .qr {
                expectedAction = .refuse(.unknown)
            } else {
                switch state {
                case .waiting, .untargeted:
                    expectedAction = .deliver
                    expected.userID = "user-7"
                    expected.updatedAt = Self.now
                // The old dispatcher suppressed all of these alike ("cancelled"): nothing is delivered.
                case .expired, .approvedExpired: expectedAction = .refuse(.expired)
                default: expectedAction = .refuse(.ended)
                }
            }
            #expect(action == expectedAction, "\(channel) \(state)")
            #expect(machine.record == expected, "\(channel) \(state)")
        }
    }

    // MARK: the live face re-match

    static let face = AuthenticatorSignIn.FaceRematch(subjectID: "ids_1", process: "idv_1")

    @Test func aFaceRematchGatesTheApproval() {
        var machine = Machine(Self.record(.push, .untargeted))
        #expect(machine.target(user: "user-1", now: Self.now, faceRematch: Self.face) == .deliver)
        #expect(machine.record.payload.faceRematch == Self.face)
        let approve = Machine.Answer.approve(numberMatches: true, userVerification: "face", signature: "sig")
        let before = machine.record
        #expect(machine.answer(approve, device: "device-1", user: "user-1", now: Self.now, approvedGrace: Self.grace) == .faceRequired)
        #expect(machine.record == before)
        // Recording needs a challenge, from a device of the user, on the current challenge.
        let failed = AuthenticatorSignIn.FaceRematch.Attempt(passed: false, distance: 0.8, reasons: ["face_mismatch"], at: Self.now)
        #expect(machine.recordFace(failed, challenge: "c1", device: "device-1", user: "user-1", now: Self.now) == .refuse(.unknown))
        let c1 = LivenessChallenge(id: "c1", steps: [.neutral, .blink], issuedAt: Self.now)
        #expect(machine.issueFaceChallenge(c1, device: "device-9", user: "user-9", now: Self.now) == .refuse(.unknown))
        #expect(machine.issueFaceChallenge(c1, device: "device-1", user: "user-1", now: Self.now) == .challengeIssued)
        #expect(machine.recordFace(failed, challenge: "other", device: "device-1", user: "user-1", now: Self.now) == .refuse(.unknown))
        #expect(machine.recordFace(failed, challenge: "c1", device: "device-1", user: "user-1", now: Self.now) == .notMatched(retry: true))
        #expect(machine.answer(approve, device: "device-1", user: "user-1", now: Self.now, approvedGrace: Self.grace) == .faceRequired)
        // A wrong number still ends it, face or not.
        var wrong = machine
        #expect(
            wrong.answer(
                .approve(numberMatches: false, userVerification: "face", signature: "s"), device: "device-1", user: "user-1", now: Self.now,
                approvedGrace: Self.grace) == .wrongNumber)
        let c2 = LivenessChallenge(id: "c2", steps: [.neutral, .blink], issuedAt: Self.now)
        #expect(machine.issueFaceChallenge(c2, device: "device-1", user: "user-1", now: Self.now) == .challengeIssued)
        let matched = AuthenticatorSignIn.FaceRematch.Attempt(passed: true, distance: 0.3, reasons: [], at: Self.now)
        #expect(machine.recordFace(matched, challenge: "c2", device: "device-1", user: "user-1", now: Self.now) == .matched)
        #expect(machine.record.payload.faceRematch?.matched == true && machine.record.payload.faceRematch?.attempts == 2)
        // Matched: no more challenges; the approval counts.
        #expect(machine.issueFaceChallenge(c2, device: "device-1", user: "user-1", now: Self.now) == .refuse(.answered))
        #expect(machine.answer(approve, device: "device-1", user: "user-1", now: Self.now, approvedGrace: Self.grace) == .approved)
    }

    @Test func theLastFailedFaceAttemptEndsTheSignIn() {
        var machine = Machine(Self.record(.qr, .waiting))
        #expect(machine.claim(device: "device-1", user: "user-1", now: Self.now, faceRematch: Self.face) == .claimed)
        for n in 1...Machine.maximumFaceAttempts {
            let c = LivenessChallenge(id: "c\(n)", steps: [.neutral, .blink], issuedAt: Self.now)
            #expect(machine.issueFaceChallenge(c, device: "device-1", user: "user-1", now: Self.now) == .challengeIssued)
            let attempt = AuthenticatorSignIn.FaceRematch.Attempt(passed: false, distance: nil, reasons: ["liveness_late"], at: Self.now)
            let action = machine.recordFace(attempt, challenge: "c\(n)", device: "device-1", user: "user-1", now: Self.now)
            #expect(action == .notMatched(retry: n < Machine.maximumFaceAttempts))
        }
        #expect(machine.record.phase == .denied && machine.record.payload.endReason == .faceNotMatched)
        // Another device (not the claimer) never takes part in a QR's re-match.
        var other = Machine(Self.record(.qr, .waiting))
        _ = other.claim(device: "device-1", user: "user-1", now: Self.now, faceRematch: Self.face)
        let c = LivenessChallenge(id: "c", steps: [.neutral], issuedAt: Self.now)
        #expect(other.issueFaceChallenge(c, device: "device-2", user: "user-1", now: Self.now) == .refuse(.unknown))
    }

    // MARK: supersede

    @Test func supersedeInEveryState() {
        for (channel, state) in Self.all {
            let before = Self.record(channel, state)
            var machine = Machine(before)
            let ended = machine.supersede(now: Self.now)
            var expected = before
            // The old dispatcher's update: `guard t.state == .pending` (the row lock), nothing else.
            if state.isPending {
                expected.phase = .denied
                expected.payload.endReason = .superseded
                expected.updatedAt = Self.now
            }
            #expect(ended == state.isPending, "\(channel) \(state)")
            #expect(machine.record == expected, "\(channel) \(state)")
        }
    }

    // MARK: answer

    static let answers: [Machine.Answer] = [
        .approve(numberMatches: true, userVerification: "fingerprint", signature: "signed-approval"),
        .approve(numberMatches: false, userVerification: "fingerprint", signature: "signed-approval"),
        .deny,
        .report,
    ]

    /// What an answer from device-1 of user-1 does in a state that accepts it.
    static func accepted(_ answer: Machine.Answer, _ before: Record, device: String = "device-1") -> (Machine.AnswerAction, Record) {
        var expected = before
        expected.deviceID = device
        expected.updatedAt = now
        switch answer {
        case .approve(true, let uv, let signature):
            expected.phase = .approved
            expected.payload.userVerification = uv
            expected.payload.signature = signature
            expected.expiresAt = now + grace
            return (.approved, expected)
        case .approve(false, _, _):
            expected.failures += 1
            expected.phase = .denied
            expected.payload.endReason = .wrongNumber
            return (.wrongNumber, expected)
        case .deny:
            expected.phase = .denied
            expected.payload.endReason = .declined
            return (.declined, expected)
        case .report:
            expected.phase = .denied
            expected.payload.endReason = .reported
            return (.reported(push: before.payload.channel == .push), expected)
        }
    }

    @Test func answerInEveryState() {
        for (channel, state) in Self.all where state != .approvedExpired {
            for answer in Self.answers {
                let before = Self.record(channel, state)
                var machine = Machine(before)
                let action = machine.answer(answer, device: "device-1", user: "user-1", now: Self.now, approvedGrace: Self.grace)
                let expectedAction: Machine.AnswerAction
                var expected = before
                switch (channel, state) {
                // Not this device's: an unclaimed QR, a push not delivered to anyone (the old `belongs`).
                case (.qr, .waiting), (.qr, .expiredUnclaimed), (.push, .untargeted): expectedAction = .refuse(.unknown)
                case (_, .waiting), (_, .claimed): (expectedAction, expected) = Self.accepted(answer, before)
                case (_, .expired): expectedAction = .refuse(.expired)
                default: expectedAction = .refuse(.answered)
                }
                #expect(action == expectedAction, "\(channel) \(state) \(answer)")
                #expect(machine.record == expected, "\(channel) \(state) \(answer)")
            }
        }
    }

    @Test func answerOfAnApprovalWhoseGraceEndedIsAlreadyAnswered() {
        for channel in [AuthenticatorSignIn.Channel.qr, .push] {
            for answer in Self.answers {
                let before = Self.record(channel, .approvedExpired)
                var machine = Machine(before)
                let action = machine.answer(answer, device: "device-1", user: "user-1", now: Self.now, approvedGrace: Self.grace)
                #expect(action == .refuse(.answered), "\(channel) \(answer)")
                #expect(machine.record == before)
            }
        }
    }

    @Test func onlyTheClaimingDeviceAnswersAQRCode() {
        let before = Self.record(.qr, .claimed)
        var machine = Machine(before)
        // Another device of the same user is still not the one that scanned.
        #expect(machine.answer(.deny, device: "device-3", user: "user-1", now: Self.now, approvedGrace: Self.grace) == .refuse(.unknown))
        #expect(machine.record == before)
        #expect(!machine.belongs(device: "device-3", user: "user-1"))
        #expect(machine.belongs(device: "device-1", user: "user-2"))
    }

    @Test func anyDeviceOfTheUserAnswersAPush() {
        let before = Self.record(.push, .waiting)
        var machine = Machine(before)
        #expect(machine.answer(.deny, device: "device-9", user: "user-2", now: Self.now, approvedGrace: Self.grace) == .refuse(.unknown))
        #expect(machine.record == before)
        let answer = Machine.Answer.approve(numberMatches: true, userVerification: "pin", signature: "s")
        #expect(machine.answer(answer, device: "device-3", user: "user-1", now: Self.now, approvedGrace: Self.grace) == .approved)
        #expect(machine.record == Self.accepted(answer, before, device: "device-3").1)
        #expect(machine.belongs(device: "anything", user: "user-1"))
    }

    @Test func aWrongNumberEndsTheSignInWhateverTheFailureCount() {
        var before = Self.record(.qr, .claimed)
        before.failures = 0
        var machine = Machine(before)
        #expect(
            machine.answer(
                .approve(numberMatches: false, userVerification: "face", signature: "s"), device: "device-1", user: "user-1",
                now: Self.now, approvedGrace: Self.grace) == .wrongNumber)
        #expect(machine.record.failures == 1)
        #expect(machine.record.phase == .denied)
        #expect(machine.record.payload.endReason == .wrongNumber)
        #expect(machine.record.payload.userVerification == nil && machine.record.payload.signature == nil)
        #expect(machine.record.expiresAt == before.expiresAt)
    }

    // MARK: failed

    @Test func failedInEveryState() {
        for (channel, state) in Self.all {
            for failuresBefore in 0..<Self.maximumFailures {
                var before = Self.record(channel, state)
                before.failures = failuresBefore
                var machine = Machine(before)
                let action = machine.failed(now: Self.now, maximum: Self.maximumFailures)
                var expected = before
                expected.failures += 1
                expected.updatedAt = Self.now
                // The old countFailure: `if t.failures >= maximum, t.state == .pending` (expired or not).
                let ends = state.isPending && failuresBefore + 1 >= Self.maximumFailures
                if ends {
                    expected.phase = .denied
                    expected.payload.endReason = .tooManyFailures
                }
                #expect(action == (ends ? .ended : .counted), "\(channel) \(state) \(failuresBefore)")
                #expect(machine.record == expected, "\(channel) \(state) \(failuresBefore)")
            }
        }
    }

    // MARK: complete (the browser)

    @Test func completeInEveryState() {
        for (channel, state) in Self.all {
            let before = Self.record(channel, state)
            var machine = Machine(before)
            let action = machine.complete(now: Self.now)
            var expected = before
            let expectedAction: Machine.CompleteAction
            switch state {
            case .approved:
                expectedAction = .startSession(user: "user-1", userVerification: "face", returnTo: "/t/acme/account")
                expected.phase = .completed
                expected.updatedAt = Self.now
            case .waiting, .untargeted, .claimed: expectedAction = .refuse(.notApproved)
            case .expired, .expiredUnclaimed, .approvedExpired: expectedAction = .refuse(.expired)
            case .completed: expectedAction = .refuse(.used)
            default: expectedAction = .refuse(.ended)
            }
            #expect(action == expectedAction, "\(channel) \(state)")
            #expect(machine.record == expected, "\(channel) \(state)")
        }
    }

    @Test func completeWithinTheApprovedGracePeriod() {
        var machine = Machine(Self.record(.push, .waiting))
        let approvedAt = Self.now
        #expect(
            machine.answer(
                .approve(numberMatches: true, userVerification: "presence", signature: "s"), device: "device-1", user: "user-1",
                now: approvedAt, approvedGrace: Self.grace) == .approved)
        #expect(machine.record.expiresAt == approvedAt + Self.grace)
        // The grace period replaces the request's own deadline, even one further away.
        let approved = machine.record
        var inTime = Machine(approved)
        #expect(
            inTime.complete(now: approvedAt + Self.grace - 1)
                == .startSession(
                    user: "user-1", userVerification: "presence",
                    returnTo: "/t/acme/account"))
        var atTheEnd = Machine(approved)
        #expect(atTheEnd.complete(now: approvedAt + Self.grace) == .refuse(.expired))
        #expect(atTheEnd.record == approved)
    }

    @Test func completeReportsNoneWithoutAUserVerification() {
        var before = Self.record(.qr, .approved)
        before.payload.userVerification = nil
        var machine = Machine(before)
        #expect(machine.complete(now: Self.now) == .startSession(user: "user-1", userVerification: "none", returnTo: "/t/acme/account"))
    }

    @Test func completeWithoutAUserRefuses() {
        var before = Self.record(.push, .approved)
        before.userID = nil
        var machine = Machine(before)
        #expect(machine.complete(now: Self.now) == .refuse(.unknown))
        #expect(machine.record == before)
    }

    @Test func aSecondCompleteIsRefused() {
        var machine = Machine(Self.record(.qr, .approved))
        #expect(machine.complete(now: Self.now) == .startSession(user: "user-1", userVerification: "face", returnTo: "/t/acme/account"))
        let used = machine.record
        #expect(machine.complete(now: Self.now + 1) == .refuse(.used))
        #expect(machine.record == used)
    }

    // MARK: cancel

    @Test func cancelInEveryState() {
        for (channel, state) in Self.all {
            let before = Self.record(channel, state)
            var machine = Machine(before)
            let ended = machine.cancel(now: Self.now)
            var expected = before
            // The old cancel: `guard t.state == .pending` (expired or not).
            if state.isPending {
                expected.phase = .denied
                expected.payload.endReason = .cancelled
                expected.updatedAt = Self.now
            }
            #expect(ended == state.isPending, "\(channel) \(state)")
            #expect(machine.record == expected, "\(channel) \(state)")
        }
    }

    // MARK: views

    @Test func answerableInEveryState() {
        for (channel, state) in Self.all where state != .approvedExpired {
            let expected: FlowRefusal? =
                switch state {
                case .waiting, .untargeted, .claimed: nil
                case .expired, .expiredUnclaimed: .expired
                default: .answered
                }
            #expect(Machine(Self.record(channel, state)).answerable(now: Self.now) == expected, "\(channel) \(state)")
        }
        #expect(Machine(Self.record(.qr, .approvedExpired)).answerable(now: Self.now) == .answered)
    }

    /// cibaToken (25dd03e): pending → authorization_pending or expired_token; denied →
    /// access_denied; completed → invalid_grant (used); approved → tokens, or expired_token.
    @Test func pollInEveryState() {
        for (channel, state) in Self.all {
            let expected: Machine.Poll =
                switch state {
                case .waiting, .untargeted, .claimed: .pending
                case .expired, .expiredUnclaimed, .approvedExpired: .expired
                case .approved: .ready
                case .completed: .used
                default: .denied
                }
            #expect(Machine(Self.record(channel, state)).poll(now: Self.now) == expected, "\(channel) \(state)")
        }
    }

    @Test func browserViewInEveryState() {
        for (channel, state) in Self.all {
            let view = Machine(Self.record(channel, state)).browserView(now: Self.now)
            let expected: (String, Bool, String?) =
                switch (channel, state) {
                case (.qr, .waiting): ("waiting", false, nil)
                case (.push, .waiting), (_, .untargeted): ("waiting", true, nil)
                case (_, .claimed): ("scanned", true, nil)
                case (_, .expired), (_, .expiredUnclaimed), (_, .approvedExpired): ("expired", false, nil)
                case (_, .approved): ("approved", false, nil)
                case (_, .completed): ("completed", false, nil)
                case (_, .declined), (_, .reported): ("denied", false, "declined")
                case (_, .superseded): ("denied", false, "superseded")
                case (_, .cancelled): ("denied", false, "cancelled")
                default: ("denied", false, "failed")
                }
            #expect(view.state == expected.0 && view.showsNumber == expected.1 && view.reason == expected.2, "\(channel) \(state): \(view)")
        }
    }

    @Test func viewsChangeNothing() {
        for (channel, state) in Self.all {
            let before = Self.record(channel, state)
            let machine = Machine(before)
            _ = machine.browserView(now: Self.now)
            _ = machine.poll(now: Self.now)
            _ = machine.answerable(now: Self.now)
            _ = machine.belongs(device: "device-1", user: "user-1")
            #expect(machine.record == before)
        }
    }

    // MARK: whole flows

    @Test func qrSignInFromScanToSession() {
        var machine = Machine(Self.record(.qr, .waiting))
        #expect(machine.browserView(now: t0 + 1).state == "waiting")
        #expect(machine.claim(device: "device-1", user: "user-1", now: t0 + 10) == .claimed)
        #expect(machine.browserView(now: t0 + 11).state == "scanned")
        #expect(
            machine.answer(
                .approve(numberMatches: true, userVerification: "face", signature: "s"), device: "device-1", user: "user-1",
                now: t0 + 20, approvedGrace: Self.grace) == .approved)
        #expect(machine.record.payload.claimedAt == t0 + 10)
        #expect(machine.complete(now: t0 + 21) == .startSession(user: "user-1", userVerification: "face", returnTo: "/t/acme/account"))
        #expect(machine.record.phase == .completed)
        #expect(machine.record.updatedAt == t0 + 21)
        #expect(machine.browserView(now: t0 + 22).state == "completed")
    }

    @Test func cibaPushFromDeliveryToTokens() {
        var ciba = AuthenticatorSignIn(
            channel: .push, origin: "https://id.example.com/t/acme", browserHash: "client-binding", returnTo: "",
            issuer: "https://id.example.com/t/acme", browser: "Unknown browser", application: "Payroll — Approve #42",
            clientIP: "198.51.100.4")
        ciba.endReason = nil
        var machine = Machine(Record(createdAt: t0, expiresAt: t0 + Self.lifetime, payload: ciba))
        #expect(machine.poll(now: t0 + 1) == .pending)
        #expect(machine.target(user: "user-1", now: t0 + 2) == .deliver)
        #expect(machine.poll(now: t0 + 7) == .pending)
        #expect(
            machine.answer(
                .approve(numberMatches: true, userVerification: "pin", signature: "s"), device: "device-4", user: "user-1",
                now: t0 + 9, approvedGrace: Self.grace) == .approved)
        #expect(machine.poll(now: t0 + 12) == .ready)
        #expect(machine.complete(now: t0 + 12) == .startSession(user: "user-1", userVerification: "pin", returnTo: ""))
        #expect(machine.poll(now: t0 + 17) == .used)
    }
}
