/// The one error of the WebAuthn core, shaped like swift-certificates' `CertificateError`: a public,
/// extensible `code` to branch on and a `message` that is safe to show to the client (it never
/// contains key material, challenges or other secrets). Two errors are equal when their codes are.
public struct WebAuthnError: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }
        public var description: String { name }

        // Encodings
        /// CBOR that is not well formed or breaks the strict profile (see `CBOR`).
        public static let malformedCBOR = Code("malformedCBOR")
        /// Authenticator data with a bad length, missing or trailing parts.
        public static let malformedAuthenticatorData = Code("malformedAuthenticatorData")
        /// `clientDataJSON` that is not UTF-8 JSON with the required members.
        public static let malformedClientData = Code("malformedClientData")
        /// An attestation object without `fmt`, `attStmt` or `authData` of the right types.
        public static let malformedAttestationObject = Code("malformedAttestationObject")
        /// A COSE key that lacks required parameters, has wrong sizes, or whose kty does not fit its alg.
        public static let malformedPublicKey = Code("malformedPublicKey")
        /// A credential ID longer than 1023 bytes.
        public static let credentialIDTooLong = Code("credentialIDTooLong")

        // Client data
        public static let typeMismatch = Code("typeMismatch")
        public static let challengeMismatch = Code("challengeMismatch")
        public static let originMismatch = Code("originMismatch")
        public static let crossOriginNotAllowed = Code("crossOriginNotAllowed")
        public static let topOriginMismatch = Code("topOriginMismatch")

        // Authenticator data
        public static let rpIDHashMismatch = Code("rpIDHashMismatch")
        public static let userPresenceMissing = Code("userPresenceMissing")
        public static let userVerificationMissing = Code("userVerificationMissing")
        /// BS set without BE.
        public static let backupStateInconsistent = Code("backupStateInconsistent")
        /// BE differs from the value stored at registration (BE must never change).
        public static let backupEligibilityChanged = Code("backupEligibilityChanged")

        // Keys and signatures
        /// An algorithm, key type or curve that is not supported, or not allowed by the options.
        public static let unsupportedAlgorithm = Code("unsupportedAlgorithm")
        /// An RSA modulus shorter than 2048 bits.
        public static let weakKey = Code("weakKey")
        public static let badSignature = Code("badSignature")

        // Attestation
        public static let unsupportedAttestationFormat = Code("unsupportedAttestationFormat")
        /// An attestation statement that breaks its format's rules (syntax, certificate requirements,
        /// alg mismatch, AAGUID mismatch).
        public static let attestationInvalid = Code("attestationInvalid")
        /// A valid attestation the relying party's policy does not accept.
        public static let attestationUntrusted = Code("attestationUntrusted")

        // Credentials
        /// The response's credential ID differs from the one in the authenticator data or the stored credential.
        public static let credentialIDMismatch = Code("credentialIDMismatch")
        public static let userHandleMismatch = Code("userHandleMismatch")
        /// The signature counter did not increase and the options ask to reject possible clones.
        public static let signCountRegression = Code("signCountRegression")
    }

    public let code: Code
    /// Safe to return to the client.
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }

    public static func == (a: WebAuthnError, b: WebAuthnError) -> Bool { a.code == b.code }
    public func hash(into hasher: inout Hasher) { hasher.combine(code) }
}
