import Crypto
import CryptoExtras
import Foundation
import SigilCore

/// The JWS algorithms Sigil signs with. RS256 is the default (OIDC requires it); ES256 and EdDSA
/// (Ed25519, RFC 8037) are offered per client. Weak algorithms are not representable.
public enum SigningAlgorithm: String, Sendable, Codable, CaseIterable {
    case rs256 = "RS256"
    case es256 = "ES256"
    case eddsa = "EdDSA"
}

/// A freshly generated or decrypted signing key pair. The private part is DER (PKCS#8 for P-256,
/// PKCS#1 for RSA as swift-crypto emits it; for Ed25519 the 32-byte seed, which has no DER form in
/// swift-crypto) and is only ever stored sealed under the master key. The key is parsed once, when
/// the material is made, and every `sign` reuses it: parsing an RSA private key and BoringSSL's
/// per-key setup were about a third of the time of each RS256 signature.
public struct SigningKeyMaterial: Sendable {
    public let algorithm: SigningAlgorithm
    public let privateKeyDER: Secret<[UInt8]>
    public let publicJWK: JWK
    private let parsed: ParsedKey

    /// The private key as swift-crypto holds it, built once. The types are immutable and safe to
    /// use from many threads at once (BoringSSL's RSA keeps its lazily built state under its own
    /// lock).
    private enum ParsedKey: Sendable {
        /// swift-crypto's key (verification, SAML, and signing when BoringSSL is chosen) and the
        /// same key in libcrypto when OpenSSL signs (`RSASignerLibrary`).
        case rsa(_RSA.Signing.PrivateKey, OpenSSLRSAKey?)
        case p256(P256.Signing.PrivateKey)
        case ed25519(Curve25519.Signing.PrivateKey)
    }

    /// The parsed RSA key (RS256 material only): SAML signs XML and redirect queries with it.
    public var rsaPrivateKey: _RSA.Signing.PrivateKey? {
        if case .rsa(let key, _) = parsed { return key }
        return nil
    }

    public var kid: String { publicJWK.kid ?? "" }

    /// Generates a new key: RSA-2048 for RS256, P-256 for ES256. (Key generation draws on
    /// BoringSSL's own CSPRNG; the injected random source covers everything else.)
    public static func generate(_ algorithm: SigningAlgorithm) throws -> SigningKeyMaterial {
        switch algorithm {
        case .rs256:
            let key = try _RSA.Signing.PrivateKey(keySize: .bits2048)
            return try SigningKeyMaterial(algorithm: .rs256, privateKeyDER: Array(key.derRepresentation))
        case .es256:
            let key = P256.Signing.PrivateKey()
            return try SigningKeyMaterial(algorithm: .es256, privateKeyDER: Array(key.derRepresentation))
        case .eddsa:
            let key = Curve25519.Signing.PrivateKey()
            return try SigningKeyMaterial(algorithm: .eddsa, privateKeyDER: Array(key.rawRepresentation))
        }
    }

    /// Rebuilds the material from stored private key bytes, recomputing the public JWK and `kid`.
    public init(algorithm: SigningAlgorithm, privateKeyDER: [UInt8]) throws {
        self.algorithm = algorithm
        self.privateKeyDER = Secret(privateKeyDER)
        var jwk: JWK
        switch algorithm {
        case .rs256:
            let key = try _RSA.Signing.PrivateKey(derRepresentation: privateKeyDER)
            guard key.keySizeInBits >= 2048 else { throw SigilError(.invalidInput, "RSA keys must have at least 2048 bits") }
            parsed = .rsa(key, RSASignerLibrary.preferred == .openSSL ? OpenSSLRSAKey(der: privateKeyDER) : nil)
            let primitives = try key.publicKey.getKeyPrimitives()
            jwk = JWK(
                kty: "RSA", use: "sig", alg: "RS256",
                n: Base64URL.encode(Self.minimalBigEndian(primitives.modulus)),
                e: Base64URL.encode(Self.minimalBigEndian(primitives.publicExponent)))
        case .es256:
            let key = try P256.Signing.PrivateKey(derRepresentation: privateKeyDER)
            parsed = .p256(key)
            let raw = Array(key.publicKey.x963Representation) // 0x04 ‖ X ‖ Y
            jwk = JWK(
                kty: "EC", use: "sig", alg: "ES256", crv: "P-256",
                x: Base64URL.encode(raw[1..<33]), y: Base64URL.encode(raw[33..<65]))
        case .eddsa:
            let key = try Curve25519.Signing.PrivateKey(rawRepresentation: privateKeyDER)
            parsed = .ed25519(key)
            jwk = JWK(kty: "OKP", use: "sig", alg: "EdDSA", crv: "Ed25519", x: Base64URL.encode(Array(key.publicKey.rawRepresentation)))
        }
        jwk.kid = try jwk.thumbprint()
        self.publicJWK = jwk
    }

    /// Minimal big-endian form of an integer: JWK `n` and `e` carry no leading zero octets.
    public static func minimalBigEndian(_ data: Data) -> [UInt8] {
        let bytes = Array(data)
        let firstNonZero = bytes.firstIndex(where: { $0 != 0 }) ?? (bytes.count - 1)
        return Array(bytes[firstNonZero...])
    }

    /// Which library `sign` uses for this key: libcrypto when OpenSSL is preferred and read the key.
    public var rsaSigner: RSASignerLibrary? {
        guard case .rsa(_, let openSSL) = parsed else { return nil }
        return openSSL == nil ? .boringSSL : .openSSL
    }

    /// The same key with its RSA signatures made by swift-crypto's BoringSSL (differential tests,
    /// the benchmark's baseline).
    public func signingWithBoringSSL() -> SigningKeyMaterial {
        guard case .rsa(let key, _) = parsed else { return self }
        return SigningKeyMaterial(algorithm: algorithm, privateKeyDER: privateKeyDER, publicJWK: publicJWK, parsed: .rsa(key, nil))
    }

    /// The same key signed by libcrypto, whatever `SIGIL_RSA_SIGNER` says; nil if libcrypto cannot read it.
    public func signingWithOpenSSL() -> SigningKeyMaterial? {
        guard case .rsa(let key, _) = parsed, let openSSL = OpenSSLRSAKey(der: privateKeyDER.value) else { return nil }
        return SigningKeyMaterial(algorithm: algorithm, privateKeyDER: privateKeyDER, publicJWK: publicJWK, parsed: .rsa(key, openSSL))
    }

    private init(algorithm: SigningAlgorithm, privateKeyDER: Secret<[UInt8]>, publicJWK: JWK, parsed: ParsedKey) {
        self.algorithm = algorithm; self.privateKeyDER = privateKeyDER; self.publicJWK = publicJWK; self.parsed = parsed
    }

    /// Signs `message` with this key (RS256: RSASSA-PKCS1-v1_5 with SHA-256; ES256: raw r‖s).
    public func sign(_ message: [UInt8]) throws -> [UInt8] {
        switch parsed {
        case .rsa(_, let openSSL?):
            return try openSSL.signSHA256(message)
        case .rsa(let key, nil):
            return Array(try key.signature(for: message, padding: .insecurePKCS1v1_5).rawRepresentation)
        case .p256(let key):
            return Array(try key.signature(for: message).rawRepresentation)
        case .ed25519(let key):
            return Array(try key.signature(for: message))
        }
    }

    /// Verifies a signature made by `sign` against the public half.
    public func verify(_ signature: [UInt8], for message: [UInt8]) throws -> Bool {
        switch parsed {
        case .rsa(let key, _):
            return key.publicKey.isValidSignature(
                _RSA.Signing.RSASignature(rawRepresentation: signature), for: message, padding: .insecurePKCS1v1_5)
        case .p256(let key):
            return key.publicKey.isValidSignature(try P256.Signing.ECDSASignature(rawRepresentation: signature), for: message)
        case .ed25519(let key):
            return key.publicKey.isValidSignature(signature, for: message)
        }
    }
}
