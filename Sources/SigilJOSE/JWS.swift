import Crypto
import CryptoExtras
import Foundation
import SigilCore

/// Compact JWS (RFC 7515) for the two algorithms Sigil knows: RS256 and ES256. Signing takes a
/// `SigningKeyMaterial`; verification takes a public `JWK`. `alg: none` and HMAC algorithms are
/// not representable, so a token can never choose its own verification path.
public enum JWS {
    /// Signs `payload` (a JSON object, serialized with sorted keys) with `key`; the header carries
    /// `alg`, `kid` and `typ`.
    public static func sign(payload: [String: JSONValue], key: SigningKeyMaterial, type: String = "JWT") throws -> String {
        let header: JSONValue = .object(["alg": .string(key.algorithm.rawValue), "kid": .string(key.kid), "typ": .string(type)])
        let headerPart = Base64URL.encode(try header.serialized())
        let payloadPart = Base64URL.encode(try JSONValue.object(payload).serialized())
        let input = headerPart + "." + payloadPart
        let signature = try key.sign(Array(input.utf8))
        return input + "." + Base64URL.encode(signature)
    }

    /// A compact JWS split into its parts, signature not yet checked.
    public struct Parsed: Sendable {
        public let header: [String: JSONValue]
        public let payload: [String: JSONValue]
        public let signingInput: [UInt8]
        public let signature: [UInt8]

        public var algorithm: String? { header["alg"]?.string }
        public var keyID: String? { header["kid"]?.string }
        public var type: String? { header["typ"]?.string }
    }

    public static func parse(_ token: String) throws(SigilError) -> Parsed {
        guard token.utf8.count <= 16 * 1024 else { throw SigilError(.invalidInput, "token too large") }
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let headerBytes = Base64URL.decode(String(parts[0])), let payloadBytes = Base64URL.decode(String(parts[1])),
            let signature = Base64URL.decode(String(parts[2]))
        else {
            throw SigilError(.invalidInput, "not a compact JWS")
        }
        guard let header = (try? JSONValue.parse(headerBytes))?.object, let payload = (try? JSONValue.parse(payloadBytes))?.object else {
            throw SigilError(.invalidInput, "JWS header or payload is not a JSON object")
        }
        return Parsed(
            header: header, payload: payload,
            signingInput: Array((parts[0] + "." + parts[1]).utf8), signature: Array(signature))
    }

    /// Whether `parsed` carries a valid signature by `jwk`. The algorithm must be RS256, ES256 or EdDSA (Ed25519)
    /// and agree with the key type (and with the key's `alg`, when it names one).
    public static func verify(_ parsed: Parsed, with jwk: JWK) -> Bool {
        guard let alg = parsed.algorithm, jwk.alg == nil || jwk.alg == alg,
            let key = VerifyingKeyCache.key(for: jwk, algorithm: alg)
        else { return false }
        switch key {
        case .rsa(let key):
            return key.isValidSignature(
                _RSA.Signing.RSASignature(rawRepresentation: parsed.signature), for: parsed.signingInput,
                padding: .insecurePKCS1v1_5)
        case .p256(let key):
            guard let signature = try? P256.Signing.ECDSASignature(rawRepresentation: parsed.signature) else { return false }
            return key.isValidSignature(signature, for: parsed.signingInput)
        case .ed25519(let key):
            return parsed.signature.count == 64 && key.isValidSignature(parsed.signature, for: parsed.signingInput)
        }
    }

    /// Verifies against a key set: the key named by `kid`, or every key when the header names none.
    public static func verify(_ parsed: Parsed, with set: JWKSet) -> Bool {
        let candidates = parsed.keyID.map { kid in set.keys.filter { $0.kid == kid } } ?? set.keys
        return candidates.contains { verify(parsed, with: $0) }
    }
}
