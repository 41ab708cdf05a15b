import Foundation
import SigilCore
import SigilStore

/// One-time enrolment links. The page behind `/enroll/{token}` arrives with the sign-in work; the
/// tokens, their expiry and single use are here.
public struct EnrolmentService: Sendable {
    public let context: ServiceContext
    public static let prefix = "sigil_en_"
    public static let firstAdminLifetime: TimeInterval = 24 * 3600

    public init(context: ServiceContext) { self.context = context }

    /// Creates a link for the first administrator of `tenant` (single use, 24 hours).
    public func createFirstAdminLink(tenant: Tenant, issuer: String, by principal: Principal) async throws -> (url: Secret<String>, expiresAt: Date) {
        try await issue(.firstAdmin, tenant: tenant, user: nil, lifetime: Self.firstAdminLifetime, issuer: issuer, by: principal)
    }

    public static let inviteLifetime: TimeInterval = 7 * 24 * 3600

    /// Creates an invitation for an existing user to register a passkey (single use, 7 days).
    public func createUserInvite(tenant: Tenant, user: User, issuer: String, by principal: Principal) async throws -> (url: Secret<String>, expiresAt: Date) {
        guard user.tenantID == tenant.id else { throw StoreError.notFound("user") }
        return try await issue(.user, tenant: tenant, user: user, lifetime: Self.inviteLifetime, issuer: issuer, by: principal)
    }

    /// Stores the token's hash and the audit event together; returns the link, which is not stored.
    private func issue(
        _ purpose: EnrolmentToken.Purpose, tenant: Tenant, user: User?, lifetime: TimeInterval, issuer: String,
        by principal: Principal
    ) async throws -> (url: Secret<String>, expiresAt: Date) {
        let token = OpaqueToken.make(prefix: Self.prefix, random: context.random)
        let now = context.clock.now()
        let record = EnrolmentToken(
            id: context.ids.make(.enrolment), tenantID: tenant.id, purpose: purpose, userID: user?.id,
            tokenHash: tokenHash(token), createdAt: now, expiresAt: now.addingTimeInterval(lifetime))
        let context = self.context
        try await context.store.transaction { tx in
            _ = try await tx.enrolmentTokens.create(record)
            try await tx.audit.append(
                context.auditEvent(
                    "enrolment.link_created", by: principal, tenantID: tenant.id,
                    targetType: user == nil ? "enrolment_token" : "user", targetID: user?.id ?? record.id,
                    after: ["purpose": purpose.rawValue, "expires_at": ISO8601DateFormatter().string(from: record.expiresAt)]))
        }
        let base = issuer.hasSuffix("/") ? String(issuer.dropLast()) : issuer
        return (Secret("\(base)/enroll/\(token)"), record.expiresAt)
    }

    /// Redeems a link: succeeds once, before expiry.
    public func redeem(token: String) async throws -> EnrolmentToken {
        try await context.store.enrolmentTokens.consume(tokenHash: tokenHash(token), now: context.clock.now())
    }
}
