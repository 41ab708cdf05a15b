import Foundation

/// A user's standing approval of an OIDC client (the consent page's "Allow"): the scopes and the
/// claims granted, one row per (tenant, user, client). Only clients registered with
/// `consent: required` ask for one.
public struct ConsentGrant: Codable, Sendable, Equatable {
    public var tenantID: String
    public var userID: String
    public var clientID: String
    public var scopes: [String]
    /// User-data claim names granted through the `claims` parameter.
    public var claims: [String]
    public var createdAt: Date
    public var updatedAt: Date

    public init(tenantID: String, userID: String, clientID: String, scopes: [String], claims: [String], createdAt: Date, updatedAt: Date) {
        self.tenantID = tenantID; self.userID = userID; self.clientID = clientID; self.scopes = scopes; self.claims = claims
        self.createdAt = createdAt; self.updatedAt = updatedAt
    }
}

/// Storage for consent grants (migration 6).
public protocol ConsentStore: Sendable {
    func find(tenantID: String, userID: String, clientID: String) async throws -> ConsentGrant?
    /// Inserts the grant, or replaces the scopes, claims and `updatedAt` of the existing one
    /// (keeping its `createdAt`). Returns the stored row.
    @discardableResult
    func save(_ grant: ConsentGrant) async throws -> ConsentGrant
    /// The user's grants, by client id.
    func list(tenantID: String, userID: String) async throws -> [ConsentGrant]
    /// Deletes the grant; returns it, or nil when there was none.
    func delete(tenantID: String, userID: String, clientID: String) async throws -> ConsentGrant?
    /// Revokes every active OAuth grant (and so every refresh and access token) the client holds
    /// for the user; returns how many. Used when a consent is withdrawn.
    func revokeTokens(tenantID: String, userID: String, clientID: String, at: Date) async throws -> Int
}
