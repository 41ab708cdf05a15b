/// Builds the module matrix: function patterns (§6.3), codeword placement (§7.7.3),
/// data masking (§7.8), format information (§7.9.1) and version information (§7.9.2).
struct QRMatrixBuilder: Sendable {
    let version: Int
    let size: Int
    /// Row-major, `true` = dark.
    var modules: [Bool]
    /// Row-major, `true` where a function pattern (or reserved format/version area) sits.
    var isFunction: [Bool]

    init(version: Int) {
        self.version = version
        self.size = QRTables.size(version: version)
        modules = [Bool](repeating: false, count: size * size)
        isFunction = [Bool](repeating: false, count: size * size)
        drawFunctionPatterns()
    }

    /// Encodes `codewords` (already interleaved, with error correction) into a finished symbol.
    static func build(version: Int, level: QRErrorCorrection, codewords: [UInt8], mask: Int?) -> QRCode {
        var base = QRMatrixBuilder(version: version)
        base.placeCodewords(codewords)

        let chosenMask: Int
        var best: QRMatrixBuilder
        if let mask {
            chosenMask = mask
            best = base
            best.applyMask(mask)
            best.drawFormatInformation(level: level, mask: mask)
        } else {
            var bestMask = 0
            var bestPenalty = Int.max
            var bestMatrix = base
            for candidate in 0..<8 {
                var matrix = base
                matrix.applyMask(candidate)
                matrix.drawFormatInformation(level: level, mask: candidate)
                let penalty = matrix.penaltyScore()
                if penalty < bestPenalty {
                    bestPenalty = penalty
                    bestMask = candidate
                    bestMatrix = matrix
                }
            }
            chosenMask = bestMask
            best = bestMatrix
        }
        return QRCode(version: version, errorCorrection: level, mask: chosenMask, modules: best.modules)
    }

    // MARK: Module access (x = column, y = row)

    subscript(x: Int, y: Int) -> Bool {
        get { modules[y * size + x] }
        set { modules[y * size + x] = newValue }
    }

    private mutating func setFunction(_ x: Int, _ y: Int, _ dark: Bool) {
        modules[y * size + x] = dark
        isFunction[y * size + x] = true
    }

    // MARK: Function patterns

    private mutating func drawFunctionPatterns() {
        // Timing patterns (§6.3.5): row 6 and column 6, dark at even indexes.
        for i in 0..<size {
            setFunction(6, i, i % 2 == 0)
            setFunction(i, 6, i % 2 == 0)
        }
        // Finder patterns with their separators (§6.3.3, §6.3.4).
        drawFinderPattern(centerX: 3, centerY: 3)
        drawFinderPattern(centerX: size - 4, centerY: 3)
        drawFinderPattern(centerX: 3, centerY: size - 4)
        // Alignment patterns (§6.3.6): every pair of table coordinates except the three
        // that would overlap the finder patterns.
        let positions = QRTables.alignmentPatternPositions[version - 1]
        let last = positions.count - 1
        for (i, cy) in positions.enumerated() {
            for (j, cx) in positions.enumerated() {
                if (i == 0 && j == 0) || (i == 0 && j == last) || (i == last && j == 0) { continue }
                drawAlignmentPattern(centerX: cx, centerY: cy)
            }
        }
        // Reserve the format information areas (drawn for real once the mask is known) and
        // set the dark module at (8, 4V + 9) (§7.9.1).
        drawFormatBits(0)
        setFunction(8, size - 8, true)
        drawVersionInformation()
    }

    /// A 7×7 finder pattern centred at the given module plus the light separator around it,
    /// clipped to the symbol.
    private mutating func drawFinderPattern(centerX: Int, centerY: Int) {
        for dy in -4...4 {
            for dx in -4...4 {
                let x = centerX + dx, y = centerY + dy
                guard x >= 0, x < size, y >= 0, y < size else { continue }
                let ring = max(abs(dx), abs(dy))
                // Ring 0–1: dark 3×3 core; ring 2: light; ring 3: dark border; ring 4: separator.
                setFunction(x, y, ring != 2 && ring != 4)
            }
        }
    }

    private mutating func drawAlignmentPattern(centerX: Int, centerY: Int) {
        for dy in -2...2 {
            for dx in -2...2 {
                setFunction(centerX + dx, centerY + dy, max(abs(dx), abs(dy)) != 1)
            }
        }
    }

    // MARK: Format and version information

    /// The 15-bit format information (§7.9.1): 2 error correction bits and 3 mask bits,
    /// a BCH(15,5) code with generator x¹⁰+x⁸+x⁵+x⁴+x²+x+1 (0x537), XORed with
    /// 101010000010010 (0x5412).
    static func formatInformation(level: QRErrorCorrection, mask: Int) -> Int {
        let data = level.formatBits << 3 | mask
        return (data << 10 | bchRemainder(data, generator: 0x537, degree: 10)) ^ 0x5412
    }

    /// The 18-bit version information (§7.9.2): 6 version bits and a BCH(18,6) code with
    /// generator x¹²+x¹¹+x¹⁰+x⁹+x⁸+x⁵+x²+1 (0x1F25). Only versions 7...40 carry it.
    static func versionInformation(version: Int) -> Int {
        version << 12 | bchRemainder(version, generator: 0x1F25, degree: 12)
    }

    /// Remainder of data(x)·x^degree divided by `generator` over GF(2).
    static func bchRemainder(_ data: Int, generator: Int, degree: Int) -> Int {
        var value = data << degree
        for shift in stride(from: bitLength(value) - 1, through: degree, by: -1) where value >> shift & 1 == 1 {
            value ^= generator << (shift - degree)
        }
        return value
    }

    private static func bitLength(_ value: Int) -> Int {
        value == 0 ? 0 : Int.bitWidth - value.leadingZeroBitCount
    }

    mutating func drawFormatInformation(level: QRErrorCorrection, mask: Int) {
        drawFormatBits(Self.formatInformation(level: level, mask: mask))
    }

    /// Places the 15 format bits twice (§7.9.1, Figure 25). Bit 14 is the most significant.
    private mutating func drawFormatBits(_ bits: Int) {
        func bit(_ i: Int) -> Bool { (bits >> i) & 1 == 1 }
        // Around the top-left finder: bits 0–7 down column 8 (skipping the timing row 6),
        // bits 8–14 leftwards along row 8 (skipping the timing column 6).
        for i in 0...5 { setFunction(8, i, bit(i)) }
        setFunction(8, 7, bit(6))
        setFunction(8, 8, bit(7))
        setFunction(7, 8, bit(8))
        for i in 9..<15 { setFunction(14 - i, 8, bit(i)) }
        // Second copy: bits 0–7 right-to-left along row 8 under the top-right finder,
        // bits 8–14 down column 8 next to the bottom-left finder.
        for i in 0..<8 { setFunction(size - 1 - i, 8, bit(i)) }
        for i in 8..<15 { setFunction(8, size - 15 + i, bit(i)) }
    }

    /// Places the 18 version bits in the two 6×3 blocks (§7.9.2, Figure 27), versions ≥ 7.
    private mutating func drawVersionInformation() {
        guard version >= 7 else { return }
        let bits = Self.versionInformation(version: version)
        for i in 0..<18 {
            let dark = (bits >> i) & 1 == 1
            let a = size - 11 + i % 3
            let b = i / 3
            setFunction(a, b, dark) // upper right block
            setFunction(b, a, dark) // lower left block
        }
    }

    // MARK: Codeword placement (§7.7.3)

    /// Places the codewords' bits, most significant first, in two-module-wide columns from
    /// the right edge, alternately upwards and downwards, skipping function modules and the
    /// vertical timing pattern column. Modules left over are remainder bits, 0 (light).
    mutating func placeCodewords(_ codewords: [UInt8]) {
        let totalBits = codewords.count * 8
        var index = 0
        var right = size - 1
        while right >= 1 {
            if right == 6 { right = 5 }
            let upward = ((right + 1) & 2) == 0
            for step in 0..<size {
                let y = upward ? size - 1 - step : step
                for dx in 0..<2 {
                    let x = right - dx
                    guard !isFunction[y * size + x], index < totalBits else { continue }
                    self[x, y] = (codewords[index >> 3] >> (7 - UInt8(index & 7))) & 1 == 1
                    index += 1
                }
            }
            right -= 2
        }
        precondition(index == totalBits, "codewords do not fill the symbol")
    }

    /// Number of modules available for data and error correction codewords (and remainder bits).
    var dataModuleCount: Int { isFunction.lazy.filter { !$0 }.count }

    // MARK: Masking (§7.8)

    /// Whether mask pattern `mask` inverts the module at row `i`, column `j` (Table 10).
    static func maskCondition(_ mask: Int, i: Int, j: Int) -> Bool {
        switch mask {
        case 0: (i + j) % 2 == 0
        case 1: i % 2 == 0
        case 2: j % 3 == 0
        case 3: (i + j) % 3 == 0
        case 4: (i / 2 + j / 3) % 2 == 0
        case 5: (i * j) % 2 + (i * j) % 3 == 0
        case 6: ((i * j) % 2 + (i * j) % 3) % 2 == 0
        case 7: ((i + j) % 2 + (i * j) % 3) % 2 == 0
        default: preconditionFailure("mask \(mask) out of range")
        }
    }

    /// XORs the mask pattern over every non-function module.
    mutating func applyMask(_ mask: Int) {
        for y in 0..<size {
            for x in 0..<size where !isFunction[y * size + x] && Self.maskCondition(mask, i: y, j: x) {
                modules[y * size + x].toggle()
            }
        }
    }

    // MARK: Penalty score (§7.8.3, Table 11)

    static let penaltyN1 = 3
    static let penaltyN2 = 3
    static let penaltyN3 = 40
    static let penaltyN4 = 10

    /// The total penalty of the current matrix; the encoder picks the mask with the lowest.
    func penaltyScore() -> Int {
        let scores = Self.penaltyScores(modules, size: size)
        return scores.n1 + scores.n2 + scores.n3 + scores.n4
    }

    /// The four penalty features of Table 11 for a row-major `size`×`size` matrix:
    /// - N1: each run of 5 + i same-coloured modules in a row or column scores 3 + i;
    /// - N2: each 2×2 block of one colour scores 3 (an m×n block thus scores 3(m−1)(n−1));
    /// - N3: each dark-light-dark-dark-dark-light-dark (1:1:3:1:1) pattern in a row or column
    ///   with 4 light modules before or after it scores 40; modules beyond the symbol's edge
    ///   count as light (the quiet zone);
    /// - N4: 10 for every full 5 % the dark proportion deviates from 50 %.
    static func penaltyScores(_ modules: [Bool], size: Int) -> (n1: Int, n2: Int, n3: Int, n4: Int) {
        precondition(modules.count == size * size && size > 0)
        var n1 = 0, n2 = 0, n3 = 0
        var line = [Bool](repeating: false, count: size)
        for horizontal in [true, false] {
            for a in 0..<size {
                for b in 0..<size {
                    line[b] = horizontal ? modules[a * size + b] : modules[b * size + a]
                }
                n1 += runPenalty(line)
                n3 += finderLikePenalty(line)
            }
        }
        var dark = 0
        for y in 0..<size {
            for x in 0..<size {
                let m = modules[y * size + x]
                if m { dark += 1 }
                if x + 1 < size, y + 1 < size,
                    modules[y * size + x + 1] == m,
                    modules[(y + 1) * size + x] == m,
                    modules[(y + 1) * size + x + 1] == m
                {
                    n2 += penaltyN2
                }
            }
        }
        let total = size * size
        // k = floor(|dark/total − 1/2| / 5 %), computed in integers.
        let k = abs(dark * 20 - total * 10) / total
        return (n1, n2, n3, k * penaltyN4)
    }

    static func runPenalty(_ line: [Bool]) -> Int {
        var penalty = 0
        var run = 0
        var previous: Bool?
        for module in line {
            if module == previous {
                run += 1
            } else {
                if run >= 5 { penalty += penaltyN1 + run - 5 }
                run = 1
                previous = module
            }
        }
        if run >= 5 { penalty += penaltyN1 + run - 5 }
        return penalty
    }

    private static let finderLike: [Bool] = [true, false, true, true, true, false, true]

    static func finderLikePenalty(_ line: [Bool]) -> Int {
        let n = line.count
        func light(_ range: Range<Int>) -> Bool {
            range.allSatisfy { $0 < 0 || $0 >= n || !line[$0] }
        }
        var penalty = 0
        var start = 0
        while start + 7 <= n {
            var matches = true
            for k in 0..<7 where line[start + k] != finderLike[k] {
                matches = false
                break
            }
            if matches, light((start - 4)..<start) || light((start + 7)..<(start + 11)) {
                penalty += penaltyN3
            }
            start += 1
        }
        return penalty
    }
}
