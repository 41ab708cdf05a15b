import Foundation
import SQLKit
import SigilStore

/// Webhook endpoints, one subscription row per event type (so queuing filters in SQL), and the
/// outbox of deliveries. Deliveries outlive their endpoint (they are its delivery log) and are
/// only ever handed out with an enabled endpoint.
struct SQLWebhookStore: WebhookStore {
    let runner: SQLRunner
    static let endpointColumns = """
        id, tenant_id, url, description, event_types, enabled, sealed_secret, previous_sealed_secret, previous_secret_expires_at,
        created_at, updated_at
        """
    static let deliveryColumns = """
        endpoint_id, event_id, tenant_id, event_type, state, attempts, next_attempt_at, claimed_until, last_attempt_at, last_status,
        last_error, created_at, delivered_at
        """

    // MARK: endpoints

    func createEndpoint(_ e: WebhookEndpoint) async throws {
        let types = try JSONColumn.encode(e.eventTypes)
        try await runner.write("webhook endpoint") { db in
            try await db.raw(
                """
                INSERT INTO webhook_endpoints (\(unsafeRaw: Self.endpointColumns))
                VALUES (\(bind: e.id), \(bind: e.tenantID), \(bind: e.url), \(bind: e.description), \(bind: types),
                        \(bind: Int64(e.enabled ? 1 : 0)), \(bind: e.sealedSecret), \(bind: e.previousSealedSecret),
                        \(bind: e.previousSecretExpiresAt.ms), \(bind: e.createdAt.ms), \(bind: e.updatedAt.ms))
                """
            ).run()
            try await Self.subscribe(db, endpointID: e.id, to: e.eventTypes)
        }
    }

    func endpoint(tenantID: String, id: String) async throws -> WebhookEndpoint? {
        try await runner.read("webhook endpoint") { db in
            try await db.raw(
                "SELECT \(unsafeRaw: Self.endpointColumns) FROM webhook_endpoints WHERE tenant_id = \(bind: tenantID) AND id = \(bind: id)"
            ).first().map(Self.decodeEndpoint)
        }
    }

    func endpoints(tenantID: String) async throws -> [WebhookEndpoint] {
        try await runner.read("webhook endpoint") { db in
            try await db.raw(
                """
                SELECT \(unsafeRaw: Self.endpointColumns) FROM webhook_endpoints WHERE tenant_id = \(bind: tenantID)
                ORDER BY created_at, id
                """
            ).all().map(Self.decodeEndpoint)
        }
    }

    func updateEndpoint(_ e: WebhookEndpoint) async throws {
        let types = try JSONColumn.encode(e.eventTypes)
        try await runner.write("webhook endpoint") { db in
            let rows = try await db.raw(
                """
                UPDATE webhook_endpoints SET url = \(bind: e.url), description = \(bind: e.description), event_types = \(bind: types),
                    enabled = \(bind: Int64(e.enabled ? 1 : 0)), sealed_secret = \(bind: e.sealedSecret),
                    previous_sealed_secret = \(bind: e.previousSealedSecret),
                    previous_secret_expires_at = \(bind: e.previousSecretExpiresAt.ms), updated_at = \(bind: e.updatedAt.ms)
                WHERE tenant_id = \(bind: e.tenantID) AND id = \(bind: e.id) RETURNING id
                """
            ).all()
            if rows.isEmpty { throw StoreError.notFound("webhook endpoint", e.id) }
            try await db.raw("DELETE FROM webhook_subscriptions WHERE endpoint_id = \(bind: e.id)").run()
            try await Self.subscribe(db, endpointID: e.id, to: e.eventTypes)
        }
    }

    /// An event queued by a transaction that read the endpoint before this one committed can
    /// still land as pending after the sweep below; `claimDue` fails such a row when it comes due
    /// (queuing takes no lock on the endpoint, so an audit append and a deletion never wait for
    /// each other). `at` is not stored: a delivery records attempts, and this is not one.
    func deleteEndpoint(tenantID: String, id: String, at: Date) async throws -> Bool {
        let forUpdate = runner.forUpdate
        return try await runner.write("webhook endpoint") { db in
            let found = try await db.raw(
                "SELECT id FROM webhook_endpoints WHERE tenant_id = \(bind: tenantID) AND id = \(bind: id)\(unsafeRaw: forUpdate)"
            ).all()
            guard !found.isEmpty else { return false }
            try await db.raw(
                """
                UPDATE webhook_deliveries SET state = 'failed', claimed_until = NULL, last_error = 'endpoint deleted'
                WHERE endpoint_id = \(bind: id) AND state = 'pending'
                """
            ).run()
            try await db.raw("DELETE FROM webhook_subscriptions WHERE endpoint_id = \(bind: id)").run()
            try await db.raw("DELETE FROM webhook_endpoints WHERE tenant_id = \(bind: tenantID) AND id = \(bind: id)").run()
            return true
        }
    }

    /// One row per distinct event type.
    static func subscribe(_ db: any SQLDatabase, endpointID: String, to types: [String]) async throws {
        var seen: Set<String> = []
        for type in types where seen.insert(type).inserted {
            try await db.raw(
                "INSERT INTO webhook_subscriptions (endpoint_id, event_type) VALUES (\(bind: endpointID), \(bind: type))"
            ).run()
        }
    }

    // MARK: outbox

    @discardableResult
    func enqueue(_ event: AuditEvent) async throws -> Int {
        try await runner.write("webhook delivery") { db in try await Self.enqueue(event, in: db) }
    }

    /// Queues `event` on `db` (the audit append's transaction): one pending delivery per endpoint
    /// of its tenant subscribed to its action or to `*` (a disabled one's wait for it to be enabled
    /// again), due when it occurred. A delivery
    /// already queued for the event is kept as it is.
    @discardableResult
    static func enqueue(_ event: AuditEvent, in db: any SQLDatabase) async throws -> Int {
        guard let tenantID = event.tenantID else { return 0 }
        let at = event.occurredAt.ms
        return try await db.raw(
            """
            INSERT INTO webhook_deliveries (endpoint_id, event_id, tenant_id, event_type, state, attempts, next_attempt_at, created_at)
            SELECT e.id, \(bind: event.id), e.tenant_id, \(bind: event.action), 'pending', 0, \(bind: at), \(bind: at)
            FROM webhook_endpoints e
            WHERE e.tenant_id = \(bind: tenantID)
              AND EXISTS (
                SELECT 1 FROM webhook_subscriptions s WHERE s.endpoint_id = e.id AND s.event_type IN (\(bind: event.action), '*'))
            ON CONFLICT (endpoint_id, event_id) DO NOTHING
            RETURNING endpoint_id
            """
        ).all().count
    }

    func claimDue(now: Date, leaseUntil: Date, limit: Int) async throws -> [ClaimedWebhookDelivery] {
        // As for logout deliveries: on PostgreSQL the candidates are picked `FOR UPDATE SKIP
        // LOCKED` (a row another node is claiming is passed over, not waited for) and the outer
        // condition is checked again on the row itself; SQLite has one writer at a time. Only
        // delivery rows are locked. The candidates are a MATERIALIZED CTE: as a plain `IN (…
        // LIMIT n FOR UPDATE SKIP LOCKED)` subquery PostgreSQL may evaluate it more than once
        // (a two-column semi-join) and claim more than `limit` rows. Rows of disabled endpoints wait; rows whose endpoint is gone
        // are claimed only to be failed below, never handed out.
        let skipLocked = runner.flavor == .postgres ? " FOR UPDATE SKIP LOCKED" : ""
        return try await runner.write("webhook delivery") { db in
            let claimed = try await db.raw(
                """
                WITH picked AS MATERIALIZED (
                    SELECT d.endpoint_id, d.event_id FROM webhook_deliveries d
                    WHERE d.state = 'pending' AND d.next_attempt_at <= \(bind: now.ms)
                      AND (d.claimed_until IS NULL OR d.claimed_until <= \(bind: now.ms))
                      AND NOT EXISTS (SELECT 1 FROM webhook_endpoints e WHERE e.id = d.endpoint_id AND e.enabled = 0)
                    ORDER BY d.next_attempt_at, d.event_id LIMIT \(bind: Int64(max(1, limit)))\(unsafeRaw: skipLocked))
                UPDATE webhook_deliveries SET claimed_until = \(bind: leaseUntil.ms)
                WHERE (endpoint_id, event_id) IN (SELECT endpoint_id, event_id FROM picked)
                  AND state = 'pending' AND (claimed_until IS NULL OR claimed_until <= \(bind: now.ms))
                RETURNING \(unsafeRaw: Self.deliveryColumns)
                """
            ).all().map(Self.decodeDelivery).sorted {
                ($0.nextAttemptAt, $0.eventID, $0.endpointID) < ($1.nextAttemptAt, $1.eventID, $1.endpointID)
            }
            if claimed.isEmpty { return [] }
            let endpointIDs: [any Encodable & Sendable] = Set(claimed.map(\.endpointID)).sorted()
            let eventIDs: [any Encodable & Sendable] = Set(claimed.map(\.eventID)).sorted()
            let endpoints = try await db.raw(
                "SELECT \(unsafeRaw: Self.endpointColumns) FROM webhook_endpoints WHERE id IN (\(binds: endpointIDs))"
            ).all().map(Self.decodeEndpoint)
            let events = try await db.raw(
                "SELECT \(unsafeRaw: SQLAuditEventStore.columns) FROM audit_events WHERE id IN (\(binds: eventIDs))"
            ).all().map(SQLAuditEventStore.decode)
            let endpointByID = Dictionary(endpoints.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
            let eventByID = Dictionary(events.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
            var out: [ClaimedWebhookDelivery] = []
            for delivery in claimed {
                if let endpoint = endpointByID[delivery.endpointID], let event = eventByID[delivery.eventID] {
                    out.append(ClaimedWebhookDelivery(delivery: delivery, endpoint: endpoint, event: event))
                    continue
                }
                // Nothing can be sent without both (the endpoint deleted while the event was
                // queued, the audit row gone): give up on it rather than claim it again.
                let reason = endpointByID[delivery.endpointID] == nil ? "endpoint deleted" : "event not found"
                try await db.raw(
                    """
                    UPDATE webhook_deliveries SET state = 'failed', claimed_until = NULL, last_error = \(bind: reason)
                    WHERE endpoint_id = \(bind: delivery.endpointID) AND event_id = \(bind: delivery.eventID)
                    """
                ).run()
            }
            return out
        }
    }

    func markDelivered(endpointID: String, eventID: String, at: Date, status: Int) async throws {
        try await runner.write("webhook delivery") { db in
            let rows = try await db.raw(
                """
                UPDATE webhook_deliveries SET state = 'delivered', attempts = attempts + 1, claimed_until = NULL,
                    last_attempt_at = \(bind: at.ms), last_status = \(bind: Int64(status)), last_error = NULL, delivered_at = \(bind: at.ms)
                WHERE endpoint_id = \(bind: endpointID) AND event_id = \(bind: eventID) RETURNING event_id
                """
            ).all()
            if rows.isEmpty { throw StoreError.notFound("webhook delivery", eventID) }
        }
    }

    func markFailed(
        endpointID: String, eventID: String, at: Date, status: Int?, error: String, nextAttemptAt: Date?
    ) async throws {
        // A retry leaves the state alone: a delivery failed meanwhile (its endpoint deleted while
        // this attempt ran) stays failed instead of waiting for an endpoint that is gone.
        let outcome: SQLQueryString = nextAttemptAt.map { "next_attempt_at = \(bind: $0.ms)" } ?? "state = 'failed'"
        let lastStatus = status.map { Int64($0) }
        try await runner.write("webhook delivery") { db in
            let rows = try await db.raw(
                """
                UPDATE webhook_deliveries SET \(outcome), attempts = attempts + 1, claimed_until = NULL,
                    last_attempt_at = \(bind: at.ms), last_status = \(bind: lastStatus), last_error = \(bind: error)
                WHERE endpoint_id = \(bind: endpointID) AND event_id = \(bind: eventID) RETURNING event_id
                """
            ).all()
            if rows.isEmpty { throw StoreError.notFound("webhook delivery", eventID) }
        }
    }

    func delivery(tenantID: String, endpointID: String, eventID: String) async throws -> WebhookDelivery? {
        try await runner.read("webhook delivery") { db in
            try await db.raw(
                """
                SELECT \(unsafeRaw: Self.deliveryColumns) FROM webhook_deliveries
                WHERE tenant_id = \(bind: tenantID) AND endpoint_id = \(bind: endpointID) AND event_id = \(bind: eventID)
                """
            ).first().map(Self.decodeDelivery)
        }
    }

    func deliveries(
        tenantID: String, endpointID: String, state: WebhookDelivery.State?, page: PageRequest
    ) async throws -> Page<WebhookDelivery> {
        // Newest first: event ids are time-ordered, and the cursor is the last (smallest) one seen.
        let after = page.after ?? "\u{7F}"
        let stateFilter: SQLQueryString = state.map { "AND state = \(bind: $0.rawValue)" } ?? ""
        return try await runner.read("webhook delivery") { db in
            let rows = try await db.raw(
                """
                SELECT \(unsafeRaw: Self.deliveryColumns) FROM webhook_deliveries
                WHERE tenant_id = \(bind: tenantID) AND endpoint_id = \(bind: endpointID) AND event_id < \(bind: after) \(stateFilter)
                ORDER BY event_id DESC LIMIT \(bind: Int64(page.limit + 1))
                """
            ).all()
            return try Pagination.page(rows.map(Self.decodeDelivery), limit: page.limit, id: \.eventID)
        }
    }

    /// A deleted endpoint's deliveries are not replayed (`false`): nothing could claim them, and
    /// a pending row is never swept.
    func replay(tenantID: String, endpointID: String, eventID: String, now: Date) async throws -> Bool {
        try await runner.write("webhook delivery") { db in
            !(try await db.raw(
                """
                UPDATE webhook_deliveries SET state = 'pending', attempts = 0, next_attempt_at = \(bind: now.ms), claimed_until = NULL,
                    delivered_at = NULL
                WHERE tenant_id = \(bind: tenantID) AND endpoint_id = \(bind: endpointID) AND event_id = \(bind: eventID)
                  AND EXISTS (SELECT 1 FROM webhook_endpoints e WHERE e.id = \(bind: endpointID) AND e.tenant_id = \(bind: tenantID))
                RETURNING event_id
                """
            ).all()).isEmpty
        }
    }

    func deleteFinished(before: Date) async throws -> Int {
        try await runner.write("webhook delivery") { db in
            try await db.raw(
                """
                DELETE FROM webhook_deliveries WHERE state IN ('delivered', 'failed') AND created_at < \(bind: before.ms) RETURNING event_id
                """
            ).all().count
        }
    }

    func pendingCount() async throws -> Int {
        try await runner.read("webhook delivery") { db in
            try await db.raw("SELECT COUNT(*) AS n FROM webhook_deliveries WHERE state = 'pending'").first()?.int("n") ?? 0
        }
    }

    // MARK: rows

    static func decodeEndpoint(_ row: any SQLRow) throws -> WebhookEndpoint {
        WebhookEndpoint(
            id: try row.string("id"), tenantID: try row.string("tenant_id"), url: try row.string("url"),
            description: try row.optionalString("description"),
            eventTypes: try JSONColumn.decode([String].self, try row.string("event_types")),
            enabled: try row.int("enabled") != 0, sealedSecret: try row.string("sealed_secret"),
            previousSealedSecret: try row.optionalString("previous_sealed_secret"),
            previousSecretExpiresAt: try row.optionalDate("previous_secret_expires_at"), createdAt: try row.date("created_at"),
            updatedAt: try row.date("updated_at"))
    }

    static func decodeDelivery(_ row: any SQLRow) throws -> WebhookDelivery {
        guard let state = WebhookDelivery.State(rawValue: try row.string("state")) else {
            throw StoreError(.unavailable, entity: "webhook delivery", detail: "stored state is unknown")
        }
        return WebhookDelivery(
            endpointID: try row.string("endpoint_id"), eventID: try row.string("event_id"), tenantID: try row.string("tenant_id"),
            eventType: try row.string("event_type"), state: state, attempts: try row.int("attempts"),
            nextAttemptAt: try row.date("next_attempt_at"), claimedUntil: try row.optionalDate("claimed_until"),
            lastAttemptAt: try row.optionalDate("last_attempt_at"),
            lastStatus: try row.decode(column: "last_status", as: Int64?.self).map { Int($0) },
            lastError: try row.optionalString("last_error"),
            createdAt: try row.date("created_at"), deliveredAt: try row.optionalDate("delivered_at"))
    }
}
