import Foundation

/// An isolated directory of users, applications and keys, reached by host or `/t/{slug}/`.
public struct Tenant: Codable, Sendable, Equatable {
    public var id: String
    /// URL-safe name: lowercase letters, digits and hyphens; used in `/t/{slug}/`.
    public var slug: String
    public var displayName: String
    /// A host name (optionally with port) whose requests belong to this tenant.
    public var host: String?
    public var createdAt: Date
    public var updatedAt: Date

    public init(id: String, slug: String, displayName: String, host: String?, createdAt: Date, updatedAt: Date) {
        self.id = id; self.slug = slug; self.displayName = displayName; self.host = host
        self.createdAt = createdAt; self.updatedAt = updatedAt
    }

    public static let defaultSlug = "default"
}

public protocol TenantStore: Sendable {
    func create(_ tenant: Tenant) async throws -> Tenant
    func get(id: String) async throws -> Tenant
    func get(slug: String) async throws -> Tenant
    func find(host: String) async throws -> Tenant?
    func list() async throws -> [Tenant]
}
