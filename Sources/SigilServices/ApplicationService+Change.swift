import SigilStore

extension ApplicationService {
    /// One change to a registered application: the rule the admin API (`PATCH /applications/{id}`,
    /// and the fields sent with a SAML SP's metadata on create) and the CLI (`sigil app update`)
    /// share. nil leaves a setting as it is; the result is validated as a whole by `update`.
    public struct Change: Sendable {
        public var name: String?
        // OIDC
        /// Replaces the list; `addRedirectURIs` and `removeRedirectURIs` then edit it.
        public var redirectURIs: [String]?
        public var addRedirectURIs: [String] = []
        public var removeRedirectURIs: [String] = []
        public var postLogoutRedirectURIs: [String]?
        /// Leaving `private_key_jwt` drops the client's keys (`jwks`, `jwksURI`).
        public var tokenEndpointAuthMethod: String?
        public var grantTypes: [String]?
        public var requirePKCE: Bool?
        public var requirePAR: Bool?
        public var allowedScopes: [String]?
        public var idTokenSigningAlg: String?
        public var accessTokenLifetimeSeconds: Int?
        public var idTokenLifetimeSeconds: Int?
        public var refreshTokenLifetimeSeconds: Int?
        /// A client has one key source: setting one of these removes the other.
        public var jwks: String?
        public var jwksURI: String?
        public var consent: OIDCClientSettings.ConsentMode?
        /// An empty list removes the default.
        public var defaultACRValues: [String]?
        /// An empty string removes the URI.
        public var backchannelLogoutURI: String?
        public var backchannelLogoutSessionRequired: Bool?
        public var identityVerification: Bool?
        // SAML
        public var entityID: String?
        public var assertionConsumerServices: [SAMLServiceProviderSettings.AssertionConsumerService]?
        public var singleLogoutURL: String?
        public var singleLogoutBinding: SAMLServiceProviderSettings.LogoutBinding?
        public var nameIDFormat: String?
        public var attributeMappings: [SAMLServiceProviderSettings.AttributeMapping]?
        public var signing: SAMLServiceProviderSettings.Signing?
        public var encryptAssertions: Bool?
        public var certificatePEM: String?
        /// An empty string removes it (the signing certificate is used).
        public var encryptionCertificatePEM: String?
        public var authnContextClassRef: String?
        public var wantAuthnRequestsSigned: Bool?

        public init() {}

        /// The OIDC settings this change sets, by their admin API names.
        public var oidcFields: [String] {
            let set: [(String, Bool)] = [
                ("redirect_uris", redirectURIs != nil || !addRedirectURIs.isEmpty || !removeRedirectURIs.isEmpty),
                ("post_logout_redirect_uris", postLogoutRedirectURIs != nil),
                ("token_endpoint_auth_method", tokenEndpointAuthMethod != nil), ("grant_types", grantTypes != nil),
                ("require_pkce", requirePKCE != nil), ("require_par", requirePAR != nil), ("allowed_scopes", allowedScopes != nil),
                ("id_token_signed_response_alg", idTokenSigningAlg != nil), ("access_token_lifetime", accessTokenLifetimeSeconds != nil),
                ("id_token_lifetime", idTokenLifetimeSeconds != nil), ("refresh_token_lifetime", refreshTokenLifetimeSeconds != nil),
                ("jwks", jwks != nil), ("jwks_uri", jwksURI != nil), ("consent", consent != nil),
                ("default_acr_values", defaultACRValues != nil), ("backchannel_logout_uri", backchannelLogoutURI != nil),
                ("backchannel_logout_session_required", backchannelLogoutSessionRequired != nil),
                ("identity_verification", identityVerification != nil),
            ]
            return set.filter(\.1).map(\.0)
        }

        /// The SAML settings this change sets, by their admin API names.
        public var samlFields: [String] {
            let set: [(String, Bool)] = [
                ("entity_id", entityID != nil), ("acs", assertionConsumerServices != nil), ("slo_url", singleLogoutURL != nil),
                ("slo_binding", singleLogoutBinding != nil), ("name_id_format", nameIDFormat != nil),
                ("attribute_mappings", attributeMappings != nil), ("signing", signing != nil),
                ("encrypt_assertions", encryptAssertions != nil), ("certificate", certificatePEM != nil),
                ("encryption_certificate", encryptionCertificatePEM != nil), ("authn_context_class_ref", authnContextClassRef != nil),
                ("want_authn_requests_signed", wantAuthnRequestsSigned != nil),
            ]
            return set.filter(\.1).map(\.0)
        }

        /// Settings of the other protocol are a validation error naming each field, not ignored.
        /// `kind` is the protocol they belong to (`oidc` or `saml`).
        public static func refuse(_ fields: [String], applyingTo kind: String) throws {
            guard !fields.isEmpty else { return }
            let errors = fields.sorted().map { FieldError(field: $0, message: "\($0) applies to \(kind) applications only") }
            throw ServiceError(
                .invalidInput,
                errors.count == 1 ? errors[0].message : "\(errors.count) fields apply to \(kind) applications only",
                fieldErrors: errors)
        }

        /// Applies the change to `app` (no validation: `update` validates the result).
        public func apply(to app: inout Application) throws {
            if let name { app.name = name }
            switch app.settings {
            case .oidc(var s):
                try Self.refuse(samlFields, applyingTo: "saml")
                if let v = redirectURIs { s.redirectURIs = v }
                s.redirectURIs.removeAll { removeRedirectURIs.contains($0) }
                for uri in addRedirectURIs where !s.redirectURIs.contains(uri) { s.redirectURIs.append(uri) }
                if let v = postLogoutRedirectURIs { s.postLogoutRedirectURIs = v }
                if let v = tokenEndpointAuthMethod { s.tokenEndpointAuthMethod = v }
                if let v = grantTypes { s.grantTypes = v }
                if let v = requirePKCE { s.requirePKCE = v }
                if let v = requirePAR { s.requirePAR = v }
                if let v = identityVerification { s.identityVerification = v }
                if let v = allowedScopes { s.allowedScopes = v }
                if let v = idTokenSigningAlg { s.idTokenSigningAlg = v }
                if let v = accessTokenLifetimeSeconds { s.accessTokenLifetimeSeconds = v }
                if let v = idTokenLifetimeSeconds { s.idTokenLifetimeSeconds = v }
                if let v = refreshTokenLifetimeSeconds { s.refreshTokenLifetimeSeconds = v }
                if let v = jwks { s.jwks = v; s.jwksURI = nil }
                if let v = jwksURI { s.jwksURI = v; s.jwks = nil }
                if tokenEndpointAuthMethod != nil, s.tokenEndpointAuthMethod != "private_key_jwt" { s.jwks = nil; s.jwksURI = nil }
                if let v = consent { s.consent = v }
                if let v = defaultACRValues { s.defaultACRValues = v.isEmpty ? nil : v }
                if let v = backchannelLogoutURI { s.backchannelLogoutURI = v.isEmpty ? nil : v }
                if let v = backchannelLogoutSessionRequired { s.backchannelLogoutSessionRequired = v }
                app.settings = .oidc(s)
            case .saml(var s):
                try Self.refuse(oidcFields, applyingTo: "oidc")
                if let v = entityID { s.entityID = v }
                if let v = assertionConsumerServices { s.assertionConsumerServices = v }
                if let v = singleLogoutURL { s.singleLogoutURL = v }
                if let v = singleLogoutBinding { s.singleLogoutBinding = v }
                if let v = nameIDFormat { s.nameIDFormat = v }
                if let v = attributeMappings { s.attributeMappings = v }
                if let v = signing { s.signing = v }
                if let v = encryptAssertions { s.encryptAssertions = v }
                if let v = certificatePEM { s.certificatePEM = v }
                if let v = encryptionCertificatePEM { s.encryptionCertificatePEM = v.isEmpty ? nil : v }
                if let v = authnContextClassRef { s.authnContextClassRef = v }
                if let v = wantAuthnRequestsSigned { s.wantAuthnRequestsSigned = v }
                app.settings = .saml(s)
            }
        }
    }

    /// Applies `change` to the stored application, validated as `update(…, _:)` does.
    public func update(
        tenantID: String, id: String, expectedVersion: Int?, _ change: Change,
        by principal: Principal
    ) async throws -> Application {
        try await update(tenantID: tenantID, id: id, expectedVersion: expectedVersion, by: principal) { app in
            try change.apply(to: &app)
        }
    }
}
