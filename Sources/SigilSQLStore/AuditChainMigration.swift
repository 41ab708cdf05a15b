import Foundation
import SQLKit
import SigilStore

/// Migration 10: audit events join a hash chain per tenant (docs/audit.md). The events written
/// before it are chained in the order they happened (time, then id), so the chain covers the whole
/// history from the moment of the upgrade on; what an operator did to the table before the upgrade
/// cannot be told afterwards, and docs/audit.md says so.
enum AuditChainMigration {
    static func statements(_ flavor: SQLFlavor) -> [String] {
        [
            "ALTER TABLE audit_events ADD COLUMN chain TEXT",
            "ALTER TABLE audit_events ADD COLUMN chain_seq BIGINT",
            "ALTER TABLE audit_events ADD COLUMN prev_hash TEXT",
            "ALTER TABLE audit_events ADD COLUMN hash TEXT",
            "CREATE UNIQUE INDEX audit_events_chain ON audit_events (chain, chain_seq)",
            """
            CREATE TABLE audit_chain_heads (
                chain TEXT PRIMARY KEY,
                seq BIGINT NOT NULL,
                hash TEXT NOT NULL,
                updated_at BIGINT NOT NULL
            )
            """,
            """
            CREATE TABLE audit_checkpoints (
                chain TEXT NOT NULL,
                seq BIGINT NOT NULL,
                hash TEXT NOT NULL,
                signed TEXT NOT NULL,
                created_at BIGINT NOT NULL,
                PRIMARY KEY (chain, seq)
            )
            """,
        ]
    }

    static func run(_ db: any SQLDatabase, now: Date) async throws {
        let rows = try await db.raw(
            "SELECT \(unsafeRaw: SQLAuditEventStore.columns) FROM audit_events ORDER BY occurred_at, id"
        ).all()
        var heads: [String: (sequence: Int64, hash: String)] = [:]
        for row in rows {
            let event = try SQLAuditEventStore.decode(row)
            let chain = AuditChain.key(tenantID: event.tenantID)
            let previous = heads[chain] ?? (0, AuditChain.genesis)
            let sequence = previous.sequence + 1
            guard let hash = AuditChain.link(chain: chain, sequence: sequence, previous: previous.hash, contentDigest: AuditChain.contentDigest(event))
            else { continue }
            try await db.raw(
                """
                UPDATE audit_events SET chain = \(bind: chain), chain_seq = \(bind: sequence), prev_hash = \(bind: previous.hash),
                       hash = \(bind: hash) WHERE id = \(bind: event.id)
                """
            ).run()
            heads[chain] = (sequence, hash)
        }
        for (chain, head) in heads {
            try await db.raw(
                """
                INSERT INTO audit_chain_heads (chain, seq, hash, updated_at)
                VALUES (\(bind: chain), \(bind: head.sequence), \(bind: head.hash), \(bind: now.unixMillisecondsForStore))
                """
            ).run()
        }
    }
}
