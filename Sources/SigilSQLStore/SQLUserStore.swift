import Foundation
import SQLKit
import SigilStore

struct SQLUserStore: UserStore {
    let runner: SQLRunner
    static let columns = "id, tenant_id, email, given_name, family_name, status, created_at, updated_at, version, roles"

    func create(_ user: User) async throws -> User {
        let roles = try JSONColumn.encode(user.roles)
        return try await runner.write("user") { db in
            try await db.raw(
                """
                INSERT INTO users (id, tenant_id, email, email_normalized, given_name, family_name, status, created_at, updated_at, version, roles)
                VALUES (\(bind: user.id), \(bind: user.tenantID), \(bind: user.email), \(bind: User.normalizedEmail(user.email)),
                        \(bind: user.givenName), \(bind: user.familyName), \(bind: user.status.rawValue),
                        \(bind: user.createdAt.ms), \(bind: user.updatedAt.ms), \(bind: Int64(user.version)), \(bind: roles))
                """
            ).run()
            return user
        }
    }

    func get(tenantID: String, id: String) async throws -> User {
        let found = try await runner.read("user") { db in
            try await Self.fetch(db, tenantID: tenantID, id: id, lock: "")
        }
        guard let found else { throw StoreError.notFound("user", id) }
        return found
    }

    func find(tenantID: String, email: String) async throws -> User? {
        try await runner.read("user") { db in
            try await db.raw(
                """
                SELECT \(unsafeRaw: Self.columns) FROM users
                WHERE tenant_id = \(bind: tenantID) AND email_normalized = \(bind: User.normalizedEmail(email))
                """
            ).first().map(Self.decode)
        }
    }

    func list(tenantID: String, page: PageRequest) async throws -> Page<User> {
        try await runner.read("user") { db in
            let rows = try await db.raw(
                """
                SELECT \(unsafeRaw: Self.columns) FROM users
                WHERE tenant_id = \(bind: tenantID) AND id > \(bind: page.after ?? "")
                ORDER BY id LIMIT \(bind: Int64(page.limit + 1))
                """
            ).all()
            return try Pagination.page(rows.map(Self.decode), limit: page.limit, id: \.id)
        }
    }

    func search(tenantID: String, emailContaining text: String, page: PageRequest) async throws -> Page<User> {
        // LIKE with its wildcards escaped: the text is matched literally, on both dialects.
        let escaped = text.lowercased().replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "%", with: "\\%")
            .replacingOccurrences(of: "_", with: "\\_")
        return try await runner.read("user") { db in
            let rows = try await db.raw(
                """
                SELECT \(unsafeRaw: Self.columns) FROM users
                WHERE tenant_id = \(bind: tenantID) AND id > \(bind: page.after ?? "")
                AND email_normalized LIKE \(bind: "%" + escaped + "%") ESCAPE '\\'
                ORDER BY id LIMIT \(bind: Int64(page.limit + 1))
                """
            ).all()
            return try Pagination.page(rows.map(Self.decode), limit: page.limit, id: \.id)
        }
    }

    func update(
        tenantID: String, id: String, expectedVersion: Int?,
        _ mutate: @escaping @Sendable (inout User) throws -> Void
    ) async throws -> (before: User, after: User) {
        try await runner.write("user") { db in
            guard let before = try await Self.fetch(db, tenantID: tenantID, id: id, lock: runner.forUpdate) else {
                throw StoreError.notFound("user", id)
            }
            if let expectedVersion, expectedVersion != before.version {
                throw StoreError.conflict("user", "version \(before.version), expected \(expectedVersion)")
            }
            var after = before
            try mutate(&after)
            after.id = before.id
            after.tenantID = before.tenantID
            after.createdAt = before.createdAt
            after.version = before.version + 1
            let roles = try JSONColumn.encode(after.roles)
            try await db.raw(
                """
                UPDATE users SET roles = \(bind: roles), email = \(bind: after.email), email_normalized = \(bind: User.normalizedEmail(after.email)),
                    given_name = \(bind: after.givenName), family_name = \(bind: after.familyName),
                    status = \(bind: after.status.rawValue), updated_at = \(bind: after.updatedAt.ms), version = \(bind: Int64(after.version))
                WHERE tenant_id = \(bind: tenantID) AND id = \(bind: id)
                """
            ).run()
            return (before, after)
        }
    }

    func delete(tenantID: String, id: String, expectedVersion: Int?) async throws -> User {
        try await runner.write("user") { db in
            guard let user = try await Self.fetch(db, tenantID: tenantID, id: id, lock: runner.forUpdate) else {
                throw StoreError.notFound("user", id)
            }
            if let expectedVersion, expectedVersion != user.version {
                throw StoreError.conflict("user", "version \(user.version), expected \(expectedVersion)")
            }
            try await db.raw("DELETE FROM users WHERE tenant_id = \(bind: tenantID) AND id = \(bind: id)").run()
            return user
        }
    }

    static func fetch(_ db: any SQLDatabase, tenantID: String, id: String, lock: String) async throws -> User? {
        try await db.raw(
            """
            SELECT \(unsafeRaw: columns) FROM users WHERE tenant_id = \(bind: tenantID) AND id = \(bind: id)\(unsafeRaw: lock)
            """
        ).first().map(decode)
    }

    static func decode(_ row: any SQLRow) throws -> User {
        guard let status = UserStatus(rawValue: try row.string("status")) else {
            throw StoreError(.unavailable, entity: "user", detail: "stored status is unknown")
        }
        return User(
            id: try row.string("id"), tenantID: try row.string("tenant_id"), email: try row.string("email"),
            givenName: try row.string("given_name"), familyName: try row.string("family_name"), status: status,
            createdAt: try row.date("created_at"), updatedAt: try row.date("updated_at"), version: try row.int("version"),
            roles: try JSONColumn.decode([String].self, try row.string("roles")))
    }
}

enum Pagination {
    /// Rows were fetched with `limit + 1`: the extra row only says whether a next page exists.
    static func page<T: Sendable>(_ items: [T], limit: Int, id: KeyPath<T, String>) -> Page<T> {
        if items.count > limit {
            let pageItems = Array(items.prefix(limit))
            return Page(items: pageItems, nextCursor: pageItems.last?[keyPath: id])
        }
        return Page(items: items, nextCursor: nil)
    }
}
