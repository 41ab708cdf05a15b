import Logging
import SigilCore
import SigilJOSE
import SigilStore
import SigilXML
import Synchronization

/// What every use case needs: the store, time, randomness, the master key.
public struct ServiceContext: Sendable {
    public let store: any Store
    public let clock: any SigilClock
    public let random: any RandomSource
    public let masterKey: MasterKey
    public let logger: Logger
    /// Outbound fetches (client JWKS, SP metadata) with their URL policy and cache.
    public let remote: RemoteDocuments
    /// Decrypted, parsed signing keys (and SAML signers) by tenant and kid (shared by every service built on this context).
    public let signingKeyCache = SigningKeyCache()
    /// Tenants by slug and host and their serialised discovery, JWKS and SAML metadata, emptied
    /// on every change to a tenant or its keys (`TenantDocumentCache`).
    public let tenantDocuments = TenantDocumentCache()

    public init(
        store: any Store, clock: any SigilClock = SystemClock(), random: any RandomSource = SystemRandom(),
        masterKey: MasterKey, logger: Logger = Logger(label: "sigil"), remote: RemoteDocuments? = nil
    ) {
        self.remote = remote ?? RemoteDocuments(clock: clock)
        self.store = store
        self.clock = clock
        self.random = random
        self.masterKey = masterKey
        self.logger = logger
    }

    public var ids: IdentifierGenerator { IdentifierGenerator(clock: clock, random: random) }

    /// Builds an audit event stamped now.
    public func auditEvent(
        _ action: String, by principal: Principal, tenantID: String?, targetType: String? = nil,
        targetID: String? = nil, outcome: AuditEvent.Outcome = .success,
        before: [String: String]? = nil, after: [String: String]? = nil, reason: String? = nil
    ) -> AuditEvent {
        AuditEvent(
            id: ids.make(.auditEvent), tenantID: tenantID, occurredAt: clock.now(), actor: principal.auditName,
            action: action, targetType: targetType, targetID: targetID, outcome: outcome,
            before: before, after: after, reason: reason)
    }

    /// Records a decision that changed nothing (denials, failed authentication). Never throws:
    /// losing the audit row must not turn a 401 into a 500, but the failure is logged.
    public func recordFailure(_ action: String, by principal: Principal, tenantID: String?, reason: String) async {
        do {
            try await store.audit.append(auditEvent(action, by: principal, tenantID: tenantID, outcome: .failure, reason: reason))
        } catch {
            logger.error("audit write failed", metadata: ["action": .string(action), "error": .string("\(error)")])
        }
    }
}

/// Signing keys kept decrypted and parsed, by tenant and kid, for the life of the process (or until
/// the cache fills). A kid names one immutable key (its sealed private key and certificate never
/// change), so an entry never goes stale; what changes on rotation is which kid is `current`, and
/// `KeyService` reads that from the store on every use, so a key stops signing on every node as
/// soon as its row stops being current (docs/architecture.md, Keys). Entries are keyed by tenant
/// *and* kid and carry both, so one tenant's key is never served for another's. Bounded: when full
/// it is emptied (a reload is one AES-GCM open and one key parse). Secrets stay in memory only.
public final class SigningKeyCache: Sendable {
    struct Key: Hashable {
        var tenantID: String
        var kid: String
    }

    private let entries = Mutex<[Key: ParsedSigningKey]>([:])
    static let capacity = 1024

    public init() {}

    func get(tenantID: String, kid: String) -> ParsedSigningKey? {
        entries.withLock { $0[Key(tenantID: tenantID, kid: kid)] }
    }

    func put(_ value: ParsedSigningKey) {
        entries.withLock {
            if $0.count >= Self.capacity { $0.removeAll() }
            $0[Key(tenantID: value.tenantID, kid: value.material.kid)] = value
        }
    }

    /// Drops a tenant's entries (all of them: the next use reloads the current ones).
    func remove(tenantID: String) {
        entries.withLock { $0 = $0.filter { $0.key.tenantID != tenantID } }
    }

    /// How many keys are held (for tests and diagnostics).
    public var count: Int { entries.withLock { $0.count } }
}

/// One stored signing key made ready to sign: decrypted, its private key parsed (in
/// `SigningKeyMaterial`), and for an RSA key with a certificate the SAML `XMLSigner` holding the
/// parsed certificate (and its DER in base64 for `KeyInfo`).
struct ParsedSigningKey: Sendable {
    let tenantID: String
    let material: SigningKeyMaterial
    /// The certificate the signer was built from, to check it is the record's.
    let certificatePEM: String?
    let xmlSigner: XMLSigner?
}
