import Testing

@testable import SigilQR

@Suite("ISO/IEC 18004 tables")
struct TableTests {
    /// Modules available for codewords, from the layout (§6.3): the grid less finder patterns
    /// with separators, timing patterns, alignment patterns, format and version information.
    static func rawDataModules(version v: Int) -> Int {
        var modules = (16 * v + 128) * v + 64
        if v >= 2 {
            let alignments = v / 7 + 2
            modules -= (25 * alignments - 10) * alignments - 55
            if v >= 7 { modules -= 36 }
        }
        return modules
    }

    /// Remainder bits per version (Table 1).
    static func remainderBits(version v: Int) -> Int {
        switch v {
        case 1: 0
        case 2...6: 7
        case 7...13: 0
        case 14...20: 3
        case 21...27: 4
        case 28...34: 3
        default: 0
        }
    }

    @Test("Table 9 block structure is consistent with the symbol's module count", arguments: 1...40)
    func blockStructure(version: Int) {
        let layout = QRMatrixBuilder(version: version)
        #expect(layout.dataModuleCount == Self.rawDataModules(version: version))
        #expect(layout.dataModuleCount % 8 == Self.remainderBits(version: version))
        for level in QRErrorCorrection.allCases {
            let s = QRTables.blockStructure(version: version, level: level)
            #expect(s.totalCodewords == Self.rawDataModules(version: version) / 8, "\(version)-\(level)")
            #expect(s.group1Blocks >= 1)
            if s.group2Blocks > 0 {
                #expect(s.group2DataCodewords == s.group1DataCodewords + 1, "\(version)-\(level)")
            } else {
                #expect(s.group2DataCodewords == 0)
            }
            #expect((7...30).contains(s.ecCodewordsPerBlock), "\(version)-\(level)")
        }
        // Higher levels never hold more data.
        let data = QRErrorCorrection.allCases.map { QRTables.blockStructure(version: version, level: $0).dataCodewords }
        #expect(data == data.sorted(by: >))
    }

    @Test("Table 9 spot checks")
    func blockStructureSpotChecks() {
        func s(_ v: Int, _ l: QRErrorCorrection) -> [Int] {
            let b = QRTables.blockStructure(version: v, level: l)
            return [b.ecCodewordsPerBlock, b.group1Blocks, b.group1DataCodewords, b.group2Blocks, b.group2DataCodewords]
        }
        #expect(s(1, .low) == [7, 1, 19, 0, 0])
        #expect(s(1, .medium) == [10, 1, 16, 0, 0])
        #expect(s(1, .high) == [17, 1, 9, 0, 0])
        #expect(s(5, .quartile) == [18, 2, 15, 2, 16])
        #expect(s(7, .quartile) == [18, 2, 14, 4, 15])
        #expect(s(13, .medium) == [22, 8, 37, 1, 38])
        #expect(s(40, .low) == [30, 19, 118, 6, 119])
        #expect(s(40, .medium) == [28, 18, 47, 31, 48])
        #expect(s(40, .quartile) == [30, 34, 24, 34, 25])
        #expect(s(40, .high) == [30, 20, 15, 61, 16])
    }

    /// Table 7, byte mode capacities.
    static let byteCapacity: [QRErrorCorrection: [Int]] = [
        .low: [
            17, 32, 53, 78, 106, 134, 154, 192, 230, 271, 321, 367, 425, 458, 520, 586, 644, 718, 792, 858,
            929, 1003, 1091, 1171, 1273, 1367, 1465, 1528, 1628, 1732, 1840, 1952, 2068, 2188, 2303, 2431, 2563, 2699, 2809, 2953,
        ],
        .medium: [
            14, 26, 42, 62, 84, 106, 122, 152, 180, 213, 251, 287, 331, 362, 412, 450, 504, 560, 624, 666,
            711, 779, 857, 911, 997, 1059, 1125, 1190, 1264, 1370, 1452, 1538, 1628, 1722, 1809, 1911, 1989, 2099, 2213, 2331,
        ],
        .quartile: [
            11, 20, 32, 46, 60, 74, 86, 108, 130, 151, 177, 203, 241, 258, 292, 322, 364, 394, 442, 482,
            509, 565, 611, 661, 715, 751, 805, 868, 908, 982, 1030, 1112, 1168, 1228, 1283, 1351, 1423, 1499, 1579, 1663,
        ],
        .high: [
            7, 14, 24, 34, 44, 58, 64, 84, 98, 119, 137, 155, 177, 194, 220, 250, 280, 310, 338, 382,
            403, 439, 461, 511, 535, 593, 625, 658, 698, 742, 790, 842, 898, 958, 983, 1051, 1093, 1139, 1219, 1273,
        ],
    ]

    @Test("byte capacities match Table 7")
    func capacities() {
        for level in QRErrorCorrection.allCases {
            let computed = (1...40).map { QRCode.byteCapacity(version: $0, errorCorrection: level) }
            #expect(computed == Self.byteCapacity[level], "level \(level)")
        }
        #expect(QRCode.byteCapacity(version: 0, errorCorrection: .medium) == 0)
        #expect(QRCode.byteCapacity(version: 41, errorCorrection: .medium) == 0)
    }

    /// Annex E gives the table; the positions also follow a rule: first 6, last size − 7,
    /// v/7 + 2 coordinates, the gaps after the first equal and even.
    @Test("alignment pattern positions (Annex E) follow the spacing rule", arguments: 1...40)
    func alignmentPositions(version: Int) {
        let positions = QRTables.alignmentPatternPositions[version - 1]
        if version == 1 {
            #expect(positions.isEmpty)
            return
        }
        let size = QRTables.size(version: version)
        #expect(positions.count == version / 7 + 2)
        #expect(positions.first == 6)
        #expect(positions.last == size - 7)
        let gaps = zip(positions.dropFirst(), positions).map { $0 - $1 }
        let step = gaps.last!
        #expect(step % 2 == 0)
        #expect(gaps.dropFirst().allSatisfy { $0 == step })
        #expect(gaps[0] > 0)
        // The spacing formula used by many implementations, as an independent derivation.
        let count = version / 7 + 2
        let formulaStep = version == 32 ? 26 : (version * 4 + 2 * count + 1) / (2 * count - 2) * 2
        var expected = [6]
        for i in 0..<(count - 1) { expected.insert(size - 7 - i * formulaStep, at: 1) }
        #expect(positions == expected)
    }

    /// Annex C, Table C.1: the 32 format information bit sequences after masking.
    static let formatTable: [QRErrorCorrection: [String]] = [
        .low: [
            "111011111000100", "111001011110011", "111110110101010", "111100010011101", "110011000101111", "110001100011000", "110110001000001",
            "110100101110110",
        ],
        .medium: [
            "101010000010010", "101000100100101", "101111001111100", "101101101001011", "100010111111001", "100000011001110", "100111110010111",
            "100101010100000",
        ],
        .quartile: [
            "011010101011111", "011000001101000", "011111100110001", "011101000000110", "010010010110100", "010000110000011", "010111011011010",
            "010101111101101",
        ],
        .high: [
            "001011010001001", "001001110111110", "001110011100111", "001100111010000", "000011101100010", "000001001010101", "000110100001100",
            "000100000111011",
        ],
    ]

    @Test("format information: all 32 sequences (Annex C), minimum distance 7")
    func formatInformation() {
        var all: [Int] = []
        for level in QRErrorCorrection.allCases {
            for mask in 0..<8 {
                let bits = QRMatrixBuilder.formatInformation(level: level, mask: mask)
                #expect(bits == Int(Self.formatTable[level]![mask], radix: 2), "\(level) mask \(mask)")
                all.append(bits)
            }
        }
        // M with mask 0 is the XOR mask itself (all-zero data and BCH bits).
        #expect(QRMatrixBuilder.formatInformation(level: .medium, mask: 0) == 0b101010000010010)
        for i in 0..<all.count {
            for j in (i + 1)..<all.count {
                #expect((all[i] ^ all[j]).nonzeroBitCount >= 7)
            }
        }
    }

    /// Annex D, Table D.1.
    static let versionTable: [String] = [
        "000111110010010100", // 7
        "001000010110111100", // 8
        "001001101010011001", // 9
        "001010010011010011", // 10
        "001011101111110110", // 11
        "001100011101100010", // 12
        "001101100001000111", // 13
        "001110011000001101", // 14
        "001111100100101000", // 15
        "010000101101111000", // 16
        "010001010001011101", // 17
        "010010101000010111", // 18
        "010011010100110010", // 19
        "010100100110100110", // 20
        "010101011010000011", // 21
        "010110100011001001", // 22
        "010111011111101100", // 23
        "011000111011000100", // 24
        "011001000111100001", // 25
        "011010111110101011", // 26
        "011011000010001110", // 27
        "011100110000011010", // 28
        "011101001100111111", // 29
        "011110110101110101", // 30
        "011111001001010000", // 31
        "100000100111010101", // 32
        "100001011011110000", // 33
        "100010100010111010", // 34
        "100011011110011111", // 35
        "100100101100001011", // 36
        "100101010000101110", // 37
        "100110101001100100", // 38
        "100111010101000001", // 39
        "101000110001101001", // 40
    ]

    @Test("version information: all 34 sequences (Annex D), 7 = 000111110010010100, minimum distance 8")
    func versionInformation() {
        #expect(QRMatrixBuilder.versionInformation(version: 7) == 0b000111110010010100)
        let all = (7...40).map { QRMatrixBuilder.versionInformation(version: $0) }
        #expect(all == Self.versionTable.map { Int($0, radix: 2)! })
        for i in 0..<all.count {
            for j in (i + 1)..<all.count {
                #expect((all[i] ^ all[j]).nonzeroBitCount >= 8)
            }
        }
    }
}
