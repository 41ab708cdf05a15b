import Foundation
import SigilCore
import SigilJOSE
import SigilOAuth
import SigilSAML
import SigilStore

/// The registry of relying parties: OIDC clients and SAML service providers.
public struct ApplicationService: Sendable {
    public let context: ServiceContext
    public static let secretPrefix = "sigil_cs_"

    public static let knownGrantTypes = Set(GrantType.allCases.map(\.rawValue))
    public static let knownAuthMethods = Set(ClientAuthenticationMethod.allCases.map(\.rawValue))
    /// `ssf.manage` and `ssf.read`: a Shared Signals receiver's client credentials (docs/ssf.md).
    public static let knownScopes: Set<String> = Set([
        "openid", "email", "profile", "identity_assurance", "offline_access", "ssf.manage", "ssf.read",
    ]).union(ConnectorService.scopes)
    public static let knownSigningAlgs: Set<String> = ["RS256", "ES256", "EdDSA"]
    public static let knownUserFields: Set<String> = ["id", "email", "given_name", "family_name", "amr"]

    public init(context: ServiceContext) { self.context = context }

    public struct NewOIDCClient: Sendable {
        public var name: String
        public var redirectURIs: [String]
        public var postLogoutRedirectURIs: [String] = []
        /// A public client (no secret, `token_endpoint_auth_method` `none`, PKCE required).
        public var isPublic: Bool = false
        public var tokenEndpointAuthMethod: String?
        public var grantTypes: [String]?
        public var requirePKCE: Bool?
        public var requirePAR: Bool = false
        public var allowedScopes: [String]?
        public var idTokenSigningAlg: String?
        public var accessTokenLifetimeSeconds: Int?
        public var idTokenLifetimeSeconds: Int?
        public var refreshTokenLifetimeSeconds: Int?
        /// For `private_key_jwt`: the client's public keys (a JWKS document).
        public var jwks: String?
        /// For `private_key_jwt`: where the client publishes its keys (instead of `jwks`).
        public var jwksURI: String?
        /// `required` for a third-party client whose users approve it on a consent page (default `implicit`).
        public var consent: OIDCClientSettings.ConsentMode?
        /// `acr` values asked for when a request names none.
        public var defaultACRValues: [String]?
        /// OpenID Connect Back-Channel Logout: the client's logout endpoint.
        public var backchannelLogoutURI: String?
        public var backchannelLogoutSessionRequired: Bool?
        /// An identity verification client (Okta BYO IDV).
        public var identityVerification: Bool = false

        public init(name: String, redirectURIs: [String]) {
            self.name = name
            self.redirectURIs = redirectURIs
        }
    }

    /// Registers an OIDC client. Returns the application and, for confidential clients, the
    /// client secret, which is shown once and stored only as a hash.
    public func createOIDC(tenantID: String, _ input: NewOIDCClient, by principal: Principal) async throws -> (Application, Secret<String>?) {
        try authorize(principal, tenantID)
        let method = input.tokenEndpointAuthMethod ?? (input.isPublic ? "none" : "client_secret_basic")
        let secret =
            (method == "client_secret_basic" || method == "client_secret_post")
            ? OpaqueToken.make(prefix: Self.secretPrefix, random: context.random) : nil
        var settings = OIDCClientSettings(
            clientID: Base64URL.encode(context.random.bytes(16)),
            clientSecretHash: secret.map(tokenHash),
            redirectURIs: input.redirectURIs,
            postLogoutRedirectURIs: input.postLogoutRedirectURIs,
            grantTypes: input.grantTypes ?? ["authorization_code", "refresh_token"],
            tokenEndpointAuthMethod: method,
            requirePKCE: input.requirePKCE ?? true,
            requirePAR: input.requirePAR,
            allowedScopes: input.allowedScopes ?? ["openid", "email", "profile"],
            idTokenSigningAlg: input.idTokenSigningAlg ?? "RS256",
            accessTokenLifetimeSeconds: input.accessTokenLifetimeSeconds ?? 600,
            idTokenLifetimeSeconds: input.idTokenLifetimeSeconds ?? 600,
            refreshTokenLifetimeSeconds: input.refreshTokenLifetimeSeconds ?? 2_592_000,
            jwksURI: input.jwksURI, jwks: input.jwks, consent: input.consent, defaultACRValues: input.defaultACRValues,
            backchannelLogoutURI: input.backchannelLogoutURI, backchannelLogoutSessionRequired: input.backchannelLogoutSessionRequired)
        settings.identityVerification = input.identityVerification ? true : nil
        var errors: [FieldError] = []
        if input.isPublic, method != "none" {
            errors.append(FieldError(field: "token_endpoint_auth_method", message: "a public client authenticates with none"))
        }
        if let message = Validate.name(input.name, field: "name") { errors.append(FieldError(field: "name", message: message)) }
        errors += Self.validate(settings, policy: context.remote.policy)
        guard errors.isEmpty else { throw ServiceError.invalid(errors) }
        let app = try await insert(tenantID: tenantID, name: input.name, settings: .oidc(settings), by: principal)
        return (app, secret.map(Secret.init))
    }

    public struct NewSAMLServiceProvider: Sendable {
        public var name: String
        public var settings: SAMLServiceProviderSettings
        public init(name: String, settings: SAMLServiceProviderSettings) {
            self.name = name
            self.settings = settings
        }
    }

    public func createSAML(tenantID: String, _ input: NewSAMLServiceProvider, by principal: Principal) async throws -> Application {
        try authorize(principal, tenantID)
        var errors: [FieldError] = []
        if let message = Validate.name(input.name, field: "name") { errors.append(FieldError(field: "name", message: message)) }
        var settings = input.settings
        Self.normalise(&settings)
        errors += Self.validate(settings)
        guard errors.isEmpty else { throw ServiceError.invalid(errors) }
        return try await insert(tenantID: tenantID, name: input.name, settings: .saml(settings), by: principal)
    }

    private func insert(tenantID: String, name: String, settings: ApplicationSettings, by principal: Principal) async throws -> Application {
        let now = context.clock.now()
        let app = Application(
            id: context.ids.make(.application), tenantID: tenantID, name: name, settings: settings,
            createdAt: now, updatedAt: now)
        let context = self.context
        return try await context.store.transaction { tx in
            if let entityID = app.entityID, try await tx.applications.find(tenantID: tenantID, entityID: entityID) != nil {
                throw StoreError.alreadyExists("application", "a service provider with this entity ID exists")
            }
            let created = try await tx.applications.create(app)
            try await tx.audit.append(
                context.auditEvent(
                    "application.created", by: principal, tenantID: tenantID,
                    targetType: "application", targetID: created.id, after: Self.summary(created)))
            return created
        }
    }

    public func get(tenantID: String, id: String, by principal: Principal) async throws -> Application {
        try authorize(principal, tenantID)
        return try await context.store.applications.get(tenantID: tenantID, id: id)
    }

    public func list(tenantID: String, page: PageRequest, by principal: Principal) async throws -> Page<Application> {
        try authorize(principal, tenantID)
        return try await context.store.applications.list(tenantID: tenantID, page: page)
    }

    /// Applies `change` to the stored application and validates the result as a whole; nothing
    /// is written when validation fails. Secrets and identifiers cannot be changed this way.
    public func update(
        tenantID: String, id: String, expectedVersion: Int?, by principal: Principal,
        _ change: @escaping @Sendable (inout Application) throws -> Void
    ) async throws -> Application {
        try authorize(principal, tenantID)
        let now = context.clock.now()
        let context = self.context
        let policy = context.remote.policy
        return try await context.store.transaction { tx in
            let (before, after) = try await tx.applications.update(tenantID: tenantID, id: id, expectedVersion: expectedVersion) { app in
                let original = app
                try change(&app)
                switch (original.settings, app.settings) {
                case (.oidc(let old), .oidc(var new)):
                    new.clientID = old.clientID
                    new.clientSecretHash = old.clientSecretHash
                    new.previousClientSecretHash = old.previousClientSecretHash
                    new.previousClientSecretExpiresAt = old.previousClientSecretExpiresAt
                    if old.isPublic != new.isPublic {
                        throw ServiceError.invalid([
                            FieldError(
                                field: "token_endpoint_auth_method",
                                message: "a client cannot switch between public and confidential")
                        ])
                    }
                    app.settings = .oidc(new)
                case (.saml, .saml(var new)):
                    Self.normalise(&new)
                    app.settings = .saml(new)
                default: break
                }
                var errors: [FieldError] = []
                if let message = Validate.name(app.name, field: "name") { errors.append(FieldError(field: "name", message: message)) }
                switch app.settings {
                case .oidc(let s): errors += Self.validate(s, policy: policy)
                case .saml(let s): errors += Self.validate(s)
                }
                guard errors.isEmpty else { throw ServiceError.invalid(errors) }
                app.updatedAt = now
            }
            try await tx.audit.append(
                context.auditEvent(
                    "application.updated", by: principal, tenantID: tenantID,
                    targetType: "application", targetID: id,
                    before: Self.summary(before), after: Self.summary(after)))
            return after
        }
    }

    /// The longest a rotated-out secret may stay valid.
    public static let maximumSecretGrace: TimeInterval = 7 * 86_400

    /// Replaces a confidential client's secret and returns the new one (shown once). With a
    /// grace period the old secret keeps working until it ends (one previous secret at most: a
    /// second rotation drops the first); without one it stops working at once, which is what a
    /// leaked secret needs.
    public func rotateSecret(
        tenantID: String, id: String, expectedVersion: Int?, grace: TimeInterval,
        by principal: Principal
    ) async throws -> (Application, Secret<String>) {
        try authorize(principal, tenantID)
        guard grace >= 0, grace <= Self.maximumSecretGrace else {
            throw ServiceError.invalid([FieldError(field: "grace_period", message: "must be 0–604800 seconds")])
        }
        let now = context.clock.now()
        let secret = OpaqueToken.make(prefix: Self.secretPrefix, random: context.random)
        let context = self.context
        return try await context.store.transaction { tx in
            let (_, after) = try await tx.applications.update(tenantID: tenantID, id: id, expectedVersion: expectedVersion) { app in
                guard case .oidc(var s) = app.settings, let current = s.clientSecretHash,
                    ["client_secret_basic", "client_secret_post"].contains(s.tokenEndpointAuthMethod)
                else {
                    throw ServiceError.invalid([
                        FieldError(
                            field: "token_endpoint_auth_method",
                            message: "only a client that authenticates with a secret has one to rotate")
                    ])
                }
                s.previousClientSecretHash = grace > 0 ? current : nil
                s.previousClientSecretExpiresAt = grace > 0 ? now.addingTimeInterval(grace) : nil
                s.clientSecretHash = tokenHash(secret)
                app.settings = .oidc(s)
                app.updatedAt = now
            }
            var detail = ["grace_seconds": String(Int(grace))]
            if grace > 0 { detail["previous_secret_expires_at"] = ISO8601DateFormatter().string(from: now.addingTimeInterval(grace)) }
            try await tx.audit.append(
                context.auditEvent(
                    "application.secret_rotated", by: principal, tenantID: tenantID,
                    targetType: "application", targetID: id, after: detail))
            return (after, Secret(secret))
        }
    }

    /// Reads a SAML SP's metadata from a URL (https; http only on loopback) and turns it into
    /// settings, for `create-saml --metadata URL` and the admin API's `metadata_url`.
    public func samlSettings(fromMetadataURL url: String) async throws -> SAMLServiceProviderSettings {
        if let why = context.remote.refusal(url) { throw ServiceError.invalid([FieldError(field: "metadata_url", message: why)]) }
        let bytes: [UInt8]
        do { bytes = try await context.remote.metadata(at: url) } catch let error as RemoteFetchError {
            context.logger.info(
                "SP metadata fetch failed",
                metadata: [
                    "host": .string(URLComponents(string: url)?.host ?? "-"),
                    "reason": .string("\(error)"),
                ])
            throw ServiceError.invalid([FieldError(field: "metadata_url", message: "metadata \(error.publicDescription)")])
        }
        do { return try SAMLIdentityProviderService.settings(fromMetadata: bytes) } catch {
            throw ServiceError.invalid([FieldError(field: "metadata_url", message: "the document is not usable SP metadata: \(error)")])
        }
    }

    public func delete(tenantID: String, id: String, expectedVersion: Int?, by principal: Principal) async throws {
        try authorize(principal, tenantID)
        let context = self.context
        try await context.store.transaction { tx in
            let deleted = try await tx.applications.delete(tenantID: tenantID, id: id, expectedVersion: expectedVersion)
            try await tx.audit.append(
                context.auditEvent(
                    "application.deleted", by: principal, tenantID: tenantID,
                    targetType: "application", targetID: id, before: Self.summary(deleted)))
        }
    }

    // MARK: validation

    static func validate(_ s: OIDCClientSettings, policy: OutboundPolicy) -> [FieldError] {
        var errors: [FieldError] = []
        func add(_ field: String, _ message: String) { errors.append(FieldError(field: field, message: message)) }
        if !knownAuthMethods.contains(s.tokenEndpointAuthMethod) {
            add("token_endpoint_auth_method", "must be one of \(knownAuthMethods.sorted().joined(separator: ", "))")
        }
        let usesRedirects = s.grantTypes.contains("authorization_code")
        if usesRedirects && s.redirectURIs.isEmpty { add("redirect_uris", "at least one redirect URI is required for authorization_code") }
        if s.redirectURIs.count > 50 { add("redirect_uris", "at most 50 redirect URIs") }
        for (i, uri) in s.redirectURIs.enumerated() {
            if let message = Validate.redirectURI(uri, allowCustomScheme: s.isPublic) { add("redirect_uris[\(i)]", message) }
        }
        if Set(s.redirectURIs).count != s.redirectURIs.count { add("redirect_uris", "redirect URIs must be distinct") }
        for (i, uri) in s.postLogoutRedirectURIs.enumerated() {
            if let message = Validate.redirectURI(uri, allowCustomScheme: s.isPublic) { add("post_logout_redirect_uris[\(i)]", message) }
        }
        if s.grantTypes.isEmpty { add("grant_types", "at least one grant type is required") }
        for grant in s.grantTypes where !knownGrantTypes.contains(grant) {
            add("grant_types", "unsupported grant type \(grant) (implicit and password are not offered)")
        }
        if s.isPublic && s.grantTypes.contains("client_credentials") {
            add("grant_types", "a public client cannot use client_credentials")
        }
        if s.isPublic && !s.requirePKCE { add("require_pkce", "public clients must use PKCE (RFC 9700 §2.1.1)") }
        if s.allowedScopes.isEmpty { add("allowed_scopes", "at least one scope is required") }
        for scope in s.allowedScopes where !knownScopes.contains(scope) {
            add("allowed_scopes", "unknown scope \(scope); known: \(knownScopes.sorted().joined(separator: " "))")
        }
        if !knownSigningAlgs.contains(s.idTokenSigningAlg) { add("id_token_signed_response_alg", "must be RS256, ES256 or EdDSA") }
        if !(30...86_400).contains(s.accessTokenLifetimeSeconds) { add("access_token_lifetime", "must be 30–86400 seconds") }
        if !(30...86_400).contains(s.idTokenLifetimeSeconds) { add("id_token_lifetime", "must be 30–86400 seconds") }
        if !(60...31_536_000).contains(s.refreshTokenLifetimeSeconds) { add("refresh_token_lifetime", "must be 60–31536000 seconds") }
        if s.tokenEndpointAuthMethod == "private_key_jwt" {
            if (s.jwks == nil) == (s.jwksURI == nil) { add("jwks", "private_key_jwt needs exactly one of jwks and jwks_uri") }
        } else if s.jwks != nil || s.jwksURI != nil {
            add("jwks", "jwks and jwks_uri are only for private_key_jwt clients")
        }
        if let uri = s.jwksURI, let why = policy.refusal(uri) { add("jwks_uri", "jwks_uri \(why)") }
        if let values = s.defaultACRValues {
            if values.count > ACR.supported.count || Set(values).count != values.count {
                add("default_acr_values", "at most \(ACR.supported.count) distinct values")
            }
            for value in values where ACR.rank(value) == nil {
                add("default_acr_values", "unknown acr \(value.prefix(64)); known: \(ACR.supported.joined(separator: " "))")
            }
        }
        // Sigil POSTs to it from the server: the outbound policy is the whole rule (https to a public
        // address, no credentials or fragment; other hosts only where the operator allows them).
        if let uri = s.backchannelLogoutURI, let why = policy.refusal(uri) { add("backchannel_logout_uri", "backchannel_logout_uri \(why)") }
        if let jwks = s.jwks {
            if jwks.utf8.count > 32 * 1024 {
                add("jwks", "at most 32 KiB")
            } else if let violation = Self.jsonViolation(jwks) {
                add("jwks", "jwks is not valid JSON: \(violation)")
            } else if let set = try? JSONDecoder().decode(JWKSet.self, from: Data(jwks.utf8)) {
                if set.keys.isEmpty || set.keys.contains(where: { !["RSA", "EC", "OKP"].contains($0.kty) }) {
                    add("jwks", "jwks must hold RSA, EC or OKP (Ed25519) public keys")
                }
                if Self.holdsPrivateKey(jwks) { add("jwks", "jwks must hold public keys only: a private member (d, p, q, …) was sent") }
            } else {
                add("jwks", "jwks must be a JWKS document ({\"keys\": [...]})")
            }
        }
        return errors
    }

    /// Whether any key in a JWKS text carries a private member. The decoder keeps only public
    /// members, so this reads the raw JSON: a client that pastes its private key must be told,
    /// not have the private half silently dropped (it has leaked and must be replaced).
    static func jsonViolation(_ text: String) -> String? {
        do { try StrictJSON.check(Array(text.utf8)); return nil } catch { return error.description }
    }

    static func holdsPrivateKey(_ jwks: String) -> Bool {
        guard let object = try? JSONSerialization.jsonObject(with: Data(jwks.utf8)) as? [String: Any],
            let keys = object["keys"] as? [[String: Any]]
        else { return false }
        let privateMembers: Set<String> = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"]
        return keys.contains { !privateMembers.isDisjoint(with: $0.keys) }
    }

    /// Spellings administrators may use, turned into what is stored (`emailAddress` → its URN).
    static func normalise(_ s: inout SAMLServiceProviderSettings) {
        if let format = NameIDFormat(spelling: s.nameIDFormat) { s.nameIDFormat = format.rawValue }
    }

    static func validate(_ s: SAMLServiceProviderSettings) -> [FieldError] {
        var errors: [FieldError] = []
        func add(_ field: String, _ message: String) { errors.append(FieldError(field: field, message: message)) }
        if s.entityID.isEmpty || s.entityID.count > 1024 { add("entity_id", "entity_id is required (at most 1024 characters)") }
        if s.entityID.unicodeScalars.contains(where: { $0.properties.isWhitespace }) { add("entity_id", "entity_id must not contain whitespace") }
        if s.assertionConsumerServices.isEmpty { add("acs", "at least one assertion consumer service URL is required") }
        for (i, acs) in s.assertionConsumerServices.enumerated() {
            if let message = Validate.absoluteURL(acs.url, field: "acs[\(i)].url") { add("acs[\(i)].url", message) }
            if URLComponents(string: acs.url)?.scheme?.lowercased() == "http",
                !["localhost", "127.0.0.1", "[::1]"].contains(URLComponents(string: acs.url)?.host?.lowercased() ?? "")
            {
                add("acs[\(i)].url", "assertions are only sent over https (http only for loopback)")
            }
            if ![SAMLBinding.httpPOST, .httpArtifact].contains(SAMLBinding(rawValue: acs.binding)) {
                add("acs[\(i)].binding", "binding must be HTTP-POST or HTTP-Artifact")
            }
        }
        if Set(s.assertionConsumerServices.map(\.index)).count != s.assertionConsumerServices.count {
            add("acs", "ACS indexes must be distinct")
        }
        if s.assertionConsumerServices.filter(\.isDefault).count > 1 { add("acs", "at most one ACS can be the default") }
        if let slo = s.singleLogoutURL, let message = Validate.absoluteURL(slo, field: "slo_url") { add("slo_url", message) }
        if NameIDFormat(rawValue: s.nameIDFormat) == nil {
            add("name_id_format", "unsupported NameID format; use emailAddress, persistent, transient, unspecified or the full URN")
        }
        for (i, mapping) in s.attributeMappings.enumerated() {
            if mapping.name.isEmpty { add("attribute_mappings[\(i)].name", "attribute name is required") }
            if !knownUserFields.contains(mapping.userField) {
                add("attribute_mappings[\(i)].user_field", "must be one of \(knownUserFields.sorted().joined(separator: ", "))")
            }
        }
        if s.encryptAssertions && s.assertionEncryptionCertificatePEM == nil {
            add("certificate", "encrypting assertions needs the SP's certificate")
        }
        if let pem = s.certificatePEM, !pem.contains("-----BEGIN CERTIFICATE-----") { add("certificate", "certificate must be PEM") }
        if let pem = s.encryptionCertificatePEM, !pem.contains("-----BEGIN CERTIFICATE-----") {
            add("encryption_certificate", "encryption_certificate must be PEM")
        }
        if s.encryptAssertions, let pem = s.assertionEncryptionCertificatePEM, pem.contains("-----BEGIN CERTIFICATE-----") {
            let field = s.encryptionCertificatePEM != nil ? "encryption_certificate" : "certificate"
            if let message = SAMLIdentityProviderService.assertionEncryptionProblem(certificatePEM: pem) { add(field, message) }
        }
        if s.wantAuthnRequestsSigned == true && s.certificatePEM == nil {
            add("certificate", "requiring signed AuthnRequests needs the SP's certificate")
        }
        return errors
    }

    static func summary(_ app: Application) -> [String: String] {
        switch app.settings {
        case .oidc(let s):
            return [
                "name": app.name, "kind": "oidc", "client_id": s.clientID, "redirect_uris": s.redirectURIs.joined(separator: " "),
                "grant_types": s.grantTypes.joined(separator: " "), "token_endpoint_auth_method": s.tokenEndpointAuthMethod,
                "require_pkce": String(s.requirePKCE), "require_par": String(s.requirePAR),
                "allowed_scopes": s.allowedScopes.joined(separator: " "), "backchannel_logout_uri": s.backchannelLogoutURI ?? "",
            ]
        case .saml(let s):
            return [
                "name": app.name, "kind": "saml", "entity_id": s.entityID,
                "acs": s.assertionConsumerServices.map(\.url).joined(separator: " "), "signing": s.signing.rawValue,
                "name_id_format": s.nameIDFormat, "encrypt_assertions": String(s.encryptAssertions),
            ]
        }
    }
}
