import Foundation
import SigilAuthenticatorProtocol
import SigilCore
import SigilFlows
import SigilOAuth
import SigilStore

/// Lifetimes and limits of authenticator sign-ins (docs/authenticator-protocol.md §1.5).
public struct AuthenticatorPolicy: Sendable {
    public var qrLifetime: TimeInterval = 120
    public var pushLifetime: TimeInterval = 120
    /// After approval the browser must complete within this.
    public var approvedGrace: TimeInterval = 60
    public var maximumFailures = 3
    public var pushesPerWindow = 5
    public var pushWindow: TimeInterval = 15 * 60
    public var pushSpacing: TimeInterval = 30
    public var reportBlock: TimeInterval = 15 * 60

    public init() {}

    /// Why one more push may not reach a user now: the user's "this wasn't me" block, a full
    /// window, or too soon after the last one (`spacing`: whether that gap applies).
    public enum PushRefusal: Equatable, Sendable {
        case blocked(until: Date)
        case windowFull(until: Date)
        case tooSoon

        /// The `authenticator.push_suppressed` reason.
        public var reason: String {
            if case .blocked = self { return "reported_block" }
            return "rate_limited"
        }
    }

    public func pushRefusal(_ state: AuthenticatorUserState, now: Date, spacing: Bool) -> PushRefusal? {
        if let blocked = state.blockedUntil, blocked > now { return .blocked(until: blocked) }
        let windowEnds = state.windowStartedAt.addingTimeInterval(pushWindow)
        if windowEnds > now, state.windowCount >= pushesPerWindow { return .windowFull(until: windowEnds) }
        if spacing, let last = state.lastPushAt, now.timeIntervalSince(last) < pushSpacing { return .tooSoon }
        return nil
    }

    /// The test-only lifetime override (`SIGIL_INSECURE_AUTHENTICATOR_LIFETIME_SECONDS`, ≥ 5 s).
    public static func withInsecureLifetime(_ seconds: TimeInterval) -> AuthenticatorPolicy {
        var policy = AuthenticatorPolicy()
        policy.qrLifetime = max(5, seconds)
        policy.pushLifetime = max(5, seconds)
        return policy
    }
}

/// What the browser that starts an authenticator sign-in tells us about itself.
public struct LoginStart: Sendable {
    public var origin: String
    /// `tokenHash` of the browser-binding cookie.
    public var browserHash: String
    public var returnTo: String
    public var clientIP: String?
    public var userAgent: String?
    /// What the user is signing in to, as shown on the phone.
    public var application: String?

    public init(origin: String, browserHash: String, returnTo: String, clientIP: String?, userAgent: String?, application: String? = nil) {
        self.origin = origin; self.browserHash = browserHash; self.returnTo = returnTo
        self.clientIP = clientIP; self.userAgent = userAgent; self.application = application
    }
}

/// QR and push sign-in with the Sigil authenticator (docs/authenticator-protocol.md §3–§5): the
/// browser starts a transaction, an enrolled device claims (QR) or receives (push) it and answers
/// with a signature over the transaction's stored values, and only the browser holding the binding
/// cookie can watch and complete it. Every decision is taken under the transaction's row lock.
public struct AuthenticatorService: Sendable {
    public let context: ServiceContext
    public let policy: AuthenticatorPolicy
    public let dispatcher: PushDispatcher

    public static let acr = ACR.authenticator

    public init(context: ServiceContext, policy: AuthenticatorPolicy, dispatcher: PushDispatcher) {
        self.context = context
        self.policy = policy
        self.dispatcher = dispatcher
    }

    // MARK: starting

    public struct StartedQR: Sendable {
        public let transaction: LoginTransaction
        public let payload: AuthenticatorPayload
    }

    public func startQR(tenant: Tenant, issuer: String, start: LoginStart, requireBiometric: Bool = false) async throws -> StartedQR {
        let secret = Base64URL.encode(context.random.bytes(16))
        let transaction = try await create(
            channel: .qr, tenant: tenant, issuer: issuer, start: start,
            secret: secret, lifetime: policy.qrLifetime, requireBiometric: requireBiometric)
        return StartedQR(
            transaction: transaction,
            payload: AuthenticatorPayload(purpose: .login, issuer: issuer, transactionID: transaction.id, secret: secret))
    }

    /// Identifier-first push. Answers the same way whoever `email` is: the lookup, the limits and
    /// the delivery run afterwards on the dispatcher, and a request that goes nowhere stays
    /// pending (a decoy) until it expires.
    /// `stepUpFor`: the upstream sign-in this push steps up (then only that step-up can redeem it).
    /// `requireBiometric`: the phone is told a face or fingerprint is needed (LiveID).
    /// `faceRematch`: the approval needs a live face re-match against this verified portrait
    /// first (a connector's step-up; a LiveID sign-in finds the user's own when it is delivered).
    /// `ciba`: a CIBA request, which has no browser to show a number: no number matching, and the
    /// client's `bindingMessage` on the phone instead.
    public func startPush(
        tenant: Tenant, issuer: String, start: LoginStart, email: String, stepUpFor: String? = nil, requireBiometric: Bool = false,
        faceRematch: AuthenticatorSignIn.FaceRematch? = nil, ciba: Bool = false, bindingMessage: String? = nil
    ) async throws -> LoginTransaction {
        let transaction = try await create(
            channel: .push, tenant: tenant, issuer: issuer, start: start,
            secret: nil, lifetime: policy.pushLifetime, stepUpFor: stepUpFor, requireBiometric: requireBiometric, faceRematch: faceRematch,
            ciba: ciba, bindingMessage: bindingMessage)
        let service = self
        let normalised = email.trimmingCharacters(in: .whitespaces).lowercased()
        await dispatcher.enqueue { await service.dispatchPush(tenantID: tenant.id, transactionID: transaction.id, email: normalised) }
        return transaction
    }

    func create(
        channel: AuthenticatorSignIn.Channel, tenant: Tenant, issuer: String, start: LoginStart, secret: String?,
        lifetime: TimeInterval, stepUpFor: String? = nil, requireBiometric: Bool = false, faceRematch: AuthenticatorSignIn.FaceRematch? = nil,
        ciba: Bool = false, bindingMessage: String? = nil
    ) async throws -> LoginTransaction {
        let now = context.clock.now()
        let id = context.ids.make(.loginTransaction)
        var flow = AuthenticatorSignIn(
            channel: channel, origin: start.origin, browserHash: start.browserHash, returnTo: start.returnTo, issuer: issuer,
            browser: Self.browserSummary(start.userAgent), application: start.application ?? "\(tenant.displayName) account",
            clientIP: start.clientIP,
            sealedSecret: try secret.map { try Self.sealSecret($0, transactionID: id, masterKey: context.masterKey) })
        flow.stepUpFor = stepUpFor
        if requireBiometric { flow.requiredUserVerification = "biometric" }
        flow.faceRematch = faceRematch
        flow.bindingMessage = bindingMessage
        let transaction = LoginTransaction(
            id: id, tenantID: tenant.id, flow: .authenticatorSignIn(flow),
            challenge: Base64URL.encode(context.random.bytes(32)), secretHash: secret.map(tokenHash), number: ciba ? nil : makeNumber(),
            createdAt: now, updatedAt: now, expiresAt: now.addingTimeInterval(lifetime))
        return try await context.store.loginTransactions.create(transaction)
    }

    /// The QR secret is needed again only to draw the code for the browser that started the
    /// transaction; it is kept sealed under the master key (never in the clear) for that.
    static func sealSecret(_ secret: String, transactionID: String, masterKey: MasterKey) throws -> String {
        try masterKey.seal(Array(secret.utf8), context: "qr-secret:" + transactionID)
    }

    /// The payload to draw for a transaction (QR login or device enrolment), if it has one.
    public func payload(of t: LoginTransaction) -> AuthenticatorPayload? {
        let (sealed, issuer, purpose): (String?, String, AuthenticatorPayload.Purpose)
        switch t.flow {
        case .authenticatorSignIn(let s) where s.channel == .qr: (sealed, issuer, purpose) = (s.sealedSecret, s.issuer, .login)
        case .deviceEnrolment(let e): (sealed, issuer, purpose) = (e.sealedSecret, e.issuer, .enrolment)
        default: return nil
        }
        guard let sealed, let bytes = try? context.masterKey.open(sealed, context: "qr-secret:" + t.id) else { return nil }
        return AuthenticatorPayload(purpose: purpose, issuer: issuer, transactionID: t.id, secret: String(decoding: bytes, as: UTF8.self))
    }

    /// Two digits 10…99, uniform: rejection-sample a byte below 180.
    func makeNumber() -> String {
        while true {
            let b = Int(context.random.bytes(1)[0])
            if b < 180 { return String(10 + b % 90) }
        }
    }

    // MARK: push delivery (runs on the dispatcher)

    private struct Suppressed: Error { let reason: String }

    /// Looks the user up, applies the per-user limits under the user's lock, supersedes their
    /// other pending push, and delivers. Every way it stops is audited without the email.
    public func dispatchPush(tenantID: String, transactionID: String, email: String) async {
        let context = self.context
        let policy = self.policy
        let now = context.clock.now()
        let flow = (try? await context.store.loginTransactions.get(tenantID: tenantID, id: transactionID))?.authenticatorSignIn
        let clientIP = flow?.clientIP ?? "-"
        // A connector's step-up is asked for by the tenant's own flow (an API key), not by anyone
        // who knows an email address: it skips the spacing between pushes, not the rest.
        let connectorStepUp = flow?.stepUpFor?.hasPrefix(IdentifierKind.stepUpChallenge.rawValue + "_") == true
        do {
            guard let user = try await context.store.users.find(tenantID: tenantID, email: email) else {
                throw Suppressed(reason: "unknown_user")
            }
            guard user.status == .active else { throw Suppressed(reason: "inactive_user") }
            let devices = try await context.store.authenticatorDevices.list(tenantID: tenantID, userID: user.id)
            guard !devices.isEmpty else { throw Suppressed(reason: "no_devices") }
            let face = try await Self.liveIDPortrait(flow, tenantID: tenantID, userID: user.id, context: context)
            let superseded: [String] = try await context.store.transaction { tx in
                _ = try await tx.authenticatorUserState.update(tenantID: tenantID, userID: user.id, now: now) { state in
                    if let refusal = policy.pushRefusal(state, now: now, spacing: !connectorStepUp) { throw Suppressed(reason: refusal.reason) }
                    if now.timeIntervalSince(state.windowStartedAt) >= policy.pushWindow {
                        state.windowStartedAt = now
                        state.windowCount = 0
                    }
                    state.windowCount += 1
                    state.lastPushAt = now
                    state.updatedAt = now
                }
                var superseded: [String] = []
                for other in try await tx.loginTransactions.listPending(tenantID: tenantID, userID: user.id, kind: .authenticatorPush, now: now)
                where other.id != transactionID {
                    _ = try await tx.loginTransactions.update(tenantID: tenantID, id: other.id) { t in
                        guard var machine = Self.machine(t), machine.supersede(now: now) else { return }
                        t.apply(machine.record, FlowState.authenticatorSignIn)
                    }
                    superseded.append(other.id)
                }
                _ = try await tx.loginTransactions.update(tenantID: tenantID, id: transactionID) { t in
                    guard var machine = Self.machine(t), case .deliver = machine.target(user: user.id, now: now, faceRematch: face) else {
                        throw Suppressed(reason: "cancelled")
                    }
                    t.apply(machine.record, FlowState.authenticatorSignIn)
                }
                try await tx.audit.append(
                    context.auditEvent(
                        "authenticator.push_sent", by: .system, tenantID: tenantID,
                        targetType: "login_transaction", targetID: transactionID,
                        after: ["user": user.id, "devices": String(devices.count), "client_ip": clientIP]))
                return superseded
            }
            for id in superseded { await context.store.signals.publish(id) }
            await context.store.signals.publish(transactionID)
            await context.store.signals.publish(user.id)
            let expiresAt = try await context.store.loginTransactions.get(tenantID: tenantID, id: transactionID).expiresAt
            for device in devices {
                await deliver(to: device, transactionID: transactionID, expiresAt: expiresAt)
            }
        } catch let suppressed as Suppressed {
            try? await context.store.audit.append(
                context.auditEvent(
                    "authenticator.push_suppressed", by: .system, tenantID: tenantID, targetType: "login_transaction",
                    targetID: transactionID, outcome: .failure, after: ["client_ip": clientIP], reason: suppressed.reason))
        } catch {
            context.logger.error("push dispatch failed", metadata: ["transaction": .string(transactionID), "error": .string("\(error)")])
        }
    }

    func deliver(to device: AuthenticatorDevice, transactionID: String, expiresAt: Date) async {
        guard let sealed = device.sealedPushToken, let registration = PushTokens.open(sealed, deviceID: device.id, masterKey: context.masterKey),
            let provider = PushProvider(rawValue: registration.provider ?? ""), let token = registration.token
        else { return }
        let outcome = await dispatcher.sender.send(
            PushNotification(
                provider: provider, deviceToken: Secret(token), requestID: transactionID,
                deviceID: device.id, expiresAt: expiresAt))
        let failure: String
        switch outcome {
        case .delivered: return
        case .unregistered:
            try? await context.store.authenticatorDevices.setPushToken(tenantID: device.tenantID, id: device.id, sealed: nil)
            failure = "unregistered (token cleared)"
        case .rejected(let reason): failure = "rejected: \(reason)"
        case .unavailable: failure = "unavailable"
        }
        try? await context.store.audit.append(
            context.auditEvent(
                "authenticator.push_delivery_failed", by: .system, tenantID: device.tenantID, targetType: "authenticator_device",
                targetID: device.id, outcome: .failure, after: ["provider": provider.rawValue], reason: failure))
    }

    // MARK: the device side

    func loginTransaction(tenantID: String, id: String) async throws -> LoginTransaction {
        try await Self.loginTransaction(context, tenantID: tenantID, id: id)
    }

    /// A QR or push sign-in row (also for the IDV service's face re-match), else "unknown".
    static func loginTransaction(_ context: ServiceContext, tenantID: String, id: String) async throws -> LoginTransaction {
        do {
            let t = try await context.store.loginTransactions.get(tenantID: tenantID, id: id)
            guard t.kind == .authenticatorQR || t.kind == .authenticatorPush else { throw StoreError(.notFound, entity: "login transaction") }
            return t
        } catch let error as StoreError where error.code == .notFound {
            throw AuthenticatorServiceError(.loginTransactionUnknown, "no such sign-in request")
        }
    }

    /// A device claims a scanned QR code: signed request plus the code's secret.
    public func claim(tenant: Tenant, device: AuthenticatedDevice, transactionID: String, secret: String) async throws -> RequestView {
        let transaction = try await loginTransaction(tenantID: tenant.id, id: transactionID)
        let now = context.clock.now()
        guard transaction.kind == .authenticatorQR else { throw AuthenticatorServiceError(.loginTransactionUnknown, "no such sign-in request") }
        try Self.checkAnswerable(transaction, now: now)
        guard let expected = transaction.secretHash, constantTimeEquals(Array(tokenHash(secret).utf8), Array(expected.utf8)) else {
            try await countFailure(transaction, device: device, reason: "wrong_secret")
            throw AuthenticatorServiceError(.transactionSecretInvalid, "the code's secret does not match")
        }
        let deviceID = device.device.id, userID = device.user.id
        let face = try await Self.liveIDPortrait(transaction.authenticatorSignIn, tenantID: tenant.id, userID: userID, context: context)
        let claimed: LoginTransaction
        do {
            claimed = try await context.store.loginTransactions.update(tenantID: tenant.id, id: transactionID) { t in
                guard var machine = Self.machine(t) else { throw Self.deviceError(.unknown) }
                switch machine.claim(device: deviceID, user: userID, now: now, faceRematch: face) {
                case .claimed: t.apply(machine.record, FlowState.authenticatorSignIn)
                case .alreadyClaimed: return
                case .refuse(let refusal): throw Self.deviceError(refusal)
                }
            }
        } catch let error as AuthenticatorServiceError {
            await context.recordFailure("authenticator.approval_failed", by: .user(userID), tenantID: tenant.id, reason: error.code.name)
            throw error
        }
        await context.store.signals.publish(transactionID)
        return view(claimed, tenant: tenant)
    }

    /// One request as its device sees it: a push for the device's user, or a QR this device claimed.
    public func request(tenant: Tenant, device: AuthenticatedDevice, transactionID: String) async throws -> RequestView {
        let t = try await loginTransaction(tenantID: tenant.id, id: transactionID)
        guard Self.belongs(t, to: device) else { throw AuthenticatorServiceError(.loginTransactionUnknown, "no such sign-in request") }
        return view(t, tenant: tenant)
    }

    /// The user's pending push requests (what the device's stream and `pending` deliver).
    public func pending(tenant: Tenant, device: AuthenticatedDevice) async throws -> [RequestView] {
        let now = context.clock.now()
        return try await context.store.loginTransactions.listPending(tenantID: tenant.id, userID: device.user.id, kind: .authenticatorPush, now: now)
            .filter { $0.expiresAt > now && $0.state == .pending }
            .map { view($0, tenant: tenant) }
    }

    static func belongs(_ t: LoginTransaction, to device: AuthenticatedDevice) -> Bool {
        machine(t)?.belongs(device: device.device.id, user: device.user.id) ?? false
    }

    /// A LiveID sign-in page's push or QR (biometric required, no step-up of its own): the user's
    /// verified portrait, if they have one, so the approval re-matches their face first.
    static func liveIDPortrait(_ flow: AuthenticatorSignIn?, tenantID: String, userID: String, context: ServiceContext) async throws
        -> AuthenticatorSignIn.FaceRematch?
    {
        guard let flow, flow.requiredUserVerification == "biometric", flow.stepUpFor == nil, flow.faceRematch == nil else { return nil }
        return try await IDVService.portraitReference(context: context, tenantID: tenantID, userID: userID)
    }

    /// The row's state machine, if it is an authenticator sign-in.
    static func machine(_ t: LoginTransaction) -> AuthenticatorSignInStateMachine? {
        t.authenticatorSignIn.map { AuthenticatorSignInStateMachine(t.record($0)) }
    }

    public func view(_ t: LoginTransaction, tenant: Tenant) -> RequestView {
        let s = t.authenticatorSignIn
        return RequestView(
            transaction: t.id, kind: s?.channel == .qr ? "qr" : "push", issuer: s?.issuer ?? "",
            tenant: tenant.displayName, application: s?.application ?? "\(tenant.displayName) account",
            origin: s?.origin ?? "", requestedAt: Wire.time(t.createdAt), expiresAt: Wire.time(t.expiresAt),
            requester: .init(ip: s?.clientIP, browser: s?.browser, location: nil),
            challenge: t.challenge, message: s?.bindingMessage, userVerification: s?.requiredUserVerification,
            faceMatch: s?.faceRematch.map { $0.matched ? "matched" : "required" }, numberMatching: t.number == nil ? false : nil)
    }

    static func checkAnswerable(_ t: LoginTransaction, now: Date) throws {
        guard let machine = Self.machine(t) else { throw Self.deviceError(.unknown) }
        if let refusal = machine.answerable(now: now) { throw Self.deviceError(refusal) }
    }

    /// What the device is told when its sign-in flow refuses an event.
    static func deviceError(_ refusal: FlowRefusal) -> AuthenticatorServiceError {
        switch refusal {
        case .unknown: AuthenticatorServiceError(.loginTransactionUnknown, "no such sign-in request")
        case .expired: AuthenticatorServiceError(.loginTransactionExpired, "this request has expired")
        case .claimedByAnother: AuthenticatorServiceError(.transactionClaimed, "another device already scanned this code")
        case .answered, .notApproved, .ended, .used, .tooLate: AuthenticatorServiceError(.transactionAnswered, "this request was already answered")
        }
    }

    /// What the browser (or the CIBA client) is told when its sign-in flow refuses an event.
    static func browserError(_ refusal: FlowRefusal) -> AuthenticatorServiceError {
        switch refusal {
        case .unknown: AuthenticatorServiceError(.loginTransactionUnknown, "no such sign-in request")
        case .expired, .tooLate: AuthenticatorServiceError(.loginTransactionExpired, "this sign-in request has expired; start again")
        case .notApproved: AuthenticatorServiceError(.loginNotApproved, "the sign-in has not been approved yet")
        case .ended, .claimedByAnother, .answered: AuthenticatorServiceError(.loginDenied, "the sign-in was declined")
        case .used: AuthenticatorServiceError(.loginAlreadyUsed, "this sign-in was already used")
        }
    }

    public enum Answer: Sendable, Equatable {
        case approve(number: String)
        case deny
        case report
    }

    /// Approve, deny, or report ("this wasn't me"). The signature is checked over the canonical
    /// string rebuilt from the stored issuer, id, challenge and origin plus what was submitted.
    public func answer(
        tenant: Tenant, device: AuthenticatedDevice, transactionID: String, answer: Answer,
        userVerification: String, signature: String
    ) async throws -> AnswerResult {
        let transaction = try await loginTransaction(tenantID: tenant.id, id: transactionID)
        guard Self.belongs(transaction, to: device) else { throw AuthenticatorServiceError(.loginTransactionUnknown, "no such sign-in request") }
        let now = context.clock.now()
        do {
            try Self.checkAnswerable(transaction, now: now)
        } catch let error as AuthenticatorServiceError {
            await context.recordFailure("authenticator.approval_failed", by: .user(device.user.id), tenantID: tenant.id, reason: error.code.name)
            throw error
        }
        guard let uv = CanonicalMessage.UserVerification(rawValue: userVerification) else {
            throw AuthenticatorServiceError(.invalidInput, "user_verification must be face, fingerprint, pin, presence or none")
        }
        let (decision, number): (CanonicalMessage.Decision, String) =
            switch answer {
            case .approve(let n): (.approve, n)
            case .deny: (.deny, "")
            case .report: (.report, "")
            }
        let flow = transaction.authenticatorSignIn
        let message = try? CanonicalMessage.approval(
            issuer: flow?.issuer ?? "", transactionID: transaction.id,
            challenge: transaction.challenge, origin: flow?.origin ?? "",
            number: number, decision: decision, userVerification: uv)
        guard let message, DeviceSignature.verify(signature, message: message, publicKey: device.device.publicKey) else {
            try await countFailure(transaction, device: device, reason: "bad_signature")
            throw AuthenticatorServiceError(.approvalSignatureInvalid, "the approval signature does not verify")
        }
        let kind = flow?.channel == .qr ? "qr" : "push"
        let event: AuthenticatorSignInStateMachine.Answer =
            switch answer {
            case .approve(let n):
                .approve(
                    numberMatches: transaction.number.map { constantTimeEquals(Array(n.utf8), Array($0.utf8)) } ?? true,
                    userVerification: uv.rawValue, signature: signature)
            case .deny: .deny
            case .report: .report
            }
        let context = self.context, policy = self.policy
        let deviceID = device.device.id, userID = device.user.id
        let (updated, action) = try await context.store.transaction { tx in
            let (updated, action) = try await tx.loginTransactions.update(tenantID: tenant.id, id: transactionID) { t in
                guard var machine = Self.machine(t) else { throw Self.deviceError(.unknown) }
                let action = machine.answer(event, device: deviceID, user: userID, now: now, approvedGrace: policy.approvedGrace)
                if case .refuse(let refusal) = action { throw Self.deviceError(refusal) }
                if action == .faceRequired {
                    throw AuthenticatorServiceError(
                        .faceRematchRequired, "this step-up needs your face matched first: record the liveness challenge, then approve")
                }
                t.apply(machine.record, FlowState.authenticatorSignIn)
                return action
            }
            // A connector's LiveID step-up is decided by this answer, in this transaction.
            if let challenge = flow?.stepUpFor, challenge.hasPrefix(IdentifierKind.stepUpChallenge.rawValue + "_") {
                _ = try await ConnectorService.decide(
                    challengeID: challenge, tenantID: tenant.id, outcome: ConnectorService.outcome(of: updated, now: now), now: now,
                    context: context, tx: tx)
            }
            let base = ["transaction": transactionID, "kind": kind, "device": deviceID]
            if action == .wrongNumber {
                try await tx.audit.append(
                    context.auditEvent(
                        "authenticator.wrong_number", by: .user(userID), tenantID: tenant.id,
                        targetType: "login_transaction", targetID: transactionID, outcome: .failure,
                        after: base, reason: "wrong_number"))
                return (updated, action)
            }
            switch action {
            case .approved:
                try await tx.audit.append(
                    context.auditEvent(
                        "authenticator.approved", by: .user(userID), tenantID: tenant.id,
                        targetType: "login_transaction", targetID: transactionID,
                        after: base.merging(["uv": uv.rawValue]) { a, _ in a }))
            case .declined:
                try await tx.audit.append(
                    context.auditEvent(
                        "authenticator.denied", by: .user(userID), tenantID: tenant.id,
                        targetType: "login_transaction", targetID: transactionID, outcome: .failure,
                        after: base, reason: "declined"))
            case .reported(let push):
                var details = base
                details["client_ip"] = flow?.clientIP ?? "-"
                details["browser"] = flow?.browser ?? "-"
                if push {
                    let until = now.addingTimeInterval(policy.reportBlock)
                    _ = try await tx.authenticatorUserState.update(tenantID: tenant.id, userID: userID, now: now) { s in
                        s.blockedUntil = until
                        s.updatedAt = now
                    }
                    details["blocked_until"] = Wire.time(until)
                }
                try await tx.audit.append(
                    context.auditEvent(
                        "authenticator.reported", by: .user(userID), tenantID: tenant.id,
                        targetType: "login_transaction", targetID: transactionID, outcome: .failure,
                        after: details, reason: "not_me"))
            case .wrongNumber, .faceRequired, .refuse:
                break
            }
            return (updated, action)
        }
        await context.store.signals.publish(transactionID)
        await context.store.signals.publish(userID)
        if action == .wrongNumber { throw AuthenticatorServiceError(.wrongNumber, "the number does not match the one in the browser; the sign-in was stopped") }
        return AnswerResult(transaction: transactionID, state: updated.state == .approved ? "approved" : "denied")
    }

    func countFailure(_ transaction: LoginTransaction, device: AuthenticatedDevice, reason: String) async throws {
        let now = context.clock.now()
        let context = self.context, maximum = policy.maximumFailures
        try await context.store.transaction { tx in
            _ = try await tx.loginTransactions.update(tenantID: transaction.tenantID, id: transaction.id) { t in
                guard var machine = Self.machine(t) else { return }
                _ = machine.failed(now: now, maximum: maximum)
                t.apply(machine.record, FlowState.authenticatorSignIn)
            }
            try await tx.audit.append(
                context.auditEvent(
                    "authenticator.approval_failed", by: .user(device.user.id), tenantID: transaction.tenantID,
                    targetType: "login_transaction", targetID: transaction.id, outcome: .failure,
                    after: ["device": device.device.id], reason: reason))
        }
        await context.store.signals.publish(transaction.id)
    }

    // MARK: the browser side

    /// The transaction if this browser started it; otherwise "unknown" (the same answer as for a
    /// transaction that does not exist).
    public func browserTransaction(tenant: Tenant, transactionID: String, browserHash: String) async throws -> LoginTransaction {
        let t: LoginTransaction
        do {
            t = try await context.store.loginTransactions.get(tenantID: tenant.id, id: transactionID)
        } catch let error as StoreError where error.code == .notFound {
            throw AuthenticatorServiceError(.loginTransactionUnknown, "no such sign-in request")
        }
        guard let expected = t.authenticatorSignIn?.browserHash ?? t.deviceEnrolment?.browserHash,
            constantTimeEquals(Array(expected.utf8), Array(browserHash.utf8))
        else {
            throw AuthenticatorServiceError(.loginTransactionUnknown, "no such sign-in request")
        }
        return t
    }

    public static func snapshot(_ t: LoginTransaction, now: Date) -> BrowserSnapshot {
        if let enrolment = t.deviceEnrolment {
            let state = DeviceEnrolmentStateMachine(t.record(enrolment)).browserView(now: now)
            let device = state == "completed" ? t.deviceID.map { BrowserSnapshot.Device(id: $0, name: enrolment.deviceName ?? "") } : nil
            return BrowserSnapshot(
                transaction: t.id, kind: "enrolment", state: state, number: nil, expiresAt: Wire.time(t.expiresAt),
                reason: state == "denied" ? (enrolment.endReason == .cancelled ? "cancelled" : "failed") : nil,
                version: t.version, device: device)
        }
        guard let machine = machine(t) else {
            return BrowserSnapshot(
                transaction: t.id, kind: "unknown", state: "expired", number: nil, expiresAt: Wire.time(t.expiresAt),
                reason: nil, version: t.version)
        }
        let view = machine.browserView(now: now)
        return BrowserSnapshot(
            transaction: t.id, kind: machine.record.payload.channel.rawValue, state: view.state,
            number: view.showsNumber ? t.number : nil, expiresAt: Wire.time(t.expiresAt), reason: view.reason,
            version: t.version)
    }

    public struct Completed: Sendable {
        public let session: Session
        public let cookie: Secret<String>
        public let returnTo: String
        public let user: User
    }

    /// The approved login becomes a session, in one store transaction.
    /// `previous`: the browser's session, if any (the same user's is re-authenticated in place:
    /// `SessionService.start(…replacing:…)`).
    public func complete(
        tenant: Tenant, transactionID: String, browserHash: String, sessions: SessionService, replacing previous: Session? = nil
    ) async throws -> Completed {
        let found = try await browserTransaction(tenant: tenant, transactionID: transactionID, browserHash: browserHash)
        if found.kind == .deviceEnrolment {
            return try await completeEnrolment(found, tenant: tenant, sessions: sessions)
        }
        let now = context.clock.now()
        let context = self.context
        let result = try await context.store.transaction { tx -> Completed in
            let (row, action) = try await tx.loginTransactions.update(tenantID: tenant.id, id: transactionID) { t in
                // A step-up push is redeemed by the upstream step-up only.
                guard var machine = Self.machine(t), t.authenticatorSignIn?.stepUpFor == nil else { throw Self.browserError(.unknown) }
                let action = machine.complete(now: now)
                if case .refuse(let refusal) = action { throw Self.browserError(refusal) }
                t.apply(machine.record, FlowState.authenticatorSignIn)
                return action
            }
            guard case .startSession(let userID, let uv, let returnTo) = action else { throw Self.browserError(.unknown) }
            let user = try await tx.users.get(tenantID: tenant.id, id: userID)
            guard user.status == .active else { throw AuthenticatorServiceError(.accountDisabled, "this account is disabled") }
            // A LiveID sign-in whose face re-match matched: `face` (the server's facial
            // recognition) and the verification whose portrait it matched.
            let face = row.authenticatorSignIn?.faceRematch.flatMap { $0.matched ? $0 : nil }
            let methods = Self.methods(userVerification: uv, faceRematched: face != nil)
            let (session, cookie) = try await sessions.start(
                tenantID: tenant.id, userID: user.id, amr: methods.amr, acr: methods.acr, replacing: previous,
                verificationProcess: face?.process, in: tx)
            return Completed(session: session, cookie: cookie, returnTo: returnTo, user: user)
        }
        await context.store.signals.publish(transactionID)
        return result
    }

    /// A phone enrolled from an enrolment link signs in the browser that showed the code, once.
    /// The person proved possession of the new device key and nothing more, so `amr` is `swk`.
    func completeEnrolment(_ found: LoginTransaction, tenant: Tenant, sessions: SessionService) async throws -> Completed {
        let now = context.clock.now()
        let context = self.context
        let result = try await context.store.transaction { tx -> Completed in
            let (_, action) = try await tx.loginTransactions.update(tenantID: tenant.id, id: found.id) { t in
                guard let enrolment = t.deviceEnrolment else { throw Self.browserError(.unknown) }
                var machine = DeviceEnrolmentStateMachine(t.record(enrolment))
                let action = machine.signIn(now: now)
                if case .refuse(let refusal) = action { throw Self.enrolmentSignInError(refusal) }
                t.apply(machine.record, FlowState.deviceEnrolment)
                return action
            }
            guard case .startSession(let userID, let returnTo) = action else { throw Self.browserError(.unknown) }
            let user = try await tx.users.get(tenantID: tenant.id, id: userID)
            guard user.status == .active else { throw AuthenticatorServiceError(.accountDisabled, "this account is disabled") }
            let (session, cookie) = try await sessions.start(tenantID: tenant.id, userID: user.id, amr: ["swk"], acr: Self.acr, in: tx)
            return Completed(session: session, cookie: cookie, returnTo: returnTo, user: user)
        }
        await context.store.signals.publish(found.id)
        return result
    }

    static func enrolmentSignInError(_ refusal: FlowRefusal) -> AuthenticatorServiceError {
        switch refusal {
        case .tooLate: AuthenticatorServiceError(.loginTransactionExpired, "the enrolment finished too long ago; sign in instead")
        case .used: AuthenticatorServiceError(.loginAlreadyUsed, "this sign-in was already used")
        case .ended: AuthenticatorServiceError(.loginDenied, "the enrolment failed")
        case .expired: AuthenticatorServiceError(.loginTransactionExpired, "the enrolment code has expired")
        case .notApproved: AuthenticatorServiceError(.loginNotApproved, "no device has enrolled yet")
        case .unknown, .answered, .claimedByAnother: AuthenticatorServiceError(.loginTransactionUnknown, "no such sign-in request")
        }
    }

    /// The user chose another way: a pending transaction ends as `cancelled`.
    public func cancel(tenant: Tenant, transactionID: String, browserHash: String) async throws {
        let t = try await browserTransaction(tenant: tenant, transactionID: transactionID, browserHash: browserHash)
        let now = context.clock.now()
        let updated = try await context.store.loginTransactions.update(tenantID: tenant.id, id: t.id) { t in
            if let enrolment = t.deviceEnrolment {
                var machine = DeviceEnrolmentStateMachine(t.record(enrolment))
                if machine.cancel(now: now) { t.apply(machine.record, FlowState.deviceEnrolment) }
                return
            }
            guard var machine = Self.machine(t), machine.cancel(now: now) else { return }
            t.apply(machine.record, FlowState.authenticatorSignIn)
        }
        await context.store.signals.publish(t.id)
        if let user = updated.userID { await context.store.signals.publish(user) }
    }

    /// RFC 8176 methods for what the device reported (§1.6). `hwk` is not claimed: v1 cannot verify
    /// where the key lives. A biometric check on the phone is LiveID (`urn:sigil:acr:liveid`,
    /// docs/oidc.md "acr"); a PIN or a tap is the plain authenticator class.
    /// `methods(userVerification:)` plus RFC 8176 `face` after a live face re-match on the server.
    public static func methods(userVerification: String, faceRematched: Bool) -> (amr: [String], acr: String) {
        var m = methods(userVerification: userVerification)
        if faceRematched, !m.amr.contains("face") { m.amr.insert("face", at: min(1, m.amr.count)) }
        return m
    }

    public static func methods(userVerification: String) -> (amr: [String], acr: String) {
        switch userVerification {
        case "face": (["swk", "face", "user", "mca", "mfa"], ACR.liveID)
        case "fingerprint": (["swk", "fpt", "user", "mca", "mfa"], ACR.liveID)
        case "pin": (["swk", "pin", "user", "mca", "mfa"], acr)
        case "presence": (["swk", "user", "mca"], acr)
        default: (["swk", "mca"], acr)
        }
    }

    /// "Chrome on Linux" from a User-Agent header; "Unknown browser" when unsure.
    public static func browserSummary(_ userAgent: String?) -> String {
        guard let ua = userAgent, !ua.isEmpty else { return "Unknown browser" }
        let browser: String =
            ua.contains("Edg/")
            ? "Edge"
            : ua.contains("OPR/")
                ? "Opera"
                : ua.contains("Firefox/")
                    ? "Firefox"
                    : ua.contains("Chrome/") || ua.contains("Chromium/")
                        ? "Chrome"
                        : ua.contains("Safari/")
                            ? "Safari"
                            : ua.hasPrefix("curl/") ? "curl" : "Unknown browser"
        let os: String? =
            ua.contains("Android")
            ? "Android"
            : ua.contains("iPhone") || ua.contains("iPad")
                ? "iOS"
                : ua.contains("Windows")
                    ? "Windows"
                    : ua.contains("Mac OS X")
                        ? "macOS"
                        : ua.contains("CrOS")
                            ? "ChromeOS"
                            : ua.contains("Linux") ? "Linux" : nil
        return os.map { "\(browser) on \($0)" } ?? browser
    }
}

/// Push tokens sealed under the master key, bound to their device.
public enum PushTokens {
    public static func seal(_ registration: PushRegistration, deviceID: String, masterKey: MasterKey) throws -> String {
        try masterKey.seal(Wire.encode(registration), context: "push-token:" + deviceID)
    }

    public static func open(_ sealed: String, deviceID: String, masterKey: MasterKey) -> PushRegistration? {
        guard let bytes = try? masterKey.open(sealed, context: "push-token:" + deviceID) else { return nil }
        return try? Wire.decode(PushRegistration.self, from: bytes)
    }

    /// Checks a registration from a device: provider `apns`/`fcm`, a token of printable ASCII ≤ 4 KiB.
    public static func validate(_ registration: PushRegistration) throws {
        guard let provider = registration.provider, PushProvider(rawValue: provider) != nil, let token = registration.token,
            (1...4096).contains(token.utf8.count), token.utf8.allSatisfy({ $0 > 0x20 && $0 < 0x7F })
        else {
            throw AuthenticatorServiceError(.invalidInput, "push needs provider apns or fcm and a token (printable, at most 4 KiB)")
        }
    }
}

/// Runs push deliveries off the request path, and waits for them on shutdown.
public actor PushDispatcher {
    public nonisolated let sender: any PushSender
    private let tasks = TrackedTasks()

    public init(sender: any PushSender = NoPushSender()) { self.sender = sender }

    public func enqueue(_ work: @escaping @Sendable () async -> Void) { tasks.enqueue(work) }

    /// Waits for every queued delivery (graceful shutdown, tests).
    public func drain() async { await tasks.drain() }
}
