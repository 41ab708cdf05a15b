// Reading a QR code back: from a luminance image (QRDetector.swift locates and samples the
// symbol) to the module grid, and from the module grid to the payload (this file): format and
// version information, unmasking, codeword extraction, de-interleaving, Reed–Solomon
// correction and segment parsing (ISO/IEC 18004:2015 §7 and §12).

/// Why a QR code could not be decoded.
public enum QRDecodingError: Error, Sendable, Hashable, CustomStringConvertible {
    /// No QR symbol was found: no three finder patterns in a usable arrangement, or none of
    /// the candidate symbols had readable format information.
    case notFound
    /// A symbol was found but uses something this decoder does not implement (e.g. a Hanzi
    /// segment, Micro QR).
    case unsupported(String)
    /// A symbol was found but has more errors than its Reed–Solomon codewords can correct.
    case uncorrectable
    /// The error-corrected data is not a valid bit stream (unknown mode, overrunning segment).
    case invalidData(String)

    public var description: String {
        switch self {
        case .notFound: "no QR code found in the image"
        case .unsupported(let reason): "unsupported QR code: \(reason)"
        case .uncorrectable: "the QR code is too damaged to decode (more errors than its error correction can fix)"
        case .invalidData(let reason): "invalid QR code data: \(reason)"
        }
    }

    /// Orders errors by how far decoding got, to report the most informative one.
    var progress: Int {
        switch self {
        case .notFound: 0
        case .invalidData: 1
        case .uncorrectable: 2
        case .unsupported: 3
        }
    }
}

/// A decoded QR symbol.
public struct QRDecodeResult: Sendable, Hashable {
    /// The payload: the concatenated segments (byte segments verbatim, numeric and
    /// alphanumeric as ASCII, Kanji as Shift JIS byte pairs).
    public let bytes: [UInt8]
    public let version: Int
    public let errorCorrection: QRErrorCorrection
    public let mask: Int
    /// The codewords changed by Reed–Solomon correction, over all blocks.
    public let correctedCodewords: Int
    /// The first ECI assignment number in the data, if any (26 = UTF-8, 3 = ISO-8859-1).
    public let eci: Int?

    /// The payload as text: UTF-8 if it is valid UTF-8 (the usual case, and ECI 26),
    /// otherwise ISO-8859-1 (the standard's default interpretation of byte mode).
    public var text: String {
        if let utf8 = String(validating: bytes, as: UTF8.self) { return utf8 }
        return String(String.UnicodeScalarView(bytes.map { Unicode.Scalar($0) }))
    }
}

/// Reads QR codes (Model 2, versions 1–40) from images.
///
/// ```swift
/// let image = try PNGImage.decode(pngBytes)
/// let payload: [UInt8] = try QRDecoder.decode(image: image)
/// let text: String = try QRDecoder.decodeString(image: image)
/// ```
///
/// The image may be a screenshot with other content around the code, at any scale of about
/// two or more pixels per module, with a small rotation; see docs/qr.md for the method.
public enum QRDecoder {
    /// The payload of the QR code in `image`.
    public static func decode(image: PNGImage) throws(QRDecodingError) -> [UInt8] {
        try decodeDetailed(image: image).bytes
    }

    /// The payload of the QR code in `image` as text (see `QRDecodeResult.text`).
    public static func decodeString(image: PNGImage) throws(QRDecodingError) -> String {
        try decodeDetailed(image: image).text
    }

    /// The payload with the symbol's version, level, mask and the number of corrected codewords.
    public static func decodeDetailed(image: PNGImage) throws(QRDecodingError) -> QRDecodeResult {
        try QRDetector.decode(image)
    }

    // MARK: Module grid → payload

    /// Decodes a sampled module grid (`modules[y * size + x]`, `true` = dark) whose size is
    /// 17 + 4V. The version comes from the size; the version information blocks are checked by
    /// the detector before it gets here.
    static func decode(modules: [Bool], size: Int) throws(QRDecodingError) -> QRDecodeResult {
        guard size >= 21, size <= 177, (size - 17) % 4 == 0, modules.count == size * size else {
            throw .notFound
        }
        let version = (size - 17) / 4
        let formats = readFormatCandidates(modules: modules, size: size)
        guard !formats.isEmpty else { throw .notFound }
        var best: QRDecodingError = .notFound
        for format in formats {
            do {
                return try decode(modules: modules, size: size, version: version, level: format.level, mask: format.mask)
            } catch {
                if error.progress > best.progress { best = error }
            }
        }
        throw best
    }

    static func decode(modules: [Bool], size: Int, version: Int, level: QRErrorCorrection, mask: Int) throws(QRDecodingError) -> QRDecodeResult {
        let codewords = readCodewords(modules: modules, size: size, version: version, mask: mask)
        let structure = QRTables.blockStructure(version: version, level: level)
        let layout = blockLayout(version: version, level: level)
        var data: [UInt8] = []
        data.reserveCapacity(structure.dataCodewords)
        var corrected = 0
        let maxErrors = (structure.ecCodewordsPerBlock - misdecodeProtection(version: version, level: level)) / 2
        for (blockIndex, indexes) in layout.enumerated() {
            var block = indexes.map { codewords[$0] }
            guard let fixed = ReedSolomonDecoder.correct(&block, ecCount: structure.ecCodewordsPerBlock, maxErrors: maxErrors) else {
                throw .uncorrectable
            }
            corrected += fixed
            let dataCount = blockIndex < structure.group1Blocks ? structure.group1DataCodewords : structure.group2DataCodewords
            data.append(contentsOf: block[0..<dataCount])
        }
        let (bytes, eci) = try parseSegments(data, version: version)
        return QRDecodeResult(bytes: bytes, version: version, errorCorrection: level, mask: mask, correctedCodewords: corrected, eci: eci)
    }

    // MARK: Format and version information

    struct FormatInformation: Sendable, Hashable {
        var level: QRErrorCorrection
        var mask: Int
        var distance: Int
    }

    /// The 15 format bits of each copy as read from the grid (bit 14 first in significance).
    static func readFormatBits(modules: [Bool], size: Int) -> (Int, Int) {
        func m(_ x: Int, _ y: Int) -> Int { modules[y * size + x] ? 1 : 0 }
        var first = 0, second = 0
        for i in 0...5 { first |= m(8, i) << i }
        first |= m(8, 7) << 6
        first |= m(8, 8) << 7
        first |= m(7, 8) << 8
        for i in 9..<15 { first |= m(14 - i, 8) << i }
        for i in 0..<8 { second |= m(size - 1 - i, 8) << i }
        for i in 8..<15 { second |= m(8, size - 15 + i) << i }
        return (first, second)
    }

    /// The format information codewords within Hamming distance 3 of either copy, nearest
    /// first (BCH(15,5) has minimum distance 7, so at most one is within 3 of a given copy).
    static func readFormatCandidates(modules: [Bool], size: Int) -> [FormatInformation] {
        let (first, second) = readFormatBits(modules: modules, size: size)
        var found: [FormatInformation] = []
        for level in QRErrorCorrection.allCases {
            for mask in 0..<8 {
                let word = QRMatrixBuilder.formatInformation(level: level, mask: mask)
                let distance = min((word ^ first).nonzeroBitCount, (word ^ second).nonzeroBitCount)
                if distance <= 3 { found.append(FormatInformation(level: level, mask: mask, distance: distance)) }
            }
        }
        return found.sorted { $0.distance < $1.distance }
    }

    /// The version (7...40) from the version information blocks of a grid of `size`, if either
    /// block is within Hamming distance 3 of a valid BCH(18,6) word (minimum distance 8).
    static func readVersion(modules: [Bool], size: Int) -> Int? {
        guard size >= 45 else { return nil }
        func m(_ x: Int, _ y: Int) -> Int { modules[y * size + x] ? 1 : 0 }
        var upperRight = 0, lowerLeft = 0
        for i in 0..<18 {
            let a = size - 11 + i % 3, b = i / 3
            upperRight |= m(a, b) << i
            lowerLeft |= m(b, a) << i
        }
        var best: (version: Int, distance: Int)?
        for version in 7...40 {
            let word = QRMatrixBuilder.versionInformation(version: version)
            let distance = min((word ^ upperRight).nonzeroBitCount, (word ^ lowerLeft).nonzeroBitCount)
            if distance <= 3, distance < best?.distance ?? Int.max { best = (version, distance) }
        }
        return best?.version
    }

    // MARK: Codewords

    /// Function-pattern maps by version, built once on first use.
    static let functionMaps: [[Bool]] = (1...40).map { QRMatrixBuilder(version: $0).isFunction }

    /// The data-region module positions (x, y) in placement order (§7.7.3), the inverse of
    /// `QRMatrixBuilder.placeCodewords`: bit k of the interleaved stream sits at entry k.
    static func placementOrder(version: Int) -> [(x: Int, y: Int)] {
        let size = QRTables.size(version: version)
        let isFunction = functionMaps[version - 1]
        var order: [(x: Int, y: Int)] = []
        order.reserveCapacity(size * size)
        var right = size - 1
        while right >= 1 {
            if right == 6 { right = 5 }
            let upward = ((right + 1) & 2) == 0
            for step in 0..<size {
                let y = upward ? size - 1 - step : step
                for dx in 0..<2 where !isFunction[y * size + right - dx] {
                    order.append((right - dx, y))
                }
            }
            right -= 2
        }
        return order
    }

    /// Reads and unmasks the interleaved codewords (remainder bits dropped).
    static func readCodewords(modules: [Bool], size: Int, version: Int, mask: Int) -> [UInt8] {
        let total = QRTables.blockStructure(version: version, level: .low).totalCodewords
        let order = placementOrder(version: version)
        var codewords = [UInt8](repeating: 0, count: total)
        for k in 0..<(total * 8) {
            let (x, y) = order[k]
            let dark = modules[y * size + x] != QRMatrixBuilder.maskCondition(mask, i: y, j: x)
            if dark { codewords[k >> 3] |= 0x80 >> UInt8(k & 7) }
        }
        return codewords
    }

    /// For each block (group 1 first), the indexes in the interleaved codeword stream of its
    /// data codewords followed by its error correction codewords (§7.6, reversed).
    static func blockLayout(version: Int, level: QRErrorCorrection) -> [[Int]] {
        let s = QRTables.blockStructure(version: version, level: level)
        let counts = (0..<s.blockCount).map { $0 < s.group1Blocks ? s.group1DataCodewords : s.group2DataCodewords }
        var blocks = counts.map { count -> [Int] in
            var block: [Int] = []
            block.reserveCapacity(count + s.ecCodewordsPerBlock)
            return block
        }
        var index = 0
        for i in 0..<(counts.max() ?? 0) {
            for b in 0..<s.blockCount where i < counts[b] {
                blocks[b].append(index)
                index += 1
            }
        }
        for _ in 0..<s.ecCodewordsPerBlock {
            for b in 0..<s.blockCount {
                blocks[b].append(index)
                index += 1
            }
        }
        return blocks
    }

    /// Misdecode-protection codewords p of Table 9 (footnote b): error correction codewords
    /// reserved for detection, so a block corrects ⌊(ecCodewords − p) / 2⌋ errors.
    static func misdecodeProtection(version: Int, level: QRErrorCorrection) -> Int {
        switch (version, level) {
        case (1, .low): 3
        case (1, .medium): 2
        case (1, .quartile), (1, .high): 1
        case (2, .low): 2
        case (3, .low): 1
        default: 0
        }
    }

    /// The number of codewords each block can correct (the level's nominal capacity).
    static func correctableCodewordsPerBlock(version: Int, level: QRErrorCorrection) -> Int {
        (QRTables.blockStructure(version: version, level: level).ecCodewordsPerBlock - misdecodeProtection(version: version, level: level)) / 2
    }

    // MARK: Segments (§7.4)

    private static let alphanumericTable: [UInt8] = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:".utf8)

    /// Character count indicator widths (Table 3) for numeric, alphanumeric, byte, Kanji.
    static func countBits(mode: Int, version: Int) -> Int {
        let column = version <= 9 ? 0 : (version <= 26 ? 1 : 2)
        switch mode {
        case 0b0001: return [10, 12, 14][column]
        case 0b0010: return [9, 11, 13][column]
        case 0b0100: return [8, 16, 16][column]
        default: return [8, 10, 12][column] // 0b1000 Kanji
        }
    }

    static func parseSegments(_ data: [UInt8], version: Int) throws(QRDecodingError) -> (bytes: [UInt8], eci: Int?) {
        var reader = QRBitReader(data)
        var out: [UInt8] = []
        var eci: Int?
        func read(_ count: Int) throws(QRDecodingError) -> Int {
            guard let value = reader.read(count) else { throw .invalidData("segment runs past the end of the data") }
            return value
        }
        segments: while reader.remaining >= 4 {
            let mode = try read(4)
            switch mode {
            case 0b0000:
                break segments
            case 0b0001: // numeric: 3 digits in 10 bits, 2 in 7, 1 in 4
                var count = try read(countBits(mode: mode, version: version))
                while count > 0 {
                    let digits = min(3, count)
                    let value = try read([4, 7, 10][digits - 1])
                    guard value < [10, 100, 1000][digits - 1] else { throw .invalidData("numeric group \(value)") }
                    var text = String(value)
                    while text.count < digits { text = "0" + text }
                    out.append(contentsOf: text.utf8)
                    count -= digits
                }
            case 0b0010: // alphanumeric: 2 characters in 11 bits, 1 in 6
                var count = try read(countBits(mode: mode, version: version))
                while count > 0 {
                    if count >= 2 {
                        let value = try read(11)
                        guard value < 45 * 45 else { throw .invalidData("alphanumeric pair \(value)") }
                        out.append(alphanumericTable[value / 45])
                        out.append(alphanumericTable[value % 45])
                        count -= 2
                    } else {
                        let value = try read(6)
                        guard value < 45 else { throw .invalidData("alphanumeric character \(value)") }
                        out.append(alphanumericTable[value])
                        count -= 1
                    }
                }
            case 0b0100: // byte
                let count = try read(countBits(mode: mode, version: version))
                guard reader.remaining >= count * 8 else { throw .invalidData("byte segment of \(count) bytes overruns the data") }
                for _ in 0..<count { out.append(UInt8(try read(8))) }
            case 0b1000: // Kanji: 13 bits per character → Shift JIS (§7.4.6, reversed)
                let count = try read(countBits(mode: mode, version: version))
                for _ in 0..<count {
                    let value = try read(13)
                    var assembled = (value / 0xC0) << 8 | (value % 0xC0)
                    assembled += assembled < 0x1F00 ? 0x8140 : 0xC140
                    out.append(UInt8(assembled >> 8))
                    out.append(UInt8(assembled & 0xFF))
                }
            case 0b0111: // ECI designator: 1, 2 or 3 bytes (§7.4.2.2)
                let first = try read(8)
                let value: Int
                if first & 0x80 == 0 {
                    value = first
                } else if first & 0xC0 == 0x80 {
                    value = (first & 0x3F) << 8 | (try read(8))
                } else if first & 0xE0 == 0xC0 {
                    value = (first & 0x1F) << 16 | (try read(16))
                } else {
                    throw .invalidData("ECI designator")
                }
                if eci == nil { eci = value }
            case 0b0011: // structured append header: position, total, parity; the data follows
                _ = try read(16)
            case 0b0101: // FNC1 in first position: GS1 data follows in the other modes
                break
            case 0b1001: // FNC1 in second position: application indicator
                _ = try read(8)
            case 0b1101:
                throw .unsupported("Hanzi (GB 2312) segments")
            default:
                throw .invalidData("mode indicator \(String(mode, radix: 2))")
            }
        }
        return (out, eci)
    }
}

/// Most-significant-bit-first reader over codewords.
struct QRBitReader: Sendable {
    let bytes: [UInt8]
    var position = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var remaining: Int { bytes.count * 8 - position }

    mutating func read(_ count: Int) -> Int? {
        guard count <= remaining else { return nil }
        var value = 0
        for _ in 0..<count {
            value = value << 1 | Int(bytes[position >> 3] >> (7 - UInt8(position & 7)) & 1)
            position += 1
        }
        return value
    }
}
