import Foundation
import SigilCore
import SigilStore

/// Bearer tokens for the admin API: shown once, stored as SHA-256.
public struct AdminTokenService: Sendable {
    public let context: ServiceContext
    public static let prefix = "sigil_at_"

    public init(context: ServiceContext) { self.context = context }

    /// Creates a token; returns the record and the token, which is not stored anywhere.
    public func create(tenantID: String?, name: String, expiresAt: Date? = nil, by principal: Principal) async throws -> (AdminToken, Secret<String>) {
        if let tenantID {
            try authorize(principal, tenantID)
        } else if !principal.isGlobal {
            throw ServiceError(.forbidden, "only a global principal can create a global admin token")
        }
        if let message = Validate.name(name, field: "name") { throw ServiceError.invalid([FieldError(field: "name", message: message)]) }
        let token = OpaqueToken.make(prefix: Self.prefix, random: context.random)
        let record = AdminToken(
            id: context.ids.make(.adminToken), tenantID: tenantID, name: name, tokenHash: tokenHash(token),
            createdAt: context.clock.now(), expiresAt: expiresAt)
        let context = self.context
        let created = try await context.store.transaction { tx in
            let created = try await tx.adminTokens.create(record)
            try await tx.audit.append(
                context.auditEvent(
                    "admin_token.created", by: principal, tenantID: tenantID,
                    targetType: "admin_token", targetID: created.id,
                    after: ["name": name, "scope": tenantID ?? "global"]))
            return created
        }
        return (created, Secret(token))
    }

    /// Resolves a presented bearer token to its principal, or throws `unauthenticated`.
    public func authenticate(_ presented: String) async throws -> Principal {
        guard presented.hasPrefix(Self.prefix), presented.utf8.count < 200 else {
            throw ServiceError(.unauthenticated, "the bearer token is not a Sigil admin token")
        }
        let hash = tokenHash(presented)
        guard let token = try await context.store.adminTokens.find(tokenHash: hash), constantTimeEquals(Array(token.tokenHash.utf8), Array(hash.utf8)) else {
            throw ServiceError(.unauthenticated, "the bearer token is unknown")
        }
        if token.revokedAt != nil { throw ServiceError(.unauthenticated, "the bearer token was revoked") }
        if let expiresAt = token.expiresAt, expiresAt <= context.clock.now() {
            throw ServiceError(.unauthenticated, "the bearer token has expired")
        }
        return .adminToken(id: token.id, tenantID: token.tenantID)
    }
}
