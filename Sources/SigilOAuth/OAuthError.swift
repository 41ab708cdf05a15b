/// An OAuth 2.0 / OpenID Connect protocol error (RFC 6749 §4.1.2.1 and §5.2, OIDC Core §3.1.2.6,
/// RFC 6750 §3.1, RFC 9126 §2.3): a registered `error` code, a client-safe description, and a
/// detail for logs only. Only the HTTP layer turns it into a response.
public struct OAuthError: Error, Sendable, Equatable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let rawValue: String
        public init(_ rawValue: String) { self.rawValue = rawValue }
        public var description: String { rawValue }

        public static let invalidRequest = Code("invalid_request")
        public static let invalidClient = Code("invalid_client")
        public static let invalidGrant = Code("invalid_grant")
        public static let unauthorizedClient = Code("unauthorized_client")
        public static let unsupportedGrantType = Code("unsupported_grant_type")
        public static let invalidScope = Code("invalid_scope")
        public static let accessDenied = Code("access_denied")
        public static let unsupportedResponseType = Code("unsupported_response_type")
        public static let serverError = Code("server_error")
        public static let temporarilyUnavailable = Code("temporarily_unavailable")
        public static let invalidToken = Code("invalid_token")
        public static let insufficientScope = Code("insufficient_scope")
        public static let loginRequired = Code("login_required")
        public static let consentRequired = Code("consent_required")
        public static let interactionRequired = Code("interaction_required")
        public static let accountSelectionRequired = Code("account_selection_required")
        public static let invalidRequestURI = Code("invalid_request_uri")
        public static let invalidRequestObject = Code("invalid_request_object")
        public static let requestNotSupported = Code("request_not_supported")
        public static let requestURINotSupported = Code("request_uri_not_supported")
        public static let unsupportedTokenType = Code("unsupported_token_type")
        // OpenID CIBA Core §11, §13.
        public static let authorizationPending = Code("authorization_pending")
        public static let slowDown = Code("slow_down")
        public static let expiredToken = Code("expired_token")
        public static let invalidBindingMessage = Code("invalid_binding_message")
    }

    public let code: Code
    /// Sent to the client as `error_description` (ASCII, no secrets, no user data).
    public let description: String
    /// For logs only.
    public let detail: String?

    public init(_ code: Code, _ description: String, detail: String? = nil) {
        self.code = code
        self.description = description
        self.detail = detail
    }

    public static func == (a: OAuthError, b: OAuthError) -> Bool { a.code == b.code }

    /// The HTTP status for this error at a token-style endpoint (RFC 6749 §5.2; RFC 6750 §3.1).
    public var status: Int {
        switch code {
        case .invalidClient, .invalidToken: 401
        case .insufficientScope: 403
        case .serverError: 500
        case .temporarilyUnavailable: 503
        default: 400
        }
    }

    public static func invalidRequest(_ description: String, detail: String? = nil) -> OAuthError {
        OAuthError(.invalidRequest, description, detail: detail)
    }
}
