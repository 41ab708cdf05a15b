/// OAuth 2.0 grant types Sigil implements, spelled as the specs spell them (RFC 6749 §4,
/// RFC 6749 §6, OpenID CIBA Core §4).
public enum GrantType: String, Sendable, Codable, CaseIterable {
    case authorizationCode = "authorization_code"
    case refreshToken = "refresh_token"
    case clientCredentials = "client_credentials"
    case ciba = "urn:openid:params:grant-type:ciba"
}

/// Client authentication methods at the token endpoint (OIDC Core §9, RFC 7591 §2), as registered
/// (`token_endpoint_auth_method`) and as used by a request.
public enum ClientAuthenticationMethod: String, Sendable, Codable, CaseIterable {
    case clientSecretBasic = "client_secret_basic"
    case clientSecretPost = "client_secret_post"
    case privateKeyJWT = "private_key_jwt"
    /// A public client: no secret, PKCE instead.
    case none

    /// The methods that present a shared secret.
    public var usesSecret: Bool { self == .clientSecretBasic || self == .clientSecretPost }
}
