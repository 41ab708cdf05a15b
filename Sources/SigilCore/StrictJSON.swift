/// I-JSON (RFC 7493) checks that Foundation's parsers do not make: every JSON text Sigil accepts
/// from outside goes through `StrictJSON.check` before it is decoded.
///
/// - Object member names are unique in each object, compared after unescaping (`"a"` and
///   `"\u0061"` are the same name) (RFC 7493 §2.3). Foundation keeps the first of two equal names
///   and `JSONDecoder` the last, so a duplicate can mean one thing to a check and another to its
///   use (`{"email":"a@x","email":"b@x"}`, a JWS header with two `alg`).
/// - Strings are UTF-8 and escapes never leave an unpaired surrogate (§2.1).
/// - Nesting is at most `maximumDepth` deep, so hostile input cannot exhaust the stack.
/// - Otherwise RFC 8259 grammar: one value, whitespace around it, nothing after.
public enum StrictJSON {
    public static let maximumDepth = 64

    public struct Violation: Error, Sendable, Equatable, CustomStringConvertible {
        public let message: String
        /// Byte offset where the problem was found.
        public let offset: Int
        public var description: String { "\(message) (at byte \(offset))" }
    }

    /// Throws a `Violation` naming the first problem; returns normally for I-JSON.
    public static func check(_ bytes: some Collection<UInt8>) throws(Violation) {
        var scanner = Scanner(bytes: Array(bytes))
        scanner.skipWhitespace()
        try scanner.value(depth: 0)
        scanner.skipWhitespace()
        guard scanner.index == scanner.bytes.count else { throw scanner.fail("unexpected data after the JSON value") }
    }

    public static func isValid(_ bytes: some Collection<UInt8>) -> Bool {
        do { try check(bytes); return true } catch { return false }
    }

    struct Scanner {
        let bytes: [UInt8]
        var index = 0

        init(bytes: [UInt8]) { self.bytes = bytes }

        func fail(_ message: String) -> Violation { Violation(message: message, offset: index) }

        var current: UInt8? { index < bytes.count ? bytes[index] : nil }

        mutating func skipWhitespace() {
            while let b = current, b == 0x20 || b == 0x09 || b == 0x0A || b == 0x0D { index += 1 }
        }

        mutating func value(depth: Int) throws(Violation) {
            guard let b = current else { throw fail("a value is missing") }
            switch b {
            case UInt8(ascii: "{"): try object(depth: depth + 1)
            case UInt8(ascii: "["): try array(depth: depth + 1)
            case UInt8(ascii: "\""): _ = try string()
            case UInt8(ascii: "t"): try literal("true")
            case UInt8(ascii: "f"): try literal("false")
            case UInt8(ascii: "n"): try literal("null")
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): try number()
            default: throw fail("unexpected character")
            }
        }

        mutating func literal(_ word: StaticString) throws(Violation) {
            let expected = word.withUTF8Buffer { Array($0) }
            guard index + expected.count <= bytes.count, Array(bytes[index..<index + expected.count]) == expected else {
                throw fail("invalid literal")
            }
            index += expected.count
        }

        mutating func number() throws(Violation) {
            func digits() -> Int {
                let start = index
                while let b = current, b >= UInt8(ascii: "0"), b <= UInt8(ascii: "9") { index += 1 }
                return index - start
            }
            if current == UInt8(ascii: "-") { index += 1 }
            if current == UInt8(ascii: "0") {
                index += 1
            } else if digits() == 0 {
                throw fail("invalid number")
            }
            if current == UInt8(ascii: ".") {
                index += 1
                guard digits() > 0 else { throw fail("invalid number") }
            }
            if current == UInt8(ascii: "e") || current == UInt8(ascii: "E") {
                index += 1
                if current == UInt8(ascii: "+") || current == UInt8(ascii: "-") { index += 1 }
                guard digits() > 0 else { throw fail("invalid number") }
            }
        }

        mutating func array(depth: Int) throws(Violation) {
            guard depth <= StrictJSON.maximumDepth else { throw fail("nested too deeply") }
            index += 1
            skipWhitespace()
            if current == UInt8(ascii: "]") { index += 1; return }
            while true {
                skipWhitespace()
                try value(depth: depth)
                skipWhitespace()
                switch current {
                case UInt8(ascii: ","): index += 1
                case UInt8(ascii: "]"): index += 1; return
                default: throw fail("expected , or ] in an array")
                }
            }
        }

        mutating func object(depth: Int) throws(Violation) {
            guard depth <= StrictJSON.maximumDepth else { throw fail("nested too deeply") }
            index += 1
            skipWhitespace()
            if current == UInt8(ascii: "}") { index += 1; return }
            var names = Set<[UInt8]>()
            while true {
                skipWhitespace()
                guard current == UInt8(ascii: "\"") else { throw fail("expected a member name") }
                let start = index
                let name = try string()
                guard names.insert(name).inserted else {
                    index = start
                    throw fail("duplicate member name \"\(String(decoding: name.prefix(40), as: UTF8.self))\"")
                }
                skipWhitespace()
                guard current == UInt8(ascii: ":") else { throw fail("expected : after a member name") }
                index += 1
                skipWhitespace()
                try value(depth: depth)
                skipWhitespace()
                switch current {
                case UInt8(ascii: ","): index += 1
                case UInt8(ascii: "}"): index += 1; return
                default: throw fail("expected , or } in an object")
                }
            }
        }

        /// Reads a string and returns its unescaped UTF-8 bytes.
        mutating func string() throws(Violation) -> [UInt8] {
            index += 1
            var out: [UInt8] = []
            while true {
                guard let b = current else { throw fail("unterminated string") }
                switch b {
                case UInt8(ascii: "\""):
                    index += 1
                    return out
                case UInt8(ascii: "\\"):
                    index += 1
                    guard let e = current else { throw fail("unterminated string") }
                    index += 1
                    switch e {
                    case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
                    case UInt8(ascii: "b"): out.append(0x08)
                    case UInt8(ascii: "f"): out.append(0x0C)
                    case UInt8(ascii: "n"): out.append(0x0A)
                    case UInt8(ascii: "r"): out.append(0x0D)
                    case UInt8(ascii: "t"): out.append(0x09)
                    case UInt8(ascii: "u"):
                        var scalar = try hex4()
                        if (0xD800...0xDBFF).contains(scalar) {
                            guard current == UInt8(ascii: "\\"), index + 1 < bytes.count, bytes[index + 1] == UInt8(ascii: "u") else {
                                throw fail("unpaired surrogate escape")
                            }
                            index += 2
                            let low = try hex4()
                            guard (0xDC00...0xDFFF).contains(low) else { throw fail("unpaired surrogate escape") }
                            scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                        } else if (0xDC00...0xDFFF).contains(scalar) {
                            throw fail("unpaired surrogate escape")
                        }
                        out.append(contentsOf: Array(String(Character(Unicode.Scalar(scalar)!)).utf8))
                    default:
                        throw fail("invalid escape")
                    }
                case 0x00..<0x20:
                    throw fail("control character in a string")
                case 0x80...:
                    let length = try utf8Sequence()
                    out.append(contentsOf: bytes[index..<index + length])
                    index += length
                default:
                    out.append(b)
                    index += 1
                }
            }
        }

        mutating func hex4() throws(Violation) -> UInt32 {
            guard index + 4 <= bytes.count else { throw fail("truncated \\u escape") }
            var value: UInt32 = 0
            for b in bytes[index..<index + 4] {
                let digit: UInt8
                switch b {
                case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = b - UInt8(ascii: "0")
                case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = b - UInt8(ascii: "a") + 10
                case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = b - UInt8(ascii: "A") + 10
                default: throw fail("invalid \\u escape")
                }
                value = value << 4 | UInt32(digit)
            }
            index += 4
            return value
        }

        /// The length of the well-formed UTF-8 sequence at `index` (RFC 3629 §4), or a violation.
        func utf8Sequence() throws(Violation) -> Int {
            let b0 = bytes[index]
            let length: Int
            var low: UInt8 = 0x80, high: UInt8 = 0xBF
            switch b0 {
            case 0xC2...0xDF: length = 2
            case 0xE0: length = 3; low = 0xA0
            case 0xE1...0xEC, 0xEE...0xEF: length = 3
            case 0xED: length = 3; high = 0x9F
            case 0xF0: length = 4; low = 0x90
            case 0xF1...0xF3: length = 4
            case 0xF4: length = 4; high = 0x8F
            default: throw fail("invalid UTF-8")
            }
            guard index + length <= bytes.count else { throw fail("invalid UTF-8") }
            for i in 1..<length {
                let b = bytes[index + i]
                let (lo, hi) = i == 1 ? (low, high) : (UInt8(0x80), UInt8(0xBF))
                guard b >= lo, b <= hi else { throw fail("invalid UTF-8") }
            }
            return length
        }
    }
}
