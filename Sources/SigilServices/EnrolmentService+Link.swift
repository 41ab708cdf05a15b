import Foundation
import SigilCore
import SigilFlows
import SigilStore
import SigilWebAuthn

/// The page behind a one-time enrolment link (`/enroll/{token}`): who the link is for, the first
/// administrator's details, and registering a passkey that uses the link up.
extension EnrolmentService {
    /// The link behind `token` while it is usable (unused, unexpired) and belongs to `tenantID`; nil otherwise.
    public func usableLink(token: String, tenantID: String) async throws -> EnrolmentToken? {
        guard let found = try await context.store.enrolmentTokens.findUsable(tokenHash: tokenHash(token), now: context.clock.now()),
            found.tenantID == tenantID
        else { return nil }
        return found
    }

    /// The existing user an invitation is for; nil for a first-administrator link.
    public func invitee(of enrolment: EnrolmentToken) async throws -> User? {
        guard let userID = enrolment.userID else { return nil }
        return try await context.store.users.get(tenantID: enrolment.tenantID, id: userID)
    }

    /// The first administrator as typed on the enrolment page, checked.
    public struct FirstAdministrator: Sendable, Equatable {
        public let email: String
        public let givenName: String
        public let familyName: String
    }

    /// Checks the first administrator's fields (email, given and family name) and that no user of
    /// the tenant has that email yet. Throws `ServiceError.invalid` with the failing fields.
    public func firstAdministrator(
        tenantID: String, email: String?, givenName: String?,
        familyName: String?
    ) async throws -> FirstAdministrator {
        let email = email ?? "", given = givenName ?? "", family = familyName ?? ""
        var errors: [FieldError] = []
        if let m = Validate.email(email) { errors.append(FieldError(field: "email", message: m)) }
        if let m = Validate.name(given, field: "given_name") { errors.append(FieldError(field: "given_name", message: m)) }
        if let m = Validate.name(family, field: "family_name") { errors.append(FieldError(field: "family_name", message: m)) }
        guard errors.isEmpty else { throw ServiceError.invalid(errors) }
        if try await context.store.users.find(tenantID: tenantID, email: email) != nil {
            throw ServiceError.invalid([FieldError(field: "email", message: "a user with this email exists; ask for an invitation instead")])
        }
        return FirstAdministrator(email: email, givenName: given, familyName: family)
    }

    /// For an invitation: the invited user as the new credential's owner, and the passkeys they
    /// already have (WebAuthn `excludeCredentials`).
    public func invitedPasskeyOwner(of enrolment: EnrolmentToken, userID: String) async throws
        -> (owner: PasskeyService.NewCredentialOwner, excludeCredentialIDs: [String])
    {
        let user = try await context.store.users.get(tenantID: enrolment.tenantID, id: userID)
        let existing = try await context.store.passkeys.list(tenantID: enrolment.tenantID, userID: user.id)
        return (.init(userID: user.id, email: user.email, displayName: "\(user.givenName) \(user.familyName)"), existing.map(\.credentialID))
    }

    /// Finishes a passkey registration started from the link `token`. In one transaction: the
    /// link is consumed (single use), the first administrator is created (`user.created`) or the
    /// invited user read, and the passkey stored (`passkey.registered`).
    public func finishPasskeyEnrolment(
        tenantID: String, issuer: String, token: String, transactionID: String,
        response: RegistrationResponse, name: String
    ) async throws -> (User, Passkey) {
        let context = self.context
        let passkeys = PasskeyService(context: context)
        let now = context.clock.now()
        return try await passkeys.finishRegistration(
            tenantID: tenantID, issuer: issuer, transactionID: transactionID, response: response
        ) { tx, transaction, verified in
            guard case .enrolment(let linkHash, let pendingUser)? = transaction.passkeyCeremony?.purpose, linkHash == tokenHash(token),
                let userID = transaction.userID
            else {
                throw ServiceError(.invalidInput, "this registration belongs to another enrolment link")
            }
            // Single use: consuming the link is part of the same transaction as the credential.
            let enrolment = try await tx.enrolmentTokens.consume(tokenHash: tokenHash(token), now: now)
            let user: User
            if enrolment.userID != nil {
                user = try await tx.users.get(tenantID: tenantID, id: userID)
            } else {
                var newUser = User(
                    id: userID, tenantID: tenantID, email: pendingUser?.email ?? "",
                    givenName: pendingUser?.givenName ?? "", familyName: pendingUser?.familyName ?? "",
                    status: .active, createdAt: now, updatedAt: now)
                if enrolment.purpose == .firstAdmin { newUser.roles = [User.adminRole] }
                user = try await tx.users.create(newUser)
                try await tx.audit.append(
                    context.auditEvent(
                        "user.created", by: .user(user.id), tenantID: tenantID, targetType: "user",
                        targetID: user.id, after: ["email": user.email, "roles": user.roles.joined(separator: ",")]))
            }
            let passkey = passkeys.passkey(from: verified, tenantID: tenantID, userID: user.id, name: name)
            _ = try await tx.passkeys.create(passkey)
            try await tx.audit.append(
                context.auditEvent(
                    "passkey.registered", by: .user(user.id), tenantID: tenantID,
                    targetType: "passkey", targetID: passkey.credentialID,
                    after: [
                        "aaguid": passkey.aaguid, "attestation": passkey.attestationType,
                        "via": "enrolment:\(enrolment.purpose.rawValue)",
                    ]))
            return (user, passkey)
        }
    }
}

extension EnrolmentService {
    /// Starts registering the link's passkey: for an invitation the invited user (their passkeys
    /// excluded), for a first-administrator link the person typed on the page (checked; created
    /// only when the passkey registers). Returns the ceremony and the WebAuthn creation options.
    public func beginPasskeyEnrolment(
        link: EnrolmentToken, token: String, email: String?, givenName: String?, familyName: String?,
        issuer: String
    ) async throws -> (LoginTransaction, [String: any Sendable]) {
        let owner: PasskeyService.NewCredentialOwner
        var existing: [String] = []
        var newUser: NewUser?
        if let userID = link.userID {
            (owner, existing) = try await invitedPasskeyOwner(of: link, userID: userID)
        } else {
            let admin = try await firstAdministrator(tenantID: link.tenantID, email: email, givenName: givenName, familyName: familyName)
            owner = .init(userID: context.ids.make(.user), email: admin.email, displayName: "\(admin.givenName) \(admin.familyName)")
            newUser = NewUser(email: admin.email, givenName: admin.givenName, familyName: admin.familyName)
        }
        return try await PasskeyService(context: context).beginRegistration(
            tenantID: link.tenantID, issuer: issuer, owner: owner, excludeCredentialIDs: existing,
            purpose: .enrolment(linkHash: tokenHash(token), newUser: newUser))
    }
}
