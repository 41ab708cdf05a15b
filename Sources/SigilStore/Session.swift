import Foundation

/// A signed-in browser: a server-side row behind an opaque cookie (only its hash is stored).
public struct Session: Codable, Sendable, Equatable {
    public var id: String
    public var tenantID: String
    public var userID: String
    /// SHA-256 of the cookie value (hex).
    public var tokenHash: String
    public var createdAt: Date
    public var lastSeenAt: Date
    public var idleExpiresAt: Date
    public var absoluteExpiresAt: Date
    /// When the user last proved presence (OIDC `auth_time`).
    public var authTime: Date
    /// Authentication methods references (RFC 8176): `hwk`, `user`, `phr`, `mfa`, `swk` …
    public var amr: [String]
    public var acr: String
    public var revokedAt: Date?
    /// The identity verification (IDV session id) whose verified portrait the last sign-in's live
    /// face re-match matched (a LiveID step-up), if it had one: the tokens' verification reference.
    public var verificationProcess: String?

    public init(
        id: String, tenantID: String, userID: String, tokenHash: String, createdAt: Date, lastSeenAt: Date,
        idleExpiresAt: Date, absoluteExpiresAt: Date, authTime: Date, amr: [String], acr: String, revokedAt: Date? = nil,
        verificationProcess: String? = nil
    ) {
        self.id = id; self.tenantID = tenantID; self.userID = userID; self.tokenHash = tokenHash; self.createdAt = createdAt
        self.lastSeenAt = lastSeenAt; self.idleExpiresAt = idleExpiresAt; self.absoluteExpiresAt = absoluteExpiresAt
        self.authTime = authTime; self.amr = amr; self.acr = acr; self.revokedAt = revokedAt; self.verificationProcess = verificationProcess
    }

    public func isActive(at now: Date) -> Bool {
        revokedAt == nil && now < idleExpiresAt && now < absoluteExpiresAt
    }
}

public protocol SessionStore: Sendable {
    func create(_ session: Session) async throws -> Session
    /// The session whose cookie hashes to `tokenHash`, if any (active or not: callers check).
    func find(tokenHash: String) async throws -> Session?
    /// Extends the idle timeout (never past the absolute one).
    /// A new sign-in of the session's own user in the same browser: the session keeps its id (the
    /// `sid` its relying parties hold) and gets the new cookie's hash, `auth_time`, `amr` and `acr`;
    /// the idle deadline restarts (never past the absolute one). `notFound` when revoked or absent.
    func reauthenticate(
        id: String, tokenHash: String, authTime: Date, amr: [String], acr: String, verificationProcess: String?, idleExpiresAt: Date
    ) async throws -> Session
    func touch(id: String, lastSeenAt: Date, idleExpiresAt: Date) async throws
    func revoke(id: String, at: Date) async throws
    func revokeAll(tenantID: String, userID: String, at: Date) async throws -> Int
    /// The user's sessions that are still active at `now`, oldest first.
    func listActive(tenantID: String, userID: String, now: Date) async throws -> [Session]
    func deleteExpired(now: Date) async throws -> Int
}
