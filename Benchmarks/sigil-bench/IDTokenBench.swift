import Crypto
import CryptoExtras
import Foundation
import SigilCore
import SigilJOSE
import SigilOAuth

/// ID token verification by JWKS (DESIGN §9), what Sigil does as a relying party of an upstream
/// OpenID provider: `sigil-bench idtoken [--seconds S]` checks an RS256 and an ES256 ID token the
/// way `UpstreamOIDC.validateIDToken` does for every upstream sign-in (parse, pick the key by
/// `kid` from a JWKS of three keys, verify, then `iss`, `aud`, `azp`, `exp`, `iat`, `nonce`,
/// `sub`), against raw signature verification of the same token with the public key parsed once
/// (swift-crypto), in alternating rounds of the same run. Prints validations/s, raw/s and their
/// ratio per algorithm (medians of three rounds). Never part of `swift test`.
func runIDTokenBench(arguments: [String]) throws {
    let seconds = Double(arguments.firstIndex(of: "--seconds").flatMap { arguments.indices.contains($0 + 1) ? Double(arguments[$0 + 1]) : nil } ?? 2)
    func rate(_ body: () throws -> Void) rethrows -> Double { try operationsPerSecond(seconds: seconds, body) }
    struct Failed: Error { let what: String }

    let issuer = "https://op.example"
    let clientID = "client-1"
    let nonce = "n-0S6_WzA2Mj"
    let now = Date()
    print("ID token verification by JWKS (1 core, \(seconds) s per round, medians of 3 alternating rounds)")
    for algorithm in [SigningAlgorithm.rs256, .es256] {
        let key = try SigningKeyMaterial.generate(algorithm)
        // The provider publishes more than one key: the token's kid picks one.
        let others = try [SigningKeyMaterial.generate(.rs256), SigningKeyMaterial.generate(.es256)]
        let set = JWKSet(keys: others.map(\.publicJWK) + [key.publicJWK])
        let claims: [String: JSONValue] = [
            "iss": .string(issuer), "sub": .string("248289761001"), "aud": .string(clientID), "azp": .string(clientID),
            "nonce": .string(nonce), "iat": .int(Int64(now.timeIntervalSince1970)),
            "exp": .int(Int64(now.timeIntervalSince1970) + 600), "email": .string("jane@example.com"),
            "email_verified": .bool(true), "name": .string("Jane Doe"),
        ]
        let token = try JWS.sign(payload: claims, key: key, type: "JWT")
        let parsed = try JWS.parse(token)
        let input = parsed.signingInput
        let signature = parsed.signature
        let raw: () throws -> Void
        switch algorithm {
        case .rs256:
            guard let n = key.publicJWK.n.flatMap(Base64URL.decode), let e = key.publicJWK.e.flatMap(Base64URL.decode) else {
                throw Failed(what: "RSA JWK")
            }
            let publicKey = try _RSA.Signing.PublicKey(n: n, e: e)
            let sig = _RSA.Signing.RSASignature(rawRepresentation: signature)
            raw = {
                guard publicKey.isValidSignature(sig, for: input, padding: .insecurePKCS1v1_5) else { throw Failed(what: "raw RS256") }
            }
        case .es256:
            guard let x = key.publicJWK.x.flatMap(Base64URL.decode), let y = key.publicJWK.y.flatMap(Base64URL.decode) else {
                throw Failed(what: "EC JWK")
            }
            let publicKey = try P256.Signing.PublicKey(x963Representation: [0x04] + x + y)
            let sig = try P256.Signing.ECDSASignature(rawRepresentation: signature)
            raw = {
                guard publicKey.isValidSignature(sig, for: input) else { throw Failed(what: "raw ES256") }
            }
        case .eddsa:
            continue
        }
        let validate = {
            let checked = try UpstreamOIDC.validateIDToken(token, keys: set, issuer: issuer, clientID: clientID, nonce: nonce, now: now)
            guard checked.subject == "248289761001" else { throw Failed(what: "subject") }
        }
        // A token signed by another key of the set must fail: the benchmark measures a real check.
        let forged = try JWS.sign(payload: claims, key: others[algorithm == .rs256 ? 0 : 1], type: "JWT")
        let forgedWithKid = forged.split(separator: ".").dropFirst().joined(separator: ".")
        let header = String(token.split(separator: ".")[0])
        if (try? UpstreamOIDC.validateIDToken(header + "." + forgedWithKid, keys: set, issuer: issuer, clientID: clientID, nonce: nonce, now: now))
            != nil
        {
            throw Failed(what: "a token signed by another key was accepted")
        }
        var validations: [Double] = []
        var raws: [Double] = []
        for _ in 0..<3 {
            validations.append(try rate(validate))
            raws.append(try rate(raw))
        }
        let v = validations.sorted()[1]
        let r = raws.sorted()[1]
        print(
            "  \(algorithm.rawValue): \(String(format: "%8.0f", v)) ID tokens validated/s   raw verify \(String(format: "%8.0f", r)) /s   ratio \(String(format: "%.2f", v / r))"
        )
    }
}
