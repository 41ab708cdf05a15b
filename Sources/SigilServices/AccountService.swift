import Foundation
import SigilCore
import SigilFlows
import SigilStore
import SigilWebAuthn

/// What a signed-in user does to their own account on the hosted `/account` page: see what can
/// sign in as them, add and remove passkeys. Every change is audited in its own transaction.
public struct AccountService: Sendable {
    public let context: ServiceContext
    let oauth: OAuthService

    public init(context: ServiceContext, oauth: OAuthService) {
        self.context = context
        self.oauth = oauth
    }

    /// Everything the account page lists for a user.
    public struct Overview: Sendable {
        public let passkeys: [Passkey]
        public let devices: [AuthenticatorDevice]
        public let consents: [OAuthService.ConsentEntry]
    }

    /// The user's passkeys, authenticator devices and the applications they allowed.
    public func overview(user: User) async throws -> Overview {
        let passkeys = try await context.store.passkeys.list(tenantID: user.tenantID, userID: user.id)
        let devices = try await context.store.authenticatorDevices.list(tenantID: user.tenantID, userID: user.id)
        let consents = try await oauth.consents(tenantID: user.tenantID, userID: user.id)
        return Overview(passkeys: passkeys, devices: devices, consents: consents)
    }

    /// The credential IDs the user already has, for WebAuthn `excludeCredentials` (no second
    /// passkey on the same authenticator).
    public func passkeyCredentialIDs(user: User) async throws -> [String] {
        try await context.store.passkeys.list(tenantID: user.tenantID, userID: user.id).map(\.credentialID)
    }

    /// Starts adding a passkey to the signed-in `user`'s account (their existing passkeys
    /// excluded). Returns the ceremony and the WebAuthn creation options.
    public func beginAddingPasskey(user: User, issuer: String) async throws -> (LoginTransaction, [String: any Sendable]) {
        try await PasskeyService(context: context).beginRegistration(
            tenantID: user.tenantID, issuer: issuer,
            owner: .init(userID: user.id, email: user.email, displayName: "\(user.givenName) \(user.familyName)"),
            excludeCredentialIDs: try await passkeyCredentialIDs(user: user), purpose: .addToAccount(sessionUser: user.id))
    }

    /// Finishes adding a passkey from the account page: the registration must have been started
    /// by the same user (the ceremony's purpose names them); stored with `passkey.registered`.
    public func finishAddingPasskey(
        user: User, issuer: String, transactionID: String, response: RegistrationResponse,
        name: String
    ) async throws {
        let context = self.context
        let passkeys = PasskeyService(context: context)
        try await passkeys.finishRegistration(
            tenantID: user.tenantID, issuer: issuer, transactionID: transactionID, response: response
        ) { tx, transaction, verified in
            guard case .addToAccount(let sessionUser)? = transaction.passkeyCeremony?.purpose, sessionUser == user.id else {
                throw ServiceError(.invalidInput, "this registration was started by another account")
            }
            let passkey = passkeys.passkey(from: verified, tenantID: user.tenantID, userID: user.id, name: name)
            _ = try await tx.passkeys.create(passkey)
            try await tx.audit.append(
                context.auditEvent(
                    "passkey.registered", by: .user(user.id), tenantID: user.tenantID,
                    targetType: "passkey", targetID: passkey.credentialID,
                    after: ["aaguid": passkey.aaguid, "via": "account"]))
        }
    }

    /// Removes one of the user's own passkeys, with `passkey.removed`.
    public func removePasskey(user: User, credentialID: String) async throws {
        let context = self.context
        try await context.store.transaction { tx in
            try await tx.passkeys.delete(tenantID: user.tenantID, userID: user.id, credentialID: credentialID)
            try await tx.audit.append(
                context.auditEvent(
                    "passkey.removed", by: .user(user.id), tenantID: user.tenantID,
                    targetType: "passkey", targetID: credentialID))
        }
    }
}
