import Foundation
import SigilStore

/// Finding the tenant of a request (`TenantResponder`, before routing). Answers come from the
/// tenant documents cache (`TenantDocumentCache`: by slug and by host, "none" included), which
/// every change to a tenant empties on every node through the change signal, and which re-reads
/// an entry older than `TenantDocumentCache.maximumAge` in any case.
extension TenantService {
    /// The tenant named `slug` (a `/t/{slug}/` prefix, or `default`); nil when there is none.
    /// Any other failure (the database is down) is thrown, and nothing is cached.
    public func resolve(slug: String) async throws -> Tenant? {
        try await context.tenantDocuments.tenant(.slug(slug), clock: context.clock) {
            do {
                return try await context.store.tenants.get(slug: slug)
            } catch let error as StoreError where error.code == .notFound {
                return nil
            }
        }
    }

    /// The tenant that registered `host` (lower-cased by the caller); nil when none did.
    public func resolve(host: String) async throws -> Tenant? {
        try await context.tenantDocuments.tenant(.host(host), clock: context.clock) {
            try await context.store.tenants.find(host: host)
        }
    }
}
