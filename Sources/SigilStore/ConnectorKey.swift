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
}
