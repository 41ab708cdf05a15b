import SigilStore

/// Reading the audit trail (the admin API's `GET /audit-events`). Writing stays with each use
/// case, in the transaction of the change it records.
public struct AuditService: Sendable {
    public let context: ServiceContext

    public init(context: ServiceContext) { self.context = context }

    /// A tenant's events, newest first, one page at a time.
    public func list(tenantID: String, page: PageRequest, by principal: Principal) async throws -> Page<AuditEvent> {
        try authorize(principal, tenantID)
        return try await context.store.audit.list(tenantID: tenantID, page: page)
    }
}
