import Foundation
import SigilStore
import Synchronization

/// A `Store` that forwards everything to a real one and fails the writes a test arms: the audit
/// append of one action, or a passkey's `recordUse`. The failure is thrown where the real write
/// would have run — inside the service's transaction when it has one — so a test can show that
/// the state change and its effects commit together or not at all.
final class FaultInjectingStore: Store {
    enum Fault: Hashable, Sendable {
        /// `audit.append` of an event with this action (and, when given, this outcome).
        case auditAppend(String, outcome: AuditEvent.Outcome? = nil)
        /// `passkeys.recordUse` (the sign count and last use of a sign-in).
        case passkeyUse
    }

    struct Injected: Error, Equatable {
        let fault: Fault
    }

    let base: any Store
    private let armed = Mutex<Set<Fault>>([])

    init(_ base: any Store) { self.base = base }

    /// Makes every later `fault` write throw `Injected` until `heal()`.
    func fail(_ fault: Fault) { _ = armed.withLock { $0.insert(fault) } }
    func heal() { armed.withLock { $0.removeAll() } }

    func check(_ fault: Fault) throws {
        if armed.withLock({ $0.contains(fault) }) { throw Injected(fault: fault) }
    }

    func transaction<R: Sendable>(_ body: @escaping @Sendable (any StoreSession) async throws -> R) async throws -> R {
        try await base.transaction { tx in try await body(Session(base: tx, faults: self)) }
    }

    func health() async -> StoreHealth { await base.health() }
    var signals: any ChangeSignal { base.signals }
    var backendName: String { base.backendName }
    func close() async throws { try await base.close() }

    private var outside: Session { Session(base: base, faults: self) }
    var tenants: any TenantStore { base.tenants }
    var users: any UserStore { base.users }
    var applications: any ApplicationStore { base.applications }
    var signingKeys: any SigningKeyStore { base.signingKeys }
    var adminTokens: any AdminTokenStore { base.adminTokens }
    var enrolmentTokens: any EnrolmentTokenStore { base.enrolmentTokens }
    var audit: any AuditEventStore { outside.audit }
    var passkeys: any PasskeyStore { outside.passkeys }
    var authenticatorDevices: any AuthenticatorDeviceStore { base.authenticatorDevices }
    var sessions: any SessionStore { base.sessions }
    var sessionParticipants: any SessionParticipantStore { base.sessionParticipants }
    var loginTransactions: any LoginTransactionStore { base.loginTransactions }
    var deviceNonces: any DeviceNonceStore { base.deviceNonces }
    var authenticatorUserState: any AuthenticatorUserStateStore { base.authenticatorUserState }
    var oauth: any OAuthStore { base.oauth }
    var consents: any ConsentStore { base.consents }
    var logoutDeliveries: any LogoutDeliveryStore { base.logoutDeliveries }
    var upstreams: any UpstreamStore { base.upstreams }
    var idv: any IDVStore { base.idv }
    var integrationRecords: any IntegrationStore { base.integrationRecords }
    var webhooks: any WebhookStore { base.webhooks }
    var connectorKeys: any ConnectorKeyStore { base.connectorKeys }
    var ssf: any SSFStore { base.ssf }

    /// One session (a transaction's, or the store outside one) with the armed writes failing.
    struct Session: StoreSession {
        let base: any StoreSession
        let faults: FaultInjectingStore

        var tenants: any TenantStore { base.tenants }
        var users: any UserStore { base.users }
        var applications: any ApplicationStore { base.applications }
        var signingKeys: any SigningKeyStore { base.signingKeys }
        var adminTokens: any AdminTokenStore { base.adminTokens }
        var enrolmentTokens: any EnrolmentTokenStore { base.enrolmentTokens }
        var audit: any AuditEventStore { Audit(base: base.audit, faults: faults) }
        var passkeys: any PasskeyStore { Passkeys(base: base.passkeys, faults: faults) }
        var authenticatorDevices: any AuthenticatorDeviceStore { base.authenticatorDevices }
        var sessions: any SessionStore { base.sessions }
        var sessionParticipants: any SessionParticipantStore { base.sessionParticipants }
        var loginTransactions: any LoginTransactionStore { base.loginTransactions }
        var deviceNonces: any DeviceNonceStore { base.deviceNonces }
        var authenticatorUserState: any AuthenticatorUserStateStore { base.authenticatorUserState }
        var oauth: any OAuthStore { base.oauth }
        var consents: any ConsentStore { base.consents }
        var logoutDeliveries: any LogoutDeliveryStore { base.logoutDeliveries }
        var upstreams: any UpstreamStore { base.upstreams }
        var idv: any IDVStore { base.idv }
        var integrationRecords: any IntegrationStore { base.integrationRecords }
        var webhooks: any WebhookStore { base.webhooks }
        var connectorKeys: any ConnectorKeyStore { base.connectorKeys }
        var ssf: any SSFStore { base.ssf }
    }

    struct Audit: AuditEventStore {
        let base: any AuditEventStore
        let faults: FaultInjectingStore

        func append(_ event: AuditEvent) async throws {
            try faults.check(.auditAppend(event.action))
            try faults.check(.auditAppend(event.action, outcome: event.outcome))
            try await base.append(event)
        }

        func list(tenantID: String?, page: PageRequest) async throws -> Page<AuditEvent> {
            try await base.list(tenantID: tenantID, page: page)
        }

        func chainHeads() async throws -> [AuditChainHead] { try await base.chainHeads() }
        func chained(chain: String, after: Int64, limit: Int) async throws -> [ChainedAuditEvent] {
            try await base.chained(chain: chain, after: after, limit: limit)
        }
        func unchained(limit: Int) async throws -> [ChainedAuditEvent] { try await base.unchained(limit: limit) }
        func addCheckpoint(_ checkpoint: AuditCheckpoint) async throws -> Bool { try await base.addCheckpoint(checkpoint) }
        func checkpoints(chain: String) async throws -> [AuditCheckpoint] { try await base.checkpoints(chain: chain) }
    }

    struct Passkeys: PasskeyStore {
        let base: any PasskeyStore
        let faults: FaultInjectingStore

        func create(_ passkey: Passkey) async throws -> Passkey { try await base.create(passkey) }
        func get(tenantID: String, credentialID: String) async throws -> Passkey { try await base.get(tenantID: tenantID, credentialID: credentialID) }
        func list(tenantID: String, userID: String) async throws -> [Passkey] { try await base.list(tenantID: tenantID, userID: userID) }
        func recordUse(
            tenantID: String, credentialID: String, expectedSignCount: Int, signCount: Int, backupState: Bool,
            cloneWarning: Bool, at: Date
        ) async throws {
            try faults.check(.passkeyUse)
            try await base.recordUse(
                tenantID: tenantID, credentialID: credentialID, expectedSignCount: expectedSignCount, signCount: signCount,
                backupState: backupState, cloneWarning: cloneWarning, at: at)
        }
        func delete(tenantID: String, userID: String, credentialID: String) async throws {
            try await base.delete(tenantID: tenantID, userID: userID, credentialID: credentialID)
        }
        func setCloneWarning(tenantID: String, userID: String, credentialID: String, _ flagged: Bool) async throws -> Passkey {
            try await base.setCloneWarning(tenantID: tenantID, userID: userID, credentialID: credentialID, flagged)
        }
    }
}
