import Foundation
import SQLKit
import SigilStore

struct SQLUpstreamStore: UpstreamStore {
    let runner: SQLRunner
    static let columns = "id, tenant_id, name, display_name, enabled, settings, created_at, updated_at, version"
    static let linkColumns = "tenant_id, connection_id, subject, user_id, created_at, last_seen_at"

    /// The `settings` column: policy and protocol settings.
    struct Stored: Codable {
        var policy: UpstreamPolicy
        var settings: UpstreamProtocolSettings
    }

    func create(_ c: UpstreamConnection) async throws -> UpstreamConnection {
        let settings = try JSONColumn.encode(Stored(policy: c.policy, settings: c.settings))
        return try await runner.write("upstream connection") { db in
            try await db.raw(
                """
                INSERT INTO upstream_connections (id, tenant_id, name, display_name, enabled, has_metadata_url, settings, created_at, updated_at, version)
                VALUES (\(bind: c.id), \(bind: c.tenantID), \(bind: c.name), \(bind: c.displayName), \(bind: Int64(c.enabled ? 1 : 0)),
                        \(bind: Int64(c.refreshURL == nil ? 0 : 1)), \(bind: settings), \(bind: c.createdAt.ms), \(bind: c.updatedAt.ms),
                        \(bind: Int64(c.version)))
                """
            ).run()
            return c
        }
    }

    func get(tenantID: String, id: String) async throws -> UpstreamConnection {
        let found = try await runner.read("upstream connection") { db in try await Self.fetch(db, tenantID: tenantID, id: id, lock: "") }
        guard let found else { throw StoreError.notFound("upstream connection", id) }
        return found
    }

    func find(tenantID: String, name: String) async throws -> UpstreamConnection? {
        try await runner.read("upstream connection") { db in
            try await db.raw(
                "SELECT \(unsafeRaw: Self.columns) FROM upstream_connections WHERE tenant_id = \(bind: tenantID) AND name = \(bind: name)"
            ).first().map(Self.decode)
        }
    }

    func list(tenantID: String) async throws -> [UpstreamConnection] {
        try await runner.read("upstream connection") { db in
            try await db.raw(
                "SELECT \(unsafeRaw: Self.columns) FROM upstream_connections WHERE tenant_id = \(bind: tenantID) ORDER BY name"
            ).all().map(Self.decode)
        }
    }

    func listWithMetadataURL() async throws -> [UpstreamConnection] {
        try await runner.read("upstream connection") { db in
            try await db.raw(
                "SELECT \(unsafeRaw: Self.columns) FROM upstream_connections WHERE has_metadata_url = 1 ORDER BY tenant_id, name"
            ).all().map(Self.decode)
        }
    }

    func update(
        tenantID: String, id: String, expectedVersion: Int?, _ mutate: @escaping @Sendable (inout UpstreamConnection) throws -> Void
    ) async throws -> (before: UpstreamConnection, after: UpstreamConnection) {
        try await runner.write("upstream connection") { db in
            guard let before = try await Self.fetch(db, tenantID: tenantID, id: id, lock: runner.forUpdate) else {
                throw StoreError.notFound("upstream connection", id)
            }
            if let expectedVersion, expectedVersion != before.version {
                throw StoreError.conflict("upstream connection", "version \(before.version), expected \(expectedVersion)")
            }
            var after = before
            try mutate(&after)
            after.id = before.id
            after.tenantID = before.tenantID
            after.createdAt = before.createdAt
            after.version = before.version + 1
            let settings = try JSONColumn.encode(Stored(policy: after.policy, settings: after.settings))
            try await db.raw(
                """
                UPDATE upstream_connections SET name = \(bind: after.name), display_name = \(bind: after.displayName),
                    enabled = \(bind: Int64(after.enabled ? 1 : 0)), has_metadata_url = \(bind: Int64(after.refreshURL == nil ? 0 : 1)),
                    settings = \(bind: settings), updated_at = \(bind: after.updatedAt.ms), version = \(bind: Int64(after.version))
                WHERE tenant_id = \(bind: tenantID) AND id = \(bind: id)
                """
            ).run()
            return (before, after)
        }
    }

    func delete(tenantID: String, id: String) async throws -> UpstreamConnection {
        try await runner.write("upstream connection") { db in
            guard let c = try await Self.fetch(db, tenantID: tenantID, id: id, lock: runner.forUpdate) else {
                throw StoreError.notFound("upstream connection", id)
            }
            try await db.raw("DELETE FROM upstream_links WHERE tenant_id = \(bind: tenantID) AND connection_id = \(bind: id)").run()
            try await db.raw("DELETE FROM upstream_sessions WHERE tenant_id = \(bind: tenantID) AND connection_id = \(bind: id)").run()
            try await db.raw("DELETE FROM upstream_traces WHERE tenant_id = \(bind: tenantID) AND connection_id = \(bind: id)").run()
            try await db.raw("DELETE FROM upstream_connections WHERE tenant_id = \(bind: tenantID) AND id = \(bind: id)").run()
            return c
        }
    }

    func link(tenantID: String, connectionID: String, subject: String) async throws -> UpstreamLink? {
        try await runner.read("upstream link") { db in
            try await db.raw(
                """
                SELECT \(unsafeRaw: Self.linkColumns) FROM upstream_links
                WHERE tenant_id = \(bind: tenantID) AND connection_id = \(bind: connectionID) AND subject = \(bind: subject)
                """
            ).first().map(Self.decodeLink)
        }
    }

    func createLink(_ l: UpstreamLink) async throws -> UpstreamLink {
        try await runner.write("upstream link") { db in
            try await db.raw(
                """
                INSERT INTO upstream_links (\(unsafeRaw: Self.linkColumns))
                VALUES (\(bind: l.tenantID), \(bind: l.connectionID), \(bind: l.subject), \(bind: l.userID), \(bind: l.createdAt.ms),
                        \(bind: l.lastSeenAt.ms))
                """
            ).run()
            return l
        }
    }

    func touchLink(tenantID: String, connectionID: String, subject: String, at: Date) async throws {
        try await runner.write("upstream link") { db in
            try await db.raw(
                """
                UPDATE upstream_links SET last_seen_at = \(bind: at.ms)
                WHERE tenant_id = \(bind: tenantID) AND connection_id = \(bind: connectionID) AND subject = \(bind: subject)
                """
            ).run()
        }
    }

    func links(tenantID: String, userID: String) async throws -> [UpstreamLink] {
        try await runner.read("upstream link") { db in
            try await db.raw(
                """
                SELECT \(unsafeRaw: Self.linkColumns) FROM upstream_links
                WHERE tenant_id = \(bind: tenantID) AND user_id = \(bind: userID) ORDER BY connection_id, subject
                """
            ).all().map(Self.decodeLink)
        }
    }

    static let sessionColumns = "session_id, tenant_id, connection_id, subject, subject_format, session_index, sealed_id_token, created_at"

    func recordSession(_ u: UpstreamSession) async throws {
        try await runner.write("upstream session") { db in
            try await db.raw(
                """
                INSERT INTO upstream_sessions (\(unsafeRaw: Self.sessionColumns))
                VALUES (\(bind: u.sessionID), \(bind: u.tenantID), \(bind: u.connectionID), \(bind: u.subject), \(bind: u.subjectFormat),
                        \(bind: u.sessionIndex), \(bind: u.sealedIDToken), \(bind: u.createdAt.ms))
                ON CONFLICT (session_id) DO UPDATE SET connection_id = excluded.connection_id, subject = excluded.subject,
                    subject_format = excluded.subject_format, session_index = excluded.session_index,
                    sealed_id_token = excluded.sealed_id_token, created_at = excluded.created_at
                """
            ).run()
        }
    }

    func session(tenantID: String, sessionID: String) async throws -> UpstreamSession? {
        try await runner.read("upstream session") { db in
            try await db.raw(
                """
                SELECT \(unsafeRaw: Self.sessionColumns) FROM upstream_sessions
                WHERE tenant_id = \(bind: tenantID) AND session_id = \(bind: sessionID)
                """
            ).first().map(Self.decodeSession)
        }
    }

    func sessions(tenantID: String, connectionID: String, subject: String) async throws -> [UpstreamSession] {
        try await sessions(tenantID: tenantID, connectionID: connectionID, column: "subject", value: subject)
    }

    func sessions(tenantID: String, connectionID: String, sessionIndex: String) async throws -> [UpstreamSession] {
        try await sessions(tenantID: tenantID, connectionID: connectionID, column: "session_index", value: sessionIndex)
    }

    /// A connection's upstream sessions where `column` (one of two fixed names, never input) is `value`.
    private func sessions(tenantID: String, connectionID: String, column: String, value: String) async throws -> [UpstreamSession] {
        precondition(["subject", "session_index"].contains(column))
        return try await runner.read("upstream session") { db in
            try await db.raw(
                """
                SELECT \(unsafeRaw: Self.sessionColumns) FROM upstream_sessions
                WHERE tenant_id = \(bind: tenantID) AND connection_id = \(bind: connectionID) AND \(unsafeRaw: column) = \(bind: value)
                ORDER BY created_at, session_id
                """
            ).all().map(Self.decodeSession)
        }
    }

    static let traceColumns = "id, tenant_id, connection_id, flow_id, outcome, reason, created_at, expires_at, data"

    func recordTrace(_ t: UpstreamTrace) async throws {
        let data = try JSONColumn.encode(t.data)
        try await runner.write("upstream trace") { db in
            try await db.raw(
                """
                INSERT INTO upstream_traces (\(unsafeRaw: Self.traceColumns))
                VALUES (\(bind: t.id), \(bind: t.tenantID), \(bind: t.connectionID), \(bind: t.flowID), \(bind: t.outcome), \(bind: t.reason),
                        \(bind: t.createdAt.ms), \(bind: t.expiresAt.ms), \(bind: data))
                """
            ).run()
        }
    }

    func traces(tenantID: String, connectionID: String, limit: Int) async throws -> [UpstreamTrace] {
        try await runner.read("upstream trace") { db in
            try await db.raw(
                """
                SELECT \(unsafeRaw: Self.traceColumns) FROM upstream_traces
                WHERE tenant_id = \(bind: tenantID) AND connection_id = \(bind: connectionID)
                ORDER BY created_at DESC, id DESC LIMIT \(bind: Int64(limit))
                """
            ).all().map(Self.decodeTrace)
        }
    }

    func trace(tenantID: String, id: String) async throws -> UpstreamTrace? {
        try await runner.read("upstream trace") { db in
            try await db.raw(
                "SELECT \(unsafeRaw: Self.traceColumns) FROM upstream_traces WHERE tenant_id = \(bind: tenantID) AND id = \(bind: id)"
            ).first().map(Self.decodeTrace)
        }
    }

    func deleteExpiredTraces(now: Date) async throws -> Int {
        try await runner.write("upstream trace") { db in
            try await db.raw("DELETE FROM upstream_traces WHERE expires_at <= \(bind: now.ms) RETURNING id").all().count
        }
    }

    func completeTrace(tenantID: String, flowID: String, check: UpstreamTrace.Check, reason: String?) async throws {
        try await runner.write("upstream trace") { db in
            let rows = try await db.raw(
                """
                SELECT \(unsafeRaw: Self.traceColumns) FROM upstream_traces
                WHERE tenant_id = \(bind: tenantID) AND flow_id = \(bind: flowID)\(unsafeRaw: runner.forUpdate)
                """
            ).all().map(Self.decodeTrace)
            // Once per sign-in: a second continue (a replay) does not rewrite a finished trace.
            for var trace in rows where trace.outcome == "accepted" && !trace.data.checks.contains(where: { $0.name == check.name }) {
                trace.data.checks.append(check)
                if !check.passed {
                    trace.outcome = "rejected"
                    trace.reason = reason
                }
                let data = try JSONColumn.encode(trace.data)
                try await db.raw(
                    """
                    UPDATE upstream_traces SET outcome = \(bind: trace.outcome), reason = \(bind: trace.reason), data = \(bind: data)
                    WHERE tenant_id = \(bind: tenantID) AND id = \(bind: trace.id)
                    """
                ).run()
            }
        }
    }

    static func decodeTrace(_ row: any SQLRow) throws -> UpstreamTrace {
        UpstreamTrace(
            id: try row.string("id"), tenantID: try row.string("tenant_id"), connectionID: try row.string("connection_id"),
            flowID: try row.optionalString("flow_id"), outcome: try row.string("outcome"), reason: try row.optionalString("reason"),
            createdAt: try row.date("created_at"), expiresAt: try row.date("expires_at"),
            data: try JSONColumn.decode(UpstreamTrace.Data.self, try row.string("data")))
    }

    static func decodeSession(_ row: any SQLRow) throws -> UpstreamSession {
        UpstreamSession(
            tenantID: try row.string("tenant_id"), sessionID: try row.string("session_id"), connectionID: try row.string("connection_id"),
            subject: try row.string("subject"), subjectFormat: try row.optionalString("subject_format"),
            sessionIndex: try row.optionalString("session_index"), sealedIDToken: try row.optionalString("sealed_id_token"),
            createdAt: try row.date("created_at"))
    }

    static func fetch(_ db: any SQLDatabase, tenantID: String, id: String, lock: String) async throws -> UpstreamConnection? {
        try await db.raw(
            "SELECT \(unsafeRaw: columns) FROM upstream_connections WHERE tenant_id = \(bind: tenantID) AND id = \(bind: id)\(unsafeRaw: lock)"
        ).first().map(decode)
    }

    static func decode(_ row: any SQLRow) throws -> UpstreamConnection {
        let stored = try JSONColumn.decode(Stored.self, try row.string("settings"))
        return UpstreamConnection(
            id: try row.string("id"), tenantID: try row.string("tenant_id"), name: try row.string("name"),
            displayName: try row.string("display_name"), enabled: try row.int("enabled") != 0, policy: stored.policy, settings: stored.settings,
            createdAt: try row.date("created_at"), updatedAt: try row.date("updated_at"), version: try row.int("version"))
    }

    static func decodeLink(_ row: any SQLRow) throws -> UpstreamLink {
        UpstreamLink(
            tenantID: try row.string("tenant_id"), connectionID: try row.string("connection_id"), subject: try row.string("subject"),
            userID: try row.string("user_id"), createdAt: try row.date("created_at"), lastSeenAt: try row.date("last_seen_at"))
    }
}
