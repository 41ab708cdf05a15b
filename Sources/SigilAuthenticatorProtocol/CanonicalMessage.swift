import Crypto
import SigilCore

/// The byte strings a device signs (docs/authenticator-protocol.md §1.2–1.4): lines joined by LF,
/// no trailing LF, each field printable ASCII; the first line names the version and purpose. The
/// server rebuilds them from what it stored, never from what the device claims.
public enum CanonicalMessage {
    public static let version = "sigil-authenticator/v1"

    public enum Decision: String, Sendable, Hashable, CaseIterable {
        case approve, deny, report
    }

    public enum UserVerification: String, Sendable, Hashable, CaseIterable {
        case face, fingerprint, pin, presence, none
    }

    /// §1.2: what a device signs to approve, deny or report a login.
    public static func approval(
        issuer: String, transactionID: String, challenge: String, origin: String, number: String,
        decision: Decision, userVerification: UserVerification
    ) throws(AuthenticatorProtocolError) -> [UInt8] {
        try join(["\(version) approval", issuer, transactionID, challenge, origin, number, decision.rawValue, userVerification.rawValue])
    }

    /// §1.3: proof that the enrolling device holds the private key.
    public static func enrolment(issuer: String, transactionID: String, challenge: String, publicKey: String) throws(AuthenticatorProtocolError) -> [UInt8] {
        try join(["\(version) enrolment", issuer, transactionID, challenge, publicKey])
    }

    /// §1.4: a signed device request. `target` is the absolute URL (issuer + path [+ query]).
    public static func request(
        method: String, target: String, deviceID: String, timestamp: Int64, nonce: String,
        body: [UInt8]
    ) throws(AuthenticatorProtocolError) -> [UInt8] {
        try join(["\(version) request", method.uppercased(), target, deviceID, String(timestamp), nonce, bodyHash(body)])
    }

    /// base64url of SHA-256 of the body (the empty body hashes to `47DEQpj8…`).
    public static func bodyHash(_ body: [UInt8]) -> String { Base64URL.encode(Array(SHA256.hash(data: body))) }

    static func join(_ fields: [String]) throws(AuthenticatorProtocolError) -> [UInt8] {
        for field in fields where !field.utf8.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) {
            throw AuthenticatorProtocolError(.malformedMessage, "a signed field holds a byte outside printable ASCII")
        }
        return Array(fields.joined(separator: "\n").utf8)
    }
}

/// ECDSA P-256 with SHA-256, DER signatures, base64url (§1).
public enum DeviceSignature {
    /// Verifies `signature` (base64url DER) over `message` with an X9.63 public key (base64url).
    public static func verify(_ signature: String, message: [UInt8], publicKey: String) -> Bool {
        guard let keyBytes = Base64URL.decode(publicKey), keyBytes.count == 65,
            let key = try? P256.Signing.PublicKey(x963Representation: keyBytes),
            let der = Base64URL.decode(signature),
            let parsed = try? P256.Signing.ECDSASignature(derRepresentation: der)
        else { return false }
        return key.isValidSignature(parsed, for: message)
    }

    /// Signs with a software key (the CLI's key store; phones sign in their secure hardware).
    public static func sign(_ message: [UInt8], with key: P256.Signing.PrivateKey) throws -> String {
        Base64URL.encode(Array(try key.signature(for: message).derRepresentation))
    }
}
