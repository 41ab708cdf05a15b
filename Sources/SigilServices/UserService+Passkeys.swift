import Foundation
import SigilStore

extension UserService {
    /// A user's passkeys, for an administrator (public data only: ids, names, counters, flags).
    public func passkeys(tenantID: String, userID: String, by principal: Principal) async throws -> [Passkey] {
        try authorize(principal, tenantID)
        _ = try await context.store.users.get(tenantID: tenantID, id: userID)
        return try await context.store.passkeys.list(tenantID: tenantID, userID: userID)
    }

    /// Clears a passkey's clone warning after an administrator has checked it (docs/sign-in.md
    /// "Sign counters"): the passkey signs in again, and its stored counter restarts from 0.
    public func clearCloneWarning(tenantID: String, userID: String, credentialID: String, by principal: Principal) async throws -> Passkey {
        try authorize(principal, tenantID)
        let context = self.context
        return try await context.store.transaction { tx in
            let before = try await tx.passkeys.get(tenantID: tenantID, credentialID: credentialID)
            guard before.userID == userID else { throw StoreError.notFound("passkey") }
            let after = try await tx.passkeys.setCloneWarning(tenantID: tenantID, userID: userID, credentialID: credentialID, false)
            try await tx.audit.append(
                context.auditEvent(
                    "passkey.clone_warning_cleared", by: principal, tenantID: tenantID,
                    targetType: "passkey", targetID: credentialID,
                    before: ["clone_warning": String(before.cloneWarning), "sign_count": String(before.signCount)],
                    after: ["clone_warning": "false", "sign_count": "0", "user": userID]))
            return after
        }
    }
}
