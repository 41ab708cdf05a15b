import Foundation

/// A tenant's upstream identity provider: Sigil is the SAML service provider or the OpenID
/// Connect relying party of `name`, signs people in there, provisions them just in time, and
/// continues as identity provider for its own applications. Paths: `/saml/sp/{name}/…`,
/// `/oidc/rp/{name}/…`, `/login/upstream/{name}`.
public struct UpstreamConnection: Sendable, Equatable {
    public var id: String
    public var tenantID: String
    /// URL-safe, unique per tenant.
    public var name: String
    /// What the login page's button says: "Sign in with {displayName}".
    public var displayName: String
    public var enabled: Bool
    /// Who may sign in through it and how accounts are made and linked (both protocols).
    public var policy: UpstreamPolicy
    public var settings: UpstreamProtocolSettings
    public var createdAt: Date
    public var updatedAt: Date
    public var version: Int

    public init(
        id: String, tenantID: String, name: String, displayName: String, enabled: Bool = true, policy: UpstreamPolicy = .init(),
        settings: UpstreamProtocolSettings, createdAt: Date, updatedAt: Date, version: Int = 1
    ) {
        self.id = id; self.tenantID = tenantID; self.name = name; self.displayName = displayName; self.enabled = enabled
        self.policy = policy; self.settings = settings; self.createdAt = createdAt; self.updatedAt = updatedAt; self.version = version
    }

    public var saml: UpstreamSAMLSettings? { if case .saml(let s) = settings { s } else { nil } }
    public var oidc: UpstreamOIDCSettings? { if case .oidc(let s) = settings { s } else { nil } }
    /// `saml` or `oidc`.
    public var protocolName: String { saml != nil ? "saml" : "oidc" }
    /// Where the IdP's description is fetched again on schedule: the SAML metadata URL or the
    /// OpenID Provider's discovery document.
    public var refreshURL: String? {
        switch settings {
        case .saml(let s): s.metadataURL
        case .oidc(let o): o.issuer + "/.well-known/openid-configuration"
        }
    }

    /// Valid connection names: 1–63 of `a-z 0-9 -`, not starting or ending with `-`.
    public static func isValidName(_ name: String) -> Bool {
        guard (1...63).contains(name.utf8.count), name.first != "-", name.last != "-" else { return false }
        return name.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D }
    }
}

/// The protocol a connection speaks, with its settings.
public enum UpstreamProtocolSettings: Codable, Sendable, Equatable {
    case saml(UpstreamSAMLSettings)
    case oidc(UpstreamOIDCSettings)
}

/// Who may sign in through a connection, and how their Sigil accounts are made and linked.
public struct UpstreamPolicy: Codable, Sendable, Equatable {
    public var attributes: UpstreamAttributeMapping
    /// Users signing in with an email in these domains are routed here from the login page.
    public var emailDomains: [String]
    /// An existing Sigil user whose email is in these domains is linked on first upstream
    /// sign-in; any other existing user is never linked silently.
    public var linkDomains: [String]
    /// Create users on first sign-in (just-in-time provisioning).
    public var provisionUsers: Bool
    /// After the upstream sign-in, also ask for the user's own Sigil passkey (step-up): the
    /// session then has Sigil's `phr`/`phrh` and `mfa`. Users without a passkey cannot sign in here.
    public var stepUp: Bool

    public init(
        attributes: UpstreamAttributeMapping = .init(), emailDomains: [String] = [], linkDomains: [String] = [], provisionUsers: Bool = true,
        stepUp: Bool = false
    ) {
        self.attributes = attributes; self.emailDomains = emailDomains; self.linkDomains = linkDomains; self.provisionUsers = provisionUsers
        self.stepUp = stepUp
    }

    private enum CodingKeys: String, CodingKey { case attributes, emailDomains, linkDomains, provisionUsers, stepUp }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        attributes = try c.decode(UpstreamAttributeMapping.self, forKey: .attributes)
        emailDomains = try c.decode([String].self, forKey: .emailDomains)
        linkDomains = try c.decode([String].self, forKey: .linkDomains)
        provisionUsers = try c.decode(Bool.self, forKey: .provisionUsers)
        stepUp = try c.decodeIfPresent(Bool.self, forKey: .stepUp) ?? false
    }
}

/// An OpenID Provider Sigil signs in through as a relying party (authorization code + PKCE).
public struct UpstreamOIDCSettings: Codable, Sendable, Equatable {
    /// The issuer, exactly as the discovery document and ID tokens state it.
    public var issuer: String
    public var authorizationEndpoint: String
    public var tokenEndpoint: String
    public var userinfoEndpoint: String?
    public var jwksURI: String
    public var parEndpoint: String?
    /// Whether the provider sends `iss` in authorization responses (RFC 9207).
    public var issParameterSupported: Bool
    public var clientID: String
    /// `client_secret_basic`, `client_secret_post` or `private_key_jwt`.
    public var authMethod: String
    /// The client secret, sealed under the master key (secret methods only).
    public var sealedClientSecret: String?
    public var scopes: [String]
    /// Push authorization requests (RFC 9126) when the provider offers it.
    public var usePAR: Bool
    public var discoveryFetchedAt: Date?
    public var discoveryRefreshError: String?
    /// The connection's own key for `private_key_jwt` (published at `/oidc/rp/{name}/jwks`).
    public var clientKeyID: String
    public var clientPublicJWK: String
    public var sealedClientKey: String
    /// From discovery: RP-Initiated Logout's endpoint, and whether the provider sends
    /// back-channel logout tokens (nil in connections stored before they were read).
    public var endSessionEndpoint: String?
    public var backchannelLogoutSupported: Bool?

    public init(
        issuer: String, authorizationEndpoint: String, tokenEndpoint: String, userinfoEndpoint: String?, jwksURI: String, parEndpoint: String?,
        issParameterSupported: Bool, clientID: String, authMethod: String, sealedClientSecret: String?, scopes: [String], usePAR: Bool,
        discoveryFetchedAt: Date?, clientKeyID: String, clientPublicJWK: String, sealedClientKey: String
    ) {
        self.issuer = issuer; self.authorizationEndpoint = authorizationEndpoint; self.tokenEndpoint = tokenEndpoint
        self.userinfoEndpoint = userinfoEndpoint; self.jwksURI = jwksURI; self.parEndpoint = parEndpoint
        self.issParameterSupported = issParameterSupported; self.clientID = clientID; self.authMethod = authMethod
        self.sealedClientSecret = sealedClientSecret; self.scopes = scopes; self.usePAR = usePAR
        self.discoveryFetchedAt = discoveryFetchedAt; self.clientKeyID = clientKeyID; self.clientPublicJWK = clientPublicJWK
        self.sealedClientKey = sealedClientKey
    }
}

/// Which attribute of the identity provider's assertion fills which user field (Okta's names by default).
public struct UpstreamAttributeMapping: Codable, Sendable, Equatable {
    /// Attribute holding the email address; when absent from an assertion, an emailAddress NameID is used.
    public var email: String
    public var givenName: String
    public var familyName: String

    public init(email: String = "email", givenName: String = "firstName", familyName: String = "lastName") {
        self.email = email; self.givenName = givenName; self.familyName = familyName
    }
}

/// The SAML side of an upstream connection: what was imported from the IdP's metadata, how to
/// treat its assertions, and the connection's own service-provider key (sealed under the master key).
public struct UpstreamSAMLSettings: Codable, Sendable, Equatable {
    public var idpEntityID: String
    public var ssoURL: String
    /// `redirect` or `post`: how AuthnRequests travel to `ssoURL`.
    public var ssoBinding: String
    public var sloURL: String?
    public var sloBinding: String?
    /// Every certificate an assertion may be signed with (several during a rollover).
    public var signingCertificatesPEM: [String]
    public var nameIDFormat: String?
    /// Where the metadata came from, when imported from a URL; refreshed on schedule.
    public var metadataURL: String?
    /// A certificate the metadata itself must be signed with (optional).
    public var metadataSigningCertificatePEM: String?
    public var metadataValidUntil: Date?
    public var metadataCacheDuration: TimeInterval?
    public var metadataFetchedAt: Date?
    public var metadataETag: String?
    /// Why the last refresh failed (the last good metadata stays in use), if it did.
    public var metadataRefreshError: String?
    /// Accept IdP-initiated (unsolicited) responses. Off by default.
    public var allowUnsolicited: Bool
    /// Accept RSA-SHA1 signatures and SHA-1 digests. Insecure; off by default.
    public var allowInsecureSHA1: Bool
    /// The connection's service-provider key: signs AuthnRequests, decrypts assertions.
    public var spKeyID: String
    public var spCertificatePEM: String
    public var sealedSPKey: String

    public init(
        idpEntityID: String, ssoURL: String, ssoBinding: String = "redirect", sloURL: String? = nil, sloBinding: String? = nil,
        signingCertificatesPEM: [String], nameIDFormat: String? = nil, metadataURL: String? = nil,
        metadataSigningCertificatePEM: String? = nil, metadataValidUntil: Date? = nil, metadataCacheDuration: TimeInterval? = nil,
        metadataFetchedAt: Date? = nil, metadataETag: String? = nil, metadataRefreshError: String? = nil,
        allowUnsolicited: Bool = false, allowInsecureSHA1: Bool = false,
        spKeyID: String, spCertificatePEM: String, sealedSPKey: String
    ) {
        self.idpEntityID = idpEntityID; self.ssoURL = ssoURL; self.ssoBinding = ssoBinding; self.sloURL = sloURL
        self.sloBinding = sloBinding; self.signingCertificatesPEM = signingCertificatesPEM; self.nameIDFormat = nameIDFormat
        self.metadataURL = metadataURL; self.metadataSigningCertificatePEM = metadataSigningCertificatePEM
        self.metadataValidUntil = metadataValidUntil; self.metadataCacheDuration = metadataCacheDuration
        self.metadataFetchedAt = metadataFetchedAt; self.metadataETag = metadataETag; self.metadataRefreshError = metadataRefreshError
        self.allowUnsolicited = allowUnsolicited; self.allowInsecureSHA1 = allowInsecureSHA1
        self.spKeyID = spKeyID; self.spCertificatePEM = spCertificatePEM; self.sealedSPKey = sealedSPKey
    }
}

/// A Sigil user known at an upstream identity provider as `subject` (its NameID).
public struct UpstreamLink: Sendable, Equatable {
    public var tenantID: String
    public var connectionID: String
    public var subject: String
    public var userID: String
    public var createdAt: Date
    public var lastSeenAt: Date

    public init(tenantID: String, connectionID: String, subject: String, userID: String, createdAt: Date, lastSeenAt: Date) {
        self.tenantID = tenantID; self.connectionID = connectionID; self.subject = subject; self.userID = userID
        self.createdAt = createdAt; self.lastSeenAt = lastSeenAt
    }
}

/// A Sigil session that began with a sign-in at an upstream identity provider: what single
/// logout needs to name it there (NameID, SessionIndex) and to find it from there.
public struct UpstreamSession: Sendable, Equatable {
    public var tenantID: String
    public var sessionID: String
    public var connectionID: String
    public var subject: String
    public var subjectFormat: String?
    /// SAML: the IdP's SessionIndex; OIDC: the provider's `sid`.
    public var sessionIndex: String?
    /// OIDC: the ID token the provider issued, sealed under the master key (the `id_token_hint`
    /// of an RP-initiated logout).
    public var sealedIDToken: String?
    public var createdAt: Date

    public init(
        tenantID: String, sessionID: String, connectionID: String, subject: String, subjectFormat: String?, sessionIndex: String?,
        sealedIDToken: String? = nil, createdAt: Date
    ) {
        self.tenantID = tenantID; self.sessionID = sessionID; self.connectionID = connectionID; self.subject = subject
        self.subjectFormat = subjectFormat; self.sessionIndex = sessionIndex; self.sealedIDToken = sealedIDToken; self.createdAt = createdAt
    }
}

/// The SAML trace (flight recorder) of one upstream sign-in attempt: the messages, decoded and
/// redacted, and each check's verdict in plain language. Kept for `UpstreamTrace.retention`.
public struct UpstreamTrace: Sendable, Equatable {
    public static let retention: TimeInterval = 7 * 86_400

    public struct Check: Codable, Sendable, Equatable {
        public var name: String
        public var passed: Bool
        public var detail: String
        public init(name: String, passed: Bool, detail: String) { self.name = name; self.passed = passed; self.detail = detail }
    }

    public struct Message: Codable, Sendable, Equatable {
        /// `AuthnRequest`, `Response`, `LogoutRequest`, …
        public var kind: String
        /// `sent` or `received`.
        public var direction: String
        public var binding: String
        /// The decoded XML, redacted (`SAMLTraceRedaction`).
        public var xml: String
        public init(kind: String, direction: String, binding: String, xml: String) {
            self.kind = kind; self.direction = direction; self.binding = binding; self.xml = xml
        }
    }

    public struct Data: Codable, Sendable, Equatable {
        public var messages: [Message]
        public var checks: [Check]
        public init(messages: [Message], checks: [Check]) { self.messages = messages; self.checks = checks }
    }

    public var id: String
    public var tenantID: String
    public var connectionID: String
    public var flowID: String?
    /// `accepted` or `rejected`.
    public var outcome: String
    public var reason: String?
    public var createdAt: Date
    public var expiresAt: Date
    public var data: Data

    public init(
        id: String, tenantID: String, connectionID: String, flowID: String?, outcome: String, reason: String?, createdAt: Date, expiresAt: Date,
        data: Data
    ) {
        self.id = id; self.tenantID = tenantID; self.connectionID = connectionID; self.flowID = flowID; self.outcome = outcome
        self.reason = reason; self.createdAt = createdAt; self.expiresAt = expiresAt; self.data = data
    }
}

public protocol UpstreamStore: Sendable {
    /// Throws `alreadyExists` when the tenant has a connection of that name.
    func create(_ connection: UpstreamConnection) async throws -> UpstreamConnection
    func get(tenantID: String, id: String) async throws -> UpstreamConnection
    func find(tenantID: String, name: String) async throws -> UpstreamConnection?
    func list(tenantID: String) async throws -> [UpstreamConnection]
    /// Every connection with a metadata URL, across tenants (the refresh schedule).
    func listWithMetadataURL() async throws -> [UpstreamConnection]
    /// Reads under a lock, applies `mutate`, writes back; `conflict` on a version mismatch.
    func update(
        tenantID: String, id: String, expectedVersion: Int?, _ mutate: @escaping @Sendable (inout UpstreamConnection) throws -> Void
    ) async throws -> (before: UpstreamConnection, after: UpstreamConnection)
    /// Deletes the connection and its links.
    func delete(tenantID: String, id: String) async throws -> UpstreamConnection

    func link(tenantID: String, connectionID: String, subject: String) async throws -> UpstreamLink?
    /// Throws `alreadyExists` when the subject is linked already.
    func createLink(_ link: UpstreamLink) async throws -> UpstreamLink
    func touchLink(tenantID: String, connectionID: String, subject: String, at: Date) async throws
    func links(tenantID: String, userID: String) async throws -> [UpstreamLink]

    /// The upstream side of a Sigil session (for single logout); a session re-authenticated in place
    /// by another upstream sign-in gets that sign-in's (the row is replaced).
    func recordSession(_ session: UpstreamSession) async throws
    /// The upstream sign-in a Sigil session began with, if any (gone with the session).
    func session(tenantID: String, sessionID: String) async throws -> UpstreamSession?
    /// The Sigil sessions an upstream subject holds through this connection.
    func sessions(tenantID: String, connectionID: String, subject: String) async throws -> [UpstreamSession]
    /// The Sigil sessions begun with one upstream session (SAML SessionIndex, OIDC `sid`).
    func sessions(tenantID: String, connectionID: String, sessionIndex: String) async throws -> [UpstreamSession]

    func recordTrace(_ trace: UpstreamTrace) async throws
    /// A connection's traces, newest first.
    func traces(tenantID: String, connectionID: String, limit: Int) async throws -> [UpstreamTrace]
    func trace(tenantID: String, id: String) async throws -> UpstreamTrace?
    func deleteExpiredTraces(now: Date) async throws -> Int
    /// Adds the browser step's verdict to the trace of `flowID` (and, when it failed, marks the
    /// trace rejected with `reason`).
    func completeTrace(tenantID: String, flowID: String, check: UpstreamTrace.Check, reason: String?) async throws
}
