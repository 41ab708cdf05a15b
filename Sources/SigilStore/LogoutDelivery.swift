import Foundation

/// An OpenID Connect back-channel logout still owed to a client: written in the same transaction
/// that ends the browser session, so a crash or restart cannot lose it, and deleted once the
/// client has the logout token or Sigil gives up. The token itself is minted at each attempt
/// (its `iat`/`exp` stay fresh); the row keeps only what goes into it.
public struct LogoutDelivery: Codable, Sendable, Equatable {
    public var id: String
    public var tenantID: String
    public var applicationID: String
    /// The Sigil session that ended (for the audit trail).
    public var sessionID: String
    /// The logout token's `sub` and `sid`: what the client got in its ID token.
    public var subject: String
    public var sid: String
    /// The tenant's issuer, the token's `iss`.
    public var issuer: String
    /// Delivery rounds tried so far (each round is a few quick attempts).
    public var rounds: Int
    public var nextAttemptAt: Date
    /// While set and in the future, one node is delivering this row; others leave it alone.
    public var claimedUntil: Date?
    public var createdAt: Date

    public init(
        id: String, tenantID: String, applicationID: String, sessionID: String, subject: String, sid: String, issuer: String,
        rounds: Int = 0, nextAttemptAt: Date, claimedUntil: Date? = nil, createdAt: Date
    ) {
        self.id = id; self.tenantID = tenantID; self.applicationID = applicationID; self.sessionID = sessionID
        self.subject = subject; self.sid = sid; self.issuer = issuer; self.rounds = rounds
        self.nextAttemptAt = nextAttemptAt; self.claimedUntil = claimedUntil; self.createdAt = createdAt
    }
}

public protocol LogoutDeliveryStore: Sendable {
    /// Records a delivery. Throws `StoreError.notFound` when the application is not the tenant's.
    func enqueue(_ delivery: LogoutDelivery) async throws
    /// Claims up to `limit` deliveries due at `now` (of one tenant, or of all) that nobody holds,
    /// leasing each until `leaseUntil`. Two nodes claiming at once never get the same row.
    func claimDue(tenantID: String?, now: Date, leaseUntil: Date, limit: Int) async throws -> [LogoutDelivery]
    /// Done with a delivery (delivered, refused for good, or given up): deletes it.
    func complete(id: String) async throws
    /// Schedules another round and releases the claim.
    func reschedule(id: String, rounds: Int, nextAttemptAt: Date) async throws
    /// Deliveries still owed, oldest first (admin views and tests).
    func list(tenantID: String) async throws -> [LogoutDelivery]
}
