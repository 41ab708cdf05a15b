import Foundation

/// A one-time link that lets someone register a passkey or authenticator: the first admin's
/// link printed by `sigil serve`, or a user's invitation.
public struct EnrolmentToken: Codable, Sendable, Equatable {
    public enum Purpose: String, Codable, Sendable {
        case firstAdmin = "first_admin"
        case user
    }

    public var id: String
    public var tenantID: String
    public var purpose: Purpose
    public var userID: String?
    /// SHA-256 of the token (hex).
    public var tokenHash: String
    public var createdAt: Date
    public var expiresAt: Date
    public var consumedAt: Date?

    public init(
        id: String, tenantID: String, purpose: Purpose, userID: String?, tokenHash: String,
        createdAt: Date, expiresAt: Date, consumedAt: Date? = nil
    ) {
        self.id = id; self.tenantID = tenantID; self.purpose = purpose; self.userID = userID
        self.tokenHash = tokenHash; self.createdAt = createdAt; self.expiresAt = expiresAt; self.consumedAt = consumedAt
    }
}

public protocol EnrolmentTokenStore: Sendable {
    func create(_ token: EnrolmentToken) async throws -> EnrolmentToken
    /// Marks the token used and returns it, atomically: a second call, an expired or unknown
    /// token throws `notFound`.
    func consume(tokenHash: String, now: Date) async throws -> EnrolmentToken
    /// The token if it exists, is unused and unexpired, without using it.
    func findUsable(tokenHash: String, now: Date) async throws -> EnrolmentToken?
    /// Whether any token of `purpose` in the tenant has been used.
    func anyConsumed(tenantID: String, purpose: EnrolmentToken.Purpose) async throws -> Bool
    /// Deletes tokens that expired before `now`; returns how many.
    func deleteExpired(now: Date) async throws -> Int
}
