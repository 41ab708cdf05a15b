import Crypto
import Foundation
import SigilCore
import SigilJOSE
import Testing
import _CryptoExtras

/// The libcrypto RS256 signer against swift-crypto's BoringSSL: RSASSA-PKCS1-v1_5 is
/// deterministic, so for the same key and message both must produce the same bytes, and each must
/// verify the other's signature.
@Suite("OpenSSL RSA signer: differential against swift-crypto")
struct OpenSSLRSATests {
    static let messages: [[UInt8]] = [
        [], Array("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhZGEifQ".utf8), Array(repeating: 0, count: 1), Array(repeating: 0xFF, count: 65_537),
        (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 31) },
    ]

    @Test func sameBytesAsBoringSSLAndEachVerifiesTheOther() throws {
        for size in [_RSA.Signing.KeySize.bits2048, .bits3072, .bits4096] {
            let key = try _RSA.Signing.PrivateKey(keySize: size)
            let material = try SigningKeyMaterial(algorithm: .rs256, privateKeyDER: Array(key.derRepresentation))
            let openSSL = try #require(material.signingWithOpenSSL())
            let boringSSL = material.signingWithBoringSSL()
            #expect(openSSL.rsaSigner == .openSSL && boringSSL.rsaSigner == .boringSSL)
            for message in Self.messages {
                let a = try openSSL.sign(message)
                let b = try boringSSL.sign(message)
                #expect(a == b, "key \(size.bitCount) bits, message of \(message.count) bytes")
                #expect(
                    try boringSSL.verify(a, for: message)
                        && key.publicKey.isValidSignature(.init(rawRepresentation: a), for: message, padding: .insecurePKCS1v1_5))
                #expect(try openSSL.verify(b, for: message))
            }
        }
    }

    @Test func readsPKCS8AsWellAsPKCS1() throws {
        let key = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        let pkcs8 = Array(key.pkcs8DERRepresentation)
        let fromPKCS1 = try #require(try SigningKeyMaterial(algorithm: .rs256, privateKeyDER: Array(key.derRepresentation)).signingWithOpenSSL())
        let fromPKCS8 = try #require(try SigningKeyMaterial(algorithm: .rs256, privateKeyDER: pkcs8).signingWithOpenSSL())
        let message = Array("header.payload".utf8)
        #expect(try fromPKCS1.sign(message) == fromPKCS8.sign(message))
    }

    @Test func theDefaultIsOpenSSLAndJWSOutputVerifies() throws {
        let material = try SigningKeyMaterial.generate(.rs256)
        #expect(RSASignerLibrary.preferred == .openSSL || ProcessInfo.processInfo.environment["SIGIL_RSA_SIGNER"] != nil)
        #expect(material.rsaSigner == RSASignerLibrary.preferred)
        #expect(RSASignerLibrary.openSSLVersion.hasPrefix("OpenSSL 3"))
        let token = try JWS.sign(payload: ["sub": "ada"], key: material)
        #expect(JWS.verify(try JWS.parse(token), with: material.publicJWK))
        // Other algorithms are unaffected.
        #expect(try SigningKeyMaterial.generate(.es256).rsaSigner == nil)
    }

    @Test func signsFromManyThreadsAtOnce() async throws {
        let material = try #require(try SigningKeyMaterial.generate(.rs256).signingWithOpenSSL())
        let expected = try material.signingWithBoringSSL().sign(Array("same".utf8))
        try await withThrowingTaskGroup(of: [UInt8].self) { group in
            for _ in 0..<32 { group.addTask { try material.sign(Array("same".utf8)) } }
            for try await signature in group { #expect(signature == expected) }
        }
    }
}
