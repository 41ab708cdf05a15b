// A DEFLATE (RFC 1951) inflater, raw or inside a zlib (RFC 1950) wrapper: PNG decoding (SigilQR)
// and the SAML HTTP-Redirect binding (SigilSAML).
// No Foundation, no system zlib.

/// Why a zlib/DEFLATE stream could not be inflated.
public enum InflateError: Error, Sendable, Hashable {
    case truncated
    case invalidHeader(String)
    case invalidBlock(String)
    case outputLimitExceeded(Int)
    case checksumMismatch
}

/// A canonical Huffman code decoded through one lookup table indexed by the next
/// `maxLength` input bits (bit-reversed, as DEFLATE packs codes most significant bit first
/// into a least-significant-bit-first stream). Each entry is `symbol << 4 | length`;
/// 0 marks an unused code.
struct HuffmanTable: Sendable {
    let table: [UInt16]
    let maxLength: Int

    /// Builds the table from code lengths (0 = symbol unused). Rejects over-subscribed codes;
    /// incomplete codes are allowed (RFC 1951 permits one-code distance trees), their unused
    /// entries decode as errors.
    init(lengths: [UInt8]) throws(InflateError) {
        var counts = [Int](repeating: 0, count: 16)
        for length in lengths { counts[Int(length)] += 1 }
        counts[0] = 0
        var maxLength = 0
        for length in 1...15 where counts[length] > 0 { maxLength = length }
        // Kraft inequality: an over-subscribed set of lengths is not a prefix code.
        var left = 1
        for length in 1...15 {
            left <<= 1
            left -= counts[length]
            if left < 0 { throw .invalidBlock("over-subscribed Huffman code") }
        }
        var nextCode = [Int](repeating: 0, count: 16)
        var code = 0
        for length in 1...15 {
            code = (code + counts[length - 1]) << 1
            nextCode[length] = code
        }
        let bits = max(maxLength, 1)
        var table = [UInt16](repeating: 0, count: 1 << bits)
        for (symbol, lengthByte) in lengths.enumerated() where lengthByte > 0 {
            let length = Int(lengthByte)
            let code = nextCode[length]
            nextCode[length] += 1
            var reversed = 0
            for i in 0..<length where code >> i & 1 == 1 { reversed |= 1 << (length - 1 - i) }
            let entry = UInt16(symbol << 4 | length)
            var index = reversed
            while index < table.count {
                table[index] = entry
                index += 1 << length
            }
        }
        self.table = table
        self.maxLength = bits
    }
}

public struct Inflater {
    private let input: [UInt8]
    private var position: Int
    private var bitBuffer: UInt64 = 0
    private var bitCount = 0
    /// Bits supplied past the end of the input as zero padding; more than is held in the
    /// buffer means the stream was truncated.
    private var paddingBits = 0
    /// Output storage; `count` bytes of it are written. Grown by doubling, never past `limit`.
    private var output: [UInt8]
    private var count = 0
    private let limit: Int

    private init(input: [UInt8], start: Int, limit: Int, expected: Int) {
        self.input = input
        self.position = start
        self.limit = limit
        // `expected` is often an untrusted claim (a PNG's IHDR): reserve no more than the input
        // can inflate to (DEFLATE expands at most 1032:1), so a tiny stream with a huge claim
        // cannot allocate the claim up front.
        let (ceiling, overflow) = (input.count - start).multipliedReportingOverflow(by: 1032)
        output = [UInt8](repeating: 0, count: max(1024, min(expected, limit, overflow ? Int.max : ceiling)))
    }

    /// Makes room for `extra` more bytes, or throws when that would pass the limit.
    @inline(__always)
    private mutating func reserve(_ extra: Int) throws(InflateError) {
        let needed = count + extra
        if needed <= output.count { return }
        guard needed <= limit else { throw .outputLimitExceeded(limit) }
        let newSize = min(limit, max(needed, output.count * 2))
        output.append(contentsOf: repeatElement(0, count: newSize - output.count))
    }

    private var result: [UInt8] { Array(output[0..<count]) }

    /// Inflates a zlib stream: header (CM 8, window ≤ 32 KiB, no preset dictionary),
    /// DEFLATE blocks, big-endian Adler-32 of the output.
    ///
    /// - Parameters:
    ///   - limit: the largest output accepted; a stream that would produce more is rejected
    ///     (decompression bombs).
    ///   - expectedSize: a capacity hint.
    public static func zlib(_ data: [UInt8], limit: Int, expectedSize: Int = 0) throws(InflateError) -> [UInt8] {
        guard data.count >= 6 else { throw .truncated }
        let cmf = data[0], flg = data[1]
        guard cmf & 0x0F == 8 else { throw .invalidHeader("compression method \(cmf & 0x0F) is not deflate") }
        guard cmf >> 4 <= 7 else { throw .invalidHeader("window size above 32 KiB") }
        guard (UInt16(cmf) << 8 | UInt16(flg)) % 31 == 0 else { throw .invalidHeader("header check bits") }
        guard flg & 0x20 == 0 else { throw .invalidHeader("preset dictionary") }
        var inflater = Inflater(input: data, start: 2, limit: limit, expected: expectedSize)
        try inflater.inflateBlocks()
        // Adler-32 follows on the next byte boundary.
        inflater.alignToByte()
        var checksum: UInt32 = 0
        for _ in 0..<4 { checksum = checksum << 8 | UInt32(try inflater.bits(8)) }
        var output = inflater.output
        if output.count != inflater.count { output.removeLast(output.count - inflater.count) }
        guard checksum == Inflater.adler32(output) else { throw .checksumMismatch }
        return output
    }

    /// Inflates raw DEFLATE data (no zlib wrapper).
    public static func raw(_ data: [UInt8], limit: Int) throws(InflateError) -> [UInt8] {
        var inflater = Inflater(input: data, start: 0, limit: limit, expected: 0)
        try inflater.inflateBlocks()
        return inflater.result
    }

    // MARK: Bits

    @inline(__always)
    private mutating func refill() {
        while bitCount <= 56 {
            if position < input.count {
                bitBuffer |= UInt64(input[position]) << UInt64(bitCount)
                position += 1
            } else {
                paddingBits += 8
            }
            bitCount += 8
        }
    }

    @inline(__always)
    private mutating func checkOverrun() throws(InflateError) {
        // Padding bits still in the buffer are unread; consumed padding means truncation.
        if paddingBits > bitCount { throw .truncated }
    }

    @inline(__always)
    private mutating func bits(_ count: Int) throws(InflateError) -> Int {
        if count == 0 { return 0 }
        if bitCount < count { refill() }
        let value = Int(bitBuffer & ((1 << UInt64(count)) - 1))
        bitBuffer >>= UInt64(count)
        bitCount -= count
        try checkOverrun()
        return value
    }

    private mutating func alignToByte() {
        let drop = bitCount & 7
        bitBuffer >>= UInt64(drop)
        bitCount -= drop
    }

    @inline(__always)
    private mutating func decode(_ huffman: HuffmanTable) throws(InflateError) -> Int {
        if bitCount < huffman.maxLength { refill() }
        let entry = Int(huffman.table[Int(bitBuffer & ((1 << UInt64(huffman.maxLength)) - 1))])
        let length = entry & 15
        guard length != 0 else { throw .invalidBlock("invalid Huffman code") }
        bitBuffer >>= UInt64(length)
        bitCount -= length
        try checkOverrun()
        return entry >> 4
    }

    // MARK: Blocks

    private static let lengthBase: [Int] = [
        3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31,
        35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258,
    ]
    private static let lengthExtra: [Int] = [
        0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2,
        3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
    ]
    private static let distanceBase: [Int] = [
        1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193,
        257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145,
        8193, 12289, 16385, 24577,
    ]
    private static let distanceExtra: [Int] = [
        0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6,
        7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13,
    ]
    /// Order of the code length code lengths in a dynamic block header.
    private static let codeLengthOrder: [Int] = [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15]

    private static let fixedTables: (literals: HuffmanTable, distances: HuffmanTable) = {
        var lengths = [UInt8](repeating: 8, count: 288)
        for i in 144..<256 { lengths[i] = 9 }
        for i in 256..<280 { lengths[i] = 7 }
        // The fixed codes are complete and valid; construction cannot fail.
        let literals = try! HuffmanTable(lengths: lengths)
        let distances = try! HuffmanTable(lengths: [UInt8](repeating: 5, count: 30))
        return (literals, distances)
    }()

    private mutating func inflateBlocks() throws(InflateError) {
        var final = false
        while !final {
            final = try bits(1) == 1
            switch try bits(2) {
            case 0: try storedBlock()
            case 1: try huffmanBlock(Self.fixedTables.literals, Self.fixedTables.distances)
            case 2:
                let (literals, distances) = try dynamicTables()
                try huffmanBlock(literals, distances)
            default: throw .invalidBlock("reserved block type 3")
            }
        }
    }

    private mutating func storedBlock() throws(InflateError) {
        alignToByte()
        let length = try bits(16)
        let complement = try bits(16)
        guard length == ~complement & 0xFFFF else { throw .invalidBlock("stored block length check") }
        try reserve(length)
        // Drain whole bytes left in the bit buffer, then copy straight from the input.
        var remaining = length
        while remaining > 0 && bitCount >= 8 {
            output[count] = UInt8(try bits(8))
            count += 1
            remaining -= 1
        }
        if remaining > 0 {
            guard bitCount == 0, paddingBits == 0 else { throw .truncated }
            guard position + remaining <= input.count else { throw .truncated }
            for i in 0..<remaining { output[count + i] = input[position + i] }
            count += remaining
            position += remaining
        }
    }

    private mutating func dynamicTables() throws(InflateError) -> (HuffmanTable, HuffmanTable) {
        let literalCount = try bits(5) + 257
        let distanceCount = try bits(5) + 1
        let codeLengthCount = try bits(4) + 4
        guard literalCount <= 286, distanceCount <= 30 else { throw .invalidBlock("too many codes") }
        var codeLengthLengths = [UInt8](repeating: 0, count: 19)
        for i in 0..<codeLengthCount { codeLengthLengths[Self.codeLengthOrder[i]] = UInt8(try bits(3)) }
        let codeLengthTable = try HuffmanTable(lengths: codeLengthLengths)

        var lengths = [UInt8]()
        lengths.reserveCapacity(literalCount + distanceCount)
        while lengths.count < literalCount + distanceCount {
            let symbol = try decode(codeLengthTable)
            switch symbol {
            case 0...15: lengths.append(UInt8(symbol))
            case 16:
                guard let previous = lengths.last else { throw .invalidBlock("repeat with no previous length") }
                for _ in 0..<(3 + (try bits(2))) { lengths.append(previous) }
            case 17:
                for _ in 0..<(3 + (try bits(3))) { lengths.append(0) }
            default:
                for _ in 0..<(11 + (try bits(7))) { lengths.append(0) }
            }
        }
        guard lengths.count == literalCount + distanceCount else { throw .invalidBlock("code lengths overrun") }
        guard lengths[256] != 0 else { throw .invalidBlock("no end-of-block code") }
        let literals = try HuffmanTable(lengths: Array(lengths[0..<literalCount]))
        let distances = try HuffmanTable(lengths: Array(lengths[literalCount...]))
        return (literals, distances)
    }

    private mutating func huffmanBlock(_ literals: HuffmanTable, _ distances: HuffmanTable) throws(InflateError) {
        while true {
            let symbol = try decode(literals)
            if symbol < 256 {
                try reserve(1)
                output[count] = UInt8(symbol)
                count += 1
                continue
            }
            if symbol == 256 { return }
            let lengthIndex = symbol - 257
            guard lengthIndex < 29 else { throw .invalidBlock("invalid length symbol \(symbol)") }
            let length = Self.lengthBase[lengthIndex] + (try bits(Self.lengthExtra[lengthIndex]))
            let distanceSymbol = try decode(distances)
            guard distanceSymbol < 30 else { throw .invalidBlock("invalid distance symbol \(distanceSymbol)") }
            let distance = Self.distanceBase[distanceSymbol] + (try bits(Self.distanceExtra[distanceSymbol]))
            guard distance <= count else { throw .invalidBlock("distance \(distance) before the start of the output") }
            try reserve(length)
            let start = count
            output.withUnsafeMutableBufferPointer { buffer in
                // Byte by byte: an overlapping copy (distance < length) repeats the pattern.
                for i in start..<(start + length) { buffer[i] = buffer[i - distance] }
            }
            count += length
        }
    }
}

extension Inflater {
    /// Adler-32 (RFC 1950 §8.2), the zlib stream checksum.
    /// Adler-32 (RFC 1950).
    public static func adler32(_ bytes: [UInt8]) -> UInt32 {
        var a: UInt32 = 1, b: UInt32 = 0
        // 5552 is the largest n with 255n(n+1)/2 + (n+1)(65520) < 2³²: reduce once per chunk.
        var index = 0
        while index < bytes.count {
            let end = min(index + 5552, bytes.count)
            for i in index..<end {
                a += UInt32(bytes[i])
                b += a
            }
            a %= 65521
            b %= 65521
            index = end
        }
        return b << 16 | a
    }
}
