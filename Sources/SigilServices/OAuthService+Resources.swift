import Foundation
import SigilCore
import SigilJOSE
import SigilOAuth
import SigilStore

extension OAuthService {
    /// A JWT access token Sigil issued, signature, issuer, type, expiry and grant checked.
    public struct VerifiedAccessToken: Sendable {
        public let claims: [String: JSONValue]
        public let grant: OAuthGrant
        public var scopes: [String] { (claims["scope"]?.string ?? "").split(separator: " ").map(String.init) }
        public var clientID: String { grant.clientID }
    }

    /// Verifies an access token; nil when it is not one of ours, expired, or its grant was revoked.
    public func verifyAccessToken(_ token: String, tenantID: String, issuer: String) async throws -> VerifiedAccessToken? {
        guard let parsed = try? JWS.parse(token), parsed.type == "at+jwt" else { return nil }
        let jwks = try await keys.jwks(tenantID: tenantID)
        guard JWS.verify(parsed, with: jwks), parsed.payload["iss"]?.string == issuer,
            let exp = parsed.payload["exp"]?.int, Date(timeIntervalSince1970: TimeInterval(exp)) > context.clock.now(),
            let jti = parsed.payload["jti"]?.string, let grantID = jti.split(separator: ".").first.map(String.init),
            let grant = try await context.store.oauth.grant(tenantID: tenantID, id: grantID), grant.isActive(at: context.clock.now()),
            parsed.payload["client_id"]?.string == grant.clientID
        else { return nil }
        return VerifiedAccessToken(claims: parsed.payload, grant: grant)
    }

    /// OIDC Core §5.3: the user's claims for a bearer token with scope `openid`.
    public func userinfo(tenantID: String, issuer: String, accessToken: String) async throws -> [String: JSONValue] {
        guard let token = try await verifyAccessToken(accessToken, tenantID: tenantID, issuer: issuer), let userID = token.grant.userID else {
            throw OAuthError(.invalidToken, "the access token is invalid or expired")
        }
        guard token.scopes.contains("openid") else { throw OAuthError(.insufficientScope, "the access token lacks scope openid") }
        guard let user = try? await context.store.users.get(tenantID: tenantID, id: userID), user.status == .active else {
            throw OAuthError(.invalidToken, "the access token is invalid or expired")
        }
        let allowed = try await client(tenantID: tenantID, clientID: token.clientID)?.1.allowedScopes ?? []
        let claims = try token.grant.claims.map { try JSONValue.parse(Array($0.utf8)) }
        return UserClaims.select(Self.profile(user), scopes: token.scopes, allowedScopes: allowed, claims: claims, target: "userinfo")
    }

    /// RFC 7662. A client learns only about its own tokens; anything else is `active: false`.
    public func introspect(tenantID: String, issuer: String, client: AuthenticatedClient, token: String, hint: String?) async throws -> [String: JSONValue] {
        let inactive: [String: JSONValue] = ["active": false]
        if token.hasPrefix(Self.refreshPrefix) {
            let now = context.clock.now()
            guard let record = try await context.store.oauth.findRefreshToken(tokenHash: tokenHash(token)), record.tenantID == tenantID,
                record.clientID == client.clientID, record.usedAt == nil, record.expiresAt > now,
                let grant = try await context.store.oauth.grant(tenantID: tenantID, id: record.grantID), grant.isActive(at: now)
            else {
                return inactive
            }
            return [
                "active": true, "token_type": "refresh_token", "client_id": .string(record.clientID), "sub": .string(record.userID),
                "scope": .string(record.scopes.joined(separator: " ")), "exp": .int(Int64(record.expiresAt.timeIntervalSince1970)),
                "iat": .int(Int64(record.createdAt.timeIntervalSince1970)), "iss": .string(issuer),
            ]
        }
        guard let verified = try await verifyAccessToken(token, tenantID: tenantID, issuer: issuer), verified.clientID == client.clientID else {
            return inactive
        }
        var out: [String: JSONValue] = ["active": true, "token_type": "Bearer"]
        for name in ["scope", "client_id", "sub", "exp", "iat", "iss", "aud", "jti", "auth_time", "acr"] {
            if let value = verified.claims[name] { out[name] = value }
        }
        return out
    }

    /// RFC 7009: revokes the grant behind a refresh or access token of this client. Unknown or
    /// foreign tokens are ignored (the answer is the same, so it leaks nothing).
    public func revoke(tenantID: String, issuer: String, client: AuthenticatedClient, token: String) async throws {
        var grantID: String?
        if token.hasPrefix(Self.refreshPrefix) {
            if let record = try await context.store.oauth.findRefreshToken(tokenHash: tokenHash(token)), record.tenantID == tenantID,
                record.clientID == client.clientID
            {
                grantID = record.grantID
            }
        } else if let verified = try await verifyAccessToken(token, tenantID: tenantID, issuer: issuer), verified.clientID == client.clientID {
            grantID = verified.grant.id
        }
        guard let grantID else { return }
        let now = context.clock.now()
        let context = self.context
        try await context.store.transaction { tx in
            if try await tx.oauth.revokeGrant(tenantID: tenantID, id: grantID, at: now) {
                try await tx.audit.append(
                    context.auditEvent(
                        "oauth.grant_revoked", by: .client(client.clientID), tenantID: tenantID,
                        targetType: "oauth_grant", targetID: grantID, reason: "revocation endpoint"))
            }
        }
    }

    /// An ID token hint (OIDC RP-Initiated Logout §2): one of our ID tokens, expired or not.
    public struct IDTokenHint: Sendable {
        public let subject: String
        public let clientID: String
        public let sessionID: String?
    }

    public func verifyIDTokenHint(_ token: String, tenantID: String, issuer: String) async throws -> IDTokenHint? {
        guard let parsed = try? JWS.parse(token), parsed.type != "at+jwt" else { return nil }
        let jwks = try await keys.jwks(tenantID: tenantID)
        guard JWS.verify(parsed, with: jwks), parsed.payload["iss"]?.string == issuer, let sub = parsed.payload["sub"]?.string,
            let aud = parsed.payload["aud"]?.strings?.first
        else { return nil }
        return IDTokenHint(subject: sub, clientID: aud, sessionID: parsed.payload["sid"]?.string)
    }

    /// Ends a browser session and revokes every grant issued from it (no logout propagation:
    /// `LogoutService.endSession` does that).
    public func endSession(_ session: Session, reason: String) async throws {
        let now = context.clock.now()
        let context = self.context
        try await context.store.transaction { tx in
            try await tx.sessions.revoke(id: session.id, at: now)
            let revoked = try await tx.oauth.revokeGrants(tenantID: session.tenantID, sessionID: session.id, at: now)
            try await tx.audit.append(
                context.auditEvent(
                    "session.ended", by: .user(session.userID), tenantID: session.tenantID,
                    targetType: "session", targetID: session.id,
                    after: ["grants_revoked": String(revoked)], reason: reason))
        }
    }
}
