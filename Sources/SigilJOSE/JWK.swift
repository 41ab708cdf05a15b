import Crypto
import Foundation
import SigilCore

/// A public JSON Web Key (RFC 7517) as published in a JWKS. Only public members exist here: a
/// private key never becomes a `JWK`.
public struct JWK: Codable, Sendable, Equatable {
    public var kty: String
    public var use: String?
    public var alg: String?
    public var kid: String?
    // RSA
    public var n: String?
    public var e: String?
    // EC
    public var crv: String?
    public var x: String?
    public var y: String?
    /// X.509 chain, standard base64 DER (RFC 7517 §4.7).
    public var x5c: [String]?

    public init(
        kty: String, use: String? = nil, alg: String? = nil, kid: String? = nil,
        n: String? = nil, e: String? = nil, crv: String? = nil, x: String? = nil, y: String? = nil,
        x5c: [String]? = nil
    ) {
        self.kty = kty; self.use = use; self.alg = alg; self.kid = kid
        self.n = n; self.e = e; self.crv = crv; self.x = x; self.y = y; self.x5c = x5c
    }

    /// The RFC 7638 thumbprint (SHA-256, base64url): the required members in lexicographic order,
    /// no whitespace. Sigil uses it as the `kid`, so a key's id never changes and any client can
    /// recompute it.
    public func thumbprint() throws(SigilError) -> String {
        let canonical: String
        switch kty {
        case "RSA":
            guard let e, let n else { throw SigilError(.invalidInput, "RSA JWK lacks n or e") }
            canonical = #"{"e":"\#(e)","kty":"RSA","n":"\#(n)"}"#
        case "EC":
            guard let crv, let x, let y else { throw SigilError(.invalidInput, "EC JWK lacks crv, x or y") }
            canonical = #"{"crv":"\#(crv)","kty":"EC","x":"\#(x)","y":"\#(y)"}"#
        case "OKP":
            // RFC 8037 §2: crv, kty, x.
            guard let crv, let x else { throw SigilError(.invalidInput, "OKP JWK lacks crv or x") }
            canonical = #"{"crv":"\#(crv)","kty":"OKP","x":"\#(x)"}"#
        default:
            throw SigilError(.invalidInput, "unsupported key type \(kty)")
        }
        return Base64URL.encode(Array(SHA256.hash(data: Array(canonical.utf8))))
    }
}

/// A JSON Web Key Set.
public struct JWKSet: Codable, Sendable, Equatable {
    public var keys: [JWK]
    public init(keys: [JWK]) { self.keys = keys }
}
