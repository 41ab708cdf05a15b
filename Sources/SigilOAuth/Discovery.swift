import SigilJOSE

/// OpenID Provider metadata (OIDC Discovery 1.0 §3, RFC 8414, RFC 9126 §5, RFC 9207, RP-Initiated Logout).
public enum Discovery {
    public static let scopes = ["openid", "email", "profile", "offline_access", "identity_assurance"]
    public static let claims = [
        "sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "at_hash", "sid",
        "email", "name", "given_name", "family_name", "updated_at",
    ]
    public static let authMethods = ClientAuthenticationMethod.allCases.map(\.rawValue)
    public static let cibaGrantType = GrantType.ciba.rawValue
    public static let grantTypes = GrantType.allCases.map(\.rawValue)

    /// The document for `issuer` (the tenant's base URL, no trailing slash).
    public static func document(issuer: String, requirePAR: Bool, acrValues: [String]) -> [String: JSONValue] {
        let endpoint = { (path: String) -> JSONValue in .string(issuer + path) }
        return [
            "issuer": .string(issuer),
            "authorization_endpoint": endpoint("/oauth2/authorize"),
            "token_endpoint": endpoint("/oauth2/token"),
            "userinfo_endpoint": endpoint("/oauth2/userinfo"),
            "jwks_uri": endpoint("/oauth2/jwks"),
            "pushed_authorization_request_endpoint": endpoint("/oauth2/par"),
            "require_pushed_authorization_requests": .bool(requirePAR),
            "revocation_endpoint": endpoint("/oauth2/revoke"),
            "introspection_endpoint": endpoint("/oauth2/introspect"),
            "end_session_endpoint": endpoint("/oauth2/logout"),
            "backchannel_logout_supported": true,
            "backchannel_logout_session_supported": true,
            "backchannel_authentication_endpoint": endpoint("/oauth2/bc-authorize"),
            "backchannel_token_delivery_modes_supported": .strings(["poll"]),
            "backchannel_user_code_parameter_supported": false,
            "scopes_supported": .strings(scopes),
            "response_types_supported": .strings(["code"]),
            "response_modes_supported": .strings(ResponseMode.allCases.map(\.rawValue)),
            "grant_types_supported": .strings(grantTypes),
            "acr_values_supported": .strings(acrValues),
            "subject_types_supported": .strings(["public"]),
            "id_token_signing_alg_values_supported": .strings(["RS256", "ES256", "EdDSA"]),
            "userinfo_signing_alg_values_supported": .strings(["none"]),
            "token_endpoint_auth_methods_supported": .strings(authMethods),
            "token_endpoint_auth_signing_alg_values_supported": .strings(["RS256", "ES256", "EdDSA"]),
            "revocation_endpoint_auth_methods_supported": .strings(authMethods),
            "introspection_endpoint_auth_methods_supported": .strings(authMethods.filter { $0 != "none" }),
            "code_challenge_methods_supported": .strings(PKCE.supportedMethods),
            "claims_supported": .strings(claims),
            "claim_types_supported": .strings(["normal"]),
            "claims_parameter_supported": true,
            "request_parameter_supported": false,
            "request_uri_parameter_supported": false,
            "require_request_uri_registration": false,
            "prompt_values_supported": .strings(Prompt.allCases.map(\.rawValue)),
            "authorization_response_iss_parameter_supported": true,
            "display_values_supported": .strings(["page"]),
            "ui_locales_supported": .strings(["en"]),
            "claims_locales_supported": .strings(["en"]),
        ]
    }
}
