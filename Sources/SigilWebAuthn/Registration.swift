import Crypto

/// The parts of a `PublicKeyCredential` with an `AuthenticatorAttestationResponse`, decoded from
/// base64url by the HTTP edge.
public struct RegistrationResponse: Sendable, Hashable {
    /// `rawId`.
    public var credentialID: [UInt8]
    public var clientDataJSON: [UInt8]
    public var attestationObject: [UInt8]
    /// `response.getTransports()`, passed through unchecked.
    public var transports: [String]

    public init(credentialID: [UInt8], clientDataJSON: [UInt8], attestationObject: [UInt8], transports: [String] = []) {
        self.credentialID = credentialID
        self.clientDataJSON = clientDataJSON
        self.attestationObject = attestationObject
        self.transports = transports
    }
}

/// The relying party's requirements for a registration ceremony.
public struct RegistrationOptions: Sendable {
    /// Require the UV flag. Sigil always does (passwordless: the passkey is the only factor).
    public var requireUserVerification: Bool = true
    /// Require the UP flag. Turn off only for conditional-mediation creation (§7.1 step 15).
    public var requireUserPresence: Bool = true
    /// The credential algorithms offered in `pubKeyCredParams`.
    public var allowedAlgorithms: [COSEAlgorithm] = [.es256, .eddsa, .rs256]
    /// Accept attestation type `none`.
    public var acceptNoneAttestation: Bool = true
    /// Accept self attestation.
    public var acceptSelfAttestation: Bool = true
    /// Fail certificate attestations the trust policy does not trust (default: accept and report them).
    public var requireTrustedAttestation: Bool = false
    /// What to do with formats other than `none` and `packed`.
    public var unsupportedFormats: UnsupportedAttestationFormatHandling = .reject
    /// Decides whether a certificate attestation's trust path is trusted.
    public var trustPolicy: any AttestationTrustPolicy = UntrustedAttestationPolicy()

    public init() {}
}

/// A registration that passed every check of WebAuthn §7.1. Only `WebAuthnVerifier` makes these.
public struct VerifiedRegistration: Sendable {
    public let credentialID: [UInt8]
    /// The credential public key as COSE_Key bytes, exactly as the authenticator encoded it: store it.
    public let publicKey: [UInt8]
    public let algorithm: COSEAlgorithm
    public let signCount: UInt32
    /// 16 bytes; all zero for authenticators that do not disclose their model.
    public let aaguid: [UInt8]
    /// UV at registration (the credential record's `uvInitialized`).
    public let userVerified: Bool
    public let backupEligible: Bool
    public let backupState: Bool
    public let attestationFormat: AttestationFormat
    public let attestationType: AttestationType
    public let attestationTrust: AttestationTrust
    /// `x5c` DER certificates, attestation certificate first; empty without certificate attestation.
    public let attestationCertificates: [[UInt8]]
    public let transports: [String]
    /// Authenticator extension outputs, for the caller to process or ignore.
    public let authenticatorExtensions: CBORMap?
    public let clientData: CollectedClientData

    fileprivate init(
        credentialID: [UInt8], publicKey: [UInt8], algorithm: COSEAlgorithm, signCount: UInt32, aaguid: [UInt8],
        userVerified: Bool, backupEligible: Bool, backupState: Bool, attestationFormat: AttestationFormat,
        attestationType: AttestationType, attestationTrust: AttestationTrust, attestationCertificates: [[UInt8]],
        transports: [String], authenticatorExtensions: CBORMap?, clientData: CollectedClientData
    ) {
        self.credentialID = credentialID
        self.publicKey = publicKey
        self.algorithm = algorithm
        self.signCount = signCount
        self.aaguid = aaguid
        self.userVerified = userVerified
        self.backupEligible = backupEligible
        self.backupState = backupState
        self.attestationFormat = attestationFormat
        self.attestationType = attestationType
        self.attestationTrust = attestationTrust
        self.attestationCertificates = attestationCertificates
        self.transports = transports
        self.authenticatorExtensions = authenticatorExtensions
        self.clientData = clientData
    }
}

extension WebAuthnVerifier {
    /// Verifies a registration ceremony (WebAuthn §7.1). The caller must still check that the
    /// credential ID is not registered yet (step 26) and store the result.
    public func verifyRegistration(
        _ response: RegistrationResponse, expectedChallenge: [UInt8], options: RegistrationOptions = RegistrationOptions()
    ) throws(WebAuthnError) -> VerifiedRegistration {
        // Steps 5–11: client data.
        let clientData = try CollectedClientData(json: response.clientDataJSON)
        try clientData.verify(type: "webauthn.create", challenge: expectedChallenge, relyingParty: relyingParty)
        // Step 12.
        let clientDataHash = Array(SHA256.hash(data: response.clientDataJSON))
        // Step 13.
        let attestation = try AttestationObject(bytes: response.attestationObject)
        let authData = attestation.authenticatorData
        // Steps 14–17.
        try verifyCommonFlags(
            authData, requireUserPresence: options.requireUserPresence,
            requireUserVerification: options.requireUserVerification)
        guard let credential = authData.attestedCredentialData else {
            throw WebAuthnError(.malformedAuthenticatorData, "registration authenticator data has no attested credential data")
        }
        // Step 25 (credential ID length) was checked while parsing; the ID must be the one the client reported.
        guard credential.credentialID == response.credentialID else {
            throw WebAuthnError(.credentialIDMismatch, "the credential ID differs from the one in the authenticator data")
        }
        // Step 20: the credential key and its algorithm.
        let key = try COSEKey(encoded: credential.credentialPublicKey)
        guard options.allowedAlgorithms.contains(key.algorithm) else {
            throw WebAuthnError(.unsupportedAlgorithm, "algorithm \(key.algorithm) was not offered")
        }

        // Steps 21–22: the attestation statement.
        let result: AttestationResult
        switch attestation.format {
        case .none:
            guard attestation.statement.isEmpty else {
                throw WebAuthnError(.attestationInvalid, "none attestation must have an empty statement")
            }
            result = AttestationResult(type: .none, certificates: [], certificateBytes: [])
        case .packed:
            result = try PackedAttestation.verify(
                statement: attestation.statement, authData: authData, credentialKey: key, clientDataHash: clientDataHash)
        default:
            guard options.unsupportedFormats == .treatAsNone else {
                throw WebAuthnError(.unsupportedAttestationFormat, "attestation format \(attestation.format) is not supported")
            }
            result = AttestationResult(type: .none, certificates: [], certificateBytes: [])
        }

        // Steps 23–24: trustworthiness.
        let trust: AttestationTrust
        switch result.type {
        case .none:
            guard options.acceptNoneAttestation else {
                throw WebAuthnError(.attestationUntrusted, "registrations without attestation are not accepted")
            }
            trust = .untrusted
        case .self:
            guard options.acceptSelfAttestation else {
                throw WebAuthnError(.attestationUntrusted, "self attestation is not accepted")
            }
            trust = .untrusted
        case .basic:
            trust = options.trustPolicy.evaluate(
                AttestationTrustContext(
                    format: attestation.format, aaguid: credential.aaguid, certificates: result.certificates))
            if trust == .untrusted, options.requireTrustedAttestation {
                throw WebAuthnError(.attestationUntrusted, "the attestation does not chain to a trusted root")
            }
        }

        return VerifiedRegistration(
            credentialID: credential.credentialID,
            publicKey: credential.credentialPublicKey,
            algorithm: key.algorithm,
            signCount: authData.signCount,
            aaguid: credential.aaguid,
            userVerified: authData.flags.contains(.userVerified),
            backupEligible: authData.flags.contains(.backupEligible),
            backupState: authData.flags.contains(.backupState),
            attestationFormat: attestation.format,
            attestationType: result.type,
            attestationTrust: trust,
            attestationCertificates: result.certificateBytes,
            transports: response.transports,
            authenticatorExtensions: authData.extensions,
            clientData: clientData)
    }
}
