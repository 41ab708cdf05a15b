import Foundation
import SigilCore
import SigilStore

/// A tenant's user directory.
public struct UserService: Sendable {
    public let context: ServiceContext

    public init(context: ServiceContext) { self.context = context }

    public struct NewUser: Sendable {
        public var email: String
        public var givenName: String
        public var familyName: String
        public var status: UserStatus
        public var roles: [String]
        public init(email: String, givenName: String, familyName: String, status: UserStatus = .active, roles: [String] = []) {
            self.email = email; self.givenName = givenName; self.familyName = familyName; self.status = status; self.roles = roles
        }
    }

    public struct Patch: Sendable {
        public var email: String?
        public var givenName: String?
        public var familyName: String?
        public var status: UserStatus?
        /// Replaces the user's roles when set (`User.adminRole` is the only one).
        public var roles: [String]?
        public init(email: String? = nil, givenName: String? = nil, familyName: String? = nil, status: UserStatus? = nil, roles: [String]? = nil) {
            self.email = email; self.givenName = givenName; self.familyName = familyName; self.status = status; self.roles = roles
        }
    }

    /// The roles a user may hold.
    public static let knownRoles: Set<String> = [User.adminRole]

    static func validate(email: String?, givenName: String?, familyName: String?, roles: [String]? = nil) -> [FieldError] {
        var errors: [FieldError] = []
        for role in roles ?? [] where !knownRoles.contains(role) {
            errors.append(FieldError(field: "roles", message: "unknown role \(role); known: \(knownRoles.sorted().joined(separator: ", "))"))
        }
        if let roles, Set(roles).count != roles.count { errors.append(FieldError(field: "roles", message: "roles must be distinct")) }
        if let email, let message = Validate.email(email) { errors.append(FieldError(field: "email", message: message)) }
        if let givenName, let message = Validate.name(givenName, field: "given_name") { errors.append(FieldError(field: "given_name", message: message)) }
        if let familyName, let message = Validate.name(familyName, field: "family_name") { errors.append(FieldError(field: "family_name", message: message)) }
        return errors
    }

    static func summary(_ user: User) -> [String: String] {
        [
            "email": user.email, "given_name": user.givenName, "family_name": user.familyName, "status": user.status.rawValue,
            "roles": user.roles.joined(separator: ","),
        ]
    }

    public func create(tenantID: String, _ input: NewUser, by principal: Principal) async throws -> User {
        try authorize(principal, tenantID)
        let errors = Self.validate(email: input.email, givenName: input.givenName, familyName: input.familyName, roles: input.roles)
        guard errors.isEmpty else { throw ServiceError.invalid(errors) }
        let now = context.clock.now()
        let user = User(
            id: context.ids.make(.user), tenantID: tenantID, email: input.email,
            givenName: input.givenName.trimmingCharacters(in: .whitespaces),
            familyName: input.familyName.trimmingCharacters(in: .whitespaces),
            status: input.status, createdAt: now, updatedAt: now, roles: input.roles.sorted())
        let context = self.context
        return try await context.store.transaction { tx in
            let created = try await tx.users.create(user)
            try await tx.audit.append(
                context.auditEvent(
                    "user.created", by: principal, tenantID: tenantID,
                    targetType: "user", targetID: created.id, after: Self.summary(created)))
            return created
        }
    }

    public func get(tenantID: String, id: String, by principal: Principal) async throws -> User {
        try authorize(principal, tenantID)
        return try await context.store.users.get(tenantID: tenantID, id: id)
    }

    /// The tenant's users in id order; with `emailContaining`, only those whose email contains it.
    public func list(tenantID: String, page: PageRequest, emailContaining: String? = nil, by principal: Principal) async throws -> Page<User> {
        try authorize(principal, tenantID)
        if let text = emailContaining?.trimmingCharacters(in: .whitespaces), !text.isEmpty {
            return try await context.store.users.search(tenantID: tenantID, emailContaining: text, page: page)
        }
        return try await context.store.users.list(tenantID: tenantID, page: page)
    }

    public func update(tenantID: String, id: String, _ patch: Patch, expectedVersion: Int?, by principal: Principal) async throws -> User {
        try authorize(principal, tenantID)
        let errors = Self.validate(email: patch.email, givenName: patch.givenName, familyName: patch.familyName, roles: patch.roles)
        guard errors.isEmpty else { throw ServiceError.invalid(errors) }
        let now = context.clock.now()
        let context = self.context
        return try await context.store.transaction { tx in
            let (before, after) = try await tx.users.update(tenantID: tenantID, id: id, expectedVersion: expectedVersion) { user in
                if let email = patch.email { user.email = email }
                if let given = patch.givenName { user.givenName = given.trimmingCharacters(in: .whitespaces) }
                if let family = patch.familyName { user.familyName = family.trimmingCharacters(in: .whitespaces) }
                if let status = patch.status { user.status = status }
                if let roles = patch.roles { user.roles = roles.sorted() }
                user.updatedAt = now
            }
            try await tx.audit.append(
                context.auditEvent(
                    "user.updated", by: principal, tenantID: tenantID, targetType: "user",
                    targetID: id, before: Self.summary(before), after: Self.summary(after)))
            return after
        }
    }

    /// What an administrator sees of a user beyond the profile: their Sigil authenticator devices and active sessions.
    public struct Activity: Sendable {
        public let devices: [AuthenticatorDevice]
        public let sessions: [Session]
    }

    public func activity(tenantID: String, userID: String, by principal: Principal) async throws -> Activity {
        try authorize(principal, tenantID)
        let devices = try await context.store.authenticatorDevices.list(tenantID: tenantID, userID: userID)
        let sessions = try await context.store.sessions.listActive(tenantID: tenantID, userID: userID, now: context.clock.now())
        return Activity(devices: devices, sessions: sessions)
    }

    public func delete(tenantID: String, id: String, expectedVersion: Int?, by principal: Principal) async throws {
        try authorize(principal, tenantID)
        let context = self.context
        try await context.store.transaction { tx in
            let deleted = try await tx.users.delete(tenantID: tenantID, id: id, expectedVersion: expectedVersion)
            try await tx.audit.append(
                context.auditEvent(
                    "user.deleted", by: principal, tenantID: tenantID, targetType: "user",
                    targetID: id, before: Self.summary(deleted)))
        }
    }
}

func authorize(_ principal: Principal, _ tenantID: String) throws {
    guard principal.canAccess(tenantID: tenantID) else {
        throw ServiceError(.forbidden, "this admin token belongs to another tenant")
    }
}
