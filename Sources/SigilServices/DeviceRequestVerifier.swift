import Foundation
import SigilAuthenticatorProtocol
import SigilCore
import SigilStore

/// The authenticator service's typed error; SigilHTTP maps `code` to a problem type of the same
/// name (docs/authenticator-protocol.md).
public struct AuthenticatorServiceError: Error, Sendable, Equatable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let name: String
        /// The HTTP status the edge answers with.
        public let status: Int
        private init(_ name: String, _ status: Int) { self.name = name; self.status = status }
        public var description: String { name }

        public static let deviceAuthRequired = Code("device-auth-required", 401)
        public static let deviceClockSkew = Code("device-clock-skew", 401)
        public static let payloadTooLarge = Code("payload-too-large", 413)
        public static let deviceRevoked = Code("device-revoked", 401)
        public static let deviceSignatureInvalid = Code("device-signature-invalid", 401)
        public static let deviceReplay = Code("device-replay", 401)
        public static let accountDisabled = Code("account-disabled", 403)
        public static let enrolmentLinkInvalid = Code("enrolment-link-invalid", 404)
        public static let transactionSecretInvalid = Code("transaction-secret-invalid", 403)
        public static let invalidPublicKey = Code("invalid-public-key", 400)
        public static let enrolmentProofInvalid = Code("enrolment-proof-invalid", 400)
        public static let deviceKeyRegistered = Code("device-key-registered", 409)
        public static let deviceLimit = Code("device-limit", 409)
        public static let invalidInput = Code("invalid-input", 422)
        public static let loginTransactionUnknown = Code("login-transaction-unknown", 404)
        public static let loginTransactionExpired = Code("login-transaction-expired", 410)
        public static let transactionAnswered = Code("transaction-answered", 409)
        public static let transactionClaimed = Code("transaction-claimed", 409)
        public static let approvalSignatureInvalid = Code("approval-signature-invalid", 401)
        public static let wrongNumber = Code("wrong-number", 422)
        public static let loginNotApproved = Code("login-not-approved", 409)
        public static let loginDenied = Code("login-denied", 403)
        public static let loginAlreadyUsed = Code("login-already-used", 409)
        /// The user reported a push as not theirs: no pushes reach them for a while (connector step-up).
        public static let pushBlocked = Code("push-blocked", 409)
        /// A step-up needing a live face re-match was approved before the face matched.
        public static let faceRematchRequired = Code("face-rematch-required", 409)
        /// The step-up asks for no face re-match (or it already matched).
        public static let faceRematchNotExpected = Code("face-rematch-not-expected", 409)
        /// The user had as many pushes as the window allows (connector step-up).
        public static let pushRateLimited = Code("push-rate-limited", 429)
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }
    public static func == (a: Self, b: Self) -> Bool { a.code == b.code }
}

/// A device whose request passed every check of §1.4; only `DeviceRequestVerifier` makes one.
public struct AuthenticatedDevice: Sendable {
    public let device: AuthenticatorDevice
    public let user: User
    fileprivate init(device: AuthenticatorDevice, user: User) {
        self.device = device
        self.user = user
    }
}

/// Verifies a signed device request (docs/authenticator-protocol.md §1.4), in the specified order:
/// headers, clock window (before any database work), body size, device in this tenant, signature,
/// nonce (recorded only after the signature verified), active user, `lastUsedAt`.
public struct DeviceRequestVerifier: Sendable {
    public let context: ServiceContext
    public static let clockWindow: TimeInterval = 300
    public static let nonceRetention: TimeInterval = 600
    public static let maximumBody = 16 * 1024

    public init(context: ServiceContext) { self.context = context }

    public struct SignedRequest: Sendable {
        public var method: String
        /// Absolute URL as signed: issuer + path after tenant-prefix removal + query as sent.
        public var target: String
        public var deviceID: String?
        public var timestamp: String?
        public var nonce: String?
        public var signature: String?
        public var body: [UInt8]
        /// The largest body this endpoint takes (identity evidence is larger than the rest).
        public var maximumBody: Int

        public init(
            method: String, target: String, deviceID: String?, timestamp: String?, nonce: String?, signature: String?, body: [UInt8],
            maximumBody: Int = DeviceRequestVerifier.maximumBody
        ) {
            self.method = method; self.target = target; self.deviceID = deviceID; self.timestamp = timestamp
            self.nonce = nonce; self.signature = signature; self.body = body; self.maximumBody = maximumBody
        }
    }

    public func verify(_ request: SignedRequest, tenantID: String) async throws -> AuthenticatedDevice {
        do {
            return try await steps(request, tenantID: tenantID)
        } catch let error as AuthenticatorServiceError {
            await context.recordFailure(
                "authenticator.device_auth_failed", by: .system, tenantID: tenantID,
                reason: "\(error.code.name) (device \(request.deviceID.map { String($0.prefix(40)) } ?? "-"))")
            throw error
        }
    }

    func steps(_ request: SignedRequest, tenantID: String) async throws -> AuthenticatedDevice {
        // 1. Headers present and well-formed.
        guard let deviceID = request.deviceID, IdentifierGenerator.isWellFormed(deviceID, kind: .authenticatorDevice),
            let timestampText = request.timestamp, let timestamp = Int64(timestampText),
            let nonce = request.nonce, let nonceBytes = Base64URL.decode(nonce), nonceBytes.count == 16,
            let signature = request.signature, !signature.isEmpty, signature.utf8.count < 200
        else {
            throw AuthenticatorServiceError(.deviceAuthRequired, "send Sigil-Device, Sigil-Timestamp, Sigil-Nonce and Sigil-Signature")
        }
        // 2. Clock window, before any database work.
        let now = context.clock.now()
        guard abs(Double(timestamp) - now.timeIntervalSince1970) <= Self.clockWindow else {
            throw AuthenticatorServiceError(.deviceClockSkew, "server time \(Int64(now.timeIntervalSince1970))")
        }
        // 3. Body size.
        guard request.body.count <= request.maximumBody else {
            throw AuthenticatorServiceError(.payloadTooLarge, "at most \(request.maximumBody) bytes")
        }
        // 4. The device exists in this tenant.
        let device: AuthenticatorDevice
        do {
            device = try await context.store.authenticatorDevices.get(tenantID: tenantID, id: deviceID)
        } catch let error as StoreError where error.code == .notFound {
            throw AuthenticatorServiceError(.deviceRevoked, "this device is not enrolled here; enrol it again")
        }
        // 5. The signature verifies with the device key.
        let message: [UInt8]
        do {
            message = try CanonicalMessage.request(
                method: request.method, target: request.target, deviceID: deviceID,
                timestamp: timestamp, nonce: nonce, body: request.body)
        } catch {
            throw AuthenticatorServiceError(.deviceSignatureInvalid, "the request cannot be signed as sent")
        }
        guard DeviceSignature.verify(signature, message: message, publicKey: device.publicKey) else {
            throw AuthenticatorServiceError(.deviceSignatureInvalid, "the request signature does not verify")
        }
        // 6. The nonce is fresh (recorded only now, so strangers cannot fill the table).
        do {
            try await context.store.deviceNonces.use(deviceID: deviceID, nonce: nonce, expiresAt: now.addingTimeInterval(Self.nonceRetention))
        } catch let error as StoreError where error.code == .alreadyExists {
            throw AuthenticatorServiceError(.deviceReplay, "this request was already received")
        }
        // 7. The user is active.
        let user = try await context.store.users.get(tenantID: tenantID, id: device.userID)
        guard user.status == .active else { throw AuthenticatorServiceError(.accountDisabled, "this account is disabled") }
        // 8. Record use at most once a minute.
        if device.lastUsedAt.map({ now.timeIntervalSince($0) >= 60 }) ?? true {
            try await context.store.authenticatorDevices.touch(tenantID: tenantID, id: deviceID, at: now)
        }
        return AuthenticatedDevice(device: device, user: user)
    }
}
