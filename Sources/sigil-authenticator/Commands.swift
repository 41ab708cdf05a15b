import ArgumentParser
import AsyncHTTPClient
import AuthenticatorKit
import Foundation
import SigilAuthenticatorProtocol
import SigilCore

struct GlobalOptions: ParsableArguments {
    @Option(help: "State directory (default ~/.sigil-authenticator, created 0700).")
    var home: String?

    @Flag(help: "Print machine-readable JSON.")
    var json = false

    @Option(help: "Send requests to this base URL instead of the issuer (signatures still name the issuer; for tests).")
    var via: String?

    var homeDirectory: String {
        if let home { return home }
        let base = ProcessInfo.processInfo.environment["HOME"] ?? NSHomeDirectory()
        return base + "/.sigil-authenticator"
    }

    func store() throws -> FileEnrolmentStore {
        try FileEnrolmentStore(directory: homeDirectory, keys: SoftwareKeyStore())
    }

    /// Runs `body` with an authenticator over a fresh HTTP client (shut down afterwards).
    func withAuthenticator<T: Sendable>(
        verifier: any UserVerifier,
        _ body: (Authenticator, FileEnrolmentStore) async throws -> T
    ) async throws -> T {
        let store = try store()
        var configuration = HTTPClient.Configuration(redirectConfiguration: .disallow)
        configuration.timeout.connect = .seconds(10)
        return try await HTTPClient.withHTTPClient(configuration: configuration) { client in
            let authenticator = Authenticator(
                keys: store.keys, verifier: verifier, transport: HTTPTransport(client: client, via: via),
                enrolments: store)
            return try await body(authenticator, store)
        }
    }
}

@main
struct SigilAuthenticatorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sigil-authenticator",
        abstract: "A command-line Sigil authenticator: enrol with a Sigil server, then approve sign-ins.",
        discussion: "Exit codes: 0 done; 1 the server refused (or could not be reached); 2 usage; 3 not enrolled / nothing pending; 4 cancelled.",
        subcommands: [Enroll.self, Scan.self, Pending.self, Approve.self, Deny.self, List.self, Verify.self]
    )

    static func main() async {
        terminate(await run(Array(CommandLine.arguments.dropFirst())))
    }

    /// Global options may come before the command name (`--home DIR scan …`); they are moved after it.
    static func hoistingGlobals(_ arguments: [String]) -> [String] {
        var globals: [String] = []
        var index = 0
        while index < arguments.count {
            let argument = arguments[index]
            if argument == "--json" || argument.hasPrefix("--home=") || argument.hasPrefix("--via=") {
                globals.append(argument)
                index += 1
            } else if (argument == "--home" || argument == "--via") && index + 1 < arguments.count {
                globals += [argument, arguments[index + 1]]
                index += 2
            } else {
                break
            }
        }
        let names = configuration.subcommands.map { $0._commandName }
        guard !globals.isEmpty, index < arguments.count, names.contains(arguments[index]) else { return arguments }
        return [arguments[index]] + globals + arguments[(index + 1)...]
    }

    /// Parses and runs one command line; the exit code (§10.1).
    static func run(_ arguments: [String]) async -> Int32 {
        let command: any ParsableCommand
        do {
            command = try parseAsRoot(hoistingGlobals(arguments))
        } catch {
            let code = exitCode(for: error)
            if code == .success {
                print(fullMessage(for: error))
                return 0
            }
            printError(fullMessage(for: error))
            return 2
        }
        do {
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                var sync = command
                try sync.run()
            }
            return 0
        } catch let failure as CLIFailure {
            printError(failure.message)
            return failure.exitCode
        } catch let error as AuthenticatorError {
            return report(error)
        } catch let exit as ExitNow {
            return exit.code
        } catch let error as CleanExit {
            print(fullMessage(for: error))
            return 0
        } catch {
            let code = exitCode(for: error)
            if code == .success { print(fullMessage(for: error)); return 0 }
            printError(fullMessage(for: error))
            return code == .validationFailure ? 2 : 1
        }
    }

    static func report(_ error: AuthenticatorError) -> Int32 {
        switch error.code {
        case .server:
            printError("the server refused: \(error.title ?? "error") (\(error.problemName ?? "unknown"))")
            return 1
        case .notEnrolled:
            printError("\(error.message); enrol first with `sigil-authenticator enroll`")
            return 3
        case .invalidCode, .invalidNumber:
            printError(error.message)
            return 2
        case .cancelled:
            printError("cancelled; nothing was sent")
            return 4
        default:
            printError(error.message)
            return 1
        }
    }
}

// MARK: enroll

struct Enroll: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Enrol this device from an enrolment link or a PNG of its QR code.")

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The enrolment link (https or sigil://), or a PNG image of the QR code.")
    var code: String

    @Option(help: "The device name shown on the account page.")
    var name: String?

    @Option(name: .customLong("push-token"), help: "A push token, apns:TOKEN or fcm:TOKEN.")
    var pushToken: String?

    @Flag(help: "Do not ask for confirmation.")
    var yes = false

    func push() throws -> PushRegistration? {
        guard let pushToken else { return nil }
        let parts = pushToken.split(separator: ":", maxSplits: 1)
        guard parts.count == 2, ["apns", "fcm"].contains(parts[0]), !parts[1].isEmpty else {
            throw CLIFailure.usage("--push-token must be apns:TOKEN or fcm:TOKEN")
        }
        return PushRegistration(provider: String(parts[0]), token: String(parts[1]))
    }

    var deviceName: String {
        if let name { return name }
        let host = ProcessInfo.processInfo.hostName.split(separator: ".").first.map(String.init) ?? "this computer"
        return String("sigil-authenticator on \(host)".prefix(64))
    }

    func run() async throws {
        let push = try push()
        guard case .enrolment(let enrolmentCode) = try Authenticator.parse(try readCodeInput(code)) else {
            throw CLIFailure.usage("this is a sign-in code, not an enrolment code; use `sigil-authenticator scan`")
        }
        if !yes && !Terminal.isInteractive {
            throw CLIFailure.usage("no terminal to confirm on; pass --yes")
        }
        let name = deviceName
        let json = global.json
        try await global.withAuthenticator(verifier: FixedUserVerifier(.none)) { authenticator, _ in
            let preview = try await authenticator.preview(enrolmentCode)
            if !yes && !Terminal.confirm("Add \(preview.email) at \(host(of: preview.issuer)) (\(preview.tenant))?") {
                throw AuthenticatorError.cancelled
            }
            let enrolment = try await authenticator.enrol(preview, name: name, platform: "cli", push: push)
            if json {
                print(jsonLine(EnrolmentSummary(enrolment)))
            } else {
                print("Enrolled \(enrolment.email) at \(host(of: enrolment.issuer)) as device \(enrolment.deviceID) (\(enrolment.name)).")
            }
        }
    }
}

// MARK: scan

struct Scan: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Claim a sign-in QR code (its text or a PNG image of it).")

    @OptionGroup var global: GlobalOptions

    @Argument(help: "The QR code's text (https or sigil://), or a PNG image of it.")
    var code: String

    func run() async throws {
        guard case .login(let loginCode) = try Authenticator.parse(try readCodeInput(code)) else {
            throw CLIFailure.usage("this is an enrolment code; use `sigil-authenticator enroll`")
        }
        let json = global.json
        try await global.withAuthenticator(verifier: FixedUserVerifier(.none)) { authenticator, store in
            let request = try await authenticator.claim(loginCode)
            try store.updateClaimed { claimed in
                claimed.removeAll { $0.transaction == request.transactionID || isExpired($0.expiresAt) }
                claimed.append(
                    .init(
                        issuer: request.issuer, transaction: request.transactionID, expiresAt: request.view.expiresAt,
                        deviceID: request.deviceID))
            }
            if json {
                print(jsonLine(request.view))
            } else {
                print(describe(request))
                print("")
                print("Type the number shown in the browser: sigil-authenticator approve --number NN")
            }
        }
    }
}

func isExpired(_ time: String, now: Date = Date()) -> Bool {
    guard let date = Wire.date(time) else { return true }
    return date <= now
}

/// Claimed QR requests (re-read from the server; gone ones are forgotten) and pending pushes.
func collectRequests(_ authenticator: Authenticator, _ store: FileEnrolmentStore, wait: Int) async throws -> [ApprovalRequest] {
    var requests: [ApprovalRequest] = []
    var forget: Set<String> = []
    let enrolments = try await authenticator.listEnrolments()
    for claimed in try store.claimed() {
        let deviceID = claimed.deviceID ?? enrolments.first { $0.issuer == claimed.issuer }?.deviceID
        guard !isExpired(claimed.expiresAt), let deviceID else {
            forget.insert(claimed.transaction)
            continue
        }
        do {
            requests.append(try await authenticator.request(id: claimed.transaction, deviceID: deviceID))
        } catch let error as AuthenticatorError where error.code == .server || error.code == .notEnrolled {
            forget.insert(claimed.transaction)
        }
    }
    if !forget.isEmpty {
        try store.updateClaimed { $0.removeAll { forget.contains($0.transaction) } }
    }
    let pushes = try await authenticator.pending(wait: requests.isEmpty ? .seconds(wait) : .zero)
    for push in pushes where !requests.contains(where: { $0.transactionID == push.transactionID }) {
        requests.append(push)
    }
    return requests
}

/// The one request to answer: `--transaction`, else the only one pending.
func selectRequest(_ requests: [ApprovalRequest], transaction: String?) throws -> ApprovalRequest {
    if let transaction {
        guard let request = requests.first(where: { $0.transactionID == transaction }) else {
            throw CLIFailure(3, "no pending request \(transaction)")
        }
        return request
    }
    switch requests.count {
    case 0: throw CLIFailure(3, "no pending requests")
    case 1: return requests[0]
    default:
        throw CLIFailure.usage("\(requests.count) requests are pending (\(requests.map(\.transactionID).joined(separator: ", "))); pass --transaction")
    }
}

// MARK: pending

struct Pending: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show claimed QR requests and pending push requests.")

    @OptionGroup var global: GlobalOptions

    @Option(help: "Wait up to this many seconds (0…55) for a push request.")
    var wait: Int = 0

    func validate() throws {
        guard (0...55).contains(wait) else { throw ValidationError("--wait must be 0…55") }
    }

    func run() async throws {
        let json = global.json
        let wait = wait
        try await global.withAuthenticator(verifier: FixedUserVerifier(.none)) { authenticator, store in
            if try await authenticator.listEnrolments().isEmpty {
                throw CLIFailure(3, "not enrolled with any server; use `sigil-authenticator enroll`")
            }
            let requests = try await collectRequests(authenticator, store, wait: wait)
            if json {
                print(jsonLine(PendingList(requests: requests.map(\.view))))
            } else if !requests.isEmpty {
                print(requests.map { describe($0) }.joined(separator: "\n\n"))
            }
            if requests.isEmpty {
                if !json { printError("no pending requests") }
                throw ExitNow(code: 3)
            }
        }
    }
}

/// Ends the command with an exit code after output was already written.
struct ExitNow: Error { let code: Int32 }

// MARK: approve

struct Approve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Approve a request with the number shown in the browser.")

    @OptionGroup var global: GlobalOptions

    @Option(help: "The two digits shown in the browser.")
    var number: String?

    @Option(help: "The transaction to approve (needed when several are pending).")
    var transaction: String?

    @Flag(help: "Do not ask for confirmation (reports user verification `none`).")
    var yes = false

    @Option(
        name: .customLong("simulate-user-verification"),
        help: "Testing only: report this local check (face, fingerprint, pin, presence) without performing it, as a phone would after its own check.")
    var simulated: String?

    @Option(
        help:
            "For a step-up that asks for a live face re-match: a folder of frames for the liveness challenge, one sub-folder per step (neutral, turn_left, turn_right, blink), as for `verify --liveness`."
    )
    var liveness: String?

    func run() async throws {
        let verifier: any UserVerifier
        if let simulated {
            guard let method = UserVerificationMethod(rawValue: simulated), method != .none else {
                throw CLIFailure.usage("--simulate-user-verification is face, fingerprint, pin or presence")
            }
            verifier = FixedUserVerifier(method)
        } else {
            if !yes && !Terminal.isInteractive {
                throw CLIFailure.usage("no terminal to confirm on; pass --yes")
            }
            verifier = TerminalVerifier(assumeYes: yes)
        }
        let (json, number, transaction, framesDirectory) = (global.json, number, transaction, liveness)
        try await global.withAuthenticator(verifier: verifier) { authenticator, store in
            let request = try selectRequest(try await collectRequests(authenticator, store, wait: 0), transaction: transaction)
            if !json { print(describe(request)) }
            if request.view.faceMatch == "required" {
                guard let framesDirectory else {
                    throw CLIFailure.usage("this step-up needs a live face re-match: pass --liveness DIR (frames of each liveness step)")
                }
                let challenge = try await authenticator.faceChallenge(request)
                if !json { print("Liveness challenge: \(challenge.steps.joined(separator: ", ")).") }
                let frames = try challenge.steps.map { try Verify.frames(in: framesDirectory, step: $0) }
                let face = try await authenticator.sendFaceFrames(request, recording: try Authenticator.livenessEvidence(challenge, frames: frames))
                guard face.result == "match" else {
                    if json { print(jsonLine(face)) }
                    let why = (face.reasons ?? []).joined(separator: ", ")
                    throw CLIFailure(
                        1, "the face did not match your verified identity (\(why))" + (face.retry == true ? "; try again" : "; the request was stopped"))
                }
                if !json { print("Face matched your verified identity.") }
            }
            var typed = number
            if request.view.numberMatching == false {
                typed = "" // A CIBA request: no browser shows a number; the binding message is the check.
            } else if typed == nil {
                guard Terminal.isInteractive else { throw CLIFailure.usage("no terminal to ask for the number; pass --number") }
                typed = Terminal.ask("Number shown in the browser: ")?.trimmingCharacters(in: .whitespaces)
            }
            guard let typed, !typed.isEmpty || request.view.numberMatching == false else { throw AuthenticatorError.cancelled }
            let result: AnswerResult
            do {
                result = try await authenticator.approve(request, number: typed)
            } catch let error as AuthenticatorError where error.code == .server {
                try? store.updateClaimed { $0.removeAll { $0.transaction == request.transactionID } }
                throw error
            }
            try store.updateClaimed { $0.removeAll { $0.transaction == request.transactionID } }
            print(json ? jsonLine(result) : "Approved; the browser continues.")
        }
    }
}

// MARK: deny

struct Deny: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Decline a request, or report it with --not-me.")

    @OptionGroup var global: GlobalOptions

    @Option(help: "The transaction to deny (needed when several are pending).")
    var transaction: String?

    @Flag(name: .customLong("not-me"), help: "Report \"this wasn't me\" (blocks push requests for 15 minutes).")
    var notMe = false

    func run() async throws {
        let (json, transaction, notMe) = (global.json, transaction, notMe)
        try await global.withAuthenticator(verifier: FixedUserVerifier(.none)) { authenticator, store in
            let request = try selectRequest(try await collectRequests(authenticator, store, wait: 0), transaction: transaction)
            let result = try await authenticator.deny(request, notMe: notMe)
            try store.updateClaimed { $0.removeAll { $0.transaction == request.transactionID } }
            print(json ? jsonLine(result) : (notMe ? "Reported; the sign-in was refused." : "Denied."))
        }
    }
}

// MARK: list

struct List: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List this device's enrolments.")

    @OptionGroup var global: GlobalOptions

    func run() async throws {
        let enrolments = try await global.store().load()
        if global.json {
            print(jsonLine(enrolments.map(EnrolmentSummary.init)))
            return
        }
        if enrolments.isEmpty { print("Not enrolled with any server."); return }
        for e in enrolments {
            print("\(e.issuer)\n  device: \(e.deviceID) (\(e.name))\n  user:   \(e.email)\n  added:  \(e.createdAt)")
        }
    }
}
