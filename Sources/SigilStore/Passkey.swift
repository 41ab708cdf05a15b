import Foundation

/// A WebAuthn credential registered to a user (a passkey).
public struct Passkey: Codable, Sendable, Equatable {
    /// The credential id, base64url.
    public var credentialID: String
    public var tenantID: String
    public var userID: String
    /// The COSE_Key of the credential, base64url.
    public var publicKey: String
    /// COSE algorithm: -7 ES256, -257 RS256, -8 EdDSA.
    public var algorithm: Int
    public var signCount: Int
    /// AAGUID of the authenticator model, lowercase hex.
    public var aaguid: String
    public var backupEligible: Bool
    public var backupState: Bool
    public var transports: [String]
    /// `none`, `self`, `basic` …
    public var attestationType: String
    /// A name the user recognises ("MacBook Touch ID"); defaults to the registration date.
    public var name: String
    /// Set when an assertion arrived with a sign count not above the stored one (possible clone).
    public var cloneWarning: Bool
    public var createdAt: Date
    public var lastUsedAt: Date?

    public init(
        credentialID: String, tenantID: String, userID: String, publicKey: String, algorithm: Int, signCount: Int,
        aaguid: String, backupEligible: Bool, backupState: Bool, transports: [String], attestationType: String,
        name: String, cloneWarning: Bool = false, createdAt: Date, lastUsedAt: Date? = nil
    ) {
        self.credentialID = credentialID; self.tenantID = tenantID; self.userID = userID; self.publicKey = publicKey
        self.algorithm = algorithm; self.signCount = signCount; self.aaguid = aaguid; self.backupEligible = backupEligible
        self.backupState = backupState; self.transports = transports; self.attestationType = attestationType
        self.name = name; self.cloneWarning = cloneWarning; self.createdAt = createdAt; self.lastUsedAt = lastUsedAt
    }
}

public protocol PasskeyStore: Sendable {
    func create(_ passkey: Passkey) async throws -> Passkey
    func get(tenantID: String, credentialID: String) async throws -> Passkey
    func list(tenantID: String, userID: String) async throws -> [Passkey]
    /// Records a successful assertion: the new sign count, backup state, time and clone warning.
    /// With `expectedSignCount` the write only happens if the stored count is still that value
    /// (two racing assertions with the same count cannot both succeed): `conflict` otherwise.
    func recordUse(
        tenantID: String, credentialID: String, expectedSignCount: Int, signCount: Int, backupState: Bool,
        cloneWarning: Bool, at: Date) async throws
    func delete(tenantID: String, userID: String, credentialID: String) async throws
    /// Sets or clears the clone warning of a user's passkey. Clearing also resets the stored sign
    /// count to 0, so the authenticator's next count is taken as it comes. `notFound` if the user
    /// has no such passkey.
    func setCloneWarning(tenantID: String, userID: String, credentialID: String, _ flagged: Bool) async throws -> Passkey
}
