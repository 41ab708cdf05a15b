/// A QR code symbol (ISO/IEC 18004:2015, Model 2) holding a byte-mode payload.
///
/// ```swift
/// let code = try QRCode.encode("sigil://login?tx=abc", errorCorrection: .medium)
/// let svg = code.svg(title: "Sign in with Sigil")
/// ```
///
/// The module grid is addressed with `code[x, y]` (`true` = dark), x the column and y the row,
/// both in `0..<size`, (0, 0) the top-left module. The quiet zone is not part of the grid;
/// the renderers add it.
public struct QRCode: Sendable, Hashable {
    /// The symbol version, 1...40.
    public let version: Int
    /// Side length in modules, 17 + 4 × version.
    public let size: Int
    /// The error correction level the symbol was encoded with.
    public let errorCorrection: QRErrorCorrection
    /// The data mask pattern reference applied, 0...7.
    public let mask: Int
    /// Row-major modules, `true` = dark.
    let modules: [Bool]

    init(version: Int, errorCorrection: QRErrorCorrection, mask: Int, modules: [Bool]) {
        self.version = version
        self.size = QRTables.size(version: version)
        self.errorCorrection = errorCorrection
        self.mask = mask
        self.modules = modules
    }

    /// Whether the module at column `x`, row `y` is dark. Both must be in `0..<size`.
    public subscript(x: Int, y: Int) -> Bool {
        precondition(x >= 0 && x < size && y >= 0 && y < size, "QR module (\(x), \(y)) is outside the \(size)×\(size) symbol")
        return modules[y * size + x]
    }

    /// The modules as rows of booleans (`rows[y][x]`, `true` = dark).
    public var rows: [[Bool]] {
        (0..<size).map { y in Array(modules[(y * size)..<((y + 1) * size)]) }
    }

    // MARK: Encoding

    /// Encodes `bytes` in byte mode.
    ///
    /// The smallest version in `minimumVersion...maximumVersion` that holds the payload at
    /// `errorCorrection` is used. With `mask` nil the data mask with the lowest penalty score
    /// (§7.8.3) is chosen; otherwise the given pattern reference (0...7) is applied.
    ///
    /// - Throws: `QRError.dataTooLong` if the payload does not fit `maximumVersion`;
    ///   `QRError.invalidVersion` / `.invalidMask` for arguments out of range.
    public static func encode(
        _ bytes: [UInt8],
        errorCorrection: QRErrorCorrection = .medium,
        minimumVersion: Int = 1,
        maximumVersion: Int = 40,
        mask: Int? = nil
    ) throws(QRError) -> QRCode {
        guard (1...40).contains(minimumVersion) else { throw .invalidVersion(minimumVersion) }
        guard (1...40).contains(maximumVersion), minimumVersion <= maximumVersion else {
            throw .invalidVersion(maximumVersion)
        }
        if let mask, !(0...7).contains(mask) { throw .invalidMask(mask) }

        let fits = (minimumVersion...maximumVersion).first {
            bytes.count <= QRTables.byteCapacity(version: $0, level: errorCorrection)
        }
        guard let version = fits else {
            throw .dataTooLong(
                byteCount: bytes.count,
                capacity: QRTables.byteCapacity(version: maximumVersion, level: errorCorrection),
                maximumVersion: maximumVersion,
                errorCorrection: errorCorrection
            )
        }

        let data = dataCodewords(bytes, version: version, level: errorCorrection)
        let codewords = interleavedCodewords(data, version: version, level: errorCorrection)
        return QRMatrixBuilder.build(
            version: version,
            level: errorCorrection,
            codewords: codewords,
            mask: mask
        )
    }

    /// Encodes the UTF-8 bytes of `string` in byte mode; with the same version and mask
    /// selection as the `[UInt8]` variant.
    ///
    /// No ECI header is written: common readers (phone cameras, ZBar, ZXing) detect UTF-8 in
    /// byte mode, while some older ones mishandle an ECI designator.
    public static func encode(
        _ string: String,
        errorCorrection: QRErrorCorrection = .medium,
        minimumVersion: Int = 1,
        maximumVersion: Int = 40,
        mask: Int? = nil
    ) throws(QRError) -> QRCode {
        try encode(
            Array(string.utf8),
            errorCorrection: errorCorrection,
            minimumVersion: minimumVersion,
            maximumVersion: maximumVersion,
            mask: mask
        )
    }

    /// Encodes `bytes` in exactly `version` (1...40).
    ///
    /// - Throws: `QRError.dataTooLong` if the payload does not fit that version.
    public static func encode(
        _ bytes: [UInt8],
        errorCorrection: QRErrorCorrection = .medium,
        version: Int,
        mask: Int? = nil
    ) throws(QRError) -> QRCode {
        try encode(bytes, errorCorrection: errorCorrection, minimumVersion: version, maximumVersion: version, mask: mask)
    }

    /// The largest byte-mode payload, in bytes, that `version` holds at `errorCorrection`
    /// (0 for versions outside 1...40).
    public static func byteCapacity(version: Int, errorCorrection: QRErrorCorrection) -> Int {
        guard (1...40).contains(version) else { return 0 }
        return QRTables.byteCapacity(version: version, level: errorCorrection)
    }

    // MARK: Codeword construction (§7.4, §7.5, §7.6)

    /// The data codewords: mode indicator 0100, character count, the bytes, terminator,
    /// zero bits to the byte boundary, then pad codewords 11101100 00010001 alternately.
    static func dataCodewords(_ bytes: [UInt8], version: Int, level: QRErrorCorrection) -> [UInt8] {
        let capacityBits = QRTables.blockStructure(version: version, level: level).dataCodewords * 8
        var bits = BitBuffer()
        bits.append(0b0100, count: 4)
        bits.append(bytes.count, count: QRTables.byteModeCountBits(version: version))
        for byte in bytes { bits.append(Int(byte), count: 8) }
        precondition(bits.count <= capacityBits, "payload exceeds the version's capacity")
        return bits.paddedCodewords(capacityBits: capacityBits)
    }

    /// Splits the data codewords into blocks, appends each block's Reed–Solomon codewords
    /// and interleaves them (§7.6): data codewords column by column across blocks, then the
    /// error correction codewords likewise.
    static func interleavedCodewords(_ data: [UInt8], version: Int, level: QRErrorCorrection) -> [UInt8] {
        let structure = QRTables.blockStructure(version: version, level: level)
        precondition(data.count == structure.dataCodewords)
        let generator = ReedSolomon.generator(degree: structure.ecCodewordsPerBlock)

        var dataBlocks: [[UInt8]] = []
        var offset = 0
        for index in 0..<structure.blockCount {
            let length = index < structure.group1Blocks ? structure.group1DataCodewords : structure.group2DataCodewords
            dataBlocks.append(Array(data[offset..<(offset + length)]))
            offset += length
        }
        let ecBlocks = dataBlocks.map { ReedSolomon.errorCorrection(for: $0, generator: generator) }

        var result: [UInt8] = []
        result.reserveCapacity(structure.totalCodewords)
        let longest = dataBlocks.map(\.count).max() ?? 0
        for i in 0..<longest {
            for block in dataBlocks where i < block.count { result.append(block[i]) }
        }
        for i in 0..<structure.ecCodewordsPerBlock {
            for block in ecBlocks { result.append(block[i]) }
        }
        return result
    }
}

/// A most-significant-bit-first bit string.
struct BitBuffer: Sendable {
    private(set) var bits: [Bool] = []

    var count: Int { bits.count }

    mutating func append(_ value: Int, count: Int) {
        precondition(count >= 0 && count <= 31 && value >= 0 && value >> count == 0, "value does not fit in \(count) bits")
        for shift in stride(from: count - 1, through: 0, by: -1) {
            bits.append((value >> shift) & 1 == 1)
        }
    }

    /// Terminator (up to four 0 bits, fewer if the capacity is reached), zero bits to the
    /// next byte boundary, pad codewords 0xEC 0x11 alternately up to `capacityBits / 8`.
    func paddedCodewords(capacityBits: Int) -> [UInt8] {
        var padded = self
        padded.append(0, count: min(4, capacityBits - padded.count))
        if padded.count % 8 != 0 { padded.append(0, count: 8 - padded.count % 8) }
        var bytes = [UInt8](repeating: 0, count: padded.count / 8)
        for (i, bit) in padded.bits.enumerated() where bit {
            bytes[i >> 3] |= 0x80 >> UInt8(i & 7)
        }
        var pad: UInt8 = 0xEC
        while bytes.count < capacityBits / 8 {
            bytes.append(pad)
            pad = pad == 0xEC ? 0x11 : 0xEC
        }
        return bytes
    }
}
