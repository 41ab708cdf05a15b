import AsyncHTTPClient
import Crypto
import Foundation
import NIOCore
import SigilCore
import _CryptoExtras

@testable import SigilPush

/// Whether `python3` with `cryptography` can run interop/fake_push.py: nil when it can, else why not.
enum FakePushPrerequisites {
    static let problem: String? = {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", "import cryptography"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        do { try process.run() } catch { return "python3 cannot be started (\(error))" }
        process.waitUntilExit()
        return process.terminationStatus == 0
            ? nil
            : "python3 or its `cryptography` module is missing (pip install cryptography); interop/fake_push.py needs both"
    }()

    static var inCI: Bool { !(ProcessInfo.processInfo.environment["CI"] ?? "").isEmpty }

    /// Run when the fake can run, and always in CI, where a missing prerequisite must fail.
    static var shouldRun: Bool { problem == nil || inCI }
}

struct FakePushError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

/// One interop/fake_push.py process on a free port, with freshly generated keys: a P-256 APNs key
/// (.p8 PEM) and an RSA service-account key (JSON file pointing at the fake's /token).
final class FakePushServer: @unchecked Sendable {
    static let keyID = "KEY1234567"
    static let teamID = "TEAM123456"
    static let topic = "org.sigil.authenticator.test"
    static let clientEmail = "push@sigil-test.iam.gserviceaccount.com"
    static let project = "sigil-test"

    let port: Int
    let directory: URL
    let apnsKeyFile: URL
    let serviceAccountFile: URL
    let apnsKey: P256.Signing.PrivateKey
    private let process: Process

    var baseURL: String { "http://127.0.0.1:\(port)" }

    static func start(extraArguments: [String] = []) async throws -> FakePushServer {
        if let problem = FakePushPrerequisites.problem {
            throw FakePushError("cannot run the push fake: \(problem)")
        }
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sigil-push-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)

        let apnsKey = P256.Signing.PrivateKey()
        let apnsKeyFile = directory.appendingPathComponent("AuthKey_\(keyID).p8")
        try apnsKey.pemRepresentation.write(to: apnsKeyFile, atomically: true, encoding: .utf8)
        let apnsPublic = directory.appendingPathComponent("apns.pub.pem")
        try apnsKey.publicKey.pemRepresentation.write(to: apnsPublic, atomically: true, encoding: .utf8)

        let rsaKey = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        let rsaPublic = directory.appendingPathComponent("sa.pub.pem")
        try rsaKey.publicKey.pemRepresentation.write(to: rsaPublic, atomically: true, encoding: .utf8)

        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments =
            [
                "python3", root.appendingPathComponent("interop/fake_push.py").path, "--port", "0",
                "--apns-public-key", apnsPublic.path, "--apns-key-id", keyID, "--apns-team-id", teamID,
                "--apns-topic", topic, "--fcm-public-key", rsaPublic.path, "--fcm-client-email", clientEmail,
                "--fcm-project", project, "--retry-after", "1",
            ] + extraArguments
        let stdout = Pipe()
        let stderrFile = directory.appendingPathComponent("fake.stderr")
        _ = FileManager.default.createFile(atPath: stderrFile.path, contents: nil)
        process.standardOutput = stdout
        process.standardError = try FileHandle(forWritingTo: stderrFile)
        try process.run()

        // The first stdout line is the port. Read it off the cooperative pool.
        let line = await withCheckedContinuation { (continuation: CheckedContinuation<String, Never>) in
            Thread.detachNewThread {
                var bytes: [UInt8] = []
                while true {
                    let chunk = stdout.fileHandleForReading.availableData
                    if chunk.isEmpty { break }
                    bytes += chunk
                    if bytes.contains(0x0A) { break }
                }
                continuation.resume(returning: String(decoding: bytes, as: UTF8.self))
            }
        }
        guard let port = Int(line.split(separator: "\n").first.map(String.init)?.trimmingCharacters(in: .whitespaces) ?? "") else {
            process.terminate()
            let stderr = (try? String(contentsOf: stderrFile, encoding: .utf8)) ?? ""
            throw FakePushError("interop/fake_push.py did not print its port; stderr: \(stderr)")
        }

        // The service account's token_uri is the fake's /token, as Google's is its own.
        let serviceAccount: [String: String] = [
            "type": "service_account", "project_id": project, "private_key_id": "sa-key-1",
            "private_key": rsaKey.pkcs8PEMRepresentation, "client_email": clientEmail, "client_id": "1234567890",
            "token_uri": "http://127.0.0.1:\(port)/token",
        ]
        let serviceAccountFile = directory.appendingPathComponent("service-account.json")
        try JSONSerialization.data(withJSONObject: serviceAccount, options: [.sortedKeys]).write(to: serviceAccountFile)

        return FakePushServer(
            port: port, directory: directory, apnsKeyFile: apnsKeyFile,
            serviceAccountFile: serviceAccountFile, apnsKey: apnsKey, process: process)
    }

    private init(port: Int, directory: URL, apnsKeyFile: URL, serviceAccountFile: URL, apnsKey: P256.Signing.PrivateKey, process: Process) {
        self.port = port; self.directory = directory; self.apnsKeyFile = apnsKeyFile
        self.serviceAccountFile = serviceAccountFile; self.apnsKey = apnsKey; self.process = process
    }

    func stop() {
        if process.isRunning {
            // SIGKILL: the child inherits the signal mask of the spawning thread, in which the
            // Swift runtime's pool threads may block SIGTERM.
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
        try? FileManager.default.removeItem(at: directory)
    }

    var environment: [String: String] {
        [
            "SIGIL_APNS_KEY_FILE": apnsKeyFile.path, "SIGIL_APNS_KEY_ID": Self.keyID, "SIGIL_APNS_TEAM_ID": Self.teamID,
            "SIGIL_APNS_TOPIC": Self.topic, "SIGIL_APNS_URL": baseURL,
            "SIGIL_FCM_SERVICE_ACCOUNT_FILE": serviceAccountFile.path, "SIGIL_FCM_URL": baseURL,
        ]
    }

    func apnsConfiguration() throws -> APNsConfiguration {
        APNsConfiguration(baseURL: baseURL, keyID: Self.keyID, teamID: Self.teamID, topic: Self.topic, privateKey: apnsKey)
    }

    func fcmConfiguration() throws -> FCMConfiguration {
        FCMConfiguration(baseURL: baseURL, serviceAccount: try FCMServiceAccount(json: Data(contentsOf: serviceAccountFile)))
    }

    // MARK: The fake's record

    func getJSON(_ path: String) async throws -> Any {
        let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: baseURL + path), timeout: .seconds(10))
        let body = try await response.body.collect(upTo: 16 * 1024 * 1024)
        return try JSONSerialization.jsonObject(with: Data(body.readableBytesView))
    }

    func deliveries() async throws -> [[String: Any]] { try await getJSON("/_fake/deliveries") as? [[String: Any]] ?? [] }
    func violations() async throws -> [[String: Any]] { try await getJSON("/_fake/violations") as? [[String: Any]] ?? [] }
    /// Every push request: api, token, status answered.
    func requests() async throws -> [[String: Any]] { try await getJSON("/_fake/requests") as? [[String: Any]] ?? [] }
    func statuses(forToken token: String) async throws -> [Int] {
        try await requests().filter { $0["token"] as? String == token }.compactMap { $0["status"] as? Int }
    }
    func tokenRequests() async throws -> Int {
        (try await getJSON("/_fake/token-requests") as? [String: Any])?["count"] as? Int ?? -1
    }

    /// A raw POST (for showing that the fake refuses what Sigil must never send).
    func post(_ path: String, headers: [(String, String)], body: String) async throws -> (Int, String) {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = .POST
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        request.body = .bytes(ByteBuffer(string: body))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        let data = try await response.body.collect(upTo: 1024 * 1024)
        return (Int(response.status.code), String(buffer: data))
    }
}
