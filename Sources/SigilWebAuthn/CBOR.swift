/// A decoded CBOR data item (RFC 8949), restricted to what WebAuthn uses: major types 0–5 and the
/// simple values `false`, `true` and `null`. Tags, floats, `undefined` and other simple values are
/// rejected by the decoder.
public enum CBORValue: Sendable, Hashable {
    case unsigned(UInt64)
    /// A negative integer; the value is `-1 - n`.
    case negative(UInt64)
    case bytes([UInt8])
    case text(String)
    case array([CBORValue])
    case map(CBORMap)
    case bool(Bool)
    case null

    /// The value as an `Int`, when it is an integer that fits.
    public var intValue: Int? {
        switch self {
        case .unsigned(let n): return n <= UInt64(Int.max) ? Int(n) : nil
        case .negative(let n): return n <= UInt64(Int.max) ? -1 - Int(n) : nil
        default: return nil
        }
    }

    public var bytesValue: [UInt8]? {
        if case .bytes(let b) = self { return b }
        return nil
    }

    public var textValue: String? {
        if case .text(let s) = self { return s }
        return nil
    }

    public var arrayValue: [CBORValue]? {
        if case .array(let a) = self { return a }
        return nil
    }

    public var mapValue: CBORMap? {
        if case .map(let m) = self { return m }
        return nil
    }
}

/// A CBOR map in the order its entries were encoded. Keys are integers or text strings and are
/// unique (the decoder enforces both).
public struct CBORMap: Sendable, Hashable {
    public struct Entry: Sendable, Hashable {
        public let key: CBORValue
        public let value: CBORValue

        public init(key: CBORValue, value: CBORValue) {
            self.key = key
            self.value = value
        }
    }

    public let entries: [Entry]

    public init(_ entries: [Entry]) { self.entries = entries }

    public var count: Int { entries.count }
    public var isEmpty: Bool { entries.isEmpty }

    public subscript(key: CBORValue) -> CBORValue? {
        entries.first(where: { $0.key == key })?.value
    }

    /// The value under an integer key (COSE labels).
    public subscript(int key: Int) -> CBORValue? {
        self[key >= 0 ? .unsigned(UInt64(key)) : .negative(UInt64(-1 - key))]
    }

    /// The value under a text key.
    public subscript(text key: String) -> CBORValue? {
        self[.text(key)]
    }
}

/// A strict CBOR decoder for WebAuthn.
///
/// The profile, which is stricter than RFC 8949's well-formedness and close to the CTAP2 canonical
/// form WebAuthn requires of authenticators:
/// - major types 0–5 and 7 (`false`, `true`, `null` only); tags, floats, `undefined`, other simple
///   values and `break` are rejected;
/// - definite lengths only (indefinite-length items are rejected);
/// - integers, lengths and counts in their shortest form (an overlong head such as `0x18 0x05` for 5
///   is rejected everywhere, as the CTAP2 canonical form and RFC 8949 §4.2.1 require);
/// - text strings must be valid UTF-8;
/// - map keys must be integers or text strings and unique;
/// - nesting at most `maximumDepth` levels (a top-level scalar is level 1);
/// - lengths and counts must fit in the remaining input;
/// - `decode` rejects trailing bytes; `decodePrefix` reports where the item ended.
///
/// Map key *order* is not checked: nothing in WebAuthn re-encodes or hashes decoded CBOR (signatures
/// cover the raw authenticator data bytes), so ordering carries no security meaning, and rejecting
/// it would only turn away authenticators and clients with sloppy encoders.
public enum CBOR {
    public static let maximumDepth = 16

    /// Decodes exactly one data item that spans all of `bytes`.
    public static func decode(_ bytes: [UInt8]) throws(WebAuthnError) -> CBORValue {
        let (value, range) = try decodePrefix(bytes, from: 0)
        guard range.upperBound == bytes.count else {
            throw WebAuthnError(.malformedCBOR, "CBOR data has \(bytes.count - range.upperBound) trailing bytes")
        }
        return value
    }

    /// Decodes the one data item that starts at `start`, returning it and the exact byte range it
    /// occupies (the bytes after it are left alone).
    public static func decodePrefix(_ bytes: [UInt8], from start: Int = 0) throws(WebAuthnError) -> (value: CBORValue, range: Range<Int>) {
        guard start >= 0, start <= bytes.count else {
            throw WebAuthnError(.malformedCBOR, "CBOR data starts beyond the input")
        }
        var reader = Reader(bytes: bytes, position: start)
        let value = try reader.readItem(depth: 1)
        return (value, start..<reader.position)
    }

    struct Reader {
        let bytes: [UInt8]
        var position: Int

        var remaining: Int { bytes.count - position }

        mutating func readByte() throws(WebAuthnError) -> UInt8 {
            guard position < bytes.count else { throw WebAuthnError(.malformedCBOR, "CBOR data ends early") }
            defer { position += 1 }
            return bytes[position]
        }

        mutating func readBytes(_ count: Int) throws(WebAuthnError) -> [UInt8] {
            guard count >= 0, count <= remaining else {
                throw WebAuthnError(.malformedCBOR, "CBOR length exceeds the input")
            }
            defer { position += count }
            return Array(bytes[position..<position + count])
        }

        /// Reads the argument of a head whose additional information is `info`, rejecting
        /// indefinite lengths, reserved values and overlong encodings.
        mutating func readArgument(_ info: UInt8) throws(WebAuthnError) -> UInt64 {
            switch info {
            case 0..<24:
                return UInt64(info)
            case 24, 25, 26, 27:
                let size = 1 << Int(info - 24) // 1, 2, 4 or 8 bytes
                let raw = try readBytes(size)
                let value = raw.reduce(UInt64(0)) { ($0 << 8) | UInt64($1) }
                let minimum: UInt64 =
                    switch size {
                    case 1: 24
                    case 2: 0x100
                    case 4: 0x1_0000
                    default: 0x1_0000_0000
                    }
                guard value >= minimum else {
                    throw WebAuthnError(.malformedCBOR, "CBOR integer or length is not in its shortest form")
                }
                return value
            case 31:
                throw WebAuthnError(.malformedCBOR, "indefinite-length CBOR items are not accepted")
            default:
                throw WebAuthnError(.malformedCBOR, "CBOR head uses reserved additional information")
            }
        }

        /// Converts a length or count to `Int` after checking that at least `count * unit` bytes remain.
        func checkedCount(_ count: UInt64, unit: Int) throws(WebAuthnError) -> Int {
            guard count <= UInt64(remaining / unit) else {
                throw WebAuthnError(.malformedCBOR, "CBOR length exceeds the input")
            }
            return Int(count)
        }

        mutating func readItem(depth: Int) throws(WebAuthnError) -> CBORValue {
            guard depth <= CBOR.maximumDepth else {
                throw WebAuthnError(.malformedCBOR, "CBOR nesting is deeper than \(CBOR.maximumDepth)")
            }
            let initial = try readByte()
            let major = initial >> 5
            let info = initial & 0x1F
            switch major {
            case 0:
                return .unsigned(try readArgument(info))
            case 1:
                return .negative(try readArgument(info))
            case 2:
                let length = try checkedCount(try readArgument(info), unit: 1)
                return .bytes(try readBytes(length))
            case 3:
                let length = try checkedCount(try readArgument(info), unit: 1)
                let raw = try readBytes(length)
                guard let text = String(validating: raw, as: UTF8.self) else {
                    throw WebAuthnError(.malformedCBOR, "CBOR text string is not valid UTF-8")
                }
                return .text(text)
            case 4:
                let count = try checkedCount(try readArgument(info), unit: 1)
                var items: [CBORValue] = []
                items.reserveCapacity(count)
                for _ in 0..<count { items.append(try readItem(depth: depth + 1)) }
                return .array(items)
            case 5:
                let count = try checkedCount(try readArgument(info), unit: 2)
                var entries: [CBORMap.Entry] = []
                entries.reserveCapacity(count)
                var seen = Set<CBORValue>()
                for _ in 0..<count {
                    let key = try readItem(depth: depth + 1)
                    switch key {
                    case .unsigned, .negative, .text: break
                    default: throw WebAuthnError(.malformedCBOR, "CBOR map keys must be integers or text strings")
                    }
                    guard seen.insert(key).inserted else {
                        throw WebAuthnError(.malformedCBOR, "CBOR map has a duplicate key")
                    }
                    let value = try readItem(depth: depth + 1)
                    entries.append(CBORMap.Entry(key: key, value: value))
                }
                return .map(CBORMap(entries))
            case 6:
                throw WebAuthnError(.malformedCBOR, "CBOR tags are not accepted")
            default: // 7
                switch info {
                case 20: return .bool(false)
                case 21: return .bool(true)
                case 22: return .null
                case 25, 26, 27: throw WebAuthnError(.malformedCBOR, "CBOR floating-point values are not accepted")
                case 31: throw WebAuthnError(.malformedCBOR, "unexpected CBOR break")
                default: throw WebAuthnError(.malformedCBOR, "CBOR simple value is not accepted")
                }
            }
        }
    }
}
