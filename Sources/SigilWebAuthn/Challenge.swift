import SigilCore

/// A WebAuthn challenge: random bytes the relying party sends in the options and expects back in
/// `clientDataJSON` (base64url encoded).
public struct Challenge: Sendable, Hashable {
    public let bytes: [UInt8]

    public init(bytes: [UInt8]) { self.bytes = bytes }

    /// Parses the base64url form (as stored or as sent in the options).
    public init?(base64URL: String) {
        guard let data = Base64URL.decode(base64URL) else { return nil }
        self.bytes = Array(data)
    }

    /// base64url without padding, as `PublicKeyCredentialCreationOptionsJSON.challenge` wants it.
    public var base64URL: String { Base64URL.encode(bytes) }
}

/// Makes challenges from the injected randomness: at least 16 bytes (WebAuthn §13.4.3), 32 by default.
public struct ChallengeGenerator: Sendable {
    public static let minimumByteCount = 16

    public let random: any RandomSource
    public let byteCount: Int

    public init(random: any RandomSource, byteCount: Int = 32) {
        precondition(byteCount >= Self.minimumByteCount, "WebAuthn challenges need at least 16 random bytes")
        self.random = random
        self.byteCount = byteCount
    }

    public func next() -> Challenge {
        Challenge(bytes: random.bytes(byteCount))
    }
}
