import Foundation
import SigilStore

/// Finding the tenant of a request (`TenantResponder`, before routing). Reads the store on every
/// request, so every node sees a new tenant or host at once.
extension TenantService {
    /// The tenant named `slug` (a `/t/{slug}/` prefix, or `default`); nil when there is none.
    /// Any other failure (the database is down) is thrown.
    public func resolve(slug: String) async throws -> Tenant? {
        do {
            return try await context.store.tenants.get(slug: slug)
        } catch let error as StoreError where error.code == .notFound {
            return nil
        }
    }

    /// The tenant that registered `host` (lower-cased by the caller); nil when none did.
    public func resolve(host: String) async throws -> Tenant? {
        try await context.store.tenants.find(host: host)
    }
}
