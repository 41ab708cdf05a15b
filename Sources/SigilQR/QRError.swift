/// The four error correction levels of ISO/IEC 18004:2015 §5.3.8 (Table 12 recovery capacity
/// about 7 %, 15 %, 25 % and 30 % of the codewords).
public enum QRErrorCorrection: Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// Level L, about 7 % of codewords can be restored.
    case low
    /// Level M, about 15 % of codewords can be restored. Sigil's default.
    case medium
    /// Level Q, about 25 % of codewords can be restored.
    case quartile
    /// Level H, about 30 % of codewords can be restored.
    case high

    /// The two error correction bits of the format information (Table 12): L 01, M 00, Q 11, H 10.
    var formatBits: Int {
        switch self {
        case .low: 0b01
        case .medium: 0b00
        case .quartile: 0b11
        case .high: 0b10
        }
    }

    /// Column of this level in the tables (L, M, Q, H order).
    var tableIndex: Int {
        switch self {
        case .low: 0
        case .medium: 1
        case .quartile: 2
        case .high: 3
        }
    }

    /// "L", "M", "Q" or "H".
    public var description: String {
        switch self {
        case .low: "L"
        case .medium: "M"
        case .quartile: "Q"
        case .high: "H"
        }
    }
}

/// Why a QR code could not be encoded.
public enum QRError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The payload does not fit the largest allowed version at the requested level.
    /// `capacity` is the largest byte count that `maximumVersion` holds at that level.
    case dataTooLong(byteCount: Int, capacity: Int, maximumVersion: Int, errorCorrection: QRErrorCorrection)
    /// A version outside 1...40, or a minimum greater than the maximum.
    case invalidVersion(Int)
    /// A mask pattern reference outside 0...7.
    case invalidMask(Int)

    public var description: String {
        switch self {
        case .dataTooLong(let byteCount, let capacity, let maximumVersion, let level):
            "QR payload of \(byteCount) bytes is too long: version \(maximumVersion)-\(level) holds at most \(capacity) bytes"
        case .invalidVersion(let version):
            "QR version \(version) is invalid (versions are 1...40, minimum ≤ maximum)"
        case .invalidMask(let mask):
            "QR mask pattern \(mask) is invalid (masks are 0...7)"
        }
    }
}
