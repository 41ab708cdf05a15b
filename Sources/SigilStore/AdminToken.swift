import Foundation

/// A bearer token for the admin API. Global when `tenantID` is nil, else limited to one tenant.
public struct AdminToken: Codable, Sendable, Equatable {
    public var id: String
    public var tenantID: String?
    public var name: String
    /// SHA-256 of the token (hex); the token itself is shown once and never stored.
    public var tokenHash: String
    public var createdAt: Date
    public var expiresAt: Date?
    public var revokedAt: Date?

    public init(
        id: String, tenantID: String?, name: String, tokenHash: String, createdAt: Date,
        expiresAt: Date? = nil, revokedAt: Date? = nil
    ) {
        self.id = id; self.tenantID = tenantID; self.name = name; self.tokenHash = tokenHash
        self.createdAt = createdAt; self.expiresAt = expiresAt; self.revokedAt = revokedAt
    }
}

public protocol AdminTokenStore: Sendable {
    func create(_ token: AdminToken) async throws -> AdminToken
    func find(tokenHash: String) async throws -> AdminToken?
    func list(tenantID: String?) async throws -> [AdminToken]
    func revoke(id: String, at: Date) async throws
}
