import Foundation
import SQLKit
import SigilStore

struct SQLAuditEventStore: AuditEventStore {
    let runner: SQLRunner
    static let columns = "id, tenant_id, occurred_at, actor, action, target_type, target_id, outcome, before_summary, after_summary, reason"
    static let chainColumns = "chain, chain_seq, prev_hash, hash"

    /// Chains the event (docs/audit.md) in the same transaction that writes it: the chain's head
    /// row is read `FOR UPDATE` (SQLite's `BEGIN IMMEDIATE` already excludes other writers), so
    /// two nodes appending to one tenant's chain wait for each other instead of forking it, and
    /// the unique index on (chain, chain_seq) refuses a fork outright.
    /// The event's webhook deliveries are queued in that transaction too.
    func append(_ event: AuditEvent) async throws {
        var event = event
        // Hash what is stored: whole milliseconds.
        event.occurredAt = Date(timeIntervalSince1970: Double(event.occurredAt.ms) / 1000)
        let chain = AuditChain.key(tenantID: event.tenantID)
        let digest = AuditChain.contentDigest(event)
        let before = try event.before.map(JSONColumn.encode)
        let after = try event.after.map(JSONColumn.encode)
        let forUpdate = runner.forUpdate
        try await runner.write("audit event") { [event] db in
            let head = try await Self.lockHead(db, chain: chain, forUpdate: forUpdate, now: event.occurredAt.ms)
            let sequence = head.sequence + 1
            guard let hash = AuditChain.link(chain: chain, sequence: sequence, previous: head.hash, contentDigest: digest) else {
                throw StoreError(.conflict, entity: "audit chain", detail: "the chain head of \(chain.isEmpty ? "global events" : chain) is not a hash")
            }
            try await db.raw(
                """
                INSERT INTO audit_events (\(unsafeRaw: Self.columns), \(unsafeRaw: Self.chainColumns))
                VALUES (\(bind: event.id), \(bind: event.tenantID), \(bind: event.occurredAt.ms), \(bind: event.actor),
                        \(bind: event.action), \(bind: event.targetType), \(bind: event.targetID), \(bind: event.outcome.rawValue),
                        \(bind: before), \(bind: after), \(bind: event.reason),
                        \(bind: chain), \(bind: sequence), \(bind: head.hash), \(bind: hash))
                """
            ).run()
            try await db.raw(
                """
                UPDATE audit_chain_heads SET seq = \(bind: sequence), hash = \(bind: hash), updated_at = \(bind: event.occurredAt.ms)
                WHERE chain = \(bind: chain)
                """
            ).run()
            // The event's webhook deliveries commit (or roll back) with it.
            try await SQLWebhookStore.enqueue(event, in: db)
            // And the Shared Signals it raises (docs/ssf.md).
            try await SQLSSFStore.enqueue(event, in: db)
        }
    }

    /// The chain's head, locked for this transaction. A chain without a head row starts one: at
    /// its last stored event if it has any (a deleted head must not stop every audited write),
    /// else at the genesis hash.
    static func lockHead(_ db: any SQLDatabase, chain: String, forUpdate: String, now: Int64) async throws -> (sequence: Int64, hash: String) {
        func read() async throws -> (sequence: Int64, hash: String)? {
            let rows = try await db.raw(
                "SELECT seq, hash FROM audit_chain_heads WHERE chain = \(bind: chain)\(unsafeRaw: forUpdate)"
            ).all()
            guard let row = rows.first else { return nil }
            return (try row.decode(column: "seq", as: Int64.self), try row.string("hash"))
        }
        if let head = try await read() { return head }
        let last = try await db.raw(
            """
            SELECT chain_seq, hash FROM audit_events WHERE chain = \(bind: chain) AND chain_seq IS NOT NULL
            ORDER BY chain_seq DESC LIMIT 1
            """
        ).all().first
        let sequence = try last?.decode(column: "chain_seq", as: Int64.self) ?? 0
        let hash = try last?.string("hash") ?? AuditChain.genesis
        try await db.raw(
            """
            INSERT INTO audit_chain_heads (chain, seq, hash, updated_at) VALUES (\(bind: chain), \(bind: sequence), \(bind: hash), \(bind: now))
            ON CONFLICT (chain) DO NOTHING
            """
        ).run()
        guard let head = try await read() else { throw StoreError(.conflict, entity: "audit chain", detail: "the chain head could not be created") }
        return head
    }

    func list(tenantID: String?, page: PageRequest) async throws -> Page<AuditEvent> {
        // Newest first: the cursor is the last (smallest) id seen.
        let after = page.after ?? "\u{7F}"
        return try await runner.read("audit event") { db in
            let rows: [any SQLRow]
            if let tenantID {
                rows = try await db.raw(
                    """
                    SELECT \(unsafeRaw: Self.columns) FROM audit_events WHERE tenant_id = \(bind: tenantID) AND id < \(bind: after)
                    ORDER BY id DESC LIMIT \(bind: Int64(page.limit + 1))
                    """
                ).all()
            } else {
                rows = try await db.raw(
                    """
                    SELECT \(unsafeRaw: Self.columns) FROM audit_events WHERE id < \(bind: after)
                    ORDER BY id DESC LIMIT \(bind: Int64(page.limit + 1))
                    """
                ).all()
            }
            return try Pagination.page(rows.map(Self.decode), limit: page.limit, id: \.id)
        }
    }

    func chainHeads() async throws -> [AuditChainHead] {
        try await runner.read("audit chain") { db in
            try await db.raw("SELECT chain, seq, hash, updated_at FROM audit_chain_heads ORDER BY chain").all().map { row in
                AuditChainHead(
                    chain: try row.string("chain"), sequence: try row.decode(column: "seq", as: Int64.self), hash: try row.string("hash"),
                    updatedAt: try row.date("updated_at"))
            }
        }
    }

    func chained(chain: String, after: Int64, limit: Int) async throws -> [ChainedAuditEvent] {
        try await runner.read("audit event") { db in
            try await db.raw(
                """
                SELECT \(unsafeRaw: Self.columns), \(unsafeRaw: Self.chainColumns) FROM audit_events
                WHERE chain = \(bind: chain) AND chain_seq > \(bind: after) ORDER BY chain_seq LIMIT \(bind: Int64(limit))
                """
            ).all().map(Self.decodeChained)
        }
    }

    func unchained(limit: Int) async throws -> [ChainedAuditEvent] {
        try await runner.read("audit event") { db in
            try await db.raw(
                """
                SELECT \(unsafeRaw: Self.columns), \(unsafeRaw: Self.chainColumns) FROM audit_events
                WHERE chain_seq IS NULL OR chain IS NULL OR hash IS NULL ORDER BY id LIMIT \(bind: Int64(limit))
                """
            ).all().map(Self.decodeChained)
        }
    }

    func addCheckpoint(_ checkpoint: AuditCheckpoint) async throws -> Bool {
        try await runner.write("audit checkpoint") { db in
            !(try await db.raw(
                """
                INSERT INTO audit_checkpoints (chain, seq, hash, signed, created_at)
                VALUES (\(bind: checkpoint.chain), \(bind: checkpoint.sequence), \(bind: checkpoint.hash), \(bind: checkpoint.signed),
                        \(bind: checkpoint.createdAt.ms))
                ON CONFLICT (chain, seq) DO NOTHING RETURNING seq
                """
            ).all().isEmpty)
        }
    }

    func checkpoints(chain: String) async throws -> [AuditCheckpoint] {
        try await runner.read("audit checkpoint") { db in
            try await db.raw(
                "SELECT chain, seq, hash, signed, created_at FROM audit_checkpoints WHERE chain = \(bind: chain) ORDER BY seq"
            ).all().map { row in
                AuditCheckpoint(
                    chain: try row.string("chain"), sequence: try row.decode(column: "seq", as: Int64.self), hash: try row.string("hash"),
                    signed: try row.string("signed"), createdAt: try row.date("created_at"))
            }
        }
    }

    static func decode(_ row: any SQLRow) throws -> AuditEvent {
        AuditEvent(
            id: try row.string("id"), tenantID: try row.optionalString("tenant_id"), occurredAt: try row.date("occurred_at"),
            actor: try row.string("actor"), action: try row.string("action"), targetType: try row.optionalString("target_type"),
            targetID: try row.optionalString("target_id"),
            outcome: AuditEvent.Outcome(rawValue: try row.string("outcome")) ?? .failure,
            before: try row.optionalString("before_summary").map { try JSONColumn.decode([String: String].self, $0) },
            after: try row.optionalString("after_summary").map { try JSONColumn.decode([String: String].self, $0) },
            reason: try row.optionalString("reason"))
    }

    /// A row as the verifier needs it. An outcome the enum does not know must not read as
    /// `failure` here (that would hide an edit): it is kept verbatim in a reason-less event whose
    /// digest then cannot match, so the edit is reported as a change.
    static func decodeChained(_ row: any SQLRow) throws -> ChainedAuditEvent {
        var event: AuditEvent
        do {
            event = try decode(row)
        } catch {
            // An unreadable summary is an edit too: report it as a change, not as a read error.
            event = AuditEvent(
                id: try row.string("id"), tenantID: try row.optionalString("tenant_id"), occurredAt: try row.date("occurred_at"),
                actor: try row.string("actor"), action: try row.string("action"), reason: "unreadable row: \(error)")
        }
        if AuditEvent.Outcome(rawValue: try row.string("outcome")) == nil {
            event.reason = "unknown outcome \(try row.string("outcome"))"
        }
        return ChainedAuditEvent(
            event: event, chain: try row.optionalString("chain"), sequence: try row.decode(column: "chain_seq", as: Int64?.self),
            previousHash: try row.optionalString("prev_hash"), hash: try row.optionalString("hash"))
    }
}
