import Crypto
import Foundation
import SigilCore
import SigilWebAuthn
import Testing

@Suite("COSE keys")
struct COSEKeyTests {
    func keyError(_ value: CBORValue) -> WebAuthnError.Code? {
        webAuthnError { try COSEKey(encoded: cbor(value)) }?.code
    }

    let p256 = P256.Signing.PrivateKey()
    var x: [UInt8] { Array(p256.publicKey.rawRepresentation.prefix(32)) }
    var y: [UInt8] { Array(p256.publicKey.rawRepresentation.suffix(32)) }

    @Test func softwareKeysVerifyTheirSignatures() throws {
        let data = Array("signed data".utf8)
        for testKey in [TestKey.freshP256(), .freshEd25519(), .rsa2048] {
            let key = try COSEKey(encoded: testKey.coseKey)
            #expect(key.algorithm.rawValue == testKey.alg)
            #expect(key.encoded == testKey.coseKey)
            #expect(key.isValidSignature(testKey.sign(data), for: data))
            #expect(!key.isValidSignature(testKey.sign(data), for: data + [0]))
            #expect(!key.isValidSignature([], for: data))
        }
    }

    @Test func es256NeedsDERSignatures() throws {
        let data = Array("x".utf8)
        let key = try COSEKey(encoded: TestKey.p256(p256).coseKey)
        let raw = Array(try p256.signature(for: data).rawRepresentation)
        #expect(!key.isValidSignature(raw, for: data))
    }

    @Test func unsupportedAlgorithms() {
        // ES384 on P-384.
        #expect(
            keyError(
                cborMap([
                    (.int(1), .int(2)), (.int(3), .int(-35)), (.int(-1), .int(2)),
                    (.int(-2), .bytes(Array(repeating: 1, count: 48))), (.int(-3), .bytes(Array(repeating: 1, count: 48))),
                ]))
                == .unsupportedAlgorithm)
        // PS256.
        #expect(
            keyError(cborMap([(.int(1), .int(3)), (.int(3), .int(-37)), (.int(-1), .bytes([1])), (.int(-2), .bytes([1, 0, 1]))]))
                == .unsupportedAlgorithm)
        // ES256 on another curve.
        #expect(
            keyError(
                cborMap([
                    (.int(1), .int(2)), (.int(3), .int(-7)), (.int(-1), .int(2)),
                    (.int(-2), .bytes(x)), (.int(-3), .bytes(y)),
                ])) == .unsupportedAlgorithm)
        // EdDSA with Ed448.
        #expect(
            keyError(
                cborMap([
                    (.int(1), .int(1)), (.int(3), .int(-8)), (.int(-1), .int(7)),
                    (.int(-2), .bytes(Array(repeating: 1, count: 57))),
                ])) == .unsupportedAlgorithm)
    }

    @Test func ktyMustFitAlg() {
        #expect(
            keyError(
                cborMap([
                    (.int(1), .int(1)), (.int(3), .int(-7)), (.int(-1), .int(1)),
                    (.int(-2), .bytes(x)), (.int(-3), .bytes(y)),
                ])) == .malformedPublicKey)
        #expect(
            keyError(
                cborMap([
                    (.int(1), .int(2)), (.int(3), .int(-8)), (.int(-1), .int(6)),
                    (.int(-2), .bytes(x)),
                ])) == .malformedPublicKey)
    }

    @Test func missingOrBadParameters() {
        // No alg.
        #expect(
            keyError(cborMap([(.int(1), .int(2)), (.int(-1), .int(1)), (.int(-2), .bytes(x)), (.int(-3), .bytes(y))]))
                == .malformedPublicKey)
        // No kty.
        #expect(
            keyError(cborMap([(.int(3), .int(-7)), (.int(-1), .int(1)), (.int(-2), .bytes(x)), (.int(-3), .bytes(y))]))
                == .malformedPublicKey)
        // Short x.
        #expect(
            keyError(
                cborMap([
                    (.int(1), .int(2)), (.int(3), .int(-7)), (.int(-1), .int(1)),
                    (.int(-2), .bytes(Array(x.dropFirst()))), (.int(-3), .bytes(y)),
                ])) == .malformedPublicKey)
        // Compressed point (y as a bool).
        #expect(
            keyError(
                cborMap([
                    (.int(1), .int(2)), (.int(3), .int(-7)), (.int(-1), .int(1)),
                    (.int(-2), .bytes(x)), (.int(-3), .bool(true)),
                ])) == .malformedPublicKey)
        // Not on the curve.
        var badY = y
        badY[31] ^= 1
        #expect(
            keyError(
                cborMap([
                    (.int(1), .int(2)), (.int(3), .int(-7)), (.int(-1), .int(1)),
                    (.int(-2), .bytes(x)), (.int(-3), .bytes(badY)),
                ])) == .malformedPublicKey)
        // Not a map.
        #expect(keyError(.array([])) == .malformedPublicKey)
        // Trailing bytes.
        #expect(webAuthnError { try COSEKey(encoded: TestKey.p256(p256).coseKey + [0]) }?.code == .malformedCBOR)
    }

    @Test func rsaModulusMustHaveAtLeast2048Bits() {
        // 1024-bit modulus.
        let n1024 = [UInt8(0xC1)] + Array(repeating: 0x5A, count: 126) + [0x01]
        #expect(
            keyError(cborMap([(.int(1), .int(3)), (.int(3), .int(-257)), (.int(-1), .bytes(n1024)), (.int(-2), .bytes([1, 0, 1]))]))
                == .weakKey)
        // 2047 bits, padded with leading zero bytes to 256 bytes.
        let n2047 = [UInt8(0x00), 0x7F] + Array(repeating: 0x5A, count: 253) + [0x01]
        #expect(
            keyError(cborMap([(.int(1), .int(3)), (.int(3), .int(-257)), (.int(-1), .bytes(n2047)), (.int(-2), .bytes([1, 0, 1]))]))
                == .weakKey)
    }
}

@Suite("Authenticator data")
struct AuthenticatorDataTests {
    let rpHash = sha256(Array("example.org".utf8))

    @Test func parsesFlagsCounterAndAttestedCredentialData() throws {
        var builder = RegistrationBuilder(key: .freshP256())
        builder.flags = [.userPresent, .userVerified, .backupEligible, .backupState, .attestedCredentialData]
        builder.signCount = 0x0102_0304
        builder.aaguid = Array(0..<16)
        builder.extensions = cborMap([(.text("credProps"), cborMap([(.text("rk"), .bool(true))]))])
        let data = try AuthenticatorData(bytes: builder.authData)
        #expect(data.rpIDHash == rpHash)
        #expect(data.flags == [.userPresent, .userVerified, .backupEligible, .backupState, .attestedCredentialData, .extensionData])
        #expect(data.signCount == 0x0102_0304)
        let credential = try #require(data.attestedCredentialData)
        #expect(credential.aaguid == Array(0..<16))
        #expect(credential.credentialID == builder.credentialID)
        #expect(credential.credentialPublicKey == builder.key.coseKey)
        #expect(data.extensions?[text: "credProps"]?.mapValue?[text: "rk"] == .bool(true))
    }

    @Test func minimalAssertionData() throws {
        let data = try AuthenticatorData(bytes: rpHash + [0x05, 0, 0, 0, 9])
        #expect(data.flags == [.userPresent, .userVerified])
        #expect(data.signCount == 9)
        #expect(data.attestedCredentialData == nil)
        #expect(data.extensions == nil)
    }

    func parseError(_ bytes: [UInt8]) -> WebAuthnError.Code? {
        webAuthnError { try AuthenticatorData(bytes: bytes) }?.code
    }

    @Test func strictLengths() {
        #expect(parseError(Array(rpHash.prefix(31))) == .malformedAuthenticatorData)
        #expect(parseError(rpHash + [0x01, 0, 0, 0]) == .malformedAuthenticatorData)
        // Trailing bytes without ED.
        #expect(parseError(rpHash + [0x01, 0, 0, 0, 0, 0xA0]) == .malformedAuthenticatorData)
        // ED without extensions.
        #expect(parseError(rpHash + [0x81, 0, 0, 0, 0]) == .malformedAuthenticatorData)
        // ED with something other than a map.
        #expect(parseError(rpHash + [0x81, 0, 0, 0, 0, 0x80]) == .malformedAuthenticatorData)
        // ED with a map and trailing bytes.
        #expect(parseError(rpHash + [0x81, 0, 0, 0, 0, 0xA0, 0x00]) == .malformedAuthenticatorData)
        // AT with truncated attested credential data.
        #expect(parseError(rpHash + [0x41, 0, 0, 0, 0] + Array(repeating: 0, count: 17)) == .malformedAuthenticatorData)
    }

    @Test func attestedCredentialDataChecks() {
        var builder = RegistrationBuilder(key: .freshP256())
        // The credential ID length points beyond the data.
        let full = builder.authData
        var truncated = Array(full.prefix(37 + 16)) + [0x00, 0x40] + Array(repeating: 1, count: 10)
        #expect(parseError(truncated) == .malformedAuthenticatorData)
        // No public key after the ID.
        truncated = Array(full.prefix(37 + 18 + 32))
        #expect(parseError(truncated) == .malformedAuthenticatorData)
        // A public key cut short.
        #expect(parseError(Array(full.dropLast())) == .malformedCBOR)
        // Trailing bytes after the public key without ED.
        #expect(parseError(full + [0x00]) == .malformedAuthenticatorData)
        // 1024-byte credential ID.
        builder.credentialID = Array(repeating: 7, count: 1024)
        #expect(parseError(builder.authData) == .credentialIDTooLong)
        builder.credentialID = Array(repeating: 7, count: 1023)
        #expect(parseError(builder.authData) == nil)
        // A public key that is not a map.
        builder.coseKey = cbor(.array([]))
        #expect(parseError(builder.authData) == .malformedPublicKey)
    }
}

@Suite("Client data")
struct ClientDataTests {
    @Test func parsesMembers() throws {
        let json = Array(
            #"{"type":"webauthn.get","challenge":"AAEC","origin":"https://a.example","crossOrigin":true,"topOrigin":"https://b.example","extra":[1,{"x":null}]}"#
                .utf8)
        let data = try CollectedClientData(json: json)
        #expect(data.type == "webauthn.get")
        #expect(data.challenge == "AAEC")
        #expect(data.origin == "https://a.example")
        #expect(data.crossOrigin == true)
        #expect(data.topOrigin == "https://b.example")
    }

    @Test func stripsByteOrderMark() throws {
        let json = [0xEF, 0xBB, 0xBF] + Array(#"{"type":"webauthn.get","challenge":"AA","origin":"https://a.example"}"#.utf8)
        let data = try CollectedClientData(json: json)
        #expect(data.crossOrigin == nil)
        #expect(data.topOrigin == nil)
    }

    @Test(arguments: [
        #"{"challenge":"AA","origin":"https://a.example"}"#,
        #"{"type":"webauthn.get","origin":"https://a.example"}"#,
        #"{"type":"webauthn.get","challenge":"AA"}"#,
        #"{"type":"webauthn.get","challenge":"AA","origin":"https://a.example","crossOrigin":"true"}"#,
        #"{"type":1,"challenge":"AA","origin":"https://a.example"}"#,
        #"["webauthn.get"]"#,
        #"{"type":"webauthn.get","#,
        "",
    ])
    func rejectsMalformedJSON(json: String) {
        #expect(webAuthnError { try CollectedClientData(json: Array(json.utf8)) }?.code == .malformedClientData)
    }

    @Test func rejectsInvalidUTF8() {
        let json = Array(#"{"type":"webauthn.get","challenge":"AA","origin":"https://a.example"#.utf8) + [0xFF, 0x22, 0x7D]
        #expect(webAuthnError { try CollectedClientData(json: json) }?.code == .malformedClientData)
    }
}

@Suite("Challenges and errors")
struct ChallengeAndErrorTests {
    @Test func generatorUsesInjectedRandomness() {
        let a = ChallengeGenerator(random: InsecureSeededRandom(seed: "challenge")).next()
        let b = ChallengeGenerator(random: InsecureSeededRandom(seed: "challenge")).next()
        #expect(a == b)
        #expect(a.bytes.count == 32)
        #expect(Challenge(base64URL: a.base64URL) == a)
        #expect(!a.base64URL.contains("=") && !a.base64URL.contains("+") && !a.base64URL.contains("/"))
    }

    @Test func generatorMakesDistinctChallenges() {
        let generator = ChallengeGenerator(random: SystemRandom(), byteCount: 16)
        let challenges = (0..<50).map { _ in generator.next() }
        #expect(Set(challenges).count == 50)
        #expect(challenges.allSatisfy { $0.bytes.count == 16 })
    }

    @Test func challengeParsingIsStrict() {
        #expect(Challenge(base64URL: "AAEC+w==") == nil)
        #expect(Challenge(base64URL: "AAEC_w")?.bytes == [0, 1, 2, 0xFF])
    }

    @Test func errorsCompareByCode() {
        #expect(WebAuthnError(.badSignature, "one") == WebAuthnError(.badSignature, "two"))
        #expect(WebAuthnError(.badSignature, "one") != WebAuthnError(.originMismatch, "one"))
        #expect("\(WebAuthnError(.originMismatch, "the origin is not allowed"))" == "originMismatch: the origin is not allowed")
    }
}
