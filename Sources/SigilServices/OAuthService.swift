import Foundation
import SigilCore
import SigilFlows
import SigilJOSE
import SigilOAuth
import SigilStore

/// The OpenID Connect provider's use cases: client authentication, PAR, the authorization
/// endpoint's decision, the token endpoint's grants, userinfo, introspection, revocation and
/// RP-initiated logout. Protocol checks live in `SigilOAuth`; this type adds the store, the
/// keys, the clock and the audit log.
public struct OAuthService: Sendable {
    public let context: ServiceContext
    public let policy: Policy

    public struct Policy: Sendable {
        /// Every client must use PAR (RFC 9126 §5 `require_pushed_authorization_requests`).
        public var requirePAR: Bool
        /// Authorization codes live this long (RFC 9700: short; at most 60 s here).
        public var codeLifetime: TimeInterval
        /// A pushed request must be used within this long (`expires_in`).
        public var parLifetime: TimeInterval
        /// Once a browser arrives with it and is sent to sign in, this long to finish.
        public var parSignInLifetime: TimeInterval

        public init(
            requirePAR: Bool = false, codeLifetime: TimeInterval = 60, parLifetime: TimeInterval = 60,
            parSignInLifetime: TimeInterval = 600
        ) {
            self.requirePAR = requirePAR; self.codeLifetime = min(codeLifetime, 60); self.parLifetime = parLifetime
            self.parSignInLifetime = parSignInLifetime
        }
    }

    public static let requestURIPrefix = "urn:ietf:params:oauth:request_uri:"
    public static let codePrefix = "sigil_ac_"
    public static let refreshPrefix = "sigil_rt_"

    public init(context: ServiceContext, policy: Policy = Policy()) {
        self.context = context
        self.policy = policy
    }

    var keys: KeyService { KeyService(context: context) }

    // MARK: clients

    /// A client that proved who it is (or a public client that named itself). Only `authenticate` makes one.
    public struct AuthenticatedClient: Sendable {
        public let application: Application
        public let settings: OIDCClientSettings
        public let method: ClientAuthenticationMethod
        public var clientID: String { settings.clientID }
        public var oauth: OAuthClient { OAuthService.oauthClient(settings) }
    }

    /// What a client presented at a back-channel endpoint.
    public struct ClientCredentials: Sendable {
        public var basicID: String?
        public var basicSecret: String?
        public var clientID: String?
        public var clientSecret: String?
        public var assertionType: String?
        public var assertion: String?

        public init(
            basicID: String? = nil, basicSecret: String? = nil, clientID: String? = nil, clientSecret: String? = nil,
            assertionType: String? = nil, assertion: String? = nil
        ) {
            self.basicID = basicID; self.basicSecret = basicSecret; self.clientID = clientID; self.clientSecret = clientSecret
            self.assertionType = assertionType; self.assertion = assertion
        }
    }

    public static func oauthClient(_ s: OIDCClientSettings) -> OAuthClient {
        OAuthClient(
            clientID: s.clientID, redirectURIs: s.redirectURIs, postLogoutRedirectURIs: s.postLogoutRedirectURIs,
            grantTypes: Set(s.grantTypes.compactMap(GrantType.init(rawValue:))),
            authMethod: ClientAuthenticationMethod(rawValue: s.tokenEndpointAuthMethod) ?? .clientSecretBasic, requirePKCE: s.requirePKCE,
            requirePAR: s.requirePAR,
            allowedScopes: s.allowedScopes)
    }

    public func client(tenantID: String, clientID: String) async throws -> (Application, OIDCClientSettings)? {
        guard !clientID.isEmpty, clientID.utf8.count <= 256,
            let app = try await context.store.applications.find(tenantID: tenantID, clientID: clientID),
            case .oidc(let settings) = app.settings
        else { return nil }
        return (app, settings)
    }

    /// Authenticates a client with exactly one method (RFC 6749 §2.3): HTTP Basic, secret in the
    /// body, a `private_key_jwt` assertion, or (public clients) its bare `client_id`. Secrets are
    /// compared by hash in constant time; an assertion's `jti` is accepted once.
    public func authenticate(tenantID: String, issuer: String, credentials c: ClientCredentials, endpoint: String) async throws -> AuthenticatedClient {
        func fail(_ why: String, client: String? = nil) async -> OAuthError {
            await context.recordFailure("oauth.client_authentication_failed", by: .client(client ?? "unknown"), tenantID: tenantID, reason: why)
            return OAuthError(.invalidClient, "client authentication failed", detail: why)
        }
        let presented = [c.basicID != nil, c.clientSecret != nil, c.assertion != nil].filter { $0 }.count
        guard presented <= 1 else { throw await fail("more than one client authentication method") }
        if let id = c.basicID {
            guard c.clientID == nil || c.clientID == id else { throw await fail("client_id differs from the Basic credentials") }
            guard let (app, s) = try await client(tenantID: tenantID, clientID: id) else { throw await fail("unknown client") }
            try await checkSecret(c.basicSecret, method: .clientSecretBasic, settings: s, fail: { await fail($0, client: id) })
            return AuthenticatedClient(application: app, settings: s, method: .clientSecretBasic)
        }
        if let assertion = c.assertion {
            guard c.assertionType == ClientAssertion.type else { throw await fail("unsupported client_assertion_type") }
            guard let parsed = try? JWS.parse(assertion) else { throw await fail("client_assertion is not a JWS") }
            let id = parsed.payload["sub"]?.string ?? ""
            guard c.clientID == nil || c.clientID == id else { throw await fail("client_id differs from the assertion") }
            guard let (app, s) = try await client(tenantID: tenantID, clientID: id) else { throw await fail("unknown client") }
            guard s.tokenEndpointAuthMethod == ClientAuthenticationMethod.privateKeyJWT.rawValue else {
                throw await fail("client is not registered for private_key_jwt", client: id)
            }
            if let text = s.jwks {
                guard let set = try? JSONDecoder().decode(JWKSet.self, from: Data(text.utf8)), JWS.verify(parsed, with: set) else {
                    throw await fail("assertion signature invalid", client: id)
                }
            } else if let uri = s.jwksURI {
                // Cached keys first; a failure may be a key the client has just rotated in, so
                // one refetch (rate-limited inside RemoteDocuments) before refusing.
                do {
                    var verified = JWS.verify(parsed, with: try await context.remote.keys(at: uri))
                    if !verified { verified = JWS.verify(parsed, with: try await context.remote.keys(at: uri, refresh: true)) }
                    guard verified else { throw await fail("assertion signature invalid", client: id) }
                } catch let error as RemoteFetchError {
                    context.logger.info("client jwks_uri fetch failed", metadata: ["client": .string(id), "reason": .string("\(error)")])
                    throw await fail("client jwks_uri \(error.publicDescription)", client: id)
                }
            } else {
                throw await fail("client has no registered keys", client: id)
            }
            let audiences: Set<String> = [issuer, issuer + "/oauth2/token", issuer + "/oauth2/par", issuer + endpoint]
            let checked: ClientAssertion.Checked
            do { checked = try ClientAssertion.check(parsed.payload, clientID: id, audiences: audiences, now: context.clock.now()) } catch {
                throw await fail(error.detail ?? "assertion claims invalid", client: id)
            }
            do {
                try await context.store.oauth.recordAssertionID(tenantID: tenantID, clientID: id, jti: checked.jti, expiresAt: checked.expiresAt)
            } catch let error as StoreError where error.code == .alreadyExists {
                throw await fail("assertion jti replayed", client: id)
            }
            return AuthenticatedClient(application: app, settings: s, method: .privateKeyJWT)
        }
        guard let id = c.clientID else { throw await fail("no client authentication") }
        guard let (app, s) = try await client(tenantID: tenantID, clientID: id) else { throw await fail("unknown client") }
        if let secret = c.clientSecret {
            try await checkSecret(secret, method: .clientSecretPost, settings: s, fail: { await fail($0, client: id) })
            return AuthenticatedClient(application: app, settings: s, method: .clientSecretPost)
        }
        guard s.isPublic else { throw await fail("confidential client sent no credentials", client: id) }
        return AuthenticatedClient(application: app, settings: s, method: .none)
    }

    /// The secret must be sent the way the client registered (`token_endpoint_auth_method`, OIDC
    /// Core §9, RFC 7591 §2): a `client_secret_basic` client's secret in a form body is refused, and
    /// the other way round, at every endpoint that authenticates clients.
    private func checkSecret(
        _ secret: String?, method: ClientAuthenticationMethod, settings s: OIDCClientSettings,
        fail: (String) async -> OAuthError
    ) async throws {
        guard let registered = ClientAuthenticationMethod(rawValue: s.tokenEndpointAuthMethod), registered.usesSecret,
            let expected = s.clientSecretHash
        else {
            throw await fail("client does not authenticate with a secret")
        }
        guard method == registered else {
            throw await fail("client is registered for \(registered.rawValue), not \(method.rawValue)")
        }
        guard let secret else { throw await fail("wrong client secret") }
        let presented = Array(tokenHash(secret).utf8)
        if constantTimeEquals(presented, Array(expected.utf8)) { return }
        // The secret replaced by a rotation stays valid until its grace period ends.
        if let previous = s.previousClientSecretHash, let until = s.previousClientSecretExpiresAt, context.clock.now() < until,
            constantTimeEquals(presented, Array(previous.utf8))
        {
            return
        }
        throw await fail("wrong client secret")
    }

    // MARK: PAR (RFC 9126)

    /// Stores a pushed authorization request after validating it as `/authorize` would. Returns
    /// the `request_uri` (shown once; stored only as its hash) and its lifetime.
    public func push(tenantID: String, client: AuthenticatedClient, parameters: [String: String]) async throws -> (requestURI: String, expiresIn: Int) {
        if parameters["request_uri"] != nil { throw OAuthError.invalidRequest("request_uri is not allowed in a pushed request") }
        if let id = parameters["client_id"], id != client.clientID { throw OAuthError.invalidRequest("client_id does not match the authenticated client") }
        var stored = parameters.filter { AuthorizationRequest.parameterNames.contains($0.key) }
        stored["client_id"] = client.clientID
        do {
            _ = try AuthorizationRequest.validate(stored, client: client.oauth)
        } catch {
            // PAR answers every problem directly (§2.3), with invalid_request for a bad redirect URI.
            await context.recordFailure("oauth.par_refused", by: .client(client.clientID), tenantID: tenantID, reason: error.error.description)
            throw error.error
        }
        let reference = Base64URL.encode(context.random.bytes(32))
        let now = context.clock.now()
        // Sealed at rest: a request may carry PII (Okta's `claims` name the person, `login_hint`).
        let sealed = try context.masterKey.seal(
            Array(try JSONEncoder.sorted.encode(stored)), context: Self.pushedRequestContext(tenantID: tenantID, hash: tokenHash(reference)))
        let record = PushedAuthorizationRequestRecord(
            requestURIHash: tokenHash(reference), tenantID: tenantID, clientID: client.clientID,
            parameters: [Self.sealedParameters: sealed], createdAt: now, expiresAt: now.addingTimeInterval(policy.parLifetime))
        let context = self.context
        try await context.store.transaction { tx in
            try await tx.oauth.createPushedRequest(record)
            try await tx.audit.append(
                context.auditEvent(
                    "oauth.par_created", by: .client(client.clientID), tenantID: tenantID,
                    targetType: "application", targetID: client.application.id))
        }
        return (Self.requestURIPrefix + reference, Int(policy.parLifetime))
    }

    static let sealedParameters = "sigil_sealed"

    static func pushedRequestContext(tenantID: String, hash: String) -> String { "sigil/par/\(tenantID)/\(hash)" }

    /// A pushed request's parameters (sealed since issue 13; older rows are plain).
    func openPushed(_ record: PushedAuthorizationRequestRecord) throws -> [String: String] {
        guard let sealed = record.parameters[Self.sealedParameters] else { return record.parameters }
        let bytes = try context.masterKey.open(sealed, context: Self.pushedRequestContext(tenantID: record.tenantID, hash: record.requestURIHash))
        return try JSONDecoder().decode([String: String].self, from: Data(bytes))
    }

    // MARK: /authorize

    public enum AuthorizeOutcome: Sendable {
        /// Answer the client (a code or an error) through its redirect URI.
        case respond(AuthorizationResponse.Delivery)
        /// Send the browser to sign in; `fresh` asks for a new authentication even with a session;
        /// `acr`, when set, is the weakest `acr` that would do (the login page offers only methods
        /// that reach it).
        case signIn(fresh: Bool, loginHint: String?, acr: String? = nil)
        /// Ask the signed-in user to approve the client (the consent page).
        case consent(ConsentPrompt)
        /// The client or redirect URI could not be trusted: show the error to the user.
        case errorPage(OAuthError)
        /// An identity verification client's request: start an IDV session (docs/idv.md).
        case verifyIdentity(VerificationRequest)
    }

    /// Decides an authorization request. `session` is the browser's signed-in session, if any;
    /// `freshAfter` is set when the browser comes back from a sign-in this request asked for
    /// (a session authenticated at or after it satisfies `prompt=login` and `max_age`).
    ///
    /// `consent` is the user's answer on the consent page for exactly this request (the HTTP layer
    /// checks that the answer was posted from the page it showed for this request and session).
    public func authorize(
        tenantID: String, issuer: String, parameters: [String: String], session: (Session, User)?,
        freshAfter: Date?, consent: ConsentDecision? = nil
    ) async throws -> AuthorizeOutcome {
        let now = context.clock.now()
        var parameters = parameters
        var pushed: PushedAuthorizationRequestRecord?
        if let requestURI = parameters["request_uri"] {
            guard requestURI.hasPrefix(Self.requestURIPrefix),
                let record = try await context.store.oauth.findPushedRequest(
                    requestURIHash: tokenHash(String(requestURI.dropFirst(Self.requestURIPrefix.count)))),
                record.tenantID == tenantID, record.consumedAt == nil, record.expiresAt > now
            else {
                await context.recordFailure("oauth.authorization_refused", by: .system, tenantID: tenantID, reason: "unknown, used or expired request_uri")
                return .errorPage(OAuthError(.invalidRequestURI, "The sign-in request has expired or was already used. Start again from the application."))
            }
            if let given = parameters["client_id"], given != record.clientID {
                return .errorPage(OAuthError(.invalidRequest, "client_id does not match the pushed request"))
            }
            pushed = record
            // Only the pushed parameters count (RFC 9126 §4).
            parameters = try openPushed(record)
        }
        guard let clientID = parameters["client_id"], let (app, settings) = try await client(tenantID: tenantID, clientID: clientID) else {
            await context.recordFailure("oauth.authorization_refused", by: .system, tenantID: tenantID, reason: "unknown client_id")
            return .errorPage(OAuthError(.invalidRequest, "The application that sent you here is not registered."))
        }
        let client = Self.oauthClient(settings)
        let request: ValidatedAuthorizationRequest
        do {
            request = try AuthorizationRequest.validate(parameters, client: client)
        } catch {
            await context.recordFailure("oauth.authorization_refused", by: .client(clientID), tenantID: tenantID, reason: error.error.description)
            guard let target = error.redirect else { return .errorPage(error.error) }
            return .respond(AuthorizationResponse.error(error.error, target: target, issuer: issuer))
        }
        let target = AuthorizationResponse.Target(redirectURI: request.redirectURI, mode: request.responseMode, state: request.state)
        func refuse(_ error: OAuthError) async throws -> AuthorizeOutcome {
            await self.context.recordFailure("oauth.authorization_refused", by: .client(clientID), tenantID: tenantID, reason: error.description)
            if let pushed { _ = try await self.context.store.oauth.consumePushedRequest(requestURIHash: pushed.requestURIHash, at: now) }
            return .respond(AuthorizationResponse.error(error, target: target, issuer: issuer))
        }
        if pushed == nil, policy.requirePAR || settings.requirePAR {
            return try await refuse(.invalidRequest("this client must use pushed authorization requests (PAR)"))
        }
        if settings.isIdentityVerification {
            // Okta's BYO IDV and its like: no Sigil sign-in; the person is verified instead.
            guard request.isOpenID, request.scopes.contains("identity_assurance") || Self.asksForVerifiedClaims(request.claims) else {
                return try await refuse(OAuthError(.invalidScope, "an identity verification request asks for identity_assurance or verified_claims"))
            }
            if let pushed, try await !context.store.oauth.consumePushedRequest(requestURIHash: pushed.requestURIHash, at: now) {
                return .errorPage(OAuthError(.invalidRequestURI, "The sign-in request has expired or was already used. Start again from the application."))
            }
            let encoded = String(decoding: try JSONEncoder.sorted.encode(request), as: UTF8.self)
            return .verifyIdentity(
                VerificationRequest(
                    clientID: clientID, applicationID: app.id, encodedRequest: encoded, loginHint: request.loginHint,
                    expected: Self.expectedValues(request.claims)))
        }
        // What the request asks of the sign-in's acr (docs/oidc.md "acr"), and then what to do:
        // AuthorizationStateMachine decides; this carries it out.
        let acrRequirement = ACR.requirement(acrValues: request.acrValues, claims: request.claims, defaults: settings.defaultACRValues ?? [])
        var machine = AuthorizationStateMachine(
            request: .init(
                prompt: request.prompt, maxAge: request.maxAge, acr: acrRequirement,
                requiresConsent: settings.requiresConsent))
        let signedInAfterRequest = freshAfter.flatMap { after in session.map { $0.0.authTime >= after } } ?? false
        let claimNames = ConsentRequest.claimNames(request.claims)
        var action = machine.arrived(
            session: session.map { .init(authTime: $0.0.authTime, acr: $0.0.acr) },
            signedInAfterRequest: signedInAfterRequest,
            consent: consent.map { $0 == .allow ? .allow : .deny }, now: now)
        if action == .lookUpEarlierConsent, let (_, user) = session {
            let existing = try await context.store.consents.find(tenantID: tenantID, userID: user.id, clientID: clientID)
            action = machine.earlierConsent(
                covers: existing.map {
                    ConsentRequest.covers(grantedScopes: $0.scopes, grantedClaims: $0.claims, scopes: request.scopes, claims: claimNames)
                } ?? false)
        }
        /// The request must survive a sign-in or the consent page: claim it once and move its deadline.
        func keepPushedRequest() async throws {
            if let pushed, pushed.claimedAt == nil {
                _ = try await self.context.store.oauth.claimPushedRequest(
                    requestURIHash: pushed.requestURIHash, at: now,
                    expiresAt: now.addingTimeInterval(policy.parSignInLifetime))
            }
        }
        let acr: String
        var consentToSave: ConsentGrant?
        switch action {
        case .refuse(let refusal):
            return try await refuse(Self.authorizationError(refusal, requirement: acrRequirement))
        case .signIn(let fresh, let minimum):
            try await keepPushedRequest()
            return .signIn(fresh: fresh, loginHint: request.loginHint, acr: minimum)
        case .askConsent, .lookUpEarlierConsent:
            try await keepPushedRequest()
            return .consent(
                ConsentPrompt(
                    applicationName: app.name, clientID: clientID, redirectURI: request.redirectURI,
                    lines: ConsentRequest.lines(scopes: request.scopes, claims: claimNames),
                    scopes: request.scopes, claims: claimNames))
        case .issueCode(let reported, let saveConsent):
            acr = reported
            if saveConsent, let (_, user) = session {
                let existing = try await context.store.consents.find(tenantID: tenantID, userID: user.id, clientID: clientID)
                consentToSave = ConsentGrant(
                    tenantID: tenantID, userID: user.id, clientID: clientID,
                    scopes: Array(Set(request.scopes).union(existing?.scopes ?? [])).sorted(),
                    claims: Array(Set(claimNames).union(existing?.claims ?? [])).sorted(),
                    createdAt: existing?.createdAt ?? now, updatedAt: now)
            }
        }
        guard let (signedIn, user) = session else { return .signIn(fresh: false, loginHint: request.loginHint, acr: acrRequirement?.minimum) }
        // Issue the code: one grant, one code, the PAR consumed — all or nothing.
        let code = OpaqueToken.make(prefix: Self.codePrefix, random: context.random)
        let grantID = context.ids.make(.oauthGrant)
        let authentication = TokenClaims.Authentication(
            authTime: signedIn.authTime, amr: signedIn.amr, acr: acr, sessionID: signedIn.id, verificationProcess: signedIn.verificationProcess)
        let stored = StoredCodeRequest(request: request, authentication: authentication)
        let requestJSON = String(decoding: try JSONEncoder.sorted.encode(stored), as: UTF8.self)
        let claimsJSON = try request.claims.map { String(decoding: try $0.serialized(), as: UTF8.self) }
        let lifetime = TimeInterval(max(settings.refreshTokenLifetimeSeconds, settings.accessTokenLifetimeSeconds))
        let grant = OAuthGrant(
            id: grantID, tenantID: tenantID, clientID: clientID, userID: user.id, sessionID: signedIn.id,
            scopes: request.scopes, claims: claimsJSON, createdAt: now, expiresAt: now.addingTimeInterval(lifetime))
        let record = AuthorizationCodeRecord(
            codeHash: tokenHash(code), tenantID: tenantID, clientID: clientID, grantID: grantID, userID: user.id,
            request: requestJSON, createdAt: now, expiresAt: now.addingTimeInterval(policy.codeLifetime))
        let context = self.context
        let pushedRecord = pushed
        let consentGrant = consentToSave
        let issued = try await context.store.transaction { tx -> Bool in
            if let pushed = pushedRecord, try await !tx.oauth.consumePushedRequest(requestURIHash: pushed.requestURIHash, at: now) { return false }
            if let grant = consentGrant {
                try await tx.consents.save(grant)
                try await tx.audit.append(
                    context.auditEvent(
                        "consent.granted", by: .user(user.id), tenantID: tenantID, targetType: "application",
                        targetID: app.id,
                        after: [
                            "client_id": clientID, "scope": grant.scopes.joined(separator: " "),
                            "claims": grant.claims.joined(separator: " "),
                        ]))
            }
            _ = try await tx.oauth.createGrant(grant)
            try await tx.oauth.createCode(record)
            try await tx.audit.append(
                context.auditEvent(
                    "oauth.code_issued", by: .user(user.id), tenantID: tenantID, targetType: "application",
                    targetID: app.id,
                    after: [
                        "client_id": clientID, "scope": request.scopes.joined(separator: " "),
                        "grant": grantID, "par": String(pushedRecord != nil),
                    ]))
            return true
        }
        guard issued else {
            return .errorPage(OAuthError(.invalidRequestURI, "The sign-in request has expired or was already used. Start again from the application."))
        }
        return .respond(AuthorizationResponse.success(code: code, target: target, issuer: issuer))
    }

    /// What the client is told when the authorization flow refuses.
    static func authorizationError(_ refusal: AuthorizationStateMachine.Refusal, requirement: ACR.Requirement?) -> OAuthError {
        switch refusal {
        case .essentialACRUnsupported:
            OAuthError(.accessDenied, "no sign-in method here meets the essential acr; supported: " + ACR.supported.joined(separator: " "))
        case .loginRequired(let acrShort):
            OAuthError(.loginRequired, acrShort ? "the session does not meet the requested acr" : "the user is not signed in")
        case .essentialACRNotMet:
            OAuthError(.accessDenied, "the sign-in did not meet the essential acr (" + (requirement?.known ?? []).joined(separator: " ") + ")")
        case .consentRequired: OAuthError(.consentRequired, "the user has not approved this application")
        case .consentDenied: OAuthError(.accessDenied, "the user denied the request")
        }
    }

    /// What a code remembers of its request.
    struct StoredCodeRequest: Codable {
        var request: ValidatedAuthorizationRequest
        var authentication: TokenClaims.Authentication
        /// Set for a code that answers an identity verification (no Sigil user behind it).
        var verification: VerificationGrant?
    }

    struct VerificationGrant: Codable {
        var sessionID: String
        var subjectID: String
        /// The request's `claims` (Okta's carry the person's names), sealed; the stored request has none.
        var sealedClaims: String?
    }

    /// What a refresh token carries forward.
    struct StoredRefreshData: Codable {
        var authentication: TokenClaims.Authentication
        var claims: JSONValue?
    }
}
