import Foundation
import SQLKit
import SigilStore

struct SQLDeviceNonceStore: DeviceNonceStore {
    let runner: SQLRunner

    func use(deviceID: String, nonce: String, expiresAt: Date) async throws {
        // The primary key refuses a second use: `alreadyExists` is the replay.
        try await runner.write("device nonce") { db in
            try await db.raw(
                """
                INSERT INTO authenticator_nonces (device_id, nonce, expires_at) VALUES (\(bind: deviceID), \(bind: nonce), \(bind: expiresAt.ms))
                """
            ).run()
        }
    }

    func deleteExpired(now: Date) async throws -> Int {
        try await runner.write("device nonce") { db in
            try await db.raw("DELETE FROM authenticator_nonces WHERE expires_at <= \(bind: now.ms) RETURNING nonce").all().count
        }
    }
}

struct SQLAuthenticatorUserStateStore: AuthenticatorUserStateStore {
    let runner: SQLRunner
    static let columns = "tenant_id, user_id, window_started_at, window_count, last_push_at, blocked_until, updated_at"

    func update(
        tenantID: String, userID: String, now: Date,
        _ mutate: @escaping @Sendable (inout AuthenticatorUserState) throws -> Void
    ) async throws -> AuthenticatorUserState {
        try await runner.write("authenticator user state") { db in
            // Insert-if-missing, portable across both dialects, then lock the row.
            try await db.raw(
                """
                INSERT INTO authenticator_user_state (\(unsafeRaw: Self.columns))
                VALUES (\(bind: tenantID), \(bind: userID), \(bind: now.ms), \(bind: Int64(0)), NULL, NULL, \(bind: now.ms))
                ON CONFLICT (tenant_id, user_id) DO NOTHING
                """
            ).run()
            guard
                let row = try await db.raw(
                    """
                    SELECT \(unsafeRaw: Self.columns) FROM authenticator_user_state
                    WHERE tenant_id = \(bind: tenantID) AND user_id = \(bind: userID)\(unsafeRaw: runner.forUpdate)
                    """
                ).first()
            else {
                throw StoreError.notFound("authenticator user state")
            }
            var state = try Self.decode(row)
            try mutate(&state)
            state.tenantID = tenantID
            state.userID = userID
            state.updatedAt = now
            try await db.raw(
                """
                UPDATE authenticator_user_state SET window_started_at = \(bind: state.windowStartedAt.ms),
                    window_count = \(bind: Int64(state.windowCount)), last_push_at = \(bind: state.lastPushAt.ms),
                    blocked_until = \(bind: state.blockedUntil.ms), updated_at = \(bind: state.updatedAt.ms)
                WHERE tenant_id = \(bind: tenantID) AND user_id = \(bind: userID)
                """
            ).run()
            return state
        }
    }

    func deleteIdle(windowOlderThan: Date, now: Date) async throws -> Int {
        try await runner.write("authenticator user state") { db in
            try await db.raw(
                """
                DELETE FROM authenticator_user_state
                WHERE window_started_at < \(bind: windowOlderThan.ms) AND (blocked_until IS NULL OR blocked_until <= \(bind: now.ms))
                RETURNING user_id
                """
            ).all().count
        }
    }

    static func decode(_ row: any SQLRow) throws -> AuthenticatorUserState {
        AuthenticatorUserState(
            tenantID: try row.string("tenant_id"), userID: try row.string("user_id"),
            windowStartedAt: try row.date("window_started_at"), windowCount: try row.int("window_count"),
            lastPushAt: try row.optionalDate("last_push_at"), blockedUntil: try row.optionalDate("blocked_until"),
            updatedAt: try row.date("updated_at"))
    }
}
