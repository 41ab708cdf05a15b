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

    public init(id: String, tenantID: String, userID: String, publicKey: String, name: String, platform: String,
                sealedPushToken: String? = nil, createdAt: Date, lastUsedAt: Date? = nil) {
        self.id = id; self.tenantID = tenantID; self.userID = userID; self.publicKey = publicKey; self.name = name
        self.platform = platform; self.sealedPushToken = sealedPushToken; self.createdAt = createdAt; self.lastUsedAt = lastUsedAt
    }
}

public protocol AuthenticatorDeviceStore: Sendable {
    func create(_ device: AuthenticatorDevice) async throws -> AuthenticatorDevice
    func get(tenantID: String, id: String) async throws -> AuthenticatorDevice
    func list(tenantID: String, userID: String) async throws -> [AuthenticatorDevice]
    func touch(tenantID: String, id: String, at: Date) async throws
    func delete(tenantID: String, userID: String, id: String) async throws
}
