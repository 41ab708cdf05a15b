import AuthenticatorKit
import Foundation
import SigilAuthenticatorProtocol
import SigilQR

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The 8-byte PNG signature (PNG §5.2).
let pngSignature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]

/// The text of a code given on the command line: the argument itself, or, when it names a file, the
/// QR code in that PNG (recognised by its signature bytes) or the file's text.
func readCodeInput(_ argument: String) throws -> String {
    guard FileManager.default.fileExists(atPath: argument) else { return argument }
    let bytes: [UInt8]
    do {
        bytes = Array(try Data(contentsOf: URL(fileURLWithPath: argument)))
    } catch {
        throw CLIFailure.usage("cannot read \(argument)")
    }
    guard bytes.starts(with: pngSignature) else {
        return String(decoding: bytes, as: UTF8.self)
    }
    do {
        return try QRDecoder.decodeString(image: PNGImage.decode(bytes))
    } catch {
        throw CLIFailure.usage("no readable QR code in \(argument): \(error)")
    }
}

enum Terminal {
    static var isInteractive: Bool { isatty(STDIN_FILENO) == 1 }

    /// Writes `question` to stderr and reads one line from stdin.
    static func ask(_ question: String) -> String? {
        FileHandle.standardError.write(Data(question.utf8))
        return readLine(strippingNewline: true)
    }

    static func confirm(_ question: String) -> Bool {
        guard let answer = ask(question + " [y/N] ") else { return false }
        return ["y", "yes"].contains(answer.trimmingCharacters(in: .whitespaces).lowercased())
    }
}

func printError(_ message: String) {
    FileHandle.standardError.write(Data("sigil-authenticator: \(message)\n".utf8))
}

/// The user verification of the CLI: `--yes` reports `none`; a confirmation typed on a terminal
/// reports `presence`; without a terminal nothing can be confirmed.
struct TerminalVerifier: UserVerifier {
    let assumeYes: Bool

    func verify(_ prompt: ApprovalPrompt) async throws -> UserVerificationMethod {
        if assumeYes { return .none }
        guard Terminal.isInteractive else {
            throw CLIFailure.usage("no terminal to confirm on; pass --yes")
        }
        let view = prompt.request.view
        let from = view.requester.browser ?? view.requester.ip ?? "an unknown browser"
        guard Terminal.confirm("Approve sign-in to \(view.tenant) from \(from)?") else {
            throw AuthenticatorError.cancelled
        }
        return .presence
    }
}

func host(of url: String) -> String {
    URLComponents(string: url)?.host ?? url
}

/// The human-readable description of a request (no secret, no number: the device never has it).
func describe(_ request: ApprovalRequest, now: Date = Date()) -> String {
    let view = request.view
    var from: [String] = []
    if let ip = view.requester.ip { from.append(ip) }
    if let browser = view.requester.browser { from.append(browser) }
    if let location = view.requester.location {
        let place = [location.city, location.region, location.country].compactMap { $0 }.joined(separator: ", ")
        if !place.isEmpty { from.append(place) }
    }
    var expiry = view.expiresAt
    if let date = Wire.date(view.expiresAt) {
        let left = Int(date.timeIntervalSince(now).rounded(.down))
        expiry += left > 0 ? " (in \(left) s)" : " (expired)"
    }
    var lines = [
        "Sign-in request \(view.transaction) (\(view.kind == "push" ? "push" : "QR code"))",
        "  Application: \(view.application) (\(view.tenant))",
        "  Origin:      \(host(of: view.origin))",
        "  Requester:   \(from.isEmpty ? "unknown" : from.joined(separator: ", "))",
        "  Expires:     \(expiry)",
    ]
    if let message = view.message { lines.append("  Message:     \(message)") }
    if view.userVerification == "biometric" { lines.append("  Check:       face or fingerprint required (a PIN will not do)") }
    if view.numberMatching == false { lines.append("  Number:      none to match (an application's request: check the message)") }
    if view.faceMatch == "required" { lines.append("  Face:        a live face re-match against your verified identity is required (--liveness DIR)") }
    return lines.joined(separator: "\n")
}

func jsonLine<T: Encodable>(_ value: T) -> String {
    String(decoding: Wire.encode(value), as: UTF8.self)
}

/// What `list` and `enroll --json` print about an enrolment (never the key).
struct EnrolmentSummary: Codable {
    var issuer: String
    var deviceID: String
    var name: String
    var email: String
    var tenant: String
    var createdAt: String
    init(_ e: Enrolment) {
        issuer = e.issuer; deviceID = e.deviceID; name = e.name; email = e.email; tenant = e.tenant; createdAt = e.createdAt
    }
    enum CodingKeys: String, CodingKey { case issuer, name, email, tenant, deviceID = "device_id", createdAt = "created_at" }
}

/// Ends the process with `code` (stdout is flushed first).
func terminate(_ code: Int32) -> Never {
    fflush(nil)
    exit(code)
}
