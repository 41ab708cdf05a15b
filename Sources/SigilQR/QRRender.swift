import SigilCore

// Rendering: SVG, PNG and terminal text. No Foundation.

extension QRCode {
    // MARK: SVG

    /// A compact SVG image of the symbol.
    ///
    /// The viewBox is in module units (symbol plus quiet zone on every side); `width` and
    /// `height` are `moduleSize` pixels per module. The dark modules are one `<path>` of
    /// horizontal run-length segments — `M x y.5` starts a row, `m gap 0` skips light modules,
    /// `h n` draws n dark ones — stroked one module wide with `shape-rendering="crispEdges"`.
    ///
    /// - Parameters:
    ///   - moduleSize: pixels per module for the `width`/`height` attributes (≥ 1).
    ///   - quietZone: light border in modules; ISO/IEC 18004 asks for 4 (≥ 0).
    ///   - darkColor: any SVG paint, e.g. `"#000"` or `"currentColor"`.
    ///   - lightColor: background paint; `nil` leaves the background transparent (the page
    ///     behind it must then be light for the code to scan).
    ///   - title: an accessible name, written as the `<title>` element (escaped).
    public func svg(
        moduleSize: Int = 8,
        quietZone: Int = 4,
        darkColor: String = "#000",
        lightColor: String? = "#fff",
        title: String? = nil
    ) -> String {
        precondition(moduleSize >= 1, "moduleSize must be at least 1")
        precondition(quietZone >= 0, "quietZone must not be negative")
        let extent = size + 2 * quietZone
        let pixels = extent * moduleSize
        var out = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(pixels)\" height=\"\(pixels)\""
        out += " viewBox=\"0 0 \(extent) \(extent)\" shape-rendering=\"crispEdges\""
        out += title == nil ? ">" : " role=\"img\">"
        if let title {
            out += "<title>\(Self.xmlEscaped(title))</title>"
        }
        if let lightColor {
            out += "<rect width=\"\(extent)\" height=\"\(extent)\" fill=\"\(Self.xmlEscaped(lightColor))\"/>"
        }
        out += "<path stroke=\"\(Self.xmlEscaped(darkColor))\" d=\""
        for y in 0..<size {
            var x = 0
            var penX: Int? = nil // where the previous run of this row ended
            while x < size {
                guard modules[y * size + x] else { x += 1; continue }
                let start = x
                while x < size && modules[y * size + x] { x += 1 }
                if let penX {
                    out += "m\(start - penX) 0"
                } else {
                    out += "M\(start + quietZone) \(y + quietZone).5"
                }
                out += "h\(x - start)"
                penX = x
            }
        }
        out += "\"/></svg>"
        return out
    }

    static func xmlEscaped(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            default:
                // Control characters other than tab/newline are not allowed in XML 1.0.
                if scalar.value < 0x20 && scalar != "\t" && scalar != "\n" && scalar != "\r" {
                    out += " "
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out
    }

    // MARK: PNG

    /// A PNG image of the symbol: 1-bit greyscale, `scale` pixels per module, with a light
    /// quiet zone of `quietZone` modules. The zlib stream uses stored (uncompressed) deflate
    /// blocks; a version 40 symbol at scale 4 is about 70 KB.
    public func png(scale: Int = 8, quietZone: Int = 4) -> [UInt8] {
        precondition(scale >= 1, "scale must be at least 1")
        precondition(quietZone >= 0, "quietZone must not be negative")
        let width = (size + 2 * quietZone) * scale
        precondition(width <= 1 << 16, "PNG too large")
        let rowBytes = (width + 7) / 8

        // Raw scanlines: filter type 0, then pixels, 1 = white, most significant bit first.
        var raw = [UInt8]()
        raw.reserveCapacity((rowBytes + 1) * width)
        var line = [UInt8](repeating: 0, count: rowBytes)
        for py in 0..<width {
            let my = py / scale - quietZone
            for i in 0..<rowBytes { line[i] = 0 }
            for px in 0..<width {
                let mx = px / scale - quietZone
                let dark = mx >= 0 && mx < size && my >= 0 && my < size && modules[my * size + mx]
                if !dark { line[px >> 3] |= 0x80 >> UInt8(px & 7) }
            }
            raw.append(0)
            raw.append(contentsOf: line)
        }

        var png: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
        var header = [UInt8]()
        header.appendBigEndian(UInt32(width))
        header.appendBigEndian(UInt32(width))
        header += [1, 0, 0, 0, 0] // bit depth 1, greyscale, deflate, adaptive filtering, no interlace
        PNGEncoding.appendChunk("IHDR", header, to: &png)
        PNGEncoding.appendChunk("IDAT", PNGEncoding.zlibStored(raw), to: &png)
        PNGEncoding.appendChunk("IEND", [], to: &png)
        return png
    }

    // MARK: Text

    /// The symbol as lines of Unicode half blocks (two module rows per line), for a terminal.
    ///
    /// With `invert` false dark modules are drawn with ink (right on a light terminal); on a
    /// dark terminal pass `true` so that the ink — light text — draws the light modules.
    public func terminalText(quietZone: Int = 4, invert: Bool = false) -> String {
        precondition(quietZone >= 0, "quietZone must not be negative")
        let extent = size + 2 * quietZone
        func ink(_ x: Int, _ y: Int) -> Bool {
            let mx = x - quietZone, my = y - quietZone
            let dark = mx >= 0 && mx < size && my >= 0 && my < size && modules[my * size + mx]
            return dark != invert
        }
        var out = ""
        for y in stride(from: 0, to: extent, by: 2) {
            for x in 0..<extent {
                let top = ink(x, y)
                let bottom = y + 1 < extent ? ink(x, y + 1) : invert
                switch (top, bottom) {
                case (true, true): out += "█"
                case (true, false): out += "▀"
                case (false, true): out += "▄"
                case (false, false): out += " "
                }
            }
            out += "\n"
        }
        return out
    }
}

/// PNG chunk framing, CRC-32 and a stored-block zlib stream.
enum PNGEncoding {
    /// Adler-32 of a zlib stream (shared with the inflater in SigilCore).
    static func adler32(_ bytes: [UInt8]) -> UInt32 { Inflater.adler32(bytes) }

    /// CRC-32 (ISO 3309 / ITU-T V.42, reflected polynomial 0xEDB88320) as used by PNG.
    static let crcTable: [UInt32] = (0..<256).map { n -> UInt32 in
        var c = UInt32(n)
        for _ in 0..<8 { c = c & 1 == 1 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
        return c
    }

    static func crc32<S: Sequence<UInt8>>(_ bytes: S, initial: UInt32 = 0) -> UInt32 {
        var c = ~initial
        for b in bytes { c = crcTable[Int((c ^ UInt32(b)) & 0xFF)] ^ (c >> 8) }
        return ~c
    }

    /// A zlib stream (RFC 1950) of stored deflate blocks (RFC 1951 §3.2.4).
    static func zlibStored(_ data: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [0x78, 0x01] // deflate, 32 KiB window, no dictionary, fastest
        var offset = 0
        repeat {
            let length = min(65_535, data.count - offset)
            let final = offset + length == data.count
            out.append(final ? 1 : 0) // BFINAL, BTYPE = 00
            out.append(UInt8(length & 0xFF))
            out.append(UInt8(length >> 8))
            out.append(UInt8(~length & 0xFF))
            out.append(UInt8((~length >> 8) & 0xFF))
            out += data[offset..<(offset + length)]
            offset += length
        } while offset < data.count
        out.appendBigEndian(Inflater.adler32(data))
        return out
    }

    static func appendChunk(_ type: String, _ data: [UInt8], to png: inout [UInt8]) {
        let typeBytes = Array(type.utf8)
        precondition(typeBytes.count == 4)
        png.appendBigEndian(UInt32(data.count))
        png += typeBytes
        png += data
        png.appendBigEndian(crc32(data, initial: crc32(typeBytes)))
    }
}

extension [UInt8] {
    mutating func appendBigEndian(_ value: UInt32) {
        append(UInt8(value >> 24))
        append(UInt8((value >> 16) & 0xFF))
        append(UInt8((value >> 8) & 0xFF))
        append(UInt8(value & 0xFF))
    }
}
