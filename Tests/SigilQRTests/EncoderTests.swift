import Testing

@testable import SigilQR

/// Deterministic printable-ASCII payload of `count` bytes.
func asciiPayload(_ count: Int, seed: UInt64) -> [UInt8] {
    let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~:/?#[]@!$&'()*+,;=%".utf8)
    var state = seed
    return (0..<count).map { _ in alphabet[Int(splitMix(&state) % UInt64(alphabet.count))] }
}

func matrixRows(_ code: QRCode) -> [String] {
    code.rows.map { String($0.map { $0 ? "#" : "." }) }
}

@Suite("Encoder")
struct EncoderTests {
    @Test("matches reference matrices from an independent implementation")
    func goldenMatrices() throws {
        let small = try QRCode.encode("Sigil", errorCorrection: .medium, mask: 2)
        #expect(small.version == 1 && small.size == 21 && small.mask == 2)
        #expect(matrixRows(small) == Golden.sigil1M)

        let url = try QRCode.encode(
            "sigil://login?tx=01HZX3K9QW&s=Jd8fK2mP0aZr", errorCorrection: .quartile, minimumVersion: 7, mask: 5)
        #expect(url.version == 7 && url.size == 45)
        #expect(matrixRows(url) == Golden.url7Q)
    }

    @Test("data codewords: mode, count, terminator, bit padding and pad codewords")
    func dataCodewords() {
        // "hello" at 1-M: 0100 00000101, the bytes, 0000 terminator, then EC 11 EC 11 …
        let data = QRCode.dataCodewords(Array("hello".utf8), version: 1, level: .medium)
        #expect(data == [0x40, 0x56, 0x86, 0x56, 0xC6, 0xC6, 0xF0, 0xEC, 0x11, 0xEC, 0x11, 0xEC, 0x11, 0xEC, 0x11, 0xEC])
        // Version 10 uses a 16-bit count.
        let v10 = QRCode.dataCodewords([0xFF], version: 10, level: .medium)
        #expect(Array(v10.prefix(5)) == [0x40, 0x00, 0x1F, 0xF0, 0xEC])
        // A full symbol: the terminator is truncated (here to nothing).
        let full = QRCode.dataCodewords([UInt8](repeating: 0xAA, count: 14), version: 1, level: .medium)
        #expect(full.count == 16)
        #expect(full == [0x40, 0xEA] + [UInt8](repeating: 0xAA, count: 13) + [0xA0])
    }

    @Test("interleaving takes codewords column by column across blocks")
    func interleaving() {
        // 5-Q: blocks of 15, 15, 16, 16 data codewords, 18 EC codewords each.
        let data = (0..<62).map { UInt8($0) }
        let out = QRCode.interleavedCodewords(data, version: 5, level: .quartile)
        #expect(out.count == 134)
        #expect(Array(out.prefix(8)) == [0, 15, 30, 46, 1, 16, 31, 47])
        // After 15 full columns the two long blocks contribute their last codeword.
        #expect(Array(out[60..<62]) == [45, 61])
        let blocks = [Array(data[0..<15]), Array(data[15..<30]), Array(data[30..<46]), Array(data[46..<62])]
        let ec = blocks.map { ReedSolomon.errorCorrection(for: $0, degree: 18) }
        #expect(Array(out[62..<66]) == [ec[0][0], ec[1][0], ec[2][0], ec[3][0]])
        #expect(Array(out.suffix(4)) == [ec[0][17], ec[1][17], ec[2][17], ec[3][17]])
    }

    @Test("capacity boundary at M: a full version fits, one more byte moves up", arguments: 1...40)
    func capacityBoundary(version: Int) throws {
        let capacity = TableTests.byteCapacity[.medium]![version - 1]
        let fits = try QRCode.encode(asciiPayload(capacity, seed: UInt64(version)), errorCorrection: .medium, mask: 0)
        #expect(fits.version == version)
        #expect(fits.size == 17 + 4 * version)
        if version < 40 {
            let over = try QRCode.encode(asciiPayload(capacity + 1, seed: UInt64(version)), errorCorrection: .medium, mask: 0)
            #expect(over.version == version + 1)
        } else {
            #expect(throws: QRError.dataTooLong(byteCount: 2332, capacity: 2331, maximumVersion: 40, errorCorrection: .medium)) {
                try QRCode.encode(asciiPayload(capacity + 1, seed: 1), errorCorrection: .medium, mask: 0)
            }
        }
    }

    @Test("too-long data, bad versions and bad masks are typed errors")
    func errors() {
        #expect(throws: QRError.dataTooLong(byteCount: 2954, capacity: 2953, maximumVersion: 40, errorCorrection: .low)) {
            try QRCode.encode([UInt8](repeating: 0x41, count: 2954), errorCorrection: .low)
        }
        #expect(throws: QRError.dataTooLong(byteCount: 15, capacity: 14, maximumVersion: 1, errorCorrection: .medium)) {
            try QRCode.encode([UInt8](repeating: 0x41, count: 15), errorCorrection: .medium, version: 1)
        }
        #expect(throws: QRError.dataTooLong(byteCount: 100, capacity: 84, maximumVersion: 5, errorCorrection: .medium)) {
            try QRCode.encode([UInt8](repeating: 0x41, count: 100), maximumVersion: 5)
        }
        #expect(throws: QRError.invalidVersion(0)) { try QRCode.encode([1], minimumVersion: 0) }
        #expect(throws: QRError.invalidVersion(41)) { try QRCode.encode([1], version: 41) }
        #expect(throws: QRError.invalidVersion(3)) { try QRCode.encode([1], minimumVersion: 5, maximumVersion: 3) }
        #expect(throws: QRError.invalidMask(8)) { try QRCode.encode([1], mask: 8) }
        #expect(throws: QRError.invalidMask(-1)) { try QRCode.encode([1], mask: -1) }
        let error = QRError.dataTooLong(byteCount: 2954, capacity: 2953, maximumVersion: 40, errorCorrection: .low)
        #expect(error.description == "QR payload of 2954 bytes is too long: version 40-L holds at most 2953 bytes")
    }

    @Test("version selection: minimum version, explicit version, empty payload")
    func versionSelection() throws {
        #expect(try QRCode.encode([]).version == 1)
        #expect(try QRCode.encode("x", minimumVersion: 7).version == 7)
        #expect(try QRCode.encode(Array("x".utf8), version: 12).version == 12)
        // The product's payload: a ~300-byte login URL at M needs version 13 (12-M holds 287).
        let url = "sigil://login?tx=" + String(decoding: asciiPayload(250, seed: 9), as: UTF8.self) + "&s=abcdefghijklmnopqrstuvwxyz0"
        #expect(url.utf8.count == 297)
        #expect(try QRCode.encode(url).version == 13)
        // Strings encode as their UTF-8 bytes.
        let text = "Grüße — 日本 🔑"
        #expect(try QRCode.encode(text, errorCorrection: .high) == QRCode.encode(Array(text.utf8), errorCorrection: .high))
    }

    @Test("function patterns, format and version information read back", arguments: 1...40)
    func structure(version: Int) throws {
        let level = QRErrorCorrection.allCases[version % 4]
        let code = try QRCode.encode(asciiPayload(version * 3, seed: 7), errorCorrection: level, version: version)
        let n = code.size
        #expect(n == 17 + 4 * version)
        // Finder patterns (7×7) and separators at three corners.
        for (ox, oy) in [(0, 0), (n - 7, 0), (0, n - 7)] {
            for dy in -1...7 {
                for dx in -1...7 {
                    let x = ox + dx, y = oy + dy
                    guard x >= 0, x < n, y >= 0, y < n else { continue }
                    let ring = max(abs(dx - 3), abs(dy - 3))
                    #expect(code[x, y] == (ring != 2 && ring != 4), "finder module (\(x), \(y))")
                }
            }
        }
        // Timing patterns.
        for i in 8..<(n - 8) {
            #expect(code[i, 6] == (i % 2 == 0))
            #expect(code[6, i] == (i % 2 == 0))
        }
        // Dark module.
        #expect(code[8, 4 * version + 9])
        // Alignment patterns: dark centre, light ring, dark border.
        let positions = QRTables.alignmentPatternPositions[version - 1]
        for cy in positions {
            for cx in positions where !((cx < 9 && cy < 9) || (cx > n - 9 && cy < 9) || (cx < 9 && cy > n - 9)) {
                #expect(code[cx, cy] && !code[cx + 1, cy] && !code[cx, cy - 1] && code[cx + 2, cy + 2] && code[cx - 2, cy])
            }
        }
        // Format information, both copies (Figure 25), bit 14 first.
        let expected = QRMatrixBuilder.formatInformation(level: level, mask: code.mask)
        var first = 0, second = 0
        let firstCoordinates = [
            (0, 8), (1, 8), (2, 8), (3, 8), (4, 8), (5, 8), (7, 8), (8, 8),
            (8, 7), (8, 5), (8, 4), (8, 3), (8, 2), (8, 1), (8, 0),
        ]
        for (x, y) in firstCoordinates { first = first << 1 | (code[x, y] ? 1 : 0) }
        let secondCoordinates = (0..<7).map { (8, n - 1 - $0) } + (0..<8).map { (n - 8 + $0, 8) }
        for (x, y) in secondCoordinates { second = second << 1 | (code[x, y] ? 1 : 0) }
        #expect(first == expected)
        #expect(second == expected)
        // Version information (Figure 27): bit 17 first, upper-right block read row by row
        // from the bottom-right, lower-left block column by column likewise.
        if version >= 7 {
            var upperRight = 0, lowerLeft = 0
            for i in stride(from: 17, through: 0, by: -1) {
                upperRight = upperRight << 1 | (code[n - 11 + i % 3, i / 3] ? 1 : 0)
                lowerLeft = lowerLeft << 1 | (code[i / 3, n - 11 + i % 3] ? 1 : 0)
            }
            #expect(upperRight == QRMatrixBuilder.versionInformation(version: version))
            #expect(lowerLeft == QRMatrixBuilder.versionInformation(version: version))
        }
    }

    @Test(
        "the automatic mask has the lowest penalty of the eight (first on ties)",
        arguments: [
            (1, QRErrorCorrection.medium), (2, .low), (5, .quartile), (7, .high), (13, .medium), (22, .low),
        ])
    func maskSelection(version: Int, level: QRErrorCorrection) throws {
        let payload = asciiPayload(QRCode.byteCapacity(version: version, errorCorrection: level) / 2, seed: UInt64(version))
        let chosen = try QRCode.encode(payload, errorCorrection: level, version: version)
        let penalties = try (0..<8).map { mask in
            let code = try QRCode.encode(payload, errorCorrection: level, version: version, mask: mask)
            let s = QRMatrixBuilder.penaltyScores(code.modules, size: code.size)
            return s.n1 + s.n2 + s.n3 + s.n4
        }
        #expect(chosen.mask == penalties.firstIndex(of: penalties.min()!))
        #expect(chosen == (try QRCode.encode(payload, errorCorrection: level, version: version, mask: chosen.mask)))
    }

    @Test("masks only change non-function modules and follow Table 10")
    func maskPatterns() throws {
        let payload = asciiPayload(20, seed: 3)
        let masked = try (0..<8).map { try QRCode.encode(payload, errorCorrection: .low, version: 2, mask: $0) }
        let layout = QRMatrixBuilder(version: 2)
        // XOR of two masked symbols over the data region equals the XOR of their patterns.
        for m in 1..<8 {
            for y in 0..<25 {
                for x in 0..<25 where !layout.isFunction[y * 25 + x] {
                    let differs = masked[0][x, y] != masked[m][x, y]
                    let expected = QRMatrixBuilder.maskCondition(0, i: y, j: x) != QRMatrixBuilder.maskCondition(m, i: y, j: x)
                    #expect(differs == expected)
                }
            }
        }
        // Spot values of Table 10 (i = row, j = column).
        #expect(QRMatrixBuilder.maskCondition(2, i: 1, j: 3))
        #expect(!QRMatrixBuilder.maskCondition(2, i: 0, j: 1))
        #expect(QRMatrixBuilder.maskCondition(4, i: 1, j: 2))
        #expect(!QRMatrixBuilder.maskCondition(4, i: 2, j: 0))
        #expect(QRMatrixBuilder.maskCondition(5, i: 6, j: 5))
        #expect(!QRMatrixBuilder.maskCondition(5, i: 1, j: 1))
        #expect(!QRMatrixBuilder.maskCondition(6, i: 1, j: 5))
        #expect(QRMatrixBuilder.maskCondition(6, i: 3, j: 2))
        #expect(QRMatrixBuilder.maskCondition(7, i: 0, j: 0))
        #expect(!QRMatrixBuilder.maskCondition(7, i: 1, j: 0))
    }
}

@Suite("Penalty rules (§7.8.3)")
struct PenaltyTests {
    func line(_ s: String) -> [Bool] { s.map { $0 == "1" } }

    @Test("N1: runs of five or more score 3 + (length − 5)")
    func runs() {
        #expect(QRMatrixBuilder.runPenalty(line("0000")) == 0)
        #expect(QRMatrixBuilder.runPenalty(line("11111")) == 3)
        #expect(QRMatrixBuilder.runPenalty(line("0111111")) == 4)
        #expect(QRMatrixBuilder.runPenalty(line("000001111100000")) == 9)
        #expect(QRMatrixBuilder.runPenalty(line("1010101010")) == 0)
    }

    @Test("N3: 1:1:3:1:1 with four light modules on one side, edges counting as light")
    func finderLike() {
        #expect(QRMatrixBuilder.finderLikePenalty(line("00001011101")) == 40)
        #expect(QRMatrixBuilder.finderLikePenalty(line("10111010000")) == 40)
        #expect(QRMatrixBuilder.finderLikePenalty(line("1011101")) == 40)
        #expect(QRMatrixBuilder.finderLikePenalty(line("11011101")) == 40) // light beyond the right edge
        #expect(QRMatrixBuilder.finderLikePenalty(line("1101110111")) == 0)
        #expect(QRMatrixBuilder.finderLikePenalty(line("100010111010001")) == 0)
        #expect(QRMatrixBuilder.finderLikePenalty(line("0000101110100001")) == 40)
        #expect(QRMatrixBuilder.finderLikePenalty(line("1011101011101")) == 80) // two overlapping patterns
    }

    @Test("N2 and N4 on small matrices")
    func blocksAndBalance() {
        // All dark 3×3: four 2×2 blocks (N2 = 12), 100 % dark (N4 = 100),
        // rows/columns of three score no N1.
        let dark = QRMatrixBuilder.penaltyScores([Bool](repeating: true, count: 9), size: 3)
        #expect(dark.n2 == 12 && dark.n4 == 100 && dark.n1 == 0)
        // 4×4 checkerboard: no blocks, exactly 50 % dark.
        let checker = (0..<16).map { ($0 / 4 + $0 % 4) % 2 == 0 }
        let c = QRMatrixBuilder.penaltyScores(checker, size: 4)
        #expect(c.n1 == 0 && c.n2 == 0 && c.n3 == 0 && c.n4 == 0)
        // 10×10 with 56 dark modules: 6 % off balance is one full 5 % step.
        let m56 = (0..<100).map { $0 < 56 }
        #expect(QRMatrixBuilder.penaltyScores(m56, size: 10).n4 == 10)
        let m54 = (0..<100).map { $0 < 54 }
        #expect(QRMatrixBuilder.penaltyScores(m54, size: 10).n4 == 0)
        let m39 = (0..<100).map { $0 < 39 }
        #expect(QRMatrixBuilder.penaltyScores(m39, size: 10).n4 == 20)
    }
}
