import Crypto
import CryptoExtras

/// The COSE algorithms (RFC 9053, RFC 8812) accepted for credential keys.
public enum COSEAlgorithm: Int, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// ECDSA with SHA-256 on P-256 (kty EC2, crv 1). WebAuthn signatures are ASN.1 DER.
    case es256 = -7
    /// EdDSA; only Ed25519 (kty OKP, crv 6) is accepted.
    case eddsa = -8
    /// RSASSA-PKCS1-v1_5 with SHA-256 (kty RSA), modulus at least 2048 bits.
    case rs256 = -257

    public var description: String {
        switch self {
        case .es256: "ES256"
        case .eddsa: "EdDSA"
        case .rs256: "RS256"
        }
    }
}

/// A credential public key in COSE_Key form (RFC 9052 §7), parsed and ready to verify signatures.
///
/// Accepted: EC2 P-256 with alg -7, OKP Ed25519 with alg -8, RSA (n ≥ 2048 bits) with alg -257. The
/// `alg` parameter is required (WebAuthn §6.5.1.1) and must fit the `kty`. Other parameters are ignored.
public struct COSEKey: Sendable {
    public let algorithm: COSEAlgorithm
    /// The exact COSE_Key bytes this key was parsed from; store these as the credential's public key.
    public let encoded: [UInt8]

    enum Key: Sendable {
        case p256(P256.Signing.PublicKey)
        case ed25519(Curve25519.Signing.PublicKey)
        case rsa(_RSA.Signing.PublicKey)
    }

    let key: Key

    // COSE labels and values (RFC 9052 §7.1, RFC 9053 §7, RFC 8230 §4).
    static let labelKty = 1, labelAlg = 3
    static let ktyOKP = 1, ktyEC2 = 2, ktyRSA = 3
    static let curveP256 = 1, curveEd25519 = 6

    /// Parses a COSE_Key; the bytes must hold exactly one CBOR map.
    public init(encoded: [UInt8]) throws(WebAuthnError) {
        let value = try CBOR.decode(encoded)
        guard let map = value.mapValue else {
            throw WebAuthnError(.malformedPublicKey, "the credential public key is not a COSE_Key map")
        }
        try self.init(map: map, encoded: encoded)
    }

    init(map: CBORMap, encoded: [UInt8]) throws(WebAuthnError) {
        guard let kty = map[int: Self.labelKty]?.intValue else {
            throw WebAuthnError(.malformedPublicKey, "the COSE key has no integer kty")
        }
        guard let algValue = map[int: Self.labelAlg] else {
            throw WebAuthnError(.malformedPublicKey, "the COSE key has no alg")
        }
        guard let alg = algValue.intValue else {
            throw WebAuthnError(.malformedPublicKey, "the COSE key alg is not an integer")
        }
        guard let algorithm = COSEAlgorithm(rawValue: alg) else {
            throw WebAuthnError(.unsupportedAlgorithm, "COSE algorithm \(alg) is not supported")
        }
        self.algorithm = algorithm
        self.encoded = encoded

        switch algorithm {
        case .es256:
            guard kty == Self.ktyEC2 else { throw Self.ktyMismatch(kty, algorithm) }
            guard map[int: -1]?.intValue == Self.curveP256 else {
                throw WebAuthnError(.unsupportedAlgorithm, "ES256 keys must use curve P-256")
            }
            guard let x = map[int: -2]?.bytesValue, let y = map[int: -3]?.bytesValue, x.count == 32, y.count == 32 else {
                throw WebAuthnError(.malformedPublicKey, "the P-256 key needs 32-byte x and y coordinates")
            }
            do {
                key = .p256(try P256.Signing.PublicKey(x963Representation: [0x04] + x + y))
            } catch {
                throw WebAuthnError(.malformedPublicKey, "the P-256 key is not a point on the curve")
            }
        case .eddsa:
            guard kty == Self.ktyOKP else { throw Self.ktyMismatch(kty, algorithm) }
            guard map[int: -1]?.intValue == Self.curveEd25519 else {
                throw WebAuthnError(.unsupportedAlgorithm, "EdDSA keys must use curve Ed25519")
            }
            guard let x = map[int: -2]?.bytesValue, x.count == 32 else {
                throw WebAuthnError(.malformedPublicKey, "the Ed25519 key needs a 32-byte x")
            }
            do {
                key = .ed25519(try Curve25519.Signing.PublicKey(rawRepresentation: x))
            } catch {
                throw WebAuthnError(.malformedPublicKey, "the Ed25519 key is invalid")
            }
        case .rs256:
            guard kty == Self.ktyRSA else { throw Self.ktyMismatch(kty, algorithm) }
            guard let n = map[int: -1]?.bytesValue, let e = map[int: -2]?.bytesValue, !e.isEmpty else {
                throw WebAuthnError(.malformedPublicKey, "the RSA key needs n and e")
            }
            let bits = Self.bitLength(n)
            guard bits >= 2048 else {
                throw WebAuthnError(.weakKey, "RSA keys must have a modulus of at least 2048 bits (this one has \(bits))")
            }
            do {
                key = .rsa(try _RSA.Signing.PublicKey(n: n, e: e))
            } catch {
                throw WebAuthnError(.malformedPublicKey, "the RSA key is invalid")
            }
        }
    }

    static func ktyMismatch(_ kty: Int, _ algorithm: COSEAlgorithm) -> WebAuthnError {
        WebAuthnError(.malformedPublicKey, "COSE key type \(kty) does not fit algorithm \(algorithm)")
    }

    static func bitLength(_ bytes: [UInt8]) -> Int {
        guard let first = bytes.firstIndex(where: { $0 != 0 }) else { return 0 }
        return (bytes.count - first - 1) * 8 + (8 - bytes[first].leadingZeroBitCount)
    }

    /// Whether `signature` is this key's signature over `data` with the key's algorithm (ES256
    /// signatures in ASN.1 DER, as WebAuthn sends them).
    public func isValidSignature(_ signature: [UInt8], for data: [UInt8]) -> Bool {
        switch key {
        case .p256(let publicKey):
            guard let ecdsa = try? P256.Signing.ECDSASignature(derRepresentation: signature) else { return false }
            return publicKey.isValidSignature(ecdsa, for: data)
        case .ed25519(let publicKey):
            return publicKey.isValidSignature(signature, for: data)
        case .rsa(let publicKey):
            return publicKey.isValidSignature(
                _RSA.Signing.RSASignature(rawRepresentation: signature), for: data, padding: .insecurePKCS1v1_5)
        }
    }
}
