import Crypto
import Foundation
import SigilCore
import SigilWebAuthn
import Testing
import X509

@Suite("Registration")
struct RegistrationTests {
    func verify(
        _ builder: RegistrationBuilder, expectedChallenge: [UInt8]? = nil, options: RegistrationOptions = RegistrationOptions(),
        verifier: WebAuthnVerifier = testVerifier
    ) throws(WebAuthnError) -> VerifiedRegistration {
        try verifier.verifyRegistration(builder.response(), expectedChallenge: expectedChallenge ?? builder.challenge, options: options)
    }

    func code(
        _ builder: RegistrationBuilder, expectedChallenge: [UInt8]? = nil, options: RegistrationOptions = RegistrationOptions(),
        verifier: WebAuthnVerifier = testVerifier
    ) -> WebAuthnError.Code? {
        webAuthnError { try verify(builder, expectedChallenge: expectedChallenge, options: options, verifier: verifier) }?.code
    }

    // MARK: End to end with software keys

    @Test(arguments: ["p256", "ed25519", "rsa"])
    func endToEnd(kind: String) throws {
        let key: TestKey =
            switch kind {
            case "p256": .freshP256()
            case "ed25519": .freshEd25519()
            default: .rsa2048
            }
        let generator = ChallengeGenerator(random: InsecureSeededRandom(seed: "e2e-\(kind)"))
        var builder = RegistrationBuilder(key: key)
        builder.challenge = generator.next().bytes
        builder.attestation = .packedSelf()
        builder.flags.insert(.backupEligible)
        builder.signCount = 5
        builder.aaguid = Array(repeating: 0xAA, count: 16)
        let registration = try verify(builder)
        #expect(registration.algorithm.rawValue == key.alg)
        #expect(registration.publicKey == key.coseKey)
        #expect(registration.credentialID == builder.credentialID)
        #expect(registration.signCount == 5)
        #expect(registration.aaguid == builder.aaguid)
        #expect(registration.userVerified)
        #expect(registration.backupEligible && !registration.backupState)
        #expect(registration.attestationType == .self)
        #expect(registration.transports == ["internal", "hybrid"])
        #expect(registration.clientData.type == "webauthn.create")

        // Two assertions with the stored record, as the caller would update it.
        var stored = StoredCredential(
            id: registration.credentialID, publicKey: registration.publicKey, signCount: registration.signCount,
            backupEligible: registration.backupEligible, userHandle: Array("user-1".utf8))
        for count in [UInt32(6), 9] {
            var assertion = AssertionBuilder(key: key)
            assertion.credentialID = registration.credentialID
            assertion.challenge = generator.next().bytes
            assertion.flags = [.userPresent, .userVerified, .backupEligible, .backupState]
            assertion.signCount = count
            let verified = try testVerifier.verifyAssertion(assertion.response(), expectedChallenge: assertion.challenge, credential: stored)
            #expect(verified.signCount == count)
            #expect(!verified.possibleClone)
            #expect(verified.backupState)
            #expect(verified.userHandle == Array("user-1".utf8))
            stored.signCount = verified.signCount
        }
    }

    @Test func noneAttestation() throws {
        let registration = try verify(RegistrationBuilder(key: .freshP256()))
        #expect(registration.attestationFormat == .none)
        #expect(registration.attestationType == .none)
        #expect(registration.attestationTrust == .untrusted)
    }

    @Test func packedWithCertificate() throws {
        let ca = TestCA()
        let attestationKey = P256.Signing.PrivateKey()
        var builder = RegistrationBuilder(key: .freshEd25519())
        builder.aaguid = Array(repeating: 0x42, count: 16)
        builder.attestation = .packedX5C(key: attestationKey, chain: [ca.issue(leafKey: attestationKey, aaguid: builder.aaguid)])
        let untrusted = try verify(builder)
        #expect(untrusted.attestationType == .basic)
        #expect(untrusted.attestationTrust == .untrusted)
        #expect(untrusted.attestationCertificates.count == 1)

        var options = RegistrationOptions()
        options.trustPolicy = PinnedRootsAttestationPolicy(roots: [ca.certificate], clock: ManualClock())
        options.requireTrustedAttestation = true
        #expect(try verify(builder, options: options).attestationTrust == .trusted)

        // Another root does not do.
        options.trustPolicy = PinnedRootsAttestationPolicy(roots: [TestCA().certificate], clock: ManualClock())
        #expect(code(builder, options: options) == .attestationUntrusted)
    }

    @Test func pinnedRootsThroughAnIntermediate() throws {
        let root = TestCA()
        let attestationKey = P256.Signing.PrivateKey()
        var options = RegistrationOptions()
        options.trustPolicy = PinnedRootsAttestationPolicy(roots: [root.certificate], clock: ManualClock())
        var builder = RegistrationBuilder(key: .freshP256())

        let intermediate = TestCA(parent: root)
        builder.attestation = .packedX5C(key: attestationKey, chain: [intermediate.issue(leafKey: attestationKey), intermediate.certificate])
        #expect(try verify(builder, options: options).attestationTrust == .trusted)
        // With the root included at the end of x5c too.
        builder.attestation = .packedX5C(
            key: attestationKey, chain: [intermediate.issue(leafKey: attestationKey), intermediate.certificate, root.certificate])
        #expect(try verify(builder, options: options).attestationTrust == .trusted)
        // Without the intermediate the path is broken.
        builder.attestation = .packedX5C(key: attestationKey, chain: [intermediate.issue(leafKey: attestationKey)])
        #expect(try verify(builder, options: options).attestationTrust == .untrusted)
        // An intermediate that is not a CA cannot issue.
        let notCA = TestCA(parent: root, isCA: false)
        builder.attestation = .packedX5C(key: attestationKey, chain: [notCA.issue(leafKey: attestationKey), notCA.certificate])
        #expect(try verify(builder, options: options).attestationTrust == .untrusted)
        // Outside the validity period (the test certificates run from 2023 to 2033).
        options.trustPolicy = PinnedRootsAttestationPolicy(roots: [root.certificate], clock: ManualClock(Date(timeIntervalSince1970: 2_100_000_000)))
        builder.attestation = .packedX5C(key: attestationKey, chain: [intermediate.issue(leafKey: attestationKey), intermediate.certificate])
        #expect(try verify(builder, options: options).attestationTrust == .untrusted)
    }

    @Test func trustPolicySeesTheAttestation() throws {
        struct Recorder: AttestationTrustPolicy {
            let aaguid: [UInt8]
            func evaluate(_ context: AttestationTrustContext) -> AttestationTrust {
                context.format == .packed && context.aaguid == aaguid && context.certificates.count == 2 ? .trusted : .untrusted
            }
        }
        let ca = TestCA()
        let attestationKey = P256.Signing.PrivateKey()
        var builder = RegistrationBuilder(key: .freshP256())
        builder.aaguid = Array(repeating: 0x24, count: 16)
        builder.attestation = .packedX5C(key: attestationKey, chain: [ca.issue(leafKey: attestationKey), ca.certificate])
        var options = RegistrationOptions()
        options.trustPolicy = Recorder(aaguid: builder.aaguid)
        #expect(try verify(builder, options: options).attestationTrust == .trusted)
    }

    // MARK: One negative test per check

    @Test func wrongOrigin() {
        var builder = RegistrationBuilder(key: .freshP256())
        builder.origin = "https://evil.example"
        #expect(code(builder) == .originMismatch)
        builder.origin = "https://example.org:443"
        #expect(code(builder) == .originMismatch)
    }

    @Test func wrongRPIDHash() {
        var builder = RegistrationBuilder(key: .freshP256())
        builder.rpID = "evil.example"
        #expect(code(builder) == .rpIDHashMismatch)
    }

    @Test func userPresenceMissing() {
        var builder = RegistrationBuilder(key: .freshP256())
        builder.flags.remove(.userPresent)
        #expect(code(builder) == .userPresenceMissing)
        var options = RegistrationOptions()
        options.requireUserPresence = false
        #expect(code(builder, options: options) == nil)
    }

    @Test func userVerificationMissing() {
        var builder = RegistrationBuilder(key: .freshP256())
        builder.flags.remove(.userVerified)
        #expect(code(builder) == .userVerificationMissing)
    }

    @Test func wrongType() {
        var builder = RegistrationBuilder(key: .freshP256())
        builder.type = "webauthn.get"
        #expect(code(builder) == .typeMismatch)
    }

    @Test func wrongChallenge() {
        let builder = RegistrationBuilder(key: .freshP256())
        #expect(code(builder, expectedChallenge: Array(repeating: 0x12, count: 32)) == .challengeMismatch)
        #expect(code(builder, expectedChallenge: Array(repeating: 0x11, count: 31)) == .challengeMismatch)
    }

    @Test func crossOriginRejected() {
        var builder = RegistrationBuilder(key: .freshP256())
        builder.crossOrigin = true
        #expect(code(builder) == .crossOriginNotAllowed)
        let rp = RelyingParty(id: "example.org", origins: ["https://example.org"], allowCrossOrigin: true)
        #expect(code(builder, verifier: WebAuthnVerifier(relyingParty: rp)) == nil)
    }

    @Test func topOriginNeedsCrossOriginAndAnAllowedTop() {
        var builder = RegistrationBuilder(key: .freshP256())
        builder.crossOrigin = true
        builder.topOrigin = "https://top.example"
        #expect(code(builder) == .crossOriginNotAllowed)
        let rp = RelyingParty(id: "example.org", origins: ["https://example.org"], allowCrossOrigin: true)
        #expect(code(builder, verifier: WebAuthnVerifier(relyingParty: rp)) == .topOriginMismatch)
        let rp2 = RelyingParty(id: "example.org", origins: ["https://example.org"], allowCrossOrigin: true, allowedTopOrigins: ["https://top.example"])
        #expect(code(builder, verifier: WebAuthnVerifier(relyingParty: rp2)) == nil)
    }

    @Test func tamperedSignature() {
        var builder = RegistrationBuilder(key: .freshP256())
        builder.attestation = .packedSelf()
        builder.tamperSignature = true
        #expect(code(builder) == .badSignature)
    }

    @Test func tamperedAuthData() {
        var builder = RegistrationBuilder(key: .freshEd25519())
        builder.attestation = .packedSelf()
        builder.tamperAuthData = { data in
            var data = data
            data[36] ^= 0x01 // the signature counter
            return data
        }
        #expect(code(builder) == .badSignature)
    }

    @Test func tamperedClientDataHashBreaksAttestation() {
        // The statement signs the hash of the client data, so any change to clientDataJSON is caught.
        var builder = RegistrationBuilder(key: .freshP256())
        builder.attestation = .packedSelf()
        var response = builder.response()
        response.clientDataJSON = Array(
            String(decoding: response.clientDataJSON, as: UTF8.self)
                .replacingOccurrences(of: "}", with: ",\"extra\":1}").utf8)
        #expect(webAuthnError { try testVerifier.verifyRegistration(response, expectedChallenge: builder.challenge) }?.code == .badSignature)
    }

    @Test func trailingBytesInAttestationObject() {
        let builder = RegistrationBuilder(key: .freshP256())
        var response = builder.response()
        response.attestationObject += [0x00]
        #expect(webAuthnError { try testVerifier.verifyRegistration(response, expectedChallenge: builder.challenge) }?.code == .malformedCBOR)
    }

    @Test func malformedAttestationObject() {
        let builder = RegistrationBuilder(key: .freshP256())
        for object in [
            cbor(.array([])),
            cbor(cborMap([(.text("fmt"), .text("none")), (.text("attStmt"), cborMap([]))])),
            cbor(cborMap([(.text("fmt"), .int(1)), (.text("attStmt"), cborMap([])), (.text("authData"), .bytes(builder.authData))])),
            cbor(cborMap([(.text("fmt"), .text("none")), (.text("attStmt"), .array([])), (.text("authData"), .bytes(builder.authData))])),
        ] {
            var response = builder.response()
            response.attestationObject = object
            #expect(
                webAuthnError { try testVerifier.verifyRegistration(response, expectedChallenge: builder.challenge) }?.code
                    == .malformedAttestationObject)
        }
    }

    @Test func unsupportedAlgorithm() {
        var builder = RegistrationBuilder(key: .freshEd25519())
        var options = RegistrationOptions()
        options.allowedAlgorithms = [.es256]
        #expect(code(builder, options: options) == .unsupportedAlgorithm)
        // An ES384 key is not supported at all.
        builder.coseKey = cbor(
            cborMap([
                (.int(1), .int(2)), (.int(3), .int(-35)), (.int(-1), .int(2)),
                (.int(-2), .bytes(Array(repeating: 1, count: 48))), (.int(-3), .bytes(Array(repeating: 1, count: 48))),
            ]))
        #expect(code(builder) == .unsupportedAlgorithm)
    }

    @Test func rsa1024Rejected() {
        var builder = RegistrationBuilder(key: .freshP256())
        let n = [UInt8(0xE3)] + Array(repeating: 0x17, count: 126) + [0x01]
        builder.coseKey = cbor(cborMap([(.int(1), .int(3)), (.int(3), .int(-257)), (.int(-1), .bytes(n)), (.int(-2), .bytes([1, 0, 1]))]))
        #expect(code(builder) == .weakKey)
    }

    @Test func packedSelfWithMismatchedAlg() {
        var builder = RegistrationBuilder(key: .freshP256())
        builder.attestation = .packedSelf(alg: -257)
        #expect(code(builder) == .attestationInvalid)
    }

    @Test func packedStatementSyntax() {
        let builder = RegistrationBuilder(key: .freshP256())
        for statement in [
            cborMap([(.text("sig"), .bytes([1]))]),
            cborMap([(.text("alg"), .int(-7))]),
            cborMap([(.text("alg"), .text("ES256")), (.text("sig"), .bytes([1]))]),
            cborMap([(.text("alg"), .int(-7)), (.text("sig"), .bytes([1])), (.text("x5c"), .array([]))]),
            cborMap([(.text("alg"), .int(-7)), (.text("sig"), .bytes([1])), (.text("x5c"), .array([.text("cert")]))]),
            cborMap([(.text("alg"), .int(-7)), (.text("sig"), .bytes([1])), (.text("x5c"), .array([.bytes([0x30, 0x00])]))]),
            cborMap([(.text("alg"), .int(-7)), (.text("sig"), .bytes([1])), (.text("ecdaaKeyId"), .bytes([1]))]),
        ] {
            var b = builder
            b.attestation = .custom(format: "packed", statement: statement)
            #expect(code(b) == .attestationInvalid)
        }
    }

    @Test func x5cLeafThatIsACA() {
        let ca = TestCA()
        let attestationKey = P256.Signing.PrivateKey()
        var builder = RegistrationBuilder(key: .freshP256())
        builder.attestation = .packedX5C(key: attestationKey, chain: [ca.issue(leafKey: attestationKey, isCA: true)])
        #expect(code(builder) == .attestationInvalid)
    }

    @Test func x5cLeafSubjectRequirements() {
        let ca = TestCA()
        let attestationKey = P256.Signing.PrivateKey()
        var builder = RegistrationBuilder(key: .freshP256())
        builder.attestation = .packedX5C(key: attestationKey, chain: [ca.issue(leafKey: attestationKey, organizationalUnit: "Something Else")])
        #expect(code(builder) == .attestationInvalid)
        builder.attestation = .packedX5C(key: attestationKey, chain: [ca.issue(leafKey: attestationKey, version: .v1)])
        #expect(code(builder) == .attestationInvalid)
    }

    @Test func x5cAAGUIDMismatch() {
        let ca = TestCA()
        let attestationKey = P256.Signing.PrivateKey()
        var builder = RegistrationBuilder(key: .freshP256())
        builder.aaguid = Array(repeating: 0x01, count: 16)
        builder.attestation = .packedX5C(key: attestationKey, chain: [ca.issue(leafKey: attestationKey, aaguid: Array(repeating: 0x02, count: 16))])
        #expect(code(builder) == .attestationInvalid)
        // A matching AAGUID in a critical extension is refused too.
        builder.attestation = .packedX5C(key: attestationKey, chain: [ca.issue(leafKey: attestationKey, aaguid: builder.aaguid, aaguidCritical: true)])
        #expect(code(builder) == .attestationInvalid)
        builder.attestation = .packedX5C(key: attestationKey, chain: [ca.issue(leafKey: attestationKey, aaguid: builder.aaguid)])
        #expect(code(builder) == nil)
    }

    @Test func x5cSignatureByAnotherKey() {
        let ca = TestCA()
        var builder = RegistrationBuilder(key: .freshP256())
        builder.attestation = .packedX5C(key: P256.Signing.PrivateKey(), chain: [ca.issue(leafKey: P256.Signing.PrivateKey())])
        #expect(code(builder) == .badSignature)
    }

    @Test func unsupportedFormat() {
        var builder = RegistrationBuilder(key: .freshP256())
        builder.attestation = .custom(format: "fido-u2f", statement: cborMap([(.text("sig"), .bytes([1]))]))
        #expect(code(builder) == .unsupportedAttestationFormat)
        builder.attestation = .custom(format: "Packed", statement: cborMap([]))
        #expect(code(builder) == .unsupportedAttestationFormat)
        var options = RegistrationOptions()
        options.unsupportedFormats = .treatAsNone
        #expect(try! verify(builder, options: options).attestationType == .none)
        options.acceptNoneAttestation = false
        #expect(code(builder, options: options) == .attestationUntrusted)
    }

    @Test func noneWithAStatement() {
        var builder = RegistrationBuilder(key: .freshP256())
        builder.attestation = .custom(format: "none", statement: cborMap([(.text("sig"), .bytes([1]))]))
        #expect(code(builder) == .attestationInvalid)
    }

    @Test func attestationTypesCanBeRefused() {
        var options = RegistrationOptions()
        options.acceptNoneAttestation = false
        #expect(code(RegistrationBuilder(key: .freshP256()), options: options) == .attestationUntrusted)
        var builder = RegistrationBuilder(key: .freshP256())
        builder.attestation = .packedSelf()
        options = RegistrationOptions()
        options.acceptSelfAttestation = false
        #expect(code(builder, options: options) == .attestationUntrusted)
    }

    @Test func backupStateWithoutEligibility() {
        var builder = RegistrationBuilder(key: .freshP256())
        builder.flags.insert(.backupState)
        #expect(code(builder) == .backupStateInconsistent)
    }

    @Test func missingAttestedCredentialData() {
        var builder = RegistrationBuilder(key: .freshP256())
        builder.flags.remove(.attestedCredentialData)
        #expect(code(builder) == .malformedAuthenticatorData)
    }

    @Test func credentialIDMustMatchRawID() {
        let builder = RegistrationBuilder(key: .freshP256())
        var response = builder.response()
        response.credentialID = Array(repeating: 0xC2, count: 32)
        #expect(
            webAuthnError { try testVerifier.verifyRegistration(response, expectedChallenge: builder.challenge) }?.code
                == .credentialIDMismatch)
    }

    @Test func extensionsArePassedThrough() throws {
        var builder = RegistrationBuilder(key: .freshP256())
        builder.extensions = cborMap([(.text("credProtect"), .int(2))])
        #expect(try verify(builder).authenticatorExtensions?[text: "credProtect"] == .unsigned(2))
    }
}
