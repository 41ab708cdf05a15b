import Testing

@testable import SigilQR

/// GF(256) multiplication without tables (shift-and-add, reduce by 0x11D): the reference
/// the table-driven field is checked against.
func slowMultiply(_ a: UInt8, _ b: UInt8) -> UInt8 {
    var a = UInt16(a), b = b, product: UInt16 = 0
    while b != 0 {
        if b & 1 == 1 { product ^= a }
        b >>= 1
        a <<= 1
        if a & 0x100 != 0 { a ^= 0x11D }
    }
    return UInt8(product)
}

@Suite("GF(256) and Reed–Solomon")
struct ReedSolomonTests {
    @Test("exp/log tables: α = 2 generates the field, α⁸ = 0x1D, log inverts exp")
    func tables() {
        #expect(GF256.exp[0] == 1)
        #expect(GF256.exp[1] == 2)
        #expect(GF256.exp[8] == 0x1D)
        #expect(GF256.exp[255] == 1)
        #expect(Set(GF256.exp[0..<255]).count == 255) // primitive: all non-zero elements
        for value in 1...255 {
            #expect(Int(GF256.exp[GF256.log[value]]) == value)
        }
    }

    @Test("table multiplication equals shift-and-add multiplication for all 65 536 pairs")
    func multiplication() {
        var mismatches = 0
        for a in 0...255 {
            for b in 0...255 where GF256.multiply(UInt8(a), UInt8(b)) != slowMultiply(UInt8(a), UInt8(b)) {
                mismatches += 1
            }
        }
        #expect(mismatches == 0)
    }

    /// ISO/IEC 18004:2015 Annex A lists the generator polynomials as exponents of α.
    @Test("generator polynomials for 7 and 10 codewords (Annex A)")
    func generatorPolynomials() {
        let g7 = ReedSolomon.generator(degree: 7).map { GF256.log[Int($0)] }
        #expect(g7 == [0, 87, 229, 146, 149, 238, 102, 21])
        let g10 = ReedSolomon.generator(degree: 10).map { GF256.log[Int($0)] }
        #expect(g10 == [0, 251, 67, 46, 61, 118, 70, 64, 94, 32, 45])
    }

    @Test("every generator polynomial vanishes at α⁰ … α^(n−1)", arguments: [7, 10, 13, 17, 18, 22, 26, 28, 30])
    func generatorRoots(degree: Int) {
        let g = ReedSolomon.generator(degree: degree)
        #expect(g.count == degree + 1 && g[0] == 1)
        for i in 0..<degree {
            // Horner evaluation at αⁱ with the reference multiplication.
            let x = GF256.exp[i]
            var value: UInt8 = 0
            for c in g { value = slowMultiply(value, x) ^ c }
            #expect(value == 0, "g(α^\(i)) ≠ 0 for degree \(degree)")
        }
    }

    /// The standard's worked example: "01234567" in numeric mode at 1-M (Annex I).
    @Test("01234567 at 1-M: data and error correction codewords")
    func numericExample() {
        // Numeric mode built here by hand: 0001, count 8 in 10 bits, 012 345 in 10 bits, 67 in 7.
        var bits = BitBuffer()
        bits.append(0b0001, count: 4)
        bits.append(8, count: 10)
        bits.append(12, count: 10)
        bits.append(345, count: 10)
        bits.append(67, count: 7)
        let data = bits.paddedCodewords(capacityBits: 16 * 8)
        #expect(data == [16, 32, 12, 86, 97, 128, 236, 17, 236, 17, 236, 17, 236, 17, 236, 17])
        #expect(ReedSolomon.errorCorrection(for: data, degree: 10) == [165, 36, 212, 193, 237, 54, 199, 135, 44, 85])
    }

    @Test("HELLO WORLD at 1-Q: error correction codewords")
    func alphanumericExample() {
        let data: [UInt8] = [32, 91, 11, 120, 209, 114, 220, 77, 67, 64, 236, 17, 236]
        #expect(
            ReedSolomon.errorCorrection(for: data, degree: 13)
                == [168, 72, 22, 82, 217, 54, 156, 0, 46, 15, 180, 122, 16])
    }

    @Test("a codeword with its error correction is divisible by the generator")
    func codewordIsMultipleOfGenerator() {
        var state: UInt64 = 0x5151
        for degree in [10, 18, 30] {
            let data = (0..<40).map { _ in UInt8(truncatingIfNeeded: splitMix(&state)) }
            let codeword = data + ReedSolomon.errorCorrection(for: data, degree: degree)
            for i in 0..<degree {
                let x = GF256.exp[i]
                var value: UInt8 = 0
                for c in codeword { value = slowMultiply(value, x) ^ c }
                #expect(value == 0)
            }
        }
    }
}

/// SplitMix64, for deterministic pseudo-random test payloads.
func splitMix(_ state: inout UInt64) -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
}
