import Foundation
import SigilCore
import SigilIDV
import SigilJOSE
import SigilOAuth
import SigilStore

extension OAuthService {
    /// An identity verification client's authorization request, validated (and its PAR spent):
    /// what the IDV session needs to answer it later.
    public struct VerificationRequest: Sendable, Equatable {
        public var clientID: String
        public var applicationID: String
        /// The `ValidatedAuthorizationRequest` as JSON (kept in the IDV session's origin).
        public var encodedRequest: String
        /// The relying party's identifier of the person (Okta: the Okta user id).
        public var loginHint: String?
        /// The values the relying party expects (Okta's fuzzy names), by claim.
        public var expected: [String: String]
    }

    static func verificationClaimsContext(tenantID: String, grantID: String) -> String { "sigil/idv-claims/\(tenantID)/\(grantID)" }

    static func withoutClaims(_ request: ValidatedAuthorizationRequest) throws -> ValidatedAuthorizationRequest {
        guard var object = try JSONValue.parse(Array(JSONEncoder().encode(request))).object else { return request }
        object["claims"] = nil
        return try JSONDecoder().decode(ValidatedAuthorizationRequest.self, from: Data(try JSONValue.object(object).serialized()))
    }

    static func asksForVerifiedClaims(_ claims: JSONValue?) -> Bool {
        VerifiedClaims.requests(in: claims, target: "id_token") != nil || VerifiedClaims.requests(in: claims, target: "userinfo") != nil
    }

    static func expectedValues(_ claims: JSONValue?) -> [String: String] {
        guard let first = VerifiedClaims.requests(in: claims, target: "id_token")?.entries.first else { return [:] }
        return VerifiedClaims.expectedValues(first)
    }

    /// The answer to a decided (or cancelled) identity verification's authorization request: a
    /// code whose tokens carry `verified_claims` about `subjectID` (a FAILED verification too:
    /// Okta reads FAILED from the ID token), or `access_denied` when the person cancelled.
    public func answerVerification(
        tenantID: String, issuer: String, sessionID: String, encodedRequest: String, subjectID: String, identity: VerifiedIdentity?
    ) async throws -> AuthorizationResponse.Delivery {
        let request = try JSONDecoder().decode(ValidatedAuthorizationRequest.self, from: Data(encodedRequest.utf8))
        let target = AuthorizationResponse.Target(redirectURI: request.redirectURI, mode: request.responseMode, state: request.state)
        guard let (app, settings) = try await client(tenantID: tenantID, clientID: request.clientID), settings.redirectURIs.contains(request.redirectURI)
        else {
            throw OAuthError(.invalidRequest, "The application that sent you here is no longer registered.")
        }
        guard let identity else {
            await context.recordFailure(
                "oauth.authorization_refused", by: .client(request.clientID), tenantID: tenantID, reason: "identity verification cancelled")
            return AuthorizationResponse.error(OAuthError(.accessDenied, "the person cancelled the identity verification"), target: target, issuer: issuer)
        }
        let now = context.clock.now()
        let code = OpaqueToken.make(prefix: Self.codePrefix, random: context.random)
        let grantID = context.ids.make(.oauthGrant)
        // No sign-in happened: auth_time is the verification's time, acr "0" (OIDC Core §2: not an
        // authentication of the person to an account), no amr.
        let authentication = TokenClaims.Authentication(authTime: identity.time, amr: [], acr: "0", sessionID: nil)
        // The claims request may carry PII (Okta's expected names): sealed in the code, not in the grant.
        var sealedClaims: String?
        if let claims = request.claims {
            sealedClaims = try self.context.masterKey.seal(
                try claims.serialized(), context: Self.verificationClaimsContext(tenantID: tenantID, grantID: grantID))
        }
        let stored = StoredCodeRequest(
            request: try Self.withoutClaims(request), authentication: authentication,
            verification: VerificationGrant(sessionID: sessionID, subjectID: subjectID, sealedClaims: sealedClaims))
        let requestJSON = String(decoding: try JSONEncoder.sorted.encode(stored), as: UTF8.self)
        let grant = OAuthGrant(
            id: grantID, tenantID: tenantID, clientID: request.clientID, userID: nil, sessionID: nil, scopes: request.scopes, claims: nil,
            createdAt: now, expiresAt: now.addingTimeInterval(TimeInterval(settings.accessTokenLifetimeSeconds)))
        let record = AuthorizationCodeRecord(
            codeHash: tokenHash(code), tenantID: tenantID, clientID: request.clientID, grantID: grantID, userID: subjectID,
            request: requestJSON, createdAt: now, expiresAt: now.addingTimeInterval(policy.codeLifetime))
        let serviceContext = self.context
        try await serviceContext.store.transaction { tx in
            _ = try await tx.oauth.createGrant(grant)
            try await tx.oauth.createCode(record)
            try await tx.audit.append(
                serviceContext.auditEvent(
                    "oauth.code_issued", by: .system, tenantID: tenantID, targetType: "application", targetID: app.id,
                    after: [
                        "client_id": request.clientID, "scope": request.scopes.joined(separator: " "), "grant": grantID,
                        "idv_session": sessionID, "subject": subjectID, "decision": identity.status.rawValue,
                    ]))
        }
        return AuthorizationResponse.success(code: code, target: target, issuer: issuer)
    }
}
