import Foundation

/// A phone running the Sigil authenticator, bound to a user by a P-256 key generated on it.
public struct AuthenticatorDevice: Codable, Sendable, Equatable {
    public var id: String
    public var tenantID: String
    public var userID: String
    /// The device's P-256 public key, base64url of the X9.63 uncompressed point.
    public var publicKey: String
    public var name: String
    /// `ios`, `android`, `cli` …
    public var platform: String
    /// Push delivery address (APNs/FCM token), sealed under the master key.
    public var sealedPushToken: String?
    public var createdAt: Date
    public var lastUsedAt: Date?
    /// Where the device says its key lives: `secure_enclave`, `strongbox`, `tee`, `software`
    /// (reported, not attested, in protocol v1).
    public var keyProtection: String

    public init(
        id: String, tenantID: String, userID: String, publicKey: String, name: String, platform: String,
        sealedPushToken: String? = nil, createdAt: Date, lastUsedAt: Date? = nil, keyProtection: String = "software"
    ) {
        self.id = id; self.tenantID = tenantID; self.userID = userID; self.publicKey = publicKey; self.name = name
        self.platform = platform; self.sealedPushToken = sealedPushToken; self.createdAt = createdAt; self.lastUsedAt = lastUsedAt
        self.keyProtection = keyProtection
    }
}

public protocol AuthenticatorDeviceStore: Sendable {
    func create(_ device: AuthenticatorDevice) async throws -> AuthenticatorDevice
    func get(tenantID: String, id: String) async throws -> AuthenticatorDevice
    func list(tenantID: String, userID: String) async throws -> [AuthenticatorDevice]
    func touch(tenantID: String, id: String, at: Date) async throws
    /// Replaces (or with nil removes) the sealed push token.
    func setPushToken(tenantID: String, id: String, sealed: String?) async throws
    func delete(tenantID: String, userID: String, id: String) async throws
}

/// Nonces of signed device requests (docs/authenticator-protocol.md §1.4): a nonce is accepted once
/// per device while it is retained.
public protocol DeviceNonceStore: Sendable {
    /// Records the nonce; `alreadyExists` when this device used it before (a replay).
    func use(deviceID: String, nonce: String, expiresAt: Date) async throws
    func deleteExpired(now: Date) async throws -> Int
}

/// Per-user push bookkeeping (§4, §7): the rate window, the last push, a "this wasn't me" block.
/// Updating it also serialises pushes for one user across nodes.
public struct AuthenticatorUserState: Codable, Sendable, Equatable {
    public var tenantID: String
    public var userID: String
    public var windowStartedAt: Date
    public var windowCount: Int
    public var lastPushAt: Date?
    public var blockedUntil: Date?
    public var updatedAt: Date

    public init(
        tenantID: String, userID: String, windowStartedAt: Date, windowCount: Int = 0, lastPushAt: Date? = nil,
        blockedUntil: Date? = nil, updatedAt: Date
    ) {
        self.tenantID = tenantID; self.userID = userID; self.windowStartedAt = windowStartedAt; self.windowCount = windowCount
        self.lastPushAt = lastPushAt; self.blockedUntil = blockedUntil; self.updatedAt = updatedAt
    }
}

public protocol AuthenticatorUserStateStore: Sendable {
    /// Creates the row if missing (window starting `now`), then applies `mutate` under the row lock.
    func update(
        tenantID: String, userID: String, now: Date,
        _ mutate: @escaping @Sendable (inout AuthenticatorUserState) throws -> Void
    ) async throws -> AuthenticatorUserState
    /// Deletes rows whose window began before `windowOlderThan` and that block nothing at `now`.
    func deleteIdle(windowOlderThan: Date, now: Date) async throws -> Int
}
