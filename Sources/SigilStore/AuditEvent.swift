import Foundation

/// A record of a change or security decision: who, what, when, and a before/after summary that
/// never includes secrets.
public struct AuditEvent: Codable, Sendable, Equatable {
    public enum Outcome: String, Codable, Sendable {
        case success, failure
    }

    public var id: String
    public var tenantID: String?
    public var occurredAt: Date
    /// `admin_token:<id>`, `cli`, `system`, later `user:<id>`.
    public var actor: String
    /// Catalogued action name, e.g. `user.created` (docs/events.md).
    public var action: String
    public var targetType: String?
    public var targetID: String?
    public var outcome: Outcome
    public var before: [String: String]?
    public var after: [String: String]?
    /// For failures: the reason, client-safe.
    public var reason: String?

    public init(
        id: String, tenantID: String?, occurredAt: Date, actor: String, action: String,
        targetType: String? = nil, targetID: String? = nil, outcome: Outcome = .success,
        before: [String: String]? = nil, after: [String: String]? = nil, reason: String? = nil
    ) {
        self.id = id; self.tenantID = tenantID; self.occurredAt = occurredAt; self.actor = actor
        self.action = action; self.targetType = targetType; self.targetID = targetID; self.outcome = outcome
        self.before = before; self.after = after; self.reason = reason
    }
}

public protocol AuditEventStore: Sendable {
    /// Writes the event as the next link of its chain (`AuditChain`), in the caller's transaction
    /// (or one of its own), holding the chain's head row until it commits, and queues its webhook
    /// deliveries (`WebhookStore.enqueue`) in that same transaction.
    func append(_ event: AuditEvent) async throws
    /// Newest first; `tenantID` nil lists events of every tenant and global ones.
    func list(tenantID: String?, page: PageRequest) async throws -> Page<AuditEvent>

    /// Every chain's head (`""` is the global chain).
    func chainHeads() async throws -> [AuditChainHead]
    /// A chain's events in ascending sequence, from `after` (exclusive), at most `limit`.
    func chained(chain: String, after: Int64, limit: Int) async throws -> [ChainedAuditEvent]
    /// Rows of the audit table that carry no chain position (written around Sigil), at most `limit`.
    func unchained(limit: Int) async throws -> [ChainedAuditEvent]
    /// Stores a checkpoint; `false` when that chain already has one at that position (another node
    /// made it first).
    func addCheckpoint(_ checkpoint: AuditCheckpoint) async throws -> Bool
    /// A chain's checkpoints, oldest first.
    func checkpoints(chain: String) async throws -> [AuditCheckpoint]
}
