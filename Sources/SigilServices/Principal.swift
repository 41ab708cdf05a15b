/// Who is acting, for authorization and the audit log.
public enum Principal: Sendable, Equatable {
    /// The `sigil` command line on the server (trusted: it holds the data directory or database URL).
    case cli
    /// Sigil itself (bootstrap, background jobs).
    case system
    /// An admin API caller; `tenantID` nil means a global token.
    case adminToken(id: String, tenantID: String?)

    public var auditName: String {
        switch self {
        case .cli: "cli"
        case .system: "system"
        case .adminToken(let id, _): "admin_token:\(id)"
        }
    }

    /// Whether this principal may act on `tenantID`.
    public func canAccess(tenantID: String) -> Bool {
        switch self {
        case .cli, .system: true
        case .adminToken(_, let scope): scope == nil || scope == tenantID
        }
    }

    public var isGlobal: Bool {
        switch self {
        case .cli, .system: true
        case .adminToken(_, let scope): scope == nil
        }
    }
}
