import Foundation
import OpenAPIRuntime
import SigilAdminAPI
import SigilCore
import SigilServices
import SigilStore

/// Between the generated types (`Components.Schemas`) and the records and service inputs.
extension AdminAPI {
    // MARK: parameters

    static func page(_ limit: Int?, _ cursor: String?) throws -> PageRequest {
        let limit = limit ?? 50
        guard (1...PageRequest.maximumLimit).contains(limit) else {
            throw Problem(
                status: .badRequest, type: "invalid-query", title: "Invalid query parameter",
                detail: "limit must be 1–\(PageRequest.maximumLimit)")
        }
        return PageRequest(limit: limit, after: cursor)
    }

    static func etag(_ version: Int) -> String { "\"\(version)\"" }

    /// The version `If-Match` asks for (RFC 9110 §13.1.1), as the OpenAPI document states it
    /// (`^(|\*|(W/)?"[0-9]+")$`): nil without the header, empty, or `*` (any current version); an
    /// entity tag this API issued is that version (412 if stale); anything else is a malformed
    /// header, 400.
    static func ifMatch(_ raw: String?) throws -> Int? {
        guard let raw else { return nil }
        let value = raw.trimmingCharacters(in: .whitespaces)
        // An empty field value is an empty list (RFC 9110 §5.6.1): no precondition, as if absent.
        if value == "*" || value.isEmpty { return nil }
        let strong = value.hasPrefix("W/") ? String(value.dropFirst(2)) : value
        guard strong.count >= 3, strong.hasPrefix("\""), strong.hasSuffix("\""),
            strong.dropFirst().dropLast().allSatisfy({ $0.isASCII && $0.isNumber }), let version = Int(strong.dropFirst().dropLast())
        else {
            throw Problem(status: .badRequest, type: "invalid-header", title: "If-Match must be * or an ETag this API returned")
        }
        return version
    }

    // MARK: records → schemas

    static func tenant(_ tenant: Tenant, call: AdminCall) -> Schemas.Tenant {
        .init(
            createdAt: tenant.createdAt, displayName: tenant.displayName, host: tenant.host, id: tenant.id,
            issuer: TenantService.issuer(of: tenant, publicURL: rootIssuer(call.context)), name: tenant.slug)
    }

    /// The deployment's public URL, recovered from the request's issuer.
    static func rootIssuer(_ context: SigilRequestContext) -> String {
        if let slug = context.tenant?.slug, context.issuer.hasSuffix("/t/\(slug)") {
            return String(context.issuer.dropLast("/t/\(slug)".count))
        }
        return context.issuer
    }

    static func user(_ user: User) -> Schemas.User {
        .init(
            createdAt: user.createdAt, email: user.email, familyName: user.familyName, givenName: user.givenName, id: user.id,
            status: .init(rawValue: user.status.rawValue), updatedAt: user.updatedAt, version: user.version,
            roles: user.roles.compactMap { .init(rawValue: $0) })
    }

    static func userStatus<S: RawRepresentable<String>>(_ status: S) -> UserStatus {
        UserStatus(rawValue: status.rawValue) ?? .active
    }

    static func passkey(_ p: Passkey) -> Schemas.Passkey {
        .init(
            aaguid: p.aaguid, backupEligible: p.backupEligible, cloneWarning: p.cloneWarning, createdAt: p.createdAt,
            credentialId: p.credentialID, lastUsedAt: p.lastUsedAt, name: p.name, signCount: p.signCount, userId: p.userID)
    }

    static func consent(_ entry: OAuthService.ConsentEntry) -> Schemas.Consent {
        .init(
            applicationId: entry.application?.id, applicationName: entry.application?.name, claims: entry.grant.claims,
            clientId: entry.grant.clientID, createdAt: entry.grant.createdAt, scopes: entry.grant.scopes, updatedAt: entry.grant.updatedAt)
    }

    static func key(_ record: SigningKeyRecord) -> Schemas.Key {
        .init(
            alg: record.algorithm, createdAt: record.createdAt, kid: record.kid, state: .init(rawValue: record.state.rawValue),
            updatedAt: record.updatedAt)
    }

    static func auditEvent(_ e: AuditEvent) -> Schemas.AuditEvent {
        .init(
            action: e.action, actor: e.actor, after: e.after.map { .init(additionalProperties: $0) },
            before: e.before.map { .init(additionalProperties: $0) }, id: e.id, occurredAt: e.occurredAt,
            outcome: .init(rawValue: e.outcome.rawValue), reason: e.reason, targetId: e.targetID, targetType: e.targetType)
    }

    static func auditFinding(_ f: AuditFinding) -> Schemas.AuditFinding {
        .init(kind: .init(rawValue: f.kind.rawValue) ?? .changed, sequence: f.sequence, eventId: f.eventID, message: f.message)
    }

    static func application(_ app: SigilStore.Application, clientSecret: String? = nil) -> Schemas.Application {
        var body = Schemas.Application(
            clientSecret: clientSecret, createdAt: app.createdAt, id: app.id, name: app.name,
            _protocol: .init(rawValue: app.kind), updatedAt: app.updatedAt, version: app.version)
        switch app.settings {
        case .oidc(let s):
            var oidc = Schemas.Application.OidcPayload()
            oidc.clientId = s.clientID
            oidc.redirectUris = s.redirectURIs
            oidc.postLogoutRedirectUris = s.postLogoutRedirectURIs
            oidc.grantTypes = s.grantTypes
            oidc.tokenEndpointAuthMethod = .init(rawValue: s.tokenEndpointAuthMethod)
            oidc.requirePkce = s.requirePKCE
            oidc.requirePar = s.requirePAR
            oidc.identityVerification = s.isIdentityVerification
            oidc.allowedScopes = s.allowedScopes
            oidc.idTokenSignedResponseAlg = .init(rawValue: s.idTokenSigningAlg)
            oidc.accessTokenLifetime = s.accessTokenLifetimeSeconds
            oidc.idTokenLifetime = s.idTokenLifetimeSeconds
            oidc.refreshTokenLifetime = s.refreshTokenLifetimeSeconds
            oidc.jwks = s.jwks.flatMap { try? JSONDecoder().decode(OpenAPIObjectContainer.self, from: Data($0.utf8)) }
            oidc.jwksUri = s.jwksURI
            /// Set while a rotated-out secret is still accepted.
            if s.previousClientSecretHash != nil { oidc.previousSecretExpiresAt = s.previousClientSecretExpiresAt }
            oidc.consent = .init(rawValue: (s.consent ?? .implicit).rawValue)
            oidc.defaultAcrValues = s.defaultACRValues ?? []
            oidc.backchannelLogoutUri = s.backchannelLogoutURI
            oidc.backchannelLogoutSessionRequired = s.backchannelLogoutSessionRequired ?? false
            body.oidc = oidc
        case .saml(let s):
            var saml = Schemas.Application.SamlPayload()
            saml.entityId = s.entityID
            saml.acs = s.assertionConsumerServices.map { .init(binding: $0.binding, index: $0.index, isDefault: $0.isDefault, url: $0.url) }
            saml.sloUrl = s.singleLogoutURL
            saml.sloBinding = .init(rawValue: s.logoutBinding.rawValue)
            saml.nameIdFormat = s.nameIDFormat
            saml.attributeMappings = s.attributeMappings.map {
                .init(name: $0.name, nameFormat: $0.nameFormat, userField: .init(rawValue: $0.userField) ?? .email)
            }
            saml.signing = .init(rawValue: s.signing.rawValue)
            saml.encryptAssertions = s.encryptAssertions
            saml.certificate = s.certificatePEM
            saml.encryptionCertificate = s.encryptionCertificatePEM
            saml.authnContextClassRef = s.authnContextClassRef
            saml.wantAuthnRequestsSigned = s.wantAuthnRequestsSigned ?? false
            body.saml = saml
        }
        return body
    }

    // MARK: request bodies → service inputs

    /// A JWKS object as the JSON text the settings keep.
    static func jwksText(_ value: some Encodable) throws -> String {
        String(decoding: try JSONEncoder().encode(value), as: UTF8.self)
    }

    static func acs<A>(_ list: [A], url: (A) -> String, binding: (A) -> String?, index: (A) -> Int?, isDefault: (A) -> Bool?)
        -> [SAMLServiceProviderSettings.AssertionConsumerService]
    {
        list.enumerated().map { i, acs in
            .init(
                url: url(acs), binding: binding(acs) ?? SAMLServiceProviderSettings.httpPOST, index: index(acs) ?? i,
                isDefault: isDefault(acs) ?? (i == 0))
        }
    }

    static let unspecifiedNameFormat = "urn:oasis:names:tc:SAML:2.0:attrname-format:unspecified"

    /// The `ApplicationService.Change` a PATCH body asks for.
    static func change(_ body: Schemas.PatchApplication) throws -> ApplicationService.Change {
        var change = ApplicationService.Change()
        change.name = body.name
        change.redirectURIs = body.redirectUris
        change.postLogoutRedirectURIs = body.postLogoutRedirectUris
        change.tokenEndpointAuthMethod = body.tokenEndpointAuthMethod?.rawValue
        change.grantTypes = body.grantTypes
        change.requirePKCE = body.requirePkce
        change.requirePAR = body.requirePar
        change.identityVerification = body.identityVerification
        change.allowedScopes = body.allowedScopes
        change.idTokenSigningAlg = body.idTokenSignedResponseAlg?.rawValue
        change.accessTokenLifetimeSeconds = body.accessTokenLifetime
        change.idTokenLifetimeSeconds = body.idTokenLifetime
        change.refreshTokenLifetimeSeconds = body.refreshTokenLifetime
        change.jwks = try body.jwks.map(jwksText)
        change.jwksURI = body.jwksUri
        change.consent = body.consent.flatMap { OIDCClientSettings.ConsentMode(rawValue: $0.rawValue) }
        change.defaultACRValues = body.defaultAcrValues
        change.backchannelLogoutURI = body.backchannelLogoutUri
        change.backchannelLogoutSessionRequired = body.backchannelLogoutSessionRequired
        change.entityID = body.entityId
        change.assertionConsumerServices = body.acs.map { acs($0, url: \.url, binding: \.binding, index: \.index, isDefault: \.isDefault) }
        change.singleLogoutURL = body.sloUrl
        change.singleLogoutBinding = body.sloBinding.flatMap { .init(rawValue: $0.rawValue) }
        change.nameIDFormat = body.nameIdFormat
        change.attributeMappings = body.attributeMappings?.map {
            .init(name: $0.name, userField: $0.userField.rawValue, nameFormat: $0.nameFormat ?? unspecifiedNameFormat)
        }
        change.signing = body.signing.flatMap { .init(rawValue: $0.rawValue) }
        change.encryptAssertions = body.encryptAssertions
        change.certificatePEM = body.certificate
        change.encryptionCertificatePEM = body.encryptionCertificate
        change.authnContextClassRef = body.authnContextClassRef
        change.wantAuthnRequestsSigned = body.wantAuthnRequestsSigned
        return change
    }

    /// The SAML settings a create body sets, as a change (the same rule as a PATCH).
    static func samlChange(_ body: Schemas.CreateApplication) -> ApplicationService.Change {
        var change = ApplicationService.Change()
        change.entityID = body.entityId
        change.assertionConsumerServices = body.acs.map { acs($0, url: \.url, binding: \.binding, index: \.index, isDefault: \.isDefault) }
        change.singleLogoutURL = body.sloUrl
        change.singleLogoutBinding = body.sloBinding.flatMap { .init(rawValue: $0.rawValue) }
        change.nameIDFormat = body.nameIdFormat
        change.attributeMappings = body.attributeMappings?.map {
            .init(name: $0.name, userField: $0.userField.rawValue, nameFormat: $0.nameFormat ?? unspecifiedNameFormat)
        }
        change.signing = body.signing.flatMap { .init(rawValue: $0.rawValue) }
        change.encryptAssertions = body.encryptAssertions
        change.certificatePEM = body.certificate
        change.encryptionCertificatePEM = body.encryptionCertificate
        change.authnContextClassRef = body.authnContextClassRef
        change.wantAuthnRequestsSigned = body.wantAuthnRequestsSigned
        return change
    }

    /// The OIDC fields of a create body that are set (`public` included), by their API names.
    static func oidcFields(_ body: Schemas.CreateApplication) -> [String] {
        let set: [(String, Bool)] = [
            ("redirect_uris", body.redirectUris != nil), ("post_logout_redirect_uris", body.postLogoutRedirectUris != nil),
            ("public", body._public != nil), ("token_endpoint_auth_method", body.tokenEndpointAuthMethod != nil),
            ("grant_types", body.grantTypes != nil), ("require_pkce", body.requirePkce != nil), ("require_par", body.requirePar != nil),
            ("allowed_scopes", body.allowedScopes != nil), ("id_token_signed_response_alg", body.idTokenSignedResponseAlg != nil),
            ("access_token_lifetime", body.accessTokenLifetime != nil), ("id_token_lifetime", body.idTokenLifetime != nil),
            ("refresh_token_lifetime", body.refreshTokenLifetime != nil), ("jwks", body.jwks != nil), ("jwks_uri", body.jwksUri != nil),
            ("consent", body.consent != nil), ("default_acr_values", body.defaultAcrValues != nil),
            ("backchannel_logout_uri", body.backchannelLogoutUri != nil),
            ("backchannel_logout_session_required", body.backchannelLogoutSessionRequired != nil),
            ("identity_verification", body.identityVerification != nil),
        ]
        return set.filter(\.1).map(\.0)
    }

    func createApplication(
        _ body: Schemas.CreateApplication, tenantID: String,
        principal: Principal
    ) async throws -> (SigilStore.Application, SigilCore.Secret<String>?) {
        switch body._protocol {
        case .oidc:
            var saml = Self.samlChange(body).samlFields
            if body.metadataUrl != nil { saml.append("metadata_url") }
            if body.metadata != nil { saml.append("metadata") }
            try ApplicationService.Change.refuse(saml, applyingTo: "saml")
            var input = ApplicationService.NewOIDCClient(name: body.name, redirectURIs: body.redirectUris ?? [])
            input.postLogoutRedirectURIs = body.postLogoutRedirectUris ?? []
            input.isPublic = body._public ?? false
            input.tokenEndpointAuthMethod = body.tokenEndpointAuthMethod?.rawValue
            input.grantTypes = body.grantTypes
            input.requirePKCE = body.requirePkce
            input.requirePAR = body.requirePar ?? false
            input.identityVerification = body.identityVerification ?? false
            input.allowedScopes = body.allowedScopes
            input.idTokenSigningAlg = body.idTokenSignedResponseAlg?.rawValue
            input.accessTokenLifetimeSeconds = body.accessTokenLifetime
            input.idTokenLifetimeSeconds = body.idTokenLifetime
            input.refreshTokenLifetimeSeconds = body.refreshTokenLifetime
            input.jwks = try body.jwks.map(Self.jwksText)
            input.jwksURI = body.jwksUri
            input.consent = body.consent.flatMap { OIDCClientSettings.ConsentMode(rawValue: $0.rawValue) }
            input.defaultACRValues = body.defaultAcrValues
            input.backchannelLogoutURI = body.backchannelLogoutUri
            input.backchannelLogoutSessionRequired = body.backchannelLogoutSessionRequired
            return try await services.applications.createOIDC(tenantID: tenantID, input, by: principal)
        case .saml:
            try ApplicationService.Change.refuse(Self.oidcFields(body), applyingTo: "oidc")
            var settings: SAMLServiceProviderSettings
            switch (body.metadataUrl, body.metadata) {
            case (.some, .some):
                throw Problem.invalidType("metadata", "send metadata_url or metadata, not both")
            case (.some(let url), nil):
                settings = try await services.applications.samlSettings(fromMetadataURL: url)
            case (nil, .some(let xml)):
                do { settings = try SAMLIdentityProviderService.settings(fromMetadata: Array(xml.utf8)) } catch {
                    throw ServiceError.invalid([FieldError(field: "metadata", message: "the document is not usable SP metadata: \(error)")])
                }
            case (nil, nil):
                guard let entityID = body.entityId else { throw Problem.invalidType("entity_id", "entity_id (or metadata_url, or metadata) is required") }
                settings = SAMLServiceProviderSettings(entityID: entityID, assertionConsumerServices: [])
            }
            // Fields sent with metadata override what it says (an SP's metadata may list an ACS
            // for another environment, or no certificate).
            var app = SigilStore.Application(
                id: "", tenantID: tenantID, name: body.name, settings: .saml(settings),
                createdAt: Date(), updatedAt: Date())
            try Self.samlChange(body).apply(to: &app)
            guard case .saml(let final) = app.settings else { throw Problem.invalidType("protocol", "not a SAML application") }
            return (try await services.applications.createSAML(tenantID: tenantID, .init(name: body.name, settings: final), by: principal), nil)
        }
    }
}
