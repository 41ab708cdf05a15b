// Reed–Solomon decoding for QR code blocks: syndromes, Berlekamp–Massey, Chien search and
// Forney's algorithm over GF(256) with the generator roots α⁰…α^(n−k−1) (first root b = 0).

extension GF256 {
    /// a / b for b ≠ 0.
    @inline(__always)
    static func divide(_ a: UInt8, _ b: UInt8) -> UInt8 {
        precondition(b != 0, "division by zero in GF(256)")
        if a == 0 { return 0 }
        return exp[(log[Int(a)] + 255 - log[Int(b)]) % 255]
    }

    /// α^power for any integer power.
    @inline(__always)
    static func power(_ power: Int) -> UInt8 {
        exp[((power % 255) + 255) % 255]
    }

    /// The inverse of a ≠ 0.
    @inline(__always)
    static func inverse(_ a: UInt8) -> UInt8 { divide(1, a) }
}

enum ReedSolomonDecoder {
    /// Corrects `block` (data codewords then `ecCount` error correction codewords, the first
    /// codeword being the coefficient of the highest power) in place.
    ///
    /// - Parameter maxErrors: the most errors to accept; fewer than ⌊ecCount / 2⌋ for the
    ///   symbols whose Table 9 entry reserves misdecode-protection codewords.
    /// - Returns: the number of corrected codewords, or nil if the block has more errors than
    ///   can be corrected (detected as a locator without the right number of roots, an error
    ///   value of zero, a position outside the block, or more than `maxErrors` errors).
    static func correct(_ block: inout [UInt8], ecCount: Int, maxErrors: Int? = nil) -> Int? {
        let n = block.count
        guard ecCount >= 1, ecCount < n || ecCount == n else { return nil }

        // Syndromes S_j = r(α^j), j = 0..<ecCount (Horner's rule).
        var syndromes = [UInt8](repeating: 0, count: ecCount)
        var allZero = true
        for j in 0..<ecCount {
            let x = GF256.exp[j]
            var value: UInt8 = 0
            for c in block { value = GF256.multiply(value, x) ^ c }
            syndromes[j] = value
            if value != 0 { allZero = false }
        }
        if allZero { return 0 }

        // Berlekamp–Massey: the shortest LFSR Λ(x) (Λ₀ = 1, lowest degree first) generating S.
        var lambda: [UInt8] = [1]
        var previous: [UInt8] = [1]
        var length = 0
        var shift = 1
        var previousDiscrepancy: UInt8 = 1
        for r in 0..<ecCount {
            var discrepancy = syndromes[r]
            for i in 1...max(1, length) where i < lambda.count && i <= r {
                discrepancy ^= GF256.multiply(lambda[i], syndromes[r - i])
            }
            if discrepancy == 0 {
                shift += 1
                continue
            }
            let factor = GF256.divide(discrepancy, previousDiscrepancy)
            var updated = lambda
            if updated.count < previous.count + shift {
                updated += [UInt8](repeating: 0, count: previous.count + shift - updated.count)
            }
            for (i, c) in previous.enumerated() { updated[i + shift] ^= GF256.multiply(factor, c) }
            if 2 * length <= r {
                previous = lambda
                length = r + 1 - length
                previousDiscrepancy = discrepancy
                shift = 1
            } else {
                shift += 1
            }
            lambda = updated
        }
        while lambda.count > 1 && lambda.last == 0 { lambda.removeLast() }
        let errorCount = lambda.count - 1
        guard errorCount == length, errorCount >= 1, 2 * errorCount <= ecCount else { return nil }
        if let maxErrors, errorCount > maxErrors { return nil }

        // Chien search: codeword index k holds the coefficient of x^(n−1−k); an error there
        // has locator X = α^(n−1−k), a root of Λ at X⁻¹.
        var positions: [Int] = []
        var locators: [UInt8] = []
        for k in 0..<n {
            let power = n - 1 - k
            let inverse = GF256.power(-power)
            var value: UInt8 = 0
            for c in lambda.reversed() { value = GF256.multiply(value, inverse) ^ c }
            if value == 0 {
                positions.append(k)
                locators.append(GF256.exp[power % 255])
            }
        }
        guard positions.count == errorCount else { return nil }

        // Error evaluator Ω(x) = S(x)Λ(x) mod x^ecCount, with S(x) = Σ S_j x^j.
        var omega = [UInt8](repeating: 0, count: ecCount)
        for (i, s) in syndromes.enumerated() where s != 0 {
            for (j, l) in lambda.enumerated() where i + j < ecCount {
                omega[i + j] ^= GF256.multiply(s, l)
            }
        }

        // Forney (b = 0): e = X · Ω(X⁻¹) / Λ'(X⁻¹); the formal derivative keeps odd terms.
        for (position, locator) in zip(positions, locators) {
            let inverse = GF256.inverse(locator)
            var numerator: UInt8 = 0
            for c in omega.reversed() { numerator = GF256.multiply(numerator, inverse) ^ c }
            var denominator: UInt8 = 0
            var xPower: UInt8 = 1 // X⁻¹^(i−1) for odd i
            let inverseSquared = GF256.multiply(inverse, inverse)
            for i in stride(from: 1, to: lambda.count, by: 2) {
                denominator ^= GF256.multiply(lambda[i], xPower)
                xPower = GF256.multiply(xPower, inverseSquared)
            }
            guard denominator != 0 else { return nil }
            let magnitude = GF256.multiply(locator, GF256.divide(numerator, denominator))
            guard magnitude != 0 else { return nil }
            block[position] ^= magnitude
        }

        // The corrected block must be a codeword.
        for j in 0..<ecCount {
            let x = GF256.exp[j]
            var value: UInt8 = 0
            for c in block { value = GF256.multiply(value, x) ^ c }
            if value != 0 { return nil }
        }
        return errorCount
    }
}
