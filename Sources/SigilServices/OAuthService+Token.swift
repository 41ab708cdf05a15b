import Foundation
import SigilCore
import SigilIDV
import SigilJOSE
import SigilOAuth
import SigilStore

extension OAuthService {
    /// A successful token response (RFC 6749 §5.1, OIDC Core §3.1.3.3).
    public struct TokenResponse: Sendable {
        public var accessToken: String
        public var expiresIn: Int
        public var scope: [String]
        public var idToken: String?
        public var refreshToken: String?

        public var json: [String: JSONValue] {
            var out: [String: JSONValue] = ["access_token": .string(accessToken), "token_type": "Bearer", "expires_in": .int(Int64(expiresIn))]
            if !scope.isEmpty { out["scope"] = .string(scope.joined(separator: " ")) }
            if let idToken { out["id_token"] = .string(idToken) }
            if let refreshToken { out["refresh_token"] = .string(refreshToken) }
            return out
        }
    }

    /// The token endpoint: one grant per `grant_type`, each checking that the client may use it.
    public func token(tenantID: String, issuer: String, client: AuthenticatedClient, parameters p: [String: String]) async throws -> TokenResponse {
        guard let name = p["grant_type"] else { throw OAuthError.invalidRequest("grant_type is required") }
        // CIBA has its own entry (cibaToken); anything else unknown is unsupported.
        guard let grantType = GrantType(rawValue: name), grantType != .ciba else {
            throw OAuthError(.unsupportedGrantType, "unsupported grant_type")
        }
        guard client.oauth.grantTypes.contains(grantType) else {
            throw OAuthError(.unauthorizedClient, "this client may not use the \(grantType.rawValue) grant")
        }
        do {
            switch grantType {
            case .authorizationCode: return try await exchangeCode(tenantID: tenantID, issuer: issuer, client: client, parameters: p)
            case .refreshToken: return try await refresh(tenantID: tenantID, issuer: issuer, client: client, parameters: p)
            case .clientCredentials: return try await clientCredentials(tenantID: tenantID, issuer: issuer, client: client, parameters: p)
            case .ciba: throw OAuthError(.unsupportedGrantType, "unsupported grant_type")
            }
        } catch let error as OAuthError {
            await context.recordFailure(
                "oauth.token_refused", by: .client(client.clientID), tenantID: tenantID,
                reason: "\(grantType.rawValue): \(error.detail ?? error.description)")
            throw error
        }
    }

    /// What a redemption's transaction decided: tokens (committed with the spent code or refresh
    /// token), or a refusal (committed too: the spending and any reuse revocation stand).
    enum Redemption: Sendable {
        case issued(TokenResponse)
        case refused(OAuthError)
    }

    /// Thrown inside a redemption's transaction to undo it: a code or refresh token presented by
    /// a client (or tenant) it was not issued to is refused without being spent, so whoever holds
    /// a stolen one cannot burn it for the client it belongs to.
    struct NotTheHolder: Error { let error: OAuthError }

    /// Spends the code and stores what it buys (refresh token, participant, audit event) in ONE
    /// transaction, so a crash or a failed write between the two can never leave the code spent
    /// without its tokens (the client's retry would then look like a reuse and revoke the grant).
    /// Refusals commit: a reused code's revocation and a spent code stand even though the request
    /// fails. The tokens are signed inside the transaction, with keys read before it.
    func exchangeCode(tenantID: String, issuer: String, client: AuthenticatedClient, parameters p: [String: String]) async throws -> TokenResponse {
        guard let code = p["code"], code.hasPrefix(Self.codePrefix), code.utf8.count < 200 else {
            throw OAuthError(.invalidGrant, "the authorization code is invalid")
        }
        let now = context.clock.now()
        let context = self.context
        let keys = try await issuanceKeys(tenantID: tenantID, settings: client.settings)
        let redemption: Redemption
        do {
            redemption = try await context.store.transaction { tx -> Redemption in
                guard let record = try await tx.oauth.consumeCode(codeHash: tokenHash(code), at: now) else {
                    return .refused(OAuthError(.invalidGrant, "the authorization code is invalid", detail: "unknown code"))
                }
                // The binding first (RFC 6749 §4.1.3): not this client's code → undo the consumption.
                guard record.tenantID == tenantID else {
                    throw NotTheHolder(error: OAuthError(.invalidGrant, "the authorization code is invalid", detail: "unknown code"))
                }
                guard record.clientID == client.clientID else {
                    throw NotTheHolder(error: OAuthError(.invalidGrant, "the authorization code is invalid", detail: "code issued to another client"))
                }
                if record.consumedAt != nil {
                    // RFC 6749 §4.1.2, RFC 9700 §4.2.4: a reused code revokes everything issued from it.
                    if try await tx.oauth.revokeGrant(tenantID: tenantID, id: record.grantID, at: now) {
                        try await tx.audit.append(
                            context.auditEvent(
                                "oauth.code_reused", by: .client(client.clientID), tenantID: tenantID,
                                targetType: "oauth_grant", targetID: record.grantID, outcome: .failure,
                                reason: "authorization code presented twice; grant revoked"))
                    }
                    return .refused(OAuthError(.invalidGrant, "the authorization code is invalid", detail: "code reused"))
                }
                guard record.expiresAt > now else { return .refused(OAuthError(.invalidGrant, "the authorization code has expired")) }
                let stored = try JSONDecoder().decode(StoredCodeRequest.self, from: Data(record.request.utf8))
                let request = stored.request
                if let uri = p["redirect_uri"] {
                    guard uri == request.redirectURI else {
                        return .refused(OAuthError(.invalidGrant, "redirect_uri does not match the authorization request"))
                    }
                } else if client.settings.redirectURIs.count > 1 {
                    return .refused(OAuthError.invalidRequest("redirect_uri is required"))
                }
                if let challenge = request.codeChallenge {
                    guard let verifier = p["code_verifier"] else { return .refused(OAuthError.invalidRequest("code_verifier is required")) }
                    guard PKCE.verify(verifier: verifier, challenge: challenge) else {
                        return .refused(OAuthError(.invalidGrant, "code_verifier does not match"))
                    }
                } else if p["code_verifier"] != nil {
                    // PKCE downgrade (RFC 9700 §2.1.1): a verifier for a request that had no challenge.
                    return .refused(OAuthError(.invalidGrant, "code_verifier sent for a request without code_challenge"))
                }
                guard let grant = try await tx.oauth.grant(tenantID: tenantID, id: record.grantID), grant.isActive(at: now) else {
                    return .refused(OAuthError(.invalidGrant, "the authorization has been revoked"))
                }
                if let verification = stored.verification {
                    // An identity verification's code: the subject and the verified claims, no user.
                    guard let row = try? await tx.loginTransactions.get(tenantID: tenantID, id: verification.sessionID),
                        case .idvSession(let session) = row.flow, let sealed = session.sealedIdentity,
                        let identity = try IDVService.openIdentity(context.masterKey, tenantID: tenantID, sealed: sealed, reference: verification.sessionID)
                    else {
                        return .refused(OAuthError(.invalidGrant, "the verification is no longer available"))
                    }
                    let claims = try verification.sealedClaims.map {
                        try JSONValue.parse(
                            try context.masterKey.open($0, context: Self.verificationClaimsContext(tenantID: tenantID, grantID: record.grantID)))
                    }
                    let verified = VerifiedClaims.response(for: identity, claims: claims, target: "id_token", now: now)
                    let issuance = try self.prepareIssuance(
                        tenantID: tenantID, issuer: issuer, client: client, grant: grant, subject: verification.subjectID, profile: nil,
                        extraIDClaims: verified.map { ["verified_claims": $0] } ?? [:], scopes: request.scopes,
                        authentication: stored.authentication, nonce: request.nonce, claims: claims,
                        refreshExpiresAt: now, event: "authorization_code", keys: keys)
                    try await Self.record(issuance, in: tx)
                    return .issued(issuance.response)
                }
                guard let user = try await Self.activeUser(tenantID: tenantID, id: record.userID, in: tx) else {
                    return .refused(OAuthError(.invalidGrant, "the user is no longer active"))
                }
                // A signed-in user's own verified identity (account page), when the client asks for it.
                var extra: [String: JSONValue] = [:]
                if request.scopes.contains("identity_assurance") || Self.asksForVerifiedClaims(request.claims),
                    client.settings.allowedScopes.contains("identity_assurance"),
                    let subject = try await tx.idv.subjects(tenantID: tenantID, userID: user.id).first, let sealed = subject.sealedIdentity,
                    let identity = try IDVService.openIdentity(context.masterKey, tenantID: tenantID, sealed: sealed, reference: subject.id),
                    let verified = VerifiedClaims.response(for: identity, claims: request.claims, target: "id_token", now: now)
                {
                    extra["verified_claims"] = verified
                }
                let issuance = try self.prepareIssuance(
                    tenantID: tenantID, issuer: issuer, client: client, grant: grant, subject: user.id, profile: Self.profile(user),
                    extraIDClaims: extra, scopes: request.scopes, authentication: stored.authentication, nonce: request.nonce,
                    claims: request.claims, refreshExpiresAt: grant.expiresAt, event: "authorization_code", keys: keys)
                try await Self.record(issuance, in: tx)
                return .issued(issuance.response)
            }
        } catch let refusal as NotTheHolder {
            redemption = .refused(refusal.error)
        }
        switch redemption {
        case .refused(let error): throw error
        case .issued(let response): return response
        }
    }

    func refresh(tenantID: String, issuer: String, client: AuthenticatedClient, parameters p: [String: String]) async throws -> TokenResponse {
        guard let token = p["refresh_token"], token.hasPrefix(Self.refreshPrefix), token.utf8.count < 200 else {
            throw OAuthError(.invalidGrant, "the refresh token is invalid")
        }
        let now = context.clock.now()
        // A scope that would widen the grant is refused before the token is spent.
        var asked: [String]?
        if let text = p["scope"] {
            let scopes = text.split(separator: " ").map(String.init)
            if let current = try await context.store.oauth.findRefreshToken(tokenHash: tokenHash(token)),
                !scopes.allSatisfy(current.scopes.contains)
            {
                throw OAuthError(.invalidScope, "scope exceeds the original grant")
            }
            asked = scopes
        }
        let context = self.context
        let keys = try await issuanceKeys(tenantID: tenantID, settings: client.settings)
        let narrowed = asked
        // Spent and replaced in ONE transaction (as codes are, above): a crash between the two
        // would leave the client holding only a spent token, whose retry reads as theft.
        let use: Redemption
        do {
            use = try await context.store.transaction { tx -> Redemption in
                guard let record = try await tx.oauth.useRefreshToken(tokenHash: tokenHash(token), at: now) else {
                    return .refused(OAuthError(.invalidGrant, "the refresh token is invalid", detail: "unknown refresh token"))
                }
                // Not this client's token: refused without spending it (the transaction rolls back).
                guard record.tenantID == tenantID else {
                    throw NotTheHolder(error: OAuthError(.invalidGrant, "the refresh token is invalid", detail: "unknown refresh token"))
                }
                guard record.clientID == client.clientID else {
                    throw NotTheHolder(error: OAuthError(.invalidGrant, "the refresh token is invalid", detail: "refresh token of another client"))
                }
                if record.usedAt != nil {
                    // Rotation with reuse detection (RFC 9700 §4.14.2): an old token means theft; end the family.
                    if try await tx.oauth.revokeGrant(tenantID: tenantID, id: record.grantID, at: now) {
                        try await tx.audit.append(
                            context.auditEvent(
                                "oauth.refresh_token_reused", by: .client(client.clientID), tenantID: tenantID,
                                targetType: "oauth_grant", targetID: record.grantID, outcome: .failure,
                                reason: "rotated refresh token presented again; grant revoked"))
                    }
                    return .refused(OAuthError(.invalidGrant, "the refresh token is invalid", detail: "refresh token reused"))
                }
                guard record.expiresAt > now else { return .refused(OAuthError(.invalidGrant, "the refresh token has expired")) }
                guard let grant = try await tx.oauth.grant(tenantID: tenantID, id: record.grantID), grant.isActive(at: now) else {
                    return .refused(OAuthError(.invalidGrant, "the authorization has been revoked"))
                }
                var scopes = record.scopes
                if let narrowed {
                    guard narrowed.allSatisfy(record.scopes.contains) else {
                        return .refused(OAuthError(.invalidScope, "scope exceeds the original grant"))
                    }
                    scopes = narrowed
                }
                let data = try JSONDecoder().decode(StoredRefreshData.self, from: Data(record.data.utf8))
                guard let user = try await Self.activeUser(tenantID: tenantID, id: record.userID, in: tx) else {
                    return .refused(OAuthError(.invalidGrant, "the user is no longer active"))
                }
                let issuance = try self.prepareIssuance(
                    tenantID: tenantID, issuer: issuer, client: client, grant: grant, user: user, scopes: scopes,
                    authentication: data.authentication, nonce: nil, claims: data.claims, refreshExpiresAt: record.expiresAt,
                    event: "refresh_token", keys: keys)
                try await Self.record(issuance, in: tx)
                return .issued(issuance.response)
            }
        } catch let refusal as NotTheHolder {
            use = .refused(refusal.error)
        }
        switch use {
        case .refused(let error): throw error
        case .issued(let response): return response
        }
    }

    func clientCredentials(tenantID: String, issuer: String, client: AuthenticatedClient, parameters p: [String: String]) async throws -> TokenResponse {
        guard !client.settings.isPublic else { throw OAuthError(.unauthorizedClient, "public clients cannot use client_credentials") }
        let asked = (p["scope"] ?? "").split(separator: " ").map(String.init)
        for scope in asked where !client.settings.allowedScopes.contains(scope) || scope == "openid" || scope == "offline_access" {
            throw OAuthError(.invalidScope, "scope \(scope.prefix(64)) is not available to this client")
        }
        let now = context.clock.now()
        let lifetime = client.settings.accessTokenLifetimeSeconds
        let grant = OAuthGrant(
            id: context.ids.make(.oauthGrant), tenantID: tenantID, clientID: client.clientID, userID: nil, sessionID: nil,
            scopes: asked, createdAt: now, expiresAt: now.addingTimeInterval(TimeInterval(lifetime)))
        // The client's registered algorithm (RS256 by default) signs its tokens, access tokens included.
        let key = try await keys.currentSigningKey(tenantID: tenantID, algorithm: SigningAlgorithm(rawValue: client.settings.idTokenSigningAlg) ?? .rs256)
        let claims = TokenClaims.accessToken(
            issuer: issuer, subject: client.clientID, clientID: client.clientID, scopes: asked, now: now,
            lifetime: lifetime, jti: Self.accessTokenID(grantID: grant.id, random: context.random),
            authentication: nil)
        let accessToken = try JWS.sign(payload: claims, key: key, type: "at+jwt")
        let context = self.context
        try await context.store.transaction { tx in
            _ = try await tx.oauth.createGrant(grant)
            try await tx.audit.append(
                context.auditEvent(
                    "oauth.token_issued", by: .client(client.clientID), tenantID: tenantID,
                    targetType: "oauth_grant", targetID: grant.id,
                    after: ["grant_type": "client_credentials", "scope": asked.joined(separator: " ")]))
        }
        return TokenResponse(accessToken: accessToken, expiresIn: lifetime, scope: asked)
    }

    /// The keys one issuance signs with, read before the transaction that spends a code or a
    /// refresh token (on SQLite a read outside it would wait for the transaction's connection).
    struct IssuanceKeys: Sendable {
        var access: SigningKeyMaterial
        var id: SigningKeyMaterial
    }

    func issuanceKeys(tenantID: String, settings: OIDCClientSettings) async throws -> IssuanceKeys {
        let rsa = try await keys.currentSigningKey(tenantID: tenantID, algorithm: .rs256)
        let idAlgorithm = SigningAlgorithm(rawValue: settings.idTokenSigningAlg) ?? .rs256
        let id = idAlgorithm == .rs256 ? rsa : try await keys.currentSigningKey(tenantID: tenantID, algorithm: idAlgorithm)
        return IssuanceKeys(access: rsa, id: id)
    }

    /// What one issuance answers and writes: signed tokens, the next refresh token's row, the
    /// session's relying-party row and the audit event.
    struct Issuance: Sendable {
        var response: TokenResponse
        var refresh: RefreshTokenRecord?
        var participant: SessionParticipant?
        var event: AuditEvent
    }

    /// Signs the tokens and builds the rows; touches no store.
    func prepareIssuance(
        tenantID: String, issuer: String, client: AuthenticatedClient, grant: OAuthGrant, user: User, scopes: [String],
        authentication: TokenClaims.Authentication, nonce: String?, claims: JSONValue?, refreshExpiresAt: Date,
        event: String, keys: IssuanceKeys
    ) throws -> Issuance {
        try prepareIssuance(
            tenantID: tenantID, issuer: issuer, client: client, grant: grant, subject: user.id, profile: Self.profile(user), extraIDClaims: [:],
            scopes: scopes, authentication: authentication, nonce: nonce, claims: claims, refreshExpiresAt: refreshExpiresAt, event: event,
            keys: keys)
    }

    /// Tokens for `subject`: a user (`profile`: their claims by scope and request) or an identity
    /// verification's subject (no profile; `extraIDClaims` carries `verified_claims`).
    func prepareIssuance(
        tenantID: String, issuer: String, client: AuthenticatedClient, grant: OAuthGrant, subject: String, profile: UserClaims.Profile?,
        extraIDClaims: [String: JSONValue], scopes: [String], authentication: TokenClaims.Authentication, nonce: String?, claims: JSONValue?,
        refreshExpiresAt: Date, event: String, keys: IssuanceKeys
    ) throws -> Issuance {
        let now = context.clock.now()
        let s = client.settings
        let accessClaims = TokenClaims.accessToken(
            issuer: issuer, subject: subject, clientID: client.clientID, scopes: scopes, now: now,
            lifetime: s.accessTokenLifetimeSeconds,
            jti: Self.accessTokenID(grantID: grant.id, random: context.random), authentication: authentication)
        let accessToken = try JWS.sign(payload: accessClaims, key: keys.access, type: "at+jwt")
        var idToken: String?
        if scopes.contains("openid") {
            var userClaims = profile.map { UserClaims.select($0, scopes: scopes, allowedScopes: s.allowedScopes, claims: claims, target: "id_token") } ?? [:]
            userClaims.merge(extraIDClaims) { _, new in new }
            let idClaims = TokenClaims.idToken(
                issuer: issuer, subject: subject, clientID: client.clientID, now: now,
                lifetime: s.idTokenLifetimeSeconds, authentication: authentication, nonce: nonce,
                accessToken: accessToken, userClaims: userClaims)
            idToken = try JWS.sign(payload: idClaims, key: keys.id)
        }
        var refreshToken: String?
        var refreshRecord: RefreshTokenRecord?
        if s.grantTypes.contains("refresh_token"), refreshExpiresAt > now {
            let token = OpaqueToken.make(prefix: Self.refreshPrefix, random: context.random)
            let data = String(decoding: try JSONEncoder.sorted.encode(StoredRefreshData(authentication: authentication, claims: claims)), as: UTF8.self)
            refreshRecord = RefreshTokenRecord(
                tokenHash: tokenHash(token), tenantID: tenantID, clientID: client.clientID, grantID: grant.id,
                userID: subject, scopes: scopes, data: data, createdAt: now, expiresAt: refreshExpiresAt)
            refreshToken = token
        }
        let summary = [
            "grant_type": event, "scope": scopes.joined(separator: " "), "user": subject,
            "id_token": String(idToken != nil), "refresh_token": String(refreshToken != nil),
        ]
        // The session's relying parties (back-channel logout): one row per session and client.
        let participant =
            idToken == nil
            ? nil
            : grant.sessionID.map {
                SessionParticipant(
                    tenantID: tenantID, sessionID: $0, applicationID: client.application.id, protocolKind: .oidc,
                    subject: subject, sid: authentication.sessionID ?? $0, createdAt: now)
            }
        return Issuance(
            response: TokenResponse(
                accessToken: accessToken, expiresIn: s.accessTokenLifetimeSeconds, scope: scopes, idToken: idToken,
                refreshToken: refreshToken),
            refresh: refreshRecord, participant: participant,
            event: context.auditEvent(
                "oauth.token_issued", by: .client(client.clientID), tenantID: tenantID,
                targetType: "oauth_grant", targetID: grant.id, after: summary))
    }

    /// Writes an issuance inside the caller's transaction.
    static func record(_ issuance: Issuance, in tx: any StoreSession) async throws {
        if let refresh = issuance.refresh { try await tx.oauth.createRefreshToken(refresh) }
        if let participant = issuance.participant {
            do { try await tx.sessionParticipants.record(participant) } catch let error as StoreError where error.code == .notFound {
                // The session is already gone (swept): nothing to log out later.
            }
        }
        try await tx.audit.append(issuance.event)
    }

    /// The user when still active, read in the caller's transaction.
    static func activeUser(tenantID: String, id: String, in tx: any StoreSession) async throws -> User? {
        guard let user = try? await tx.users.get(tenantID: tenantID, id: id), user.status == .active else { return nil }
        return user
    }

    static func profile(_ user: User) -> UserClaims.Profile {
        UserClaims.Profile(subject: user.id, email: user.email, givenName: user.givenName, familyName: user.familyName, updatedAt: user.updatedAt)
    }

    /// Access token `jti`: the grant id, a dot, 128 random bits (so revocation finds the grant).
    static func accessTokenID(grantID: String, random: any RandomSource) -> String {
        grantID + "." + Base64URL.encode(random.bytes(16))
    }
}
