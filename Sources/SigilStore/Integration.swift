import Foundation

/// A one-click integration Sigil set up (docs/integrations.md): what exists at the vendor and in
/// Sigil, so the integration doctor can compare both sides later. It never holds a credential: the
/// administrator's Auth0 client secret or Okta API token was used for one call and dropped.
public struct IntegrationRecord: Sendable, Equatable, Codable {
    /// One object at the vendor: `connection`, `key`, `identity_provider`, `routing_rule`.
    public struct PartnerObject: Sendable, Equatable, Codable {
        public var kind: String
        public var id: String
        public var name: String?
        public init(kind: String, id: String, name: String? = nil) { self.kind = kind; self.id = id; self.name = name }
    }

    /// The doctor's last word.
    public struct Check: Sendable, Equatable, Codable {
        /// `ok`, `drift`, `unreachable` (the partner could not be asked), `unchecked`.
        public var status: String
        public var findings: [Finding]
        public var checkedAt: Date
        /// Whether the partner's side was read (with one-time credentials) or only Sigil's.
        public var partnerRead: Bool
        public init(status: String, findings: [Finding], checkedAt: Date, partnerRead: Bool) {
            self.status = status; self.findings = findings; self.checkedAt = checkedAt; self.partnerRead = partnerRead
        }
    }

    /// One difference between what was set up and what is there now, in plain language.
    public struct Finding: Sendable, Equatable, Codable {
        /// Stable: `connection_missing`, `sso_url_changed`, `certificate_changed`, `certificate_expiring`, …
        public var code: String
        /// `partner` or `sigil`.
        public var side: String
        public var message: String
        /// A repair with fresh one-time credentials can fix it.
        public var repairable: Bool
        public init(code: String, side: String, message: String, repairable: Bool) {
            self.code = code; self.side = side; self.message = message; self.repairable = repairable
        }
    }

    public var tenantID: String
    public var id: String
    /// `auth0-saml`, `auth0-social`, `okta-saml`, `okta-idv`.
    public var kind: String
    /// `host[:port]` (or the base URL given) of the Auth0 tenant or Okta org.
    public var partnerDomain: String
    public var partnerObjects: [PartnerObject]
    public var applicationID: String
    public var enabledClients: [String]
    /// What was configured, by name: `sso_url`, `acs_url`, `sp_entity_id`, `redirect_uri`,
    /// `certificate_sha256` (Sigil's signing certificate given to the partner), …
    public var values: [String: String]
    public var createdAt: Date
    public var lastCheck: Check?

    public init(
        tenantID: String, id: String, kind: String, partnerDomain: String, partnerObjects: [PartnerObject], applicationID: String,
        enabledClients: [String], values: [String: String], createdAt: Date, lastCheck: Check? = nil
    ) {
        self.tenantID = tenantID; self.id = id; self.kind = kind; self.partnerDomain = partnerDomain; self.partnerObjects = partnerObjects
        self.applicationID = applicationID; self.enabledClients = enabledClients; self.values = values; self.createdAt = createdAt
        self.lastCheck = lastCheck
    }

    public func object(_ kind: String) -> PartnerObject? { partnerObjects.first { $0.kind == kind } }
}

public protocol IntegrationStore: Sendable {
    func create(_ record: IntegrationRecord) async throws
    func get(tenantID: String, id: String) async throws -> IntegrationRecord?
    /// Oldest first.
    func list(tenantID: String) async throws -> [IntegrationRecord]
    /// Every tenant's, for the scheduled check.
    func all(limit: Int) async throws -> [IntegrationRecord]
    /// Replaces what may change after creation: objects (a repair uploads a new key), enabled
    /// clients, values, the last check.
    func update(_ record: IntegrationRecord) async throws
    func delete(tenantID: String, id: String) async throws -> Bool
}
