import Foundation
import SigilCore
import SigilFlows
import SigilStore

/// Step-up after an upstream sign-in (a connection's `step_up` policy, or an existing account the
/// connection may not claim by email): the flow's user proves it is them with their Sigil passkey
/// (`stepUpOptions`, `finishStepUp`) or by approving a push on their Sigil authenticator
/// (`startStepUpPush`, `finishStepUpWithAuthenticator`). Either way the session starts only for
/// the user the flow expects, in the browser that started the sign-in.
extension UpstreamService {
    /// The second factor that finished a step-up: its RFC 8176 methods, the session's `acr`, and
    /// which (`passkey`, `authenticator`) for the audit log.
    struct StepUpProof: Sendable {
        var amr: [String]
        var acr: String
        var method: String
    }

    /// Whether `user` has something to step up with: a passkey or an enrolled authenticator.
    static func canStepUp(_ user: User, tx: any StoreSession) async throws -> Bool {
        if try await !tx.passkeys.list(tenantID: user.tenantID, userID: user.id).isEmpty { return true }
        return try await !tx.authenticatorDevices.list(tenantID: user.tenantID, userID: user.id).isEmpty
    }

    /// What the step-up page offers for `flowID`.
    public struct StepUpPage: Sendable, Equatable {
        public var connection: String
        public var passkey: Bool
        public var authenticator: Bool
    }

    public func stepUpPage(tenantID: String, flowID: String, browserHash: String) async throws -> StepUpPage {
        let (c, row) = try await awaitingStepUp(tenantID: tenantID, flowID: flowID, browserHash: browserHash)
        guard let userID = row.userID else { throw Rejected(reason: "unknownFlow", message: "this sign-in is unknown or has ended; start again") }
        let passkeys = try await context.store.passkeys.list(tenantID: tenantID, userID: userID)
        let devices = try await context.store.authenticatorDevices.list(tenantID: tenantID, userID: userID)
        return StepUpPage(connection: c.displayName, passkey: !passkeys.isEmpty, authenticator: !devices.isEmpty)
    }

    /// A push to the flow's user's Sigil authenticator (number matching, the device's local
    /// check), bound to this browser like any push sign-in. Its approval is redeemed by
    /// `finishStepUpWithAuthenticator`, never by the sign-in route (no session of its own).
    public func startStepUpPush(tenant: Tenant, issuer: String, flowID: String, start: LoginStart, authenticator: AuthenticatorService) async throws
        -> LoginTransaction
    {
        let (c, row) = try await awaitingStepUp(tenantID: tenant.id, flowID: flowID, browserHash: start.browserHash)
        guard let userID = row.userID, let user = try? await context.store.users.get(tenantID: tenant.id, id: userID), user.status == .active,
            try await !context.store.authenticatorDevices.list(tenantID: tenant.id, userID: userID).isEmpty
        else {
            throw Rejected(reason: "stepUpUnavailable", message: "no Sigil authenticator is enrolled for your account; use your passkey")
        }
        var push = start
        push.returnTo = ""
        push.application = "\(c.displayName) sign-in to \(tenant.displayName)"
        return try await authenticator.startPush(tenant: tenant, issuer: issuer, start: push, email: user.email, stepUpFor: row.id)
    }

    /// The push was approved: the approval is spent (once), it must be the flow's user's, and the
    /// session starts with the upstream's methods plus the authenticator's.
    public func finishStepUpWithAuthenticator(
        tenant: Tenant, flowID: String, browserHash: String, transactionID: String, authenticator: AuthenticatorService,
        replacing previous: Session? = nil
    ) async throws -> SignedIn {
        let tenantID = tenant.id
        return try await finishingStepUp(tenantID: tenantID, flowID: flowID, detail: "the user's Sigil authenticator approved a push") {
            let (c, row) = try await awaitingStepUp(tenantID: tenantID, flowID: flowID, browserHash: browserHash)
            // The push must have been started by this browser (its binding cookie), for this flow.
            let push = try await authenticator.browserTransaction(tenant: tenant, transactionID: transactionID, browserHash: browserHash)
            guard push.authenticatorSignIn?.stepUpFor == row.id else {
                throw Rejected(reason: "unknownFlow", message: "that approval belongs to another sign-in")
            }
            let now = context.clock.now()
            let (context, sessions) = (self.context, self.sessions)
            let signedIn = try await context.store.transaction { tx -> SignedIn in
                let (_, approval) = try await tx.loginTransactions.update(tenantID: tenantID, id: transactionID) { t in
                    guard var machine = AuthenticatorService.machine(t) else { throw AuthenticatorService.browserError(.unknown) }
                    let action = machine.complete(now: now)
                    if case .refuse(let refusal) = action { throw AuthenticatorService.browserError(refusal) }
                    t.apply(machine.record, FlowState.authenticatorSignIn)
                    return action
                }
                guard case .startSession(let approver, let uv, _) = approval else { throw AuthenticatorService.browserError(.unknown) }
                let user = try await tx.users.get(tenantID: tenantID, id: approver)
                guard user.status == .active else { throw Rejected(reason: "userDisabled", message: "this account is disabled") }
                let methods = AuthenticatorService.methods(userVerification: uv)
                return try await Self.steppedUp(
                    row: row, connection: c, user: user, proof: StepUpProof(amr: methods.amr, acr: methods.acr, method: "authenticator"),
                    browserHash: browserHash, sessions: sessions, replacing: previous, context: context, tx: tx, now: now)
            }
            await context.store.signals.publish(transactionID)
            return signedIn
        }
    }

    /// Runs a step-up's finish: a refusal is audited on the flow's protocol, a success traced.
    func finishingStepUp(tenantID: String, flowID: String, detail: String, _ body: () async throws -> SignedIn) async throws -> SignedIn {
        do {
            let signedIn = try await body()
            await completeTrace(tenantID: tenantID, flowID: flowID, .init(name: "step-up", passed: true, detail: detail), reason: nil)
            return signedIn
        } catch let rejected as Rejected {
            let action = flowID.hasPrefix("upoidc_") ? "upstream.oidc.rejected" : "upstream.saml.rejected"
            await context.recordFailure(action, by: .system, tenantID: tenantID, reason: "\(rejected.reason): step-up: \(rejected.message)")
            throw rejected
        }
    }

    /// In the caller's transaction: `user` proved it with `proof`. It must be the user the flow
    /// expects; when the step-up proved an existing account, the link is made now; then the session.
    static func steppedUp(
        row: LoginTransaction, connection c: UpstreamConnection, user: User, proof: StepUpProof, browserHash: String, sessions: SessionService,
        replacing previous: Session?, context: ServiceContext, tx: any StoreSession, now: Date
    ) async throws -> SignedIn {
        let (_, action) = try await tx.loginTransactions.update(tenantID: c.tenantID, id: row.id) { t -> UpstreamLoginStateMachine.Action in
            guard let login = t.upstreamLogin else { return .refuse(.unknown) }
            var machine = UpstreamLoginStateMachine(t.record(login))
            let action = machine.steppedUp(user: user.id, browserHash: browserHash, now: now)
            t.applyUpstream(machine.record)
            return action
        }
        guard case .signIn(let identity, let returnTo) = action else {
            if case .refuse(.claimedByAnother) = action {
                throw Rejected(reason: "stepUpWrongUser", message: "that \(proof.method) belongs to another account than the one you signed in with")
            }
            throw Rejected(reason: "replayed", message: "this sign-in was already used")
        }
        if row.upstreamLogin?.linkOnStepUp == true {
            _ = try await tx.upstreams.createLink(
                UpstreamLink(tenantID: c.tenantID, connectionID: c.id, subject: identity.subject, userID: user.id, createdAt: now, lastSeenAt: now))
            try await tx.audit.append(
                context.auditEvent(
                    "upstream.linked", by: .user(user.id), tenantID: c.tenantID, targetType: "user", targetID: user.id,
                    after: ["connection": c.name, "subject_hash": String(tokenHash(identity.subject).prefix(16)), "by": proof.method]))
        }
        return try await startSession(
            identity, user: user, connection: c, returnTo: returnTo, stepUp: proof, sessions: sessions, replacing: previous, context: context,
            tx: tx, now: now)
    }
}
