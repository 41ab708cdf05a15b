import Foundation
import Testing

@testable import SigilFlows

/// SAML single logout, against SAMLIdentityProviderService+Logout (25dd03e): `propagate`,
/// `step`, `finish`, `logoutResponse`/`continueLogout`/`advance` for the chain, and
/// `resumeLogout` for the same-site step of a POST-binding LogoutRequest.
@Suite struct SAMLLogoutChainStateMachineTests {
    typealias Machine = SAMLLogoutChainStateMachine
    typealias Record = Machine.Record

    static let created = t0
    static let now = t0 + 40
    /// SAMLIdentityProviderService.sloLifetime and .sloHopTimeout.
    static let lifetime: TimeInterval = 600
    static let hopTimeout: TimeInterval = 30

    static let wiki = LogoutParticipant(
        app: "app-wiki", nameID: "alice@example.com",
        format: "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress", sessionIndex: "_a1")
    static let crm = LogoutParticipant(
        app: "app-crm", nameID: "Zk9x", format: "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent",
        sessionIndex: nil)
    static let initiator = LogoutChain.Initiator(app: "app-mail", requestID: "_lr77", relayState: "back-to-inbox")
    static let hop = LogoutChain.Hop(app: "app-wiki", requestID: "_hop1", deadline: t0 + 50)

    /// How the chain was started.
    enum Start: String, CaseIterable, Sendable {
        /// An SP's LogoutRequest: answered at the end.
        case byServiceProvider
        /// Sigil's sign-out going on to a page.
        case bySigilWithFinish
        /// Sigil's sign-out ending on the signed-out page.
        case bySigil
    }

    enum S: String, CaseIterable, Sendable {
        /// No hop in flight, participants left.
        case ready
        /// No hop in flight, nobody left.
        case readyEmpty
        /// A LogoutRequest to the wiki is in flight.
        case waiting
        /// In flight, past the hop's own deadline (the browser may skip it).
        case waitingPastHopDeadline
        /// Pending at the chain's deadline (`expiresAt == now`), with and without a hop.
        case expired, expiredWaiting
        case finished
    }

    static func record(_ start: Start, _ state: S, failed: Int = 0) -> Record {
        var chain = LogoutChain(
            sessionID: "session-1", initiator: start == .byServiceProvider ? initiator : nil,
            finish: start == .bySigilWithFinish ? "/t/acme/login" : nil, queue: [wiki, crm])
        chain.failed = failed
        var r = Record(userID: "user-1", createdAt: created, expiresAt: created + lifetime, payload: chain)
        switch state {
        case .ready: break
        case .readyEmpty: r.payload.queue = []; r.payload.confirmed = 1
        case .waiting, .waitingPastHopDeadline:
            r.payload.queue = [crm]
            r.payload.current = state == .waiting ? hop : .init(app: hop.app, requestID: hop.requestID, deadline: now - 1)
            r.updatedAt = created + 20
        case .expired: r.expiresAt = now
        case .expiredWaiting: r.payload.queue = [crm]; r.payload.current = hop; r.expiresAt = now
        case .finished: r.payload.queue = []; r.phase = .completed; r.updatedAt = created + 30
        }
        return r
    }

    static var all: [(Start, S)] { Start.allCases.flatMap { start in S.allCases.map { (start, $0) } } }

    // MARK: next

    @Test func nextInEveryState() {
        for (start, state) in Self.all {
            for failed in [0, 2] {
                let before = Self.record(start, state, failed: failed)
                var machine = Machine(before)
                let action = machine.next(now: Self.now)
                var expected = before
                let expectedAction: Machine.Action
                switch state {
                case .ready:
                    expectedAction = .send(Self.wiki)
                    expected.payload.queue = [Self.crm]
                case .readyEmpty:
                    let partial = failed > 0
                    // The old `finish`: the initiator's LogoutResponse first, then `finish`, then the page.
                    expectedAction =
                        switch start {
                        case .byServiceProvider: .finish(.respond(to: Self.initiator, partial: partial))
                        case .bySigilWithFinish: .finish(.redirect("/t/acme/login"))
                        case .bySigil: .finish(.signedOutPage(partial: partial))
                        }
                    expected.phase = .completed
                    expected.updatedAt = Self.now
                default: expectedAction = .nothing
                }
                #expect(action == expectedAction, "\(start) \(state) failed \(failed)")
                #expect(machine.record == expected, "\(start) \(state) failed \(failed)")
            }
        }
    }

    @Test func theInitiatorIsAnsweredEvenWhenAFinishIsSet() {
        var before = Self.record(.byServiceProvider, .readyEmpty)
        before.payload.finish = "/t/acme/login"
        var machine = Machine(before)
        #expect(machine.next(now: Self.now) == .finish(.respond(to: Self.initiator, partial: false)))
    }

    // MARK: unreachable

    @Test func unreachableInEveryState() {
        for (start, state) in Self.all {
            let before = Self.record(start, state, failed: 1)
            var machine = Machine(before)
            machine.unreachable(now: Self.now)
            var expected = before
            expected.payload.failed = 2
            expected.updatedAt = Self.now
            #expect(machine.record == expected, "\(start) \(state)")
        }
    }

    // MARK: sent

    @Test func sentInEveryState() {
        for (start, state) in Self.all {
            let before = Self.record(start, state)
            var machine = Machine(before)
            machine.sent(app: "app-crm", requestID: "_hop2", now: Self.now, hopTimeout: Self.hopTimeout)
            var expected = before
            expected.payload.current = .init(app: "app-crm", requestID: "_hop2", deadline: Self.now + Self.hopTimeout)
            expected.updatedAt = Self.now
            #expect(machine.record == expected, "\(start) \(state)")
        }
    }

    // MARK: hopEnded (a LogoutResponse, or the browser's "continue")

    @Test func hopEndedInEveryState() {
        for (start, state) in Self.all {
            for confirmed in [true, false] {
                for requestID in [Self.hop.requestID, "_another"] {
                    let before = Self.record(start, state, failed: 1)
                    var machine = Machine(before)
                    let closed = machine.hopEnded(requestID: requestID, confirmed: confirmed, now: Self.now)
                    var expected = before
                    // The old advance: only the hop in flight, only while the chain is pending and live;
                    // a late hop (past its own deadline) still closes.
                    let closes = (state == .waiting || state == .waitingPastHopDeadline) && requestID == Self.hop.requestID
                    if closes {
                        expected.payload.current = nil
                        if confirmed { expected.payload.confirmed += 1 } else { expected.payload.failed += 1 }
                        expected.updatedAt = Self.now
                    }
                    let label = "\(start) \(state) confirmed \(confirmed) \(requestID)"
                    #expect(closed == closes, "\(label)")
                    #expect(machine.record == expected, "\(label)")
                }
            }
        }
    }

    @Test func aDuplicateAnswerChangesNothing() {
        var machine = Machine(Self.record(.bySigil, .waiting))
        #expect(machine.hopEnded(requestID: Self.hop.requestID, confirmed: true, now: Self.now) == true)
        let closed = machine.record
        #expect(machine.hopEnded(requestID: Self.hop.requestID, confirmed: true, now: Self.now + 1) == false)
        #expect(machine.record == closed)
        #expect(closed.payload.confirmed == 1)
    }

    @Test func theChainsDeadlineEdges() {
        var before = Self.record(.bySigil, .waiting)
        before.expiresAt = Self.now + 1
        var live = Machine(before)
        #expect(live.waitingFor(now: Self.now) == Self.hop)
        #expect(live.hopEnded(requestID: Self.hop.requestID, confirmed: true, now: Self.now) == true)
        var atTheEnd = Machine(before)
        #expect(atTheEnd.waitingFor(now: Self.now + 1) == nil)
        #expect(atTheEnd.hopEnded(requestID: Self.hop.requestID, confirmed: true, now: Self.now + 1) == false)
        #expect(atTheEnd.record == before)
    }

    // MARK: waitingFor

    @Test func waitingForInEveryState() {
        for (start, state) in Self.all {
            let machine = Machine(Self.record(start, state))
            let expected: LogoutChain.Hop? =
                switch state {
                case .waiting: Self.hop
                case .waitingPastHopDeadline: .init(app: Self.hop.app, requestID: Self.hop.requestID, deadline: Self.now - 1)
                default: nil
                }
            #expect(machine.waitingFor(now: Self.now) == expected, "\(start) \(state)")
            #expect(machine.record == Self.record(start, state))
        }
    }

    // MARK: whole chains

    /// Mail's LogoutRequest: the wiki confirms, the CRM has no logout URL: PartialLogout to Mail.
    @Test func anSPInitiatedChainWithAnUnreachableParticipant() {
        var machine = Machine(Self.record(.byServiceProvider, .ready))
        #expect(machine.next(now: t0 + 1) == .send(Self.wiki))
        machine.sent(app: "app-wiki", requestID: "_w", now: t0 + 1, hopTimeout: Self.hopTimeout)
        #expect(machine.next(now: t0 + 2) == .nothing)
        #expect(machine.waitingFor(now: t0 + 2)?.deadline == t0 + 31)
        #expect(machine.hopEnded(requestID: "_w", confirmed: true, now: t0 + 3) == true)
        #expect(machine.next(now: t0 + 3) == .send(Self.crm))
        machine.unreachable(now: t0 + 3)
        #expect(machine.next(now: t0 + 3) == .finish(.respond(to: Self.initiator, partial: true)))
        #expect(machine.record.phase == .completed)
        #expect(machine.record.payload.confirmed == 1 && machine.record.payload.failed == 1)
        #expect(machine.next(now: t0 + 4) == .nothing)
    }

    /// Sigil's sign-out: the wiki never answers, the browser continues after the hop's deadline.
    @Test func aSigilSignOutWhoseHopTimesOut() {
        var machine = Machine(Self.record(.bySigilWithFinish, .ready))
        #expect(machine.next(now: t0 + 1) == .send(Self.wiki))
        machine.sent(app: "app-wiki", requestID: "_w", now: t0 + 1, hopTimeout: Self.hopTimeout)
        #expect(machine.hopEnded(requestID: "_w", confirmed: false, now: t0 + 45) == true)
        #expect(machine.next(now: t0 + 45) == .send(Self.crm))
        machine.sent(app: "app-crm", requestID: "_c", now: t0 + 45, hopTimeout: Self.hopTimeout)
        #expect(machine.hopEnded(requestID: "_c", confirmed: true, now: t0 + 47) == true)
        // A redirect to `finish` does not say "partial": the old `finish` did not either.
        #expect(machine.next(now: t0 + 47) == .finish(.redirect("/t/acme/login")))
        #expect(machine.record.payload.failed == 1)
    }
}

@Suite struct SAMLLogoutResumeStateMachineTests {
    typealias Machine = SAMLLogoutResumeStateMachine
    typealias Record = Machine.Record

    static let now = t0 + 100
    /// The POST's same-site step lives `clockSkew` (300 s).
    static let lifetime: TimeInterval = 300
    static let accepted = AcceptedLogoutRequest(
        app: "app-mail", requestID: "_lr9", nameID: "alice@example.com",
        nameIDFormat: "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
        sessionIndexes: ["_s1", "_s2"], relayState: "rs-1", binding: "post")

    enum S: String, CaseIterable, Sendable { case pending, expired, used, denied }

    static func record(_ state: S) -> Record {
        var r = Record(createdAt: t0, expiresAt: t0 + lifetime, payload: accepted)
        switch state {
        case .pending: break
        case .expired: r.expiresAt = now
        case .used: r.phase = .completed; r.updatedAt = t0 + 5
        case .denied: r.phase = .denied; r.updatedAt = t0 + 5
        }
        return r
    }

    @Test func resumedInEveryState() {
        for state in S.allCases {
            let before = Self.record(state)
            var machine = Machine(before)
            let action = machine.resumed(now: Self.now)
            var expected = before
            let expectedAction: Machine.Action
            switch state {
            case .pending:
                expectedAction = .accept(Self.accepted)
                expected.phase = .completed
                expected.updatedAt = Self.now
            // The old resumeLogout refused all of these alike ("unknown or expired").
            case .expired: expectedAction = .refuse(.expired)
            case .used, .denied: expectedAction = .refuse(.used)
            }
            #expect(action == expectedAction, "\(state)")
            #expect(machine.record == expected, "\(state)")
        }
    }

    @Test func resumedOnceAndBeforeTheDeadline() {
        var before = Self.record(.pending)
        before.expiresAt = Self.now + 1
        var machine = Machine(before)
        #expect(machine.resumed(now: Self.now) == .accept(Self.accepted))
        #expect(machine.resumed(now: Self.now) == .refuse(.used))
        var late = Machine(before)
        #expect(late.resumed(now: Self.now + 1) == .refuse(.expired))
        #expect(late.record == before)
    }
}
