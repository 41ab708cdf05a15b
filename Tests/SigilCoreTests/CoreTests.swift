import Crypto
import CryptoExtras
import Foundation
import SigilCore
import SigilJOSE
import SwiftASN1
import Testing
import X509

@Suite struct Base64URLTests {
    @Test func roundTripsAndIsUnpadded() {
        for length in 0..<40 {
            let bytes = (0..<length).map { UInt8(($0 * 37 + 11) & 0xFF) }
            let encoded = Base64URL.encode(bytes)
            #expect(!encoded.contains("=") && !encoded.contains("+") && !encoded.contains("/"))
            #expect(Base64URL.decode(encoded).map(Array.init) == bytes)
        }
    }

    /// The hand-written encoder against Foundation's standard base64 with the RFC 4648 §5
    /// substitutions, on every length of a few blocks and every byte value in every position.
    @Test func encodesAsFoundationWithTheURLAlphabet() {
        var generator = SystemRandomNumberGenerator()
        for length in 0..<70 {
            for _ in 0..<8 {
                let bytes = (0..<length).map { _ in UInt8.random(in: 0...255, using: &generator) }
                let expected = Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-")
                    .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: "")
                #expect(Base64URL.encode(bytes) == expected)
            }
        }
        let all = (0...255).map { UInt8($0) }
        for shift in 0..<3 {
            let bytes = Array(all.dropFirst(shift))
            #expect(
                Base64URL.encode(bytes)
                    == Data(bytes).base64EncodedString().replacingOccurrences(of: "+", with: "-")
                    .replacingOccurrences(of: "/", with: "_").replacingOccurrences(of: "=", with: ""))
        }
        #expect(Base64URL.encode([UInt8]()) == "")
        #expect(Base64URL.encode([0xFB, 0xFF]) == "-_8")
    }

    @Test func rejectsTheStandardAlphabetPaddingAndJunk() {
        #expect(Base64URL.decode("ab+/") == nil)
        #expect(Base64URL.decode("YQ==") == nil)
        #expect(Base64URL.decode("Y Q") == nil)
        #expect(Base64URL.decode("Y") == nil) // a length of 1 mod 4 cannot be base64
        #expect(Base64URL.decode("YQ").map(Array.init) == [0x61])
    }
}

@Suite struct PrimitiveTests {
    @Test func constantTimeCompare() {
        #expect(constantTimeEquals([1, 2, 3], [1, 2, 3]))
        #expect(!constantTimeEquals([1, 2, 3], [1, 2, 4]))
        #expect(!constantTimeEquals([1, 2, 3], [1, 2]))
        #expect(constantTimeEquals([UInt8](), [UInt8]()))
    }

    @Test func secretsNeverPrint() {
        let secret = Secret("hunter2")
        #expect("\(secret)" == "<redacted>")
        #expect(String(reflecting: secret) == "<redacted>")
        #expect(secret.value == "hunter2")
    }

    @Test func identifiersAreTypedWellFormedAndTimeOrdered() {
        let clock = ManualClock()
        let ids = IdentifierGenerator(clock: clock, random: SystemRandom())
        var previous = ids.make(.user)
        #expect(IdentifierGenerator.isWellFormed(previous, kind: .user))
        #expect(!IdentifierGenerator.isWellFormed(previous, kind: .tenant))
        for _ in 0..<50 {
            clock.advance(by: 0.001)
            let next = ids.make(.user)
            #expect(next > previous)
            previous = next
        }
        // The same millisecond, different random parts: distinct.
        #expect(ids.make(.user) != ids.make(.user))
    }

    @Test func seededRandomIsDeterministicAndSystemRandomIsNot() {
        #expect(InsecureSeededRandom(seed: "a").bytes(48) == InsecureSeededRandom(seed: "a").bytes(48))
        #expect(InsecureSeededRandom(seed: "a").bytes(48) != InsecureSeededRandom(seed: "b").bytes(48))
        #expect(SystemRandom().bytes(32) != SystemRandom().bytes(32))
        for count in [0, 1, 7, 8, 9, 31, 33, 64] { #expect(SystemRandom().bytes(count).count == count) }
        // Every byte position varies (no word left partly unfilled).
        let draws = (0..<64).map { _ in SystemRandom().bytes(13) }
        for position in 0..<13 { #expect(Set(draws.map { $0[position] }).count > 1) }
    }

    @Test func tokenHashIsSHA256Hex() {
        // SHA-256("abc"), FIPS 180-2 appendix B.1.
        #expect(tokenHash("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }
}

@Suite struct InflaterTests {
    /// Found while writing the fuzz targets (docs/fuzzing.md): the size hint, in SigilQR a PNG's
    /// IHDR claim, was reserved before anything was inflated, so a few bytes claiming a huge image
    /// allocated all of it (here it would be a petabyte, and the process would die).
    @Test func aHugeSizeHintReservesOnlyWhatTheInputCanInflateTo() throws {
        let empty: [UInt8] = [0x78, 0x9C, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]
        #expect(try Inflater.zlib(empty, limit: Int.max, expectedSize: 1 << 50).isEmpty)
        let sigil: [UInt8] = [0x78, 0x9C, 0x2B, 0xCE, 0x4C, 0xCF, 0xCC, 0x01, 0x00, 0x06, 0x5B, 0x02, 0x19]
        #expect(try Inflater.zlib(sigil, limit: 1 << 40, expectedSize: 1 << 40) == Array("sigil".utf8))
    }
}

@Suite struct MasterKeyTests {
    let key = try! MasterKey(rawBytes: Array(repeating: 0x42, count: 32))

    @Test func sealsAndOpens() throws {
        let sealed = try key.seal(Array("private key".utf8), context: "sigil/signing-key/t1/k1")
        #expect(sealed.hasPrefix("v1."))
        #expect(!sealed.contains("private"))
        #expect(try key.open(sealed, context: "sigil/signing-key/t1/k1") == Array("private key".utf8))
        // Fresh nonce each time.
        #expect(try key.seal([1], context: "c") != key.seal([1], context: "c"))
    }

    @Test func refusesAnotherContextAnotherKeyOrTamperedData() throws {
        let sealed = try key.seal(Array("private key".utf8), context: "sigil/signing-key/t1/k1")
        #expect(throws: SigilError.self) { try key.open(sealed, context: "sigil/signing-key/t2/k1") }
        let other = try MasterKey(rawBytes: Array(repeating: 0x43, count: 32))
        #expect(throws: SigilError.self) { try other.open(sealed, context: "sigil/signing-key/t1/k1") }
        var bytes = Array(Base64URL.decode(String(sealed.dropFirst(3)))!)
        bytes[bytes.count / 2] ^= 1
        #expect(throws: SigilError.self) { try key.open("v1." + Base64URL.encode(bytes), context: "sigil/signing-key/t1/k1") }
        #expect(throws: SigilError.self) { try key.open("v2.abc", context: "x") }
    }

    @Test func parsesOnlyThirtyTwoByteKeys() throws {
        let (_, encoded) = MasterKey.generate(random: SystemRandom())
        _ = try MasterKey(encoded: encoded + "\n")
        #expect(throws: SigilError.self) { try MasterKey(encoded: Data(repeating: 1, count: 16).base64EncodedString()) }
        #expect(throws: SigilError.self) { try MasterKey(encoded: "not base64 at all!") }
        #expect(key.fingerprint == (try MasterKey(rawBytes: Array(repeating: 0x42, count: 32))).fingerprint)
        #expect(key.fingerprint != (try MasterKey(rawBytes: Array(repeating: 0x43, count: 32))).fingerprint)
    }
}

@Suite struct JOSETests {
    /// RFC 7638 §3.1: the example RSA key and its thumbprint.
    @Test func rfc7638ThumbprintVector() throws {
        let jwk = JWK(
            kty: "RSA", alg: "RS256", kid: "2011-04-29",
            n:
                "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
            e: "AQAB")
        #expect(try jwk.thumbprint() == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs")
    }

    @Test(arguments: SigningAlgorithm.allCases)
    func generatedKeysSignVerifyAndReloadWithTheSameKid(_ algorithm: SigningAlgorithm) throws {
        let key = try SigningKeyMaterial.generate(algorithm)
        #expect(key.publicJWK.alg == algorithm.rawValue)
        #expect(key.kid == (try key.publicJWK.thumbprint()))
        let reloaded = try SigningKeyMaterial(algorithm: algorithm, privateKeyDER: key.privateKeyDER.value)
        #expect(reloaded.publicJWK == key.publicJWK)
        let message = Array("header.payload".utf8)
        let signature = try key.sign(message)
        #expect(try reloaded.verify(signature, for: message))
        #expect(try !reloaded.verify(signature, for: Array("header.payloaD".utf8)))
        switch algorithm {
        case .rs256:
            #expect(key.publicJWK.kty == "RSA" && key.publicJWK.e == "AQAB")
            #expect(Base64URL.decode(key.publicJWK.n!)!.count == 256)
            #expect(signature.count == 256)
        case .es256:
            #expect(key.publicJWK.kty == "EC" && key.publicJWK.crv == "P-256")
            #expect(Base64URL.decode(key.publicJWK.x!)!.count == 32 && Base64URL.decode(key.publicJWK.y!)!.count == 32)
            #expect(signature.count == 64)
        case .eddsa:
            #expect(key.publicJWK.kty == "OKP" && key.publicJWK.crv == "Ed25519" && key.publicJWK.y == nil)
            #expect(Base64URL.decode(key.publicJWK.x!)!.count == 32)
            #expect(signature.count == 64)
        }
        // The private key never appears in the public JWK.
        let json = String(decoding: try JSONEncoder().encode(key.publicJWK), as: UTF8.self)
        #expect(!json.contains("\"d\""))
    }

    /// RFC 8037 Appendix A: the Ed25519 key, its RFC 7638 thumbprint (A.3) and the JWS of A.4
    /// (Ed25519 is deterministic, so our signature must equal the RFC's byte for byte).
    @Test func rfc8037Ed25519Vectors() throws {
        let key = try SigningKeyMaterial(algorithm: .eddsa, privateKeyDER: Array(Base64URL.decode("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A")!))
        #expect(key.publicJWK.x == "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
        #expect(key.kid == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k")
        let input = Array("eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc".utf8)
        let expected = "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"
        #expect(Base64URL.encode(try key.sign(input)) == expected)
        // (A.4's payload is text, not JSON, so JWS.parse would refuse it: verify the bytes.)
        #expect(try key.verify(Array(Base64URL.decode(expected)!), for: input))
        #expect(try !key.verify(Array(Base64URL.decode(expected)!), for: input + [0x2E]))
    }

    @Test func signingCertificateIsSelfSignedOverTheRSAKey() throws {
        let key = try SigningKeyMaterial.generate(.rs256)
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        let pem = try SigningCertificate.make(
            for: key, commonName: "Sigil signing key for acme", serialNumber: Array(repeating: 0xFF, count: 16),
            notBefore: now, notAfter: now.addingTimeInterval(86_400 * 365))
        let certificate = try Certificate(pemEncoded: pem)
        #expect(certificate.subject == certificate.issuer)
        #expect(certificate.subject.description.contains("CN=Sigil signing key for acme"))
        #expect(certificate.notValidBefore == now)
        #expect(certificate.signatureAlgorithm == .sha256WithRSAEncryption)
        #expect(certificate.publicKey.isValidSignature(certificate.signature, for: certificate))
        let rsa = try #require(_RSA.Signing.PublicKey(certificate.publicKey))
        let n = SigningKeyMaterial.minimalBigEndian(try rsa.getKeyPrimitives().modulus)
        #expect(Base64URL.encode(n) == key.publicJWK.n)
        #expect(try certificate.extensions.basicConstraints == .notCertificateAuthority)
        #expect(try SigningCertificate.x5cValue(pem: pem) == Data(try PEMDocument(pemString: pem).derBytes).base64EncodedString())
        #expect(throws: SigilError.self) {
            _ = try SigningCertificate.make(
                for: try SigningKeyMaterial.generate(.es256), commonName: "x", serialNumber: [1],
                notBefore: now, notAfter: now)
        }
    }
}
