import Crypto
import CryptoExtras
import SigilCore
import Synchronization

/// Public keys parsed from JWKs, kept so that a token signed by a key seen before is verified
/// without rebuilding the key (for RSA, BoringSSL's per-key set-up costs more than the
/// verification itself). Keyed by the key's public members, never by `kid`: a JWKS that reuses a
/// `kid` for new material gets the new key. Bounded: when full, the cache starts again empty,
/// which costs one parse per key in use. Only keys that parsed are kept.
enum VerifyingKeyCache {
    enum Key: Sendable {
        case rsa(_RSA.Signing.PublicKey)
        case p256(P256.Signing.PublicKey)
        case ed25519(Curve25519.Signing.PublicKey)
    }

    static let capacity = 256
    private static let entries = Mutex<[String: Key]>([:])

    /// The parsed key for `jwk` as `alg` uses it, or nil when the JWK is not a usable key of
    /// that type (RSA under 2048 bits, a curve other than P-256/Ed25519, malformed members).
    static func key(for jwk: JWK, algorithm alg: String) -> Key? {
        let identity: String
        switch (alg, jwk.kty) {
        case ("RS256", "RSA"):
            guard let n = jwk.n, let e = jwk.e else { return nil }
            identity = "RSA." + n + "." + e
        case ("ES256", "EC"):
            guard jwk.crv == "P-256", let x = jwk.x, let y = jwk.y else { return nil }
            identity = "P-256." + x + "." + y
        case ("EdDSA", "OKP"):
            guard jwk.crv == "Ed25519", let x = jwk.x else { return nil }
            identity = "Ed25519." + x
        default:
            return nil
        }
        if let known = entries.withLock({ $0[identity] }) { return known }
        guard let parsed = parse(jwk, algorithm: alg) else { return nil }
        entries.withLock { entries in
            if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
            entries[identity] = parsed
        }
        return parsed
    }

    /// How many parsed keys are held (for tests).
    static var count: Int { entries.withLock { $0.count } }

    private static func parse(_ jwk: JWK, algorithm alg: String) -> Key? {
        switch alg {
        case "RS256":
            guard let n = jwk.n.flatMap(Base64URL.decode), let e = jwk.e.flatMap(Base64URL.decode),
                let key = try? _RSA.Signing.PublicKey(n: n, e: e), key.keySizeInBits >= 2048
            else { return nil }
            return .rsa(key)
        case "ES256":
            guard let x = jwk.x.flatMap(Base64URL.decode), let y = jwk.y.flatMap(Base64URL.decode), x.count == 32, y.count == 32,
                let key = try? P256.Signing.PublicKey(x963Representation: [0x04] + x + y)
            else { return nil }
            return .p256(key)
        case "EdDSA":
            guard let x = jwk.x.flatMap(Base64URL.decode), x.count == 32,
                let key = try? Curve25519.Signing.PublicKey(rawRepresentation: x)
            else { return nil }
            return .ed25519(key)
        default:
            return nil
        }
    }
}
