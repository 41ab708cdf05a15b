import Foundation
import SigilCore
import SigilFlows
import SigilSAML
import SigilStore

/// SAML Single Logout (profiles §4.4) at the IdP.
///
/// SP-initiated: the LogoutRequest is verified completely (registered issuer, required signature
/// with the SP's certificate, Destination, IssueInstant window, request-ID replay, NameID and
/// SessionIndex against what this browser session gave that SP) before anything ends. Then the
/// session ends (grants revoked, OIDC back-channel logout tokens queued) and every other SAML
/// participant with a logout URL gets a signed LogoutRequest through the browser, one after the
/// other (HTTP-POST); their signed LogoutResponses come back to `/saml/slo`. Finally the
/// initiator receives a signed LogoutResponse: Success, or Success/PartialLogout when some SP did
/// not confirm. The chain's state is a `login_transactions` row (kind `saml_logout`), so any node
/// can continue it; each hop has a deadline and a "continue" link that skips an SP that does not
/// answer. Sigil's own sign-out (IdP-initiated) runs the same chain and ends on a page of Sigil's.
extension SAMLIdentityProviderService {
    /// How long one service provider may take to answer a propagated LogoutRequest.
    public static let sloHopTimeout: TimeInterval = 30
    /// How long the whole propagation state lives.
    public static let sloLifetime: TimeInterval = 10 * 60

    public enum LogoutOutcome: Sendable {
        /// Auto-post this form (a LogoutRequest to the next SP, or the final LogoutResponse).
        case post(PostForm)
        /// HTTP-Redirect binding: send the browser to this URL of the SP (its registered logout
        /// URL with the signed message in the query). `skip`, for a hop of the chain, is where the
        /// browser moves on when the SP does not answer.
        case redirectToServiceProvider(url: String, skip: ReturnPoint?)
        /// Send the browser back to Sigil at this step.
        case returnTo(ReturnPoint)
        /// Send the browser here (Sigil's own sign-out's `finish`: a path under the tenant, or an
        /// absolute URL checked by the caller).
        case redirect(String)
        /// Show Sigil's "signed out" page.
        case signedOut(partial: Bool)
        /// Nothing can be trusted or sent: show this message (the session, if any, stays).
        case error(SAMLError)
    }

    static func sloStateID(random: any RandomSource) -> String {
        "samlslo_" + random.bytes(16).map { String(format: "%02x", $0) }.joined()
    }

    static func sloReplayID(tenantID: String, entityID: String, requestID: String) -> String {
        "samlslr_" + tokenHash("\(tenantID)\n\(entityID)\n\(requestID)").prefix(48)
    }

    // MARK: SP-initiated

    /// A message at `/saml/slo`: a LogoutRequest from an SP, or a LogoutResponse to one of ours.
    public func logout(
        _ message: SAMLInboundMessage, isResponse: Bool, tenantID: String, issuer: String,
        session: (Session, User)?
    ) async throws -> LogoutOutcome {
        if isResponse { return try await logoutResponse(message, tenantID: tenantID, issuer: issuer) }
        let now = context.clock.now()
        let claimedIssuer = (try? LogoutRequest.parse(message.xml))?.issuer
        var registered: (Application, SAMLServiceProvider)?
        if let claimedIssuer { registered = try await serviceProvider(tenantID: tenantID, entityID: claimedIssuer) }
        let validator = LogoutRequestValidator(sloURLs: [Self.sloURL(issuer: issuer)], clockSkew: Self.clockSkew)
        let result = validator.validate(message, now: now) { entityID in
            registered.flatMap { $0.1.entityID == entityID ? $0.1 : nil }
        }
        let validated: ValidatedLogoutRequest
        switch result {
        case .success(let v): validated = v
        case .failure(let rejection):
            await auditSLORejection(rejection.error, tenantID: tenantID, sp: claimedIssuer, requestID: rejection.request?.id, session: session?.0)
            return .error(rejection.error)
        }
        let (app, _) = registered!
        guard case .saml(let settings) = app.settings else { return .error(SAMLError(.unknownIssuer, "the application is not a SAML SP")) }
        let request = validated.request
        // Replay: one use per request ID and SP, on every node.
        let replay = LoginTransaction(
            id: Self.sloReplayID(tenantID: tenantID, entityID: settings.entityID, requestID: request.id),
            tenantID: tenantID, flow: .samlLogout(.replayMarker(spEntityID: settings.entityID, requestID: request.id)),
            state: .completed, challenge: "-",
            createdAt: now, updatedAt: now, expiresAt: now.addingTimeInterval(2 * Self.clockSkew + 60))
        do {
            _ = try await context.store.loginTransactions.create(replay)
        } catch let error as StoreError where error.code == .alreadyExists {
            let e = SAMLError(.replayed, "this logout request was already used", detail: request.id)
            await auditSLORejection(e, tenantID: tenantID, sp: settings.entityID, requestID: request.id, session: session?.0)
            return .error(e)
        }
        let accepted = AcceptedLogoutRequest(
            app: app.id, requestID: request.id, nameID: request.nameID ?? "", nameIDFormat: request.nameIDFormat,
            sessionIndexes: request.sessionIndexes, relayState: validated.relayState,
            binding: message.binding == .post ? "post" : "redirect")
        if session == nil, message.binding == .post {
            // A cross-site POST carries no SameSite=Lax cookie: continue on a same-site GET (a
            // top-level navigation, which does) with the verified request kept server-side.
            let pending = LoginTransaction(
                id: Self.sloStateID(random: context.random), tenantID: tenantID, flow: .samlLogout(.awaitingSameSiteStep(accepted)),
                challenge: "-",
                createdAt: now, updatedAt: now, expiresAt: now.addingTimeInterval(Self.clockSkew))
            _ = try await context.store.loginTransactions.create(pending)
            return .returnTo(.resumeLogout(state: pending.id))
        }
        return try await accept(accepted, app: app, settings: settings, tenantID: tenantID, issuer: issuer, session: session)
    }

    /// The same-site step after a POST-binding LogoutRequest: once, then as if it had arrived here.
    public func resumeLogout(stateID: String, tenantID: String, issuer: String, session: (Session, User)?) async throws -> LogoutOutcome {
        let now = context.clock.now()
        let unknown = SAMLError(.unsupported, "this sign-out request is unknown or expired; sign out again from the application")
        guard stateID.hasPrefix("samlslo_"), stateID.utf8.count < 100,
            let pending = try? await context.store.loginTransactions.get(tenantID: tenantID, id: stateID),
            case .awaitingSameSiteStep? = pending.samlLogout
        else { return .error(unknown) }
        let accepted: AcceptedLogoutRequest
        do {
            (_, accepted) = try await context.store.loginTransactions.update(tenantID: tenantID, id: stateID) { t in
                guard case .awaitingSameSiteStep(let request)? = t.samlLogout else { throw unknown }
                var machine = SAMLLogoutResumeStateMachine(t.record(request))
                guard case .accept(let accepted) = machine.resumed(now: now) else { throw unknown }
                t.apply(machine.record) { FlowState.samlLogout(.awaitingSameSiteStep($0)) }
                return accepted
            }
        } catch let error as SAMLError {
            await context.recordFailure("saml.slo.rejected", by: .system, tenantID: tenantID, reason: "resume link used twice or expired")
            return .error(error)
        }
        guard let app = try? await context.store.applications.get(tenantID: tenantID, id: accepted.app),
            case .saml(let settings) = app.settings
        else { return .error(unknown) }
        return try await accept(accepted, app: app, settings: settings, tenantID: tenantID, issuer: issuer, session: session)
    }

    /// Matches the request against the browser's session, ends it and propagates.
    func accept(
        _ accepted: AcceptedLogoutRequest, app: Application, settings: SAMLServiceProviderSettings, tenantID: String,
        issuer: String, session: (Session, User)?
    ) async throws -> LogoutOutcome {
        let now = context.clock.now()
        let request = accepted.request
        guard let (s, _) = session else {
            // Nothing to end in this browser: the principal is logged out here already.
            try await context.store.audit.append(
                context.auditEvent(
                    "saml.slo", by: .system, tenantID: tenantID, targetType: "application", targetID: app.id,
                    after: ["sp_entity_id": settings.entityID, "request_id": request.id, "session": "(none)"]))
            return try await finalResponse(
                to: settings, inResponseTo: request.id, relayState: accepted.relayState, partial: false,
                tenantID: tenantID, issuer: issuer)
        }
        // The request must name what this session gave the SP: NameID (format) and SessionIndex.
        let participants = try await context.store.sessionParticipants.list(tenantID: tenantID, sessionID: s.id)
        guard let mine = participants.first(where: { $0.applicationID == app.id && $0.protocolKind == .saml }),
            request.names(nameID: mine.nameID, format: mine.nameIDFormat, sessionIndex: mine.sessionIndex)
        else {
            let e = SAMLError(.unknownPrincipal, "the logout request names another user or session")
            await auditSLORejection(e, tenantID: tenantID, sp: settings.entityID, requestID: request.id, session: s)
            guard let slo = settings.singleLogoutURL else { return .error(e) }
            let xml = try await builder(tenantID: tenantID).logoutResponse(
                issuer: Self.entityID(issuer: issuer), destination: slo,
                inResponseTo: request.id, status: e.status, now: now)
            return .post(PostForm(action: slo, field: "SAMLResponse", value: Data(xml).base64EncodedString(), relayState: accepted.relayState))
        }
        let others = participants.filter { $0.protocolKind == .saml && $0.applicationID != app.id }
        let sloEvent = context.auditEvent(
            "saml.slo", by: .user(s.userID), tenantID: tenantID, targetType: "application", targetID: app.id,
            after: ["sp_entity_id": settings.entityID, "request_id": request.id, "session": s.id, "binding": accepted.binding])
        let chain = try await startChain(
            others, userID: s.userID, sessionID: s.id,
            initiator: .init(app: app.id, requestID: request.id, relayState: accepted.relayState),
            finish: nil, tenantID: tenantID, issuer: issuer)
        // The session's end, the request's audit event, the chain and its first hop: one commit.
        try await logoutService.endSession(
            s, issuer: issuer, reason: "SAML single logout from \(settings.entityID)",
            participants: participants
        ) { tx in
            try await tx.audit.append(sloEvent)
            try await chain.store(in: tx)
        }
        return chain.outcome
    }

    // MARK: IdP-initiated

    /// Sigil's own sign-out (`/logout`, RP-initiated `/oauth2/logout`): ends the session, then
    /// logs the session's SAML SPs out through the browser and finally sends it to `finish` (a
    /// path under the tenant or an already-validated absolute URL; nil: the signed-out page).
    public func signOut(_ session: Session, tenantID: String, issuer: String, reason: String, finish: String?) async throws -> LogoutOutcome {
        let participants = try await context.store.sessionParticipants.list(tenantID: tenantID, sessionID: session.id)
        let chain = try await startChain(
            participants.filter { $0.protocolKind == .saml }, userID: session.userID, sessionID: session.id,
            initiator: nil, finish: finish, tenantID: tenantID, issuer: issuer)
        // The session's end, the chain and its first hop: one commit.
        try await logoutService.endSession(session, issuer: issuer, reason: reason, participants: participants) { tx in
            try await chain.store(in: tx)
        }
        return chain.outcome
    }

    /// A chain planned in memory: its first step for the browser, the row to store (none when
    /// there is nobody to reach) and the step's audit events. `store(in:)` writes them in the
    /// caller's transaction.
    struct StartedChain: Sendable {
        var outcome: LogoutOutcome
        var row: LoginTransaction?
        var events: [AuditEvent]

        func store(in tx: any StoreSession) async throws {
            if let row { _ = try await tx.loginTransactions.create(row) }
            for event in events { try await tx.audit.append(event) }
        }
    }

    /// Plans the chain's state and its first step, writing nothing.
    func startChain(
        _ participants: [SessionParticipant], userID: String, sessionID: String, initiator: LogoutChain.Initiator?,
        finish: String?, tenantID: String, issuer: String
    ) async throws -> StartedChain {
        let now = context.clock.now()
        let queue = participants.map {
            LogoutParticipant(
                app: $0.applicationID, nameID: $0.nameID ?? "", format: $0.nameIDFormat,
                sessionIndex: $0.sessionIndex)
        }
        let chain = LogoutChain(sessionID: sessionID, initiator: initiator, finish: finish, queue: queue)
        var row = LoginTransaction(
            id: Self.sloStateID(random: context.random), tenantID: tenantID, flow: .samlLogout(.propagation(chain)),
            challenge: "-", userID: userID, createdAt: now, updatedAt: now,
            expiresAt: now.addingTimeInterval(Self.sloLifetime))
        let step = try await plan(SAMLLogoutChainStateMachine(row.record(chain)), stateID: row.id, userID: userID, tenantID: tenantID, issuer: issuer)
        row.apply(step.record) { FlowState.samlLogout(.propagation($0)) }
        return StartedChain(outcome: step.outcome, row: queue.isEmpty ? nil : row, events: step.events)
    }

    /// The row's logout-chain state machine, if it is one.
    static func chain(_ t: LoginTransaction) -> SAMLLogoutChainStateMachine? {
        guard case .propagation(let chain)? = t.samlLogout else { return nil }
        return SAMLLogoutChainStateMachine(t.record(chain))
    }

    /// One step of the chain, computed without writing: what the browser gets, the chain's record
    /// after it, and what to audit. The caller stores the record and the events in one commit.
    struct ChainStep: Sendable {
        var outcome: LogoutOutcome
        var record: SAMLLogoutChainStateMachine.Record
        var events: [AuditEvent]
    }

    /// Sends the next participant its LogoutRequest, or finishes (SAMLLogoutChainStateMachine).
    func plan(
        _ start: SAMLLogoutChainStateMachine, stateID: String, userID: String?, tenantID: String,
        issuer: String
    ) async throws -> ChainStep {
        var machine = start
        let now = context.clock.now()
        while true {
            switch machine.next(now: now) {
            case .nothing:
                return ChainStep(outcome: .signedOut(partial: false), record: machine.record, events: [])
            case .finish(let ending):
                return ChainStep(outcome: try await finish(ending, tenantID: tenantID, issuer: issuer), record: machine.record, events: [])
            case .send(let next):
                guard let app = try? await context.store.applications.get(tenantID: tenantID, id: next.app), case .saml(let settings) = app.settings,
                    let slo = settings.singleLogoutURL, !next.nameID.isEmpty
                else {
                    // No logout URL (or the SP is gone): it cannot be told; the logout is partial.
                    machine.unreachable(now: now)
                    continue
                }
                let redirect = settings.logoutBinding == .redirect
                let (requestID, xml) = try await builder(tenantID: tenantID).logoutRequest(
                    issuer: Self.entityID(issuer: issuer), destination: slo, nameID: next.nameID, nameIDFormat: next.format,
                    sessionIndex: next.sessionIndex, now: now, sign: !redirect)
                machine.sent(app: app.id, requestID: requestID, now: now, hopTimeout: Self.sloHopTimeout)
                let sent = context.auditEvent(
                    "saml.slo.propagated", by: userID.map(Principal.user) ?? .system, tenantID: tenantID, targetType: "application",
                    targetID: app.id,
                    after: [
                        "sp_entity_id": settings.entityID, "request_id": requestID, "state": "sent",
                        "binding": settings.logoutBinding.rawValue,
                    ])
                let skip = ReturnPoint.continueLogout(state: stateID)
                let outcome: LogoutOutcome =
                    if redirect {
                        .redirectToServiceProvider(
                            url: try await redirectURL(slo, xml, parameter: "SAMLRequest", relayState: stateID, tenantID: tenantID),
                            skip: skip)
                    } else {
                        .post(PostForm(action: slo, field: "SAMLRequest", value: Data(xml).base64EncodedString(), relayState: stateID, skip: skip))
                    }
                return ChainStep(outcome: outcome, record: machine.record, events: [sent])
            }
        }
    }

    func finish(_ ending: SAMLLogoutChainStateMachine.Ending, tenantID: String, issuer: String) async throws -> LogoutOutcome {
        switch ending {
        case .respond(let initiator, let partial):
            guard let app = try? await context.store.applications.get(tenantID: tenantID, id: initiator.app), case .saml(let settings) = app.settings else {
                return .signedOut(partial: partial)
            }
            return try await finalResponse(
                to: settings, inResponseTo: initiator.requestID, relayState: initiator.relayState,
                partial: partial, tenantID: tenantID, issuer: issuer)
        case .redirect(let finish): return .redirect(finish)
        case .signedOutPage(let partial): return .signedOut(partial: partial)
        }
    }

    /// The signed LogoutResponse to the SP that started the logout (at its registered logout URL).
    func finalResponse(
        to settings: SAMLServiceProviderSettings, inResponseTo: String, relayState: String?, partial: Bool,
        tenantID: String, issuer: String
    ) async throws -> LogoutOutcome {
        guard let slo = settings.singleLogoutURL else { return .signedOut(partial: partial) }
        let status =
            partial
            ? SAMLStatus(
                code: SAMLStatus.successCode, subcode: SAMLStatus.partialLogoutCode,
                message: "some applications could not be signed out") : .success
        let redirect = settings.logoutBinding == .redirect
        let xml = try await builder(tenantID: tenantID).logoutResponse(
            issuer: Self.entityID(issuer: issuer), destination: slo,
            inResponseTo: inResponseTo, status: status, now: context.clock.now(),
            sign: !redirect)
        if redirect {
            return .redirectToServiceProvider(
                url: try await redirectURL(slo, xml, parameter: "SAMLResponse", relayState: relayState, tenantID: tenantID),
                skip: nil)
        }
        return .post(PostForm(action: slo, field: "SAMLResponse", value: Data(xml).base64EncodedString(), relayState: relayState))
    }

    /// HTTP-Redirect binding (bindings §3.4.4.1): the SP's URL (its own query kept) plus
    /// `SAMLRequest`/`SAMLResponse`, `RelayState`, `SigAlg` and `Signature`, signed with the
    /// tenant's current RSA key (the one in the metadata's signing certificate) over RSA-SHA256.
    func redirectURL(_ endpoint: String, _ xml: [UInt8], parameter: String, relayState: String?, tenantID: String) async throws -> String {
        let query = try SAMLRedirectBinding.encode(
            xml, parameter: parameter, relayState: relayState,
            signingKey: try await rsaSigningKey(tenantID: tenantID))
        return endpoint + (endpoint.contains("?") ? "&" : "?") + query
    }

    // MARK: answers from the other SPs

    /// A LogoutResponse from the SP the chain is waiting for: verified (signature with that SP's
    /// certificate, issuer, InResponseTo); whatever it says, the chain moves on.
    func logoutResponse(_ message: SAMLInboundMessage, tenantID: String, issuer: String) async throws -> LogoutOutcome {
        let known = message.relayState.flatMap { $0.hasPrefix("samlslo_") && $0.utf8.count < 100 ? $0 : nil }
        var state: LoginTransaction?
        if let known { state = try? await context.store.loginTransactions.get(tenantID: tenantID, id: known) }
        guard let stateID = known, let state, let hop = Self.chain(state)?.waitingFor(now: context.clock.now()) else {
            await context.recordFailure(
                "saml.slo.rejected", by: .system, tenantID: tenantID,
                reason: "a LogoutResponse that answers no logout in progress")
            // A late answer to a sign-out that has finished: the session it ended is gone, so "signed out" is true.
            if let state, state.kind == .samlLogout, state.state != .pending { return .signedOut(partial: false) }
            // Say what happened: nothing was signed out here (any Sigil session is untouched).
            return .error(
                SAMLError(
                    .unsupported,
                    "this sign-out answer does not belong to a sign-out in progress here, so nothing was "
                        + "signed out by it; to sign out of Sigil, use Sign out on your account page"))
        }
        let expected = hop.requestID
        var ok = false
        var reason = ""
        var event: AuditEvent?
        if case (let app, let sp)? = try await serviceProvider(tenantID: tenantID, id: hop.app) {
            switch LogoutResponseValidator(sloURLs: [Self.sloURL(issuer: issuer)]).validate(message, from: sp, inResponseTo: expected) {
            case .success(let response):
                ok = response.isSuccess
                reason = ok ? "" : "status \(response.statusCode) \(response.statusSubcode ?? "")"
                event = context.auditEvent(
                    "saml.slo.propagated", by: state.userID.map(Principal.user) ?? .system, tenantID: tenantID, targetType: "application",
                    targetID: app.id, outcome: ok ? .success : .failure,
                    after: ["sp_entity_id": sp.entityID, "request_id": expected, "state": ok ? "confirmed" : "refused"], reason: ok ? nil : reason)
            case .failure(let error):
                reason = "\(error.code): \(error.message) \(error.detail)"
                await context.recordFailure(
                    "saml.slo.rejected", by: .system, tenantID: tenantID,
                    reason: "LogoutResponse from \(sp.entityID): \(reason)")
            }
        }
        return try await advance(stateID: stateID, expected: expected, succeeded: ok, event: event, tenantID: tenantID, issuer: issuer)
    }

    /// The browser's "continue" on a hop that does not answer (or came back without a response).
    public func continueLogout(stateID: String, tenantID: String, issuer: String) async throws -> LogoutOutcome {
        guard stateID.hasPrefix("samlslo_"), let state = try? await context.store.loginTransactions.get(tenantID: tenantID, id: stateID),
            let hop = Self.chain(state)?.waitingFor(now: context.clock.now())
        else {
            return .signedOut(partial: false)
        }
        let event = context.auditEvent(
            "saml.slo.propagated", by: state.userID.map(Principal.user) ?? .system, tenantID: tenantID,
            outcome: .failure,
            reason: "no LogoutResponse from application \(hop.app)"
                + (context.clock.now() >= hop.deadline ? " (timed out)" : " (skipped)"))
        return try await advance(stateID: stateID, expected: hop.requestID, succeeded: false, event: event, tenantID: tenantID, issuer: issuer)
    }

    /// Closes the current hop (once: a second answer to the same request changes nothing) and
    /// takes the next step.
    func advance(
        stateID: String, expected: String, succeeded: Bool, event: AuditEvent?, tenantID: String,
        issuer: String
    ) async throws -> LogoutOutcome {
        let now = context.clock.now()
        // Finished already, or another hop is in flight (a duplicate answer): nothing more to do here.
        guard let row = try? await context.store.loginTransactions.get(tenantID: tenantID, id: stateID), var machine = Self.chain(row),
            machine.hopEnded(requestID: expected, confirmed: succeeded, now: now)
        else {
            if let event { try await context.store.audit.append(event) }
            return .signedOut(partial: false)
        }
        // The next step is planned first (signing needs no row held); then the hop's end, the
        // next hop and what is audited about both go in one commit, under the row lock that
        // checks the hop is still the one in flight.
        let next = try await plan(machine, stateID: stateID, userID: row.userID, tenantID: tenantID, issuer: issuer)
        let record = next.record
        let closed = try await context.store.transaction { tx in
            let (_, closed) = try await tx.loginTransactions.update(tenantID: tenantID, id: stateID) { t in
                guard var locked = Self.chain(t), locked.hopEnded(requestID: expected, confirmed: succeeded, now: now) else { return false }
                t.apply(record) { FlowState.samlLogout(.propagation($0)) }
                return true
            }
            if let event { try await tx.audit.append(event) }
            if closed { for sent in next.events { try await tx.audit.append(sent) } }
            return closed
        }
        return closed ? next.outcome : .signedOut(partial: false)
    }

    func auditSLORejection(_ error: SAMLError, tenantID: String, sp: String?, requestID: String?, session: Session?) async {
        var reason = "\(error.code): \(error.message)"
        if !error.detail.isEmpty { reason += " (\(error.detail))" }
        if let sp { reason += " sp=\(sp)" }
        if let requestID { reason += " request=\(requestID)" }
        reason += session == nil ? " (no session)" : " (session kept)"
        await context.recordFailure("saml.slo.rejected", by: session.map { .user($0.userID) } ?? .system, tenantID: tenantID, reason: reason)
    }

    func serviceProvider(tenantID: String, id: String) async throws -> (Application, SAMLServiceProvider)? {
        guard let app = try? await context.store.applications.get(tenantID: tenantID, id: id), let entityID = app.entityID else { return nil }
        return try await serviceProvider(tenantID: tenantID, entityID: entityID)
    }
}

extension AcceptedLogoutRequest {
    /// The request as the session matcher reads it.
    var request: LogoutRequest {
        LogoutRequest(
            id: requestID, issuer: nil, destination: nil, issueInstant: nil, notOnOrAfter: nil, nameID: nameID,
            nameIDFormat: nameIDFormat, sessionIndexes: sessionIndexes, hasEnvelopedSignature: false)
    }
}
