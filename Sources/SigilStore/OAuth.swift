import Foundation

/// Everything issued from one authorization (a code exchange or a client-credentials call): the
/// unit that revocation and reuse detection act on. Access tokens name their grant; refresh tokens
/// belong to one.
public struct OAuthGrant: Codable, Sendable, Equatable {
    public var id: String
    public var tenantID: String
    public var clientID: String
    /// nil for client credentials.
    public var userID: String?
    public var sessionID: String?
    /// The scopes granted.
    public var scopes: [String]
    /// The OIDC claims request, JSON, for the userinfo endpoint.
    public var claims: String?
    public var createdAt: Date
    /// When the last token of the grant can expire; the row is swept after that.
    public var expiresAt: Date
    public var revokedAt: Date?

    public init(
        id: String, tenantID: String, clientID: String, userID: String?, sessionID: String?, scopes: [String], claims: String? = nil,
        createdAt: Date, expiresAt: Date, revokedAt: Date? = nil
    ) {
        self.id = id; self.tenantID = tenantID; self.clientID = clientID; self.userID = userID; self.sessionID = sessionID
        self.scopes = scopes; self.claims = claims
        self.createdAt = createdAt; self.expiresAt = expiresAt; self.revokedAt = revokedAt
    }

    public func isActive(at now: Date) -> Bool { revokedAt == nil && now < expiresAt }
}

/// A one-time authorization code (stored as its SHA-256) and the request it answers.
public struct AuthorizationCodeRecord: Codable, Sendable, Equatable {
    public var codeHash: String
    public var tenantID: String
    public var clientID: String
    public var grantID: String
    public var userID: String
    /// The validated request and the authentication behind it, JSON (SigilServices' shape).
    public var request: String
    public var createdAt: Date
    public var expiresAt: Date
    public var consumedAt: Date?

    public init(
        codeHash: String, tenantID: String, clientID: String, grantID: String, userID: String, request: String,
        createdAt: Date, expiresAt: Date, consumedAt: Date? = nil
    ) {
        self.codeHash = codeHash; self.tenantID = tenantID; self.clientID = clientID; self.grantID = grantID; self.userID = userID
        self.request = request; self.createdAt = createdAt; self.expiresAt = expiresAt; self.consumedAt = consumedAt
    }
}

/// A refresh token (stored as its SHA-256). Rotation marks it used and issues its successor in
/// the same grant; presenting a used one revokes the grant (RFC 9700 §4.14.2).
public struct RefreshTokenRecord: Codable, Sendable, Equatable {
    public var tokenHash: String
    public var tenantID: String
    public var clientID: String
    public var grantID: String
    public var userID: String
    public var scopes: [String]
    /// The authentication and claims request carried forward, JSON (SigilServices' shape).
    public var data: String
    public var createdAt: Date
    public var expiresAt: Date
    public var usedAt: Date?

    public init(
        tokenHash: String, tenantID: String, clientID: String, grantID: String, userID: String, scopes: [String], data: String,
        createdAt: Date, expiresAt: Date, usedAt: Date? = nil
    ) {
        self.tokenHash = tokenHash; self.tenantID = tenantID; self.clientID = clientID; self.grantID = grantID; self.userID = userID
        self.scopes = scopes; self.data = data; self.createdAt = createdAt; self.expiresAt = expiresAt; self.usedAt = usedAt
    }
}

/// A pushed authorization request (RFC 9126), stored under the SHA-256 of its `request_uri`.
public struct PushedAuthorizationRequestRecord: Codable, Sendable, Equatable {
    public var requestURIHash: String
    public var tenantID: String
    public var clientID: String
    public var parameters: [String: String]
    public var createdAt: Date
    public var expiresAt: Date
    /// Set when a browser first arrived with it and was sent to sign in (the deadline then moves
    /// to cover the sign-in); a second browser cannot claim it.
    public var claimedAt: Date?
    public var consumedAt: Date?

    public init(
        requestURIHash: String, tenantID: String, clientID: String, parameters: [String: String], createdAt: Date,
        expiresAt: Date, claimedAt: Date? = nil, consumedAt: Date? = nil
    ) {
        self.requestURIHash = requestURIHash; self.tenantID = tenantID; self.clientID = clientID; self.parameters = parameters
        self.createdAt = createdAt; self.expiresAt = expiresAt; self.claimedAt = claimedAt; self.consumedAt = consumedAt
    }
}

/// Storage for the OAuth/OIDC provider: grants, codes, refresh tokens, PAR requests, and the
/// `jti`s of client assertions already used.
public protocol OAuthStore: Sendable {
    func createGrant(_ grant: OAuthGrant) async throws -> OAuthGrant
    func grant(tenantID: String, id: String) async throws -> OAuthGrant?
    /// Revokes the grant (if not yet revoked); returns whether this call revoked it.
    @discardableResult
    func revokeGrant(tenantID: String, id: String, at: Date) async throws -> Bool
    /// Revokes every active grant issued from a browser session (sign-out); returns how many.
    func revokeGrants(tenantID: String, sessionID: String, at: Date) async throws -> Int

    func createCode(_ code: AuthorizationCodeRecord) async throws
    /// Takes the code row lock and marks it consumed; returns the row as it was before (so a
    /// non-nil `consumedAt` means the code was already used). nil when no such code.
    func consumeCode(codeHash: String, at: Date) async throws -> AuthorizationCodeRecord?

    func createRefreshToken(_ token: RefreshTokenRecord) async throws
    /// Takes the row lock and marks the token used; returns the row as it was before.
    func useRefreshToken(tokenHash: String, at: Date) async throws -> RefreshTokenRecord?
    func findRefreshToken(tokenHash: String) async throws -> RefreshTokenRecord?

    func createPushedRequest(_ request: PushedAuthorizationRequestRecord) async throws
    func findPushedRequest(requestURIHash: String) async throws -> PushedAuthorizationRequestRecord?
    /// Marks a pending request claimed and moves its deadline; false when it was already claimed,
    /// consumed or expired.
    func claimPushedRequest(requestURIHash: String, at: Date, expiresAt: Date) async throws -> Bool
    /// Marks the request consumed; false when it was already consumed or has expired.
    func consumePushedRequest(requestURIHash: String, at: Date) async throws -> Bool

    /// Records a client assertion's `jti`; throws `StoreError.alreadyExists` when it was seen before.
    func recordAssertionID(tenantID: String, clientID: String, jti: String, expiresAt: Date) async throws

    /// Deletes expired codes, refresh tokens, PAR requests, assertion ids and grants.
    func deleteExpired(now: Date) async throws -> Int
}
