import Dispatch
import Foundation
import Logging
import SigilIDV

/// The `sigil-idv-engine` executable (docs/idv-engines.md) as an `IDVEngine`: one long-lived
/// `--serve` process, newline-delimited JSON both ways, one request at a time, restarted when it
/// dies. Images travel base64 in the JSON over the pipe, never through files; the engine writes
/// nothing about them to its stderr, and neither does this.
public actor ProcessIDVEngine: IDVEngine {
    public let path: String
    let logger: Logger
    var process: Process?
    var input: FileHandle?
    var output: FileHandle?
    var buffer: [UInt8] = []
    var known: IDVEngineCapabilities?
    /// One engine call at a time; it can take seconds (face descriptors on a CPU).
    let queue = DispatchQueue(label: "sigil.idv-engine")

    public init(path: String, logger: Logger = Logger(label: "sigil.idv")) {
        self.path = path
        self.logger = logger
    }

    /// The engine at `$SIGIL_IDV_ENGINE` when it is set (and none if that is not an executable:
    /// an operator who names one gets that one or none, never another), else the install
    /// script's place, else none.
    public static func fromEnvironment(logger: Logger = Logger(label: "sigil.idv")) -> any IDVEngine {
        if let named = ProcessInfo.processInfo.environment["SIGIL_IDV_ENGINE"], !named.isEmpty {
            guard FileManager.default.isExecutableFile(atPath: named) else {
                logger.warning("SIGIL_IDV_ENGINE is not an executable: no IDV engine", metadata: ["path": .string(named)])
                return UnavailableIDVEngine(why: "SIGIL_IDV_ENGINE (\(named)) is not an executable")
            }
            return ProcessIDVEngine(path: named, logger: logger)
        }
        let installed = "/usr/local/lib/sigil/sigil-idv-engine"
        return FileManager.default.isExecutableFile(atPath: installed) ? ProcessIDVEngine(path: installed, logger: logger) : UnavailableIDVEngine()
    }

    /// One engine call may take this long (a large image on a slow CPU); then the process is killed.
    public static let callTimeout: TimeInterval = 60

    public func capabilities() async -> IDVEngineCapabilities {
        if let known { return known }
        guard let answer = try? await call(["op": "capabilities"]) else { return .none }
        let c = IDVEngineCapabilities(
            face: answer["face"] as? Bool ?? false, pdf417: answer["pdf417"] as? Bool ?? false, mrz: answer["mrz"] as? Bool ?? false,
            quality: answer["quality"] as? Bool ?? false, text: answer["text"] as? Bool ?? false)
        known = c
        return c
    }

    public func faces(in image: [UInt8]) async throws(IDVEngineError) -> [DetectedFace] {
        guard await capabilities().face else { throw .unavailable("the engine has no face model") }
        let answer = try await call(["op": "face", "image": Data(image).base64EncodedString(), "upsample": 1])
        return (answer["faces"] as? [[String: Any]] ?? []).map { f in
            let eyes = f["eye_aspect_ratio"] as? [String: Any]
            let left = (eyes?["left"] as? NSNumber)?.doubleValue
            let right = (eyes?["right"] as? NSNumber)?.doubleValue
            return DetectedFace(
                box: (f["box"] as? [NSNumber] ?? []).map(\.intValue),
                descriptor: (f["descriptor"] as? [NSNumber] ?? []).map(\.doubleValue),
                eyeAspectRatio: left.flatMap { l in right.map { (l + $0) / 2 } },
                yaw: (f["yaw"] as? NSNumber)?.doubleValue, pitch: (f["pitch"] as? NSNumber)?.doubleValue,
                roll: (f["roll"] as? NSNumber)?.doubleValue)
        }
    }

    public func pdf417(in image: [UInt8]) async throws(IDVEngineError) -> String? {
        guard await capabilities().pdf417 else { throw .unavailable("the engine has no PDF417 decoder") }
        let answer = try await call(["op": "pdf417", "image": Data(image).base64EncodedString()])
        return (answer["found"] as? Bool ?? false) ? answer["text"] as? String : nil
    }

    public func mrzLines(in image: [UInt8]) async throws(IDVEngineError) -> [String] {
        guard await capabilities().mrz else { throw .unavailable("the engine has no OCR language data") }
        let answer = try await call(["op": "mrz", "image": Data(image).base64EncodedString()])
        return answer["lines"] as? [String] ?? []
    }

    public func quality(of image: [UInt8], kind: String) async throws(IDVEngineError) -> [String] {
        // An engine from before the quality check has none (not an error worth a restart).
        guard await capabilities().quality else { throw .unavailable("the engine has no quality check") }
        let answer = try await call(["op": "quality", "image": Data(image).base64EncodedString(), "kind": kind])
        return answer["advice"] as? [String] ?? []
    }

    public func documentText(in image: [UInt8]) async throws(IDVEngineError) -> [String] {
        guard await capabilities().text else { throw .unavailable("the engine has no text reader") }
        let answer = try await call(["op": "text", "image": Data(image).base64EncodedString()])
        return answer["lines"] as? [String] ?? []
    }

    // MARK: the process

    func call(_ request: [String: Any]) async throws(IDVEngineError) -> [String: Any] {
        let line: [UInt8]
        do {
            var data = try JSONSerialization.data(withJSONObject: request)
            data.append(0x0A)
            line = [UInt8](data)
        } catch {
            throw .failed("request not encodable")
        }
        for attempt in 0..<2 {
            do {
                try start()
                guard let input, let output, let running = process else { throw IDVEngineError.unavailable("engine not running") }
                // A hung engine is killed: the blocked read then ends with "engine exited".
                let watchdog = Watchdog(process: running, after: Self.callTimeout)
                defer { watchdog.cancel() }
                let reply = try await exchange(line, input: input, output: output)
                guard let object = try? JSONSerialization.jsonObject(with: Data(reply)) as? [String: Any] else {
                    throw IDVEngineError.failed("unreadable engine answer")
                }
                if let error = object["error"] as? String {
                    if ["image_too_large", "image_unreadable", "image_empty"].contains(error) { throw IDVEngineError.image(error) }
                    if error.hasPrefix("image") { throw IDVEngineError.image("image_unreadable") }
                    throw IDVEngineError.failed(error)
                }
                return object
            } catch let error as IDVEngineError {
                if case .image = error { throw error }
                logger.warning("IDV engine call failed", metadata: ["attempt": .stringConvertible(attempt), "reason": .string("\(error)")])
                stop()
                if attempt == 1 { throw error }
            } catch {
                stop()
                if attempt == 1 { throw .failed("engine i/o") }
            }
        }
        throw .failed("engine i/o")
    }

    func start() throws(IDVEngineError) {
        if let process, process.isRunning { return }
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = ["--serve"]
        let stdin = Pipe()
        let stdout = Pipe()
        p.standardInput = stdin
        p.standardOutput = stdout
        p.standardError = FileHandle.nullDevice
        do { try p.run() } catch { throw .unavailable("cannot start \(path)") }
        process = p
        input = stdin.fileHandleForWriting
        output = stdout.fileHandleForReading
        buffer = []
    }

    func stop() {
        process?.terminate()
        process = nil
        input = nil
        output = nil
        buffer = []
        known = nil
    }

    /// Writes one line and reads one line, on the engine's own dispatch queue (blocking I/O off
    /// the cooperative pool), with a time limit.
    func exchange(_ line: [UInt8], input: FileHandle, output: FileHandle) async throws -> [UInt8] {
        let pending = buffer
        let (reply, rest): ([UInt8], [UInt8]) = try await withCheckedThrowingContinuation { continuation in
            queue.async {
                do {
                    try input.write(contentsOf: Data(line))
                    var acc = pending
                    while true {
                        if let nl = acc.firstIndex(of: 0x0A) {
                            continuation.resume(returning: (Array(acc[..<nl]), Array(acc[(nl + 1)...])))
                            return
                        }
                        let chunk = output.availableData
                        if chunk.isEmpty {
                            continuation.resume(throwing: IDVEngineError.failed("engine exited"))
                            return
                        }
                        acc.append(contentsOf: chunk)
                        if acc.count > 64 << 20 {
                            continuation.resume(throwing: IDVEngineError.failed("engine answer too large"))
                            return
                        }
                    }
                } catch {
                    continuation.resume(throwing: IDVEngineError.failed("engine pipe closed"))
                }
            }
        }
        buffer = rest
        return reply
    }
}

/// Terminates a process unless cancelled in time.
final class Watchdog: @unchecked Sendable {
    private let item: DispatchWorkItem

    init(process: Process, after seconds: TimeInterval) {
        let pid = process.processIdentifier
        item = DispatchWorkItem { kill(pid, SIGKILL) }
        DispatchQueue.global().asyncAfter(deadline: .now() + seconds, execute: item)
    }

    func cancel() { item.cancel() }
}
