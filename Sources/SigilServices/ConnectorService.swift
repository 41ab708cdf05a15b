import Crypto
import Foundation
import SigilCore
import SigilFlows
import SigilIDV
import SigilJOSE
import SigilStore

/// The connector API for flow builders such as Descope (docs/connectors.md): per-tenant API keys
/// (only their SHA-256 stored, scoped, rotatable with an overlap) and identity verification
/// started and read by a flow, with idempotency keys so a retried call never starts a second
/// session. Decisions are also pushed: `idv.decided` is an audit event, so webhook endpoints
/// subscribed to it receive it (docs/webhooks.md).
public struct ConnectorService: Sendable {
    public let context: ServiceContext
    public let idv: IDVService

    public init(context: ServiceContext, idv: IDVService) {
        self.context = context
        self.idv = idv
    }

    /// What a key may do.
    public static let scopes: Set<String> = ["idv:write", "idv:read", "stepup:write", "stepup:read"]
    public static let keyPrefix = "sck_"
    /// How long an idempotency key's first answer is kept.
    static let idempotencyLifetime: TimeInterval = 24 * 3600

    // MARK: keys

    public struct IssuedKey: Sendable {
        public var key: ConnectorKey
        /// `sck_…`, shown this once.
        public var secret: Secret<String>
    }

    public func createKey(
        tenantID: String, name: String, scopes: [String], redirectOrigins: [String], by principal: Principal
    ) async throws -> IssuedKey {
        try authorize(principal, tenantID)
        let (scopes, origins) = try validate(name: name, scopes: scopes, redirectOrigins: redirectOrigins)
        let issued = newKey(tenantID: tenantID, name: name, scopes: scopes, redirectOrigins: origins)
        let context = self.context
        try await context.store.transaction { tx in
            try await tx.connectorKeys.create(issued.key)
            try await tx.audit.append(
                context.auditEvent(
                    "connector_key.created", by: principal, tenantID: tenantID, targetType: "connector_key", targetID: issued.key.id,
                    after: Self.summary(issued.key)))
        }
        return issued
    }

    public func keys(tenantID: String, by principal: Principal) async throws -> [ConnectorKey] {
        try authorize(principal, tenantID)
        return try await context.store.connectorKeys.list(tenantID: tenantID)
    }

    public func revokeKey(tenantID: String, id: String, by principal: Principal) async throws {
        try authorize(principal, tenantID)
        let now = context.clock.now()
        let context = self.context
        try await context.store.transaction { tx in
            guard try await tx.connectorKeys.revoke(tenantID: tenantID, id: id, at: now) else { throw StoreError.notFound("connector key", id) }
            try await tx.audit.append(
                context.auditEvent("connector_key.revoked", by: principal, tenantID: tenantID, targetType: "connector_key", targetID: id))
        }
    }

    /// A new key with the old one's name, scopes and origins; the old one keeps working for
    /// `overlap` seconds (0: it stops now), so a flow can switch without failing calls.
    public func rotateKey(tenantID: String, id: String, overlap: TimeInterval, by principal: Principal) async throws -> IssuedKey {
        try authorize(principal, tenantID)
        try Validate.rotationOverlap(overlap)
        let now = context.clock.now()
        guard let old = try await context.store.connectorKeys.get(tenantID: tenantID, id: id), old.isActive(at: now) else {
            throw StoreError.notFound("connector key", id)
        }
        let issued = newKey(tenantID: tenantID, name: old.name, scopes: old.scopes, redirectOrigins: old.redirectOrigins)
        let context = self.context
        try await context.store.transaction { tx in
            // The old key leaves the name free for the new one (names are unique among unrevoked keys).
            if overlap == 0 {
                _ = try await tx.connectorKeys.revoke(tenantID: tenantID, id: id, at: now)
            } else {
                _ = try await tx.connectorKeys.expire(tenantID: tenantID, id: id, at: now.addingTimeInterval(overlap))
            }
            var key = issued.key
            if overlap > 0 { key.name = Self.rotatedName(old.name, at: now) }
            try await tx.connectorKeys.create(key)
            try await tx.audit.append(
                context.auditEvent(
                    "connector_key.rotated", by: principal, tenantID: tenantID, targetType: "connector_key", targetID: id,
                    after: ["new_key": key.id, "overlap_seconds": String(Int(overlap))]))
        }
        var key = issued.key
        if overlap > 0 { key.name = Self.rotatedName(old.name, at: now) }
        return IssuedKey(key: key, secret: issued.secret)
    }

    /// During an overlap both keys are unrevoked, so the new one's name carries the rotation time.
    static func rotatedName(_ name: String, at now: Date) -> String {
        let stamp = ISO8601DateFormatter().string(from: now)
        return String((name + " (rotated " + stamp + ")").prefix(120))
    }

    func newKey(tenantID: String, name: String, scopes: [String], redirectOrigins: [String]) -> IssuedKey {
        let secret = Self.keyPrefix + Base64URL.encode(context.random.bytes(32))
        let key = ConnectorKey(
            id: context.ids.make(.connectorKey), tenantID: tenantID, name: name, keyHash: tokenHash(secret),
            displayPrefix: String(secret.prefix(10)), scopes: scopes, redirectOrigins: redirectOrigins, createdAt: context.clock.now())
        return IssuedKey(key: key, secret: Secret(secret))
    }

    func validate(name: String, scopes: [String], redirectOrigins: [String]) throws -> ([String], [String]) {
        var errors: [FieldError] = []
        if name.isEmpty || name.count > 80 || name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
            errors.append(FieldError(field: "name", message: "name is 1 to 80 characters, no control characters"))
        }
        let scopes = Array(Set(scopes)).sorted()
        if scopes.isEmpty || !Set(scopes).isSubset(of: Self.scopes) {
            errors.append(FieldError(field: "scopes", message: "scopes are one or more of " + Self.scopes.sorted().joined(separator: ", ")))
        }
        var origins: [String] = []
        for (i, o) in redirectOrigins.enumerated() {
            guard let origin = Self.origin(o) else {
                errors.append(
                    FieldError(field: "redirect_origins[\(i)]", message: "an origin is https://host[:port] (http only for localhost and 127.0.0.1)"))
                continue
            }
            origins.append(origin)
        }
        if origins.count > 20 { errors.append(FieldError(field: "redirect_origins", message: "at most 20 origins")) }
        guard errors.isEmpty else { throw ServiceError.invalid(errors) }
        return (scopes, Array(Set(origins)).sorted())
    }

    /// `scheme://host[:port]` of a URL (lower-cased, no path), if it is https or http to a loopback host.
    static func origin(_ value: String) -> String? {
        guard value.utf8.count <= 2048, let c = URLComponents(string: value), let scheme = c.scheme?.lowercased(),
            let host = c.host?.lowercased(), !host.isEmpty, c.user == nil, c.password == nil, c.fragment == nil
        else { return nil }
        let loopback = host == "localhost" || host == "127.0.0.1" || host == "[::1]" || host == "::1"
        guard scheme == "https" || (scheme == "http" && loopback) else { return nil }
        return scheme + "://" + (host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host) + (c.port.map { ":\($0)" } ?? "")
    }

    static func summary(_ k: ConnectorKey) -> [String: String] {
        ["name": k.name, "scopes": k.scopes.joined(separator: " "), "redirect_origins": k.redirectOrigins.joined(separator: " "), "prefix": k.displayPrefix]
    }

    // MARK: authentication

    /// The active key `bearer` names, of this tenant, holding `scope`; else `unauthenticated`
    /// (unknown, revoked, expired, another tenant's) or `forbidden` (missing scope). Failures
    /// are audited without the key.
    public func authenticate(tenantID: String, bearer: String?, scope: String) async throws -> ConnectorKey {
        let now = context.clock.now()
        guard let bearer, bearer.hasPrefix(Self.keyPrefix), bearer.utf8.count < 200,
            let key = try await context.store.connectorKeys.find(keyHash: tokenHash(bearer)), key.tenantID == tenantID, key.isActive(at: now)
        else {
            await context.recordFailure("connector.authentication_failed", by: .system, tenantID: tenantID, reason: "unknown, revoked or expired key")
            throw ServiceError(.unauthenticated, "a valid connector API key is required (Authorization: Bearer sck_…)")
        }
        guard key.scopes.contains(scope) else {
            await context.recordFailure(
                "connector.access_denied", by: .system, tenantID: tenantID, reason: "key \(key.id) lacks scope \(scope)")
            throw ServiceError(.forbidden, "this key does not have the \(scope) scope")
        }
        // Roughly when it was last used (a write at most once a minute per key).
        if key.lastUsedAt.map({ now.timeIntervalSince($0) > 60 }) ?? true {
            try? await context.store.connectorKeys.touch(id: key.id, at: now)
        }
        return key
    }

    /// A flow builder authenticated by OAuth 2.0 client credentials instead of a key: an access
    /// token of this tenant's, issued to a client without a user (`client_credentials`), holding
    /// `scope`. The caller acts as `client:<client_id>`: its idempotency keys are its own, and the
    /// origins of the client's registered redirect URIs are where `redirect_url` may point.
    public func authenticate(tenantID: String, accessToken: String, scope: String, oauth: OAuthService, issuer: String) async throws
        -> ConnectorKey
    {
        guard accessToken.utf8.count < 8192, let token = try await oauth.verifyAccessToken(accessToken, tenantID: tenantID, issuer: issuer),
            token.grant.userID == nil, let (app, client) = try await oauth.client(tenantID: tenantID, clientID: token.clientID)
        else {
            await context.recordFailure(
                "connector.authentication_failed", by: .system, tenantID: tenantID, reason: "invalid, expired or user-bound access token")
            throw ServiceError(.unauthenticated, "a valid connector API key or client-credentials access token is required")
        }
        guard token.scopes.contains(scope) else {
            await context.recordFailure(
                "connector.access_denied", by: .client(token.clientID), tenantID: tenantID, reason: "access token lacks scope \(scope)")
            throw ServiceError(.forbidden, "this access token does not have the \(scope) scope")
        }
        let origins = Array(Set(client.redirectURIs.compactMap(Self.origin))).sorted()
        return ConnectorKey(
            id: "client:" + token.clientID, tenantID: tenantID, name: app.name, keyHash: "", displayPrefix: "",
            scopes: token.scopes.filter(Self.scopes.contains), redirectOrigins: origins, createdAt: app.createdAt)
    }

    // MARK: identity verification

    public struct IDVStart: Sendable, Equatable, Codable {
        public var documentTypes: [String]?
        /// `policy` (the tenant's) or `active` (an active liveness challenge even if the policy
        /// does not require one).
        public var livenessMode: String?
        public var userIdentifier: String?
        public var redirectURL: String?
        public var expected: [String: String]?

        public init(
            documentTypes: [String]? = nil, livenessMode: String? = nil, userIdentifier: String? = nil, redirectURL: String? = nil,
            expected: [String: String]? = nil
        ) {
            self.documentTypes = documentTypes; self.livenessMode = livenessMode; self.userIdentifier = userIdentifier
            self.redirectURL = redirectURL; self.expected = expected
        }
    }

    public struct IDVStarted: Sendable, Equatable, Codable {
        public var sessionID: String
        public var sessionURL: String
        public var handoffURL: String
        public var subject: String
        public var expiresAt: Date
    }

    /// Starts a verification for a flow. With an idempotency key, a retry of the same request
    /// gets the first answer (`replayed` true) instead of a second session; the same key with
    /// another request is refused.
    public func startIDV(
        key: ConnectorKey, _ request: IDVStart, idempotencyKey: String?, issuer: String
    ) async throws -> (started: IDVStarted, replayed: Bool) {
        let tenantID = key.tenantID
        let fingerprint = try Self.fingerprint("idv.start", request)
        if let earlier = try await replay(key: key, idempotencyKey: idempotencyKey, fingerprint: fingerprint, as: IDVStarted.self) {
            return (earlier, true)
        }
        let options = try validate(request, key: key)
        // A `user_identifier` naming a Sigil user (email or `usr_…` id) verifies that user: the
        // result becomes their verified identity (their `verified_claims`, and the portrait their
        // LiveID step-ups re-match). The app's hand-off then only takes that user's own devices.
        let subject: IDVSubject
        if let identifier = request.userIdentifier, let user = try await sigilUser(tenantID: tenantID, identifier) {
            subject = try await idv.userSubject(tenantID: tenantID, userID: user.id)
        } else {
            subject = try await idv.subject(tenantID: tenantID, clientID: Self.subjectClient, externalID: request.userIdentifier)
        }
        let started = try await idv.start(
            tenantID: tenantID, origin: .connector, expected: options.expected, clientID: nil, subjectID: subject.id,
            connector: options.session, by: .client("connector:\(key.id)"))
        let answer = IDVStarted(
            sessionID: started.id, sessionURL: issuer + "/idv/\(started.id)/open?k=\(started.secret)",
            handoffURL: issuer + "/idv/\(started.id)/handoff?k=\(started.handoffSecret)", subject: subject.id, expiresAt: started.expiresAt)
        // A concurrent retry that kept its answer first wins: this session is then never handed
        // out and expires unused (its `idv.session_started` event was already recorded: docs/connectors.md).
        return try await remember(answer, key: key, idempotencyKey: idempotencyKey, fingerprint: fingerprint)
    }

    /// The Sigil user an identifier names (`usr_…` id, or email), if any.
    func sigilUser(tenantID: String, _ identifier: String) async throws -> User? {
        if identifier.hasPrefix(IdentifierKind.user.rawValue + "_") { return try? await context.store.users.get(tenantID: tenantID, id: identifier) }
        return try await context.store.users.find(tenantID: tenantID, email: identifier.trimmingCharacters(in: .whitespaces).lowercased())
    }

    /// Subjects of connector sessions belong to the tenant's connector, not to one key, so a
    /// rotated key finds the same person.
    static let subjectClient = "connector"

    func open<T: Decodable>(_ record: IdempotencyRecord, fingerprint: String, as: T.Type) throws -> T {
        guard constantTimeEquals(Array(record.requestHash.utf8), Array(fingerprint.utf8)) else {
            throw ServiceError(
                .invalidInput, "this Idempotency-Key was used with another request; use a new key for a new request",
                fieldErrors: [FieldError(field: "Idempotency-Key", message: "reused with a different request")])
        }
        let bytes = try context.masterKey.open(
            record.sealedResponse, context: Self.idempotencyContext(tenantID: record.tenantID, keyID: record.keyID, record.idempotencyKey))
        return try JSONDecoder().decode(T.self, from: Data(bytes))
    }

    static func idempotencyContext(tenantID: String, keyID: String, _ key: String) -> String {
        "sigil/connector-idempotency/\(tenantID)/\(keyID)/" + tokenHash(key)
    }

    static func fingerprint<T: Encodable>(_ operation: String, _ body: T) throws -> String {
        tokenHash(operation + "\n" + String(decoding: try JSONEncoder.sorted.encode(body), as: UTF8.self))
    }

    struct Validated {
        var session: IDVSession.ConnectorOptions
        var expected: [String: String]
    }

    func validate(_ r: IDVStart, key: ConnectorKey) throws -> Validated {
        var errors: [FieldError] = []
        let known: Set<String> = ["passport", "idcard", "driving_permit", "residence_permit"]
        if let types = r.documentTypes, types.isEmpty || !Set(types).isSubset(of: known) {
            errors.append(FieldError(field: "document_types", message: "document_types are one or more of " + known.sorted().joined(separator: ", ")))
        }
        if let mode = r.livenessMode, !["policy", "active"].contains(mode) {
            errors.append(
                FieldError(field: "liveness_mode", message: "liveness_mode is policy or active (a connector cannot turn off what the tenant requires)"))
        }
        if let u = r.userIdentifier, u.isEmpty || u.utf8.count > 256 || u.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
            errors.append(FieldError(field: "user_identifier", message: "user_identifier is 1 to 256 bytes, no control characters"))
        }
        if let url = r.redirectURL {
            if let origin = Self.origin(url), key.redirectOrigins.contains(origin), url.utf8.count <= 2048 {
                // allowed
            } else {
                errors.append(
                    FieldError(
                        field: "redirect_url",
                        message: "redirect_url must be on one of this key's redirect origins (" + key.redirectOrigins.joined(separator: ", ") + ")"))
            }
        }
        var expected: [String: String] = [:]
        for (field, value) in r.expected ?? [:] {
            switch field {
            case "given_name", "family_name":
                if value.isEmpty || value.count > 200 || value.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
                    errors.append(FieldError(field: "expected.\(field)", message: "\(field) is 1 to 200 characters, no control characters"))
                } else {
                    expected[field] = value
                }
            case "birthdate":
                if IDVService.isCalendarDate(value) {
                    expected[field] = value
                } else {
                    errors.append(FieldError(field: "expected.birthdate", message: "birthdate is a date, YYYY-MM-DD"))
                }
            default:
                errors.append(FieldError(field: "expected.\(field.prefix(40))", message: "expected takes given_name, family_name and birthdate"))
            }
        }
        guard errors.isEmpty else { throw ServiceError.invalid(errors) }
        return Validated(
            session: IDVSession.ConnectorOptions(
                documentTypes: r.documentTypes.map { Array(Set($0)).sorted() }, requireLiveness: r.livenessMode == "active",
                returnURL: r.redirectURL, keyID: key.id),
            expected: expected)
    }

    /// A verification's result for the flow: never the evidence, and verified claims only once VERIFIED.
    public struct IDVResult: Sendable, Equatable {
        /// `pending`, `VERIFIED`, `FAILED`, `REVIEW`, `expired`, `cancelled`.
        public var status: String
        public var stage: String
        public var ialLevel: String?
        public var reasons: [String]
        public var verifiedClaims: JSONValue?
        public var subject: String?
        public var expiresAt: Date
    }

    public func idvResult(key: ConnectorKey, sessionID: String) async throws -> IDVResult {
        guard let (row, s) = await idv.sessionRow(tenantID: key.tenantID, id: sessionID), case .connector = s.origin else {
            throw StoreError.notFound("idv session", sessionID)
        }
        let now = context.clock.now()
        let status = IDVService.status(row, s, now: now)
        let claims = try s.sealedIdentity.flatMap { try idv.identity(tenantID: key.tenantID, sealed: $0, reference: sessionID) }.flatMap {
            $0.status == .verified ? VerifiedClaims.response(for: $0, claims: nil, now: now) : nil
        }
        let outward: String =
            switch status.stage {
            case "decided": status.decision?.rawValue ?? "pending"
            case "expired", "cancelled": status.stage
            default: "pending"
            }
        // The assurance level is the decision's only when VERIFIED: on FAILED it would describe
        // the evidence checked, and a flow branching on it alone would misread the result.
        return IDVResult(
            status: outward, stage: status.stage, ialLevel: outward == "VERIFIED" ? status.assuranceLevel : nil, reasons: status.reasons,
            verifiedClaims: claims,
            subject: status.subjectID, expiresAt: status.expiresAt)
    }
}
