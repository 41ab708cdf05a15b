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
    func append(_ event: AuditEvent) async throws
    /// Newest first; `tenantID` nil lists events of every tenant and global ones.
    func list(tenantID: String?, page: PageRequest) async throws -> Page<AuditEvent>
}
