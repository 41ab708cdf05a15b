import Foundation
import SigilJOSE
import SigilServices
import SigilStore

// JSON shapes of the admin API. Encoded with snake_case keys (JSONResponse), decoded from
// snake_case (JSONBody). Each request type lists the fields it accepts: anything else is refused.

struct UserBody: Encodable {
    var id: String
    var email: String
    var givenName: String
    var familyName: String
    var status: String
    var createdAt: Date
    var updatedAt: Date
    var version: Int

    init(_ user: User) {
        id = user.id; email = user.email; givenName = user.givenName; familyName = user.familyName
        status = user.status.rawValue; createdAt = user.createdAt; updatedAt = user.updatedAt; version = user.version
    }
}

struct PasskeyBody: Encodable {
    var credentialId: String
    var userId: String
    var name: String
    var aaguid: String
    var backupEligible: Bool
    var signCount: Int
    var cloneWarning: Bool
    var createdAt: Date
    var lastUsedAt: Date?

    init(_ p: Passkey) {
        credentialId = p.credentialID; userId = p.userID; name = p.name; aaguid = p.aaguid; backupEligible = p.backupEligible
        signCount = p.signCount; cloneWarning = p.cloneWarning; createdAt = p.createdAt; lastUsedAt = p.lastUsedAt
    }
}

struct CreateUserRequest: Decodable {
    static let fields: Set<String> = ["email", "given_name", "family_name", "status"]
    var email: String
    var givenName: String
    var familyName: String
    var status: UserStatus?
}

struct PatchUserRequest: Decodable {
    static let fields: Set<String> = ["email", "given_name", "family_name", "status"]
    var email: String?
    var givenName: String?
    var familyName: String?
    var status: UserStatus?
}

struct RevokedSessionsBody: Encodable {
    var revoked: Int
}

struct ListBody<Item: Encodable>: Encodable {
    var items: [Item]
    var nextCursor: String?
}

struct TenantBody: Encodable {
    var id: String
    var name: String
    var displayName: String
    var host: String?
    var issuer: String
    var createdAt: Date
}

struct CreateTenantRequest: Decodable {
    static let fields: Set<String> = ["name", "display_name", "host"]
    var name: String
    var displayName: String?
    var host: String?
}

struct OIDCBody: Codable {
    var clientId: String
    var redirectUris: [String]
    var postLogoutRedirectUris: [String]
    var grantTypes: [String]
    var tokenEndpointAuthMethod: String
    var requirePkce: Bool
    var requirePar: Bool
    var allowedScopes: [String]
    var idTokenSignedResponseAlg: String
    var accessTokenLifetime: Int
    var idTokenLifetime: Int
    var refreshTokenLifetime: Int
    var jwks: JSONValue?
    var jwksUri: String?
    /// Set while a rotated-out secret is still accepted.
    var previousSecretExpiresAt: Date?
    var consent: String
    var defaultAcrValues: [String]
    var backchannelLogoutUri: String?
    var backchannelLogoutSessionRequired: Bool

    init(_ s: OIDCClientSettings) {
        clientId = s.clientID; redirectUris = s.redirectURIs; postLogoutRedirectUris = s.postLogoutRedirectURIs
        grantTypes = s.grantTypes; tokenEndpointAuthMethod = s.tokenEndpointAuthMethod; requirePkce = s.requirePKCE
        requirePar = s.requirePAR; allowedScopes = s.allowedScopes; idTokenSignedResponseAlg = s.idTokenSigningAlg
        accessTokenLifetime = s.accessTokenLifetimeSeconds; idTokenLifetime = s.idTokenLifetimeSeconds
        refreshTokenLifetime = s.refreshTokenLifetimeSeconds
        jwks = s.jwks.flatMap { try? JSONDecoder().decode(JSONValue.self, from: Data($0.utf8)) }
        jwksUri = s.jwksURI
        if let until = s.previousClientSecretExpiresAt, s.previousClientSecretHash != nil { previousSecretExpiresAt = until }
        consent = (s.consent ?? .implicit).rawValue; defaultAcrValues = s.defaultACRValues ?? []
        backchannelLogoutUri = s.backchannelLogoutURI
        backchannelLogoutSessionRequired = s.backchannelLogoutSessionRequired ?? false
    }
}

/// The body of `POST /applications/{id}/client-secret`.
struct RotateSecretRequest: Decodable {
    static let fields: Set<String> = ["grace_period"]
    /// Seconds the old secret keeps working (0–604800; default 0: it stops at once).
    var gracePeriod: Int?
}

/// The answer to a secret rotation: the new secret, shown once.
struct RotatedSecretBody: Encodable {
    var application: ApplicationBody
    var clientSecret: String
    var previousSecretExpiresAt: Date?
}

struct ACSBody: Codable {
    var url: String
    var binding: String?
    var index: Int?
    var isDefault: Bool?
}

struct AttributeMappingBody: Codable {
    var name: String
    var userField: String
    var nameFormat: String?
}

struct SAMLBody: Encodable {
    var entityId: String
    var acs: [ACSBody]
    var sloUrl: String?
    var sloBinding: String
    var nameIdFormat: String
    var attributeMappings: [AttributeMappingBody]
    var signing: String
    var encryptAssertions: Bool
    var certificate: String?
    var encryptionCertificate: String?
    var authnContextClassRef: String?
    var wantAuthnRequestsSigned: Bool

    init(_ s: SAMLServiceProviderSettings) {
        entityId = s.entityID
        acs = s.assertionConsumerServices.map { ACSBody(url: $0.url, binding: $0.binding, index: $0.index, isDefault: $0.isDefault) }
        sloUrl = s.singleLogoutURL; sloBinding = s.logoutBinding.rawValue; nameIdFormat = s.nameIDFormat
        attributeMappings = s.attributeMappings.map { AttributeMappingBody(name: $0.name, userField: $0.userField, nameFormat: $0.nameFormat) }
        signing = s.signing.rawValue; encryptAssertions = s.encryptAssertions; certificate = s.certificatePEM
        encryptionCertificate = s.encryptionCertificatePEM
        authnContextClassRef = s.authnContextClassRef
        wantAuthnRequestsSigned = s.wantAuthnRequestsSigned ?? false
    }
}

struct ApplicationBody: Encodable {
    var id: String
    var name: String
    var `protocol`: String
    var oidc: OIDCBody?
    var saml: SAMLBody?
    /// Only in the response that created the client.
    var clientSecret: String?
    var createdAt: Date
    var updatedAt: Date
    var version: Int

    init(_ app: SigilStore.Application, clientSecret: String? = nil) {
        id = app.id; name = app.name; `protocol` = app.kind; createdAt = app.createdAt; updatedAt = app.updatedAt
        version = app.version; self.clientSecret = clientSecret
        switch app.settings {
        case .oidc(let s): oidc = OIDCBody(s)
        case .saml(let s): saml = SAMLBody(s)
        }
    }
}

/// The body of `POST /applications` and `PATCH /applications/{id}`. On create `name` and
/// `protocol` are required and `protocol` picks which of the other fields apply; a PATCH may not
/// send `protocol` or `public`.
struct ApplicationRequest: Decodable {
    static let oidcFields: Set<String> = [
        "redirect_uris", "post_logout_redirect_uris", "public", "token_endpoint_auth_method", "grant_types", "require_pkce",
        "require_par", "allowed_scopes", "id_token_signed_response_alg", "access_token_lifetime", "id_token_lifetime",
        "refresh_token_lifetime", "jwks", "jwks_uri", "consent", "default_acr_values", "backchannel_logout_uri", "backchannel_logout_session_required",
    ]
    static let samlFields: Set<String> = [
        "entity_id", "acs", "slo_url", "slo_binding", "name_id_format", "attribute_mappings", "signing", "encrypt_assertions", "certificate",
        "encryption_certificate", "authn_context_class_ref", "want_authn_requests_signed", "metadata_url", "metadata",
    ]
    static let createFields: Set<String> = oidcFields.union(samlFields).union(["name", "protocol"])
    static let patchFields: Set<String> = createFields.subtracting(["protocol", "public", "metadata_url", "metadata"])

    var name: String?
    var `protocol`: String?
    // OIDC
    var redirectUris: [String]?
    var postLogoutRedirectUris: [String]?
    var `public`: Bool?
    var tokenEndpointAuthMethod: String?
    var grantTypes: [String]?
    var requirePkce: Bool?
    var requirePar: Bool?
    var allowedScopes: [String]?
    var idTokenSignedResponseAlg: String?
    var accessTokenLifetime: Int?
    var idTokenLifetime: Int?
    var refreshTokenLifetime: Int?
    /// For private_key_jwt, one of: the client's JWKS object, or the URL it is published at.
    /// Setting one in a PATCH removes the other.
    var jwks: JSONValue?
    var jwksUri: String?
    var consent: OIDCClientSettings.ConsentMode?
    var defaultAcrValues: [String]?
    var backchannelLogoutUri: String?
    var backchannelLogoutSessionRequired: Bool?
    // SAML
    /// Create only: the SP's metadata, fetched from this URL (https; http only on loopback)…
    var metadataUrl: String?
    /// …or given inline as XML text. Fields sent alongside override what the metadata says.
    var metadata: String?
    var entityId: String?
    var acs: [ACSBody]?
    var sloUrl: String?
    /// `post` or `redirect`: how Sigil sends logout messages to `slo_url`.
    var sloBinding: SAMLServiceProviderSettings.LogoutBinding?
    var nameIdFormat: String?
    var attributeMappings: [AttributeMappingBody]?
    var signing: SAMLServiceProviderSettings.Signing?
    var encryptAssertions: Bool?
    var certificate: String?
    var encryptionCertificate: String?
    var authnContextClassRef: String?
    var wantAuthnRequestsSigned: Bool?

    /// Which fields of `group` the body set (to refuse SAML fields on an OIDC app and the reverse).
    func present(_ group: Set<String>) -> [String] {
        let set: [String: Bool] = [
            "redirect_uris": redirectUris != nil, "post_logout_redirect_uris": postLogoutRedirectUris != nil,
            "public": self.public != nil, "token_endpoint_auth_method": tokenEndpointAuthMethod != nil,
            "grant_types": grantTypes != nil, "require_pkce": requirePkce != nil, "require_par": requirePar != nil,
            "allowed_scopes": allowedScopes != nil, "id_token_signed_response_alg": idTokenSignedResponseAlg != nil,
            "access_token_lifetime": accessTokenLifetime != nil, "id_token_lifetime": idTokenLifetime != nil,
            "refresh_token_lifetime": refreshTokenLifetime != nil, "jwks": jwks != nil, "jwks_uri": jwksUri != nil,
            "metadata_url": metadataUrl != nil, "metadata": metadata != nil, "consent": consent != nil,
            "default_acr_values": defaultAcrValues != nil,
            "backchannel_logout_uri": backchannelLogoutUri != nil,
            "backchannel_logout_session_required": backchannelLogoutSessionRequired != nil,
            "entity_id": entityId != nil, "acs": acs != nil, "slo_url": sloUrl != nil, "slo_binding": sloBinding != nil,
            "name_id_format": nameIdFormat != nil, "attribute_mappings": attributeMappings != nil,
            "signing": signing != nil, "encrypt_assertions": encryptAssertions != nil,
            "certificate": certificate != nil, "encryption_certificate": encryptionCertificate != nil, "authn_context_class_ref": authnContextClassRef != nil,
            "want_authn_requests_signed": wantAuthnRequestsSigned != nil,
        ]
        return group.filter { set[$0] == true }.sorted()
    }
}

struct KeyBody: Encodable {
    var kid: String
    var alg: String
    var state: String
    var createdAt: Date
    var updatedAt: Date

    init(_ record: SigningKeyRecord) {
        kid = record.kid; alg = record.algorithm; state = record.state.rawValue
        createdAt = record.createdAt; updatedAt = record.updatedAt
    }
}

struct AuditEventBody: Encodable {
    var id: String
    var occurredAt: Date
    var actor: String
    var action: String
    var targetType: String?
    var targetId: String?
    var outcome: String
    var before: [String: String]?
    var after: [String: String]?
    var reason: String?

    init(_ e: AuditEvent) {
        id = e.id; occurredAt = e.occurredAt; actor = e.actor; action = e.action; targetType = e.targetType
        targetId = e.targetID; outcome = e.outcome.rawValue; before = e.before; after = e.after; reason = e.reason
    }
}

extension [ACSBody] {
    func settings() -> [SAMLServiceProviderSettings.AssertionConsumerService] {
        enumerated().map { i, acs in
            .init(url: acs.url, binding: acs.binding ?? SAMLServiceProviderSettings.httpPOST, index: acs.index ?? i,
                  isDefault: acs.isDefault ?? (i == 0))
        }
    }
}

extension [AttributeMappingBody] {
    func settings() -> [SAMLServiceProviderSettings.AttributeMapping] {
        map { .init(name: $0.name, userField: $0.userField, nameFormat: $0.nameFormat ?? "urn:oasis:names:tc:SAML:2.0:attrname-format:unspecified") }
    }
}

/// A user's standing approval of an OIDC client (`GET /users/{id}/consents`).
struct ConsentBody: Encodable {
    var clientId: String
    var applicationId: String?
    var applicationName: String?
    var scopes: [String]
    var claims: [String]
    var createdAt: Date
    var updatedAt: Date

    init(_ entry: OAuthService.ConsentEntry) {
        clientId = entry.grant.clientID; applicationId = entry.application?.id; applicationName = entry.application?.name
        scopes = entry.grant.scopes; claims = entry.grant.claims; createdAt = entry.grant.createdAt; updatedAt = entry.grant.updatedAt
    }
}
