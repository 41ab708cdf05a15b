import Foundation
import Testing

@testable import SigilQR

// Our reader against images made by other software: qrencode (another encoder, which also
// writes numeric, alphanumeric and Kanji segments), rsvg-convert (antialiased, non-integer
// scales, a whole 1024×800 page) and, when available, a headless Chromium screenshot.
//
// qrencode and rsvg-convert are required under CI=true (apt-get install -y qrencode
// librsvg2-bin) and skipped with a notice otherwise. The Chromium test needs chromium,
// chromedriver and /opt/peers-venv/bin/python with selenium; it is skipped with a notice
// without them.

struct QREncodeCase: Sendable, CustomTestStringConvertible {
    var name: String
    /// The input bytes (written to a file and passed with -r).
    var payload: [UInt8]
    var arguments: [String]
    var testDescription: String { "\(name) \(arguments.joined(separator: " "))" }
}

let qrencodeCases: [QREncodeCase] = [
    QREncodeCase(name: "numeric", payload: Array("012345678901234567890123456789".utf8), arguments: ["-l", "L"]),
    QREncodeCase(name: "alphanumeric", payload: Array("HELLO WORLD $%*+-./: 42".utf8), arguments: ["-l", "Q"]),
    QREncodeCase(name: "mixed modes", payload: Array("SIGIL LOGIN 20240101 https://id.example.com/qr?tx=01HZX3K9QW".utf8), arguments: ["-l", "M"]),
    QREncodeCase(name: "8-bit UTF-8", payload: Array(unicodeText.utf8), arguments: ["-8", "-l", "H"]),
    QREncodeCase(name: "login URL", payload: Array(loginURL.utf8), arguments: ["-l", "M", "-s", "3"]),
    QREncodeCase(name: "forced version 25", payload: Array("sigil://login?tx=v25".utf8), arguments: ["-v", "25", "-l", "Q", "-s", "2"]),
    QREncodeCase(name: "1-module margin", payload: Array("Sigil".utf8), arguments: ["-m", "1", "-s", "6"]),
    // 日本語 in Shift JIS: qrencode puts it in a Kanji segment; we return the Shift JIS bytes.
    QREncodeCase(name: "Kanji", payload: [0x93, 0xFA, 0x96, 0x7B, 0x8C, 0xEA], arguments: ["-k", "-l", "M"]),
]

@Suite("QR decoder against other software")
struct QRExternalDecodeTests {
    @Test("qrencode's PNGs decode to their payload", arguments: qrencodeCases)
    func qrencode(_ testCase: QREncodeCase) throws {
        guard let qrencode = ExternalTools.require("qrencode", install: "apt-get install -y qrencode") else { return }
        let directory = try ExternalTools.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let input = directory.appendingPathComponent("input.bin")
        let output = directory.appendingPathComponent("qr.png")
        try Data(testCase.payload).write(to: input)
        let run = try ExternalTools.run(qrencode, testCase.arguments + ["-r", input.path, "-o", output.path])
        try #require(run.status == 0, "qrencode failed: \(run.stderr)")
        let image = try PNGImage.decode(Array(Data(contentsOf: output)))
        let result = try QRDecoder.decodeDetailed(image: image)
        #expect(result.bytes == testCase.payload)
        if let index = testCase.arguments.firstIndex(of: "-v") {
            #expect(result.version == Int(testCase.arguments[index + 1]))
        }
    }

    @Test(
        "our SVG rasterised by rsvg-convert at non-integer scales",
        arguments: [
            (2.7, QRErrorCorrection.quartile, 80), (3.5, .medium, 299), (4.6, .low, 700), (5.3, .high, 40), (3.5, .low, 2000),
        ])
    func rsvgScaled(scale: Double, level: QRErrorCorrection, length: Int) throws {
        guard let rsvg = ExternalTools.require("rsvg-convert", install: "apt-get install -y librsvg2-bin") else { return }
        let payload = asciiPayload(length, seed: UInt64(length))
        let code = try QRCode.encode(payload, errorCorrection: level)
        let directory = try ExternalTools.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let svg = directory.appendingPathComponent("qr.svg")
        let png = directory.appendingPathComponent("qr.png")
        try Data(code.svg(moduleSize: 1).utf8).write(to: svg)
        let side = Int((Double(code.size + 8) * scale).rounded())
        let run = try ExternalTools.run(rsvg, ["-w", "\(side)", "-h", "\(side)", "-o", png.path, svg.path])
        try #require(run.status == 0, "rsvg-convert failed: \(run.stderr)")
        let image = try PNGImage.decode(Array(Data(contentsOf: png)))
        #expect(image.width == side)
        #expect(try QRDecoder.decode(image: image) == payload)
    }

    @Test("a 1024×800 page rendered by rsvg-convert, code at an offset among other shapes")
    func rsvgPage() throws {
        guard let rsvg = ExternalTools.require("rsvg-convert", install: "apt-get install -y librsvg2-bin") else { return }
        let code = try QRCode.encode(loginURL)
        let inner = code.svg(moduleSize: 1)
        let qrPath = inner[inner.range(of: "<path")!.lowerBound..<inner.range(of: "</svg>")!.lowerBound]
        var page = ##"<svg xmlns="http://www.w3.org/2000/svg" width="1024" height="800">"##
        page += ##"<rect width="1024" height="800" fill="#f4f4f6"/><rect width="1024" height="64" fill="#1d2330"/>"##
        page += ##"<text x="40" y="42" font-size="28" fill="#fff" font-family="sans-serif">Sigil</text>"##
        page += ##"<text x="60" y="150" font-size="30" font-family="sans-serif">Sign in to Example Corp</text>"##
        for line in 0..<8 {
            page +=
                ##"<text x="60" y="\##(210 + line * 28)" font-size="18" fill="#333" font-family="sans-serif">Lorem ipsum dolor sit amet, consectetur ■ adipiscing elit \##(line)</text>"##
        }
        page += ##"<rect x="60" y="480" width="220" height="48" rx="8" fill="#2b5fd9"/><rect x="60" y="560" width="90" height="90" fill="#000"/>"##
        // The code: 5.25 px per module at (612.5, 170.25), with a white card behind it.
        page += ##"<rect x="590" y="150" width="330" height="330" fill="#fff"/>"##
        page +=
            ##"<g transform="translate(612.5 170.25) scale(5.25)"><rect width="\##(code.size + 8)" height="\##(code.size + 8)" fill="#fff"/>\##(qrPath)</g></svg>"##
        let directory = try ExternalTools.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let svg = directory.appendingPathComponent("page.svg")
        let png = directory.appendingPathComponent("page.png")
        try Data(page.utf8).write(to: svg)
        let run = try ExternalTools.run(rsvg, ["-o", png.path, svg.path])
        try #require(run.status == 0, "rsvg-convert failed: \(run.stderr)")
        let bytes = try Array(Data(contentsOf: png))
        let clock = ContinuousClock()
        var decoded: [UInt8] = []
        let elapsed = try clock.measure {
            let image = try PNGImage.decode(bytes)
            #expect(image.width == 1024 && image.height == 800)
            decoded = try QRDecoder.decode(image: image)
        }
        #expect(decoded == Array(loginURL.utf8))
        print("1024×800 rsvg page: PNG + QR decode in \(elapsed)")
        #if !DEBUG
        #expect(elapsed < .milliseconds(200), "decode took \(elapsed)")
        #endif
    }

    static let screenshotScript = #"""
        import sys
        from selenium import webdriver
        from selenium.webdriver.chrome.options import Options
        from selenium.webdriver.chrome.service import Service
        html, out, driver = sys.argv[1], sys.argv[2], sys.argv[3]
        options = Options()
        for argument in ['--headless=new', '--no-sandbox', '--disable-gpu', '--window-size=1024,800',
                         '--hide-scrollbars', '--force-device-scale-factor=1']:
            options.add_argument(argument)
        options.binary_location = sys.argv[4]
        browser = webdriver.Chrome(options=options, service=Service(driver))
        try:
            browser.get('file://' + html)
            browser.save_screenshot(out)
        finally:
            browser.quit()
        """#

    @Test("a headless Chromium screenshot of a login page with our SVG")
    func chromiumScreenshot() throws {
        let python = "/opt/peers-venv/bin/python"
        guard FileManager.default.isExecutableFile(atPath: python),
            let chromium = ExternalTools.find("chromium"),
            let driver = ExternalTools.find("chromedriver"),
            (try? ExternalTools.run(python, ["-c", "import selenium"]).status) == 0
        else {
            print("SKIPPED Chromium screenshot test: needs chromium, chromedriver and \(python) with selenium")
            return
        }
        let code = try QRCode.encode(loginURL)
        let html = """
            <!doctype html><html><head><meta charset="utf-8"><title>Sign in</title></head>
            <body style="font-family: sans-serif; margin: 40px; background: #fafafa">
            <h1>Sign in to Sigil</h1>
            <p>Scan this code with the Sigil authenticator, or use a passkey.</p>
            <div style="display: flex; gap: 40px; align-items: flex-start">
              <div style="width: 300px">\(code.svg(moduleSize: 4, title: "Sign in with Sigil"))</div>
              <div><p>Lorem ipsum dolor sit amet ■ □ ▪, consectetur adipiscing elit.</p>
              <button style="font-size: 18px; padding: 10px 20px">Use a passkey</button></div>
            </div></body></html>
            """
        let directory = try ExternalTools.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let page = directory.appendingPathComponent("login.html")
        let script = directory.appendingPathComponent("shot.py")
        let png = directory.appendingPathComponent("shot.png")
        try Data(html.utf8).write(to: page)
        try Data(Self.screenshotScript.utf8).write(to: script)
        let run = try ExternalTools.run(python, [script.path, page.path, png.path, driver, chromium])
        guard run.status == 0, FileManager.default.fileExists(atPath: png.path) else {
            print("SKIPPED Chromium screenshot test: the screenshot failed: \(run.stderr.suffix(500))")
            return
        }
        let bytes = try Array(Data(contentsOf: png))
        let clock = ContinuousClock()
        var text = ""
        let elapsed = try clock.measure {
            text = try QRDecoder.decodeString(image: PNGImage.decode(bytes))
        }
        #expect(text == loginURL)
        print("Chromium screenshot: PNG + QR decode in \(elapsed)")
    }
}
