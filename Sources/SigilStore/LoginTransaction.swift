import Foundation

/// One attempt to sign in or enrol, held server-side so any node can continue it: what started it
/// (`context`), the one-time challenge, and where it stands.
public struct LoginTransaction: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, Sendable {
        case passkeyRegistration = "passkey_registration"
        case passkeyAuthentication = "passkey_authentication"
        case authenticatorQR = "authenticator_qr"
        case authenticatorPush = "authenticator_push"
        case deviceEnrolment = "device_enrolment"
        /// A SAML AuthnRequest waiting for sign-in; its deterministic ID doubles as the request-ID
        /// replay cache entry (SAMLIdentityProviderService).
        case samlAuthnRequest = "saml_authn_request"
        /// SAML Single Logout: a LogoutRequest ID seen (replay cache, deterministic ID), or the
        /// state of a logout being propagated to a session's service providers.
        case samlLogout = "saml_logout"
    }

    public enum State: String, Codable, Sendable {
        /// Waiting for the browser or the device.
        case pending
        /// The device approved; the browser has not collected the result yet.
        case approved
        /// The user said no ("this wasn't me" when `reported`).
        case denied
        /// Finished: a session or credential came out of it. Cannot be used again.
        case completed
    }

    public var id: String
    public var tenantID: String
    public var kind: Kind
    public var state: State
    /// The one-time challenge (base64url).
    public var challenge: String
    /// SHA-256 of a secret only the rightful parties know (the QR payload's secret), if any.
    public var secretHash: String?
    /// The user, once known (identifier-first, enrolment, or after approval).
    public var userID: String?
    /// The device that answered, if any.
    public var deviceID: String?
    /// The number shown for number matching, if any.
    public var number: String?
    /// What started the flow and where to go after (JSON object of strings).
    public var context: [String: String]
    /// Failed attempts against this transaction (wrong number, bad signature).
    public var failures: Int
    public var createdAt: Date
    public var updatedAt: Date
    public var expiresAt: Date
    public var version: Int

    public init(id: String, tenantID: String, kind: Kind, state: State = .pending, challenge: String, secretHash: String? = nil,
                userID: String? = nil, deviceID: String? = nil, number: String? = nil, context: [String: String] = [:],
                failures: Int = 0, createdAt: Date, updatedAt: Date, expiresAt: Date, version: Int = 1) {
        self.id = id; self.tenantID = tenantID; self.kind = kind; self.state = state; self.challenge = challenge
        self.secretHash = secretHash; self.userID = userID; self.deviceID = deviceID; self.number = number
        self.context = context; self.failures = failures; self.createdAt = createdAt; self.updatedAt = updatedAt
        self.expiresAt = expiresAt; self.version = version
    }
}

public protocol LoginTransactionStore: Sendable {
    func create(_ transaction: LoginTransaction) async throws -> LoginTransaction
    func get(tenantID: String, id: String) async throws -> LoginTransaction
    /// Pending push requests for a user (what a device's stream delivers).
    func listPending(tenantID: String, userID: String, kind: LoginTransaction.Kind, now: Date) async throws -> [LoginTransaction]
    /// Locked read-modify-write, like the other aggregates' updates.
    func update(tenantID: String, id: String, _ mutate: @escaping @Sendable (inout LoginTransaction) throws -> Void) async throws -> LoginTransaction
    func deleteExpired(now: Date) async throws -> Int
}
