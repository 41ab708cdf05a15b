import SigilAuthenticatorProtocol

/// Where a device key lives; reported at enrolment as `key_protection`.
public enum KeyProtection: String, Codable, Sendable, Hashable {
    case secureEnclave = "secure_enclave", strongBox = "strongbox", tee, software
}

/// An opaque label for a key in a `DeviceKeyStore`; never key bytes.
public struct DeviceKeyHandle: Codable, Sendable, Hashable {
    public let id: String
    public init(id: String) { self.id = id }
}

/// Creates and uses device keys. iOS: Keychain + Secure Enclave; Android: Keystore; CLI: `SoftwareKeyStore`.
public protocol DeviceKeyStore: Sendable {
    /// A new P-256 key; `publicKey` is X9.63 uncompressed (65 bytes).
    func generateKey() async throws -> (handle: DeviceKeyHandle, publicKey: [UInt8], protection: KeyProtection)
    /// ECDSA P-256 with SHA-256 over `message`; the DER signature.
    func sign(_ message: [UInt8], with handle: DeviceKeyHandle) async throws -> [UInt8]
    func deleteKey(_ handle: DeviceKeyHandle) async throws
}

/// What the user proved locally before an approval; signed into the approval (§1.2) and mapped to `amr` (§1.6).
public enum UserVerificationMethod: String, Codable, Sendable, Hashable, CaseIterable {
    case face, fingerprint, pin, presence, none

    var canonical: CanonicalMessage.UserVerification { CanonicalMessage.UserVerification(rawValue: rawValue) ?? .none }
}

/// approve, deny or report (§1.2).
public typealias Decision = CanonicalMessage.Decision

/// What the user is asked to confirm.
public struct ApprovalPrompt: Sendable {
    public let request: ApprovalRequest
    public let decision: Decision
    public init(request: ApprovalRequest, decision: Decision) { self.request = request; self.decision = decision }
}

public protocol UserVerifier: Sendable {
    /// Runs the local check (biometric, device PIN, confirmation). Throws `AuthenticatorError.cancelled`.
    /// When the key store already demands biometry per signature, this only reports the method.
    func verify(_ prompt: ApprovalPrompt) async throws -> UserVerificationMethod
}

/// A verifier that always reports one method without asking (the CLI's `--yes` reports `none`).
public struct FixedUserVerifier: UserVerifier {
    public let method: UserVerificationMethod
    public init(_ method: UserVerificationMethod) { self.method = method }
    public func verify(_ prompt: ApprovalPrompt) async throws -> UserVerificationMethod { method }
}

/// One HTTP request as the kit hands it to a transport.
public struct HTTPExchange: Sendable {
    public var method: String
    public var url: String
    public var headers: [(String, String)]
    public var body: [UInt8]
    public init(method: String, url: String, headers: [(String, String)], body: [UInt8]) {
        self.method = method; self.url = url; self.headers = headers; self.body = body
    }
    /// The first value of a header (case-insensitive name).
    public func header(_ name: String) -> String? {
        headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }
}

/// One HTTP answer.
public struct HTTPReply: Sendable {
    public var status: Int
    public var headers: [(String, String)]
    public var body: [UInt8]
    public init(status: Int, headers: [(String, String)] = [], body: [UInt8] = []) {
        self.status = status; self.headers = headers; self.body = body
    }
    public func header(_ name: String) -> String? {
        headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }
}

/// Moves bytes: URLSession, an OkHttp bridge, AsyncHTTPClient, or a scripted fake in tests.
public protocol AuthenticatorTransport: Sendable {
    func send(_ request: HTTPExchange) async throws -> HTTPReply
    /// Like `send`, but the body is streamed (the reply's `body` is empty); used for `text/event-stream`.
    func open(_ request: HTTPExchange) async throws -> (HTTPReply, AsyncThrowingStream<[UInt8], any Error>)
}

/// Keeps the enrolments (app: a Keychain item; CLI: the 0600 state file).
public protocol EnrolmentStore: Sendable {
    func load() async throws -> [Enrolment]
    func save(_ enrolments: [Enrolment]) async throws
}

/// This device's registration with one issuer.
public struct Enrolment: Codable, Sendable, Hashable {
    /// Byte-exact as in the enrolment code; login codes must name exactly this issuer.
    public var issuer: String
    public var deviceID: String
    public var userID: String
    public var email: String
    /// The device name as registered.
    public var name: String
    /// The tenant's display name.
    public var tenant: String
    public var key: DeviceKeyHandle
    public var keyProtection: KeyProtection
    /// Seconds to add to the local clock for this issuer (learned from `device-clock-skew`).
    public var clockOffset: Int64
    /// RFC 3339, as the server reported it.
    public var createdAt: String

    public init(
        issuer: String, deviceID: String, userID: String, email: String, name: String, tenant: String,
        key: DeviceKeyHandle, keyProtection: KeyProtection, clockOffset: Int64 = 0, createdAt: String
    ) {
        self.issuer = issuer; self.deviceID = deviceID; self.userID = userID; self.email = email; self.name = name
        self.tenant = tenant; self.key = key; self.keyProtection = keyProtection; self.clockOffset = clockOffset
        self.createdAt = createdAt
    }

    enum CodingKeys: String, CodingKey {
        case issuer, email, name, tenant, key
        case deviceID = "device_id", userID = "user_id", keyProtection = "key_protection"
        case clockOffset = "clock_offset", createdAt = "created_at"
    }
}

/// A scanned login code. Its description never shows the secret.
public struct LoginCode: Sendable, Hashable, CustomStringConvertible {
    public let payload: AuthenticatorPayload
    public init(_ payload: AuthenticatorPayload) { self.payload = payload }
    public var issuer: String { payload.issuer }
    public var transactionID: String { payload.transactionID }
    public var description: String { "login code \(payload.transactionID) for \(payload.issuer)" }
}

/// A scanned enrolment code. Its description never shows the secret.
public struct EnrolmentCode: Sendable, Hashable, CustomStringConvertible {
    public let payload: AuthenticatorPayload
    public init(_ payload: AuthenticatorPayload) { self.payload = payload }
    public var issuer: String { payload.issuer }
    public var transactionID: String { payload.transactionID }
    public var description: String { "enrolment code \(payload.transactionID) for \(payload.issuer)" }
}

public enum ScannedCode: Sendable, Hashable {
    case login(LoginCode)
    case enrolment(EnrolmentCode)
}

/// What the enrolment preview shows before the user agrees (§2).
public struct EnrolmentPreview: Sendable, Hashable {
    public let code: EnrolmentCode
    public let tenant: String
    public let email: String
    public let challenge: String
    public let expiresAt: String
    public var issuer: String { code.issuer }
}

/// A sign-in request to answer, bound to the enrolment (device) that received it.
public struct ApprovalRequest: Sendable, Equatable {
    public let view: RequestView
    /// The enrolment's issuer (signed into the approval).
    public let issuer: String
    public let deviceID: String
    public init(view: RequestView, issuer: String, deviceID: String) {
        self.view = view; self.issuer = issuer; self.deviceID = deviceID
    }
    public var transactionID: String { view.transaction }
    /// `qr` or `push`.
    public var kind: String { view.kind }
}

/// What a device stream delivers.
public enum DeviceEvent: Sendable, Equatable {
    /// A new push request (also every pending one on connect).
    case push(ApprovalRequest)
    /// A request was answered elsewhere, superseded or expired.
    case gone(transaction: String)
    /// The device was removed; the stream ends.
    case revoked
}
