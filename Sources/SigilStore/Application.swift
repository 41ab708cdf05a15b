import Foundation

/// A relying party registered with a tenant: an OpenID Connect client or a SAML service provider.
public struct Application: Codable, Sendable, Equatable {
    public var id: String
    public var tenantID: String
    public var name: String
    public var settings: ApplicationSettings
    public var createdAt: Date
    public var updatedAt: Date
    public var version: Int

    public init(
        id: String, tenantID: String, name: String, settings: ApplicationSettings,
        createdAt: Date, updatedAt: Date, version: Int = 1
    ) {
        self.id = id; self.tenantID = tenantID; self.name = name; self.settings = settings
        self.createdAt = createdAt; self.updatedAt = updatedAt; self.version = version
    }

    public var kind: String {
        switch settings {
        case .oidc: "oidc"
        case .saml: "saml"
        }
    }

    /// The OIDC `client_id`, unique per tenant.
    public var clientID: String? {
        if case .oidc(let c) = settings { return c.clientID }
        return nil
    }

    /// The SAML SP entity ID, unique per tenant.
    public var entityID: String? {
        if case .saml(let s) = settings { return s.entityID }
        return nil
    }
}

public enum ApplicationSettings: Codable, Sendable, Equatable {
    case oidc(OIDCClientSettings)
    case saml(SAMLServiceProviderSettings)
}

public struct OIDCClientSettings: Codable, Sendable, Equatable {
    public var clientID: String
    /// SHA-256 of the client secret (hex); nil for public clients.
    public var clientSecretHash: String?
    public var redirectURIs: [String]
    public var postLogoutRedirectURIs: [String]
    public var grantTypes: [String]
    /// `client_secret_basic`, `client_secret_post`, `private_key_jwt` or `none` (public clients).
    public var tokenEndpointAuthMethod: String
    public var requirePKCE: Bool
    public var requirePAR: Bool
    public var allowedScopes: [String]
    /// JWS algorithm for ID tokens: RS256 (default) or ES256.
    public var idTokenSigningAlg: String
    public var accessTokenLifetimeSeconds: Int
    public var idTokenLifetimeSeconds: Int
    public var refreshTokenLifetimeSeconds: Int
    /// For `private_key_jwt`: the client's JWKS URL (later issues use it).
    public var jwksURI: String?
    /// For `private_key_jwt`: the client's public keys, a JWKS document (JSON text).
    public var jwks: String?
    /// After a secret rotation with a grace period: the old secret's hash, accepted until
    /// `previousClientSecretExpiresAt` so the client can be redeployed without downtime.
    public var previousClientSecretHash: String?
    public var previousClientSecretExpiresAt: Date?
    /// Whether users approve the client on a consent page: nil means `implicit` (first-party).
    public var consent: ConsentMode?
    /// `acr` values asked for when a request names none (OIDC Registration `default_acr_values`).
    public var defaultACRValues: [String]?

    public enum ConsentMode: String, Codable, Sendable, CaseIterable {
        /// First-party: no consent page (unless the request says `prompt=consent`).
        case implicit
        /// Third-party: the user approves the requested scopes and claims once.
        case required
    }

    public var requiresConsent: Bool { consent == .required }
    /// OpenID Connect Back-Channel Logout 1.0: where logout tokens are POSTed when a session the
    /// client got an ID token from ends (https; http only on loopback).
    public var backchannelLogoutURI: String?
    /// The client needs `sid` in logout tokens (Sigil always sends it; recorded and published).
    public var backchannelLogoutSessionRequired: Bool?
    /// An identity verification client (Okta's "Bring Your Own IDV", docs/idv.md): its
    /// authorization requests start an IDV session instead of a Sigil sign-in, and its ID tokens
    /// carry `verified_claims` about the person verified, under a subject per `login_hint`.
    public var identityVerification: Bool?
    public var isIdentityVerification: Bool { identityVerification == true }

    public init(
        clientID: String, clientSecretHash: String?, redirectURIs: [String],
        postLogoutRedirectURIs: [String] = [], grantTypes: [String] = ["authorization_code", "refresh_token"],
        tokenEndpointAuthMethod: String, requirePKCE: Bool, requirePAR: Bool = false,
        allowedScopes: [String] = ["openid", "email", "profile"], idTokenSigningAlg: String = "RS256",
        accessTokenLifetimeSeconds: Int = 600, idTokenLifetimeSeconds: Int = 600,
        refreshTokenLifetimeSeconds: Int = 2_592_000, jwksURI: String? = nil, jwks: String? = nil,
        consent: ConsentMode? = nil, defaultACRValues: [String]? = nil,
        backchannelLogoutURI: String? = nil, backchannelLogoutSessionRequired: Bool? = nil
    ) {
        self.clientID = clientID; self.clientSecretHash = clientSecretHash; self.redirectURIs = redirectURIs
        self.postLogoutRedirectURIs = postLogoutRedirectURIs; self.grantTypes = grantTypes
        self.tokenEndpointAuthMethod = tokenEndpointAuthMethod; self.requirePKCE = requirePKCE
        self.requirePAR = requirePAR; self.allowedScopes = allowedScopes; self.idTokenSigningAlg = idTokenSigningAlg
        self.accessTokenLifetimeSeconds = accessTokenLifetimeSeconds; self.idTokenLifetimeSeconds = idTokenLifetimeSeconds
        self.refreshTokenLifetimeSeconds = refreshTokenLifetimeSeconds; self.jwksURI = jwksURI
        self.jwks = jwks
        self.consent = consent; self.defaultACRValues = defaultACRValues
        self.backchannelLogoutURI = backchannelLogoutURI; self.backchannelLogoutSessionRequired = backchannelLogoutSessionRequired
    }

    public var isPublic: Bool { tokenEndpointAuthMethod == "none" }
}

public struct SAMLServiceProviderSettings: Codable, Sendable, Equatable {
    public struct AssertionConsumerService: Codable, Sendable, Equatable {
        public var url: String
        /// `urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST` (default) or HTTP-Artifact, …
        public var binding: String
        public var index: Int
        public var isDefault: Bool

        public init(url: String, binding: String = SAMLServiceProviderSettings.httpPOST, index: Int = 0, isDefault: Bool = false) {
            self.url = url; self.binding = binding; self.index = index; self.isDefault = isDefault
        }
    }

    public struct AttributeMapping: Codable, Sendable, Equatable {
        /// The SAML attribute `Name` the SP expects (e.g. Okta's `email`, `firstName`, `lastName`).
        public var name: String
        /// The user field: `email`, `given_name`, `family_name`, `id`, `amr`.
        public var userField: String
        public var nameFormat: String

        public init(
            name: String, userField: String,
            nameFormat: String = "urn:oasis:names:tc:SAML:2.0:attrname-format:unspecified"
        ) {
            self.name = name; self.userField = userField; self.nameFormat = nameFormat
        }
    }

    public enum Signing: String, Codable, Sendable, CaseIterable {
        case assertion, response, both
    }

    /// How Sigil sends logout messages to the SP's `singleLogoutURL`.
    public enum LogoutBinding: String, Codable, Sendable, CaseIterable {
        /// HTTP-POST: an auto-submitted form, the message signed with an enveloped signature.
        case post
        /// HTTP-Redirect: DEFLATE in the query string, signed over the query (RSA-SHA256).
        case redirect

        public var uri: String { self == .post ? SAMLServiceProviderSettings.httpPOST : SAMLServiceProviderSettings.httpRedirect }
    }

    public static let httpPOST = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
    public static let httpRedirect = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
    public static let emailNameIDFormat = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"

    public var entityID: String
    public var assertionConsumerServices: [AssertionConsumerService]
    public var singleLogoutURL: String?
    /// The binding of `singleLogoutURL` (nil: HTTP-POST).
    public var singleLogoutBinding: LogoutBinding?
    public var nameIDFormat: String
    public var attributeMappings: [AttributeMapping]
    public var signing: Signing
    public var encryptAssertions: Bool
    /// The SP's certificate (PEM): verifies signed AuthnRequests and encrypts assertions.
    public var certificatePEM: String?
    public var authnContextClassRef: String?
    /// Refuse AuthnRequests that are not signed with `certificatePEM` (nil: false).
    public var wantAuthnRequestsSigned: Bool?
    /// The SP's encryption certificate (PEM) when it differs from `certificatePEM` (metadata
    /// with a `KeyDescriptor use="encryption"`); nil: assertions are encrypted to `certificatePEM`.
    public var encryptionCertificatePEM: String?

    /// The binding logout messages to this SP use.
    public var logoutBinding: LogoutBinding { singleLogoutBinding ?? .post }

    /// The certificate assertions are encrypted to.
    public var assertionEncryptionCertificatePEM: String? { encryptionCertificatePEM ?? certificatePEM }

    public init(
        entityID: String, assertionConsumerServices: [AssertionConsumerService], singleLogoutURL: String? = nil,
        nameIDFormat: String = SAMLServiceProviderSettings.emailNameIDFormat,
        attributeMappings: [AttributeMapping] = SAMLServiceProviderSettings.oktaDefaultAttributes,
        signing: Signing = .both, encryptAssertions: Bool = false, certificatePEM: String? = nil,
        authnContextClassRef: String? = nil, wantAuthnRequestsSigned: Bool? = nil, encryptionCertificatePEM: String? = nil
    ) {
        self.wantAuthnRequestsSigned = wantAuthnRequestsSigned
        self.encryptionCertificatePEM = encryptionCertificatePEM
        self.entityID = entityID; self.assertionConsumerServices = assertionConsumerServices
        self.singleLogoutURL = singleLogoutURL; self.nameIDFormat = nameIDFormat
        self.attributeMappings = attributeMappings; self.signing = signing
        self.encryptAssertions = encryptAssertions; self.certificatePEM = certificatePEM
        self.authnContextClassRef = authnContextClassRef
    }

    public static let oktaDefaultAttributes: [AttributeMapping] = [
        .init(name: "email", userField: "email"),
        .init(name: "firstName", userField: "given_name"),
        .init(name: "lastName", userField: "family_name"),
    ]
}

public protocol ApplicationStore: Sendable {
    func create(_ application: Application) async throws -> Application
    func get(tenantID: String, id: String) async throws -> Application
    func find(tenantID: String, clientID: String) async throws -> Application?
    func find(tenantID: String, entityID: String) async throws -> Application?
    func list(tenantID: String, page: PageRequest) async throws -> Page<Application>
    func update(
        tenantID: String, id: String, expectedVersion: Int?,
        _ mutate: @escaping @Sendable (inout Application) throws -> Void
    ) async throws -> (before: Application, after: Application)
    func delete(tenantID: String, id: String, expectedVersion: Int?) async throws -> Application
}
