import Foundation

/// A tenant's API key for the connector API (`/api/v1/connectors/…`), used by flow builders such
/// as Descope. Only its SHA-256 is stored; the key is shown once. Scoped, and rotatable with an
/// overlap: rotation issues a new key and sets the old one's `expiresAt`.
public struct ConnectorKey: Codable, Sendable, Equatable {
    public var id: String
    public var tenantID: String
    public var name: String
    /// SHA-256 of the key (hex).
    public var keyHash: String
    /// The key's first characters (`sck_` and a few more), to tell keys apart in lists.
    public var displayPrefix: String
    /// What the key may do: `idv:write`, `idv:read` (docs/connectors.md).
    public var scopes: [String]
    /// Origins (`https://host[:port]`) a session's `redirect_url` may point at.
    public var redirectOrigins: [String]
    public var createdAt: Date
    public var expiresAt: Date?
    public var revokedAt: Date?
    public var lastUsedAt: Date?

    public init(
        id: String, tenantID: String, name: String, keyHash: String, displayPrefix: String, scopes: [String],
        redirectOrigins: [String] = [], createdAt: Date, expiresAt: Date? = nil, revokedAt: Date? = nil,
        lastUsedAt: Date? = nil
    ) {
        self.id = id; self.tenantID = tenantID; self.name = name; self.keyHash = keyHash
        self.displayPrefix = displayPrefix; self.scopes = scopes; self.redirectOrigins = redirectOrigins
        self.createdAt = createdAt; self.expiresAt = expiresAt; self.revokedAt = revokedAt; self.lastUsedAt = lastUsedAt
    }

    public func isActive(at now: Date) -> Bool {
        revokedAt == nil && (expiresAt.map { now < $0 } ?? true)
    }
}

/// The first answer to a request made with an `Idempotency-Key`, kept so that a retry of the same
/// request gets the same answer instead of a second resource. The answer may hold a bearer link,
/// so it is sealed with the master key.
public struct IdempotencyRecord: Codable, Sendable, Equatable {
    public var tenantID: String
    /// The connector key that made the request (keys are per caller).
    public var keyID: String
    public var idempotencyKey: String
    /// SHA-256 (hex) of the operation and request body: a reuse with another request is refused.
    public var requestHash: String
    public var status: Int
    public var sealedResponse: String
    public var createdAt: Date
    public var expiresAt: Date

    public init(
        tenantID: String, keyID: String, idempotencyKey: String, requestHash: String, status: Int,
        sealedResponse: String, createdAt: Date, expiresAt: Date
    ) {
        self.tenantID = tenantID; self.keyID = keyID; self.idempotencyKey = idempotencyKey
        self.requestHash = requestHash; self.status = status; self.sealedResponse = sealedResponse
        self.createdAt = createdAt; self.expiresAt = expiresAt
    }
}

/// A signed-event source at `/api/v1/hooks/{name}` (docs/connectors.md "Inbound hooks"): a flow
/// builder (Descope) posts events there, signed with a secret Sigil issued. The source acts as one
/// of the tenant's connector keys (`connectorKeyID`: its scopes and redirect origins apply, and
/// that key reads the results), so revoking the key stops the source too.
public struct HookSource: Codable, Sendable, Equatable {
    public var id: String
    public var tenantID: String
    /// The path segment: lowercase letters, digits and `-`.
    public var name: String
    public var connectorKeyID: String
    /// `rfc9421` (HTTP Message Signatures, hmac-sha256, with `created`, `nonce` and a
    /// `content-digest`) or `descope_hmac` (Descope's `x-descope-webhook-s256` over the body).
    public var signature: String
    /// The shared secret, sealed with the master key (verification needs it, so it cannot be a hash).
    public var sealedSecret: String
    /// What the events do (actions and their options) as JSON; the service owns its shape.
    public var config: String
    public var createdAt: Date

    public init(
        id: String, tenantID: String, name: String, connectorKeyID: String, signature: String, sealedSecret: String, config: String,
        createdAt: Date
    ) {
        self.id = id; self.tenantID = tenantID; self.name = name; self.connectorKeyID = connectorKeyID; self.signature = signature
        self.sealedSecret = sealedSecret; self.config = config; self.createdAt = createdAt
    }
}

public protocol ConnectorKeyStore: Sendable {
    /// Throws `StoreError.notFound` when the tenant does not exist, `alreadyExists` for a taken
    /// name among the tenant's unrevoked keys.
    func create(_ key: ConnectorKey) async throws
    func find(keyHash: String) async throws -> ConnectorKey?
    func get(tenantID: String, id: String) async throws -> ConnectorKey?
    /// Oldest first, revoked ones included.
    func list(tenantID: String) async throws -> [ConnectorKey]
    /// `false` when there is no such unrevoked key.
    func revoke(tenantID: String, id: String, at: Date) async throws -> Bool
    /// Sets when a key stops working (rotation's overlap). `false` when there is no such key.
    func expire(tenantID: String, id: String, at: Date) async throws -> Bool
    /// Notes a use (at most roughly: callers may skip writes within a minute).
    func touch(id: String, at: Date) async throws

    // MARK: idempotency

    /// Stores the first answer. Throws `StoreError.alreadyExists` when the key already has one
    /// (a concurrent duplicate: the caller reads that one).
    func saveIdempotent(_ record: IdempotencyRecord) async throws
    /// The unexpired answer stored for this caller and key, if any.
    func idempotent(tenantID: String, keyID: String, idempotencyKey: String, at: Date) async throws -> IdempotencyRecord?
    /// Deletes expired answers. Returns how many.
    func deleteExpiredIdempotent(before: Date) async throws -> Int

    // MARK: hook sources

    /// Throws `alreadyExists` for a taken name in the tenant, `notFound` for an unknown tenant or key.
    func createHookSource(_ source: HookSource) async throws
    func hookSource(tenantID: String, name: String) async throws -> HookSource?
    /// By name.
    func hookSources(tenantID: String) async throws -> [HookSource]
    /// `false` when there is no such source.
    func deleteHookSource(tenantID: String, name: String) async throws -> Bool
}
