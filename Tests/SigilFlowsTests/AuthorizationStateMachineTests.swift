import Foundation
import SigilOAuth
import Testing

@testable import SigilFlows

/// The OpenID Connect authorization decisions, against OAuthService.authorize (25dd03e): the
/// essential-acr check, `needsFresh` (prompt=login/select_account, max_age), the acr that falls
/// short, prompt=none, the acr to report, and consent.
@Suite struct AuthorizationStateMachineTests {
    typealias Machine = AuthorizationStateMachine
    typealias Request = Machine.Request
    typealias SignedIn = Machine.SignedIn

    static let now = t0 + 10_000

    static func request(_ prompt: Set<Prompt> = [], maxAge: Int? = nil, acr: ACR.Requirement? = nil, consent: Bool = false) -> Request {
        Request(prompt: prompt, maxAge: maxAge, acr: acr, requiresConsent: consent)
    }

    /// A session signed in `age` seconds ago with `acr`.
    static func session(age: TimeInterval = 600, acr: String = ACR.phr) -> SignedIn {
        SignedIn(authTime: now - age, acr: acr)
    }

    static let voluntaryPHRH = ACR.Requirement(values: [ACR.phrh], essential: false)
    static let essentialPHRH = ACR.Requirement(values: [ACR.phrh], essential: true)

    struct Row: Sendable, CustomStringConvertible {
        var name: String
        var request: Request
        var session: SignedIn?
        var signedInAfterRequest = false
        var consent: Machine.ConsentAnswer? = nil
        var earlierConsentCovers = false
        var expected: Machine.Action
        var description: String { name }
    }

    /// Feeds the arrival, and the earlier-consent lookup when the machine asks for it.
    static func drive(
        _ machine: inout Machine, session: SignedIn?, signedInAfterRequest: Bool, consent: Machine.ConsentAnswer?,
        covers: Bool, now: Date
    ) -> Machine.Action {
        let action = machine.arrived(session: session, signedInAfterRequest: signedInAfterRequest, consent: consent, now: now)
        guard action == .lookUpEarlierConsent else { return action }
        return machine.earlierConsent(covers: covers)
    }

    static let rows: [Row] = [
        // Essential acr of which Sigil supports nothing: refused whatever the browser brings.
        Row(
            name: "essential unsupported acr, no session", request: request(acr: .init(values: ["urn:example:loa3"], essential: true)),
            session: nil, expected: .refuse(.essentialACRUnsupported)),
        Row(
            name: "essential unsupported acr, prompt=none and a session",
            request: request([.none], acr: .init(values: ["urn:example:loa3"], essential: true)),
            session: session(), signedInAfterRequest: true, expected: .refuse(.essentialACRUnsupported)),

        // Sessions.
        Row(name: "no session", request: request(), session: nil, expected: .signIn(fresh: false, acr: nil)),
        Row(name: "no session, prompt=none", request: request([.none]), session: nil, expected: .refuse(.loginRequired(acrShort: false))),
        Row(name: "a session", request: request(), session: session(acr: ACR.phrh), expected: .issueCode(acr: ACR.phrh, saveConsent: false)),
        Row(name: "a session, prompt=none", request: request([.none]), session: session(), expected: .issueCode(acr: ACR.phr, saveConsent: false)),
        Row(name: "prompt=login", request: request([.login]), session: session(), expected: .signIn(fresh: true, acr: nil)),
        Row(
            name: "prompt=login, signed in after the request", request: request([.login]), session: session(age: 1), signedInAfterRequest: true,
            expected: .issueCode(acr: ACR.phr, saveConsent: false)),
        Row(name: "prompt=login without a session", request: request([.login]), session: nil, expected: .signIn(fresh: false, acr: nil)),
        Row(name: "prompt=select_account", request: request([.selectAccount]), session: session(), expected: .signIn(fresh: true, acr: nil)),
        Row(
            name: "prompt=select_account, signed in after the request", request: request([.selectAccount]), session: session(),
            signedInAfterRequest: true, expected: .issueCode(acr: ACR.phr, saveConsent: false)),
        Row(name: "prompt=login none", request: request([.login, .none]), session: session(), expected: .refuse(.loginRequired(acrShort: false))),
        Row(
            name: "prompt=none login, signed in after the request", request: request([.login, .none]), session: session(),
            signedInAfterRequest: true, expected: .issueCode(acr: ACR.phr, saveConsent: false)),

        // max_age: `now - authTime > maxAge` asks for a fresh sign-in.
        Row(
            name: "max_age exactly reached", request: request(maxAge: 600), session: session(age: 600),
            expected: .issueCode(acr: ACR.phr, saveConsent: false)),
        Row(name: "max_age passed by a second", request: request(maxAge: 600), session: session(age: 601), expected: .signIn(fresh: true, acr: nil)),
        Row(
            name: "max_age passed by half a second", request: request(maxAge: 600), session: session(age: 600.5),
            expected: .signIn(fresh: true, acr: nil)),
        Row(
            name: "max_age passed, signed in after the request", request: request(maxAge: 600), session: session(age: 601),
            signedInAfterRequest: true, expected: .issueCode(acr: ACR.phr, saveConsent: false)),
        Row(
            name: "max_age passed, prompt=none", request: request([.none], maxAge: 600), session: session(age: 601),
            expected: .refuse(.loginRequired(acrShort: false))),
        Row(
            name: "max_age=0 at the very instant", request: request(maxAge: 0), session: session(age: 0),
            expected: .issueCode(acr: ACR.phr, saveConsent: false)),
        Row(name: "max_age=0 a second later", request: request(maxAge: 0), session: session(age: 1), expected: .signIn(fresh: true, acr: nil)),
        Row(name: "max_age without a session", request: request(maxAge: 600), session: nil, expected: .signIn(fresh: false, acr: nil)),

        // acr: a session that falls short signs in again once, aiming at the weakest requested value.
        Row(
            name: "voluntary acr met", request: request(acr: voluntaryPHRH), session: session(acr: ACR.phrh),
            expected: .issueCode(acr: ACR.phrh, saveConsent: false)),
        Row(
            name: "voluntary acr short", request: request(acr: voluntaryPHRH), session: session(acr: ACR.phr),
            expected: .signIn(fresh: true, acr: ACR.phrh)),
        Row(
            name: "voluntary acr short, prompt=none", request: request([.none], acr: voluntaryPHRH), session: session(acr: ACR.phr),
            expected: .refuse(.loginRequired(acrShort: true))),
        Row(
            name: "voluntary acr still short after a fresh sign-in reports the session's acr", request: request(acr: voluntaryPHRH),
            session: session(age: 1, acr: ACR.phr), signedInAfterRequest: true, expected: .issueCode(acr: ACR.phr, saveConsent: false)),
        Row(
            name: "essential acr met", request: request(acr: essentialPHRH), session: session(acr: ACR.phrh),
            expected: .issueCode(acr: ACR.phrh, saveConsent: false)),
        Row(
            name: "essential acr short", request: request(acr: essentialPHRH), session: session(acr: ACR.authenticator),
            expected: .signIn(fresh: true, acr: ACR.phrh)),
        Row(
            name: "essential acr short, prompt=none", request: request([.none], acr: essentialPHRH), session: session(acr: ACR.phr),
            expected: .refuse(.loginRequired(acrShort: true))),
        Row(
            name: "essential acr still short after a fresh sign-in", request: request(acr: essentialPHRH),
            session: session(age: 1, acr: ACR.phr), signedInAfterRequest: true, expected: .refuse(.essentialACRNotMet)),
        Row(
            name: "acr without a session", request: request(acr: .init(values: [ACR.phrh, ACR.phr], essential: true)), session: nil,
            expected: .signIn(fresh: false, acr: ACR.phr)),
        Row(
            name: "acr without a session, prompt=none", request: request([.none], acr: essentialPHRH), session: nil,
            expected: .refuse(.loginRequired(acrShort: false))),
        Row(
            name: "the strongest requested value the session meets is reported",
            request: request(acr: .init(values: [ACR.authenticator, ACR.phr, "urn:example:loa3"], essential: false)),
            session: session(acr: ACR.phrh), expected: .issueCode(acr: ACR.phr, saveConsent: false)),
        Row(
            name: "acr short and too old: one fresh sign-in aiming at the acr", request: request(maxAge: 60, acr: voluntaryPHRH),
            session: session(age: 61, acr: ACR.phr), expected: .signIn(fresh: true, acr: ACR.phrh)),

        // Consent.
        Row(name: "third party, never asked", request: request(consent: true), session: session(), expected: .askConsent),
        Row(
            name: "third party, never asked, prompt=none", request: request([.none], consent: true), session: session(),
            expected: .refuse(.consentRequired)),
        Row(
            name: "third party, covered by an earlier consent", request: request(consent: true), session: session(),
            earlierConsentCovers: true, expected: .issueCode(acr: ACR.phr, saveConsent: false)),
        Row(
            name: "third party, covered, prompt=none", request: request([.none], consent: true), session: session(),
            earlierConsentCovers: true, expected: .issueCode(acr: ACR.phr, saveConsent: false)),
        Row(
            name: "third party, allowed", request: request(consent: true), session: session(), consent: .allow,
            expected: .issueCode(acr: ACR.phr, saveConsent: true)),
        Row(name: "third party, denied", request: request(consent: true), session: session(), consent: .deny, expected: .refuse(.consentDenied)),
        Row(
            name: "third party, denied though covered", request: request(consent: true), session: session(), consent: .deny,
            earlierConsentCovers: true, expected: .refuse(.consentDenied)),
        Row(
            name: "third party, prompt=consent ignores an earlier consent", request: request([.consent], consent: true), session: session(),
            earlierConsentCovers: true, expected: .askConsent),
        Row(
            name: "third party, prompt=consent none", request: request([.consent, .none], consent: true), session: session(),
            earlierConsentCovers: true, expected: .refuse(.consentRequired)),
        Row(
            name: "third party, prompt=consent, allowed", request: request([.consent], consent: true), session: session(), consent: .allow,
            expected: .issueCode(acr: ACR.phr, saveConsent: true)),
        Row(name: "first party", request: request(), session: session(), consent: .deny, expected: .issueCode(acr: ACR.phr, saveConsent: false)),
        Row(
            name: "first party, prompt=consent", request: request([.consent]), session: session(), earlierConsentCovers: true,
            expected: .askConsent),
        Row(name: "first party, prompt=consent none", request: request([.consent, .none]), session: session(), expected: .refuse(.consentRequired)),
        Row(
            name: "first party, prompt=consent, allowed (nothing to save)", request: request([.consent]), session: session(), consent: .allow,
            expected: .issueCode(acr: ACR.phr, saveConsent: false)),
        Row(
            name: "first party, prompt=consent, denied", request: request([.consent]), session: session(), consent: .deny,
            expected: .refuse(.consentDenied)),
        Row(
            name: "consent comes after the sign-in", request: request([.login], consent: true), session: session(), consent: .allow,
            expected: .signIn(fresh: true, acr: nil)),
        Row(
            name: "consent comes after the acr", request: request(acr: essentialPHRH, consent: true), session: session(age: 1, acr: ACR.phr),
            signedInAfterRequest: true, consent: .allow, expected: .refuse(.essentialACRNotMet)),
        Row(
            name: "consent reports the acr reached", request: request(acr: .init(values: [ACR.phr], essential: true), consent: true),
            session: session(acr: ACR.phrh), consent: .allow, expected: .issueCode(acr: ACR.phr, saveConsent: true)),
    ]

    @Test(arguments: rows)
    func arrivedInTheReceivedState(_ row: Row) {
        var machine = Machine(request: row.request)
        let action = Self.drive(
            &machine, session: row.session, signedInAfterRequest: row.signedInAfterRequest, consent: row.consent,
            covers: row.earlierConsentCovers, now: Self.now)
        #expect(action == row.expected)
        #expect(machine.request == row.request)
    }

    /// Once decided, a machine keeps its decision: the browser's next arrival belongs to a new
    /// machine built from the kept request.
    @Test(arguments: rows)
    func arrivedInTheDecidedState(_ row: Row) {
        var machine = Machine(request: row.request)
        let first = Self.drive(
            &machine, session: row.session, signedInAfterRequest: row.signedInAfterRequest, consent: row.consent,
            covers: row.earlierConsentCovers, now: Self.now)
        let again = Self.drive(
            &machine, session: Self.session(age: 0, acr: ACR.phrh), signedInAfterRequest: true, consent: .deny,
            covers: true, now: Self.now + 1)
        #expect(again == first)
        let noSession = Self.drive(&machine, session: nil, signedInAfterRequest: false, consent: nil, covers: false, now: Self.now + 2)
        #expect(noSession == first)
    }

    /// The round trip of a request that needs a sign-in and consent: each arrival is a machine of
    /// its own over the same kept request.
    @Test func signInThenConsentThenCode() {
        let kept = Self.request([.login], maxAge: 300, acr: Self.voluntaryPHRH, consent: true)
        var first = Machine(request: kept)
        #expect(
            Self.drive(
                &first, session: Self.session(age: 4000, acr: ACR.phr), signedInAfterRequest: false, consent: nil,
                covers: true, now: Self.now) == .signIn(fresh: true, acr: ACR.phrh))
        var second = Machine(request: kept)
        #expect(
            Self.drive(
                &second, session: Self.session(age: 2, acr: ACR.phrh), signedInAfterRequest: true, consent: nil,
                covers: false, now: Self.now) == .askConsent)
        var third = Machine(request: kept)
        #expect(
            Self.drive(
                &third, session: Self.session(age: 20, acr: ACR.phrh), signedInAfterRequest: true, consent: .allow,
                covers: false, now: Self.now) == .issueCode(acr: ACR.phrh, saveConsent: true))
    }
}
