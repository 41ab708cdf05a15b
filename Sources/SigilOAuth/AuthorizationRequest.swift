import SigilJOSE

/// `response_mode` values Sigil answers with (OAuth 2.0 Multiple Response Types; Form Post Response Mode).
public enum ResponseMode: String, Sendable, Codable, CaseIterable {
    case query
    case formPost = "form_post"
}

/// `prompt` values (OIDC Core §3.1.2.1).
public enum Prompt: String, Sendable, Codable, CaseIterable {
    case none, login, consent
    case selectAccount = "select_account"
}

/// An authorization request that passed every check against its client. Only `validate` makes one.
public struct ValidatedAuthorizationRequest: Sendable, Equatable, Codable {
    public let clientID: String
    public let redirectURI: String
    public let scopes: [String]
    public let state: String?
    public let nonce: String?
    public let codeChallenge: String?
    public let codeChallengeMethod: String?
    public let prompt: Set<Prompt>
    public let maxAge: Int?
    public let acrValues: [String]
    public let loginHint: String?
    /// The OIDC `claims` request (§5.5), already checked to be an object of objects.
    public let claims: JSONValue?
    public let responseMode: ResponseMode

    public var isOpenID: Bool { scopes.contains("openid") }
}

/// Where an authorization error goes: back to the client (RFC 6749 §4.1.2.1) when the client and
/// redirect URI were valid, otherwise to the user on an error page.
public struct AuthorizationRequestError: Error, Sendable {
    public let error: OAuthError
    /// Set when the error may be sent to the client's redirect URI.
    public let redirect: AuthorizationResponse.Target?

    public init(_ error: OAuthError, redirect: AuthorizationResponse.Target?) {
        self.error = error
        self.redirect = redirect
    }
}

public enum AuthorizationRequest {
    /// Parameters Sigil reads at the authorization and PAR endpoints.
    public static let parameterNames: Set<String> = [
        "response_type", "client_id", "redirect_uri", "scope", "state", "nonce", "code_challenge", "code_challenge_method",
        "prompt", "max_age", "acr_values", "login_hint", "claims", "response_mode", "ui_locales", "id_token_hint",
        "request", "request_uri", "display", "claims_locales",
    ]

    /// Validates `parameters` for `client` (found from `client_id`, or from the PAR record).
    /// Errors before the redirect URI is known to be registered carry no redirect target.
    public static func validate(_ parameters: [String: String], client: OAuthClient) throws(AuthorizationRequestError) -> ValidatedAuthorizationRequest {
        func fatal(_ message: String) -> AuthorizationRequestError {
            AuthorizationRequestError(.invalidRequest(message), redirect: nil)
        }
        if let given = parameters["client_id"], given != client.clientID { throw fatal("client_id does not match the request") }
        // 1. The redirect URI: exact string match against the registration (RFC 9700 §4.1.3).
        let redirectURI: String
        if let given = parameters["redirect_uri"] {
            guard client.redirectURIs.contains(given) else { throw fatal("redirect_uri is not registered for this client") }
            redirectURI = given
        } else if client.redirectURIs.count == 1 {
            redirectURI = client.redirectURIs[0]
        } else {
            throw fatal("redirect_uri is required")
        }
        // From here on errors go back to the client.
        let mode: ResponseMode
        let state = parameters["state"]
        func fail(_ code: OAuthError.Code, _ message: String, mode: ResponseMode = .query) -> AuthorizationRequestError {
            AuthorizationRequestError(OAuthError(code, message), redirect: .init(redirectURI: redirectURI, mode: mode, state: state))
        }
        switch parameters["response_mode"] {
        case nil: mode = .query
        case let value?:
            guard let m = ResponseMode(rawValue: value) else { throw fail(.invalidRequest, "response_mode must be query or form_post") }
            mode = m
        }
        if let state, state.utf8.count > 2048 { throw fail(.invalidRequest, "state is too long") }
        guard let responseType = parameters["response_type"] else { throw fail(.invalidRequest, "response_type is required", mode: mode) }
        guard responseType == "code" else {
            throw fail(.unsupportedResponseType, "only response_type=code is supported", mode: mode)
        }
        guard client.grantTypes.contains(.authorizationCode) else {
            throw fail(.unauthorizedClient, "this client may not use the authorization code grant", mode: mode)
        }
        if parameters["request"] != nil { throw fail(.requestNotSupported, "request objects are not supported; use PAR", mode: mode) }
        // Scopes.
        let scopes = (parameters["scope"] ?? "").split(separator: " ").map(String.init)
        for scope in scopes where !client.allowedScopes.contains(scope) {
            throw fail(.invalidScope, "scope \(scope.prefix(64)) is not allowed for this client", mode: mode)
        }
        // PKCE (RFC 7636; required for public clients and where the client demands it).
        let challenge = parameters["code_challenge"], method = parameters["code_challenge_method"]
        if let challenge {
            do { try PKCE.validateChallenge(challenge, method: method) } catch { throw fail(error.code, error.description, mode: mode) }
        } else if method != nil {
            throw fail(.invalidRequest, "code_challenge_method without code_challenge", mode: mode)
        } else if client.mustUsePKCE {
            throw fail(.invalidRequest, "code_challenge is required (PKCE with S256)", mode: mode)
        }
        // OIDC parameters.
        var prompt: Set<Prompt> = []
        for value in (parameters["prompt"] ?? "").split(separator: " ") {
            guard let p = Prompt(rawValue: String(value)) else { throw fail(.invalidRequest, "unknown prompt value", mode: mode) }
            prompt.insert(p)
        }
        if prompt.contains(.none), prompt.count > 1 { throw fail(.invalidRequest, "prompt=none cannot be combined", mode: mode) }
        var maxAge: Int?
        if let text = parameters["max_age"] {
            guard let value = Int(text), value >= 0 else { throw fail(.invalidRequest, "max_age must be a non-negative integer", mode: mode) }
            maxAge = value
        }
        if let nonce = parameters["nonce"], nonce.utf8.count > 512 { throw fail(.invalidRequest, "nonce is too long", mode: mode) }
        let scopesAreOpenID = scopes.contains("openid")
        var claims: JSONValue?
        if let text = parameters["claims"] {
            do { claims = try ClaimsRequest.parse(text) } catch { throw fail(error.code, error.description, mode: mode) }
            if !scopesAreOpenID { throw fail(.invalidRequest, "the claims parameter needs scope openid", mode: mode) }
        }
        if let hint = parameters["login_hint"], hint.utf8.count > 512 { throw fail(.invalidRequest, "login_hint is too long", mode: mode) }
        return ValidatedAuthorizationRequest(
            clientID: client.clientID, redirectURI: redirectURI, scopes: scopes, state: state, nonce: parameters["nonce"],
            codeChallenge: challenge, codeChallengeMethod: challenge == nil ? nil : "S256", prompt: prompt, maxAge: maxAge,
            acrValues: (parameters["acr_values"] ?? "").split(separator: " ").map(String.init),
            loginHint: parameters["login_hint"], claims: claims, responseMode: mode)
    }
}
