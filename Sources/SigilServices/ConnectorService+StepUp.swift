import Foundation
import SigilAuthenticatorProtocol
import SigilCore
import SigilFlows
import SigilStore

/// LiveID step-up for flow builders (docs/connectors.md): a push with number matching to the
/// user's Sigil authenticator, approved after the phone's local check. The challenge is its own
/// flow row (`StepUpChallengeStateMachine`); its push is an ordinary push sign-in row whose
/// `stepUpFor` names the challenge, so it is never redeemed as a sign-in. The decision is taken in
/// the device's answer's own transaction, with a `stepup.decided` audit event (hence a webhook);
/// an unanswered challenge is decided `expired` by the expiry sweep or by whoever reads it first.
extension ConnectorService {
    /// How long a decision stays readable (`GET …/stepup/challenges/{id}`) after it was taken.
    public static let stepUpRetention: TimeInterval = 600

    public struct StepUpStart: Sendable, Equatable, Codable {
        /// The user's email address or Sigil user id (`usr_…`).
        public var userIdentifier: String
        /// Why the flow asks (kept in the audit trail, not shown to the user).
        public var reason: String?
        /// Shown on the phone and on the challenge page (at most 40 characters).
        public var bindingMessage: String?
        public var redirectURL: String?
        /// `biometric` (the default: face or fingerprint on the phone) or `any` (a PIN counts too).
        public var userVerification: String?
        /// The live face re-match against the user's verified portrait: `auto` (the default: when
        /// the user has one), `required` (refused for a user without one) or `off`.
        public var faceMatch: String?

        public init(
            userIdentifier: String, reason: String? = nil, bindingMessage: String? = nil, redirectURL: String? = nil,
            userVerification: String? = nil, faceMatch: String? = nil
        ) {
            self.userIdentifier = userIdentifier; self.reason = reason; self.bindingMessage = bindingMessage
            self.redirectURL = redirectURL; self.userVerification = userVerification; self.faceMatch = faceMatch
        }
    }

    public struct StepUpStarted: Sendable, Equatable, Codable {
        public var challengeID: String
        public var challengeURL: String
        /// The number the user picks on the phone (number matching); the challenge page shows it too.
        public var number: String
        public var userID: String
        /// The push's deadline.
        public var expiresAt: Date
        /// Whether the approval needs a live face re-match (`required`) or not (`off`).
        public var faceMatch: String?
    }

    /// Starts a step-up for a flow. With an idempotency key, a retry gets the first answer.
    public func startStepUp(
        key: ConnectorKey, tenant: Tenant, _ request: StepUpStart, idempotencyKey: String?, issuer: String, authenticator: AuthenticatorService
    ) async throws -> (started: StepUpStarted, replayed: Bool) {
        let fingerprint = try Self.fingerprint("stepup.start", request)
        if let earlier = try await replay(key: key, idempotencyKey: idempotencyKey, fingerprint: fingerprint, as: StepUpStarted.self) {
            return (earlier, true)
        }
        try validate(request, key: key)
        let user = try await stepUpUser(tenantID: tenant.id, request.userIdentifier)
        let face =
            request.faceMatch == "off" ? nil : try await IDVService.portraitReference(context: context, tenantID: tenant.id, userID: user.id)
        if request.faceMatch == "required", face == nil {
            throw ServiceError(
                .invalidInput, "this user has no verified portrait to re-match (verify their identity first, or use face_match auto)",
                fieldErrors: [FieldError(field: "face_match", message: "the user has no verified identity with a portrait")])
        }
        try await checkPushLimits(tenantID: tenant.id, user: user, policy: authenticator.policy)
        let challengeID = context.ids.make(.stepUpChallenge)
        let linkSecret = Base64URL.encode(context.random.bytes(32))
        var shown = tenant.displayName + " step-up"
        if let message = request.bindingMessage { shown += " — " + message }
        // The push's "browser" is nobody: only this challenge reads it (server-side), by id.
        let start = LoginStart(
            origin: issuer, browserHash: tokenHash("stepup-push:" + Base64URL.encode(context.random.bytes(32))), returnTo: "",
            clientIP: nil, userAgent: nil, application: shown)
        let push = try await authenticator.startPush(
            tenant: tenant, issuer: issuer, start: start, email: user.email, stepUpFor: challengeID,
            requireBiometric: request.userVerification != "any", faceRematch: face)
        let now = context.clock.now()
        var made = StepUpChallenge(
            keyID: key.id, pushID: push.id, reason: request.reason, linkHash: tokenHash(linkSecret), redirectURL: request.redirectURL,
            requireBiometric: request.userVerification != "any", answerBy: push.expiresAt)
        made.faceVerification = face?.process
        let challenge = made
        let row = LoginTransaction(
            id: challengeID, tenantID: tenant.id, flow: .stepUpChallenge(challenge), challenge: Base64URL.encode(context.random.bytes(16)),
            userID: user.id, number: push.number, createdAt: now, updatedAt: now,
            expiresAt: push.expiresAt.addingTimeInterval(StepUpChallengeStateMachine.pendingGrace))
        let context = self.context
        try await context.store.transaction { tx in
            _ = try await tx.loginTransactions.create(row)
            var details = [
                "push": push.id, "user_verification": challenge.requireBiometric ? "biometric" : "any", "face_match": face == nil ? "off" : "required",
            ]
            if let reason = request.reason { details["reason"] = reason }
            try await tx.audit.append(
                context.auditEvent(
                    "stepup.started", by: .client("connector:\(key.id)"), tenantID: tenant.id, targetType: "step_up_challenge",
                    targetID: challengeID, after: details))
        }
        // The push went out before this row existed: a phone that answered in between decided
        // nothing (its answer found no challenge). Reconcile now, not at the deadline.
        _ = try? await Self.refresh(row, now: context.clock.now(), context: context)
        let answer = StepUpStarted(
            challengeID: challengeID, challengeURL: issuer + "/stepup/\(challengeID)/open?k=\(linkSecret)", number: push.number ?? "",
            userID: user.id, expiresAt: push.expiresAt, faceMatch: face == nil ? "off" : "required")
        return try await remember(answer, key: key, idempotencyKey: idempotencyKey, fingerprint: fingerprint)
    }

    func validate(_ r: StepUpStart, key: ConnectorKey) throws {
        var errors: [FieldError] = []
        let u = r.userIdentifier
        if u.isEmpty || u.utf8.count > 320 || u.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
            errors.append(FieldError(field: "user_identifier", message: "user_identifier is the user's email or Sigil user id"))
        }
        if let m = r.bindingMessage, m.isEmpty || m.count > 40 || m.unicodeScalars.contains(where: { $0.value < 0x20 || $0.value == 0x7F }) {
            errors.append(FieldError(field: "binding_message", message: "binding_message is 1 to 40 printable characters"))
        }
        if let m = r.reason, m.isEmpty || m.count > 200 || m.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
            errors.append(FieldError(field: "reason", message: "reason is 1 to 200 characters, no control characters"))
        }
        if let f = r.faceMatch, !["auto", "required", "off"].contains(f) {
            errors.append(FieldError(field: "face_match", message: "face_match is auto (when the user has a verified portrait), required or off"))
        }
        if let uv = r.userVerification, uv != "biometric", uv != "any" {
            errors.append(FieldError(field: "user_verification", message: "user_verification is biometric (face or fingerprint) or any (a PIN too)"))
        }
        if let url = r.redirectURL, !(Self.origin(url).map(key.redirectOrigins.contains) ?? false) || url.utf8.count > 2048 {
            errors.append(
                FieldError(
                    field: "redirect_url",
                    message: "redirect_url must be on one of this key's redirect origins (" + key.redirectOrigins.joined(separator: ", ") + ")"))
        }
        guard errors.isEmpty else { throw ServiceError.invalid(errors) }
    }

    /// The active user named by email or id, with at least one enrolled Sigil authenticator.
    func stepUpUser(tenantID: String, _ identifier: String) async throws -> User {
        guard let user = try await sigilUser(tenantID: tenantID, identifier), user.status == .active,
            try await !context.store.authenticatorDevices.list(tenantID: tenantID, userID: user.id).isEmpty
        else {
            throw ServiceError(
                .invalidInput, "no active user with an enrolled Sigil authenticator has this identifier",
                fieldErrors: [FieldError(field: "user_identifier", message: "no active user with an enrolled Sigil authenticator")])
        }
        return user
    }

    /// The flow learns at once what would otherwise silently stop its push (the dispatcher applies
    /// the same limits again, under the user's lock): a "this wasn't me" block, or a full window.
    func checkPushLimits(tenantID: String, user: User, policy: AuthenticatorPolicy) async throws {
        let now = context.clock.now()
        let state = try await context.store.authenticatorUserState.update(tenantID: tenantID, userID: user.id, now: now) { _ in }
        switch policy.pushRefusal(state, now: now, spacing: false) {
        case .blocked(let until)?:
            throw AuthenticatorServiceError(
                .pushBlocked, "the user reported a request as not theirs: no pushes reach them until \(Wire.time(until)); use another method")
        case .windowFull(let until)?:
            throw AuthenticatorServiceError(
                .pushRateLimited,
                "the user had \(policy.pushesPerWindow) pushes in \(Int(policy.pushWindow / 60)) minutes: try again after \(Wire.time(until))")
        case .tooSoon?, nil:
            return
        }
    }

    // MARK: the result

    public struct StepUpResult: Sendable, Equatable {
        /// `pending`, `match`, `no_match` or `expired`.
        public var matchResult: String
        /// `high` (face or fingerprint), `medium` (PIN), `low` (presence only); none before an answer.
        public var confidence: String?
        public var amr: [String]
        public var acr: String?
        public var reason: String?
        public var userVerification: String?
        public var userID: String?
        public var number: String?
        public var decidedAt: Date?
        public var expiresAt: Date
        public var redirectURL: String?
        /// The live face re-match: `required` while pending, then `match` or `no_match`; nil when none was asked.
        public var faceMatch: String? = nil
        /// The identity verification whose portrait the face matched (OIDC4IDA `verification_process`).
        public var verificationProcess: String? = nil
    }

    public func stepUpResult(key: ConnectorKey, challengeID: String) async throws -> StepUpResult {
        guard let row = try await challengeRow(tenantID: key.tenantID, id: challengeID) else {
            throw StoreError.notFound("step-up challenge", challengeID)
        }
        return try await result(refreshing: row)
    }

    /// The challenge page's view: by the link's secret (its cookie), not a key.
    public func stepUpForLink(tenantID: String, challengeID: String, secret: String?) async throws -> StepUpResult? {
        guard let secret, let row = try await challengeRow(tenantID: tenantID, id: challengeID),
            case .stepUpChallenge(let c) = row.flow, constantTimeEquals(Array(tokenHash(secret).utf8), Array(c.linkHash.utf8))
        else { return nil }
        return try await result(refreshing: row)
    }

    func challengeRow(tenantID: String, id: String) async throws -> LoginTransaction? {
        guard id.hasPrefix(IdentifierKind.stepUpChallenge.rawValue + "_"), id.utf8.count < 64,
            let row = try? await context.store.loginTransactions.get(tenantID: tenantID, id: id), case .stepUpChallenge = row.flow,
            row.expiresAt > context.clock.now()
        else { return nil }
        return row
    }

    /// A pending challenge looks at its push first (decided now if the push ended or expired).
    func result(refreshing row: LoginTransaction) async throws -> StepUpResult {
        var row = row
        if row.state == .pending { row = try await Self.refresh(row, now: context.clock.now(), context: context) }
        guard case .stepUpChallenge(let c) = row.flow else { throw StoreError.notFound("step-up challenge", row.id) }
        guard let d = c.decision else {
            return StepUpResult(
                matchResult: "pending", amr: [], userID: row.userID, number: row.number, expiresAt: c.answerBy, redirectURL: c.redirectURL,
                faceMatch: c.faceVerification != nil ? "required" : nil)
        }
        let methods = d.userVerification.map { AuthenticatorService.methods(userVerification: $0, faceRematched: d.faceMatch == "match") }
        return StepUpResult(
            matchResult: d.matchResult.rawValue, confidence: d.userVerification.map(Self.confidence), amr: methods?.amr ?? [],
            acr: d.matchResult == .match ? methods?.acr : nil, reason: d.reason, userVerification: d.userVerification, userID: row.userID,
            number: nil, decidedAt: d.decidedAt, expiresAt: row.expiresAt, redirectURL: c.redirectURL, faceMatch: d.faceMatch,
            verificationProcess: d.faceMatch == "match" ? c.faceVerification : nil)
    }

    static func confidence(_ userVerification: String) -> String {
        switch userVerification {
        case "face", "fingerprint": "high"
        case "pin": "medium"
        default: "low"
        }
    }

    /// Reads the push and decides the challenge if the push is over; returns the row as stored.
    static func refresh(_ row: LoginTransaction, now: Date, context: ServiceContext) async throws -> LoginTransaction {
        guard case .stepUpChallenge(let c) = row.flow else { return row }
        let push = try? await context.store.loginTransactions.get(tenantID: row.tenantID, id: c.pushID)
        let outcome = Self.outcome(of: push, now: now)
        if outcome == .pending, c.answerBy > now { return row }
        let updated = try await context.store.transaction { tx in
            try await Self.decide(challengeID: row.id, tenantID: row.tenantID, outcome: outcome, now: now, context: context, tx: tx)
        }
        return updated ?? row
    }

    /// What became of a step-up's push (nil: gone, so long expired).
    static func outcome(of push: LoginTransaction?, now: Date) -> StepUpChallengeStateMachine.PushOutcome {
        guard let push, let s = push.authenticatorSignIn else { return .expired }
        switch push.state {
        case .approved, .completed: return .approved(device: push.deviceID ?? "", userVerification: s.userVerification ?? "none")
        case .denied: return .ended(reason: s.endReason?.rawValue ?? "declined")
        case .pending: return push.expiresAt <= now ? .expired : .pending
        }
    }

    /// In the caller's transaction: feeds the push's outcome to the challenge (under its row lock)
    /// and, when that decided it, records `stepup.decided`. Returns the row when it changed. A
    /// challenge that is gone is left alone (its push outlived it).
    static func decide(
        challengeID: String, tenantID: String, outcome: StepUpChallengeStateMachine.PushOutcome, now: Date, context: ServiceContext,
        tx: any StoreSession
    ) async throws -> LoginTransaction? {
        let updated: LoginTransaction
        let action: StepUpChallengeStateMachine.Action
        do {
            (updated, action) = try await tx.loginTransactions.update(tenantID: tenantID, id: challengeID) { t -> StepUpChallengeStateMachine.Action in
                guard case .stepUpChallenge(let c) = t.flow else { return .unchanged }
                var machine = StepUpChallengeStateMachine(t.record(c))
                let action = machine.observe(outcome, now: now, retention: Self.stepUpRetention)
                if case .decided = action { t.apply(machine.record, FlowState.stepUpChallenge) }
                return action
            }
        } catch let error as StoreError where error.code == .notFound {
            return nil
        }
        guard case .decided(let d) = action else { return nil }
        var details = ["match_result": d.matchResult.rawValue]
        if let uv = d.userVerification {
            details["user_verification"] = uv
            details["confidence"] = confidence(uv)
            details["amr"] = AuthenticatorService.methods(userVerification: uv, faceRematched: d.faceMatch == "match").amr.joined(separator: " ")
        }
        if let reason = d.reason { details["reason"] = reason }
        if let face = d.faceMatch { details["face_match"] = face }
        try await tx.audit.append(
            context.auditEvent(
                "stepup.decided", by: d.matchResult == .expired ? .system : updated.userID.map(Principal.user) ?? .system, tenantID: tenantID,
                targetType: "step_up_challenge",
                targetID: challengeID, outcome: d.matchResult == .match ? .success : .failure, after: details, reason: d.reason))
        return updated
    }

    /// The expiry sweep: unanswered challenges past their push's deadline are decided now, before
    /// their rows could go (their webhook says `expired`). Returns how many were decided.
    public static func decideOverdueStepUps(now: Date, context: ServiceContext) async throws -> Int {
        let due = try await context.store.loginTransactions.listDue(
            kind: .stepUpChallenge, before: now.addingTimeInterval(StepUpChallengeStateMachine.pendingGrace), limit: 200)
        var decided = 0
        for row in due {
            if let updated = try? await refresh(row, now: now, context: context), updated.state != .pending { decided += 1 }
        }
        return decided
    }

    // MARK: idempotency, shared by the connector's starts

    /// The first answer to this idempotency key, if there is one (422 if it was another request).
    func replay<T: Decodable>(key: ConnectorKey, idempotencyKey: String?, fingerprint: String, as: T.Type) async throws -> T? {
        guard let idempotencyKey else { return nil }
        guard (1...255).contains(idempotencyKey.utf8.count), idempotencyKey.unicodeScalars.allSatisfy({ (0x21...0x7E).contains($0.value) })
        else {
            throw ServiceError.invalid([FieldError(field: "Idempotency-Key", message: "Idempotency-Key is 1 to 255 visible ASCII characters")])
        }
        guard
            let earlier = try await context.store.connectorKeys.idempotent(
                tenantID: key.tenantID, keyID: key.id, idempotencyKey: idempotencyKey, at: context.clock.now())
        else { return nil }
        return try open(earlier, fingerprint: fingerprint, as: T.self)
    }

    /// Keeps `answer` as this idempotency key's first answer; if a concurrent retry kept one
    /// first, that one is the answer (`replayed` true).
    func remember<T: Codable>(_ answer: T, key: ConnectorKey, idempotencyKey: String?, fingerprint: String) async throws -> (T, Bool) {
        guard let idempotencyKey else { return (answer, false) }
        let now = context.clock.now()
        let record = IdempotencyRecord(
            tenantID: key.tenantID, keyID: key.id, idempotencyKey: idempotencyKey, requestHash: fingerprint, status: 201,
            sealedResponse: try context.masterKey.seal(
                Array(try JSONEncoder.sorted.encode(answer)),
                context: Self.idempotencyContext(tenantID: key.tenantID, keyID: key.id, idempotencyKey)),
            createdAt: now, expiresAt: now.addingTimeInterval(Self.idempotencyLifetime))
        do {
            try await context.store.connectorKeys.saveIdempotent(record)
        } catch let error as StoreError where error.code == .alreadyExists {
            guard
                let earlier = try await context.store.connectorKeys.idempotent(
                    tenantID: key.tenantID, keyID: key.id, idempotencyKey: idempotencyKey, at: now)
            else { throw error }
            return (try open(earlier, fingerprint: fingerprint, as: T.self), true)
        }
        return (answer, false)
    }
}
