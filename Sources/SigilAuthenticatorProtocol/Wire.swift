import Foundation
import SigilCore

/// The JSON bodies of the authenticator protocol (docs/authenticator-protocol.md §2–§5), shared by
/// the server and AuthenticatorKit so both sides encode and decode one definition. Times are
/// RFC 3339 UTC strings (`Wire.time`), keys are snake_case.
public enum Wire {
    /// `2026-05-01T10:00:00Z`.
    public static func time(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02dZ", c.year!, c.month!, c.day!, c.hour!, c.minute!, c.second!)
    }

    /// Parses what `time(_:)` writes (and any RFC 3339 time with `Z` or an offset).
    public static func date(_ text: String) -> Date? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        if let d = formatter.date(from: text) { return d }
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.date(from: text)
    }

    public static func encode<T: Encodable>(_ value: T) -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array((try? encoder.encode(value)) ?? Data("{}".utf8))
    }

    /// Decodes I-JSON only (`StrictJSON`): a duplicated member is refused, not resolved.
    public static func decode<T: Decodable>(_ type: T.Type, from bytes: [UInt8]) throws -> T {
        try StrictJSON.check(bytes)
        return try JSONDecoder().decode(type, from: Data(bytes))
    }
}

/// What a device is asked to approve: the claim response, `GET /authenticator/v1/transactions/{tx}`,
/// the stream's `push` event and `pending`'s items (§3). Never carries the number.
public struct RequestView: Codable, Sendable, Equatable {
    public struct Location: Codable, Sendable, Equatable {
        public var city: String?
        public var region: String?
        public var country: String?
        public init(city: String? = nil, region: String? = nil, country: String? = nil) {
            self.city = city; self.region = region; self.country = country
        }
    }
    public struct Requester: Codable, Sendable, Equatable {
        public var ip: String?
        public var browser: String?
        public var location: Location?
        public init(ip: String?, browser: String?, location: Location?) { self.ip = ip; self.browser = browser; self.location = location }
    }

    public var transaction: String
    /// `qr` or `push`.
    public var kind: String
    public var issuer: String
    public var tenant: String
    public var application: String
    public var origin: String
    public var requestedAt: String
    public var expiresAt: String
    public var requester: Requester
    public var challenge: String
    public var message: String?
    /// `biometric` when the requester asks for a face or fingerprint check (a LiveID step-up): a
    /// PIN or a tap will not satisfy it. Absent otherwise (any local check).
    public var userVerification: String?
    /// `required` when the approval needs a live face re-match first (a LiveID step-up of a user
    /// whose identity was verified): ask `POST …/transactions/{id}/face/challenge`, record it, send
    /// the frames to `…/face`, then approve. `matched` once it passed. Absent otherwise.
    public var faceMatch: String?
    /// `false` when the request has no number to match (a CIBA request: nobody is at a browser to
    /// show one; `message` carries the client's binding message instead): approve with number `""`.
    /// Absent otherwise (pick the number the browser shows).
    public var numberMatching: Bool?

    public init(
        transaction: String, kind: String, issuer: String, tenant: String, application: String, origin: String,
        requestedAt: String, expiresAt: String, requester: Requester, challenge: String, message: String? = nil,
        userVerification: String? = nil, faceMatch: String? = nil, numberMatching: Bool? = nil
    ) {
        self.faceMatch = faceMatch; self.numberMatching = numberMatching
        self.transaction = transaction; self.kind = kind; self.issuer = issuer; self.tenant = tenant
        self.application = application; self.origin = origin; self.requestedAt = requestedAt; self.expiresAt = expiresAt
        self.requester = requester; self.challenge = challenge; self.message = message; self.userVerification = userVerification
    }

    enum CodingKeys: String, CodingKey {
        case transaction, kind, issuer, tenant, application, origin, requester, challenge, message
        case requestedAt = "requested_at", expiresAt = "expires_at", userVerification = "user_verification", faceMatch = "face_match"
        case numberMatching = "number_matching"
    }

    // `message` and `location` are always present (null when absent), as documented.
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(transaction, forKey: .transaction); try c.encode(kind, forKey: .kind)
        try c.encode(issuer, forKey: .issuer); try c.encode(tenant, forKey: .tenant)
        try c.encode(application, forKey: .application); try c.encode(origin, forKey: .origin)
        try c.encode(requestedAt, forKey: .requestedAt); try c.encode(expiresAt, forKey: .expiresAt)
        try c.encode(requester, forKey: .requester); try c.encode(challenge, forKey: .challenge)
        try c.encode(message, forKey: .message)
        try c.encodeIfPresent(userVerification, forKey: .userVerification)
        try c.encodeIfPresent(faceMatch, forKey: .faceMatch)
        try c.encodeIfPresent(numberMatching, forKey: .numberMatching)
    }
}

extension RequestView.Requester {
    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(ip, forKey: .ip); try c.encode(browser, forKey: .browser); try c.encode(location, forKey: .location)
    }
}

/// `POST …/transactions/{tx}/claim`.
public struct ClaimBody: Codable, Sendable, Equatable {
    public var secret: String
    public init(secret: String) { self.secret = secret }
}

/// `POST …/transactions/{tx}/approve`.
public struct ApproveBody: Codable, Sendable, Equatable {
    public var number: String
    public var userVerification: String
    public var signature: String
    public init(number: String, userVerification: String, signature: String) {
        self.number = number; self.userVerification = userVerification; self.signature = signature
    }
    enum CodingKeys: String, CodingKey { case number, signature, userVerification = "user_verification" }
}

/// `POST …/transactions/{tx}/deny`: `reason` is `declined` or `not_me` (signed as decision `report`).
public struct DenyBody: Codable, Sendable, Equatable {
    public var reason: String
    public var userVerification: String
    public var signature: String
    public init(reason: String, userVerification: String, signature: String) {
        self.reason = reason; self.userVerification = userVerification; self.signature = signature
    }
    enum CodingKeys: String, CodingKey { case reason, signature, userVerification = "user_verification" }
}

/// The answer to approve and deny.
public struct AnswerResult: Codable, Sendable, Equatable {
    public var transaction: String
    /// `approved` or `denied`.
    public var state: String
    public init(transaction: String, state: String) { self.transaction = transaction; self.state = state }
}

/// `GET /authenticator/v1/pending`.
public struct PendingList: Codable, Sendable, Equatable {
    public var requests: [RequestView]
    public init(requests: [RequestView]) { self.requests = requests }
}

/// `POST /authenticator/v1/enroll/preview` body.
public struct EnrolmentPreviewBody: Codable, Sendable, Equatable {
    public var transaction: String
    public var secret: String
    public init(transaction: String, secret: String) { self.transaction = transaction; self.secret = secret }
}

public struct WireUser: Codable, Sendable, Equatable {
    public var id: String?
    public var email: String
    public init(id: String? = nil, email: String) { self.id = id; self.email = email }
}

/// `POST /authenticator/v1/enroll/preview` answer.
public struct EnrolmentPreviewView: Codable, Sendable, Equatable {
    public var transaction: String
    public var issuer: String
    public var tenant: String
    public var user: WireUser
    public var challenge: String
    public var expiresAt: String
    public init(transaction: String, issuer: String, tenant: String, user: WireUser, challenge: String, expiresAt: String) {
        self.transaction = transaction; self.issuer = issuer; self.tenant = tenant; self.user = user
        self.challenge = challenge; self.expiresAt = expiresAt
    }
    enum CodingKeys: String, CodingKey { case transaction, issuer, tenant, user, challenge, expiresAt = "expires_at" }
}

/// A push registration: `provider` is `apns` or `fcm`.
public struct PushRegistration: Codable, Sendable, Equatable {
    public var provider: String?
    public var token: String?
    public init(provider: String?, token: String?) { self.provider = provider; self.token = token }
}

/// `POST /authenticator/v1/devices` body.
public struct DeviceRegistrationBody: Codable, Sendable, Equatable {
    public var transaction: String
    public var secret: String
    public var publicKey: String
    public var name: String
    public var platform: String
    public var keyProtection: String
    public var push: PushRegistration?
    public var proof: String
    public init(
        transaction: String, secret: String, publicKey: String, name: String, platform: String, keyProtection: String,
        push: PushRegistration?, proof: String
    ) {
        self.transaction = transaction; self.secret = secret; self.publicKey = publicKey; self.name = name
        self.platform = platform; self.keyProtection = keyProtection; self.push = push; self.proof = proof
    }
    enum CodingKeys: String, CodingKey {
        case transaction, secret, name, platform, push, proof
        case publicKey = "public_key", keyProtection = "key_protection"
    }
}

/// `POST /authenticator/v1/devices` answer (201).
public struct DeviceRegisteredView: Codable, Sendable, Equatable {
    public struct Device: Codable, Sendable, Equatable {
        public var id: String
        public var name: String
        public var platform: String
        public var keyProtection: String
        public var createdAt: String
        public init(id: String, name: String, platform: String, keyProtection: String, createdAt: String) {
            self.id = id; self.name = name; self.platform = platform; self.keyProtection = keyProtection; self.createdAt = createdAt
        }
        enum CodingKeys: String, CodingKey { case id, name, platform, keyProtection = "key_protection", createdAt = "created_at" }
    }
    public var device: Device
    public var issuer: String
    public var tenant: String
    public var user: WireUser
    public init(device: Device, issuer: String, tenant: String, user: WireUser) {
        self.device = device; self.issuer = issuer; self.tenant = tenant; self.user = user
    }
}

/// What the browser sees of a transaction (`GET /login/transactions/{tx}` and each SSE event, §5.2).
public struct BrowserSnapshot: Codable, Sendable, Equatable {
    public struct Device: Codable, Sendable, Equatable {
        public var id: String
        public var name: String
        public init(id: String, name: String) { self.id = id; self.name = name }
    }
    public var transaction: String
    /// `qr`, `push` or `enrolment`.
    public var kind: String
    /// `waiting`, `scanned`, `approved`, `completed`, `denied`, `expired`.
    public var state: String
    public var number: String?
    public var expiresAt: String
    public var reason: String?
    public var version: Int
    public var device: Device?
    public init(
        transaction: String, kind: String, state: String, number: String?, expiresAt: String, reason: String?,
        version: Int, device: Device? = nil
    ) {
        self.transaction = transaction; self.kind = kind; self.state = state; self.number = number
        self.expiresAt = expiresAt; self.reason = reason; self.version = version; self.device = device
    }
    enum CodingKeys: String, CodingKey { case transaction, kind, state, number, reason, version, device, expiresAt = "expires_at" }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(transaction, forKey: .transaction); try c.encode(kind, forKey: .kind); try c.encode(state, forKey: .state)
        try c.encode(number, forKey: .number); try c.encode(expiresAt, forKey: .expiresAt); try c.encode(reason, forKey: .reason)
        try c.encode(version, forKey: .version); try c.encodeIfPresent(device, forKey: .device)
    }

    /// States after which nothing changes any more.
    public var isFinal: Bool { ["approved", "completed", "denied", "expired"].contains(state) }
}

/// An RFC 9457 problem as the server sends it; `type` is `urn:sigil:problem:NAME`.
public struct ProblemView: Codable, Sendable, Equatable {
    public var type: String
    public var title: String
    public var status: Int
    public var detail: String?
    public init(type: String, title: String, status: Int, detail: String?) {
        self.type = type; self.title = title; self.status = status; self.detail = detail
    }
    /// NAME from `urn:sigil:problem:NAME`, or the whole type.
    public var name: String {
        let prefix = "urn:sigil:problem:"
        return type.hasPrefix(prefix) ? String(type.dropFirst(prefix.count)) : type
    }
}

/// The answer to the app's identity verification calls (`/authenticator/v1/idv/{session}/…`).
public struct VerificationAnswer: Codable, Sendable, Equatable {
    public var sessionID: String
    /// The evidence the session holds so far (after `evidence`).
    public var evidence: [String]?
    /// `VERIFIED`, `FAILED` or `REVIEW` (after `submit`).
    public var status: String?
    /// Retake advice for the image just sent (`blurry`, `glare`, `too_dark`, `too_small`).
    public var advice: [String]?
    /// The active liveness challenge just issued (after `liveness`).
    public var liveness: VerificationLiveness?

    public init(
        sessionID: String, evidence: [String]? = nil, status: String? = nil, advice: [String]? = nil, liveness: VerificationLiveness? = nil
    ) {
        self.sessionID = sessionID; self.evidence = evidence; self.status = status; self.advice = advice; self.liveness = liveness
    }

    enum CodingKeys: String, CodingKey { case sessionID = "session_id", evidence, status, advice, liveness }
}

/// An active liveness challenge (docs/idv.md "Liveness"): record frames of each step, in order,
/// step `i` inside `[i·step_seconds, (i+1)·step_seconds)` from the start, and upload them as
/// `liveness` evidence before `deadline` (Unix seconds).
public struct VerificationLiveness: Codable, Sendable, Equatable {
    public var challenge: String
    /// `neutral`, `turn_left`, `turn_right`, `blink`; the first is always `neutral`.
    public var steps: [String]
    public var stepSeconds: Double
    public var deadline: Int64

    public init(challenge: String, steps: [String], stepSeconds: Double, deadline: Int64) {
        self.challenge = challenge; self.steps = steps; self.stepSeconds = stepSeconds; self.deadline = deadline
    }

    enum CodingKeys: String, CodingKey { case challenge, steps, stepSeconds = "step_seconds", deadline }
}

/// `POST …/transactions/{tx}/face`: the recorded frames of the step-up's liveness challenge,
/// `{"challenge": id, "frames": [{"step": i, "t": ms, "image": base64}]}` as base64 (the same
/// document as IDV `liveness` evidence).
public struct FaceFramesBody: Codable, Sendable, Equatable {
    public var frames: String
    public init(frames: String) { self.frames = frames }
}

/// The answer to the face re-match's device requests: a challenge to record (`…/face/challenge`),
/// or the measured attempt (`…/face`): `result` `match` (now approve) or `no_match` with
/// `reasons`; `retry` says whether another challenge may be asked for.
public struct FaceRematchAnswer: Codable, Sendable, Equatable {
    public var transaction: String
    public var liveness: VerificationLiveness?
    public var result: String?
    public var reasons: [String]?
    public var retry: Bool?

    public init(transaction: String, liveness: VerificationLiveness? = nil, result: String? = nil, reasons: [String]? = nil, retry: Bool? = nil) {
        self.transaction = transaction; self.liveness = liveness; self.result = result; self.reasons = reasons; self.retry = retry
    }
}
