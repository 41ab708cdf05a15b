/// The flags byte of authenticator data (WebAuthn §6.1). Bits 1 and 5 are reserved and ignored.
public struct AuthenticatorFlags: OptionSet, Sendable, Hashable {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// UP, bit 0.
    public static let userPresent = AuthenticatorFlags(rawValue: 0x01)
    /// UV, bit 2.
    public static let userVerified = AuthenticatorFlags(rawValue: 0x04)
    /// BE, bit 3.
    public static let backupEligible = AuthenticatorFlags(rawValue: 0x08)
    /// BS, bit 4.
    public static let backupState = AuthenticatorFlags(rawValue: 0x10)
    /// AT, bit 6.
    public static let attestedCredentialData = AuthenticatorFlags(rawValue: 0x40)
    /// ED, bit 7.
    public static let extensionData = AuthenticatorFlags(rawValue: 0x80)
}

/// Attested credential data (WebAuthn §6.5.1), present in registration authenticator data.
public struct AttestedCredentialData: Sendable, Hashable {
    /// 16 bytes.
    public let aaguid: [UInt8]
    /// At most 1023 bytes.
    public let credentialID: [UInt8]
    /// The exact bytes of the COSE_Key (parsed into a `COSEKey` by the verifier).
    public let credentialPublicKey: [UInt8]
}

/// Authenticator data (WebAuthn §6.1), parsed strictly: every byte must be accounted for by the
/// fixed header, the attested credential data (iff AT) and the extensions map (iff ED).
public struct AuthenticatorData: Sendable, Hashable {
    public static let maximumCredentialIDLength = 1023

    /// The raw bytes, as signed by the authenticator.
    public let bytes: [UInt8]
    public let rpIDHash: [UInt8]
    public let flags: AuthenticatorFlags
    public let signCount: UInt32
    public let attestedCredentialData: AttestedCredentialData?
    /// The authenticator extension outputs, when ED is set.
    public let extensions: CBORMap?

    public init(bytes: [UInt8]) throws(WebAuthnError) {
        guard bytes.count >= 37 else {
            throw WebAuthnError(.malformedAuthenticatorData, "authenticator data is shorter than 37 bytes")
        }
        self.bytes = bytes
        rpIDHash = Array(bytes[0..<32])
        flags = AuthenticatorFlags(rawValue: bytes[32])
        signCount = bytes[33..<37].reduce(UInt32(0)) { ($0 << 8) | UInt32($1) }
        var position = 37

        if flags.contains(.attestedCredentialData) {
            guard bytes.count - position >= 18 else {
                throw WebAuthnError(.malformedAuthenticatorData, "attested credential data is truncated")
            }
            let aaguid = Array(bytes[position..<position + 16])
            let idLength = Int(bytes[position + 16]) << 8 | Int(bytes[position + 17])
            position += 18
            guard idLength <= Self.maximumCredentialIDLength else {
                throw WebAuthnError(.credentialIDTooLong, "the credential ID is longer than 1023 bytes")
            }
            guard idLength > 0 else {
                throw WebAuthnError(.malformedAuthenticatorData, "the credential ID is empty")
            }
            guard bytes.count - position >= idLength else {
                throw WebAuthnError(.malformedAuthenticatorData, "the credential ID is truncated")
            }
            let credentialID = Array(bytes[position..<position + idLength])
            position += idLength
            guard position < bytes.count else {
                throw WebAuthnError(.malformedAuthenticatorData, "the credential public key is missing")
            }
            let (key, range) = try CBOR.decodePrefix(bytes, from: position)
            guard key.mapValue != nil else {
                throw WebAuthnError(.malformedPublicKey, "the credential public key is not a COSE_Key map")
            }
            position = range.upperBound
            attestedCredentialData = AttestedCredentialData(
                aaguid: aaguid, credentialID: credentialID, credentialPublicKey: Array(bytes[range]))
        } else {
            attestedCredentialData = nil
        }

        if flags.contains(.extensionData) {
            guard position < bytes.count else {
                throw WebAuthnError(.malformedAuthenticatorData, "the ED flag is set but there are no extensions")
            }
            let (value, range) = try CBOR.decodePrefix(bytes, from: position)
            guard let map = value.mapValue else {
                throw WebAuthnError(.malformedAuthenticatorData, "authenticator extensions are not a CBOR map")
            }
            extensions = map
            position = range.upperBound
        } else {
            extensions = nil
        }

        guard position == bytes.count else {
            throw WebAuthnError(.malformedAuthenticatorData, "authenticator data has \(bytes.count - position) trailing bytes")
        }
    }
}
