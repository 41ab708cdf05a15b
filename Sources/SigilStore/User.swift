import Foundation
import SigilCore

public enum UserStatus: String, Codable, Sendable, CaseIterable {
    case active
    case disabled
}

/// A person in a tenant's directory. `email` is unique per tenant, compared case-insensitively.
public struct User: Codable, Sendable, Equatable {
    public var id: String
    public var tenantID: String
    public var email: String
    public var givenName: String
    public var familyName: String
    public var status: UserStatus
    public var createdAt: Date
    public var updatedAt: Date
    /// Incremented by every update; the admin API exposes it as the ETag.
    public var version: Int
    /// Roles: `admin` may use AdminX.
    public var roles: [String]

    public init(
        id: String, tenantID: String, email: String, givenName: String, familyName: String,
        status: UserStatus, createdAt: Date, updatedAt: Date, version: Int = 1, roles: [String] = []
    ) {
        self.id = id; self.tenantID = tenantID; self.email = email; self.givenName = givenName
        self.familyName = familyName; self.status = status; self.createdAt = createdAt
        self.updatedAt = updatedAt; self.version = version; self.roles = roles
    }

    public static let adminRole = "admin"
    public var isAdmin: Bool { roles.contains(Self.adminRole) }

    /// The form email uniqueness is checked and look-ups are made in: PRECIS case-mapped (width
    /// mapping, lower case, NFC; `PRECIS.caseMappedIdentifier`), in every store backend.
    public static func normalizedEmail(_ email: String) -> String { PRECIS.caseMappedIdentifier(email) }
}

public protocol UserStore: Sendable {
    func create(_ user: User) async throws -> User
    func get(tenantID: String, id: String) async throws -> User
    func find(tenantID: String, email: String) async throws -> User?
    func list(tenantID: String, page: PageRequest) async throws -> Page<User>
    /// Users whose normalised email contains `text` (compared in lower case), in id order.
    func search(tenantID: String, emailContaining text: String, page: PageRequest) async throws -> Page<User>
    /// Reads the user under a lock, applies `mutate`, and writes it back in one transaction.
    /// Throws `conflict` when `expectedVersion` is given and differs from the stored version.
    func update(
        tenantID: String, id: String, expectedVersion: Int?,
        _ mutate: @escaping @Sendable (inout User) throws -> Void
    ) async throws -> (before: User, after: User)
    func delete(tenantID: String, id: String, expectedVersion: Int?) async throws -> User
}
