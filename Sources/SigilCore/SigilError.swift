/// The general error of Sigil's own code outside the store and protocol modules: a public,
/// extensible code and a message meant for operators (never containing secrets).
public struct SigilError: Error, Sendable, CustomStringConvertible, Equatable {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        private init(_ name: String) { self.name = name }
        public var description: String { name }

        public static let invalidConfiguration = Code("invalidConfiguration")
        public static let invalidInput = Code("invalidInput")
        public static let decryptionFailed = Code("decryptionFailed")
        public static let internalFailure = Code("internalFailure")
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }

    public static func == (a: SigilError, b: SigilError) -> Bool { a.code == b.code }
}
