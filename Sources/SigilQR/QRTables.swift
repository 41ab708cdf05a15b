// Tables from ISO/IEC 18004:2015.
//
// The tables are transcribed data; the test suite cross-checks each of them
// against quantities derived independently (module counts, the generator
// formulas, BCH codes), so a typo shows up as a failing test.

/// One row of ISO/IEC 18004:2015 Table 9: the error correction block structure of one
/// version at one error correction level.
///
/// A symbol's codewords are split into `group1Blocks` blocks of `group1DataCodewords`
/// data codewords followed by `group2Blocks` blocks holding one data codeword more
/// (`group2DataCodewords`, 0 when there is no second group). Every block carries
/// `ecCodewordsPerBlock` error correction codewords.
struct QRBlockStructure: Sendable, Hashable {
    let ecCodewordsPerBlock: Int
    let group1Blocks: Int
    let group1DataCodewords: Int
    let group2Blocks: Int
    let group2DataCodewords: Int

    init(_ ec: Int, _ b1: Int, _ d1: Int, _ b2: Int, _ d2: Int) {
        ecCodewordsPerBlock = ec
        group1Blocks = b1
        group1DataCodewords = d1
        group2Blocks = b2
        group2DataCodewords = d2
    }

    var blockCount: Int { group1Blocks + group2Blocks }
    var dataCodewords: Int { group1Blocks * group1DataCodewords + group2Blocks * group2DataCodewords }
    var totalCodewords: Int { dataCodewords + blockCount * ecCodewordsPerBlock }
}

enum QRTables {
    /// ISO/IEC 18004:2015 Table 9, indexed `[version - 1][level.tableIndex]` with levels in the
    /// order L, M, Q, H. Each entry: (EC codewords per block, blocks in group 1, data codewords
    /// per group-1 block, blocks in group 2, data codewords per group-2 block).
    // Not reformatted: laid out as the standard's table.
    // swift-format-ignore
    static let blocks: [[QRBlockStructure]] = [
    /*  1 */ [.init( 7,  1,  19,  0,   0), .init(10,  1,  16,  0,   0), .init(13,  1,  13,  0,   0), .init(17,  1,   9,  0,   0)],
    /*  2 */ [.init(10,  1,  34,  0,   0), .init(16,  1,  28,  0,   0), .init(22,  1,  22,  0,   0), .init(28,  1,  16,  0,   0)],
    /*  3 */ [.init(15,  1,  55,  0,   0), .init(26,  1,  44,  0,   0), .init(18,  2,  17,  0,   0), .init(22,  2,  13,  0,   0)],
    /*  4 */ [.init(20,  1,  80,  0,   0), .init(18,  2,  32,  0,   0), .init(26,  2,  24,  0,   0), .init(16,  4,   9,  0,   0)],
    /*  5 */ [.init(26,  1, 108,  0,   0), .init(24,  2,  43,  0,   0), .init(18,  2,  15,  2,  16), .init(22,  2,  11,  2,  12)],
    /*  6 */ [.init(18,  2,  68,  0,   0), .init(16,  4,  27,  0,   0), .init(24,  4,  19,  0,   0), .init(28,  4,  15,  0,   0)],
    /*  7 */ [.init(20,  2,  78,  0,   0), .init(18,  4,  31,  0,   0), .init(18,  2,  14,  4,  15), .init(26,  4,  13,  1,  14)],
    /*  8 */ [.init(24,  2,  97,  0,   0), .init(22,  2,  38,  2,  39), .init(22,  4,  18,  2,  19), .init(26,  4,  14,  2,  15)],
    /*  9 */ [.init(30,  2, 116,  0,   0), .init(22,  3,  36,  2,  37), .init(20,  4,  16,  4,  17), .init(24,  4,  12,  4,  13)],
    /* 10 */ [.init(18,  2,  68,  2,  69), .init(26,  4,  43,  1,  44), .init(24,  6,  19,  2,  20), .init(28,  6,  15,  2,  16)],
    /* 11 */ [.init(20,  4,  81,  0,   0), .init(30,  1,  50,  4,  51), .init(28,  4,  22,  4,  23), .init(24,  3,  12,  8,  13)],
    /* 12 */ [.init(24,  2,  92,  2,  93), .init(22,  6,  36,  2,  37), .init(26,  4,  20,  6,  21), .init(28,  7,  14,  4,  15)],
    /* 13 */ [.init(26,  4, 107,  0,   0), .init(22,  8,  37,  1,  38), .init(24,  8,  20,  4,  21), .init(22, 12,  11,  4,  12)],
    /* 14 */ [.init(30,  3, 115,  1, 116), .init(24,  4,  40,  5,  41), .init(20, 11,  16,  5,  17), .init(24, 11,  12,  5,  13)],
    /* 15 */ [.init(22,  5,  87,  1,  88), .init(24,  5,  41,  5,  42), .init(30,  5,  24,  7,  25), .init(24, 11,  12,  7,  13)],
    /* 16 */ [.init(24,  5,  98,  1,  99), .init(28,  7,  45,  3,  46), .init(24, 15,  19,  2,  20), .init(30,  3,  15, 13,  16)],
    /* 17 */ [.init(28,  1, 107,  5, 108), .init(28, 10,  46,  1,  47), .init(28,  1,  22, 15,  23), .init(28,  2,  14, 17,  15)],
    /* 18 */ [.init(30,  5, 120,  1, 121), .init(26,  9,  43,  4,  44), .init(28, 17,  22,  1,  23), .init(28,  2,  14, 19,  15)],
    /* 19 */ [.init(28,  3, 113,  4, 114), .init(26,  3,  44, 11,  45), .init(26, 17,  21,  4,  22), .init(26,  9,  13, 16,  14)],
    /* 20 */ [.init(28,  3, 107,  5, 108), .init(26,  3,  41, 13,  42), .init(30, 15,  24,  5,  25), .init(28, 15,  15, 10,  16)],
    /* 21 */ [.init(28,  4, 116,  4, 117), .init(26, 17,  42,  0,   0), .init(28, 17,  22,  6,  23), .init(30, 19,  16,  6,  17)],
    /* 22 */ [.init(28,  2, 111,  7, 112), .init(28, 17,  46,  0,   0), .init(30,  7,  24, 16,  25), .init(24, 34,  13,  0,   0)],
    /* 23 */ [.init(30,  4, 121,  5, 122), .init(28,  4,  47, 14,  48), .init(30, 11,  24, 14,  25), .init(30, 16,  15, 14,  16)],
    /* 24 */ [.init(30,  6, 117,  4, 118), .init(28,  6,  45, 14,  46), .init(30, 11,  24, 16,  25), .init(30, 30,  16,  2,  17)],
    /* 25 */ [.init(26,  8, 106,  4, 107), .init(28,  8,  47, 13,  48), .init(30,  7,  24, 22,  25), .init(30, 22,  15, 13,  16)],
    /* 26 */ [.init(28, 10, 114,  2, 115), .init(28, 19,  46,  4,  47), .init(28, 28,  22,  6,  23), .init(30, 33,  16,  4,  17)],
    /* 27 */ [.init(30,  8, 122,  4, 123), .init(28, 22,  45,  3,  46), .init(30,  8,  23, 26,  24), .init(30, 12,  15, 28,  16)],
    /* 28 */ [.init(30,  3, 117, 10, 118), .init(28,  3,  45, 23,  46), .init(30,  4,  24, 31,  25), .init(30, 11,  15, 31,  16)],
    /* 29 */ [.init(30,  7, 116,  7, 117), .init(28, 21,  45,  7,  46), .init(30,  1,  23, 37,  24), .init(30, 19,  15, 26,  16)],
    /* 30 */ [.init(30,  5, 115, 10, 116), .init(28, 19,  47, 10,  48), .init(30, 15,  24, 25,  25), .init(30, 23,  15, 25,  16)],
    /* 31 */ [.init(30, 13, 115,  3, 116), .init(28,  2,  46, 29,  47), .init(30, 42,  24,  1,  25), .init(30, 23,  15, 28,  16)],
    /* 32 */ [.init(30, 17, 115,  0,   0), .init(28, 10,  46, 23,  47), .init(30, 10,  24, 35,  25), .init(30, 19,  15, 35,  16)],
    /* 33 */ [.init(30, 17, 115,  1, 116), .init(28, 14,  46, 21,  47), .init(30, 29,  24, 19,  25), .init(30, 11,  15, 46,  16)],
    /* 34 */ [.init(30, 13, 115,  6, 116), .init(28, 14,  46, 23,  47), .init(30, 44,  24,  7,  25), .init(30, 59,  16,  1,  17)],
    /* 35 */ [.init(30, 12, 121,  7, 122), .init(28, 12,  47, 26,  48), .init(30, 39,  24, 14,  25), .init(30, 22,  15, 41,  16)],
    /* 36 */ [.init(30,  6, 121, 14, 122), .init(28,  6,  47, 34,  48), .init(30, 46,  24, 10,  25), .init(30,  2,  15, 64,  16)],
    /* 37 */ [.init(30, 17, 122,  4, 123), .init(28, 29,  46, 14,  47), .init(30, 49,  24, 10,  25), .init(30, 24,  15, 46,  16)],
    /* 38 */ [.init(30,  4, 122, 18, 123), .init(28, 13,  46, 32,  47), .init(30, 48,  24, 14,  25), .init(30, 42,  15, 32,  16)],
    /* 39 */ [.init(30, 20, 117,  4, 118), .init(28, 40,  47,  7,  48), .init(30, 43,  24, 22,  25), .init(30, 10,  15, 67,  16)],
    /* 40 */ [.init(30, 19, 118,  6, 119), .init(28, 18,  47, 31,  48), .init(30, 34,  24, 34,  25), .init(30, 20,  15, 61,  16)],
    ]

    /// ISO/IEC 18004:2015 Annex E, Table E.1: row/column coordinates of the alignment
    /// pattern centres, indexed by `version - 1`.
    static let alignmentPatternPositions: [[Int]] = [
        /*  1 */ [],
        /*  2 */ [6, 18],
        /*  3 */ [6, 22],
        /*  4 */ [6, 26],
        /*  5 */ [6, 30],
        /*  6 */ [6, 34],
        /*  7 */ [6, 22, 38],
        /*  8 */ [6, 24, 42],
        /*  9 */ [6, 26, 46],
        /* 10 */ [6, 28, 50],
        /* 11 */ [6, 30, 54],
        /* 12 */ [6, 32, 58],
        /* 13 */ [6, 34, 62],
        /* 14 */ [6, 26, 46, 66],
        /* 15 */ [6, 26, 48, 70],
        /* 16 */ [6, 26, 50, 74],
        /* 17 */ [6, 30, 54, 78],
        /* 18 */ [6, 30, 56, 82],
        /* 19 */ [6, 30, 58, 86],
        /* 20 */ [6, 34, 62, 90],
        /* 21 */ [6, 28, 50, 72, 94],
        /* 22 */ [6, 26, 50, 74, 98],
        /* 23 */ [6, 30, 54, 78, 102],
        /* 24 */ [6, 28, 54, 80, 106],
        /* 25 */ [6, 32, 58, 84, 110],
        /* 26 */ [6, 30, 58, 86, 114],
        /* 27 */ [6, 34, 62, 90, 118],
        /* 28 */ [6, 26, 50, 74, 98, 122],
        /* 29 */ [6, 30, 54, 78, 102, 126],
        /* 30 */ [6, 26, 52, 78, 104, 130],
        /* 31 */ [6, 30, 56, 82, 108, 134],
        /* 32 */ [6, 34, 60, 86, 112, 138],
        /* 33 */ [6, 30, 58, 86, 114, 142],
        /* 34 */ [6, 34, 62, 90, 118, 146],
        /* 35 */ [6, 30, 54, 78, 102, 126, 150],
        /* 36 */ [6, 24, 50, 76, 102, 128, 154],
        /* 37 */ [6, 28, 54, 80, 106, 132, 158],
        /* 38 */ [6, 32, 58, 84, 110, 136, 162],
        /* 39 */ [6, 26, 54, 82, 110, 138, 166],
        /* 40 */ [6, 30, 58, 86, 114, 142, 170],
    ]

    /// The block structure for `version` (1...40) at `level`.
    static func blockStructure(version: Int, level: QRErrorCorrection) -> QRBlockStructure {
        blocks[version - 1][level.tableIndex]
    }

    /// Side length in modules: 17 + 4 × version (§6.3.1).
    static func size(version: Int) -> Int { 17 + 4 * version }

    /// Bits of the character count indicator in byte mode (Table 3): 8 for versions 1–9,
    /// 16 for versions 10–40.
    static func byteModeCountBits(version: Int) -> Int { version <= 9 ? 8 : 16 }

    /// Largest byte-mode payload (in bytes) that fits `version` at `level`.
    static func byteCapacity(version: Int, level: QRErrorCorrection) -> Int {
        let bits = blockStructure(version: version, level: level).dataCodewords * 8
        return (bits - 4 - byteModeCountBits(version: version)) / 8
    }
}
