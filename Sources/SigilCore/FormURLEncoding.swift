import Foundation

/// The one `application/x-www-form-urlencoded` parser (WHATWG URL §5.1), pure so that it can be
/// fuzzed (docs/fuzzing.md); SigilHTTP's `URLEncodedForm` reads request bodies into it. Strict: a
/// name sent twice, or a percent-escape that is malformed or not UTF-8, is refused, never guessed
/// at — a SAMLRequest, CSRF token or redirect_uri must mean one thing (RFC 6749 §3.1 for OAuth).
public enum FormURLEncoding {
    public struct Invalid: Error, Equatable, CustomStringConvertible, Sendable {
        public enum Reason: Equatable, Sendable {
            case tooLarge(limit: Int)
            /// The name (at most 40 characters of it).
            case repeated(String)
            case malformedEncoding
        }

        public let reason: Reason

        public init(reason: Reason) { self.reason = reason }

        /// For the client: says what is wrong without echoing more than a name's first 40 characters.
        public var description: String {
            switch reason {
            case .tooLarge: "the request body is too large"
            case .repeated(let name): "parameter \(name) is repeated"
            case .malformedEncoding: "malformed percent-encoding"
            }
        }
    }

    /// Parses a query string or form body. Empty pairs (`a=1&&b=2`) are skipped; a pair without `=`
    /// is a name with an empty value. Values are kept as sent, empty ones too.
    public static func parse(_ text: Substring) throws(Invalid) -> [String: String] {
        var result: [String: String] = [:]
        for pair in text.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = decode(parts[0]), let value = parts.count > 1 ? decode(parts[1]) : "" else {
                throw Invalid(reason: .malformedEncoding)
            }
            guard result[name] == nil else { throw Invalid(reason: .repeated(String(name.prefix(40)))) }
            result[name] = value
        }
        return result
    }

    /// One component: `+` is a space, then percent-escapes must decode to UTF-8; nil otherwise.
    public static func decode(_ component: Substring) -> String? {
        String(component).replacingOccurrences(of: "+", with: " ").removingPercentEncoding
    }
}
