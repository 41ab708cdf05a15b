import AuthenticatorKit
import Foundation
import SigilCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

#if canImport(Glibc)
private func systemRead(_ fd: Int32, _ buffer: UnsafeMutableRawPointer?, _ count: Int) -> Int { Glibc.read(fd, buffer, count) }
private func systemWrite(_ fd: Int32, _ buffer: UnsafeRawPointer?, _ count: Int) -> Int { Glibc.write(fd, buffer, count) }
#else
private func systemRead(_ fd: Int32, _ buffer: UnsafeMutableRawPointer?, _ count: Int) -> Int { Darwin.read(fd, buffer, count) }
private func systemWrite(_ fd: Int32, _ buffer: UnsafeRawPointer?, _ count: Int) -> Int { Darwin.write(fd, buffer, count) }
#endif

/// A failure the CLI reports with a message and an exit code (§10.1).
struct CLIFailure: Error, CustomStringConvertible {
    let exitCode: Int32
    let message: String
    init(_ exitCode: Int32, _ message: String) { self.exitCode = exitCode; self.message = message }
    var description: String { message }

    static func usage(_ message: String) -> Self { Self(2, message) }
}

/// `DIR/state.json` (§10.1): the enrolments with their software keys, and the QR requests this
/// device claimed. Written atomically (a fresh 0600 temp file, fsync, rename) under `flock` on
/// `DIR/state.lock`; refused if group or other permission bits are set.
struct StateFile: Codable, Equatable {
    struct StoredKey: Codable, Equatable {
        var protection: String
        var privateKey: String
        enum CodingKeys: String, CodingKey { case protection, privateKey = "private_key" }
    }

    struct StoredEnrolment: Codable, Equatable {
        var issuer: String
        var deviceID: String
        var userID: String
        var email: String
        var name: String
        var tenant: String?
        var key: StoredKey
        var clockOffset: Int64
        var createdAt: String
        enum CodingKeys: String, CodingKey {
            case issuer, email, name, tenant, key
            case deviceID = "device_id", userID = "user_id", clockOffset = "clock_offset", createdAt = "created_at"
        }
    }

    struct Claimed: Codable, Equatable {
        var issuer: String
        var transaction: String
        var expiresAt: String
        var deviceID: String?
        enum CodingKeys: String, CodingKey { case issuer, transaction, expiresAt = "expires_at", deviceID = "device_id" }
    }

    var version: Int = 1
    var enrolments: [StoredEnrolment] = []
    var claimed: [Claimed] = []
}

/// The CLI's `EnrolmentStore` over the state file; device keys go to and come from a `SoftwareKeyStore`.
final class FileEnrolmentStore: EnrolmentStore, Sendable {
    let directory: String
    let keys: SoftwareKeyStore

    var statePath: String { directory + "/state.json" }
    var lockPath: String { directory + "/state.lock" }

    /// Uses `directory`, creating it with mode 0700 when missing.
    init(directory: String, keys: SoftwareKeyStore) throws {
        self.directory = directory
        self.keys = keys
        var info = stat()
        if stat(directory, &info) != 0 {
            guard mkdir(directory, 0o700) == 0 || errno == EEXIST else {
                throw CLIFailure(1, "cannot create \(directory): \(String(cString: strerror(errno)))")
            }
        } else if (info.st_mode & 0o170000) != 0o040000 {
            throw CLIFailure(2, "\(directory) is not a directory")
        }
    }

    // MARK: EnrolmentStore

    func load() async throws -> [Enrolment] {
        let state = try withLock(exclusive: false) { try read() }
        return try state.enrolments.map { stored in
            guard let scalar = Base64URL.decode(stored.key.privateKey), scalar.count == 32 else {
                throw CLIFailure(1, "\(statePath): a stored device key is malformed")
            }
            let handle = try keys.importKey(scalar: Array(scalar))
            return Enrolment(
                issuer: stored.issuer, deviceID: stored.deviceID, userID: stored.userID, email: stored.email,
                name: stored.name, tenant: stored.tenant ?? "", key: handle,
                keyProtection: KeyProtection(rawValue: stored.key.protection) ?? .software,
                clockOffset: stored.clockOffset, createdAt: stored.createdAt)
        }
    }

    func save(_ enrolments: [Enrolment]) async throws {
        let stored = try enrolments.map { enrolment in
            guard let scalar = keys.exportScalar(enrolment.key) else {
                throw CLIFailure(1, "the key of device \(enrolment.deviceID) is not in the software key store")
            }
            return StateFile.StoredEnrolment(
                issuer: enrolment.issuer, deviceID: enrolment.deviceID, userID: enrolment.userID, email: enrolment.email,
                name: enrolment.name, tenant: enrolment.tenant,
                key: .init(protection: enrolment.keyProtection.rawValue, privateKey: Base64URL.encode(scalar)),
                clockOffset: enrolment.clockOffset, createdAt: enrolment.createdAt)
        }
        try withLock(exclusive: true) {
            var state = try read()
            state.enrolments = stored
            try write(state)
        }
    }

    // MARK: Claimed QR requests

    func claimed() throws -> [StateFile.Claimed] {
        try withLock(exclusive: false) { try read().claimed }
    }

    func updateClaimed(_ change: (inout [StateFile.Claimed]) -> Void) throws {
        try withLock(exclusive: true) {
            var state = try read()
            change(&state.claimed)
            try write(state)
        }
    }

    // MARK: File access

    /// The current state; an empty one if the file does not exist yet. Refuses a file others can read.
    func read() throws -> StateFile {
        let fd = open(statePath, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return StateFile() }
            throw CLIFailure(1, "cannot open \(statePath): \(String(cString: strerror(errno)))")
        }
        defer { close(fd) }
        var info = stat()
        guard fstat(fd, &info) == 0 else { throw CLIFailure(1, "cannot stat \(statePath)") }
        if info.st_mode & 0o077 != 0 {
            throw CLIFailure(2, "\(statePath) is accessible to other users; it holds device keys. Run: chmod 600 \(statePath)")
        }
        var bytes: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let n = buffer.withUnsafeMutableBytes { systemRead(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw CLIFailure(1, "cannot read \(statePath)")
            }
            if n == 0 { break }
            bytes += buffer[0..<n]
            if bytes.count > 16 << 20 { throw CLIFailure(1, "\(statePath) is too large") }
        }
        do {
            let state = try JSONDecoder().decode(StateFile.self, from: Data(bytes))
            guard state.version == 1 else { throw CLIFailure(1, "\(statePath) has unknown version \(state.version)") }
            return state
        } catch let failure as CLIFailure {
            throw failure
        } catch {
            throw CLIFailure(1, "\(statePath) is not a valid state file")
        }
    }

    /// Writes a new file beside the old one (O_CREAT|O_EXCL, 0600), fsyncs it, renames it over.
    func write(_ state: StateFile) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        let bytes = Array(try encoder.encode(state)) + [0x0A]
        let suffix = Base64URL.encode(SystemRandom().bytes(9))
        let temp = directory + "/.state.json.\(getpid()).\(suffix)"
        let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw CLIFailure(1, "cannot create \(temp): \(String(cString: strerror(errno)))") }
        var ok = fchmod(fd, 0o600) == 0
        var offset = 0
        while ok && offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { systemWrite(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { ok = false } else { offset += n }
        }
        ok = ok && fsync(fd) == 0
        close(fd)
        guard ok, rename(temp, statePath) == 0 else {
            unlink(temp)
            throw CLIFailure(1, "cannot write \(statePath): \(String(cString: strerror(errno)))")
        }
        let dir = open(directory, O_RDONLY | O_CLOEXEC)
        if dir >= 0 { _ = fsync(dir); close(dir) }
    }

    /// Runs `body` holding `flock` on `state.lock` (shared for reading, exclusive for writing).
    func withLock<T>(exclusive: Bool, _ body: () throws -> T) throws -> T {
        let fd = open(lockPath, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw CLIFailure(1, "cannot open \(lockPath): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        while flock(fd, exclusive ? LOCK_EX : LOCK_SH) != 0 {
            guard errno == EINTR else { throw CLIFailure(1, "cannot lock \(lockPath)") }
        }
        defer { _ = flock(fd, LOCK_UN) }
        return try body()
    }
}
