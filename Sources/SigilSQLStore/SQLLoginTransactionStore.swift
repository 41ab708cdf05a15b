import Foundation
import SQLKit
import SigilFlows
import SigilStore

struct SQLLoginTransactionStore: LoginTransactionStore {
    let runner: SQLRunner
    static let columns = """
        id, tenant_id, kind, state, challenge, secret_hash, user_id, device_id, number, context, failures, created_at, updated_at, expires_at, version
        """

    func create(_ t: LoginTransaction) async throws -> LoginTransaction {
        let context = try JSONColumn.encode(t.flow)
        return try await runner.write("login transaction") { db in
            try await db.raw(
                """
                INSERT INTO login_transactions (\(unsafeRaw: Self.columns))
                VALUES (\(bind: t.id), \(bind: t.tenantID), \(bind: t.kind.rawValue), \(bind: t.state.rawValue), \(bind: t.challenge),
                        \(bind: t.secretHash), \(bind: t.userID), \(bind: t.deviceID), \(bind: t.number), \(bind: context),
                        \(bind: Int64(t.failures)), \(bind: t.createdAt.ms), \(bind: t.updatedAt.ms), \(bind: t.expiresAt.ms), \(bind: Int64(t.version)))
                """
            ).run()
            return t
        }
    }

    func get(tenantID: String, id: String) async throws -> LoginTransaction {
        let found = try await runner.read("login transaction") { db in
            try await Self.fetch(db, tenantID: tenantID, id: id, lock: "")
        }
        guard let found else { throw StoreError.notFound("login transaction", id) }
        return found
    }

    func listPending(tenantID: String, userID: String, kind: LoginTransaction.Kind, now: Date) async throws -> [LoginTransaction] {
        try await runner.read("login transaction") { db in
            try await db.raw(
                """
                SELECT \(unsafeRaw: Self.columns) FROM login_transactions
                WHERE tenant_id = \(bind: tenantID) AND user_id = \(bind: userID) AND kind = \(bind: kind.rawValue)
                  AND state = \(bind: LoginTransaction.State.pending.rawValue) AND expires_at > \(bind: now.ms)
                ORDER BY id
                """
            ).all().map(Self.decode)
        }
    }

    func update(tenantID: String, id: String, _ mutate: @escaping @Sendable (inout LoginTransaction) throws -> Void) async throws -> LoginTransaction {
        try await runner.write("login transaction") { db in
            guard let before = try await Self.fetch(db, tenantID: tenantID, id: id, lock: runner.forUpdate) else {
                throw StoreError.notFound("login transaction", id)
            }
            var after = before
            try mutate(&after)
            after.id = before.id
            after.tenantID = before.tenantID
            guard after.flow.kind == before.kind else {
                throw StoreError(.conflict, entity: "login transaction", detail: "a flow row keeps its kind")
            }
            after.challenge = before.challenge
            after.createdAt = before.createdAt
            after.version = before.version + 1
            let context = try JSONColumn.encode(after.flow)
            try await db.raw(
                """
                UPDATE login_transactions SET state = \(bind: after.state.rawValue), secret_hash = \(bind: after.secretHash),
                    user_id = \(bind: after.userID), device_id = \(bind: after.deviceID), number = \(bind: after.number),
                    context = \(bind: context), failures = \(bind: Int64(after.failures)), updated_at = \(bind: after.updatedAt.ms),
                    expires_at = \(bind: after.expiresAt.ms), version = \(bind: Int64(after.version))
                WHERE tenant_id = \(bind: tenantID) AND id = \(bind: id)
                """
            ).run()
            return after
        }
    }

    func listDue(kind: LoginTransaction.Kind, before: Date, limit: Int) async throws -> [LoginTransaction] {
        try await runner.read("login transaction") { db in
            try await db.raw(
                """
                SELECT \(unsafeRaw: Self.columns) FROM login_transactions
                WHERE kind = \(bind: kind.rawValue) AND state = \(bind: LoginTransaction.State.pending.rawValue) AND expires_at <= \(bind: before.ms)
                ORDER BY expires_at, id LIMIT \(bind: Int64(max(1, limit)))
                """
            ).all().map(Self.decode)
        }
    }

    func deleteExpired(now: Date) async throws -> Int {
        try await runner.write("login transaction") { db in
            try await db.raw("DELETE FROM login_transactions WHERE expires_at <= \(bind: now.ms) RETURNING id").all().count
        }
    }

    static func fetch(_ db: any SQLDatabase, tenantID: String, id: String, lock: String) async throws -> LoginTransaction? {
        try await db.raw(
            """
            SELECT \(unsafeRaw: columns) FROM login_transactions WHERE tenant_id = \(bind: tenantID) AND id = \(bind: id)\(unsafeRaw: lock)
            """
        ).first().map(decode)
    }

    static func decode(_ row: any SQLRow) throws -> LoginTransaction {
        guard let kind = LoginTransaction.Kind(rawValue: try row.string("kind")),
            let state = LoginTransaction.State(rawValue: try row.string("state"))
        else {
            throw StoreError(.unavailable, entity: "login transaction", detail: "stored kind or state is unknown")
        }
        let flow: FlowState
        do {
            flow = try JSONColumn.decode(FlowState.self, try row.string("context"))
        } catch {
            throw StoreError(.unavailable, entity: "login transaction", detail: "stored flow state is unreadable: \(error)")
        }
        guard flow.kind == kind else {
            throw StoreError(.unavailable, entity: "login transaction", detail: "stored flow state is of another kind")
        }
        return LoginTransaction(
            id: try row.string("id"), tenantID: try row.string("tenant_id"), flow: flow, state: state,
            challenge: try row.string("challenge"), secretHash: try row.optionalString("secret_hash"),
            userID: try row.optionalString("user_id"), deviceID: try row.optionalString("device_id"),
            number: try row.optionalString("number"),
            failures: try row.int("failures"), createdAt: try row.date("created_at"), updatedAt: try row.date("updated_at"),
            expiresAt: try row.date("expires_at"), version: try row.int("version"))
    }
}
