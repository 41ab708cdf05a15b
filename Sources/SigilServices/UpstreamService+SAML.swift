import Crypto
import Foundation
import SigilCore
import SigilFlows
import SigilOAuth
import SigilSAML
import SigilStore
import SigilWebAuthn
import SigilXML
import X509
import _CryptoExtras

/// Sign-in through an upstream SAML identity provider (SP-initiated SSO), in three steps:
/// 1. `begin`: a signed AuthnRequest for this browser (its binding-cookie hash stored with the
///    request's flow row, whose ID derives from the request ID);
/// 2. `consumeResponse` at the ACS (a cross-site POST without cookies): the Response validated by
///    `SAMLResponseValidator`, the request's row moved to "asserted" and the assertion ID put in
///    the replay cache, in one transaction;
/// 3. `continueSignIn`, the same-site step Sigil's page submits: the browser binding checked, the
///    user linked or provisioned, a session started — one transaction.
extension UpstreamService {
    /// How long a sign-in at the upstream IdP may take.
    public static let loginLifetime: TimeInterval = 600
    /// Clock skew accepted on the IdP's time conditions.
    public static let clockSkew: TimeInterval = 120
    /// The browser hash of an unsolicited response's flow (no browser to bind).
    static let anyBrowser = "*"

    /// Where the browser goes to sign in upstream.
    public enum Outbound: Sendable, Equatable {
        case redirect(String)
        case post(url: String, fields: [String: String])
    }

    /// A refusal at the ACS or the continue step: a machine reason (audited) and a message for the person.
    public struct Rejected: Error, Sendable, Equatable, CustomStringConvertible {
        public var reason: String
        public var message: String
        public var description: String { "\(reason): \(message)" }
        public init(reason: String, message: String) { self.reason = reason; self.message = message }
    }

    public struct Accepted: Sendable, Equatable {
        public var flowID: String
        public var key: String
    }

    public struct SignedIn: Sendable {
        public var user: User
        public var session: Session
        public var cookie: Secret<String>
        public var returnTo: String
    }

    static func loginID(tenantID: String, connectionID: String, requestID: String) -> String {
        "upsaml_" + tokenHash("login\n\(tenantID)\n\(connectionID)\n\(requestID)").prefix(48)
    }

    static func assertionMarkerID(tenantID: String, connectionID: String, assertionID: String) -> String {
        "upsamla_" + tokenHash("assertion\n\(tenantID)\n\(connectionID)\n\(assertionID)").prefix(48)
    }

    func spKey(_ c: UpstreamConnection) throws -> _RSA.Signing.PrivateKey {
        guard let saml = c.saml else { throw StoreError.notFound("SAML connection", c.name) }
        let der = try context.masterKey.open(saml.sealedSPKey, context: Self.sealContext(tenantID: c.tenantID, connectionID: c.id))
        return try _RSA.Signing.PrivateKey(derRepresentation: der)
    }

    /// An enabled SAML connection and its settings.
    func enabledSAMLConnection(tenantID: String, name: String) async throws -> (UpstreamConnection, UpstreamSAMLSettings)? {
        guard let c = try await enabledConnection(tenantID: tenantID, name: name), let saml = c.saml else { return nil }
        return (c, saml)
    }

    func enabledConnection(tenantID: String, name: String) async throws -> UpstreamConnection? {
        guard UpstreamConnection.isValidName(name), let c = try await context.store.upstreams.find(tenantID: tenantID, name: name), c.enabled else {
            return nil
        }
        return c
    }

    // MARK: 1. the AuthnRequest

    public func begin(tenantID: String, issuer: String, name: String, returnTo: String, browserHash: String, forceAuthn: Bool = false) async throws
        -> Outbound
    {
        guard let found = try await enabledConnection(tenantID: tenantID, name: name) else { throw StoreError.notFound("upstream connection", name) }
        if let oidc = found.oidc { return try await beginOIDC(found, oidc, issuer: issuer, returnTo: returnTo, browserHash: browserHash) }
        guard case (let c, let saml)? = try await enabledSAMLConnection(tenantID: tenantID, name: name) else {
            throw StoreError.notFound("upstream connection", name)
        }
        let now = context.clock.now()
        let requestID = "_" + hexEncoded(context.random.bytes(20))
        let sp = Self.spValues(issuer: issuer, name: c.name)
        let request = SPAuthnRequest(
            id: requestID, spEntityID: sp.entityID, destination: saml.ssoURL, acsURL: sp.acsURL, nameIDFormat: saml.nameIDFormat,
            forceAuthn: forceAuthn)
        let key = try spKey(c)
        let row = LoginTransaction(
            id: Self.loginID(tenantID: tenantID, connectionID: c.id, requestID: requestID), tenantID: tenantID,
            flow: .upstreamSAML(
                .login(
                    UpstreamLogin(
                        connectionID: c.id, requestID: requestID, returnTo: returnTo, browserHash: browserHash, stepUpRequired: c.policy.stepUp))),
            challenge: "-", createdAt: now, updatedAt: now, expiresAt: now.addingTimeInterval(Self.loginLifetime))
        _ = try await context.store.loginTransactions.create(row)
        // RelayState: the flow's ID (not a secret; the IdP echoes it). The ACS finds the flow by
        // the signed InResponseTo, never by RelayState.
        if saml.ssoBinding == "post" {
            let certificate = try Certificate(pemEncoded: saml.spCertificatePEM)
            let xml = try request.document(now: now, signer: XMLSigner(key: .rsa(key), certificate: certificate))
            return .post(url: saml.ssoURL, fields: ["SAMLRequest": Data(xml).base64EncodedString(), "RelayState": row.id])
        }
        let query = try SAMLRedirectBinding.encode(try request.document(now: now), relayState: row.id, signingKey: key)
        return .redirect(saml.ssoURL + (saml.ssoURL.contains("?") ? "&" : "?") + query)
    }

    // MARK: 2. the ACS

    /// Validates the Response posted to the connection's ACS. Every refusal is audited
    /// (`upstream.saml.rejected`, reason = the check that failed) and nothing is provisioned.
    public func consumeResponse(tenantID: String, issuer: String, name: String, form: [String: String]) async throws -> Accepted {
        let trace = TraceDraft()
        do {
            let accepted = try await consume(tenantID: tenantID, issuer: issuer, name: name, form: form, trace: trace)
            await record(trace, tenantID: tenantID, outcome: "accepted", reason: nil, flowID: accepted.flowID)
            return accepted
        } catch let rejected as Rejected {
            await context.recordFailure(
                "upstream.saml.rejected", by: .system, tenantID: tenantID, reason: "\(rejected.reason): connection \(name): \(rejected.message)")
            if trace.checks.last?.passed != false {
                trace.checks.append(.init(name: "sign-in", passed: false, detail: "\(rejected.reason): \(rejected.message)"))
            }
            await record(trace, tenantID: tenantID, outcome: "rejected", reason: rejected.reason, flowID: trace.flowID)
            throw rejected
        }
    }

    /// What the trace of one ACS call collects as it goes.
    final class TraceDraft: @unchecked Sendable {
        var connectionID: String?
        var flowID: String?
        var messages: [UpstreamTrace.Message] = []
        var checks: [UpstreamTrace.Check] = []
    }

    /// Stores a trace (best-effort: diagnostics must not turn a sign-in into an error).
    func record(_ draft: TraceDraft, tenantID: String, outcome: String, reason: String?, flowID: String?) async {
        guard let connectionID = draft.connectionID else { return }
        let now = context.clock.now()
        let trace = UpstreamTrace(
            id: "trc_" + Base64URL.encode(context.random.bytes(15)), tenantID: tenantID, connectionID: connectionID, flowID: flowID,
            outcome: outcome, reason: reason, createdAt: now, expiresAt: now.addingTimeInterval(UpstreamTrace.retention),
            data: .init(messages: draft.messages, checks: draft.checks))
        do { try await context.store.upstreams.recordTrace(trace) } catch {
            context.logger.warning("upstream trace not stored", metadata: ["error": .string("\(error)")])
        }
    }

    static func rejected(_ error: SAMLError) -> Rejected {
        Rejected(reason: error.code.description, message: error.message)
    }

    private func consume(tenantID: String, issuer: String, name: String, form: [String: String], trace: TraceDraft) async throws -> Accepted {
        guard case (let c, let saml)? = try await enabledSAMLConnection(tenantID: tenantID, name: name) else {
            throw Rejected(reason: "unknownConnection", message: "there is no such sign-in connection")
        }
        trace.connectionID = c.id
        let now = context.clock.now()
        let xml: [UInt8]
        let claimed: String?
        do {
            xml = try SAMLPOSTBinding.decode(form: form, parameter: "SAMLResponse").xml
            trace.messages.append(.init(kind: "Response", direction: "received", binding: "HTTP-POST", xml: SAMLTraceRedaction.redact(xml)))
            claimed = try SAMLResponseValidator.claimedInResponseTo(xml)
        } catch {
            trace.checks.append(.init(name: "decode", passed: false, detail: "\(error.code): \(error.message)"))
            throw Self.rejected(error)
        }

        var found: LoginTransaction?
        if let claimed {
            guard claimed.utf8.count <= 256,
                let row = try? await context.store.loginTransactions.get(
                    tenantID: tenantID, id: Self.loginID(tenantID: tenantID, connectionID: c.id, requestID: claimed)),
                row.upstreamLogin?.connectionID == c.id
            else {
                throw Rejected(reason: "unexpectedResponse", message: "the response answers no sign-in started here")
            }
            found = row
            trace.flowID = row.id
            trace.checks.append(
                .init(
                    name: "request", passed: true,
                    detail:
                        "answers AuthnRequest \(claimed) sent \(SAMLTime.format(row.createdAt)) to \(saml.ssoURL) (\(saml.ssoBinding)); the sign-in expires \(SAMLTime.format(row.expiresAt))"
                ))
        } else if !saml.allowUnsolicited {
            throw Rejected(reason: "unsolicited", message: "this connection does not accept sign-ins started at the identity provider")
        }

        var certificates: [Certificate] = []
        for pem in saml.signingCertificatesPEM { if let cert = try? Certificate(pemEncoded: pem) { certificates.append(cert) } }
        let key = try spKey(c)
        let sp = Self.spValues(issuer: issuer, name: c.name)
        let validator = SAMLResponseValidator(
            idpEntityID: saml.idpEntityID, trustedCertificates: certificates, spEntityID: sp.entityID, acsURL: sp.acsURL,
            inResponseTo: found?.upstreamLogin?.requestID, clockSkew: Self.clockSkew, allowInsecureSHA1: saml.allowInsecureSHA1,
            decryptor: XMLDecryptor(privateKey: try _RSA.Encryption.PrivateKey(derRepresentation: key.derRepresentation)))
        let assertion: UpstreamAssertion
        let log = SAMLCheckLog()
        defer { trace.checks += log.checks.map { UpstreamTrace.Check(name: $0.name, passed: $0.passed, detail: $0.detail) } }
        do { assertion = try validator.validate(xml, now: now, log: log) } catch { throw Self.rejected(error) }

        let identity = Self.identity(assertion, mapping: c.policy.attributes)
        let secret = OpaqueToken.make(prefix: "sigil_up_", random: context.random)
        let keyHash = tokenHash(secret)
        let marker = LoginTransaction(
            id: Self.assertionMarkerID(tenantID: tenantID, connectionID: c.id, assertionID: assertion.assertionID), tenantID: tenantID,
            flow: .upstreamSAML(.assertionSeen(connectionID: c.id, assertionID: assertion.assertionID)), state: .completed, challenge: "-",
            createdAt: now, updatedAt: now, expiresAt: max(assertion.usableUntil, now).addingTimeInterval(Self.clockSkew + 60))
        let context = self.context
        let flow = found
        let pems = saml.signingCertificatesPEM
        let fingerprint = pems.indices.contains(assertion.certificateIndex) ? Self.fingerprint(pems[assertion.certificateIndex]) : "?"
        do {
            return try await context.store.transaction { tx in
                // The replay cache: a second insert of the same assertion ID fails on every node.
                _ = try await tx.loginTransactions.create(marker)
                let flowID: String
                if let flow {
                    let (_, action) = try await tx.loginTransactions.update(tenantID: tenantID, id: flow.id) { t -> UpstreamLoginStateMachine.Action in
                        guard let login = t.upstreamLogin else { return .refuse(.unknown) }
                        var machine = UpstreamLoginStateMachine(t.record(login))
                        let action = machine.asserted(identity, continueKeyHash: keyHash, now: now)
                        t.applyUpstream(machine.record)
                        return action
                    }
                    if case .refuse(let refusal) = action {
                        throw Rejected(
                            reason: refusal == .expired ? "expired" : "replayed",
                            message: refusal == .expired ? "the sign-in took too long; start again" : "this sign-in was already answered")
                    }
                    flowID = flow.id
                } else {
                    // Unsolicited (the connection opted in): a flow bound to no browser.
                    var login = UpstreamLogin(
                        connectionID: c.id, requestID: assertion.responseID, returnTo: "", browserHash: Self.anyBrowser)
                    login.asserted = identity
                    login.continueKeyHash = keyHash
                    let row = LoginTransaction(
                        id: Self.loginID(tenantID: tenantID, connectionID: c.id, requestID: "unsolicited\n" + assertion.assertionID),
                        tenantID: tenantID, flow: .upstreamSAML(.login(login)), state: .approved, challenge: "-", createdAt: now,
                        updatedAt: now, expiresAt: now.addingTimeInterval(UpstreamLoginStateMachine.continueWindow))
                    flowID = try await tx.loginTransactions.create(row).id
                }
                try await tx.audit.append(
                    context.auditEvent(
                        "upstream.saml.accepted", by: .system, tenantID: tenantID, targetType: "upstream_connection", targetID: c.id,
                        after: [
                            "connection": c.name, "assertion_id": assertion.assertionID, "signed_by": assertion.signedBy,
                            "certificate": String(fingerprint.prefix(16)), "encrypted": assertion.encrypted ? "true" : "false",
                            "subject_hash": String(tokenHash(identity.subject).prefix(16)), "unsolicited": flow == nil ? "true" : "false",
                        ]))
                return Accepted(flowID: flowID, key: secret)
            }
        } catch let error as StoreError where error.code == .alreadyExists {
            throw Rejected(reason: "replayed", message: "this assertion was already used")
        }
    }

    static func identity(_ a: UpstreamAssertion, mapping: UpstreamAttributeMapping) -> UpstreamIdentity {
        func first(_ name: String) -> String? { a.attributes[name]?.first { !$0.isEmpty } }
        var email = first(mapping.email)
        if email == nil, a.nameIDFormat == NameIDFormat.emailAddress.rawValue { email = a.nameID }
        return UpstreamIdentity(
            subject: a.nameID, subjectFormat: a.nameIDFormat, email: email, givenName: first(mapping.givenName),
            familyName: first(mapping.familyName), idpEntityID: a.issuer, sessionIndex: a.sessionIndex, authnInstant: a.authnInstant,
            authnContextClassRef: a.authnContextClassRef, assertionID: a.assertionID)
    }

    // MARK: 3. the same-site continue step

    /// What the browser step leads to.
    public enum ContinueOutcome: Sendable {
        case signedIn(SignedIn)
        /// The connection asks for the user's Sigil passkey next (`stepUpOptions`, `finishStepUp`).
        case stepUp(flowID: String)
    }

    /// The browser step when the connection asks for no step-up (tests and callers that know it).
    public func continueSignIn(
        tenantID: String, name: String, flowID: String, key: String, browserHash: String, replacing previous: Session? = nil
    ) async throws -> SignedIn {
        guard
            case .signedIn(let signedIn) = try await continueBrowserStep(
                tenantID: tenantID, name: name, flowID: flowID, key: key, browserHash: browserHash, replacing: previous)
        else { throw Rejected(reason: "stepUpRequired", message: "this connection also asks for your passkey or authenticator") }
        return signedIn
    }

    /// `previous`: the browser's session, if any: the same user's is re-authenticated in place
    /// (`SessionService.start(…replacing:…)`); the caller ends another user's.
    public func continueBrowserStep(
        tenantID: String, name: String, flowID: String, key: String, browserHash: String, replacing previous: Session? = nil
    ) async throws -> ContinueOutcome {
        do {
            let outcome = try await continueStep(
                tenantID: tenantID, name: name, flowID: flowID, key: key, browserHash: browserHash, previous: previous)
            let detail: String
            switch outcome {
            case .signedIn: detail = "the browser that started the sign-in continued it; a session started"
            case .stepUp: detail = "the browser that started the sign-in continued it; the user's Sigil passkey or authenticator is asked for next"
            }
            await completeTrace(tenantID: tenantID, flowID: flowID, .init(name: "browser step", passed: true, detail: detail), reason: nil)
            return outcome
        } catch let rejected as Rejected {
            let action = flowID.hasPrefix("upoidc_") ? "upstream.oidc.rejected" : "upstream.saml.rejected"
            await context.recordFailure(action, by: .system, tenantID: tenantID, reason: "\(rejected.reason): connection \(name): \(rejected.message)")
            await completeTrace(
                tenantID: tenantID, flowID: flowID, .init(name: "browser step", passed: false, detail: "\(rejected.reason): \(rejected.message)"),
                reason: rejected.reason)
            throw rejected
        }
    }

    /// The browser step's verdict in the sign-in's trace (best-effort, like the trace itself).
    func completeTrace(tenantID: String, flowID: String, _ check: UpstreamTrace.Check, reason: String?) async {
        guard flowID.hasPrefix("upsaml_"), flowID.utf8.count <= 64 else { return }
        do { try await context.store.upstreams.completeTrace(tenantID: tenantID, flowID: flowID, check: check, reason: reason) } catch {
            context.logger.warning("upstream trace not completed", metadata: ["error": .string("\(error)")])
        }
    }

    private func continueStep(
        tenantID: String, name: String, flowID: String, key: String, browserHash: String, previous: Session?
    ) async throws -> ContinueOutcome {
        guard let c = try await enabledConnection(tenantID: tenantID, name: name) else {
            throw Rejected(reason: "unknownConnection", message: "there is no such sign-in connection")
        }
        guard flowID.hasPrefix(c.saml != nil ? "upsaml_" : "upoidc_"), flowID.utf8.count <= 64,
            let row = try? await context.store.loginTransactions.get(tenantID: tenantID, id: flowID), row.upstreamLogin?.connectionID == c.id
        else {
            throw Rejected(reason: "unknownFlow", message: "this sign-in is unknown or has ended; start again")
        }
        let now = context.clock.now()
        let keyHash = tokenHash(key)
        let context = self.context
        let sessions = self.sessions
        // The refusal of the browser step is committed on its own (a wrong browser ends the flow).
        let (_, action) = try await context.store.loginTransactions.update(tenantID: tenantID, id: row.id) { t -> UpstreamLoginStateMachine.Action in
            guard let login = t.upstreamLogin else { return .refuse(.unknown) }
            var machine = UpstreamLoginStateMachine(t.record(login))
            let hash = login.browserHash == Self.anyBrowser ? Self.anyBrowser : browserHash
            let action = machine.continued(browserHash: hash, keyHash: keyHash, now: now)
            // Only a refusal is written here; a sign-in is written with the session below.
            if case .refuse = action { t.applyUpstream(machine.record) }
            return action
        }
        let identity: UpstreamIdentity
        var returnTo = ""
        switch action {
        case .signIn(let i, let r): identity = i; returnTo = r
        case .stepUp(let i): identity = i
        default:
            if case .refuse(let refusal) = action {
                switch refusal {
                case .claimedByAnother:
                    throw Rejected(reason: "otherBrowser", message: "this sign-in was started in another browser; start again here")
                case .expired: throw Rejected(reason: "expired", message: "the sign-in took too long; start again")
                case .used: throw Rejected(reason: "replayed", message: "this sign-in was already used")
                default: throw Rejected(reason: "unknownFlow", message: "this sign-in is unknown or has ended; start again")
                }
            }
            throw Rejected(reason: "unknownFlow", message: "this sign-in is unknown or has ended; start again")
        }
        let destination = returnTo
        return try await context.store.transaction { tx in
            // Complete the flow under its lock (a second continue finds it completed).
            let (_, again) = try await tx.loginTransactions.update(tenantID: tenantID, id: row.id) { t -> UpstreamLoginStateMachine.Action in
                guard let login = t.upstreamLogin else { return .refuse(.unknown) }
                var machine = UpstreamLoginStateMachine(t.record(login))
                let hash = login.browserHash == Self.anyBrowser ? Self.anyBrowser : browserHash
                let action = machine.continued(browserHash: hash, keyHash: keyHash, now: now)
                t.applyUpstream(machine.record)
                return action
            }
            let user: User
            switch again {
            case .signIn:
                switch try await Self.linkOrProvision(identity, connection: c, context: context, tx: tx, now: now) {
                case .user(let found):
                    user = found
                    _ = try await tx.loginTransactions.update(tenantID: tenantID, id: row.id) { $0.userID = found.id }
                case .proveAccount(let existing):
                    // An existing account the connection may not claim by email: its passkey decides.
                    let (_, next) = try await tx.loginTransactions.update(tenantID: tenantID, id: row.id) { t -> UpstreamLoginStateMachine.Action in
                        guard let login = t.upstreamLogin else { return .refuse(.unknown) }
                        var machine = UpstreamLoginStateMachine(t.record(login))
                        let action = machine.proveAccount(user: existing.id, now: now)
                        t.applyUpstream(machine.record)
                        return action
                    }
                    guard case .stepUp = next else { throw Rejected(reason: "replayed", message: "this sign-in was already used") }
                    return .stepUp(flowID: row.id)
                }
            case .stepUp:
                // The user is known (linked or created) now; the session waits for their passkey.
                let stepUser: User
                var linkOnStepUp = false
                switch try await Self.linkOrProvision(identity, connection: c, context: context, tx: tx, now: now) {
                case .user(let found): stepUser = found
                case .proveAccount(let existing):
                    stepUser = existing
                    linkOnStepUp = true
                }
                guard try await Self.canStepUp(stepUser, tx: tx) else {
                    throw Rejected(
                        reason: "stepUpUnavailable",
                        message:
                            "this sign-in also needs your Sigil passkey or authenticator, and your account has neither yet; ask your administrator for an enrolment link"
                    )
                }
                let link = linkOnStepUp
                _ = try await tx.loginTransactions.update(tenantID: tenantID, id: row.id) { t in
                    t.userID = stepUser.id
                    if link, case .upstreamSAML(.login(var l)) = t.flow {
                        l.linkOnStepUp = true
                        t.flow = .upstreamSAML(.login(l))
                    } else if link, case .upstreamOIDC(var o) = t.flow {
                        o.login.linkOnStepUp = true
                        t.flow = .upstreamOIDC(o)
                    }
                }
                return .stepUp(flowID: row.id)
            default:
                throw Rejected(reason: "replayed", message: "this sign-in was already used")
            }
            return .signedIn(
                try await Self.startSession(
                    identity, user: user, connection: c, returnTo: destination, stepUp: nil, sessions: sessions, replacing: previous,
                    context: context, tx: tx, now: now))
        }
    }

    /// The session of an upstream sign-in, with what single logout needs, in the caller's transaction.
    /// `amr`: `fed`, plus `mfa` when the IdP says its sign-in was multi-factor (a SAML class or OIDC
    /// amr); `acr`: the IdP's own. After a step-up the passkey's methods join, and its `acr` (Sigil's
    /// `phr`/`phrh`) is the session's.
    static func startSession(
        _ identity: UpstreamIdentity, user: User, connection c: UpstreamConnection, returnTo: String, stepUp: StepUpProof?,
        sessions: SessionService, replacing previous: Session?, context: ServiceContext, tx: any StoreSession, now: Date
    ) async throws -> SignedIn {
        var amr = ["fed"]
        let ref = identity.authnContextClassRef ?? ""
        if ref.contains("MultiFactor") || ref.contains("TwoFactor") || identity.upstreamAMR.contains("mfa") { amr.append("mfa") }
        var acr = identity.authnContextClassRef ?? (c.saml != nil ? SAML.AuthnContextClass.unspecified : "urn:sigil:acr:upstream")
        if let stepUp {
            for method in stepUp.amr + ["mfa"] where !amr.contains(method) { amr.append(method) }
            acr = stepUp.acr
        }
        // Re-authenticated in place when the browser held this user's session: its upstream
        // session (for single logout) becomes this sign-in's.
        let (session, cookie) = try await sessions.start(tenantID: c.tenantID, userID: user.id, amr: amr, acr: acr, replacing: previous, in: tx)
        try await tx.upstreams.recordSession(
            UpstreamSession(
                tenantID: c.tenantID, sessionID: session.id, connectionID: c.id, subject: identity.subject,
                subjectFormat: identity.subjectFormat,
                // Indexed: an IdP session ID longer than any real one is not kept (logout then
                // names the subject without it).
                sessionIndex: identity.sessionIndex.flatMap { $0.utf8.count <= UpstreamOIDC.maxSessionIDBytes ? $0 : nil },
                sealedIDToken: identity.sealedIDToken,
                createdAt: now))
        try await tx.audit.append(
            context.auditEvent(
                "upstream.signed_in", by: .user(user.id), tenantID: c.tenantID, targetType: "user", targetID: user.id,
                after: [
                    "connection": c.name, "session": session.id, "upstream_acr": identity.authnContextClassRef ?? "",
                    "step_up": stepUp?.method ?? "no",
                ]))
        return SignedIn(user: user, session: session, cookie: cookie, returnTo: returnTo)
    }

    // MARK: step-up with the user's Sigil passkey

    func awaitingStepUp(tenantID: String, flowID: String, browserHash: String) async throws -> (UpstreamConnection, LoginTransaction) {
        guard flowID.hasPrefix("upsaml_") || flowID.hasPrefix("upoidc_"), flowID.utf8.count <= 64,
            let row = try? await context.store.loginTransactions.get(tenantID: tenantID, id: flowID), let login = row.upstreamLogin,
            let c = try? await context.store.upstreams.get(tenantID: tenantID, id: login.connectionID), c.enabled,
            row.state == .approved, login.browserConfirmed, row.expiresAt > context.clock.now(), login.browserHash == browserHash
        else {
            throw Rejected(reason: "unknownFlow", message: "this sign-in is unknown or has ended; start again")
        }
        return (c, row)
    }

    /// The passkey request for the step-up of `flowID`, from the browser that passed its browser step.
    public func stepUpOptions(tenantID: String, issuer: String, flowID: String, browserHash: String) async throws
        -> (LoginTransaction, [String: any Sendable])
    {
        _ = try await awaitingStepUp(tenantID: tenantID, flowID: flowID, browserHash: browserHash)
        return try await PasskeyService(context: context).beginAuthentication(tenantID: tenantID, issuer: issuer, returnTo: "")
    }

    /// The passkey answered: it must be the flow's user's; then the session starts.
    public func finishStepUp(
        tenantID: String, issuer: String, flowID: String, browserHash: String, transactionID: String, response: AssertionResponse,
        replacing previous: Session? = nil
    ) async throws -> SignedIn {
        try await finishingStepUp(tenantID: tenantID, flowID: flowID, detail: "the user's Sigil passkey verified") {
            let (c, row) = try await awaitingStepUp(tenantID: tenantID, flowID: flowID, browserHash: browserHash)
            let passkey = try await PasskeyService(context: context).finishAuthentication(
                tenantID: tenantID, issuer: issuer, transactionID: transactionID, response: response)
            let now = context.clock.now()
            let (context, sessions) = (self.context, self.sessions)
            return try await context.store.transaction { tx -> SignedIn in
                try await Self.steppedUp(
                    row: row, connection: c, user: passkey.user, proof: StepUpProof(amr: passkey.amr, acr: passkey.acr, method: "passkey"),
                    browserHash: browserHash, sessions: sessions, replacing: previous, context: context, tx: tx, now: now)
            }
        }
    }

    /// The Sigil user for an upstream identity: the linked one; else, on first sign-in, an existing
    /// user only when the connection is trusted for the email's domain, or a new user (JIT).
    /// Never links silently by an email the connection is not trusted for. Disabled users stay out.
    enum Account {
        case user(User)
        /// An existing account the connection may not claim by email, whose owner has a passkey:
        /// linked only once that passkey verifies.
        case proveAccount(User)
    }

    static func linkOrProvision(
        _ identity: UpstreamIdentity, connection c: UpstreamConnection, context: ServiceContext, tx: any StoreSession, now: Date
    ) async throws -> Account {
        if let link = try await tx.upstreams.link(tenantID: c.tenantID, connectionID: c.id, subject: identity.subject) {
            let user = try await tx.users.get(tenantID: c.tenantID, id: link.userID)
            guard user.status == .active else { throw Rejected(reason: "userDisabled", message: "this account is disabled") }
            try await tx.upstreams.touchLink(tenantID: c.tenantID, connectionID: c.id, subject: identity.subject, at: now)
            return .user(user)
        }
        guard let email = identity.email?.trimmingCharacters(in: .whitespaces), Validate.email(email) == nil else {
            throw Rejected(reason: "noEmail", message: "the identity provider did not send a usable email address")
        }
        let domain = String(email[email.index(after: email.lastIndex(of: "@")!)...]).lowercased()
        let user: User
        if let existing = try await tx.users.find(tenantID: c.tenantID, email: email) {
            guard existing.status == .active else { throw Rejected(reason: "userDisabled", message: "this account is disabled") }
            guard c.policy.linkDomains.contains(domain) else {
                // Never by email alone: the account's owner proves it with their passkey or
                // authenticator, or nothing.
                if try await canStepUp(existing, tx: tx) { return .proveAccount(existing) }
                throw Rejected(
                    reason: "linkNotTrusted",
                    message: "an account with this email already exists and this connection may not claim it; sign in with your passkey instead")
            }
            user = existing
            try await tx.audit.append(
                context.auditEvent(
                    "upstream.linked", by: .system, tenantID: c.tenantID, targetType: "user", targetID: user.id,
                    after: ["connection": c.name, "subject_hash": String(tokenHash(identity.subject).prefix(16)), "by": "trusted_domain"]))
        } else {
            guard c.policy.provisionUsers else {
                throw Rejected(reason: "notProvisioned", message: "there is no account for you here, and this connection does not create accounts")
            }
            func clean(_ s: String?) -> String {
                let t = (s ?? "").trimmingCharacters(in: .whitespaces)
                return Validate.name(t, field: "name") == nil ? t : ""
            }
            let new = User(
                id: context.ids.make(.user), tenantID: c.tenantID, email: email, givenName: clean(identity.givenName),
                familyName: clean(identity.familyName), status: .active, createdAt: now, updatedAt: now)
            user = try await tx.users.create(new)
            try await tx.audit.append(
                context.auditEvent(
                    "user.created", by: .system, tenantID: c.tenantID, targetType: "user", targetID: user.id,
                    after: UserService.summary(user).merging(["source": "upstream:\(c.name)"]) { a, _ in a }))
        }
        _ = try await tx.upstreams.createLink(
            UpstreamLink(tenantID: c.tenantID, connectionID: c.id, subject: identity.subject, userID: user.id, createdAt: now, lastSeenAt: now))
        return .user(user)
    }
}
