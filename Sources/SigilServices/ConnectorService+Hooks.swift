import Crypto
import Foundation
import SigilCore
import SigilJOSE
import SigilStore

/// Inbound hooks (docs/connectors.md "Inbound hooks"): a flow builder posts signed events to
/// `/api/v1/hooks/{name}`; the signature is checked over the raw body before anything is parsed,
/// stale and replayed deliveries are refused, and each event type maps to an action taken as the
/// source's connector key: `user.registered` starts an identity verification, `login.risk` a
/// LiveID step-up.
extension ConnectorService {
    public static let hookSignatures: Set<String> = ["rfc9421", "descope_hmac"]
    public static let hookActions: Set<String> = ["start_idv", "require_stepup", "ignore"]
    /// The default mapping of event types to actions (a source's `actions` add to and override it).
    public static let defaultHookActions = ["user.registered": "start_idv", "login.risk": "require_stepup"]
    /// How old (by `created`, or the event's `time`) a delivery may be.
    public static let hookWindow: TimeInterval = 300
    /// How far in the future a sender's clock may be.
    public static let hookSkew: TimeInterval = 30
    public static let hookBodyLimit = 64 * 1024

    /// What a source's events do.
    public struct HookConfig: Codable, Sendable, Equatable {
        /// Event type → `start_idv`, `require_stepup` or `ignore`.
        public var actions: [String: String]?
        /// The verification a `start_idv` starts (`user_identifier` comes from the event).
        public var idv: IDVStart?
        /// The step-up a `require_stepup` starts (`user_identifier` comes from the event).
        public var stepUp: StepUpDefaults?
        /// A `login.risk` with `risk.score` below this asks for nothing.
        public var minimumRiskScore: Double?

        public init(actions: [String: String]? = nil, idv: IDVStart? = nil, stepUp: StepUpDefaults? = nil, minimumRiskScore: Double? = nil) {
            self.actions = actions; self.idv = idv; self.stepUp = stepUp; self.minimumRiskScore = minimumRiskScore
        }

        public func action(for type: String) -> String {
            actions?[type] ?? ConnectorService.defaultHookActions[type] ?? "ignore"
        }
    }

    public struct StepUpDefaults: Codable, Sendable, Equatable {
        public var bindingMessage: String?
        public var redirectURL: String?
        public var userVerification: String?
        public init(bindingMessage: String? = nil, redirectURL: String? = nil, userVerification: String? = nil) {
            self.bindingMessage = bindingMessage; self.redirectURL = redirectURL; self.userVerification = userVerification
        }
    }

    public struct NewHookSource: Sendable {
        public var name: String
        public var connectorKeyID: String
        public var signature: String
        public var config: HookConfig
        public init(name: String, connectorKeyID: String, signature: String, config: HookConfig) {
            self.name = name; self.connectorKeyID = connectorKeyID; self.signature = signature; self.config = config
        }
    }

    public struct HookSourceView: Sendable {
        public var source: HookSource
        public var config: HookConfig
    }

    public struct IssuedHookSource: Sendable {
        public var view: HookSourceView
        /// The shared signing secret, shown this once.
        public var secret: Secret<String>
    }

    static func hookSecretContext(tenantID: String, id: String) -> String { "sigil/hook-secret/\(tenantID)/\(id)" }

    // MARK: administration

    public func createHookSource(tenantID: String, _ input: NewHookSource, by principal: Principal) async throws -> IssuedHookSource {
        try authorize(principal, tenantID)
        let key = try await context.store.connectorKeys.get(tenantID: tenantID, id: input.connectorKeyID)
        let errors = try hookSourceErrors(input, key: key, now: context.clock.now())
        guard errors.isEmpty else { throw ServiceError.invalid(errors) }
        let now = context.clock.now()
        let id = context.ids.make(.hookSource)
        let secret = Base64URL.encode(context.random.bytes(32))
        let source = HookSource(
            id: id, tenantID: tenantID, name: input.name, connectorKeyID: input.connectorKeyID, signature: input.signature,
            sealedSecret: try context.masterKey.seal(Array(secret.utf8), context: Self.hookSecretContext(tenantID: tenantID, id: id)),
            config: String(decoding: try JSONEncoder.sorted.encode(input.config), as: UTF8.self), createdAt: now)
        let context = self.context
        try await context.store.transaction { tx in
            try await tx.connectorKeys.createHookSource(source)
            try await tx.audit.append(
                context.auditEvent(
                    "hook_source.created", by: principal, tenantID: tenantID, targetType: "hook_source", targetID: id,
                    after: ["name": source.name, "connector_key": source.connectorKeyID, "signature": source.signature]))
        }
        return IssuedHookSource(view: HookSourceView(source: source, config: input.config), secret: Secret(secret))
    }

    /// What is wrong with a new source, field by field.
    func hookSourceErrors(_ input: NewHookSource, key: ConnectorKey?, now: Date) throws -> [FieldError] {
        var errors: [FieldError] = []
        var nameOK = (1...40).contains(input.name.utf8.count)
        for c in input.name.utf8 where !((c >= 0x61 && c <= 0x7A) || (c >= 0x30 && c <= 0x39) || c == 0x2D) { nameOK = false }
        if !nameOK { errors.append(FieldError(field: "name", message: "1 to 40 lowercase letters, digits and -")) }
        if !Self.hookSignatures.contains(input.signature) {
            errors.append(FieldError(field: "signature", message: "rfc9421 (HTTP Message Signatures) or descope_hmac"))
        }
        guard let key, key.isActive(at: now) else {
            errors.append(FieldError(field: "connector_key_id", message: "an active connector key of this tenant"))
            return errors
        }
        var used = Set(Self.defaultHookActions.values)
        if let actions = input.config.actions {
            used = []
            var effective = Self.defaultHookActions
            for (type, action) in actions {
                effective[type] = action
                if !(1...100).contains(type.utf8.count) { errors.append(FieldError(field: "actions", message: "event types are 1 to 100 bytes")) }
                if !Self.hookActions.contains(action) {
                    errors.append(FieldError(field: "actions", message: "\(type.prefix(100)): start_idv, require_stepup or ignore"))
                }
            }
            for action in effective.values { used.insert(action) }
        }
        if used.contains("start_idv"), !key.scopes.contains("idv:write") {
            errors.append(FieldError(field: "connector_key_id", message: "start_idv needs a key with the idv:write scope"))
        }
        if used.contains("require_stepup"), !key.scopes.contains("stepup:write") {
            errors.append(FieldError(field: "connector_key_id", message: "require_stepup needs a key with the stepup:write scope"))
        }
        // The options are checked as the requests they become.
        if let idv = input.config.idv {
            if idv.userIdentifier != nil || idv.expected != nil {
                errors.append(FieldError(field: "idv", message: "user_identifier and expected come from each event"))
            }
            errors += prefixed("idv.", optionErrors { _ = try self.validate(idv, key: key) })
        }
        if let s = input.config.stepUp {
            let probe = StepUpStart(userIdentifier: "probe", bindingMessage: s.bindingMessage, redirectURL: s.redirectURL, userVerification: s.userVerification)
            errors += prefixed("stepup.", optionErrors { try self.validate(probe, key: key) })
        }
        if let score = input.config.minimumRiskScore, !score.isFinite || score < 0 {
            errors.append(FieldError(field: "minimum_risk_score", message: "a number of at least 0"))
        }
        return errors
    }

    func optionErrors(_ check: () throws -> Void) -> [FieldError] {
        do {
            try check()
            return []
        } catch let error as ServiceError {
            return error.fieldErrors
        } catch {
            return [FieldError(field: "", message: "invalid")]
        }
    }

    func prefixed(_ prefix: String, _ errors: [FieldError]) -> [FieldError] {
        errors.map { FieldError(field: prefix + $0.field, message: $0.message) }
    }

    public func hookSources(tenantID: String, by principal: Principal) async throws -> [HookSourceView] {
        try authorize(principal, tenantID)
        return try await context.store.connectorKeys.hookSources(tenantID: tenantID).map { try Self.view($0) }
    }

    public func hookSource(tenantID: String, name: String, by principal: Principal) async throws -> HookSourceView {
        try authorize(principal, tenantID)
        guard let source = try await context.store.connectorKeys.hookSource(tenantID: tenantID, name: name) else {
            throw StoreError.notFound("hook source", name)
        }
        return try Self.view(source)
    }

    public func deleteHookSource(tenantID: String, name: String, by principal: Principal) async throws {
        try authorize(principal, tenantID)
        let context = self.context
        try await context.store.transaction { tx in
            guard try await tx.connectorKeys.deleteHookSource(tenantID: tenantID, name: name) else { throw StoreError.notFound("hook source", name) }
            try await tx.audit.append(
                context.auditEvent("hook_source.deleted", by: principal, tenantID: tenantID, targetType: "hook_source", targetID: name))
        }
    }

    static func view(_ source: HookSource) throws -> HookSourceView {
        HookSourceView(source: source, config: try JSONDecoder().decode(HookConfig.self, from: Data(source.config.utf8)))
    }

    // MARK: deliveries

    /// One POST as received: the raw body and the fields the signature may cover (`targetURI` is
    /// the public URL the sender posted to: Sigil's issuer origin + path + query).
    public typealias HookDelivery = HTTPMessageSignature.Request

    /// What Sigil did with an event: the flow reads it from the response (Descope keeps it under
    /// the connector step's context key).
    public struct HookOutcome: Codable, Sendable, Equatable {
        public var eventID: String
        /// `start_idv`, `require_stepup` or `none`.
        public var action: String
        public var sessionID: String?
        public var sessionURL: String?
        public var challengeID: String?
        public var challengeURL: String?
        public var number: String?
        public var expiresAt: Date?
        /// The same event was acted on before (a retry with a new signature): the first answer.
        public var replayed: Bool?
    }

    /// Verifies, then acts. Refusals are audited (`hook.refused`) with the reason, never the body.
    public func receiveHook(
        tenant: Tenant, name: String, delivery: HookDelivery, issuer: String, authenticator: AuthenticatorService
    ) async throws -> HookOutcome {
        let tenantID = tenant.id
        let now = context.clock.now()
        func refuse(_ reason: String, _ error: any Error) async -> any Error {
            await context.recordFailure("hook.refused", by: .system, tenantID: tenantID, reason: "\(name.prefix(40)): \(reason)")
            return error
        }
        guard let source = try await context.store.connectorKeys.hookSource(tenantID: tenantID, name: name) else {
            throw await refuse("unknown source", StoreError.notFound("hook source", String(name.prefix(40))))
        }
        guard let key = try await context.store.connectorKeys.get(tenantID: tenantID, id: source.connectorKeyID), key.isActive(at: now) else {
            throw await refuse(
                "its connector key is revoked or expired", ServiceError(.unauthenticated, "this hook source's connector key is no longer active"))
        }
        let unauthenticated = { (reason: String) in ServiceError(.unauthenticated, "the delivery's signature was refused: " + reason) }
        guard delivery.body.count <= Self.hookBodyLimit else {
            throw await refuse("body over 64 KiB", ServiceError.invalid([FieldError(field: "body", message: "at most 64 KiB")]))
        }
        let secret = try context.masterKey.open(source.sealedSecret, context: Self.hookSecretContext(tenantID: tenantID, id: source.id))
        // 1. The signature, over the raw bytes, before anything is parsed.
        var replayKey: String
        var created: Date?
        switch source.signature {
        case "rfc9421":
            do {
                let verified = try HTTPMessageSignature.verifyHMAC(delivery, secret: secret)
                if let expires = verified.expires, expires <= now { throw HTTPMessageSignature.Failure("the signature expired") }
                created = verified.created
                replayKey = "hook-nonce:" + tokenHash(verified.nonce ?? "")
            } catch let failure as HTTPMessageSignature.Failure {
                throw await refuse(failure.description, unauthenticated(failure.description))
            }
        default:
            guard let given = delivery.headers["x-descope-webhook-s256"], let mac = Data(base64Encoded: given.trimmingCharacters(in: .whitespaces))
            else { throw await refuse("no x-descope-webhook-s256", unauthenticated("x-descope-webhook-s256 is required")) }
            let key = SymmetricKey(data: secret)
            let raw = Array(HMAC<SHA256>.authenticationCode(for: delivery.body, using: key))
            // Descope's page says it signs a JSON string rather than the raw body: the compact form too.
            let compact = compactJSON(delivery.body).map { Array(HMAC<SHA256>.authenticationCode(for: $0, using: key)) }
            guard constantTimeEquals(raw, Array(mac)) || compact.map({ constantTimeEquals($0, Array(mac)) }) == true else {
                throw await refuse("the HMAC does not verify", unauthenticated("the HMAC does not verify"))
            }
            replayKey = ""
        }
        // 2. Now the body.
        let event: HookEvent
        do {
            try StrictJSON.check(delivery.body)
            event = try HookEvent(try JSONValue.parse(delivery.body))
        } catch let e as ServiceError {
            throw await refuse("malformed event", e)
        } catch {
            throw await refuse("not JSON", ServiceError.invalid([FieldError(field: "body", message: "a JSON object")]))
        }
        if source.signature == "descope_hmac" {
            // The HMAC has no time of its own: the event's `time` and `id` give freshness and replay.
            guard let time = event.time else {
                throw await refuse(
                    "no time", ServiceError.invalid([FieldError(field: "time", message: "required with descope_hmac signing (RFC 3339 or epoch seconds)")]))
            }
            created = time
            replayKey = "hook-event:" + tokenHash(event.id)
        }
        // 3. Fresh, and never seen before.
        if let created, created < now.addingTimeInterval(-Self.hookWindow) || created > now.addingTimeInterval(Self.hookSkew) {
            throw await refuse("stale or future-dated", unauthenticated("the delivery is older than \(Int(Self.hookWindow)) s or dated in the future"))
        }
        do {
            try await context.store.connectorKeys.saveIdempotent(
                IdempotencyRecord(
                    tenantID: tenantID, keyID: key.id, idempotencyKey: replayKey, requestHash: hexEncoded(SHA256.hash(data: delivery.body)), status: 0,
                    sealedResponse: try context.masterKey.seal([], context: "sigil/hook-replay"), createdAt: now,
                    expiresAt: now.addingTimeInterval(Self.hookWindow + 2 * Self.hookSkew)))
        } catch let e as StoreError where e.code == .alreadyExists {
            throw await refuse("replayed delivery", StoreError.alreadyExists("hook delivery", "this delivery was received before"))
        }
        // 4. The action, as the source's key; the event id keys it (a resend gets the first answer).
        let config = try Self.view(source).config
        var outcome = HookOutcome(eventID: event.id, action: "none")
        let idempotencyKey = "hook:" + source.id + ":" + tokenHash(event.id)
        switch config.action(for: event.type) {
        case "start_idv":
            guard key.scopes.contains("idv:write") else {
                throw await refuse("key lacks idv:write", ServiceError(.forbidden, "the source's key lacks idv:write"))
            }
            var request = config.idv ?? IDVStart()
            request.userIdentifier = event.userIdentifier
            let (started, replayed) = try await startIDV(key: key, request, idempotencyKey: idempotencyKey, issuer: issuer)
            outcome.action = "start_idv"
            outcome.sessionID = started.sessionID; outcome.sessionURL = started.sessionURL; outcome.expiresAt = started.expiresAt
            outcome.replayed = replayed ? true : nil
        case "require_stepup":
            guard key.scopes.contains("stepup:write") else {
                throw await refuse("key lacks stepup:write", ServiceError(.forbidden, "the source's key lacks stepup:write"))
            }
            if let minimum = config.minimumRiskScore, let score = event.riskScore, score < minimum { break }
            guard let who = event.email ?? event.sigilUserID else {
                throw await refuse(
                    "no user", ServiceError.invalid([FieldError(field: "user.email", message: "a step-up needs the user's email or Sigil user id")]))
            }
            let defaults = config.stepUp ?? StepUpDefaults()
            let reason = (["risk signal from \(source.name)"] + event.riskReasons).joined(separator: ": ")
            let request = StepUpStart(
                userIdentifier: who, reason: String(reason.prefix(200)), bindingMessage: defaults.bindingMessage, redirectURL: defaults.redirectURL,
                userVerification: defaults.userVerification)
            let (started, replayed) = try await startStepUp(
                key: key, tenant: tenant, request, idempotencyKey: idempotencyKey, issuer: issuer, authenticator: authenticator)
            outcome.action = "require_stepup"
            outcome.challengeID = started.challengeID; outcome.challengeURL = started.challengeURL; outcome.number = started.number
            outcome.expiresAt = started.expiresAt
            outcome.replayed = replayed ? true : nil
        default: break
        }
        try await context.store.audit.append(
            context.auditEvent(
                "hook.received", by: .client("hook:\(source.name)"), tenantID: tenantID, targetType: "hook_source", targetID: source.id,
                after: ["type": String(event.type.prefix(100)), "action": outcome.action]))
        return outcome
    }
}

/// The event body (docs/connectors.md "Inbound hooks"): `id` and `type` required; `time`
/// (required with `descope_hmac`), `user` and `risk` as the type needs.
struct HookEvent {
    var id: String
    var type: String
    var time: Date?
    var email: String?
    var loginID: String?
    var sigilUserID: String?
    var riskScore: Double?
    var riskReasons: [String]

    init(_ json: JSONValue) throws {
        guard case .object(let o) = json else { throw ServiceError.invalid([FieldError(field: "body", message: "a JSON object")]) }
        var errors: [FieldError] = []
        let id = o["id"]?.string ?? ""
        let type = o["type"]?.string ?? ""
        if !(1...200).contains(id.utf8.count) { errors.append(FieldError(field: "id", message: "the event's unique id, 1 to 200 bytes")) }
        if !(1...100).contains(type.utf8.count) { errors.append(FieldError(field: "type", message: "the event type, e.g. user.registered or login.risk")) }
        self.id = id
        self.type = type
        switch o["time"] {
        case .string(let s)?:
            time =
                ISO8601DateFormatter().date(from: s)
                ?? { () -> Date? in
                    let f = ISO8601DateFormatter()
                    f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
                    return f.date(from: s)
                }()
            if time == nil { errors.append(FieldError(field: "time", message: "RFC 3339 or epoch seconds")) }
        case .int(let i)?: time = Date(timeIntervalSince1970: TimeInterval(i > 100_000_000_000 ? i / 1000 : i))
        case .double(let d)?: time = Date(timeIntervalSince1970: d)
        case nil, .null?: time = nil
        default:
            time = nil
            errors.append(FieldError(field: "time", message: "RFC 3339 or epoch seconds"))
        }
        let user = o["user"]?.object ?? [:]
        email = user["email"]?.string.flatMap { $0.isEmpty || $0.utf8.count > 320 ? nil : $0 }
        loginID = user["login_id"]?.string.flatMap { $0.isEmpty || $0.utf8.count > 200 ? nil : $0 }
        sigilUserID = user["sigil_user_id"]?.string.flatMap { $0.hasPrefix("usr_") && $0.utf8.count <= 64 ? $0 : nil }
        let risk = o["risk"]?.object ?? [:]
        switch risk["score"] {
        case .int(let i)?: riskScore = Double(i)
        case .double(let d)?: riskScore = d
        default: riskScore = nil
        }
        riskReasons = (risk["reasons"]?.array ?? []).compactMap { $0.string.map { String($0.prefix(60)) } }.prefix(5).map { $0 }
        guard errors.isEmpty else { throw ServiceError.invalid(errors) }
    }

    /// Who an identity verification is for: the flow's login id, else the email.
    var userIdentifier: String? { loginID ?? email ?? sigilUserID }
}
