import SigilCore

// A PNG decoder (ISO/IEC 15948 / W3C PNG) reduced to what a QR reader needs: every
// non-interlaced colour type and bit depth, converted to 8-bit luminance. No Foundation.

/// Why a PNG file could not be decoded.
public enum PNGError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The data does not start with the PNG signature.
    case notPNG
    /// The file ends inside a chunk, or before IEND.
    case truncated
    /// A chunk's CRC-32 does not match its type and data.
    case crcMismatch(chunk: String)
    /// The file breaks the PNG format (bad IHDR, misplaced or missing chunk, bad filter type…).
    case malformed(String)
    /// A valid PNG feature this decoder does not implement (Adam7 interlacing).
    case unsupported(String)
    /// The image exceeds the decoder's limits (dimensions or decompressed size).
    case tooLarge(String)
    /// The zlib/DEFLATE image data is corrupt (bad Huffman codes, Adler-32, wrong length).
    case corruptData(String)

    public var description: String {
        switch self {
        case .notPNG: "not a PNG file (bad signature)"
        case .truncated: "PNG file is truncated"
        case .crcMismatch(let chunk): "PNG chunk \(chunk) has a bad CRC-32"
        case .malformed(let reason): "malformed PNG: \(reason)"
        case .unsupported(let reason): "unsupported PNG: \(reason)"
        case .tooLarge(let reason): "PNG too large: \(reason)"
        case .corruptData(let reason): "corrupt PNG image data: \(reason)"
        }
    }
}

/// A decoded image as 8-bit luminance (0 = black, 255 = white), row-major, top row first.
///
/// ```swift
/// let image = try PNGImage.decode(Array(try Data(contentsOf: url)))
/// image.width; image.height; image[x, y]   // luminance 0...255
/// ```
///
/// Colour is converted with the Rec. 601 weights (0.299 R + 0.587 G + 0.114 B); alpha is
/// composited over white, so transparent areas read as light (as on a white page).
public struct PNGImage: Sendable, Hashable {
    public let width: Int
    public let height: Int
    /// Row-major luminance, `width × height` bytes.
    public let luminance: [UInt8]

    /// An image from luminance values (row-major, `width × height`).
    public init(width: Int, height: Int, luminance: [UInt8]) {
        precondition(width >= 0 && height >= 0 && luminance.count == width * height, "luminance does not match the size")
        self.width = width
        self.height = height
        self.luminance = luminance
    }

    /// The luminance at column `x`, row `y` (both in range).
    public subscript(x: Int, y: Int) -> UInt8 {
        precondition(x >= 0 && x < width && y >= 0 && y < height, "pixel (\(x), \(y)) is outside the \(width)×\(height) image")
        return luminance[y * width + x]
    }

    /// Bounds against hostile files (decompression bombs).
    public struct Limits: Sendable, Hashable {
        public var maxWidth: Int
        public var maxHeight: Int
        /// The largest filtered scanline data (the inflated IDAT stream) accepted.
        public var maxDecompressedBytes: Int

        public init(maxWidth: Int = 8192, maxHeight: Int = 8192, maxDecompressedBytes: Int = 256 << 20) {
            self.maxWidth = maxWidth
            self.maxHeight = maxHeight
            self.maxDecompressedBytes = maxDecompressedBytes
        }

        /// 8192 × 8192 pixels and 256 MiB of scanline data.
        public static let `default` = Limits()
    }

    // MARK: Decoding

    private static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

    struct Header: Sendable {
        var width: Int
        var height: Int
        var bitDepth: Int
        var colorType: Int
        var channels: Int {
            switch colorType {
            case 0, 3: 1
            case 4: 2
            case 2: 3
            default: 4
            }
        }
        /// Bytes per complete pixel, at least 1 (the filters' "bpp").
        var filterStride: Int { max(1, channels * bitDepth / 8) }
        var rowBytes: Int { (width * channels * bitDepth + 7) / 8 }
    }

    /// Decodes a PNG file.
    ///
    /// Supports colour types 0 (grey, 1/2/4/8/16 bit), 2 (RGB 8/16), 3 (palette 1/2/4/8, with
    /// tRNS), 4 (grey + alpha 8/16) and 6 (RGBA 8/16), all five filter types, and checks every
    /// chunk CRC and the zlib Adler-32. Adam7-interlaced files are refused
    /// (`PNGError.unsupported`). Ancillary chunks other than tRNS are ignored (gamma and colour
    /// profiles are not applied).
    public static func decode(_ bytes: [UInt8], limits: Limits = .default) throws(PNGError) -> PNGImage {
        guard bytes.count >= 8, Array(bytes[0..<8]) == signature else { throw .notPNG }
        var offset = 8
        var header: Header?
        var palette: [UInt8] = [] // RGB triples
        var transparency: [UInt8]? // tRNS data
        var idat: [UInt8] = []
        var sawIDAT = false
        var idatEnded = false
        var sawIEND = false

        func readUInt32(_ at: Int) -> Int {
            Int(bytes[at]) << 24 | Int(bytes[at + 1]) << 16 | Int(bytes[at + 2]) << 8 | Int(bytes[at + 3])
        }

        while !sawIEND {
            guard offset + 12 <= bytes.count else { throw .truncated }
            let length = readUInt32(offset)
            guard length <= 0x7FFF_FFFF else { throw .malformed("chunk length above 2³¹ − 1") }
            guard offset + 12 + length <= bytes.count else { throw .truncated }
            let typeBytes = bytes[(offset + 4)..<(offset + 8)]
            guard typeBytes.allSatisfy({ (0x41...0x5A).contains($0) || (0x61...0x7A).contains($0) }) else {
                throw .malformed("invalid chunk type")
            }
            let type = String(decoding: typeBytes, as: UTF8.self)
            let dataStart = offset + 8
            let dataEnd = dataStart + length
            let storedCRC = UInt32(readUInt32(dataEnd))
            guard PNGEncoding.crc32(bytes[(offset + 4)..<dataEnd]) == storedCRC else { throw .crcMismatch(chunk: type) }
            let data = bytes[dataStart..<dataEnd]
            offset = dataEnd + 4

            if header == nil && type != "IHDR" { throw .malformed("first chunk is \(type), not IHDR") }
            if sawIDAT && type != "IDAT" { idatEnded = true }
            switch type {
            case "IHDR":
                guard header == nil else { throw .malformed("second IHDR") }
                header = try parseHeader(Array(data), limits: limits)
            case "PLTE":
                guard !sawIDAT else { throw .malformed("PLTE after IDAT") }
                guard length % 3 == 0, length > 0, length / 3 <= 256 else { throw .malformed("PLTE length \(length)") }
                palette = Array(data)
            case "tRNS":
                transparency = Array(data)
            case "IDAT":
                guard !idatEnded else { throw .malformed("IDAT chunks are not consecutive") }
                sawIDAT = true
                idat.append(contentsOf: data)
            case "IEND":
                sawIEND = true
            default:
                // Bit 5 of the first byte: 0 = critical. An unknown critical chunk cannot be skipped.
                if typeBytes.first! & 0x20 == 0 { throw .unsupported("unknown critical chunk \(type)") }
            }
        }
        guard let header else { throw .malformed("no IHDR") }
        guard sawIDAT else { throw .malformed("no IDAT") }
        if header.colorType == 3 {
            guard !palette.isEmpty else { throw .malformed("palette image without PLTE") }
        }

        let stride = header.rowBytes + 1
        let (expected, overflow) = stride.multipliedReportingOverflow(by: header.height)
        guard !overflow, expected <= limits.maxDecompressedBytes else {
            throw .tooLarge("\(header.width)×\(header.height) needs more than \(limits.maxDecompressedBytes) bytes of scanline data")
        }
        var raw: [UInt8]
        do {
            raw = try Inflater.zlib(idat, limit: expected, expectedSize: expected)
        } catch {
            switch error {
            case .truncated: throw .corruptData("zlib stream is truncated")
            case .invalidHeader(let reason): throw .corruptData("zlib header: \(reason)")
            case .invalidBlock(let reason): throw .corruptData(reason)
            case .outputLimitExceeded: throw .corruptData("more image data than \(header.width)×\(header.height) pixels need")
            case .checksumMismatch: throw .corruptData("Adler-32 mismatch")
            }
        }
        guard raw.count == expected else {
            throw .corruptData("image data is \(raw.count) bytes, \(expected) expected")
        }
        try unfilter(&raw, header: header)
        let luminance = try convert(raw, header: header, palette: palette, transparency: transparency)
        return PNGImage(width: header.width, height: header.height, luminance: luminance)
    }

    static func parseHeader(_ data: [UInt8], limits: Limits) throws(PNGError) -> Header {
        guard data.count == 13 else { throw .malformed("IHDR length \(data.count)") }
        let width = Int(data[0]) << 24 | Int(data[1]) << 16 | Int(data[2]) << 8 | Int(data[3])
        let height = Int(data[4]) << 24 | Int(data[5]) << 16 | Int(data[6]) << 8 | Int(data[7])
        guard width > 0, height > 0, width <= 0x7FFF_FFFF, height <= 0x7FFF_FFFF else {
            throw .malformed("image size \(width)×\(height)")
        }
        guard width <= limits.maxWidth, height <= limits.maxHeight else {
            throw .tooLarge("\(width)×\(height) exceeds \(limits.maxWidth)×\(limits.maxHeight)")
        }
        let bitDepth = Int(data[8]), colorType = Int(data[9])
        let allowed: [Int]
        switch colorType {
        case 0: allowed = [1, 2, 4, 8, 16]
        case 3: allowed = [1, 2, 4, 8]
        case 2, 4, 6: allowed = [8, 16]
        default: throw .malformed("colour type \(colorType)")
        }
        guard allowed.contains(bitDepth) else { throw .malformed("bit depth \(bitDepth) with colour type \(colorType)") }
        guard data[10] == 0 else { throw .malformed("compression method \(data[10])") }
        guard data[11] == 0 else { throw .malformed("filter method \(data[11])") }
        switch data[12] {
        case 0: break
        case 1: throw .unsupported("Adam7-interlaced PNGs are not supported; save the image non-interlaced")
        default: throw .malformed("interlace method \(data[12])")
        }
        return Header(width: width, height: height, bitDepth: bitDepth, colorType: colorType)
    }

    /// Reverses the per-scanline filters in place (filter byte, then `rowBytes` bytes per row).
    static func unfilter(_ raw: inout [UInt8], header: Header) throws(PNGError) {
        let rowBytes = header.rowBytes
        let stride = rowBytes + 1
        let bpp = header.filterStride
        var badFilter: UInt8?
        raw.withUnsafeMutableBufferPointer { buffer in
            let p = buffer.baseAddress!
            for row in 0..<header.height {
                let line = p + row * stride + 1
                let filter = line[-1]
                let hasPrior = row > 0
                let prior = line - stride // only read when hasPrior
                switch filter {
                case 0:
                    break
                case 1: // Sub
                    if rowBytes > bpp {
                        for i in bpp..<rowBytes { line[i] &+= line[i - bpp] }
                    }
                case 2: // Up
                    if hasPrior {
                        for i in 0..<rowBytes { line[i] &+= prior[i] }
                    }
                case 3: // Average
                    for i in 0..<rowBytes {
                        let left = i >= bpp ? Int(line[i - bpp]) : 0
                        let up = hasPrior ? Int(prior[i]) : 0
                        line[i] &+= UInt8((left + up) >> 1)
                    }
                case 4: // Paeth
                    for i in 0..<rowBytes {
                        let a = i >= bpp ? Int(line[i - bpp]) : 0
                        let b = hasPrior ? Int(prior[i]) : 0
                        let c = (i >= bpp && hasPrior) ? Int(prior[i - bpp]) : 0
                        let estimate = a + b - c
                        let pa = abs(estimate - a), pb = abs(estimate - b), pc = abs(estimate - c)
                        let predictor = (pa <= pb && pa <= pc) ? a : (pb <= pc ? b : c)
                        line[i] &+= UInt8(predictor)
                    }
                default:
                    badFilter = filter
                    return
                }
            }
        }
        if let badFilter { throw .malformed("filter type \(badFilter)") }
    }

    /// Rec. 601 luma, (77 R + 150 G + 29 B) / 256, from 8-bit channels.
    @inline(__always)
    static func luma(_ r: Int, _ g: Int, _ b: Int) -> Int { (77 * r + 150 * g + 29 * b + 128) >> 8 }

    /// Alpha-composites luminance `l` over white.
    @inline(__always)
    static func overWhite(_ l: Int, alpha: Int) -> UInt8 {
        UInt8((l * alpha + 255 * (255 - alpha) + 127) / 255)
    }

    /// Converts unfiltered scanlines to 8-bit luminance. 16-bit samples use their high byte
    /// (the tRNS key colour is compared at full precision).
    static func convert(_ raw: [UInt8], header: Header, palette: [UInt8], transparency: [UInt8]?) throws(PNGError) -> [UInt8] {
        let width = header.width, height = header.height
        let stride = header.rowBytes + 1
        let depth = header.bitDepth
        var out = [UInt8](repeating: 0, count: width * height)

        // A tRNS key colour for types 0 and 2 (16-bit values); pixels equal to it are transparent.
        var keyGrey: Int?
        var keyRGB: (Int, Int, Int)?
        if let t = transparency {
            switch header.colorType {
            case 0 where t.count >= 2: keyGrey = Int(t[0]) << 8 | Int(t[1])
            case 2 where t.count >= 6:
                keyRGB = (Int(t[0]) << 8 | Int(t[1]), Int(t[2]) << 8 | Int(t[3]), Int(t[4]) << 8 | Int(t[5]))
            default: break
            }
        }

        raw.withUnsafeBufferPointer { rawBuffer in
            out.withUnsafeMutableBufferPointer { outBuffer in
                let src = rawBuffer.baseAddress!
                let dst = outBuffer.baseAddress!
                for y in 0..<height {
                    let line = src + y * stride + 1
                    let o = dst + y * width
                    switch (header.colorType, depth) {
                    case (2, 8):
                        if let key = keyRGB {
                            for x in 0..<width {
                                let r = Int(line[3 * x]), g = Int(line[3 * x + 1]), b = Int(line[3 * x + 2])
                                o[x] = (r, g, b) == key ? 255 : UInt8(luma(r, g, b))
                            }
                        } else {
                            for x in 0..<width {
                                o[x] = UInt8(luma(Int(line[3 * x]), Int(line[3 * x + 1]), Int(line[3 * x + 2])))
                            }
                        }
                    case (6, 8):
                        for x in 0..<width {
                            let l = luma(Int(line[4 * x]), Int(line[4 * x + 1]), Int(line[4 * x + 2]))
                            let a = Int(line[4 * x + 3])
                            o[x] = a == 255 ? UInt8(l) : overWhite(l, alpha: a)
                        }
                    case (2, 16):
                        for x in 0..<width {
                            let r = Int(line[6 * x]) << 8 | Int(line[6 * x + 1])
                            let g = Int(line[6 * x + 2]) << 8 | Int(line[6 * x + 3])
                            let b = Int(line[6 * x + 4]) << 8 | Int(line[6 * x + 5])
                            if let key = keyRGB, (r, g, b) == key { o[x] = 255; continue }
                            o[x] = UInt8(luma(r >> 8, g >> 8, b >> 8))
                        }
                    case (6, 16):
                        for x in 0..<width {
                            let l = luma(Int(line[8 * x]), Int(line[8 * x + 2]), Int(line[8 * x + 4]))
                            o[x] = overWhite(l, alpha: Int(line[8 * x + 6]))
                        }
                    case (4, 8):
                        for x in 0..<width { o[x] = overWhite(Int(line[2 * x]), alpha: Int(line[2 * x + 1])) }
                    case (4, 16):
                        for x in 0..<width { o[x] = overWhite(Int(line[4 * x]), alpha: Int(line[4 * x + 2])) }
                    case (0, 16):
                        for x in 0..<width {
                            let v = Int(line[2 * x]) << 8 | Int(line[2 * x + 1])
                            o[x] = v == keyGrey ? 255 : line[2 * x]
                        }
                    case (0, _):
                        // 1/2/4/8-bit grey, scaled to 0...255.
                        let maxValue = (1 << depth) - 1
                        for x in 0..<width {
                            let v = sample(line, x, depth)
                            o[x] = v == keyGrey ? 255 : UInt8(v * 255 / maxValue)
                        }
                    default: // (3, 1/2/4/8): palette
                        let entries = palette.count / 3
                        for x in 0..<width {
                            var index = sample(line, x, depth)
                            // Out-of-range indexes are an error per the spec; read them as black.
                            if index >= entries { index = -1 }
                            if index < 0 { o[x] = 0; continue }
                            let l = luma(Int(palette[3 * index]), Int(palette[3 * index + 1]), Int(palette[3 * index + 2]))
                            if let t = transparency, index < t.count {
                                o[x] = overWhite(l, alpha: Int(t[index]))
                            } else {
                                o[x] = UInt8(l)
                            }
                        }
                    }
                }
            }
        }
        return out
    }

    /// Sample `x` of a packed scanline of 1-, 2-, 4- or 8-bit samples (most significant first).
    @inline(__always)
    static func sample(_ line: UnsafePointer<UInt8>, _ x: Int, _ depth: Int) -> Int {
        switch depth {
        case 8: return Int(line[x])
        case 4: return Int(line[x >> 1] >> (x & 1 == 0 ? 4 : 0)) & 0x0F
        case 2: return Int(line[x >> 2] >> UInt8(6 - 2 * (x & 3))) & 0x03
        default: return Int(line[x >> 3] >> UInt8(7 - (x & 7))) & 0x01
        }
    }
}
