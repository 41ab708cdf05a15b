/// The one error of SigilXML: a public, extensible code (compare on it) and a detail meant for
/// logs and operators. Equality is on the code only, so tests and callers match on
/// `error.code == .doctypeForbidden` and new codes never break a `switch`.
public struct XMLSecurityError: Error, Sendable, Equatable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        private init(_ name: String) { self.name = name }
        public var description: String { name }

        // Parsing
        /// The bytes are not well-formed XML (or not namespace-well-formed).
        public static let malformed = Code("malformed")
        /// A `<!DOCTYPE`, `<!ENTITY`, or other DTD construct was present.
        public static let doctypeForbidden = Code("doctypeForbidden")
        /// A reference to an entity other than the five predefined ones, or an external entity.
        public static let entityForbidden = Code("entityForbidden")
        /// A processing instruction where the parser options refuse them.
        public static let processingInstructionForbidden = Code("processingInstructionForbidden")
        /// The input is not UTF-8 (a byte-order mark or encoding declaration for another encoding).
        public static let unsupportedEncoding = Code("unsupportedEncoding")
        /// A size, depth, attribute-count or text-length limit was exceeded.
        public static let limitExceeded = Code("limitExceeded")
        /// An element or attribute prefix that no namespace declaration binds.
        public static let undeclaredPrefix = Code("undeclaredPrefix")

        // Signatures
        /// The signature structure is not what this verifier accepts (count, placement, reference).
        public static let signatureStructure = Code("signatureStructure")
        /// An algorithm or transform outside the allow-list.
        public static let algorithmNotAllowed = Code("algorithmNotAllowed")
        /// Two elements carry the same ID value.
        public static let duplicateID = Code("duplicateID")
        /// The element to verify carries no enveloped `ds:Signature` (for example, it was stripped).
        public static let signatureMissing = Code("signatureMissing")
        /// The element to verify or sign was not found.
        public static let elementNotFound = Code("elementNotFound")
        /// The digest of the referenced element does not match `DigestValue`.
        public static let digestMismatch = Code("digestMismatch")
        /// `SignatureValue` does not verify under any configured key.
        public static let signatureInvalid = Code("signatureInvalid")
        /// A key or certificate cannot be used (wrong type, unsupported curve).
        public static let unsupportedKey = Code("unsupportedKey")

        // Encryption
        /// `EncryptedData`/`EncryptedKey` not in the shape the decryptor accepts.
        public static let encryptionStructure = Code("encryptionStructure")
        /// The key or the ciphertext does not decrypt (one code for every step: no oracle).
        public static let decryptionFailed = Code("decryptionFailed")
    }

    public let code: Code
    /// For logs only: may quote names from the input, never key material.
    public let detail: String

    public init(_ code: Code, _ detail: String) {
        self.code = code
        self.detail = detail
    }

    public var description: String { "XMLSecurityError.\(code): \(detail)" }

    public static func == (a: XMLSecurityError, b: XMLSecurityError) -> Bool { a.code == b.code }
}
