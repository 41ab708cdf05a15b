/// The aggregates, as seen from one session: outside `transaction` each call commits on its own;
/// inside, every call joins the transaction.
public protocol StoreSession: Sendable {
    var tenants: any TenantStore { get }
    var users: any UserStore { get }
    var applications: any ApplicationStore { get }
    var signingKeys: any SigningKeyStore { get }
    var adminTokens: any AdminTokenStore { get }
    var enrolmentTokens: any EnrolmentTokenStore { get }
    var audit: any AuditEventStore { get }
    var passkeys: any PasskeyStore { get }
    var authenticatorDevices: any AuthenticatorDeviceStore { get }
    var sessions: any SessionStore { get }
    var sessionParticipants: any SessionParticipantStore { get }
    var loginTransactions: any LoginTransactionStore { get }
    var deviceNonces: any DeviceNonceStore { get }
    var authenticatorUserState: any AuthenticatorUserStateStore { get }
    var oauth: any OAuthStore { get }
    var consents: any ConsentStore { get }
    var logoutDeliveries: any LogoutDeliveryStore { get }
    var upstreams: any UpstreamStore { get }
    var idv: any IDVStore { get }
    var integrationRecords: any IntegrationStore { get }
    var webhooks: any WebhookStore { get }
    var connectorKeys: any ConnectorKeyStore { get }
    var ssf: any SSFStore { get }
}

public struct StoreHealth: Sendable, Equatable {
    public var reachable: Bool
    public var appliedMigrations: Int
    public var knownMigrations: Int
    public var detail: String?

    public init(reachable: Bool, appliedMigrations: Int, knownMigrations: Int, detail: String? = nil) {
        self.reachable = reachable; self.appliedMigrations = appliedMigrations
        self.knownMigrations = knownMigrations; self.detail = detail
    }

    public var isReady: Bool { reachable && appliedMigrations == knownMigrations }
}

/// Sigil's storage. One SQL implementation serves SQLite and PostgreSQL (SigilSQLStore).
public protocol Store: StoreSession {
    /// Runs `body` in one transaction: all of it commits, or (on any thrown error) none of it.
    func transaction<R: Sendable>(_ body: @escaping @Sendable (any StoreSession) async throws -> R) async throws -> R
    func health() async -> StoreHealth
    /// Cross-node change notifications (PostgreSQL LISTEN/NOTIFY; in-process for SQLite).
    var signals: any ChangeSignal { get }
    /// A short name of the backend: `sqlite` or `postgres`.
    var backendName: String { get }
    func close() async throws
}
