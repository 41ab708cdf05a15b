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

    /// One component: `+` is a space, then percent-escapes must decode to UTF-8; nil otherwise
    /// (a `%` without two hex digits after it, or bytes that are not UTF-8). Byte by byte: through
    /// Foundation (`replacingOccurrences`, `removingPercentEncoding`) this was about 8 % of a code
    /// flow's CPU.
    public static func decode(_ component: Substring) -> String? {
        let utf8 = component.utf8
        // Nearly every name and many values need no decoding.
        if !utf8.contains(where: { $0 == UInt8(ascii: "%") || $0 == UInt8(ascii: "+") }) { return String(component) }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(utf8.count)
        var index = utf8.startIndex
        while index != utf8.endIndex {
            let byte = utf8[index]
            switch byte {
            case UInt8(ascii: "+"):
                bytes.append(UInt8(ascii: " "))
                index = utf8.index(after: index)
            case UInt8(ascii: "%"):
                let first = utf8.index(after: index)
                guard first != utf8.endIndex, let high = hexValue(utf8[first]) else { return nil }
                let second = utf8.index(after: first)
                guard second != utf8.endIndex, let low = hexValue(utf8[second]) else { return nil }
                bytes.append(high << 4 | low)
                index = utf8.index(after: second)
            default:
                bytes.append(byte)
                index = utf8.index(after: index)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
