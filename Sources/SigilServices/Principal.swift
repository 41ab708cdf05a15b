/// Who is acting, for authorization and the audit log.
public enum Principal: Sendable, Equatable {
    /// The `sigil` command line on the server (trusted: it holds the data directory or database URL).
    case cli
    /// Sigil itself (bootstrap, background jobs).
    case system
    /// An admin API caller; `tenantID` nil means a global token.
    case adminToken(id: String, tenantID: String?)
    /// A signed-in (or signing-in) user acting on their own account.
    case user(String)
    /// An OAuth client acting at the token, PAR, introspection or revocation endpoint.
    case client(String)
    /// A signed-in administrator in AdminX: a user with the `admin` role acting on their own tenant,
    /// or on every tenant when `global` (an administrator of the `default` tenant, the deployment's own).
    case administrator(userID: String, tenantID: String, global: Bool)

    public var auditName: String {
        switch self {
        case .cli: "cli"
        case .system: "system"
        case .adminToken(let id, _): "admin_token:\(id)"
        case .user(let id): "user:\(id)"
        case .client(let id): "client:\(id)"
        case .administrator(let id, _, _): "user:\(id)"
        }
    }

    /// Whether this principal may act on `tenantID`.
    public func canAccess(tenantID: String) -> Bool {
        switch self {
        case .cli, .system: true
        case .adminToken(_, let scope): scope == nil || scope == tenantID
        case .administrator(_, let own, let global): global || own == tenantID
        case .user, .client: false
        }
    }

    public var isGlobal: Bool {
        switch self {
        case .cli, .system: true
        case .adminToken(_, let scope): scope == nil
        case .administrator(_, _, let global): global
        case .user, .client: false
        }
    }
}
