import Foundation
import SigilOAuth

/// The decisions of an OpenID Connect authorization request once it is validated (OIDC Core
/// §3.1.2.3–§3.1.2.4, docs/oidc.md "acr" and "Consent"), as a pure state machine. Between steps
/// the request itself waits in its pushed-request row; what changes is only what the browser
/// brings: a (fresh) session and a consent answer.
///
///     received ──(no session / too old / acr short)──▶ sign in ──▶ received again
///        ├──(third-party client)──▶ look up earlier consent ──covers──▶ code issued
///        ├──(consent needed)──▶ consent page ──allow──▶ code issued
///        │                                   └─deny──▶ refused (access_denied)
///        └──▶ code issued
///     prompt=none turns "sign in" and "consent page" into refusals.
public struct AuthorizationStateMachine: Sendable {
    /// What the validated request and the client's registration ask.
    public struct Request: Sendable, Equatable {
        public var prompt: Set<Prompt>
        public var maxAge: Int?
        public var acr: ACR.Requirement?
        /// A third-party client (consent once per new scope or claim).
        public var requiresConsent: Bool
        public init(prompt: Set<Prompt>, maxAge: Int?, acr: ACR.Requirement?, requiresConsent: Bool) {
            self.prompt = prompt; self.maxAge = maxAge; self.acr = acr; self.requiresConsent = requiresConsent
        }
    }

    /// The browser's session.
    public struct SignedIn: Sendable, Equatable {
        public var authTime: Date
        public var acr: String
        public init(authTime: Date, acr: String) { self.authTime = authTime; self.acr = acr }
    }

    public enum ConsentAnswer: Sendable, Equatable { case allow, deny }

    public enum Refusal: Sendable, Equatable {
        /// An essential acr of which no value is supported here.
        case essentialACRUnsupported
        /// prompt=none, and a sign-in is needed (`acrShort`: the session's acr falls short).
        case loginRequired(acrShort: Bool)
        /// A fresh sign-in still fell short of an essential acr.
        case essentialACRNotMet
        case consentRequired
        case consentDenied
    }

    public enum Action: Sendable, Equatable {
        /// Send the browser to sign in (`fresh`: again, though signed in), aiming at `acr`; keep the request.
        case signIn(fresh: Bool, acr: String?)
        /// Look up the consent the user gave this client earlier, then feed `earlierConsent(covers:)`.
        case lookUpEarlierConsent
        /// Show the consent page; keep the request.
        case askConsent
        /// Issue a code for this session, reporting `acr`; save the consent when `saveConsent`.
        case issueCode(acr: String, saveConsent: Bool)
        /// Answer the client with an error (and spend the request).
        case refuse(Refusal)
    }

    private enum State: Equatable {
        case received
        /// Signed in well enough; waiting for the earlier consent to be looked up.
        case checkingConsent(acr: String)
        case decided(Action)
    }

    private var state: State = .received
    public let request: Request

    public init(request: Request) { self.request = request }

    /// The browser arrives with its session (if any), whether that sign-in happened after the
    /// request was first seen, and the consent answer it posts (if any).
    public mutating func arrived(session: SignedIn?, signedInAfterRequest: Bool, consent: ConsentAnswer?, now: Date) -> Action {
        switch state {
        case .received: return decide(session: session, signedInAfterRequest: signedInAfterRequest, consent: consent, now: now)
        // Once decided, a machine keeps its decision: a later arrival is a new machine over the kept request.
        case .checkingConsent: return .lookUpEarlierConsent
        case .decided(let action): return action
        }
    }

    /// Whether a consent the user gave earlier covers this request's scopes and claims.
    public mutating func earlierConsent(covers: Bool) -> Action {
        guard case .checkingConsent(let acr) = state else { return .refuse(.consentRequired) }
        let action: Action
        if covers {
            action = .issueCode(acr: acr, saveConsent: false)
        } else if request.prompt.contains(.none) {
            action = .refuse(.consentRequired)
        } else {
            action = .askConsent
        }
        state = .decided(action)
        return action
    }

    private mutating func decided(_ action: Action) -> Action {
        state = .decided(action)
        return action
    }

    private mutating func decide(session: SignedIn?, signedInAfterRequest: Bool, consent: ConsentAnswer?, now: Date) -> Action {
        if let requirement = request.acr, requirement.essential, requirement.known.isEmpty {
            return decided(.refuse(.essentialACRUnsupported))
        }
        // Is the browser's sign-in good enough?
        var needsFresh = request.prompt.contains(.login) || request.prompt.contains(.selectAccount)
        if let maxAge = request.maxAge, let s = session, now.timeIntervalSince(s.authTime) > TimeInterval(maxAge) { needsFresh = true }
        if needsFresh, signedInAfterRequest { needsFresh = false }
        // A session whose acr falls short signs in again once, with a method that reaches it.
        var acrShort = false
        if let requirement = request.acr, let s = session, requirement.satisfied(by: s.acr) == nil, !signedInAfterRequest {
            acrShort = true
        }
        guard let signedIn = session, !needsFresh, !acrShort else {
            if request.prompt.contains(.none) { return decided(.refuse(.loginRequired(acrShort: acrShort))) }
            return decided(.signIn(fresh: session != nil, acr: request.acr?.minimum))
        }
        // The acr to report: the strongest requested value the sign-in meets. A fresh sign-in may
        // still fall short: voluntary values then report the session's own acr; essential ones end it.
        var acr = signedIn.acr
        if let requirement = request.acr {
            if let value = requirement.satisfied(by: signedIn.acr) {
                acr = value
            } else if requirement.essential {
                return decided(.refuse(.essentialACRNotMet))
            }
        }
        // Consent: third-party clients once per new scope or claim, any client with prompt=consent.
        guard request.requiresConsent || request.prompt.contains(.consent) else { return decided(.issueCode(acr: acr, saveConsent: false)) }
        switch consent {
        case .deny?: return decided(.refuse(.consentDenied))
        case .allow?: return decided(.issueCode(acr: acr, saveConsent: request.requiresConsent))
        case nil:
            if request.requiresConsent, !request.prompt.contains(.consent) {
                state = .checkingConsent(acr: acr)
                return .lookUpEarlierConsent
            }
            if request.prompt.contains(.none) { return decided(.refuse(.consentRequired)) }
            return decided(.askConsent)
        }
    }
}
