import Logging
import SigilCore
import SigilJOSE
import SigilStore
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
    /// Decrypted signing keys by tenant and kid (shared by every service built on this context).
    public let signingKeyCache = SigningKeyCache()

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

/// Decrypted signing keys, by "tenant/kid". Keys are immutable per kid; retired keys are never
/// asked for again, and the cache is bounded so a long-lived process with many rotations and
/// tenants does not grow without limit (it is emptied when full: a reload is cheap).
public final class SigningKeyCache: Sendable {
    private let entries = Mutex<[String: SigningKeyMaterial]>([:])
    static let capacity = 1024

    public init() {}

    func get(_ key: String) -> SigningKeyMaterial? { entries.withLock { $0[key] } }

    func put(_ key: String, _ value: SigningKeyMaterial) {
        entries.withLock {
            if $0.count >= Self.capacity { $0.removeAll() }
            $0[key] = value
        }
    }
}
