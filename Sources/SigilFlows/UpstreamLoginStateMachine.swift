import Foundation

/// Who an upstream identity provider said signed in, as the flow keeps it between the ACS and
/// the browser's same-site step (read from signed content only, by the service's validator).
public struct UpstreamIdentity: Codable, Sendable, Equatable {
    /// The NameID: with the connection, the key of the link to a Sigil user.
    public var subject: String
    public var subjectFormat: String?
    public var email: String?
    public var givenName: String?
    public var familyName: String?
    public var idpEntityID: String
    public var sessionIndex: String?
    public var authnInstant: Date?
    public var authnContextClassRef: String?
    public var assertionID: String
    /// OIDC: the provider's `amr` values.
    public var upstreamAMR: [String] = []
    /// OIDC: the ID token the provider issued, sealed under the master key: the `id_token_hint`
    /// of Sigil's sign-out at the provider (RP-Initiated Logout).
    public var sealedIDToken: String?

    public init(
        subject: String, subjectFormat: String?, email: String?, givenName: String?, familyName: String?, idpEntityID: String,
        sessionIndex: String?, authnInstant: Date?, authnContextClassRef: String?, assertionID: String, upstreamAMR: [String] = []
    ) {
        self.upstreamAMR = upstreamAMR
        self.subject = subject; self.subjectFormat = subjectFormat; self.email = email; self.givenName = givenName
        self.familyName = familyName; self.idpEntityID = idpEntityID; self.sessionIndex = sessionIndex
        self.authnInstant = authnInstant; self.authnContextClassRef = authnContextClassRef; self.assertionID = assertionID
    }
}

/// A sign-in sent to an upstream identity provider (a SAML AuthnRequest, or an OpenID Connect
/// authorization request): for which browser, and where to go afterwards.
public struct UpstreamLogin: Codable, Sendable, Equatable {
    public var connectionID: String
    /// SAML: the AuthnRequest's ID, which the assertion must answer (InResponseTo). OIDC: the
    /// hash of the `state` sent.
    public var requestID: String
    public var returnTo: String
    /// `tokenHash` of the browser's binding cookie when the sign-in started.
    public var browserHash: String
    /// Set when the ACS accepted the identity provider's Response.
    public var asserted: UpstreamIdentity?
    /// `tokenHash` of the one-time key of the same-site continue step.
    public var continueKeyHash: String?
    /// The connection's policy asks for the user's Sigil passkey after the upstream sign-in.
    public var stepUpRequired: Bool = false
    /// The browser step passed and the passkey is awaited.
    public var browserConfirmed: Bool = false
    /// The passkey proves an existing account the connection may not claim by email: the link
    /// is made once it verifies.
    public var linkOnStepUp: Bool = false

    private enum CodingKeys: String, CodingKey {
        case connectionID, requestID, returnTo, browserHash, asserted, continueKeyHash, stepUpRequired, browserConfirmed, linkOnStepUp
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        connectionID = try c.decode(String.self, forKey: .connectionID)
        requestID = try c.decode(String.self, forKey: .requestID)
        returnTo = try c.decode(String.self, forKey: .returnTo)
        browserHash = try c.decode(String.self, forKey: .browserHash)
        asserted = try c.decodeIfPresent(UpstreamIdentity.self, forKey: .asserted)
        continueKeyHash = try c.decodeIfPresent(String.self, forKey: .continueKeyHash)
        stepUpRequired = try c.decodeIfPresent(Bool.self, forKey: .stepUpRequired) ?? false
        browserConfirmed = try c.decodeIfPresent(Bool.self, forKey: .browserConfirmed) ?? false
        linkOnStepUp = try c.decodeIfPresent(Bool.self, forKey: .linkOnStepUp) ?? false
    }

    public init(connectionID: String, requestID: String, returnTo: String, browserHash: String, stepUpRequired: Bool = false) {
        self.connectionID = connectionID; self.requestID = requestID; self.returnTo = returnTo; self.browserHash = browserHash
        self.stepUpRequired = stepUpRequired
    }
}

/// Upstream SAML rows: a sign-in in progress, or an assertion ID already consumed (the replay
/// cache, shared by every node; its row ID is derived from connection and assertion ID, so a
/// second insert fails).
public enum UpstreamSAMLFlow: Codable, Sendable, Equatable {
    case login(UpstreamLogin)
    case assertionSeen(connectionID: String, assertionID: String)
    /// Sigil's sign-out continuing at the upstream IdP: the LogoutRequest to send (or sent,
    /// `requestID`) for the session's upstream subject, and where the browser goes afterwards.
    case logout(UpstreamSAMLLogout)
    /// A LogoutRequest from the upstream IdP, answered once Sigil's session and its service
    /// providers are signed out (its row ID derives from the request ID: the replay check).
    case logoutAnswer(connectionID: String, requestID: String, relayState: String?)
}

public struct UpstreamSAMLLogout: Codable, Sendable, Equatable {
    public var connectionID: String
    public var subject: String
    public var subjectFormat: String?
    public var sessionIndex: String?
    /// Where Sigil's own sign-out ends (a path under the tenant or a validated absolute URL).
    public var finish: String?
    public var requestID: String?

    public init(connectionID: String, subject: String, subjectFormat: String?, sessionIndex: String?, finish: String?) {
        self.connectionID = connectionID; self.subject = subject; self.subjectFormat = subjectFormat
        self.sessionIndex = sessionIndex; self.finish = finish
    }
}

/// Logout with an upstream OpenID Provider.
public enum UpstreamOIDCLogoutFlow: Codable, Sendable, Equatable {
    /// Sigil's sign-out continuing at the provider's end_session_endpoint (RP-Initiated Logout
    /// 1.0): the row ID is the `state` that comes back to `/oidc/rp/{name}/logged-out`.
    case endSession(UpstreamOIDCEndSession)
    /// A logout token's `jti` already acted on (the replay cache; its row ID derives from
    /// connection and jti, so a second insert fails).
    case logoutTokenSeen(connectionID: String, tokenID: String)
}

public struct UpstreamOIDCEndSession: Codable, Sendable, Equatable {
    public var connectionID: String
    /// The ID token of the ended session, sealed: the `id_token_hint`.
    public var sealedIDToken: String?
    /// Where Sigil's own sign-out ends (a path under the tenant or a validated absolute URL).
    public var finish: String?
    /// Set when the browser was sent to the provider.
    public var sentAt: Date?

    public init(connectionID: String, sealedIDToken: String?, finish: String?) {
        self.connectionID = connectionID; self.sealedIDToken = sealedIDToken; self.finish = finish
    }
}

/// An OpenID Connect sign-in at an upstream provider: the shared sign-in state plus what the
/// callback needs (the nonce the ID token must carry, the PKCE verifier sealed under the master key).
public struct UpstreamOIDCLogin: Codable, Sendable, Equatable {
    public var login: UpstreamLogin
    public var nonce: String
    public var sealedVerifier: String

    public init(login: UpstreamLogin, nonce: String, sealedVerifier: String) {
        self.login = login; self.nonce = nonce; self.sealedVerifier = sealedVerifier
    }
}

/// A sign-in at an upstream identity provider (SAML or OpenID Connect), as a pure state machine.
///
///     sent ──Response accepted at the ACS (cross-site POST)──▶ asserted
///     asserted ──same-site continue step by the browser that started it──▶ signed in
///        └── another browser (login CSRF) ──▶ refused, ended
///     sent/asserted ──deadline──▶ expired
///
/// The ACS is reached by a cross-site POST that carries no SameSite cookie, so the browser
/// binding is checked at the continue step Sigil's own page submits.
public struct UpstreamLoginStateMachine: Sendable {
    public typealias Record = FlowRecord<UpstreamLogin>
    public private(set) var record: Record

    public init(_ record: Record) { self.record = record }

    /// How long the browser has, after the ACS accepted, to submit the continue step.
    public static let continueWindow: TimeInterval = 120

    /// How long the browser has to present the passkey after the browser step.
    public static let stepUpWindow: TimeInterval = 300

    private enum State: Equatable { case sent, asserted, awaitingStepUp, signedIn, ended, expired }

    private func state(at now: Date) -> State {
        switch record.phase {
        case .completed: return .signedIn
        case .denied: return .ended
        case .pending: return record.expiresAt > now ? .sent : .expired
        case .approved:
            guard record.expiresAt > now else { return .expired }
            return record.payload.browserConfirmed ? .awaitingStepUp : .asserted
        }
    }

    public enum Action: Equatable, Sendable {
        /// Render the same-site continue step.
        case continueInBrowser
        /// Provision or link the identity and start a session, then go to `returnTo`.
        case signIn(UpstreamIdentity, returnTo: String)
        /// Provision or link the identity, then ask this browser for the user's Sigil passkey.
        case stepUp(UpstreamIdentity)
        case refuse(FlowRefusal)
    }

    /// The ACS validated a Response that answers this request.
    public mutating func asserted(_ identity: UpstreamIdentity, continueKeyHash: String, now: Date) -> Action {
        switch state(at: now) {
        case .sent:
            record.phase = .approved
            record.payload.asserted = identity
            record.payload.continueKeyHash = continueKeyHash
            record.updatedAt = now
            record.expiresAt = min(record.expiresAt, now.addingTimeInterval(Self.continueWindow))
            return .continueInBrowser
        case .expired: return .refuse(.expired)
        case .asserted, .awaitingStepUp, .signedIn, .ended: return .refuse(.used)
        }
    }

    /// The continue step arrived with `keyHash` from a browser whose binding hashes to `browserHash`.
    public mutating func continued(browserHash: String, keyHash: String, now: Date) -> Action {
        switch state(at: now) {
        case .asserted:
            guard let identity = record.payload.asserted, keyHash == record.payload.continueKeyHash else { return .refuse(.unknown) }
            guard browserHash == record.payload.browserHash else {
                // The Response reached a browser that did not start this sign-in: end it.
                record.phase = .denied
                record.updatedAt = now
                return .refuse(.claimedByAnother)
            }
            record.updatedAt = now
            if record.payload.stepUpRequired {
                record.payload.browserConfirmed = true
                record.expiresAt = min(record.expiresAt.addingTimeInterval(Self.stepUpWindow), now.addingTimeInterval(Self.stepUpWindow))
                return .stepUp(identity)
            }
            record.phase = .completed
            return .signIn(identity, returnTo: record.payload.returnTo)
        case .sent: return .refuse(.notApproved)
        case .expired: return .refuse(.expired)
        case .awaitingStepUp, .signedIn, .ended: return .refuse(.used)
        }
    }

    /// Right after the browser step (in its transaction): the identity's email names an existing
    /// account this connection may not claim by email, so its owner's passkey is asked for first,
    /// and the link is made when it verifies.
    public mutating func proveAccount(user: String, now: Date) -> Action {
        guard record.phase == .completed, let identity = record.payload.asserted else { return .refuse(.used) }
        record.phase = .approved
        record.payload.browserConfirmed = true
        record.payload.linkOnStepUp = true
        record.userID = user
        record.updatedAt = now
        record.expiresAt = now.addingTimeInterval(Self.stepUpWindow)
        return .stepUp(identity)
    }

    /// The browser that passed the browser step proved `user`'s passkey (checked by the caller,
    /// as was the browser binding).
    public mutating func steppedUp(user: String, browserHash: String, now: Date) -> Action {
        switch state(at: now) {
        case .awaitingStepUp:
            guard let identity = record.payload.asserted, browserHash == record.payload.browserHash else { return .refuse(.unknown) }
            guard record.userID == user else { return .refuse(.claimedByAnother) }
            record.phase = .completed
            record.updatedAt = now
            return .signIn(identity, returnTo: record.payload.returnTo)
        case .expired: return .refuse(.expired)
        case .sent, .asserted: return .refuse(.notApproved)
        case .signedIn, .ended: return .refuse(.used)
        }
    }

    /// The signed-in user (in the transaction that provisions or links them).
    public mutating func signedIn(user: String) { record.userID = user }
}
