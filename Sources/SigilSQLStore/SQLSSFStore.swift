import Foundation
import SQLKit
import SigilStore

/// Shared Signals streams, subjects and SETs owed (docs/ssf.md). Events are queued in the audit
/// event's transaction (`enqueue(_ event:in:)`), like webhook deliveries.
struct SQLSSFStore: SSFStore {
    let runner: SQLRunner
    static let columns = """
        id, tenant_id, client_id, description, delivery_method, endpoint_url, sealed_authorization, events_requested, events_delivered,
        profile, status, status_reason, created_at, updated_at
        """
    static let eventColumns = """
        stream_id, jti, tenant_id, event_type, subject, payload, event_time, state, attempts, next_attempt_at, claimed_until, last_error, created_at
        """

    func createStream(_ s: SSFStream) async throws {
        let requested = try JSONColumn.encode(s.eventsRequested)
        let delivered = try JSONColumn.encode(s.eventsDelivered)
        try await runner.write("ssf stream") { db in
            try await db.raw(
                """
                INSERT INTO ssf_streams (\(unsafeRaw: Self.columns))
                VALUES (\(bind: s.id), \(bind: s.tenantID), \(bind: s.clientID), \(bind: s.description), \(bind: s.deliveryMethod),
                        \(bind: s.endpointURL), \(bind: s.sealedAuthorization), \(bind: requested), \(bind: delivered), \(bind: s.profile),
                        \(bind: s.status), \(bind: s.statusReason), \(bind: s.createdAt.ms), \(bind: s.updatedAt.ms))
                """
            ).run()
        }
    }

    func stream(tenantID: String, id: String) async throws -> SSFStream? {
        try await runner.read("ssf stream") { db in
            try await db.raw("SELECT \(unsafeRaw: Self.columns) FROM ssf_streams WHERE tenant_id = \(bind: tenantID) AND id = \(bind: id)")
                .first().map(Self.decode)
        }
    }

    func streams(tenantID: String, clientID: String?) async throws -> [SSFStream] {
        try await runner.read("ssf stream") { db in
            guard let clientID else {
                return try await db.raw(
                    "SELECT \(unsafeRaw: Self.columns) FROM ssf_streams WHERE tenant_id = \(bind: tenantID) ORDER BY created_at, id"
                ).all().map(Self.decode)
            }
            return try await db.raw(
                """
                SELECT \(unsafeRaw: Self.columns) FROM ssf_streams WHERE tenant_id = \(bind: tenantID) AND client_id = \(bind: clientID)
                ORDER BY created_at, id
                """
            ).all().map(Self.decode)
        }
    }

    func updateStream(_ s: SSFStream) async throws {
        let requested = try JSONColumn.encode(s.eventsRequested)
        let delivered = try JSONColumn.encode(s.eventsDelivered)
        try await runner.write("ssf stream") { db in
            let rows = try await db.raw(
                """
                UPDATE ssf_streams SET description = \(bind: s.description), delivery_method = \(bind: s.deliveryMethod),
                    endpoint_url = \(bind: s.endpointURL), sealed_authorization = \(bind: s.sealedAuthorization),
                    events_requested = \(bind: requested), events_delivered = \(bind: delivered), profile = \(bind: s.profile),
                    status = \(bind: s.status), status_reason = \(bind: s.statusReason), updated_at = \(bind: s.updatedAt.ms)
                WHERE tenant_id = \(bind: s.tenantID) AND id = \(bind: s.id) RETURNING id
                """
            ).all()
            if rows.isEmpty { throw StoreError.notFound("ssf stream", s.id) }
            // Disabled: nothing is held for it.
            if s.status == "disabled" {
                try await db.raw("DELETE FROM ssf_events WHERE stream_id = \(bind: s.id) AND state = 'pending'").run()
            }
        }
    }

    func deleteStream(tenantID: String, id: String) async throws -> Bool {
        try await runner.write("ssf stream") { db in
            try await db.raw("DELETE FROM ssf_events WHERE stream_id = \(bind: id) AND tenant_id = \(bind: tenantID)").run()
            try await db.raw(
                "DELETE FROM ssf_subjects WHERE stream_id IN (SELECT id FROM ssf_streams WHERE id = \(bind: id) AND tenant_id = \(bind: tenantID))"
            ).run()
            return !(try await db.raw("DELETE FROM ssf_streams WHERE tenant_id = \(bind: tenantID) AND id = \(bind: id) RETURNING id").all())
                .isEmpty
        }
    }

    func addSubject(streamID: String, userID: String, subject: String, at: Date) async throws {
        try await runner.write("ssf subject") { db in
            try await db.raw(
                """
                INSERT INTO ssf_subjects (stream_id, user_id, subject, created_at)
                VALUES (\(bind: streamID), \(bind: userID), \(bind: subject), \(bind: at.ms))
                ON CONFLICT (stream_id, user_id) DO UPDATE SET subject = \(bind: subject)
                """
            ).run()
        }
    }

    func removeSubject(streamID: String, userID: String) async throws -> Bool {
        try await runner.write("ssf subject") { db in
            !(try await db.raw(
                "DELETE FROM ssf_subjects WHERE stream_id = \(bind: streamID) AND user_id = \(bind: userID) RETURNING user_id"
            ).all()).isEmpty
        }
    }

    func enqueue(_ e: SSFEvent) async throws {
        try await runner.write("ssf event") { db in
            try await db.raw(
                """
                INSERT INTO ssf_events (\(unsafeRaw: Self.eventColumns))
                VALUES (\(bind: e.streamID), \(bind: e.jti), \(bind: e.tenantID), \(bind: e.eventType), \(bind: e.subject), \(bind: e.payload),
                        \(bind: e.eventTime.ms), 'pending', 0, \(bind: e.nextAttemptAt.ms), NULL, NULL, \(bind: e.createdAt.ms))
                ON CONFLICT (stream_id, jti) DO NOTHING
                """
            ).run()
        }
    }

    /// Queues what an audit event raises for every stream of its tenant that asked for that
    /// type and holds the user as a subject (default_subjects NONE), in the caller's transaction.
    static func enqueue(_ event: AuditEvent, in db: any SQLDatabase) async throws {
        guard let tenantID = event.tenantID, let raised = SSFSignal.raised(by: event) else { return }
        var userID = raised.userID
        if userID == nil, let session = raised.sessionID {
            userID = try await db.raw("SELECT user_id FROM sessions WHERE id = \(bind: session)").first().map { try $0.string("user_id") }
        }
        if userID == nil, let subject = raised.idvSubjectID {
            userID = try await db.raw("SELECT user_id FROM idv_subjects WHERE tenant_id = \(bind: tenantID) AND id = \(bind: subject)").first()
                .flatMap { try $0.optionalString("user_id") }
        }
        guard let userID else { return }
        // Okta's receiver never adds subjects: an okta-profile stream carries every user, named
        // the way Okta matches them (the sign-in email, inside the event).
        let email = try await db.raw("SELECT email FROM users WHERE id = \(bind: userID)").first().map { try $0.string("email") } ?? ""
        let oktaSubject = try JSONColumn.encode(["user": ["format": "email", "email": email]])
        var claims = raised.claims
        if let session = raised.sessionID { claims["session_id"] = session }
        let payload = try JSONColumn.encode(claims)
        let at = event.occurredAt.ms
        // The type as events_delivered stores it (JSON, whose encoder may escape "/"), matched
        // literally: `!` is the LIKE escape, so a backslash in the JSON is just a character.
        let encoded = try JSONColumn.encode([raised.type])
        let literal = String(encoded.dropFirst().dropLast()).replacingOccurrences(of: "!", with: "!!")
            .replacingOccurrences(of: "%", with: "!%").replacingOccurrences(of: "_", with: "!_")
        let pattern = "%" + literal + "%"
        try await db.raw(
            """
            INSERT INTO ssf_events (\(unsafeRaw: Self.eventColumns))
            SELECT s.id, \(bind: event.id + ".") || s.id, s.tenant_id, \(bind: raised.type), CASE WHEN s.profile = 'okta' THEN \(bind: oktaSubject) ELSE sub.subject END,
                   \(bind: payload), \(bind: at), 'pending', 0, \(bind: at), NULL, NULL, \(bind: at)
            FROM ssf_streams s LEFT JOIN ssf_subjects sub ON sub.stream_id = s.id AND sub.user_id = \(bind: userID)
            WHERE s.tenant_id = \(bind: tenantID) AND s.status <> 'disabled' AND (sub.user_id IS NOT NULL OR s.profile = 'okta')
              AND s.events_delivered LIKE \(bind: pattern) ESCAPE '!'
            ON CONFLICT (stream_id, jti) DO NOTHING
            """
        ).run()
    }

    func claimDuePush(now: Date, leaseUntil: Date, limit: Int) async throws -> [(SSFEvent, SSFStream)] {
        let skipLocked = runner.flavor == .postgres ? " FOR UPDATE OF e SKIP LOCKED" : ""
        return try await runner.write("ssf event") { db in
            let picked = try await db.raw(
                """
                SELECT e.stream_id, e.jti FROM ssf_events e JOIN ssf_streams s ON s.id = e.stream_id
                WHERE e.state = 'pending' AND e.next_attempt_at <= \(bind: now.ms)
                  AND (e.claimed_until IS NULL OR e.claimed_until <= \(bind: now.ms))
                  AND s.status = 'enabled' AND s.delivery_method = 'urn:ietf:rfc:8935'
                ORDER BY e.next_attempt_at, e.jti LIMIT \(bind: Int64(max(1, limit)))\(unsafeRaw: skipLocked)
                """
            ).all()
            var out: [(SSFEvent, SSFStream)] = []
            for row in picked {
                let streamID = try row.string("stream_id"), jti = try row.string("jti")
                guard
                    let claimed = try await db.raw(
                        """
                        UPDATE ssf_events SET claimed_until = \(bind: leaseUntil.ms)
                        WHERE stream_id = \(bind: streamID) AND jti = \(bind: jti) AND state = 'pending'
                          AND (claimed_until IS NULL OR claimed_until <= \(bind: now.ms))
                        RETURNING \(unsafeRaw: Self.eventColumns)
                        """
                    ).first(),
                    let stream = try await db.raw("SELECT \(unsafeRaw: Self.columns) FROM ssf_streams WHERE id = \(bind: streamID)").first()
                else { continue }
                out.append((try Self.decodeEvent(claimed), try Self.decode(stream)))
            }
            return out
        }
    }

    func markDelivered(streamID: String, jti: String) async throws {
        try await runner.write("ssf event") { db in
            try await db.raw(
                """
                UPDATE ssf_events SET state = 'delivered', attempts = attempts + 1, claimed_until = NULL, last_error = NULL
                WHERE stream_id = \(bind: streamID) AND jti = \(bind: jti)
                """
            ).run()
        }
    }

    func markFailed(streamID: String, jti: String, error: String, nextAttemptAt: Date?) async throws {
        try await runner.write("ssf event") { db in
            if let next = nextAttemptAt {
                try await db.raw(
                    """
                    UPDATE ssf_events SET attempts = attempts + 1, claimed_until = NULL, last_error = \(bind: error),
                        next_attempt_at = \(bind: next.ms)
                    WHERE stream_id = \(bind: streamID) AND jti = \(bind: jti)
                    """
                ).run()
            } else {
                try await db.raw(
                    """
                    UPDATE ssf_events SET state = 'failed', attempts = attempts + 1, claimed_until = NULL, last_error = \(bind: error)
                    WHERE stream_id = \(bind: streamID) AND jti = \(bind: jti)
                    """
                ).run()
            }
        }
    }

    func poll(tenantID: String, streamID: String, ack: [String], errors: [String: String], limit: Int) async throws -> (
        events: [SSFEvent], more: Bool
    ) {
        try await runner.write("ssf event") { db in
            for (jti, error) in errors {
                try await db.raw(
                    """
                    UPDATE ssf_events SET state = 'failed', last_error = \(bind: String(error.prefix(200)))
                    WHERE stream_id = \(bind: streamID) AND tenant_id = \(bind: tenantID) AND jti = \(bind: jti) AND state = 'pending'
                    """
                ).run()
            }
            for jti in ack {
                try await db.raw(
                    """
                    UPDATE ssf_events SET state = 'delivered' WHERE stream_id = \(bind: streamID) AND tenant_id = \(bind: tenantID)
                      AND jti = \(bind: jti) AND state = 'pending'
                    """
                ).run()
            }
            let enabled =
                try await db.raw(
                    "SELECT status FROM ssf_streams WHERE id = \(bind: streamID) AND tenant_id = \(bind: tenantID)"
                ).first().map { try $0.string("status") } == "enabled"
            guard enabled else { return ([], false) }
            let rows = try await db.raw(
                """
                SELECT \(unsafeRaw: Self.eventColumns) FROM ssf_events
                WHERE stream_id = \(bind: streamID) AND tenant_id = \(bind: tenantID) AND state = 'pending'
                ORDER BY created_at, jti LIMIT \(bind: Int64(max(0, limit) + 1))
                """
            ).all().map(Self.decodeEvent)
            return (Array(rows.prefix(max(0, limit))), rows.count > max(0, limit))
        }
    }

    func deleteFinished(before: Date) async throws -> Int {
        try await runner.write("ssf event") { db in
            try await db.raw(
                "DELETE FROM ssf_events WHERE created_at < \(bind: before.ms) RETURNING jti"
            ).all().count
        }
    }

    static func decode(_ row: any SQLRow) throws -> SSFStream {
        SSFStream(
            id: try row.string("id"), tenantID: try row.string("tenant_id"), clientID: try row.string("client_id"),
            description: try row.optionalString("description"), deliveryMethod: try row.string("delivery_method"),
            endpointURL: try row.optionalString("endpoint_url"), sealedAuthorization: try row.optionalString("sealed_authorization"),
            eventsRequested: try JSONColumn.decode([String].self, try row.string("events_requested")),
            eventsDelivered: try JSONColumn.decode([String].self, try row.string("events_delivered")), profile: try row.string("profile"),
            status: try row.string("status"), statusReason: try row.optionalString("status_reason"), createdAt: try row.date("created_at"),
            updatedAt: try row.date("updated_at"))
    }

    static func decodeEvent(_ row: any SQLRow) throws -> SSFEvent {
        SSFEvent(
            streamID: try row.string("stream_id"), jti: try row.string("jti"), tenantID: try row.string("tenant_id"),
            eventType: try row.string("event_type"), subject: try row.string("subject"), payload: try row.string("payload"),
            eventTime: try row.date("event_time"), state: SSFEvent.State(rawValue: try row.string("state")) ?? .pending,
            attempts: try row.int("attempts"), nextAttemptAt: try row.date("next_attempt_at"), claimedUntil: try row.optionalDate("claimed_until"),
            lastError: try row.optionalString("last_error"), createdAt: try row.date("created_at"))
    }
}
