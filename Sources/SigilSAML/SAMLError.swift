/// The one error of SigilSAML: a public, extensible code to compare on, a client-safe message,
/// a log-only detail, and the SAML status to send back when the requester can be trusted.
public struct SAMLError: Error, Sendable, Equatable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        private init(_ name: String) { self.name = name }
        public var description: String { name }

        /// Not base64, not DEFLATE, not XML, or XML the hardened parser refuses (DTDs, entities).
        public static let malformed = Code("malformed")
        /// The message is not the one expected (not an AuthnRequest, wrong version).
        public static let unsupported = Code("unsupported")
        /// The Issuer is not a registered service provider.
        public static let unknownIssuer = Code("unknownIssuer")
        /// The ACS URL or index is not one registered for the service provider.
        public static let unregisteredACS = Code("unregisteredACS")
        /// Destination is not this endpoint.
        public static let wrongDestination = Code("wrongDestination")
        /// IssueInstant outside the accepted window.
        public static let staleRequest = Code("staleRequest")
        /// The service provider must sign its requests and this one is not signed.
        public static let signatureRequired = Code("signatureRequired")
        /// A signature is present and does not verify (or uses a refused algorithm).
        public static let signatureInvalid = Code("signatureInvalid")
        /// This request ID was seen before.
        public static let replayed = Code("replayed")
        /// NameIDPolicy asks for a format this service provider does not get.
        public static let invalidNameIDPolicy = Code("invalidNameIDPolicy")
        /// A LogoutRequest names a principal or session index this browser session did not give
        /// that service provider.
        public static let unknownPrincipal = Code("unknownPrincipal")
        /// A LogoutResponse answers no request this IdP sent (InResponseTo), or comes from the
        /// wrong service provider.
        public static let unexpectedResponse = Code("unexpectedResponse")
        /// Upstream (Sigil as SP): the Response or Assertion Issuer is not the connection's IdP.
        public static let wrongIssuer = Code("wrongIssuer")
        /// Upstream: no AudienceRestriction names this service provider.
        public static let wrongAudience = Code("wrongAudience")
        /// Upstream: the bearer confirmation's Recipient is not this ACS.
        public static let wrongRecipient = Code("wrongRecipient")
        /// Upstream: a NotOnOrAfter (or SessionNotOnOrAfter) has passed, beyond the allowed skew.
        public static let expired = Code("expired")
        /// Upstream: a NotBefore is still ahead, beyond the allowed skew.
        public static let notYetValid = Code("notYetValid")
        /// Upstream: the identity provider answered with a status other than Success.
        public static let failedStatus = Code("failedStatus")
        /// Upstream: an encrypted assertion that the connection's key cannot decrypt.
        public static let decryptionFailed = Code("decryptionFailed")
    }

    public let code: Code
    /// Safe to show to a user or send in a StatusMessage.
    public let message: String
    /// For logs and audit only.
    public let detail: String

    public init(_ code: Code, _ message: String, detail: String = "") {
        self.code = code; self.message = message; self.detail = detail
    }

    public var description: String { "SAMLError.\(code): \(message)\(detail.isEmpty ? "" : " (\(detail))")" }
    public static func == (a: SAMLError, b: SAMLError) -> Bool { a.code == b.code }

    /// The status a trusted service provider receives for this rejection.
    public var status: SAMLStatus {
        switch code {
        case .invalidNameIDPolicy: .requester("InvalidNameIDPolicy", message)
        case .replayed, .staleRequest, .wrongDestination, .signatureRequired, .signatureInvalid: .requester("RequestDenied", message)
        case .unsupported: .requester("RequestUnsupported", message)
        case .unknownPrincipal: .requester("UnknownPrincipal", message)
        default: .requester(nil, message)
        }
    }
}
