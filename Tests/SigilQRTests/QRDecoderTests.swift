import Foundation
import Testing

@testable import SigilQR

// Our own QR reader (QRDecoder, QRDetector, ReedSolomonDecoder) against our encoder's
// images, qrencode's images (a different encoder), rasterised SVGs at non-integer scales,
// codes on a busy page and damaged codes.

/// Test images built in memory.
enum TestImages {
    /// A white `width`×`height` canvas.
    static func canvas(width: Int, height: Int, value: UInt8 = 255) -> [UInt8] {
        [UInt8](repeating: value, count: width * height)
    }

    /// Draws `code` (nearest-neighbour, `scale` pixels per module, any positive real) with its
    /// top-left module corner at (`left`, `top`) and a light quiet zone of 4 modules.
    static func draw(_ code: QRCode, into pixels: inout [UInt8], width: Int, left: Double, top: Double, scale: Double, dark: UInt8 = 0, light: UInt8 = 255) {
        let height = pixels.count / width
        let extent = Double(code.size) * scale
        let x0 = max(0, Int((left - 4 * scale).rounded(.down))), x1 = min(width, Int((left + extent + 4 * scale).rounded(.up)))
        let y0 = max(0, Int((top - 4 * scale).rounded(.down))), y1 = min(height, Int((top + extent + 4 * scale).rounded(.up)))
        for y in y0..<y1 {
            for x in x0..<x1 {
                let mx = Int(((Double(x) + 0.5 - left) / scale).rounded(.down))
                let my = Int(((Double(y) + 0.5 - top) / scale).rounded(.down))
                let isDark = mx >= 0 && my >= 0 && mx < code.size && my < code.size && code[mx, my]
                pixels[y * width + x] = isDark ? dark : light
            }
        }
    }

    static func fill(_ pixels: inout [UInt8], width: Int, x: Int, y: Int, w: Int, h: Int, value: UInt8 = 0) {
        for yy in y..<(y + h) { for xx in x..<(x + w) { pixels[yy * width + xx] = value } }
    }

    /// A code with the modules of the given codewords (indexes in the interleaved stream)
    /// inverted — every bit of each codeword flipped.
    static func damaged(_ code: QRCode, codewords: [Int]) -> QRCode {
        let order = QRDecoder.placementOrder(version: code.version)
        var modules = code.rows.flatMap { $0 }
        for index in codewords {
            for bit in 0..<8 {
                let (x, y) = order[index * 8 + bit]
                modules[y * code.size + x].toggle()
            }
        }
        return QRCode(version: code.version, errorCorrection: code.errorCorrection, mask: code.mask, modules: modules)
    }
}

@Suite("QR decoder")
struct QRDecoderTests {
    static let allVersionsAndLevels: [(Int, QRErrorCorrection)] = (1...40).flatMap { v in QRErrorCorrection.allCases.map { (v, $0) } }

    @Test("every version 1–40 at every level round-trips through our PNG", arguments: allVersionsAndLevels)
    func roundTrip(version: Int, level: QRErrorCorrection) throws {
        let capacity = QRCode.byteCapacity(version: version, errorCorrection: level)
        var state = UInt64(version * 4 + level.tableIndex)
        let payload = (0..<capacity).map { _ in UInt8(truncatingIfNeeded: splitMix(&state)) }
        let code = try QRCode.encode(payload, errorCorrection: level, version: version)
        let image = try PNGImage.decode(code.png(scale: version > 25 ? 2 : 3))
        let result = try QRDecoder.decodeDetailed(image: image)
        #expect(result.bytes == payload)
        #expect(result.version == version)
        #expect(result.errorCorrection == level)
        #expect(result.mask == code.mask)
        #expect(result.correctedCodewords == 0)
    }

    @Test("every mask pattern decodes", arguments: 0..<8)
    func masks(mask: Int) throws {
        let code = try QRCode.encode(Array("mask \(mask) sigil://login".utf8), errorCorrection: .quartile, version: 8, mask: mask)
        let text = try QRDecoder.decodeString(image: PNGImage.decode(code.png(scale: 4)))
        #expect(text == "mask \(mask) sigil://login")
    }

    @Test("the login URL decodes as a string")
    func loginString() throws {
        let code = try QRCode.encode(loginURL)
        #expect(try QRDecoder.decodeString(image: PNGImage.decode(code.png())) == loginURL)
        let unicode = try QRCode.encode(unicodeText, errorCorrection: .high)
        #expect(try QRDecoder.decodeString(image: PNGImage.decode(unicode.png(scale: 5))) == unicodeText)
    }

    @Test("non-integer scales and offsets (nearest-neighbour)", arguments: [1.9, 2.5, 3.5, 4.25, 6.7, 11.3])
    func nonIntegerScale(scale: Double) throws {
        let code = try QRCode.encode(loginURL, errorCorrection: .medium)
        let side = Int((Double(code.size + 8) * scale).rounded(.up)) + 37
        var pixels = TestImages.canvas(width: side + 20, height: side)
        TestImages.draw(code, into: &pixels, width: side + 20, left: 4 * scale + 17.3, top: 4 * scale + 11.6, scale: scale)
        let image = PNGImage(width: side + 20, height: side, luminance: pixels)
        #expect(try QRDecoder.decode(image: image) == Array(loginURL.utf8))
    }

    @Test("version 40 at 2.5 px per module")
    func largeNonInteger() throws {
        let payload = asciiPayload(1200, seed: 5)
        let code = try QRCode.encode(payload, errorCorrection: .low, minimumVersion: 40)
        let side = Int(Double(code.size + 8) * 2.5) + 3
        var pixels = TestImages.canvas(width: side, height: side)
        TestImages.draw(code, into: &pixels, width: side, left: 10.4, top: 10.1, scale: 2.5)
        #expect(try QRDecoder.decode(image: PNGImage(width: side, height: side, luminance: pixels)) == payload)
    }

    @Test("a code on a 1024×800 page with other dark shapes around it")
    func busyPage() throws {
        let width = 1024, height = 800
        var pixels = TestImages.canvas(width: width, height: height, value: 246)
        // Header bar, text-like stripes, a button and a decoy finder-like nested square.
        TestImages.fill(&pixels, width: width, x: 0, y: 0, w: width, h: 56, value: 30)
        for line in 0..<12 {
            for word in 0..<9 {
                TestImages.fill(&pixels, width: width, x: 40 + word * 46, y: 120 + line * 22, w: 38 - (word * 7 + line) % 13, h: 11, value: 40)
            }
        }
        TestImages.fill(&pixels, width: width, x: 40, y: 420, w: 180, h: 44, value: 20)
        TestImages.fill(&pixels, width: width, x: 300, y: 600, w: 70, h: 70, value: 0)
        TestImages.fill(&pixels, width: width, x: 310, y: 610, w: 50, h: 50, value: 255)
        TestImages.fill(&pixels, width: width, x: 320, y: 620, w: 30, h: 30, value: 0)
        let code = try QRCode.encode(loginURL)
        TestImages.draw(code, into: &pixels, width: width, left: 600.5, top: 150, scale: 5)
        let image = PNGImage(width: width, height: height, luminance: pixels)
        let clock = ContinuousClock()
        var decoded: [UInt8] = []
        let elapsed = try clock.measure { decoded = try QRDecoder.decode(image: image) }
        #expect(decoded == Array(loginURL.utf8))
        print("QR decode of a 1024×800 page: \(elapsed)")
    }

    @Test(
        "damaged codes: up to the correctable number of codewords per block",
        arguments: [
            (1, QRErrorCorrection.low), (1, .medium), (1, .high), (2, .low), (3, .low), (5, .quartile),
            (7, .medium), (10, .high), (13, .medium), (22, .high), (40, .low), (40, .high),
        ])
    func damaged(version: Int, level: QRErrorCorrection) throws {
        let payload = asciiPayload(QRCode.byteCapacity(version: version, errorCorrection: level) / 2, seed: UInt64(version))
        let code = try QRCode.encode(payload, errorCorrection: level, version: version)
        let t = QRDecoder.correctableCodewordsPerBlock(version: version, level: level)
        let layout = QRDecoder.blockLayout(version: version, level: level)
        var state = UInt64(version * 31 + level.tableIndex)
        var flipped: [Int] = []
        for block in layout {
            var chosen = Set<Int>()
            while chosen.count < t { chosen.insert(block[Int(splitMix(&state) % UInt64(block.count))]) }
            flipped += chosen
        }
        let broken = TestImages.damaged(code, codewords: flipped)
        let result = try QRDecoder.decodeDetailed(image: PNGImage.decode(broken.png(scale: 3)))
        #expect(result.bytes == payload)
        #expect(result.correctedCodewords == flipped.count)

        // Beyond capacity: flip a third of the first block on top.
        let extra = layout[0].filter { !flipped.contains($0) }.prefix(max(t + 1, layout[0].count / 3))
        let hopeless = TestImages.damaged(code, codewords: flipped + extra)
        #expect(throws: QRDecodingError.uncorrectable) {
            try QRDecoder.decode(image: PNGImage.decode(hopeless.png(scale: 3)))
        }
    }

    @Test("a blank or non-QR image is notFound")
    func notFound() throws {
        #expect(throws: QRDecodingError.notFound) {
            try QRDecoder.decode(image: PNGImage(width: 100, height: 80, luminance: TestImages.canvas(width: 100, height: 80)))
        }
        var pixels = TestImages.canvas(width: 200, height: 200)
        TestImages.fill(&pixels, width: 200, x: 20, y: 20, w: 100, h: 30)
        #expect(throws: QRDecodingError.notFound) {
            try QRDecoder.decode(image: PNGImage(width: 200, height: 200, luminance: pixels))
        }
    }

    @Test("small rotation (3°) decodes")
    func rotated() throws {
        let code = try QRCode.encode("sigil://login?tx=rotated", errorCorrection: .medium)
        let width = 400
        var pixels = TestImages.canvas(width: width, height: width)
        let angle = 3.0 * Double.pi / 180, scale = 6.0
        let c = cos(angle), s = sin(angle)
        for y in 0..<width {
            for x in 0..<width {
                let dx = Double(x) + 0.5 - 200, dy = Double(y) + 0.5 - 200
                let u = (c * dx + s * dy) / scale + Double(code.size) / 2
                let v = (-s * dx + c * dy) / scale + Double(code.size) / 2
                let mx = Int(u.rounded(.down)), my = Int(v.rounded(.down))
                if mx >= 0, my >= 0, mx < code.size, my < code.size, code[mx, my] { pixels[y * width + x] = 0 }
            }
        }
        #expect(try QRDecoder.decodeString(image: PNGImage(width: width, height: width, luminance: pixels)) == "sigil://login?tx=rotated")
    }
}

@Suite("QR segments and Reed–Solomon decoding")
struct QRSegmentTests {
    /// Builds data codewords from (value, bit count) fields, padded like the encoder does.
    static func codewords(_ fields: [(Int, Int)], version: Int, level: QRErrorCorrection) -> [UInt8] {
        var bits = BitBuffer()
        for (value, count) in fields { bits.append(value, count: count) }
        return bits.paddedCodewords(capacityBits: QRTables.blockStructure(version: version, level: level).dataCodewords * 8)
    }

    @Test("numeric, alphanumeric, byte, ECI and Kanji segments")
    func segments() throws {
        // "01234567" numeric (ISO 18004 example), then "AC-42" alphanumeric, ECI 26, byte "é".
        let data = Self.codewords(
            [
                (0b0001, 4), (8, 10), (12, 10), (345, 10), (67, 7),
                (0b0010, 4), (5, 9), (10 * 45 + 12, 11), (41 * 45 + 4, 11), (2, 6),
                (0b0111, 4), (26, 8),
                (0b0100, 4), (2, 8), (0xC3, 8), (0xA9, 8),
                (0b1000, 4), (1, 8), (0x0AAA, 13),
            ], version: 2, level: .low)
        let (bytes, eci) = try QRDecoder.parseSegments(data, version: 2)
        // Kanji value 0x0AAA → 0x0AAA / 0xC0 = 0x0E, % 0xC0 = 0x2A → 0x0E2A + 0x8140 = 0x8F6A.
        #expect(bytes == Array("01234567AC-42".utf8) + [0xC3, 0xA9, 0x8F, 0x6A])
        #expect(eci == 26)
    }

    @Test("a bad mode indicator is invalidData")
    func badMode() {
        let data = Self.codewords([(0b1111, 4)], version: 1, level: .low)
        #expect(throws: QRDecodingError.self) { try QRDecoder.parseSegments(data, version: 1) }
    }

    @Test("Reed–Solomon corrects random errors up to half the EC codewords", arguments: [7, 10, 16, 22, 28, 30])
    func reedSolomon(ecCount: Int) {
        var state = UInt64(ecCount)
        for trial in 0..<40 {
            let dataCount = 10 + Int(splitMix(&state) % 100)
            let data = (0..<dataCount).map { _ in UInt8(truncatingIfNeeded: splitMix(&state)) }
            let codeword = data + ReedSolomon.errorCorrection(for: data, degree: ecCount)
            let errors = trial % (ecCount / 2 + 1)
            var received = codeword
            var positions = Set<Int>()
            while positions.count < errors { positions.insert(Int(splitMix(&state) % UInt64(codeword.count))) }
            for p in positions { received[p] ^= UInt8(1 + splitMix(&state) % 255) }
            let fixed = ReedSolomonDecoder.correct(&received, ecCount: ecCount)
            #expect(fixed == errors)
            #expect(received == codeword)
        }
    }

    @Test("Reed–Solomon rejects too many errors (detected or at least never silently accepted as the original)")
    func reedSolomonBeyond() {
        var state: UInt64 = 7
        var rejected = 0
        for _ in 0..<50 {
            let data = (0..<100).map { _ in UInt8(truncatingIfNeeded: splitMix(&state)) }
            let codeword = data + ReedSolomon.errorCorrection(for: data, degree: 30)
            var received = codeword
            for p in 0..<20 { received[p * 5] ^= UInt8(1 + splitMix(&state) % 255) }
            if ReedSolomonDecoder.correct(&received, ecCount: 30) == nil { rejected += 1 }
            #expect(received != codeword)
        }
        #expect(rejected == 50)
    }

    @Test("format information is read through up to 3 bit errors")
    func formatErrors() throws {
        let code = try QRCode.encode(Array("format".utf8), errorCorrection: .quartile, version: 3, mask: 5)
        var modules = code.rows.flatMap { $0 }
        // Three errors in the first copy, the second copy wiped entirely.
        for (x, y) in [(8, 0), (8, 3), (2, 8)] { modules[y * code.size + x].toggle() }
        for i in 0..<8 { modules[8 * code.size + code.size - 1 - i] = false }
        for i in 8..<15 { modules[(code.size - 15 + i) * code.size + 8] = false }
        let result = try QRDecoder.decode(modules: modules, size: code.size)
        #expect(result.bytes == Array("format".utf8))
        #expect(result.mask == 5 && result.errorCorrection == .quartile)
    }
}
