/// A problem with one input field, for the admin API's problem+json `errors` member.
public struct FieldError: Codable, Sendable, Equatable {
    public var field: String
    public var message: String
    public init(field: String, message: String) {
        self.field = field
        self.message = message
    }
}

/// Errors of the use-case layer. Store errors pass through as `StoreError`.
public struct ServiceError: Error, Sendable, Equatable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        private init(_ name: String) { self.name = name }
        public var description: String { name }

        /// Input failed validation; `fieldErrors` says where.
        public static let invalidInput = Code("invalidInput")
        /// No or bad credentials.
        public static let unauthenticated = Code("unauthenticated")
        /// Valid credentials that do not reach this resource (e.g. another tenant).
        public static let forbidden = Code("forbidden")
        /// A user's sign-in attempt (a passkey assertion) was not accepted.
        public static let signInFailed = Code("signInFailed")
    }

    public let code: Code
    /// Client-safe message.
    public let message: String
    public let fieldErrors: [FieldError]

    public init(_ code: Code, _ message: String, fieldErrors: [FieldError] = []) {
        self.code = code
        self.message = message
        self.fieldErrors = fieldErrors
    }

    public var description: String { "\(code): \(message)" }

    public static func invalid(_ fieldErrors: [FieldError]) -> ServiceError {
        ServiceError(
            .invalidInput, fieldErrors.count == 1 ? fieldErrors[0].message : "the request has \(fieldErrors.count) invalid fields",
            fieldErrors: fieldErrors)
    }
}
