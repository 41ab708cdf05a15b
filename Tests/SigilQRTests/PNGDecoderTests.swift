import Foundation
import SigilCore
import Testing

@testable import SigilQR

// PNGImage against PNGs written by other software: Python's zlib (stored, fixed-Huffman and
// dynamic-Huffman streams) for every colour type, bit depth and filter, and librsvg/cairo
// (rsvg-convert) for real-world RGBA files. Plus two checked-in fixtures and the error cases.

extension ExternalTools {
    /// The path of `name`, or nil after failing the test (CI=true) or printing a skip notice.
    static func require(_ name: String, install: String, sourceLocation: SourceLocation = #_sourceLocation) -> String? {
        if let path = find(name) { return path }
        let message = "\(name) not found on PATH: install it with `\(install)`"
        if isCI {
            Issue.record("\(message) (required when CI=true)", sourceLocation: sourceLocation)
        } else {
            print("SKIPPED: \(message)")
        }
        return nil
    }
}

/// Writes PNG fixtures with Python's zlib and struct, independent of our encoder, plus the
/// expected 8-bit luminance of each (same Rec. 601 integer formula and alpha compositing).
let pngFixtureScript = #"""
    import os, struct, sys, zlib

    out = sys.argv[1]

    def chunk(kind, data):
        return struct.pack('>I', len(data)) + kind + data + struct.pack('>I', zlib.crc32(kind + data) & 0xffffffff)

    def filtered(rows, bpp, filters):
        result, prev = bytearray(), bytes(len(rows[0]))
        for y, row in enumerate(rows):
            f = filters[y % len(filters)]
            result.append(f)
            for i, x in enumerate(row):
                a = row[i - bpp] if i >= bpp else 0
                b = prev[i]
                c = prev[i - bpp] if i >= bpp else 0
                if f == 0: p = 0
                elif f == 1: p = a
                elif f == 2: p = b
                elif f == 3: p = (a + b) // 2
                else:
                    e = a + b - c
                    pa, pb, pc = abs(e - a), abs(e - b), abs(e - c)
                    p = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                result.append((x - p) & 255)
            prev = row
        return bytes(result)

    def compress(data, mode):
        if mode == 'stored':
            return zlib.compress(data, 0)
        if mode == 'fixed':
            c = zlib.compressobj(9, zlib.DEFLATED, 15, 9, zlib.Z_FIXED)
            return c.compress(data) + c.flush()
        return zlib.compress(data, 9)

    def luma(r, g, b): return (77 * r + 150 * g + 29 * b + 128) >> 8
    def over_white(l, a): return (l * a + 255 * (255 - a) + 127) // 255

    def pack(samples, depth):
        if depth == 8: return bytes(samples)
        if depth == 16: return b''.join(struct.pack('>H', s) for s in samples)
        per = 8 // depth
        out = bytearray()
        for i in range(0, len(samples), per):
            byte = 0
            for j in range(per):
                s = samples[i + j] if i + j < len(samples) else 0
                byte |= s << (8 - depth * (j + 1))
            out.append(byte)
        return bytes(out)

    def write(name, w, h, ct, depth, pixel, filters, mode='dynamic', plte=None, trns=None, idat_split=None):
        channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[ct]
        bpp = max(1, channels * depth // 8)
        rows, lum = [], bytearray()
        for y in range(h):
            samples = []
            for x in range(w):
                s, l = pixel(x, y)
                samples += s
                lum.append(l)
            rows.append(pack(samples, depth))
        data = compress(filtered(rows, bpp, filters), mode)
        png = b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, depth, ct, 0, 0, 0))
        png += chunk(b'tEXt', b'Software\x00fixture.py')
        if plte: png += chunk(b'PLTE', plte)
        if trns: png += chunk(b'tRNS', trns)
        parts = [data] if not idat_split else [data[i:i + idat_split] for i in range(0, len(data), idat_split)]
        for part in parts: png += chunk(b'IDAT', part)
        png += chunk(b'IEND', b'')
        open(os.path.join(out, name + '.png'), 'wb').write(png)
        open(os.path.join(out, name + '.lum'), 'wb').write(bytes(lum))

    W, H = 13, 11
    def v(x, y, k=0): return (x * 37 + y * 91 + k * 53 + (x * y) % 7) & 255
    ALL = [0, 1, 2, 3, 4]
    cases = []
    for depth in (1, 2, 4, 8, 16):
        m = (1 << depth) - 1
        def grey(x, y, depth=depth, m=m):
            if depth == 16:
                s = v(x, y) * 256 + x
                return [s], s >> 8
            s = v(x, y) & m
            hi = s * 255 // m
            return [s], hi
        cases.append(('grey%d' % depth, 0, depth, grey, None, None))
    for depth in (8, 16):
        def rgb(x, y, depth=depth):
            r, g, b = v(x, y), v(x, y, 1), v(x, y, 2)
            s = [r, g, b] if depth == 8 else [r * 256 + x, g * 256 + y, b * 256 + 3]
            return s, luma(r, g, b)
        def ga(x, y, depth=depth):
            l, a = v(x, y), v(x, y, 3)
            s = [l, a] if depth == 8 else [l * 256 + 1, a * 256 + 2]
            return s, over_white(l, a)
        def rgba(x, y, depth=depth):
            r, g, b, a = v(x, y), v(x, y, 1), v(x, y, 2), v(x, y, 3)
            s = [r, g, b, a] if depth == 8 else [r * 256 + 5, g * 256 + 6, b * 256 + 7, a * 256 + 8]
            l = luma(r, g, b)
            return s, (l if (a == 255 and depth == 8) else over_white(l, a))
        cases += [('rgb%d' % depth, 2, depth, rgb, None, None), ('ga%d' % depth, 4, depth, ga, None, None),
                  ('rgba%d' % depth, 6, depth, rgba, None, None)]
    for depth in (1, 2, 4, 8):
        n = 1 << depth
        palette = [(v(i, 0), v(i, 0, 1), v(i, 0, 2)) for i in range(n)]
        alpha = [v(i, 0, 3) for i in range(n // 2)]   # tRNS shorter than the palette
        plte = b''.join(bytes(p) for p in palette)
        def pal(x, y, n=n, palette=palette, alpha=alpha):
            i = v(x, y) % n
            l = luma(*palette[i])
            return [i], (over_white(l, alpha[i]) if i < len(alpha) else l)
        cases.append(('palette%d' % depth, 3, depth, pal, plte, bytes(alpha)))

    for name, ct, depth, pixel, plte, trns in cases:
        for f in ALL:
            write('%s-f%d' % (name, f), W, H, ct, depth, pixel, [f], plte=plte, trns=trns)
        write('%s-mixed-stored' % name, W, H, ct, depth, pixel, ALL, mode='stored', plte=plte, trns=trns)
        write('%s-mixed-fixed' % name, W, H, ct, depth, pixel, ALL, mode='fixed', plte=plte, trns=trns, idat_split=7)

    # Grey and RGB key-colour transparency (tRNS), which reads as white.
    def keyed_grey(x, y):
        s = v(x, y)
        return [s], (255 if s == v(0, 0) else s)
    write('grey8-trns', W, H, 0, 8, keyed_grey, ALL, trns=struct.pack('>H', v(0, 0)))
    def keyed_rgb(x, y):
        r, g, b = (10, 20, 30) if (x + y) % 3 == 0 else (v(x, y), v(x, y, 1), v(x, y, 2))
        return [r, g, b], (255 if (r, g, b) == (10, 20, 30) else luma(r, g, b))
    write('rgb8-trns', W, H, 2, 8, keyed_rgb, ALL, trns=struct.pack('>HHH', 10, 20, 30))

    # A larger image: long back-references across many dynamic blocks and split IDAT chunks.
    def big(x, y):
        r, g, b = ((x // 16) * 40 & 255, (y // 8) * 30 & 255, (x ^ y) & 255)
        return [r, g, b, 255], luma(r, g, b)
    write('rgba8-large', 640, 480, 6, 8, big, [4, 1, 2, 3, 0], idat_split=8192)
    """#

@Suite("PNG decoder")
struct PNGDecoderTests {
    // Two tiny fixtures written by Python's zlib (dynamic Huffman), checked in as bytes:
    // a 4×3 RGB image with Paeth filtering, and a 10×3 1-bit palette image with tRNS and Sub.
    static let rgbPaeth: [UInt8] = hex(
        "89504e470d0a1a0a0000000d49484452000000040000000308020000003b963991000000144944415478da6361d008a8800116762480c201009db70565c2b494c50000000049454e44ae426082"
    )
    static let palette1Sub: [UInt8] = hex(
        "89504e470d0a1a0a0000000d494844520000000a00000003010300000090f30c3600000006504c5445000000ffffffa5d99fdd0000000274524e53ff80080fb36a000000114944415478da63dcd4c7b8b99771c30400113003c44787d5e90000000049454e44ae426082"
    )

    static func hex(_ text: String) -> [UInt8] {
        var bytes: [UInt8] = []
        var iterator = text.makeIterator()
        while let high = iterator.next(), let low = iterator.next() {
            bytes.append(UInt8(String([high, low]), radix: 16)!)
        }
        return bytes
    }

    @Test("checked-in fixtures: RGB with Paeth, 1-bit palette with tRNS")
    func checkedIn() throws {
        let rgb = try PNGImage.decode(Self.rgbPaeth)
        #expect(rgb.width == 4 && rgb.height == 3)
        // Pixel (x, y) channel k = (x·3 + k)·40 + 7y mod 256.
        for y in 0..<3 {
            for x in 0..<4 {
                let c = (0..<3).map { ((x * 3 + $0) * 40 + y * 7) & 255 }
                #expect(Int(rgb[x, y]) == PNGImage.luma(c[0], c[1], c[2]))
            }
        }
        let palette = try PNGImage.decode(Self.palette1Sub)
        #expect(palette.width == 10 && palette.height == 3)
        // Row y bits: 0b10110010 ^ y, then 0b01; index 0 = black (opaque), 1 = white at alpha 128.
        for y in 0..<3 {
            let bits = [UInt8(0b1011_0010 ^ y), 0b0100_0000]
            for x in 0..<10 {
                let index = bits[x / 8] >> (7 - UInt8(x % 8)) & 1
                #expect(palette[x, y] == (index == 0 ? 0 : 255))
            }
        }
    }

    @Test("Python-written PNGs: every colour type, bit depth, filter and block type")
    func pythonFixtures() throws {
        guard let python = ExternalTools.require("python3", install: "apt-get install -y python3") else { return }
        let directory = try ExternalTools.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let script = directory.appendingPathComponent("fixtures.py")
        try Data(pngFixtureScript.utf8).write(to: script)
        let run = try ExternalTools.run(python, [script.path, directory.path])
        try #require(run.status == 0, "fixture script failed: \(run.stderr)")
        let names = try FileManager.default.contentsOfDirectory(atPath: directory.path)
            .filter { $0.hasSuffix(".png") }.sorted()
        #expect(names.count == 15 * 7 + 3)
        for name in names {
            let png = try Array(Data(contentsOf: directory.appendingPathComponent(name)))
            let expected = try Array(Data(contentsOf: directory.appendingPathComponent(name.replacingOccurrences(of: ".png", with: ".lum"))))
            do {
                let image = try PNGImage.decode(png)
                #expect(image.luminance == expected, "\(name): luminance differs")
            } catch {
                Issue.record("\(name): \(error)")
            }
        }
    }

    @Test("rsvg-convert PNGs (cairo/libpng, RGBA, dynamic Huffman) decode and hold the QR code")
    func rsvg() throws {
        guard let rsvg = ExternalTools.require("rsvg-convert", install: "apt-get install -y librsvg2-bin") else { return }
        let directory = try ExternalTools.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let code = try QRCode.encode(loginURL)
        let svg = directory.appendingPathComponent("qr.svg")
        try Data(code.svg(moduleSize: 4).utf8).write(to: svg)
        let pngFile = directory.appendingPathComponent("qr.png")
        let run = try ExternalTools.run(rsvg, ["-o", pngFile.path, svg.path])
        try #require(run.status == 0, "rsvg-convert: \(run.stderr)")
        let image = try PNGImage.decode(Array(Data(contentsOf: pngFile)))
        #expect(image.width == (code.size + 8) * 4 && image.height == image.width)
        // Quiet zone white, the top-left finder's corner black.
        #expect(image[0, 0] == 255)
        #expect(image[16, 16] == 0)
        #expect(try QRDecoder.decode(image: image) == Array(loginURL.utf8))
    }

    // MARK: Errors

    static func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        PNGEncoding.appendChunk(type, data, to: &out)
        return out
    }

    static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    static func ihdr(width: Int, height: Int, depth: UInt8 = 8, colorType: UInt8 = 0, interlace: UInt8 = 0) -> [UInt8] {
        var data: [UInt8] = []
        data.appendBigEndian(UInt32(width))
        data.appendBigEndian(UInt32(height))
        data += [depth, colorType, 0, 0, interlace]
        return chunk("IHDR", data)
    }

    static func png(width: Int, height: Int, raw: [UInt8], depth: UInt8 = 8, colorType: UInt8 = 0, interlace: UInt8 = 0) -> [UInt8] {
        signature + ihdr(width: width, height: height, depth: depth, colorType: colorType, interlace: interlace)
            + chunk("IDAT", PNGEncoding.zlibStored(raw)) + chunk("IEND", [])
    }

    @Test("our encoder's 1-bit PNG decodes to its modules")
    func ownPNG() throws {
        let code = try QRCode.encode("sigil")
        let image = try PNGImage.decode(code.png(scale: 2, quietZone: 1))
        #expect(image.width == (code.size + 2) * 2)
        for y in 0..<code.size {
            for x in 0..<code.size {
                #expect(image[(x + 1) * 2 + 1, (y + 1) * 2] == (code[x, y] ? 0 : 255))
            }
        }
    }

    @Test("malformed files are rejected with typed errors")
    func errors() throws {
        let good = Self.png(width: 2, height: 2, raw: [0, 10, 20, 0, 30, 40])
        #expect(try PNGImage.decode(good).luminance == [10, 20, 30, 40])

        #expect(throws: PNGError.notPNG) { try PNGImage.decode(Array("GIF89a....".utf8)) }
        #expect(throws: PNGError.truncated) { try PNGImage.decode(Array(good.dropLast(5))) }
        var badCRC = good
        badCRC[8 + 8 + 4] ^= 1 // a byte of IHDR's data
        #expect(throws: PNGError.crcMismatch(chunk: "IHDR")) { try PNGImage.decode(badCRC) }
        #expect(throws: PNGError.self) { try PNGImage.decode(Self.png(width: 2, height: 2, raw: [0, 10, 20, 5, 30, 40])) } // filter 5
        #expect(throws: PNGError.self) { try PNGImage.decode(Self.png(width: 2, height: 2, raw: [0, 10, 20, 0, 30])) } // short
        #expect(throws: PNGError.self) { try PNGImage.decode(Self.png(width: 2, height: 2, raw: [0, 10, 20, 0, 30, 40], depth: 3)) }

        // Adam7 is refused with a clear error.
        let interlaced = Self.png(width: 2, height: 2, raw: [0, 10, 20, 0, 30, 40], interlace: 1)
        #expect(throws: PNGError.self) { try PNGImage.decode(interlaced) }
        do {
            _ = try PNGImage.decode(interlaced)
        } catch {
            guard case .unsupported(let reason) = error else { Issue.record("expected unsupported, got \(error)"); return }
            #expect(reason.contains("Adam7"))
        }

        // A corrupt Adler-32.
        var stream = PNGEncoding.zlibStored([0, 10, 20, 0, 30, 40])
        stream[stream.count - 1] ^= 0xFF
        let badAdler = Self.signature + Self.ihdr(width: 2, height: 2) + Self.chunk("IDAT", stream) + Self.chunk("IEND", [])
        #expect(throws: PNGError.corruptData("Adler-32 mismatch")) { try PNGImage.decode(badAdler) }
    }

    @Test("decompression bombs and oversized images are refused")
    func limits() throws {
        #expect(throws: PNGError.self) { try PNGImage.decode(Self.signature + Self.ihdr(width: 100_000, height: 10)) }
        let small = PNGImage.Limits(maxWidth: 64, maxHeight: 64, maxDecompressedBytes: 1000)
        #expect(throws: PNGError.self) { try PNGImage.decode(Self.png(width: 65, height: 1, raw: [0] + [UInt8](repeating: 0, count: 65)), limits: small) }
        #expect(throws: PNGError.self) {
            try PNGImage.decode(Self.png(width: 64, height: 64, raw: [UInt8](repeating: 0, count: 65 * 64), colorType: 2), limits: small)
        }

        // A 1×1 image whose IDAT inflates to 10 MB of zeros: stopped at the 2 bytes it needs.
        // Fixed-Huffman stream: literal 0, then length-258/distance-1 copies, never ending.
        var bits = DeflateBitWriter()
        bits.write(1, 1); bits.write(1, 2) // BFINAL, fixed Huffman
        bits.writeCode(0b0011_0000, length: 8) // literal 0
        for _ in 0..<40_000 {
            bits.writeCode(0b1100_0101, length: 8) // length symbol 285 (258)
            bits.writeCode(0, length: 5) // distance symbol 0 (1)
        }
        bits.writeCode(0, length: 7) // end of block
        let bomb = Self.signature + Self.ihdr(width: 1, height: 1) + Self.chunk("IDAT", [0x78, 0x01] + bits.bytes + [0, 0, 0, 1]) + Self.chunk("IEND", [])
        do {
            _ = try PNGImage.decode(bomb)
            Issue.record("bomb decoded")
        } catch {
            guard case .corruptData = error else { Issue.record("expected corruptData, got \(error)"); return }
        }
        // The inflater itself enforces its output limit.
        #expect(throws: InflateError.outputLimitExceeded(1000)) {
            try Inflater.raw(bits.bytes, limit: 1000)
        }
        #expect(try Inflater.raw(bits.bytes, limit: 20_000_000).count == 1 + 40_000 * 258)
    }
}

/// Writes DEFLATE bits least significant first; Huffman codes most significant first.
struct DeflateBitWriter {
    var bytes: [UInt8] = []
    var used = 0

    mutating func write(_ value: Int, _ count: Int) {
        for i in 0..<count { push(value >> i & 1) }
    }

    mutating func writeCode(_ code: Int, length: Int) {
        for i in stride(from: length - 1, through: 0, by: -1) { push(code >> i & 1) }
    }

    private mutating func push(_ bit: Int) {
        if used % 8 == 0 { bytes.append(0) }
        bytes[bytes.count - 1] |= UInt8(bit) << UInt8(used % 8)
        used += 1
    }
}
