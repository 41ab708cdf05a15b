import Crypto
import Foundation
import SigilCore
import SigilJOSE

/// Sigil as an OpenID Connect relying party of an upstream OpenID Provider: the pure checks.
/// Fetching, storing and the browser live in SigilServices (`UpstreamService+OIDC`).
public enum UpstreamOIDC {
    /// Why an upstream sign-in was refused: a machine reason (audited) and a message for the person.
    public struct Refusal: Error, Sendable, Equatable, CustomStringConvertible {
        public let reason: String
        public let message: String
        public init(_ reason: String, _ message: String) { self.reason = reason; self.message = message }
        public var description: String { "\(reason): \(message)" }
    }

    /// What Sigil reads from a provider's discovery document (OpenID Connect Discovery 1.0 §3).
    public struct ProviderMetadata: Sendable, Equatable {
        public var issuer: String
        public var authorizationEndpoint: String
        public var tokenEndpoint: String
        public var userinfoEndpoint: String?
        public var jwksURI: String
        public var parEndpoint: String?
        public var issParameterSupported: Bool
        public var authMethods: [String]
        public var codeChallengeMethods: [String]
        public var signingAlgorithms: [String]
        /// RP-Initiated Logout 1.0 §2.1.
        public var endSessionEndpoint: String?
        /// Back-Channel Logout 1.0 §2.1: the provider sends logout tokens (with `sid` when
        /// `backchannelLogoutSessionSupported`).
        public var backchannelLogoutSupported: Bool
        public var backchannelLogoutSessionSupported: Bool

        /// Parses the document fetched from `{expectedIssuer}/.well-known/openid-configuration`:
        /// its `issuer` must be exactly `expectedIssuer` (§4.3; a mismatch is a mix-up), the
        /// endpoints absolute http(s) URLs, `code` among the response types.
        public static func parse(_ bytes: [UInt8], expectedIssuer: String) throws(Refusal) -> ProviderMetadata {
            guard StrictJSON.isValid(bytes), let object = (try? JSONValue.parse(bytes))?.object else {
                throw Refusal("badDiscovery", "the provider's discovery document is not a JSON object")
            }
            func url(_ key: String, required: Bool) throws(Refusal) -> String? {
                guard let value = object[key]?.string else {
                    if required { throw Refusal("badDiscovery", "the discovery document has no \(key)") }
                    return nil
                }
                guard let c = URLComponents(string: value), ["https", "http"].contains(c.scheme?.lowercased() ?? ""), c.host?.isEmpty == false,
                    c.fragment == nil
                else {
                    throw Refusal("badDiscovery", "\(key) in the discovery document is not an absolute http(s) URL")
                }
                return value
            }
            guard let issuer = object["issuer"]?.string, issuer == expectedIssuer else {
                throw Refusal("wrongIssuer", "the discovery document names another issuer than the one configured")
            }
            if let types = object["response_types_supported"]?.strings, !types.contains("code") {
                throw Refusal("badDiscovery", "the provider does not offer the authorization code flow")
            }
            return ProviderMetadata(
                issuer: issuer, authorizationEndpoint: try url("authorization_endpoint", required: true)!,
                tokenEndpoint: try url("token_endpoint", required: true)!, userinfoEndpoint: try url("userinfo_endpoint", required: false),
                jwksURI: try url("jwks_uri", required: true)!, parEndpoint: try url("pushed_authorization_request_endpoint", required: false),
                issParameterSupported: object["authorization_response_iss_parameter_supported"] == .bool(true),
                authMethods: object["token_endpoint_auth_methods_supported"]?.strings ?? ["client_secret_basic"],
                codeChallengeMethods: object["code_challenge_methods_supported"]?.strings ?? [],
                signingAlgorithms: object["id_token_signing_alg_values_supported"]?.strings ?? ["RS256"],
                endSessionEndpoint: try url("end_session_endpoint", required: false),
                backchannelLogoutSupported: object["backchannel_logout_supported"] == .bool(true),
                backchannelLogoutSessionSupported: object["backchannel_logout_session_supported"] == .bool(true))
        }
    }

    /// The authorization request's parameters (code flow, PKCE S256, state, nonce).
    public static func authorizationParameters(
        clientID: String, redirectURI: String, scopes: [String], state: String, nonce: String, codeVerifier: String
    ) -> [(String, String)] {
        [
            ("response_type", "code"), ("client_id", clientID), ("redirect_uri", redirectURI), ("scope", scopes.joined(separator: " ")),
            ("state", state), ("nonce", nonce), ("code_challenge", PKCE.challenge(for: codeVerifier)), ("code_challenge_method", "S256"),
        ]
    }

    /// `application/x-www-form-urlencoded` of `pairs`.
    public static func formEncoded(_ pairs: [(String, String)]) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return pairs.map { k, v in
            (k.addingPercentEncoding(withAllowedCharacters: allowed) ?? "") + "=" + (v.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")
        }.joined(separator: "&")
    }

    /// What Sigil expects of the authorization response at its redirect URI: no `error`, a
    /// `code`, and when the provider sends `iss` (RFC 9207; required when it says it does) the
    /// configured issuer — anything else is a mix-up.
    public static func checkAuthorizationResponse(
        _ query: [String: String], issuer: String, issRequired: Bool
    ) throws(Refusal) -> String {
        if let iss = query["iss"] {
            guard iss == issuer else { throw Refusal("mixUp", "the authorization response comes from another provider (iss)") }
        } else if issRequired {
            throw Refusal("mixUp", "the provider sends iss in its responses and this one has none")
        }
        if let error = query["error"] {
            let reason = error == "access_denied" ? "accessDenied" : "providerError"
            let description = query["error_description"].map { ": \(String($0.prefix(200)))" } ?? ""
            throw Refusal(reason, "the identity provider did not sign you in (\(String(error.prefix(64))))\(description)")
        }
        guard let code = query["code"], !code.isEmpty, code.utf8.count <= 4096 else {
            throw Refusal("malformed", "the authorization response has no code")
        }
        return code
    }

    /// The claims of a validated ID token (OIDC Core §3.1.3.7).
    public struct IDToken: Sendable, Equatable {
        public var subject: String
        public var claims: [String: JSONValue]
        public var expiresAt: Date
        public var authTime: Date?
        public var acr: String?
        public var amr: [String]
    }

    /// Checks an ID token from the token endpoint: a JWS (never `none`, never HMAC: `JWS.verify`
    /// knows RS256, ES256 and EdDSA only) by a key of the provider's JWKS, `iss` exactly the
    /// issuer, `aud` containing the client (and `azp` the client when present or when there are
    /// several audiences), `exp` in the future and `iat` not in the future beyond `skew`, `nonce`
    /// the one sent, `sub` present.
    public static func validateIDToken(
        _ token: String, keys: JWKSet, issuer: String, clientID: String, nonce: String, now: Date, skew: TimeInterval = 120
    ) throws(Refusal) -> IDToken {
        let parsed: JWS.Parsed
        do { parsed = try JWS.parse(token) } catch { throw Refusal("malformed", "the ID token is not a signed JWT") }
        guard let alg = parsed.algorithm, ["RS256", "ES256", "EdDSA"].contains(alg) else {
            throw Refusal("signatureInvalid", "the ID token's algorithm is not accepted")
        }
        guard JWS.verify(parsed, with: keys) else {
            throw Refusal("signatureInvalid", "the ID token's signature does not verify with the provider's keys")
        }
        let c = parsed.payload
        guard c["iss"]?.string == issuer else { throw Refusal("wrongIssuer", "the ID token comes from another issuer") }
        let audiences = c["aud"]?.strings ?? []
        guard audiences.contains(clientID) else { throw Refusal("wrongAudience", "the ID token is for another client") }
        if let azp = c["azp"]?.string {
            guard azp == clientID else { throw Refusal("wrongAudience", "the ID token was issued to another party (azp)") }
        } else if audiences.count > 1 {
            throw Refusal("wrongAudience", "the ID token names several audiences and no azp")
        }
        guard let exp = c["exp"]?.int else { throw Refusal("malformed", "the ID token has no exp") }
        let expiresAt = Date(timeIntervalSince1970: TimeInterval(exp))
        guard now < expiresAt.addingTimeInterval(skew) else { throw Refusal("expired", "the ID token has expired") }
        guard let iat = c["iat"]?.int else { throw Refusal("malformed", "the ID token has no iat") }
        guard Date(timeIntervalSince1970: TimeInterval(iat)) <= now.addingTimeInterval(skew) else {
            throw Refusal("notYetValid", "the ID token was issued in the future")
        }
        guard let got = c["nonce"]?.string, constantTimeEquals(Array(got.utf8), Array(nonce.utf8)) else {
            throw Refusal("badNonce", "the ID token does not carry this sign-in's nonce")
        }
        guard let sub = c["sub"]?.string, !sub.isEmpty, sub.utf8.count <= 255 else { throw Refusal("malformed", "the ID token has no sub") }
        return IDToken(
            subject: sub, claims: c, expiresAt: expiresAt,
            authTime: c["auth_time"]?.int.map { Date(timeIntervalSince1970: TimeInterval($0)) }, acr: c["acr"]?.string,
            amr: c["amr"]?.strings ?? [])
    }

    /// What a valid logout token names: the provider's session (`sid`) and/or user (`sub`), and its `jti`.
    public struct LogoutToken: Sendable, Equatable {
        public var subject: String?
        public var sessionID: String?
        public var tokenID: String
        public var issuedAt: Date
    }

    public static let backChannelLogoutEvent = "http://schemas.openid.net/event/backchannel-logout"
    /// The longest `sid` kept (and matched): the specs set no limit, idpyoidc's run to ~330
    /// bytes, and the column is indexed (PostgreSQL's B-tree entries stop near 2.7 KB).
    public static let maxSessionIDBytes = 1024

    /// Validates a logout token (OpenID Connect Back-Channel Logout 1.0 §2.6): a JWS by one of the
    /// provider's keys (no `none`, no HMAC), `typ` absent, `JWT` or `logout+jwt`; `iss` the
    /// provider; `aud` containing Sigil's client ID; `iat` within `maxAge` in the past (and not
    /// in the future beyond the skew); `exp`, when present, not passed; a `jti` (the caller keeps
    /// it to refuse replays); `events` with the back-channel logout member, a JSON object; `sub`
    /// and/or `sid`; no `nonce` (so an ID token cannot pass for a logout token).
    public static func validateLogoutToken(
        _ token: String, keys: JWKSet, issuer: String, clientID: String, now: Date, skew: TimeInterval = 120, maxAge: TimeInterval = 600
    ) throws(Refusal) -> LogoutToken {
        let parsed: JWS.Parsed
        do { parsed = try JWS.parse(token) } catch { throw Refusal("malformed", "the logout token is not a signed JWT") }
        guard let alg = parsed.algorithm, ["RS256", "ES256", "EdDSA"].contains(alg) else {
            throw Refusal("signatureInvalid", "the logout token's algorithm is not accepted")
        }
        if let type = parsed.type, !["jwt", "logout+jwt", "application/logout+jwt"].contains(type.lowercased()) {
            throw Refusal("malformed", "the logout token's typ is \(String(type.prefix(40)).debugDescription)")
        }
        guard JWS.verify(parsed, with: keys) else {
            throw Refusal("signatureInvalid", "the logout token's signature does not verify with the provider's keys")
        }
        let c = parsed.payload
        guard c["iss"]?.string == issuer else { throw Refusal("wrongIssuer", "the logout token comes from another issuer") }
        guard (c["aud"]?.strings ?? []).contains(clientID) else { throw Refusal("wrongAudience", "the logout token is for another client") }
        guard let iat = c["iat"]?.int else { throw Refusal("malformed", "the logout token has no iat") }
        let issuedAt = Date(timeIntervalSince1970: TimeInterval(iat))
        guard issuedAt <= now.addingTimeInterval(skew) else { throw Refusal("notYetValid", "the logout token was issued in the future") }
        guard issuedAt.addingTimeInterval(maxAge) > now else { throw Refusal("expired", "the logout token is too old") }
        if let exp = c["exp"] {
            guard let seconds = exp.int, now < Date(timeIntervalSince1970: TimeInterval(seconds)).addingTimeInterval(skew) else {
                throw Refusal("expired", "the logout token has expired")
            }
        }
        guard let jti = c["jti"]?.string, !jti.isEmpty, jti.utf8.count <= 255 else { throw Refusal("malformed", "the logout token has no jti") }
        guard let events = c["events"]?.object, case .object = events[Self.backChannelLogoutEvent] else {
            throw Refusal("malformed", "the logout token's events claim has no back-channel logout event")
        }
        guard c["nonce"] == nil else { throw Refusal("malformed", "a logout token must not carry a nonce") }
        // A claim present but unusable is refused, never ignored: dropping a sid would widen the
        // logout to every session of the sub.
        let sub = c["sub"]?.string, sid = c["sid"]?.string
        if c["sub"] != nil, sub.map({ !$0.isEmpty && $0.utf8.count <= 255 }) != true {
            throw Refusal("malformed", "the logout token's sub is not a string of 1 to 255 bytes")
        }
        if c["sid"] != nil, sid.map({ !$0.isEmpty && $0.utf8.count <= Self.maxSessionIDBytes }) != true {
            throw Refusal("malformed", "the logout token's sid is not a string of 1 to \(Self.maxSessionIDBytes) bytes")
        }
        guard sub != nil || sid != nil else { throw Refusal("malformed", "the logout token names neither sub nor sid") }
        return LogoutToken(subject: sub, sessionID: sid, tokenID: jti, issuedAt: issuedAt)
    }

    /// The provider's end-session URL (RP-Initiated Logout 1.0 §2): `id_token_hint` (the ID token
    /// it issued for this session), `client_id`, where to come back, and `state`.
    public static func endSessionURL(endpoint: String, idTokenHint: String?, clientID: String, postLogoutRedirectURI: String, state: String) -> String {
        var pairs: [(String, String)] = []
        if let idTokenHint { pairs.append(("id_token_hint", idTokenHint)) }
        pairs += [("client_id", clientID), ("post_logout_redirect_uri", postLogoutRedirectURI), ("state", state)]
        return endpoint + (endpoint.contains("?") ? "&" : "?") + formEncoded(pairs)
    }

    /// A `private_key_jwt` client assertion for the token endpoint (RFC 7523 §2.2, OIDC Core §9).
    public static func clientAssertion(clientID: String, audience: String, key: SigningKeyMaterial, now: Date, jti: String) throws -> String {
        try JWS.sign(
            payload: [
                "iss": .string(clientID), "sub": .string(clientID), "aud": .string(audience), "jti": .string(jti),
                "iat": .int(Int64(now.timeIntervalSince1970)), "exp": .int(Int64(now.timeIntervalSince1970) + 60),
            ], key: key)
    }
}
