/// What the protocol core needs to know about a registered client (from the application registry).
public struct OAuthClient: Sendable, Equatable {
    public var clientID: String
    public var redirectURIs: [String]
    public var postLogoutRedirectURIs: [String]
    public var grantTypes: Set<GrantType>
    public var authMethod: ClientAuthenticationMethod
    public var requirePKCE: Bool
    public var requirePAR: Bool
    public var allowedScopes: [String]

    public init(
        clientID: String, redirectURIs: [String], postLogoutRedirectURIs: [String] = [], grantTypes: Set<GrantType>,
        authMethod: ClientAuthenticationMethod, requirePKCE: Bool, requirePAR: Bool, allowedScopes: [String]
    ) {
        self.clientID = clientID; self.redirectURIs = redirectURIs; self.postLogoutRedirectURIs = postLogoutRedirectURIs
        self.grantTypes = grantTypes; self.authMethod = authMethod; self.requirePKCE = requirePKCE
        self.requirePAR = requirePAR; self.allowedScopes = allowedScopes
    }

    public var isPublic: Bool { authMethod == .none }
    /// Public clients always use PKCE (RFC 9700 §2.1.1), whatever their registration says.
    public var mustUsePKCE: Bool { isPublic || requirePKCE }
}
