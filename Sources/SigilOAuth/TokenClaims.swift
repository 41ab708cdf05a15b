import Crypto
import Foundation
import SigilCore
import SigilJOSE

/// The claims of the tokens Sigil signs: ID tokens (OIDC Core §2, §3.1.3.6) and JWT access
/// tokens (RFC 9068). Values in, dictionaries out; signing happens in the service with `JWS`.
public enum TokenClaims {
    /// The signed-in user's authentication, as the session recorded it.
    public struct Authentication: Sendable, Equatable, Codable {
        public var authTime: Date
        public var amr: [String]
        public var acr: String
        public var sessionID: String?
        /// The identity verification a live face re-match of this sign-in matched (LiveID step-up).
        public var verificationProcess: String?

        public init(authTime: Date, amr: [String], acr: String, sessionID: String?, verificationProcess: String? = nil) {
            self.authTime = authTime; self.amr = amr; self.acr = acr; self.sessionID = sessionID
            self.verificationProcess = verificationProcess
        }
    }

    /// The verification reference claim (a collision-resistant name, RFC 7519 §4.2): the IDV
    /// session whose verified portrait the sign-in's live face re-match matched.
    public static let verificationProcessClaim = "urn:sigil:claims:verification_process"

    public static func idToken(
        issuer: String, subject: String, clientID: String, now: Date, lifetime: Int,
        authentication: Authentication, nonce: String?, accessToken: String?,
        userClaims: [String: JSONValue]
    ) -> [String: JSONValue] {
        var claims = userClaims
        let iat = Int64(now.timeIntervalSince1970)
        claims["iss"] = .string(issuer)
        claims["sub"] = .string(subject)
        claims["aud"] = .string(clientID)
        claims["iat"] = .int(iat)
        claims["exp"] = .int(iat + Int64(lifetime))
        claims["auth_time"] = .int(Int64(authentication.authTime.timeIntervalSince1970))
        claims["acr"] = .string(authentication.acr)
        if !authentication.amr.isEmpty { claims["amr"] = .strings(authentication.amr) }
        if let sid = authentication.sessionID { claims["sid"] = .string(sid) }
        if let v = authentication.verificationProcess { claims[verificationProcessClaim] = .string(v) }
        if let nonce { claims["nonce"] = .string(nonce) }
        if let accessToken { claims["at_hash"] = .string(leftHalfHash(accessToken)) }
        return claims
    }

    /// RFC 9068 §2.2: `iss exp aud sub client_id iat jti`, plus `scope` and, for users, `auth_time acr amr`.
    public static func accessToken(
        issuer: String, subject: String, clientID: String, scopes: [String], now: Date, lifetime: Int,
        jti: String, authentication: Authentication?
    ) -> [String: JSONValue] {
        let iat = Int64(now.timeIntervalSince1970)
        var claims: [String: JSONValue] = [
            "iss": .string(issuer), "sub": .string(subject), "aud": .string(issuer), "client_id": .string(clientID),
            "iat": .int(iat), "exp": .int(iat + Int64(lifetime)), "jti": .string(jti),
        ]
        if !scopes.isEmpty { claims["scope"] = .string(scopes.joined(separator: " ")) }
        if let authentication {
            claims["auth_time"] = .int(Int64(authentication.authTime.timeIntervalSince1970))
            claims["acr"] = .string(authentication.acr)
            claims["amr"] = .strings(authentication.amr)
            if let sid = authentication.sessionID { claims["sid"] = .string(sid) }
            if let v = authentication.verificationProcess { claims[verificationProcessClaim] = .string(v) }
        }
        return claims
    }

    /// `at_hash`: base64url of the left half of SHA-256 of the token's ASCII (RS256 and ES256 both use SHA-256).
    public static func leftHalfHash(_ token: String) -> String {
        let digest = Array(SHA256.hash(data: Array(token.utf8)))
        return Base64URL.encode(digest[0..<16])
    }
}

/// The user's claims a client may see: by scope (OIDC Core §5.4) and by the `claims` parameter.
public enum UserClaims {
    public struct Profile: Sendable, Equatable {
        public var subject: String
        public var email: String
        public var givenName: String
        public var familyName: String
        public var updatedAt: Date

        public init(subject: String, email: String, givenName: String, familyName: String, updatedAt: Date) {
            self.subject = subject; self.email = email; self.givenName = givenName; self.familyName = familyName; self.updatedAt = updatedAt
        }

        var all: [String: JSONValue] {
            [
                "sub": .string(subject), "email": .string(email), "given_name": .string(givenName), "family_name": .string(familyName),
                "name": .string("\(givenName) \(familyName)"), "updated_at": .int(Int64(updatedAt.timeIntervalSince1970)),
            ]
        }
    }

    public static let byScope: [String: [String]] = [
        "email": ["email"],
        "profile": ["name", "given_name", "family_name", "updated_at"],
    ]

    /// The claims released for the granted `scopes`, plus those named under `target` in the claims
    /// request when a scope the client is allowed (`allowedScopes`) covers them. `sub` always.
    public static func select(
        _ profile: Profile, scopes: [String], allowedScopes: [String], claims: JSONValue?,
        target: String
    ) -> [String: JSONValue] {
        var names: Set<String> = ["sub"]
        for scope in scopes { names.formUnion(byScope[scope] ?? []) }
        let permitted = Set(allowedScopes.flatMap { byScope[$0] ?? [] })
        for requested in ClaimsRequest.names(in: claims, for: target) where permitted.contains(requested) {
            names.insert(requested)
        }
        return profile.all.filter { names.contains($0.key) }
    }
}
