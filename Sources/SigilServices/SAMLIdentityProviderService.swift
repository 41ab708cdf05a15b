import Crypto
import Foundation
import SigilCore
import SigilFlows
import SigilJOSE
import SigilSAML
import SigilStore
import SigilXML
import X509
import _CryptoExtras

/// The SAML 2.0 identity provider of a tenant: SP-initiated SSO over HTTP-Redirect and HTTP-POST,
/// IdP-initiated SSO, basic single logout, and metadata. The HTTP layer hands in the decoded
/// binding message and the browser's session; this returns what to do next.
///
/// Pending requests live in `login_transactions` (kind `saml_authn_request`) under an ID derived
/// from (tenant, SP entity ID, request ID): inserting it is the request-ID replay check, on every
/// node, with no table of its own.
public struct SAMLIdentityProviderService: Sendable {
    public let context: ServiceContext
    /// How long a user may take to sign in before the pending request is dropped.
    public static let pendingLifetime: TimeInterval = 15 * 60
    public static let clockSkew: TimeInterval = 300
    /// How long after answering a request the same browser may open its continue link again
    /// and get the answer again (a double sign-in, a reload, Back): see `resume`.
    public static let repeatWindow: TimeInterval = 120

    /// Ends sessions (grants, back-channel logout) for single logout.
    public let logoutService: LogoutService

    public init(context: ServiceContext, logout: LogoutService? = nil) {
        self.context = context
        self.logoutService = logout ?? LogoutService(context: context, dispatcher: BackChannelLogoutDispatcher())
    }

    var keys: KeyService { KeyService(context: context) }

    // MARK: URLs (DESIGN.md §3)

    public static func entityID(issuer: String) -> String { issuer + "/saml/metadata" }
    public static func ssoURL(issuer: String) -> String { issuer + "/saml/sso" }
    public static func sloURL(issuer: String) -> String { issuer + "/saml/slo" }

    // MARK: results

    /// Where a SAML flow brings the browser back to Sigil. The service names the step; the HTTP
    /// layer owns the paths (`SAMLRoutes.path(_:)`).
    public enum ReturnPoint: Sendable, Equatable {
        /// After the hosted login, answer the pending AuthnRequest (its id and the link's key).
        case continueSSO(transaction: String, key: String)
        /// IdP-initiated SSO with this query, after the hosted login.
        case idpInitiated(query: String)
        /// The same-site step of a POST-binding LogoutRequest.
        case resumeLogout(state: String)
        /// Move a logout chain on past an SP that does not answer.
        case continueLogout(state: String)
    }

    /// An auto-submitting form to the service provider.
    public struct PostForm: Sendable, Equatable {
        public var action: String
        /// `SAMLResponse` (or `SAMLRequest`).
        public var field: String
        public var value: String
        public var relayState: String?
        /// Single logout: where the browser goes to skip this service provider when it does not answer.
        public var skip: ReturnPoint? = nil
    }

    public enum Outcome: Sendable {
        /// POST this to the service provider.
        case post(PostForm)
        /// Send the browser through the hosted login, then back to `returnTo`. `forceLogin`: even
        /// if signed in (ForceAuthn).
        case login(returnTo: ReturnPoint, forceLogin: Bool)
        /// Nothing can be sent to the SP: show this message.
        case error(SAMLError)
    }

    // MARK: SSO

    /// Step 1 of SP-initiated SSO: validate the request, record its ID (replay), and either answer
    /// now (signed in, or IsPassive) or send the browser to sign in.
    public func receive(
        _ message: SAMLInboundMessage, tenantID: String, issuer: String,
        session: (Session, User)?
    ) async throws -> Outcome {
        let now = context.clock.now()
        // Parsed once; the issuer is read before anything is trusted, only to find the registered SP.
        let unverified: AuthnRequest
        do { unverified = try AuthnRequest.parse(message.xml) } catch {
            return try await reject(error, tenantID: tenantID, issuer: issuer, app: nil, requestID: nil, to: nil)
        }
        var registered: (Application, SAMLServiceProvider)?
        if let claimedIssuer = unverified.issuer { registered = try await serviceProvider(tenantID: tenantID, entityID: claimedIssuer) }
        let validator = AuthnRequestValidator(ssoURLs: [Self.ssoURL(issuer: issuer)], clockSkew: Self.clockSkew)
        let result = validator.validate(message, unverified: unverified, now: now) { entityID in
            registered.flatMap { $0.1.entityID == entityID ? $0.1 : nil }
        }
        let validated: ValidatedAuthnRequest
        switch result {
        case .success(let v): validated = v
        case .failure(let rejection):
            return try await reject(
                rejection.error, tenantID: tenantID, issuer: issuer, app: registered?.0,
                requestID: rejection.request?.id, to: rejection.respondTo.map { (acsURL: $0.acsURL, relayState: message.relayState) })
        }
        let app = registered!.0
        let unchecked =
            validated.signatureUnchecked
            ? context.auditEvent(
                "saml.sso.signature_unchecked", by: .system, tenantID: tenantID, targetType: "application", targetID: app.id,
                after: ["sp_entity_id": validated.serviceProvider.entityID, "request_id": validated.request.id, "binding": "\(message.binding)"],
                reason: "the request is signed but the service provider has no certificate registered; handled as unsigned") : nil
        // Replay: the pending record's ID is derived from the request ID.
        let secret = OpaqueToken.make(prefix: "", random: context.random)
        let flow = SAMLAuthnRequestFlow(
            applicationID: app.id, spEntityID: validated.serviceProvider.entityID, requestID: validated.request.id, acsURL: validated.acsURL,
            nameIDFormat: validated.nameIDFormat.rawValue, relayState: validated.relayState.flatMap { $0.isEmpty ? nil : $0 },
            forceAuthn: validated.request.forceAuthn, signed: validated.signed)
        let pending = LoginTransaction(
            id: Self.pendingID(tenantID: tenantID, entityID: validated.serviceProvider.entityID, requestID: validated.request.id),
            tenantID: tenantID, flow: .samlAuthnRequest(flow), challenge: "-", secretHash: tokenHash(secret),
            createdAt: now, updatedAt: now, expiresAt: now.addingTimeInterval(Self.pendingLifetime))
        do {
            // The pending request and its audit event in one commit.
            try await context.store.transaction { tx in
                _ = try await tx.loginTransactions.create(pending)
                if let unchecked { try await tx.audit.append(unchecked) }
            }
        } catch let error as StoreError where error.code == .alreadyExists {
            return try await reject(
                SAMLError(.replayed, "this request was already used", detail: validated.request.id), tenantID: tenantID,
                issuer: issuer, app: app, requestID: validated.request.id, to: (validated.acsURL, validated.relayState))
        }
        var machine = SAMLAuthnRequestStateMachine(pending.record(flow))
        switch machine.received(
            session: session.map { .init(user: $0.1.id, authTime: $0.0.authTime) }, isPassive: validated.request.isPassive,
            now: now)
        {
        case .answer, .answerAgain:
            guard case (let s, let user)? = session else { break }
            // The application loaded to validate the request answers it too.
            return try await answer(pending, app: app, session: s, user: user, tenantID: tenantID, issuer: issuer, step: .complete(pending.id))
        case .refusePassive:
            let record = machine.record
            _ = try? await context.store.loginTransactions.update(tenantID: tenantID, id: pending.id) { t in
                t.apply(record, FlowState.samlAuthnRequest)
            }
            return try await reject(
                SAMLError(.unsupported, "the user is not signed in and the request is passive"), tenantID: tenantID,
                issuer: issuer, app: app, requestID: validated.request.id, to: (validated.acsURL, validated.relayState),
                status: .responder("NoPassive", "the user is not signed in"))
        case .signIn, .refuse:
            break
        }
        return .login(returnTo: .continueSSO(transaction: pending.id, key: secret), forceLogin: validated.request.forceAuthn)
    }

    /// Step 2, after the hosted login: answer the pending request with the browser's session.
    public func resume(transactionID: String, key: String, tenantID: String, issuer: String, session: (Session, User)?) async throws -> Outcome {
        let now = context.clock.now()
        let pending: LoginTransaction
        do {
            pending = try await context.store.loginTransactions.get(tenantID: tenantID, id: transactionID)
        } catch let error as StoreError where error.code == .notFound {
            return .error(SAMLError(.unsupported, "this sign-in request is unknown or expired; start again from the application"))
        }
        guard let flow = pending.samlAuthnRequest, let hash = pending.secretHash,
            constantTimeEquals(Array(hash.utf8), Array(tokenHash(key).utf8))
        else {
            await context.recordFailure("saml.sso.rejected", by: .system, tenantID: tenantID, reason: "resume key mismatch")
            return .error(SAMLError(.unsupported, "this sign-in request is unknown or expired; start again from the application"))
        }
        // The same browser arriving again (two sign-ins finishing at once, a reload, Back) gets the
        // answer again instead of an error that would replace the page posting the first one
        // (SAMLAuthnRequestStateMachine.resumed says when).
        var machine = SAMLAuthnRequestStateMachine(pending.record(flow))
        let signedIn = session.map { SAMLAuthnRequestStateMachine.SignedIn(user: $0.1.id, authTime: $0.0.authTime) }
        let continueLink = ReturnPoint.continueSSO(transaction: transactionID, key: key)
        switch machine.resumed(session: signedIn, now: now, repeatWindow: Self.repeatWindow) {
        case .answerAgain:
            guard case (let s, let user)? = session else { break }
            let repeated = context.auditEvent(
                "saml.sso.repeated", by: .user(user.id), tenantID: tenantID, targetType: "application",
                targetID: flow.applicationID, after: ["request_id": flow.requestID, "session": s.id],
                reason: "the continue link of an answered request was opened again by the same browser")
            return try await answer(pending, session: s, user: user, tenantID: tenantID, issuer: issuer, step: .repeat(repeated))
        case .answer:
            guard case (let s, let user)? = session else { break }
            return try await respond(pending, session: s, user: user, tenantID: tenantID, issuer: issuer)
        case .signIn(let force):
            return .login(returnTo: continueLink, forceLogin: force)
        case .refuse, .refusePassive:
            break
        }
        await context.recordFailure(
            "saml.sso.rejected", by: .system, tenantID: tenantID,
            reason: "replayed: resume link of an answered or expired request \(flow.requestID)")
        return .error(SAMLError(.replayed, "this sign-in request was already answered or expired; start again from the application"))
    }

    func respond(_ pending: LoginTransaction, session: Session, user: User, tenantID: String, issuer: String) async throws -> Outcome {
        try await answer(pending, session: session, user: user, tenantID: tenantID, issuer: issuer, step: .complete(pending.id))
    }

    /// What answering writes besides the Response itself, in the same transaction as the
    /// participant row and `saml.sso.responded` (docs/architecture.md: one commit per step).
    enum AnswerStep: Sendable {
        /// The first answer: move the pending request to completed (one answer per request).
        case complete(String)
        /// The same browser again (`resume`): record this event.
        case `repeat`(AuditEvent)
        /// IdP-initiated: no request.
        case unsolicited
    }

    /// The signed Response to a pending request (answered once by `respond`, or again by `resume`).
    func answer(
        _ pending: LoginTransaction, app loaded: Application? = nil, session: Session, user: User, tenantID: String, issuer: String,
        step: AnswerStep
    ) async throws -> Outcome {
        guard let flow = pending.samlAuthnRequest else { return .error(SAMLError(.unsupported, "this sign-in request is unknown")) }
        let app =
            if let loaded, loaded.id == flow.applicationID { loaded } else {
                try await context.store.applications.get(tenantID: tenantID, id: flow.applicationID)
            }
        guard case .saml(let settings) = app.settings else { return .error(SAMLError(.unknownIssuer, "the application is not a SAML SP")) }
        return try await assertion(
            app: app, settings: settings, session: session, user: user, tenantID: tenantID, issuer: issuer,
            acsURL: flow.acsURL, inResponseTo: flow.requestID,
            nameIDFormat: NameIDFormat(rawValue: flow.nameIDFormat) ?? Self.nameIDFormat(settings),
            relayState: flow.relayState, step: step)
    }

    /// IdP-initiated SSO to a registered SP's default ACS (no InResponseTo).
    public func idpInitiated(spEntityID: String, relayState: String?, tenantID: String, issuer: String, session: Session, user: User) async throws -> Outcome {
        guard case (let app, let sp)? = try await serviceProvider(tenantID: tenantID, entityID: spEntityID),
            case .saml(let settings) = app.settings, let acs = sp.defaultACS
        else {
            await context.recordFailure(
                "saml.sso.rejected", by: .user(user.id), tenantID: tenantID,
                reason: "IdP-initiated SSO to an unknown service provider")
            return .error(SAMLError(.unknownIssuer, "this application is not registered"))
        }
        return try await assertion(
            app: app, settings: settings, session: session, user: user, tenantID: tenantID, issuer: issuer,
            acsURL: acs.url, inResponseTo: nil, nameIDFormat: Self.nameIDFormat(settings), relayState: relayState,
            step: .unsolicited)
    }

    func assertion(
        app: Application, settings: SAMLServiceProviderSettings, session: Session, user: User, tenantID: String, issuer: String,
        acsURL: String, inResponseTo: String?, nameIDFormat: NameIDFormat, relayState: String?, step: AnswerStep
    ) async throws -> Outcome {
        let now = context.clock.now()
        var encryptor: XMLEncryptor?
        if settings.encryptAssertions {
            // Never fall back to a plain assertion for an SP that asked for encryption.
            do { encryptor = try Self.assertionEncryptor(certificatePEM: settings.assertionEncryptionCertificatePEM) } catch {
                await context.recordFailure(
                    "saml.sso.rejected", by: .user(user.id), tenantID: tenantID,
                    reason: "cannot encrypt to the SP's certificate: \(error.detail) sp=\(settings.entityID)")
                return .error(
                    SAMLError(.unsupported, "this application's encryption certificate cannot be used; ask its administrator to register a valid one"))
            }
        }
        let content = SAMLAssertionContent(
            issuer: Self.entityID(issuer: issuer), acsURL: acsURL, audience: settings.entityID, inResponseTo: inResponseTo,
            nameID: nameID(user: user, session: session, format: nameIDFormat, spEntityID: settings.entityID), nameIDFormat: nameIDFormat,
            sessionIndex: Self.sessionIndex(session), authnInstant: session.authTime,
            authnContextClassRef: settings.authnContextClassRef ?? Self.authnContextClass(amr: session.amr, acr: session.acr),
            attributes: Self.attributes(settings.attributeMappings, user: user, session: session),
            sessionNotOnOrAfter: session.absoluteExpiresAt)
        let choice = SAMLSigningChoice(rawValue: settings.signing.rawValue) ?? .both
        // Signed before the transaction (no row is held while RSA works); discarded if it rolls back.
        let xml = try await builder(tenantID: tenantID).response(content, now: now, signing: choice, encryptor: encryptor)
        // Who this session signed into, for single logout (NameID, format, SessionIndex as sent).
        let participant = SessionParticipant(
            tenantID: tenantID, sessionID: session.id, applicationID: app.id, protocolKind: .saml, nameID: content.nameID,
            nameIDFormat: nameIDFormat.rawValue, sessionIndex: content.sessionIndex, createdAt: now)
        let responded = context.auditEvent(
            "saml.sso.responded", by: .user(user.id), tenantID: tenantID, targetType: "application", targetID: app.id,
            after: [
                "sp_entity_id": settings.entityID, "acs_url": acsURL, "in_response_to": inResponseTo ?? "(idp-initiated)",
                "name_id_format": nameIDFormat.rawValue, "session": session.id, "encrypted": String(encryptor != nil),
            ])
        // One commit: the request's state change, the participant row and the audit events.
        do {
            try await context.store.transaction { tx in
                switch step {
                case .complete(let id):
                    _ = try await tx.loginTransactions.update(tenantID: tenantID, id: id) { t in
                        guard let flow = t.samlAuthnRequest else { throw SAMLError(.replayed, "this sign-in request was already answered") }
                        var machine = SAMLAuthnRequestStateMachine(t.record(flow))
                        guard case .answer = machine.answered(user: session.userID, now: now) else {
                            throw SAMLError(.replayed, "this sign-in request was already answered")
                        }
                        t.apply(machine.record, FlowState.samlAuthnRequest)
                    }
                case .repeat(let event):
                    try await tx.audit.append(event)
                case .unsolicited:
                    break
                }
                try await tx.sessionParticipants.record(participant)
                try await tx.audit.append(responded)
            }
        } catch let error as SAMLError {
            await context.recordFailure(
                "saml.sso.rejected", by: .user(session.userID), tenantID: tenantID,
                reason: "replayed: \(error.message) \(inResponseTo ?? "")")
            return .error(error)
        } catch let error as StoreError where error.code == .notFound {
            // The session (or the pending request) ended meanwhile: nothing was written.
            return .error(SAMLError(.unsupported, "your session or this sign-in request has ended; start again from the application"))
        }
        return .post(PostForm(action: acsURL, field: "SAMLResponse", value: Data(xml).base64EncodedString(), relayState: relayState))
    }

    /// Rejections are audited; a trusted requester gets a signed status response at its ACS.
    func reject(
        _ error: SAMLError, tenantID: String, issuer: String, app: Application?, requestID: String?,
        to destination: (acsURL: String, relayState: String?)?, status: SAMLStatus? = nil
    ) async throws -> Outcome {
        var reason = "\(error.code): \(error.message)"
        if !error.detail.isEmpty { reason += " (\(error.detail))" }
        if let app { reason += " sp=\(app.entityID ?? app.id)" }
        await context.recordFailure("saml.sso.rejected", by: .system, tenantID: tenantID, reason: reason)
        guard let destination else { return .error(error) }
        let xml = try await builder(tenantID: tenantID).statusResponse(
            issuer: Self.entityID(issuer: issuer), destination: destination.acsURL, inResponseTo: requestID,
            status: status ?? error.status, now: context.clock.now())
        return .post(
            PostForm(
                action: destination.acsURL, field: "SAMLResponse", value: Data(xml).base64EncodedString(),
                relayState: destination.relayState))
    }

    // MARK: metadata

    public func metadata(tenantID: String, issuer: String, signed: Bool) async throws -> [UInt8] {
        let records = try await keys.list(tenantID: tenantID)
        let order: [SigningKeyState: Int] = [.current: 0, .next: 1]
        let certs = try records.filter { $0.algorithm == SigningAlgorithm.rs256.rawValue && order[$0.state] != nil }
            .sorted { order[$0.state]! < order[$1.state]! }
            .compactMap { try $0.certificatePEM.map { try SigningCertificate.x5cValue(pem: $0) } }
        let meta = IdPMetadata(
            entityID: Self.entityID(issuer: issuer), ssoURL: Self.ssoURL(issuer: issuer), sloURL: Self.sloURL(issuer: issuer),
            signingCertificatesBase64: certs)
        // Derived from what the document says, so every node serves the same bytes (and ETag).
        let id = "_" + tokenHash(([issuer] + certs).joined(separator: "\n")).prefix(32)
        return try meta.document(id: id, signer: signed ? try await signer(tenantID: tenantID) : nil)
    }

    // MARK: pieces

    public func serviceProvider(tenantID: String, entityID: String) async throws -> (Application, SAMLServiceProvider)? {
        guard let app = try await context.store.applications.find(tenantID: tenantID, entityID: entityID),
            case .saml(let s) = app.settings
        else { return nil }
        return (
            app,
            SAMLServiceProvider(
                entityID: s.entityID,
                acs: s.assertionConsumerServices.map {
                    .init(url: $0.url, binding: SAMLBinding(rawValue: $0.binding), index: $0.index, isDefault: $0.isDefault)
                },
                nameIDFormat: Self.nameIDFormat(s), certificatePEM: s.certificatePEM, requireSignedRequests: s.wantAuthnRequestsSigned ?? false)
        )
    }

    /// The tenant's current RSA key: it signs XML (enveloped signatures) and HTTP-Redirect queries,
    /// and its certificate is the metadata's signing certificate.
    /// Both are kept parsed per tenant and kid by `KeyService` (one key-row read per use says
    /// which kid is current, so a rotation on any node is followed at the next response).
    func rsaSigningKey(tenantID: String) async throws -> _RSA.Signing.PrivateKey {
        try await keys.currentSAMLSigner(tenantID: tenantID).key
    }

    func signer(tenantID: String) async throws -> XMLSigner {
        try await keys.currentSAMLSigner(tenantID: tenantID).signer
    }

    func builder(tenantID: String) async throws -> SAMLResponseBuilder {
        SAMLResponseBuilder(signer: try await signer(tenantID: tenantID), random: context.random)
    }

    /// The encryptor for an SP's certificate (AES-256-GCM content, RSA-OAEP key transport), or
    /// why it cannot be used.
    static func assertionEncryptor(certificatePEM: String?) throws(XMLSecurityError) -> XMLEncryptor {
        guard let certificatePEM else { throw XMLSecurityError(.unsupportedKey, "no certificate registered") }
        let certificate: Certificate
        do { certificate = try Certificate(pemEncoded: certificatePEM) } catch {
            throw XMLSecurityError(.unsupportedKey, "the certificate is not a readable X.509 PEM certificate")
        }
        return try XMLEncryptor(recipientCertificate: certificate)
    }

    /// Why a certificate cannot receive encrypted assertions (a field error), or nil.
    public static func assertionEncryptionProblem(certificatePEM: String) -> String? {
        do { _ = try assertionEncryptor(certificatePEM: certificatePEM); return nil } catch {
            return "cannot encrypt assertions to this certificate: \(error.detail)"
        }
    }

    static func pendingID(tenantID: String, entityID: String, requestID: String) -> String {
        "samlreq_" + tokenHash("\(tenantID)\n\(entityID)\n\(requestID)").prefix(48)
    }

    /// Stable per session, opaque: SPs send it back in LogoutRequests.
    /// The registered NameID format (validated on registration; email if it ever is not one).
    static func nameIDFormat(_ settings: SAMLServiceProviderSettings) -> NameIDFormat {
        NameIDFormat(rawValue: settings.nameIDFormat) ?? .emailAddress
    }

    static func sessionIndex(_ session: Session) -> String { "_" + tokenHash("saml-session-index:" + session.id).prefix(40) }

    /// The NameID value for the format: the email; a pairwise, stable opaque ID (persistent); a
    /// per-session one (transient); the email for unspecified.
    func nameID(user: User, session: Session, format: NameIDFormat, spEntityID: String) -> String {
        switch format {
        case .persistent:
            return Base64URL.encode(context.masterKey.authenticationCode(Array("\(user.id)\n\(spEntityID)".utf8), purpose: "saml-persistent-nameid"))
        case .transient:
            return "_" + tokenHash("\(session.id)\n\(spEntityID)").prefix(40)
        default:
            return user.email
        }
    }

    /// The AuthnContextClassRef when the SP has none configured: the authenticator app (a
    /// registered phone plus biometric/PIN: `mca` + `mfa`) is MobileTwoFactorContract; a passkey
    /// has no fitting OASIS class (PasswordProtectedTransport would be false), so unspecified.
    static func authnContextClass(amr: [String], acr: String = "") -> String {
        if amr.contains("mca") && amr.contains("mfa") { return SAML.AuthnContextClass.mobileTwoFactorContract }
        // A session from an upstream SAML IdP (amr `fed`) passes the IdP's own class on
        // (docs/upstream.md), so the SP sees how the person actually signed in.
        if amr.contains("fed"), acr.hasPrefix("urn:oasis:names:tc:SAML:2.0:ac:classes:") { return acr }
        return SAML.AuthnContextClass.unspecified
    }

    /// Mapped user fields, plus a multi-valued `session.amr` (Okta's third-party claims sharing).
    static func attributes(_ mappings: [SAMLServiceProviderSettings.AttributeMapping], user: User, session: Session) -> [SAMLAttribute] {
        var out = mappings.map { m -> SAMLAttribute in
            let values: [String] =
                switch m.userField {
                case "email": [user.email]
                case "given_name": [user.givenName]
                case "family_name": [user.familyName]
                case "id": [user.id]
                case "amr": session.amr
                default: []
                }
            return SAMLAttribute(name: m.name, nameFormat: m.nameFormat, values: values.filter { !$0.isEmpty })
        }
        if !out.contains(where: { $0.name == "session.amr" }), !session.amr.isEmpty {
            out.append(SAMLAttribute(name: "session.amr", values: session.amr))
        }
        return out
    }
}

extension SAMLIdentityProviderService {
    /// Registration settings read from SP metadata: entity ID, HTTP-POST ACS endpoints, the first
    /// logout URL, the signing certificate (and whether it signs its AuthnRequests), the encryption
    /// certificate when it is another one, and the first NameID format Sigil supports. Unknown content is ignored; validation happens on create.
    public static func settings(fromMetadata xml: [UInt8]) throws -> SAMLServiceProviderSettings {
        let meta = try SPMetadata.parse(xml)
        let post = meta.assertionConsumerServices.filter { SAMLBinding(rawValue: $0.binding) == .httpPOST }
        let acs = post.enumerated().map { i, e in
            SAMLServiceProviderSettings.AssertionConsumerService(
                url: e.location, binding: e.binding, index: e.index ?? i,
                isDefault: e.isDefault)
        }
        var withDefault = acs
        if !withDefault.contains(where: \.isDefault), !withDefault.isEmpty {
            let lowest = withDefault.indices.min { withDefault[$0].index < withDefault[$1].index }!
            withDefault[lowest].isDefault = true
        }
        let format = meta.nameIDFormats.first { NameIDFormat(rawValue: $0) != nil } ?? NameIDFormat.emailAddress.rawValue
        // Logout: HTTP-POST preferred, else HTTP-Redirect (python3-saml and many others offer only
        // Redirect); other bindings (SOAP, Artifact) are not used.
        let slo =
            meta.singleLogoutServices.first { SAMLBinding(rawValue: $0.binding) == .httpPOST }.map {
                ($0.location, SAMLServiceProviderSettings.LogoutBinding.post)
            }
            ?? meta.singleLogoutServices.first { SAMLBinding(rawValue: $0.binding) == .httpRedirect }.map { ($0.location, .redirect) }
        var settings = SAMLServiceProviderSettings(
            entityID: meta.entityID, assertionConsumerServices: withDefault,
            singleLogoutURL: slo?.0,
            nameIDFormat: format, certificatePEM: meta.signingCertificatePEM,
            wantAuthnRequestsSigned: meta.authnRequestsSigned && meta.signingCertificatePEM != nil ? true : nil,
            encryptionCertificatePEM: meta.encryptionCertificatePEM.flatMap { $0 == meta.signingCertificatePEM ? nil : $0 })
        settings.singleLogoutBinding = slo?.1
        return settings
    }
}
