import Foundation
import Testing

@testable import SigilQR

/// Round trips through a real decoder: ZBar's `zbarimg` (Debian package zbar-tools) reads
/// the PNGs we write, and `rsvg-convert` (librsvg2-bin) rasterises the SVGs for it.
///
/// Without zbarimg the tests fail when CI=true and are skipped with a printed notice
/// otherwise. Without rsvg-convert only the SVG check is skipped (with a notice).
enum ExternalTools {
    static var isCI: Bool {
        ProcessInfo.processInfo.environment["CI"]?.lowercased() == "true"
    }

    static func find(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for directory in path.split(separator: ":") {
            let candidate = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    static let missingZbarimg = "zbarimg not found on PATH: install it with `apt-get install -y zbar-tools`"

    /// Printed once per run (a static let initialises exactly once, thread-safely).
    static let zbarimgSkipNotice: Void = print("SKIPPED ZBar round-trip tests: \(missingZbarimg)")
    static let rsvgSkipNotice: Void = print(
        "SKIPPED SVG round-trip tests: rsvg-convert not found on PATH (apt-get install -y librsvg2-bin)")

    /// The path of zbarimg, or nil after failing the test (CI) or printing a skip notice.
    static func zbarimg(sourceLocation: SourceLocation = #_sourceLocation) -> String? {
        if let path = find("zbarimg") { return path }
        if isCI {
            Issue.record("\(missingZbarimg) (required when CI=true)", sourceLocation: sourceLocation)
        } else {
            _ = zbarimgSkipNotice
        }
        return nil
    }

    struct Output {
        var status: Int32
        var stdout: [UInt8]
        var stderr: String
    }

    static func run(_ executable: String, _ arguments: [String]) throws -> Output {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let stdout = Pipe()
        let stderrFile = FileManager.default.temporaryDirectory
            .appendingPathComponent("sigilqr-stderr-\(UUID().uuidString)")
        _ = FileManager.default.createFile(atPath: stderrFile.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: stderrFile) }
        let stderr = try FileHandle(forWritingTo: stderrFile)
        process.standardOutput = stdout
        process.standardError = stderr
        process.standardInput = FileHandle.nullDevice
        try process.run()
        let data = stdout.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        try stderr.close()
        let errorText = (try? String(contentsOf: stderrFile, encoding: .utf8)) ?? ""
        return Output(status: process.terminationStatus, stdout: Array(data), stderr: errorText)
    }

    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("sigilqr-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// Decodes `file` with zbarimg. Text payloads use `--raw` (zbarimg then prints the text
    /// and a newline); binary payloads add `-Sbinary` so that no charset conversion happens
    /// (and no newline is printed).
    static func decode(_ zbarimg: String, file: URL, binary: Bool) throws -> (bytes: [UInt8], output: Output) {
        var arguments = ["--raw", "-q", "--nodbus"]
        if binary { arguments.append("-Sbinary") }
        arguments.append(file.path)
        let output = try run(zbarimg, arguments)
        var bytes = output.stdout
        if !binary, bytes.last == 0x0A { bytes.removeLast() }
        return (bytes, output)
    }
}

struct DecodeCase: Sendable, CustomTestStringConvertible {
    var name: String
    var payload: [UInt8]
    var level: QRErrorCorrection
    var minimumVersion: Int = 1
    var mask: Int?
    var expectedVersion: Int
    /// Not valid UTF-8 text: decode with -Sbinary.
    var binary = false

    var testDescription: String {
        "\(name) (\(payload.count) B, \(expectedVersion)-\(level)\(mask.map { ", mask \($0)" } ?? ""))"
    }

    func encode() throws -> QRCode {
        try QRCode.encode(payload, errorCorrection: level, minimumVersion: minimumVersion, mask: mask)
    }
}

let loginURL: String = {
    let tx = String(decoding: asciiPayload(140, seed: 11).map { $0 == UInt8(ascii: "&") || $0 == UInt8(ascii: "#") ? UInt8(ascii: "x") : $0 }, as: UTF8.self)
    let url =
        "sigil://login?tx=\(tx)&s=eyJhbGciOiJFZERTQSJ9.eyJ0eCI6IjAxSFpYM0s5UVcifQ.Qm9ndXMtc2lnbmF0dXJlLWJ1dC1sb25nLWVub3VnaC10by1iZS1yZWFsaXN0aWMtZm9yLXRlc3RpbmctcHVycG9zZXM"
    precondition(url.utf8.count == 299)
    return url
}()

let unicodeText = "Sigil — Anmeldung für Jürgen · サインイン · вход 🔐 ✓"

let decodeCases: [DecodeCase] = {
    var cases: [DecodeCase] = []
    let levels = QRErrorCorrection.allCases
    for level in levels {
        cases.append(DecodeCase(name: "short ASCII", payload: Array("Sigil".utf8), level: level, expectedVersion: 1))
    }
    let urlVersions: [QRErrorCorrection: Int] = [.low: 11, .medium: 13, .quartile: 16, .high: 18]
    for level in levels {
        cases.append(DecodeCase(name: "~300-byte sigil:// URL", payload: Array(loginURL.utf8), level: level, expectedVersion: urlVersions[level]!))
    }
    cases.append(DecodeCase(name: "https URL", payload: Array("https://id.example.com/login/qr?tx=01HZX3K9QW".utf8), level: .medium, expectedVersion: 4))
    cases.append(DecodeCase(name: "UTF-8 text", payload: Array(unicodeText.utf8), level: .medium, expectedVersion: 5))
    cases.append(DecodeCase(name: "UTF-8 text", payload: Array(unicodeText.utf8), level: .high, expectedVersion: 8))
    cases.append(DecodeCase(name: "all 256 byte values", payload: (0...255).map { UInt8($0) }, level: .low, expectedVersion: 10, binary: true))
    var state: UInt64 = 99
    let noise = (0..<480).map { _ in UInt8(truncatingIfNeeded: splitMix(&state)) }
    cases.append(DecodeCase(name: "random bytes", payload: noise, level: .quartile, minimumVersion: 20, expectedVersion: 20, binary: true))
    cases.append(DecodeCase(name: "random bytes", payload: Array(noise.prefix(40)), level: .high, minimumVersion: 40, expectedVersion: 40, binary: true))
    // Explicit versions spanning the range, each level, version information from 7 on.
    for (version, level) in [(1, QRErrorCorrection.high), (2, .medium), (7, .low), (10, .quartile), (20, .medium), (40, .low), (40, .high)] {
        cases.append(
            DecodeCase(
                name: "explicit version", payload: Array((version == 1 ? "sigil" : "sigil://login?tx=v\(version)").utf8), level: level, minimumVersion: version,
                expectedVersion: version))
    }
    // Every mask pattern, forced, at a small and a version-information size.
    for mask in 0..<8 {
        cases.append(DecodeCase(name: "forced mask", payload: Array("mask \(mask)".utf8), level: .medium, minimumVersion: 2, mask: mask, expectedVersion: 2))
        cases.append(
            DecodeCase(name: "forced mask", payload: asciiPayload(100, seed: UInt64(mask)), level: .quartile, minimumVersion: 8, mask: mask, expectedVersion: 8)
        )
    }
    // Every version filled to capacity, the levels in turn.
    for version in 1...40 {
        let level = levels[version % 4]
        let capacity = QRCode.byteCapacity(version: version, errorCorrection: level)
        cases.append(DecodeCase(name: "full symbol", payload: asciiPayload(capacity, seed: UInt64(1000 + version)), level: level, expectedVersion: version))
    }
    return cases
}()

@Suite("ZBar round trip")
struct DecoderTests {
    @Test("zbarimg decodes the PNG to the payload", arguments: decodeCases)
    func decodePNG(_ testCase: DecodeCase) throws {
        guard let zbarimg = ExternalTools.zbarimg() else { return }
        let code = try testCase.encode()
        #expect(code.version == testCase.expectedVersion)
        if let mask = testCase.mask { #expect(code.mask == mask) }
        let directory = try ExternalTools.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("qr.png")
        try Data(code.png(scale: code.version > 20 ? 3 : 4)).write(to: file)
        let (decoded, output) = try ExternalTools.decode(zbarimg, file: file, binary: testCase.binary)
        #expect(output.status == 0, "zbarimg exit \(output.status): \(output.stderr)")
        #expect(decoded == testCase.payload, "decoded \(decoded.count) bytes: \(String(decoding: decoded.prefix(80), as: UTF8.self))")
    }

    static let svgPayloads: [String: [UInt8]] = [
        "short ASCII": Array("Sigil".utf8),
        "login URL": Array(loginURL.utf8),
        "UTF-8 text": Array(unicodeText.utf8),
        "1200 bytes": asciiPayload(1200, seed: 4),
    ]

    @Test(
        "rsvg-convert renders the SVG and zbarimg decodes it",
        arguments: [
            ("short ASCII", QRErrorCorrection.medium),
            ("login URL", .medium),
            ("UTF-8 text", .quartile),
            ("1200 bytes", .low),
        ])
    func decodeSVG(name: String, level: QRErrorCorrection) throws {
        let payload = try #require(Self.svgPayloads[name])
        guard let zbarimg = ExternalTools.zbarimg() else { return }
        guard let rsvg = ExternalTools.find("rsvg-convert") else {
            _ = ExternalTools.rsvgSkipNotice
            return
        }
        let code = try QRCode.encode(payload, errorCorrection: level)
        let directory = try ExternalTools.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let svgFile = directory.appendingPathComponent("qr.svg")
        let pngFile = directory.appendingPathComponent("qr.png")
        try Data(code.svg(moduleSize: 4, title: "Sign in").utf8).write(to: svgFile)
        let converted = try ExternalTools.run(rsvg, ["-o", pngFile.path, svgFile.path])
        try #require(converted.status == 0, "rsvg-convert failed: \(converted.stderr)")
        let (decoded, output) = try ExternalTools.decode(zbarimg, file: pngFile, binary: false)
        #expect(output.status == 0, "zbarimg exit \(output.status): \(output.stderr)")
        #expect(decoded == payload)
    }
}
