import Crypto

/// The parts of a `PublicKeyCredential` with an `AuthenticatorAssertionResponse`, decoded from
/// base64url by the HTTP edge.
public struct AssertionResponse: Sendable, Hashable {
    /// `rawId`.
    public var credentialID: [UInt8]
    public var clientDataJSON: [UInt8]
    public var authenticatorData: [UInt8]
    public var signature: [UInt8]
    public var userHandle: [UInt8]?

    public init(credentialID: [UInt8], clientDataJSON: [UInt8], authenticatorData: [UInt8], signature: [UInt8], userHandle: [UInt8]? = nil) {
        self.credentialID = credentialID
        self.clientDataJSON = clientDataJSON
        self.authenticatorData = authenticatorData
        self.signature = signature
        self.userHandle = userHandle
    }
}

/// The stored credential record an assertion is checked against (WebAuthn §4 "credential record").
public struct StoredCredential: Sendable, Hashable {
    public var id: [UInt8]
    /// COSE_Key bytes from `VerifiedRegistration.publicKey`.
    public var publicKey: [UInt8]
    public var signCount: UInt32
    /// BE at registration; when given, the assertion's BE must equal it (§7.2 step 19).
    public var backupEligible: Bool?
    /// The user handle of the account the credential belongs to; when given, a `userHandle` in the
    /// response must equal it.
    public var userHandle: [UInt8]?

    public init(id: [UInt8], publicKey: [UInt8], signCount: UInt32, backupEligible: Bool? = nil, userHandle: [UInt8]? = nil) {
        self.id = id
        self.publicKey = publicKey
        self.signCount = signCount
        self.backupEligible = backupEligible
        self.userHandle = userHandle
    }
}

/// The relying party's requirements for an authentication ceremony. UP is always required.
public struct AssertionOptions: Sendable, Hashable {
    /// Require the UV flag. Sigil always does.
    public var requireUserVerification: Bool = true
    /// Fail with `.signCountRegression` instead of only reporting `possibleClone`.
    public var rejectPossibleClone: Bool = false

    public init() {}
}

/// An assertion that passed every check of WebAuthn §7.2. Only `WebAuthnVerifier` makes these.
public struct VerifiedAssertion: Sendable {
    public let credentialID: [UInt8]
    /// The authenticator's new signature counter: store it.
    public let signCount: UInt32
    /// The counter did not increase although one of the counters is non-zero (§7.2 step 22): a
    /// signal, not proof, that the credential private key was cloned. The caller decides.
    public let possibleClone: Bool
    public let userVerified: Bool
    public let backupEligible: Bool
    /// The new backup state: store it.
    public let backupState: Bool
    /// The response's `userHandle`, passed through.
    public let userHandle: [UInt8]?
    public let authenticatorExtensions: CBORMap?
    public let clientData: CollectedClientData

    fileprivate init(
        credentialID: [UInt8], signCount: UInt32, possibleClone: Bool, userVerified: Bool, backupEligible: Bool,
        backupState: Bool, userHandle: [UInt8]?, authenticatorExtensions: CBORMap?, clientData: CollectedClientData
    ) {
        self.credentialID = credentialID
        self.signCount = signCount
        self.possibleClone = possibleClone
        self.userVerified = userVerified
        self.backupEligible = backupEligible
        self.backupState = backupState
        self.userHandle = userHandle
        self.authenticatorExtensions = authenticatorExtensions
        self.clientData = clientData
    }
}

extension WebAuthnVerifier {
    /// Verifies an authentication ceremony (WebAuthn §7.2) against the stored credential the caller
    /// looked up by `response.credentialID` (and, for discoverable credentials, `userHandle`).
    public func verifyAssertion(
        _ response: AssertionResponse, expectedChallenge: [UInt8], credential: StoredCredential,
        options: AssertionOptions = AssertionOptions()
    ) throws(WebAuthnError) -> VerifiedAssertion {
        // Steps 5–6: the response is for this credential and account.
        guard response.credentialID == credential.id else {
            throw WebAuthnError(.credentialIDMismatch, "the assertion is for another credential")
        }
        if let given = response.userHandle, let expected = credential.userHandle, given != expected {
            throw WebAuthnError(.userHandleMismatch, "the user handle does not match the credential's account")
        }
        // Steps 8–14: client data.
        let clientData = try CollectedClientData(json: response.clientDataJSON)
        try clientData.verify(type: "webauthn.get", challenge: expectedChallenge, relyingParty: relyingParty)
        let authData = try AuthenticatorData(bytes: response.authenticatorData)
        guard authData.attestedCredentialData == nil else {
            throw WebAuthnError(.malformedAuthenticatorData, "assertion authenticator data must not carry attested credential data")
        }
        // Steps 15–18.
        try verifyCommonFlags(authData, requireUserPresence: true, requireUserVerification: options.requireUserVerification)
        // Step 19.
        if let storedBE = credential.backupEligible, storedBE != authData.flags.contains(.backupEligible) {
            throw WebAuthnError(.backupEligibilityChanged, "the backup eligibility flag changed since registration")
        }
        // Steps 20–21.
        let key = try COSEKey(encoded: credential.publicKey)
        let hash = Array(SHA256.hash(data: response.clientDataJSON))
        guard key.isValidSignature(response.signature, for: authData.bytes + hash) else {
            throw WebAuthnError(.badSignature, "the assertion signature does not verify")
        }
        // Step 22: the signature counter.
        var possibleClone = false
        if authData.signCount != 0 || credential.signCount != 0, authData.signCount <= credential.signCount {
            possibleClone = true
            if options.rejectPossibleClone {
                throw WebAuthnError(.signCountRegression, "the signature counter did not increase")
            }
        }
        return VerifiedAssertion(
            credentialID: credential.id,
            signCount: authData.signCount,
            possibleClone: possibleClone,
            userVerified: authData.flags.contains(.userVerified),
            backupEligible: authData.flags.contains(.backupEligible),
            backupState: authData.flags.contains(.backupState),
            userHandle: response.userHandle,
            authenticatorExtensions: authData.extensions,
            clientData: clientData)
    }
}
