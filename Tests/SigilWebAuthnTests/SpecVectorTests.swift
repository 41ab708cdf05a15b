import Foundation
import SigilCore
import SigilWebAuthn
import Testing
import X509

/// The WebAuthn Level 3 test vectors (see SpecVectors.swift for provenance). Each registration is
/// verified, then the authentication made with the same credential is verified against the stored
/// result. The vectors' UV flags are random, so UV is required exactly when the vector has it.
@Suite("WebAuthn L3 test vectors")
struct SpecVectorTests {
    static let rp = RelyingParty(id: "example.org", origins: ["https://example.org"])
    static let crossOriginRP = RelyingParty(
        id: "example.org", origins: ["https://example.org"], allowCrossOrigin: true, allowedTopOrigins: ["https://example.com"])

    static func registration(_ vector: SpecVector) -> RegistrationResponse {
        RegistrationResponse(
            credentialID: hex(vector.credentialID), clientDataJSON: hex(vector.registrationClientDataJSON),
            attestationObject: hex(vector.attestationObject))
    }

    static func assertion(_ vector: SpecVector) -> AssertionResponse {
        AssertionResponse(
            credentialID: hex(vector.credentialID), clientDataJSON: hex(vector.authenticationClientDataJSON),
            authenticatorData: hex(vector.authenticatorData), signature: hex(vector.signature))
    }

    static func hasUV(_ authData: [UInt8]) -> Bool { authData[32] & 0x04 != 0 }

    /// Registers and then authenticates; returns the registration.
    @discardableResult
    static func roundTrip(
        _ vector: SpecVector, rp: RelyingParty = rp, configure: (inout RegistrationOptions) -> Void = { _ in }
    ) throws -> VerifiedRegistration {
        let verifier = WebAuthnVerifier(relyingParty: rp)
        let attestation = try AttestationObject(bytes: hex(vector.attestationObject))
        var options = RegistrationOptions()
        options.requireUserVerification = hasUV(attestation.authenticatorData.bytes)
        configure(&options)
        let registration = try verifier.verifyRegistration(
            registration(vector), expectedChallenge: hex(vector.registrationChallenge), options: options)
        #expect(registration.credentialID == hex(vector.credentialID))
        #expect(registration.aaguid == hex(vector.aaguid))
        #expect(registration.signCount == 0)

        var assertionOptions = AssertionOptions()
        assertionOptions.requireUserVerification = hasUV(hex(vector.authenticatorData))
        let stored = StoredCredential(
            id: registration.credentialID, publicKey: registration.publicKey, signCount: registration.signCount,
            backupEligible: registration.backupEligible)
        let assertion = try verifier.verifyAssertion(
            assertion(vector), expectedChallenge: hex(vector.authenticationChallenge), credential: stored, options: assertionOptions)
        #expect(assertion.signCount == 0)
        #expect(!assertion.possibleClone)
        #expect(assertion.credentialID == registration.credentialID)
        return registration
    }

    @Test func noneES256() throws {
        let registration = try Self.roundTrip(SpecVectors.noneES256)
        #expect(registration.attestationFormat == .none)
        #expect(registration.attestationType == .none)
        #expect(registration.algorithm == .es256)
        #expect(registration.backupEligible && registration.backupState)
        #expect(!registration.userVerified)
    }

    @Test func noneES256WithoutUVFailsWhenUVRequired() {
        // The vector's registration lacks UV; Sigil's default options require it.
        let error = webAuthnError {
            try WebAuthnVerifier(relyingParty: Self.rp).verifyRegistration(
                Self.registration(SpecVectors.noneES256), expectedChallenge: hex(SpecVectors.noneES256.registrationChallenge))
        }
        #expect(error?.code == .userVerificationMissing)
    }

    @Test func packedSelfES256() throws {
        let registration = try Self.roundTrip(SpecVectors.packedSelfES256)
        #expect(registration.attestationFormat == .packed)
        #expect(registration.attestationType == .self)
        #expect(registration.attestationTrust == .untrusted)
        #expect(registration.attestationCertificates.isEmpty)
    }

    @Test func crossOriginAllowed() throws {
        try Self.roundTrip(SpecVectors.noneES256CrossOrigin, rp: Self.crossOriginRP)
    }

    @Test func crossOriginRejectedByDefault() {
        let vector = SpecVectors.noneES256CrossOrigin
        let error = webAuthnError {
            try WebAuthnVerifier(relyingParty: Self.rp).verifyRegistration(
                Self.registration(vector), expectedChallenge: hex(vector.registrationChallenge))
        }
        #expect(error?.code == .crossOriginNotAllowed)
    }

    @Test func topOriginAllowed() throws {
        try Self.roundTrip(SpecVectors.noneES256TopOrigin, rp: Self.crossOriginRP)
    }

    @Test func topOriginNotInAllowedSet() {
        let vector = SpecVectors.noneES256TopOrigin
        let rp = RelyingParty(id: "example.org", origins: ["https://example.org"], allowCrossOrigin: true, allowedTopOrigins: ["https://other.example"])
        var options = RegistrationOptions()
        options.requireUserVerification = false
        let error = webAuthnError {
            try WebAuthnVerifier(relyingParty: rp).verifyRegistration(
                Self.registration(vector), expectedChallenge: hex(vector.registrationChallenge), options: options)
        }
        #expect(error?.code == .topOriginMismatch)
    }

    @Test func longCredentialID() throws {
        let registration = try Self.roundTrip(SpecVectors.noneES256LongCredentialID)
        #expect(registration.credentialID.count == 1023)
    }

    @Test func packedES256WithCertificateIsBasicAndUntrustedByDefault() throws {
        let registration = try Self.roundTrip(SpecVectors.packedES256)
        #expect(registration.attestationType == .basic)
        #expect(registration.attestationTrust == .untrusted)
        #expect(registration.attestationCertificates.count == 1)
    }

    @Test func packedES256TrustedWithTheSpecRoot() throws {
        let root = try Certificate(derEncoded: hex(SpecVectors.attestationCACertificate))
        let registration = try Self.roundTrip(SpecVectors.packedES256) { options in
            options.trustPolicy = PinnedRootsAttestationPolicy(roots: [root], clock: ManualClock())
            options.requireTrustedAttestation = true
        }
        #expect(registration.attestationTrust == .trusted)
    }

    @Test func requireTrustedAttestationFailsWithoutRoots() {
        let vector = SpecVectors.packedES256
        var options = RegistrationOptions()
        options.requireTrustedAttestation = true
        let error = webAuthnError {
            try WebAuthnVerifier(relyingParty: Self.rp).verifyRegistration(
                Self.registration(vector), expectedChallenge: hex(vector.registrationChallenge), options: options)
        }
        #expect(error?.code == .attestationUntrusted)
    }

    @Test func pinnedRootIsUntrustedWhenExpired() throws {
        // The spec root is valid from 2024 to 3024; a clock in 2023 sees it as not yet valid.
        let root = try Certificate(derEncoded: hex(SpecVectors.attestationCACertificate))
        let registration = try Self.roundTrip(SpecVectors.packedES256) { options in
            options.trustPolicy = PinnedRootsAttestationPolicy(
                roots: [root], clock: ManualClock(Date(timeIntervalSince1970: 1_690_000_000)))
        }
        #expect(registration.attestationTrust == .untrusted)
    }

    @Test func packedRS256() throws {
        let root = try Certificate(derEncoded: hex(SpecVectors.attestationCACertificate))
        let registration = try Self.roundTrip(SpecVectors.packedRS256) { options in
            options.trustPolicy = PinnedRootsAttestationPolicy(roots: [root], clock: ManualClock())
        }
        #expect(registration.algorithm == .rs256)
        #expect(registration.attestationType == .basic)
        #expect(registration.attestationTrust == .trusted)
    }

    @Test func packedEdDSA() throws {
        let registration = try Self.roundTrip(SpecVectors.packedEdDSA)
        #expect(registration.algorithm == .eddsa)
        #expect(registration.attestationType == .basic)
    }

    @Test(arguments: [SpecVectors.packedES384, SpecVectors.packedES512, SpecVectors.packedEd448])
    func unsupportedCredentialAlgorithms(vector: SpecVector) {
        var options = RegistrationOptions()
        options.requireUserVerification = false
        let error = webAuthnError {
            try WebAuthnVerifier(relyingParty: Self.rp).verifyRegistration(
                Self.registration(vector), expectedChallenge: hex(vector.registrationChallenge), options: options)
        }
        #expect(error?.code == .unsupportedAlgorithm, "\(vector.name)")
    }

    @Test(arguments: [SpecVectors.tpmES256, SpecVectors.androidKeyES256, SpecVectors.appleES256, SpecVectors.fidoU2FES256])
    func unsupportedFormatsAreRejectedByDefault(vector: SpecVector) {
        var options = RegistrationOptions()
        options.requireUserVerification = false
        let error = webAuthnError {
            try WebAuthnVerifier(relyingParty: Self.rp).verifyRegistration(
                Self.registration(vector), expectedChallenge: hex(vector.registrationChallenge), options: options)
        }
        #expect(error?.code == .unsupportedAttestationFormat, "\(vector.name)")
    }

    @Test(arguments: [SpecVectors.tpmES256, SpecVectors.androidKeyES256, SpecVectors.appleES256, SpecVectors.fidoU2FES256])
    func unsupportedFormatsTreatedAsNoneWhenOptedIn(vector: SpecVector) throws {
        let registration = try Self.roundTrip(vector) { $0.unsupportedFormats = .treatAsNone }
        #expect(registration.attestationType == .none)
        #expect(registration.attestationFormat.rawValue != "none")
    }

    @Test func assertionWithWrongChallengeFails() throws {
        let vector = SpecVectors.packedSelfES256
        let registration = try Self.roundTrip(vector)
        let stored = StoredCredential(id: registration.credentialID, publicKey: registration.publicKey, signCount: 0)
        let error = webAuthnError {
            try WebAuthnVerifier(relyingParty: Self.rp).verifyAssertion(
                Self.assertion(vector), expectedChallenge: hex(vector.registrationChallenge), credential: stored)
        }
        #expect(error?.code == .challengeMismatch)
    }

    @Test func assertionWithAnotherVectorsKeyFails() throws {
        let other = try Self.roundTrip(SpecVectors.noneES256)
        let vector = SpecVectors.packedSelfES256
        let stored = StoredCredential(id: hex(vector.credentialID), publicKey: other.publicKey, signCount: 0)
        var options = AssertionOptions()
        options.requireUserVerification = false // this assertion vector has no UV
        let error = webAuthnError {
            try WebAuthnVerifier(relyingParty: Self.rp).verifyAssertion(
                Self.assertion(vector), expectedChallenge: hex(vector.authenticationChallenge), credential: stored, options: options)
        }
        #expect(error?.code == .badSignature)
    }

    @Test func specCOSEKeyExample() throws {
        // WebAuthn §6.5.1.2 (Examples of credentialPublicKey values), the EC2 P-256 example.
        let key = try COSEKey(
            encoded: hex(
                "a5010203262001215820" + "65eda5a12577c2bae829437fe338701a10aaa375e1bb5b5de108de439c08551d"
                    + "225820" + "1e52ed75701163f7f9e40ddf9f341b3dc9ba860af7e0ca7ca7e9eecd0084d19c"))
        #expect(key.algorithm == .es256)
    }
}
