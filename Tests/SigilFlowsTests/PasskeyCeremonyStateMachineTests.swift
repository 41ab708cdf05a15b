import Foundation
import Testing

@testable import SigilFlows

/// WebAuthn ceremonies, against PasskeyService (25dd03e: `usable`, `recordFailure`, the locked
/// updates of `finishRegistration` and `finishAuthentication`).
@Suite struct PasskeyCeremonyStateMachineTests {
    typealias Machine = PasskeyCeremonyStateMachine
    typealias Record = Machine.Record

    static let created = t0
    static let now = t0 + 60
    /// PasskeyService.ceremonyLifetime.
    static let lifetime: TimeInterval = 300
    /// PasskeyService.maximumFailures (25dd03e).
    static let oldMaximumFailures = 5

    static let purposes: [PasskeyCeremony.Purpose] = [
        .signIn(returnTo: "/t/acme/oauth2/authorize?request_uri=urn%3Aietf%3Aparams%3Aoauth%3Arequest_uri%3Aabc"),
        .enrolment(linkHash: "link-hash", newUser: nil),
        .enrolment(linkHash: "link-hash", newUser: NewUser(email: "ada@example.com", givenName: "Ada", familyName: "Lovelace")),
        .addToAccount(sessionUser: "user-1"),
    ]

    enum S: String, CaseIterable, Sendable {
        case challenged
        /// Pending at its deadline (`expiresAt == now`).
        case expired
        case used
        case failed
        /// Used or failed, and past the deadline too.
        case usedExpired, failedExpired
    }

    static func record(_ purpose: PasskeyCeremony.Purpose, _ state: S) -> Record {
        let ceremony = PasskeyCeremony(purpose: purpose)
        // A registration knows its owner from the start; a sign-in learns it from the passkey.
        var r = Record(userID: ceremony.isRegistration ? "user-1" : nil, createdAt: created, expiresAt: created + lifetime, payload: ceremony)
        switch state {
        case .challenged: break
        case .expired: r.expiresAt = now
        case .used, .usedExpired: r.phase = .completed; r.userID = "user-1"; r.updatedAt = created + 10
        case .failed, .failedExpired: r.phase = .denied; r.failures = oldMaximumFailures; r.updatedAt = created + 10
        }
        if state == .usedExpired || state == .failedExpired { r.expiresAt = now - 1 }
        return r
    }

    static var all: [(PasskeyCeremony.Purpose, S)] { purposes.flatMap { p in S.allCases.map { (p, $0) } } }

    @Test func isRegistration() {
        #expect(!PasskeyCeremony(purpose: Self.purposes[0]).isRegistration)
        #expect(Self.purposes.dropFirst().allSatisfy { PasskeyCeremony(purpose: $0).isRegistration })
    }

    // MARK: usable

    @Test func usableInEveryState() {
        for (purpose, state) in Self.all where state != .usedExpired && state != .failedExpired {
            let expected: FlowRefusal? =
                switch state {
                case .challenged: nil
                case .expired: .expired
                default: .used
                }
            #expect(Machine(Self.record(purpose, state)).usable(now: Self.now) == expected, "\(purpose) \(state)")
        }
    }

    /// PasskeyService.usable (25dd03e) checked the deadline before the state: a used or failed
    /// ceremony past its deadline was "expired; start again", not "already used".
    @Test func usedOrFailedAndPastTheDeadlineIsExpired() {
        for purpose in Self.purposes {
            for state in [S.usedExpired, .failedExpired] {
                let refusal = Machine(Self.record(purpose, state)).usable(now: Self.now)
                #expect(refusal == .expired, "\(purpose) \(state)")
            }
        }
    }

    @Test func usableAtTheDeadlineEdges() {
        var before = Self.record(Self.purposes[0], .challenged)
        before.expiresAt = Self.now + 1
        #expect(Machine(before).usable(now: Self.now) == nil)
        #expect(Machine(before).usable(now: Self.now + 1) == .expired)
    }

    // MARK: verified

    @Test func verifiedInEveryState() {
        for (purpose, state) in Self.all {
            for user in ["user-2", nil] as [String?] {
                let before = Self.record(purpose, state)
                var machine = Machine(before)
                let action = machine.verified(user: user, now: Self.now)
                var expected = before
                let expectedAction: Machine.VerifiedAction
                switch state {
                case .challenged:
                    expectedAction = .finish(purpose)
                    expected.phase = .completed
                    if let user { expected.userID = user }
                    expected.updatedAt = Self.now
                case .expired: expectedAction = .refuse(.expired)
                case .used, .failed: expectedAction = .refuse(.used)
                // The old order says `expired` here (see usedOrFailedAndPastTheDeadlineIsExpired);
                // either way nothing is finished.
                case .usedExpired, .failedExpired: expectedAction = machine.usable(now: Self.now).map { .refuse($0) } ?? .finish(purpose)
                }
                #expect(action == expectedAction, "\(purpose) \(state) \(user ?? "-")")
                #expect(machine.record == expected, "\(purpose) \(state) \(user ?? "-")")
            }
        }
    }

    @Test func aChallengeIsUsedOnce() {
        var machine = Machine(Self.record(Self.purposes[0], .challenged))
        #expect(machine.verified(user: "user-1", now: Self.now) == .finish(Self.purposes[0]))
        let used = machine.record
        #expect(machine.verified(user: "user-1", now: Self.now + 1) == .refuse(.used))
        #expect(machine.record == used)
    }

    // MARK: failed

    /// PasskeyService.recordFailure (25dd03e) with its maximum of 5, which the service passes in.
    @Test func failedInEveryState() {
        for (purpose, state) in Self.all {
            for failuresBefore in 0..<Self.oldMaximumFailures {
                var before = Self.record(purpose, state)
                before.failures = failuresBefore
                var machine = Machine(before)
                let ended = machine.failed(now: Self.now, maximum: Self.oldMaximumFailures)
                var expected = before
                expected.failures += 1
                expected.updatedAt = Self.now
                // A pending ceremony (expired or not) ends at the fifth failure.
                let ends = (state == .challenged || state == .expired) && failuresBefore + 1 >= Self.oldMaximumFailures
                if ends { expected.phase = .denied }
                #expect(ended == ends, "\(purpose) \(state) \(failuresBefore)")
                #expect(machine.record == expected, "\(purpose) \(state) \(failuresBefore)")
            }
        }
    }

    /// The third and fourth failed responses leave the ceremony usable; the fifth ends it.
    @Test func aCeremonyEndsAtTheFifthFailure() {
        for purpose in Self.purposes {
            var machine = Machine(Self.record(purpose, .challenged))
            var endedAt: Int?
            for attempt in 1...Self.oldMaximumFailures + 1 where endedAt == nil {
                if machine.failed(now: Self.now + TimeInterval(attempt), maximum: Self.oldMaximumFailures) { endedAt = attempt }
                if endedAt == nil { #expect(machine.usable(now: Self.now + TimeInterval(attempt)) == nil, "\(purpose) \(attempt)") }
            }
            #expect(endedAt == Self.oldMaximumFailures, "\(purpose)")
            #expect(machine.record.phase == .denied)
            #expect(machine.record.failures == Self.oldMaximumFailures)
            #expect(machine.usable(now: Self.now + 10) == .used)
            let after = machine.record
            #expect(machine.verified(user: "user-1", now: Self.now + 10) == .refuse(.used))
            #expect(machine.record == after)
        }
    }

    /// PasskeyService.recordFailure (25dd03e) set `denied` at the maximum whatever the state; the
    /// machine only ends a pending ceremony. Either way a used ceremony stays unusable; the
    /// machine keeps it `completed` (reported as a difference).
    @Test func aLateFailureLeavesAUsedCeremonyCompleted() {
        var before = Self.record(Self.purposes[0], .used)
        before.failures = Self.oldMaximumFailures - 1
        var machine = Machine(before)
        #expect(machine.failed(now: Self.now, maximum: Self.oldMaximumFailures) == false)
        #expect(machine.record.phase == .completed)
        #expect(machine.usable(now: Self.now) == .used)
    }
}
