import SigilWebAuthn
import Testing

@Suite("Assertion")
struct AssertionTests {
    func code(
        _ builder: AssertionBuilder, stored: StoredCredential? = nil, expectedChallenge: [UInt8]? = nil,
        options: AssertionOptions = AssertionOptions(), verifier: WebAuthnVerifier = testVerifier
    ) -> WebAuthnError.Code? {
        webAuthnError {
            try verifier.verifyAssertion(
                builder.response(), expectedChallenge: expectedChallenge ?? builder.challenge,
                credential: stored ?? builder.storedCredential(), options: options)
        }?.code
    }

    @Test(arguments: [TestKey.freshP256(), .freshEd25519(), .rsa2048])
    func verifies(key: TestKey) throws {
        var builder = AssertionBuilder(key: key)
        builder.extensions = cborMap([(.text("example.extension"), .bool(true))])
        let verified = try testVerifier.verifyAssertion(builder.response(), expectedChallenge: builder.challenge, credential: builder.storedCredential())
        #expect(verified.signCount == 1)
        #expect(!verified.possibleClone)
        #expect(verified.userVerified)
        #expect(!verified.backupEligible && !verified.backupState)
        #expect(verified.userHandle == Array("user-1".utf8))
        #expect(verified.authenticatorExtensions?[text: "example.extension"] == .bool(true))
        #expect(verified.clientData.type == "webauthn.get")
    }

    @Test func wrongOrigin() {
        var builder = AssertionBuilder(key: .freshP256())
        builder.origin = "http://example.org"
        #expect(code(builder) == .originMismatch)
    }

    @Test func wrongRPIDHash() {
        var builder = AssertionBuilder(key: .freshP256())
        builder.rpID = "example.com"
        #expect(code(builder) == .rpIDHashMismatch)
    }

    @Test func userPresenceMissing() {
        var builder = AssertionBuilder(key: .freshP256())
        builder.flags = [.userVerified]
        #expect(code(builder) == .userPresenceMissing)
    }

    @Test func userVerificationMissing() {
        var builder = AssertionBuilder(key: .freshP256())
        builder.flags = [.userPresent]
        #expect(code(builder) == .userVerificationMissing)
        var options = AssertionOptions()
        options.requireUserVerification = false
        #expect(code(builder, options: options) == nil)
    }

    @Test func wrongType() {
        var builder = AssertionBuilder(key: .freshP256())
        builder.type = "webauthn.create"
        #expect(code(builder) == .typeMismatch)
    }

    @Test func wrongChallenge() {
        let builder = AssertionBuilder(key: .freshP256())
        #expect(code(builder, expectedChallenge: Array(repeating: 0x23, count: 32)) == .challengeMismatch)
    }

    @Test func crossOriginRejected() {
        var builder = AssertionBuilder(key: .freshP256())
        builder.crossOrigin = true
        #expect(code(builder) == .crossOriginNotAllowed)
    }

    @Test func tamperedSignature() {
        var builder = AssertionBuilder(key: .freshEd25519())
        builder.tamperSignature = true
        #expect(code(builder) == .badSignature)
    }

    @Test func tamperedAuthData() {
        var builder = AssertionBuilder(key: .freshP256())
        builder.tamperAuthData = { data in
            var data = data
            data[36] &+= 1
            return data
        }
        #expect(code(builder) == .badSignature)
    }

    @Test func tamperedClientData() throws {
        let builder = AssertionBuilder(key: .rsa2048)
        var response = builder.response()
        response.clientDataJSON = clientDataJSON(type: "webauthn.get", challenge: builder.challenge, crossOrigin: nil)
        #expect(
            webAuthnError {
                try testVerifier.verifyAssertion(response, expectedChallenge: builder.challenge, credential: builder.storedCredential())
            }?.code == .badSignature)
    }

    @Test func signCountRegressionIsFlagged() throws {
        var builder = AssertionBuilder(key: .freshP256())
        builder.signCount = 7
        for storedCount in [UInt32(7), 8] {
            let verified = try testVerifier.verifyAssertion(
                builder.response(), expectedChallenge: builder.challenge, credential: builder.storedCredential(signCount: storedCount))
            #expect(verified.possibleClone)
            #expect(verified.signCount == 7)
        }
        var options = AssertionOptions()
        options.rejectPossibleClone = true
        #expect(code(builder, stored: builder.storedCredential(signCount: 7), options: options) == .signCountRegression)
        #expect(code(builder, stored: builder.storedCredential(signCount: 6), options: options) == nil)
    }

    @Test func signCountZeroRules() throws {
        var builder = AssertionBuilder(key: .freshP256())
        // Both zero: an authenticator without a counter.
        builder.signCount = 0
        var verified = try testVerifier.verifyAssertion(
            builder.response(), expectedChallenge: builder.challenge, credential: builder.storedCredential(signCount: 0))
        #expect(!verified.possibleClone)
        // A counter that falls back to zero is a regression (§7.2 step 22: either counter non-zero).
        verified = try testVerifier.verifyAssertion(
            builder.response(), expectedChallenge: builder.challenge, credential: builder.storedCredential(signCount: 3))
        #expect(verified.possibleClone)
    }

    @Test func backupFlags() {
        var builder = AssertionBuilder(key: .freshP256())
        builder.flags = [.userPresent, .userVerified, .backupState]
        #expect(code(builder) == .backupStateInconsistent)
        builder.flags = [.userPresent, .userVerified, .backupEligible]
        #expect(code(builder, stored: builder.storedCredential(backupEligible: false)) == .backupEligibilityChanged)
        #expect(code(builder, stored: builder.storedCredential(backupEligible: true)) == nil)
        builder.flags = [.userPresent, .userVerified]
        #expect(code(builder, stored: builder.storedCredential(backupEligible: true)) == .backupEligibilityChanged)
    }

    @Test func credentialAndUserHandleMustMatch() {
        var builder = AssertionBuilder(key: .freshP256())
        var stored = builder.storedCredential()
        stored.id = Array(repeating: 0xC9, count: 32)
        #expect(code(builder, stored: stored) == .credentialIDMismatch)
        builder.userHandle = Array("user-2".utf8)
        #expect(code(builder) == .userHandleMismatch)
        builder.userHandle = nil
        #expect(code(builder) == nil)
    }

    @Test func attestedCredentialDataIsRefusedInAssertions() {
        var builder = AssertionBuilder(key: .freshP256())
        let registrationAuthData = RegistrationBuilder(key: .freshP256()).authData
        builder.tamperAuthData = { _ in registrationAuthData }
        #expect(code(builder) == .malformedAuthenticatorData)
    }

    @Test func storedKeyMustParse() {
        let builder = AssertionBuilder(key: .freshP256())
        var stored = builder.storedCredential()
        stored.publicKey = [0xA0]
        #expect(code(builder, stored: stored) == .malformedPublicKey)
    }

    @Test func keyOfAnotherCredential() {
        let builder = AssertionBuilder(key: .freshP256())
        var stored = builder.storedCredential()
        stored.publicKey = TestKey.freshP256().coseKey
        #expect(code(builder, stored: stored) == .badSignature)
    }
}
