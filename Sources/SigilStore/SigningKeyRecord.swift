import Foundation

/// Where a key is in its rotation: `next` is published ahead of use, `current` signs,
/// `previous` is still published so tokens it signed verify, `retired` is kept but not published.
public enum SigningKeyState: String, Codable, Sendable, CaseIterable {
    case next, current, previous, retired
}

/// A tenant's signing key as stored: the private key sealed under the master key.
public struct SigningKeyRecord: Codable, Sendable, Equatable {
    /// The `kid` (RFC 7638 thumbprint of the public key).
    public var kid: String
    public var tenantID: String
    /// `RS256` or `ES256`.
    public var algorithm: String
    public var state: SigningKeyState
    /// `MasterKey.seal` output of the private key DER.
    public var sealedPrivateKey: String
    /// The public JWK, JSON.
    public var publicJWK: String
    /// The self-signed certificate (RSA keys, for SAML), PEM.
    public var certificatePEM: String?
    public var createdAt: Date
    public var updatedAt: Date

    public init(
        kid: String, tenantID: String, algorithm: String, state: SigningKeyState, sealedPrivateKey: String,
        publicJWK: String, certificatePEM: String?, createdAt: Date, updatedAt: Date
    ) {
        self.kid = kid; self.tenantID = tenantID; self.algorithm = algorithm; self.state = state
        self.sealedPrivateKey = sealedPrivateKey; self.publicJWK = publicJWK; self.certificatePEM = certificatePEM
        self.createdAt = createdAt; self.updatedAt = updatedAt
    }
}

public protocol SigningKeyStore: Sendable {
    func create(_ key: SigningKeyRecord) async throws -> SigningKeyRecord
    /// All keys of the tenant, oldest first. With `forUpdate` inside a transaction the rows stay
    /// locked until it ends (rotation uses this so two nodes cannot rotate at once).
    func list(tenantID: String, forUpdate: Bool) async throws -> [SigningKeyRecord]
    func setState(tenantID: String, kid: String, state: SigningKeyState, at: Date) async throws
}
