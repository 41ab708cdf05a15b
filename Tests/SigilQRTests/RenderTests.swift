import Foundation
import Testing

@testable import SigilQR

/// Bitwise CRC-32 (no table), the reference for the PNG writer's table-driven one.
func referenceCRC32(_ bytes: [UInt8]) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    for byte in bytes {
        crc ^= UInt32(byte)
        for _ in 0..<8 { crc = crc & 1 == 1 ? (crc >> 1) ^ 0xEDB8_8320 : crc >> 1 }
    }
    return ~crc
}

/// Adler-32 reducing after every byte, the reference for the chunked one.
func referenceAdler32(_ bytes: [UInt8]) -> UInt32 {
    var a: UInt32 = 1, b: UInt32 = 0
    for byte in bytes {
        a = (a + UInt32(byte)) % 65521
        b = (b + a) % 65521
    }
    return b << 16 | a
}

func bigEndian32(_ bytes: ArraySlice<UInt8>) -> UInt32 {
    bytes.reduce(0) { $0 << 8 | UInt32($1) }
}

/// A decoded 1-bit greyscale PNG (only what `QRCode.png` writes: stored deflate blocks,
/// filter type 0), with every structural check on the way.
struct DecodedPNG {
    var width = 0
    var height = 0
    var chunkTypes: [String] = []
    var storedBlocks = 0
    /// `pixels[y][x]`, true = black.
    var pixels: [[Bool]] = []

    init(_ png: [UInt8]) throws {
        try #require(Array(png.prefix(8)) == [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        var offset = 8
        var idat: [UInt8] = []
        while offset < png.count {
            let length = Int(bigEndian32(png[offset..<(offset + 4)]))
            let typeAndData = Array(png[(offset + 4)..<(offset + 8 + length)])
            let crc = bigEndian32(png[(offset + 8 + length)..<(offset + 12 + length)])
            #expect(crc == referenceCRC32(typeAndData), "chunk CRC")
            let type = String(decoding: typeAndData.prefix(4), as: UTF8.self)
            chunkTypes.append(type)
            let data = Array(typeAndData.dropFirst(4))
            if type == "IHDR" {
                width = Int(bigEndian32(data[0..<4]))
                height = Int(bigEndian32(data[4..<8]))
                #expect(Array(data[8...]) == [1, 0, 0, 0, 0], "1-bit greyscale, no interlace")
            } else if type == "IDAT" {
                idat += data
            }
            offset += 12 + length
        }
        #expect(offset == png.count)
        #expect(chunkTypes == ["IHDR", "IDAT", "IEND"])

        // zlib: header, stored blocks, Adler-32.
        try #require(idat.count >= 6)
        #expect((Int(idat[0]) << 8 | Int(idat[1])) % 31 == 0 && idat[0] & 0x0F == 8)
        var raw: [UInt8] = []
        var p = 2
        while true {
            let header = idat[p]
            #expect(header & 0b110 == 0, "stored block")
            let len = Int(idat[p + 1]) | Int(idat[p + 2]) << 8
            let nlen = Int(idat[p + 3]) | Int(idat[p + 4]) << 8
            #expect(len ^ nlen == 0xFFFF)
            raw += idat[(p + 5)..<(p + 5 + len)]
            p += 5 + len
            storedBlocks += 1
            if header & 1 == 1 { break }
        }
        #expect(bigEndian32(idat[p..<(p + 4)]) == referenceAdler32(raw))
        #expect(p + 4 == idat.count)

        let rowBytes = (width + 7) / 8
        try #require(raw.count == height * (rowBytes + 1))
        for y in 0..<height {
            let row = raw[(y * (rowBytes + 1))..<((y + 1) * (rowBytes + 1))]
            #expect(row.first == 0, "filter type 0")
            let bytes = Array(row.dropFirst())
            pixels.append((0..<width).map { x in bytes[x >> 3] & (0x80 >> UInt8(x & 7)) == 0 })
        }
    }
}

@Suite("Rendering")
struct RenderTests {
    @Test("CRC-32 and Adler-32 check values")
    func checksums() {
        let digits = Array("123456789".utf8)
        #expect(PNGEncoding.crc32(digits) == 0xCBF4_3926)
        #expect(referenceCRC32(digits) == 0xCBF4_3926)
        #expect(PNGEncoding.crc32(Array("IEND".utf8)) == 0xAE42_6082)
        #expect(PNGEncoding.adler32(Array("Wikipedia".utf8)) == 0x11E6_0398)
        #expect(PNGEncoding.adler32([]) == 1)
        var state: UInt64 = 42
        let noise = (0..<200_000).map { _ in UInt8(truncatingIfNeeded: splitMix(&state)) }
        #expect(PNGEncoding.adler32(noise) == referenceAdler32(noise))
        #expect(PNGEncoding.crc32(noise) == referenceCRC32(noise))
        let ff = [UInt8](repeating: 0xFF, count: 100_000)
        #expect(PNGEncoding.adler32(ff) == referenceAdler32(ff))
    }

    @Test("PNG pixels reproduce the modules and the quiet zone", arguments: [(1, 1, 4), (7, 3, 4), (40, 8, 4), (2, 5, 0), (3, 2, 1)])
    func png(version: Int, scale: Int, quietZone: Int) throws {
        let code = try QRCode.encode(asciiPayload(7, seed: 5), errorCorrection: .high, version: version)
        let image = try DecodedPNG(code.png(scale: scale, quietZone: quietZone))
        let side = (code.size + 2 * quietZone) * scale
        #expect(image.width == side && image.height == side)
        var mismatches = 0
        for y in 0..<side {
            for x in 0..<side {
                let mx = x / scale - quietZone, my = y / scale - quietZone
                let dark = mx >= 0 && mx < code.size && my >= 0 && my < code.size && code[mx, my]
                if image.pixels[y][x] != dark { mismatches += 1 }
            }
        }
        #expect(mismatches == 0)
        if version == 40 { #expect(image.storedBlocks > 1) }
    }

    @Test("zlib stored stream of an empty input and of exactly 65 535 bytes")
    func zlibEdges() {
        #expect(PNGEncoding.zlibStored([]) == [0x78, 0x01, 0x01, 0x00, 0x00, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x01])
        let full = PNGEncoding.zlibStored([UInt8](repeating: 7, count: 65_535))
        #expect(full.count == 2 + 5 + 65_535 + 4)
        #expect(full[2] == 1)
    }

    /// Interprets the `d` attribute (M x y.5, m dx 0, h n) back into a module grid.
    func svgModules(_ svg: String, extent: Int) throws -> [[Bool]] {
        let start = try #require(svg.range(of: " d=\""))
        let rest = svg[start.upperBound...]
        let end = try #require(rest.firstIndex(of: "\""))
        var grid = [[Bool]](repeating: [Bool](repeating: false, count: extent), count: extent)
        var x = 0.0, y = 0.0
        var chars = Substring(rest[..<end])
        func number() throws -> Double {
            let digits = chars.prefix { "-.0123456789".contains($0) }
            chars = chars.dropFirst(digits.count)
            return try #require(Double(digits))
        }
        while let command = chars.first {
            chars = chars.dropFirst()
            switch command {
            case "M", "m":
                let dx = try number()
                try #require(chars.first == " ")
                chars = chars.dropFirst()
                let dy = try number()
                if command == "M" { (x, y) = (dx, dy) } else { (x, y) = (x + dx, y + dy) }
            case "h":
                let run = try number()
                try #require(run > 0 && run == run.rounded() && x == x.rounded() && y - y.rounded(.down) == 0.5)
                for i in Int(x)..<Int(x + run) {
                    #expect(!grid[Int(y)][i], "overlapping runs")
                    grid[Int(y)][i] = true
                }
                x += run
            default:
                Issue.record("unexpected path command \(command)")
                return grid
            }
        }
        return grid
    }

    @Test("SVG: one path of horizontal runs, viewBox, crisp edges, escaped title")
    func svg() throws {
        let code = try QRCode.encode("sigil://login?tx=abc&s=def", errorCorrection: .medium)
        let svg = code.svg(moduleSize: 6, quietZone: 4, darkColor: "#111", lightColor: "#fefefe", title: "Sign in <Sigil> & \"go\"")
        let extent = code.size + 8
        #expect(svg.hasPrefix("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(extent * 6)\" height=\"\(extent * 6)\""))
        #expect(svg.contains("viewBox=\"0 0 \(extent) \(extent)\""))
        #expect(svg.contains("shape-rendering=\"crispEdges\""))
        #expect(svg.contains("<title>Sign in &lt;Sigil&gt; &amp; &quot;go&quot;</title>"))
        #expect(svg.contains("role=\"img\""))
        #expect(svg.contains("<rect width=\"\(extent)\" height=\"\(extent)\" fill=\"#fefefe\"/>"))
        #expect(svg.contains("<path stroke=\"#111\" d=\"M4 4.5h7m"))
        #expect(svg.components(separatedBy: "<path").count == 2)
        #expect(svg.hasSuffix("\"/></svg>"))

        let grid = try svgModules(svg, extent: extent)
        for y in 0..<extent {
            for x in 0..<extent {
                let mx = x - 4, my = y - 4
                let dark = mx >= 0 && mx < code.size && my >= 0 && my < code.size && code[mx, my]
                #expect(grid[y][x] == dark)
            }
        }
    }

    @Test("SVG without background or title; attribute values are escaped")
    func svgOptions() throws {
        let code = try QRCode.encode("x")
        let svg = code.svg(moduleSize: 1, quietZone: 0, darkColor: "\"><script>", lightColor: nil)
        #expect(!svg.contains("<rect"))
        #expect(!svg.contains("<title"))
        #expect(!svg.contains("role="))
        #expect(!svg.contains("<script>"))
        #expect(svg.contains("viewBox=\"0 0 21 21\""))
        #expect(try svgModules(svg, extent: 21) == code.rows)
    }

    @Test("terminal text uses two module rows per line")
    func terminal() throws {
        let code = try QRCode.encode("x")
        let lines = code.terminalText(quietZone: 2).split(separator: "\n", omittingEmptySubsequences: false).dropLast()
        #expect(lines.count == 13) // 25 rows → 13 lines
        #expect(lines.allSatisfy { $0.count == 25 })
        #expect(lines[0] == String(repeating: " ", count: 25))
        #expect(lines[1].hasPrefix("  █▀▀▀▀▀█"))
        let inverted = code.terminalText(quietZone: 2, invert: true).split(separator: "\n")
        #expect(inverted[0] == String(repeating: "█", count: 25))
    }
}
