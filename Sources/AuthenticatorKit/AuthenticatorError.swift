import SigilAuthenticatorProtocol

/// Everything AuthenticatorKit throws: an extensible code plus a message safe to show the user (it
/// never holds a secret, a number or key material). Server refusals carry the problem's status,
/// `type` and `title` (RFC 9457).
public struct AuthenticatorError: Error, Sendable, Equatable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let name: String
        private init(_ name: String) { self.name = name }
        public var description: String { name }

        /// The text is not a Sigil code (or the wrong kind of code for the operation).
        public static let invalidCode = Code("invalidCode")
        /// No enrolment matches the code's issuer (or the named device); nothing was sent.
        public static let notEnrolled = Code("notEnrolled")
        /// The user declined the local check.
        public static let cancelled = Code("cancelled")
        /// The server still refused the request's timestamp after the offset was learned.
        public static let clockSkew = Code("clockSkew")
        /// The server answered with an error (see `status`, `problemType`, `title`).
        public static let server = Code("server")
        /// The request did not reach the server, or its answer could not be read.
        public static let transport = Code("transport")
        /// A typed number is not two decimal digits.
        public static let invalidNumber = Code("invalidNumber")
        /// The caller's input does not fit the operation (e.g. frames for a different challenge).
        public static let invalidInput = Code("invalidInput")
        /// The key store failed to create, use or delete a key.
        public static let keyStore = Code("keyStore")
    }

    public let code: Code
    public let message: String
    /// For `.server`: the HTTP status.
    public let status: Int?
    /// For `.server`: the problem `type`, e.g. `urn:sigil:problem:wrong-number`.
    public let problemType: String?
    /// For `.server`: the problem `title`.
    public let title: String?
    /// For `.notEnrolled`: the issuer that matched no enrolment.
    public let issuer: String?

    public init(
        _ code: Code, _ message: String, status: Int? = nil, problemType: String? = nil, title: String? = nil,
        issuer: String? = nil
    ) {
        self.code = code
        self.message = message
        self.status = status
        self.problemType = problemType
        self.title = title
        self.issuer = issuer
    }

    public static var invalidCode: Self { Self(.invalidCode, "this is not a Sigil code") }
    public static var cancelled: Self { Self(.cancelled, "cancelled; nothing was sent") }
    public static func notEnrolled(_ issuer: String) -> Self {
        Self(.notEnrolled, "this device is not enrolled with \(issuer)", issuer: issuer)
    }
    public static func server(status: Int, type: String, title: String) -> Self {
        Self(.server, "\(title) (\(Self.shortName(type)))", status: status, problemType: type, title: title)
    }
    public static func transport(_ message: String) -> Self { Self(.transport, message) }
    public static func clockSkew(_ message: String) -> Self { Self(.clockSkew, message) }

    /// NAME of `urn:sigil:problem:NAME` for `.server` errors, else nil.
    public var problemName: String? { problemType.map(Self.shortName) }

    static func shortName(_ type: String) -> String {
        let prefix = "urn:sigil:problem:"
        return type.hasPrefix(prefix) ? String(type.dropFirst(prefix.count)) : type
    }

    public var description: String { "\(code): \(message)" }

    public static func == (a: Self, b: Self) -> Bool {
        a.code == b.code && a.status == b.status && a.problemType == b.problemType
    }
}
