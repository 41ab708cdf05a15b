/// Arithmetic in GF(2⁸) with the QR code's primitive polynomial
/// x⁸ + x⁴ + x³ + x² + 1 (0x11D) and generator α = 2 (ISO/IEC 18004:2015 §7.5.2).
enum GF256 {
    /// `exp[i]` = αⁱ for i in 0..<510 (doubled so that `exp[log a + log b]` needs no modulo).
    static let exp: [UInt8] = {
        var table = [UInt8](repeating: 0, count: 510)
        var x = 1
        for i in 0..<255 {
            table[i] = UInt8(x)
            table[i + 255] = UInt8(x)
            x <<= 1
            if x & 0x100 != 0 { x ^= 0x11D }
        }
        return table
    }()

    /// `log[a]` = i such that αⁱ = a, for a in 1...255 (`log[0]` is unused).
    static let log: [Int] = {
        var table = [Int](repeating: 0, count: 256)
        for i in 0..<255 { table[Int(exp[i])] = i }
        return table
    }()

    static func multiply(_ a: UInt8, _ b: UInt8) -> UInt8 {
        if a == 0 || b == 0 { return 0 }
        return exp[log[Int(a)] + log[Int(b)]]
    }
}

/// Reed–Solomon error correction codewords as specified in ISO/IEC 18004:2015 §7.5.2.
enum ReedSolomon {
    /// The generator polynomial g(x) = (x − α⁰)(x − α¹)…(x − α^(degree−1)), coefficients
    /// from the highest power down; the leading coefficient is always 1.
    static func generator(degree: Int) -> [UInt8] {
        precondition(degree >= 1 && degree <= 254, "Reed–Solomon degree out of range")
        var poly: [UInt8] = [1]
        for i in 0..<degree {
            // Multiply by (x + αⁱ); in GF(2⁸) subtraction is addition.
            let root = GF256.exp[i]
            var next = [UInt8](repeating: 0, count: poly.count + 1)
            for (j, c) in poly.enumerated() {
                next[j] ^= c
                next[j + 1] ^= GF256.multiply(c, root)
            }
            poly = next
        }
        return poly
    }

    /// The `degree` error correction codewords for `data`: the remainder of
    /// data(x)·x^degree divided by the generator polynomial.
    static func errorCorrection(for data: [UInt8], degree: Int) -> [UInt8] {
        errorCorrection(for: data, generator: generator(degree: degree))
    }

    static func errorCorrection(for data: [UInt8], generator: [UInt8]) -> [UInt8] {
        let degree = generator.count - 1
        var remainder = [UInt8](repeating: 0, count: degree)
        for byte in data {
            let factor = byte ^ remainder[0]
            for i in 0..<(degree - 1) {
                remainder[i] = remainder[i + 1] ^ GF256.multiply(generator[i + 1], factor)
            }
            remainder[degree - 1] = GF256.multiply(generator[degree], factor)
        }
        return remainder
    }
}
