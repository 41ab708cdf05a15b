import Foundation
import Testing

@testable import SigilFlows

/// Sigil as SAML SP: a sign-in sent upstream, answered once, finished once, by its own browser.
@Suite struct UpstreamLoginStateMachineTests {
    static let identity = UpstreamIdentity(
        subject: "ada@example.org", subjectFormat: nil, email: "ada@example.org", givenName: "Ada", familyName: "Lovelace",
        idpEntityID: "https://okta.example", sessionIndex: "_s", authnInstant: t0, authnContextClassRef: nil, assertionID: "_a1")

    func machine() -> UpstreamLoginStateMachine {
        UpstreamLoginStateMachine(
            FlowRecord(
                createdAt: t0, expiresAt: t0 + 600,
                payload: UpstreamLogin(connectionID: "upc_1", requestID: "_r1", returnTo: "/account", browserHash: "bh")))
    }

    @Test func assertedThenContinuedByItsBrowser() {
        var m = machine()
        #expect(m.continued(browserHash: "bh", keyHash: "k", now: t0 + 5) == .refuse(.notApproved))
        #expect(m.asserted(Self.identity, continueKeyHash: "k", now: t0 + 30) == .continueInBrowser)
        #expect(m.record.phase == .approved && m.record.expiresAt == t0 + 30 + UpstreamLoginStateMachine.continueWindow)
        #expect(m.asserted(Self.identity, continueKeyHash: "k2", now: t0 + 31) == .refuse(.used))
        #expect(m.continued(browserHash: "bh", keyHash: "wrong", now: t0 + 32) == .refuse(.unknown))
        #expect(m.continued(browserHash: "bh", keyHash: "k", now: t0 + 33) == .signIn(Self.identity, returnTo: "/account"))
        #expect(m.record.phase == .completed)
        #expect(m.continued(browserHash: "bh", keyHash: "k", now: t0 + 34) == .refuse(.used))
    }

    @Test func anotherBrowserEndsIt() {
        var m = machine()
        _ = m.asserted(Self.identity, continueKeyHash: "k", now: t0 + 30)
        #expect(m.continued(browserHash: "victim", keyHash: "k", now: t0 + 31) == .refuse(.claimedByAnother))
        #expect(m.record.phase == .denied)
        #expect(m.continued(browserHash: "bh", keyHash: "k", now: t0 + 32) == .refuse(.used))
    }

    @Test func lateAnswersAndLateBrowsersAreRefused() {
        var m = machine()
        #expect(m.asserted(Self.identity, continueKeyHash: "k", now: t0 + 601) == .refuse(.expired))
        var n = machine()
        _ = n.asserted(Self.identity, continueKeyHash: "k", now: t0 + 30)
        #expect(n.continued(browserHash: "bh", keyHash: "k", now: t0 + 30 + UpstreamLoginStateMachine.continueWindow) == .refuse(.expired))
    }

    @Test func storedEnvelopeRoundTrips() throws {
        var login = UpstreamLogin(connectionID: "upc_1", requestID: "_r1", returnTo: "/account", browserHash: "bh")
        login.asserted = Self.identity
        login.continueKeyHash = "k"
        for state in [FlowState.upstreamSAML(.login(login)), .upstreamSAML(.assertionSeen(connectionID: "upc_1", assertionID: "_a1"))] {
            let data = try JSONEncoder().encode(state)
            #expect(try JSONDecoder().decode(FlowState.self, from: data) == state)
            #expect(state.kind == .upstreamSAML)
        }
    }
}
