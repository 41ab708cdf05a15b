import Crypto
import Foundation

/// The key that encrypts secrets at rest (private signing keys, later PII). AES-256-GCM with
/// associated data binding each ciphertext to where it is stored, so a ciphertext copied to
/// another row does not decrypt.
public struct MasterKey: Sendable {
    private let key: SymmetricKey

    public init(rawBytes: [UInt8]) throws(SigilError) {
        guard rawBytes.count == 32 else {
            throw SigilError(.invalidConfiguration, "the master key must be 32 bytes (base64 of 32 bytes)")
        }
        self.key = SymmetricKey(data: rawBytes)
    }

    /// Parses the base64 (standard or url alphabet) form used in `SIGIL_MASTER_KEY` and the key file.
    public init(encoded: String) throws(SigilError) {
        let trimmed = encoded.trimmingCharacters(in: .whitespacesAndNewlines)
        guard let data = Data(base64Encoded: trimmed) ?? Base64URL.decode(trimmed) else {
            throw SigilError(.invalidConfiguration, "the master key is not valid base64")
        }
        try self.init(rawBytes: Array(data))
    }

    public static func generate(random: any RandomSource) -> (key: MasterKey, encoded: String) {
        let bytes = random.bytes(32)
        // 32 bytes always make a valid key.
        let key = try! MasterKey(rawBytes: bytes)
        return (key, Data(bytes).base64EncodedString())
    }

    /// A short public fingerprint, safe to log, to tell nodes sharing a database whether they share a key.
    public var fingerprint: String {
        let digest = key.withUnsafeBytes { HMAC<SHA256>.authenticationCode(for: Array("sigil-master-key-fingerprint".utf8), using: SymmetricKey(data: $0)) }
        return Base64URL.encode(Array(digest).prefix(9))
    }

    /// A MAC under a key derived (HKDF-SHA256) from the master key for one purpose, e.g. CSRF tokens.
    public func authenticationCode(_ message: [UInt8], purpose: String) -> [UInt8] {
        let derived = HKDF<SHA256>.deriveKey(inputKeyMaterial: key, info: Array("sigil/\(purpose)".utf8), outputByteCount: 32)
        return Array(HMAC<SHA256>.authenticationCode(for: message, using: derived))
    }

    /// Encrypts: the result is `v1.` + base64url(nonce ‖ ciphertext ‖ tag).
    public func seal(_ plaintext: [UInt8], context: String) throws -> String {
        let box = try AES.GCM.seal(plaintext, using: key, authenticating: Array(context.utf8))
        guard let combined = box.combined else { throw SigilError(.internalFailure, "AES-GCM produced no combined form") }
        return "v1." + Base64URL.encode(combined)
    }

    public func open(_ sealed: String, context: String) throws(SigilError) -> [UInt8] {
        guard sealed.hasPrefix("v1."), let data = Base64URL.decode(String(sealed.dropFirst(3))) else {
            throw SigilError(.decryptionFailed, "sealed value has an unknown format")
        }
        do {
            let box = try AES.GCM.SealedBox(combined: data)
            return Array(try AES.GCM.open(box, using: key, authenticating: Array(context.utf8)))
        } catch {
            throw SigilError(.decryptionFailed, "cannot decrypt a sealed value: wrong master key or tampered data")
        }
    }
}
