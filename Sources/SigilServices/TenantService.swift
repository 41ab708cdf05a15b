import Foundation
import SigilCore
import SigilStore

/// Tenants and how a request finds its tenant.
public struct TenantService: Sendable {
    public let context: ServiceContext

    public init(context: ServiceContext) { self.context = context }

    /// Creates a tenant with its signing keys in one transaction.
    public func create(slug: String, displayName: String? = nil, host: String? = nil, by principal: Principal) async throws -> Tenant {
        guard principal.isGlobal else { throw ServiceError(.forbidden, "only a global admin token can create tenants") }
        var errors: [FieldError] = []
        if let message = Validate.slug(slug) { errors.append(FieldError(field: "name", message: message)) }
        let normalizedHost = host?.lowercased()
        if let normalizedHost, let message = Validate.host(normalizedHost) { errors.append(FieldError(field: "host", message: message)) }
        let display = displayName ?? slug
        if let message = Validate.name(display, field: "display_name") { errors.append(FieldError(field: "display_name", message: message)) }
        guard errors.isEmpty else { throw ServiceError.invalid(errors) }

        let now = context.clock.now()
        let tenant = Tenant(id: context.ids.make(.tenant), slug: slug, displayName: display, host: normalizedHost, createdAt: now, updatedAt: now)
        let keys = try KeyService(context: context).initialKeys(for: tenant)
        let context = self.context
        let created = try await context.store.transaction { tx in
            let created = try await tx.tenants.create(tenant)
            for key in keys { _ = try await tx.signingKeys.create(key) }
            try await tx.audit.append(
                context.auditEvent(
                    "tenant.created", by: principal, tenantID: created.id, targetType: "tenant", targetID: created.id,
                    after: ["name": created.slug, "host": created.host ?? "", "keys": keys.map(\.kid).joined(separator: ",")]))
            return created
        }
        // Requests that found no tenant under this slug or host must look again, on every node.
        await context.tenantDocumentsChanged()
        return created
    }

    /// Creates the `default` tenant unless it exists. Safe when several nodes start at once.
    @discardableResult
    public func ensureDefault() async throws -> Tenant {
        do {
            return try await context.store.tenants.get(slug: Tenant.defaultSlug)
        } catch let error as StoreError where error.code == .notFound {
            do {
                return try await create(slug: Tenant.defaultSlug, displayName: "Default", by: .system)
            } catch let error as StoreError where error.code == .alreadyExists {
                return try await context.store.tenants.get(slug: Tenant.defaultSlug)
            }
        }
    }

    public func list() async throws -> [Tenant] { try await context.store.tenants.list() }

    public func get(slug: String) async throws -> Tenant { try await context.store.tenants.get(slug: slug) }

    /// A tenant's issuer (its base URL) given the public URL of the deployment: the host it is
    /// mapped to (with the public URL's scheme), the public URL itself for `default`, or the
    /// public URL with `/t/{slug}`.
    public static func issuer(of tenant: Tenant, publicURL: String) -> String {
        let root = publicURL.hasSuffix("/") ? String(publicURL.dropLast()) : publicURL
        if let host = tenant.host { return "\(URLComponents(string: root)?.scheme ?? "https")://\(host)" }
        return tenant.slug == Tenant.defaultSlug ? root : "\(root)/t/\(tenant.slug)"
    }
}
