import AuthenticatorKit
import Foundation
import SigilAuthenticatorProtocol
import SigilCore
import Synchronization

/// A scripted stand-in for the Sigil server's `/authenticator/v1` routes. It checks what the real
/// server checks (§1.3, §1.4, §5.1) with the shared verification code, and records every request
/// with the outcome of that check.
final class FakeServer: AuthenticatorTransport {
    static let issuer = "https://acme.sigil.example"
    static let enrolTx = "ltx_01jbz6w2c7f3m9q4v8x1r5t0kb"
    static let loginTx = "ltx_01jbz6w2c7f3m9q4v8x1r5t0ka"
    static let pushTx = "ltx_01jbz6w2c7f3m9q4v8x1r5t0kc"
    static let secret = "VIXLXQOYHMO9mJKQpr4zyg"
    static let challenge = "rDL2UP41KBQ-HUXX9YTMuS-hROOYPGkfC1WlGW-gu1I"
    static let enrolChallenge = "eDL2UP41KBQ-HUXX9YTMuS-hROOYPGkfC1WlGW-gu1I"
    static let origin = "https://acme.sigil.example"
    static let number = "42"
    static let deviceID = "dev_01jbz6vq0e7h2k5n8r1t4w7y0a"

    struct Record: Sendable {
        var method: String
        var url: String
        var headers: [(String, String)]
        var body: [UInt8]
        /// nil for unsigned routes; else whether §1.4 verification passed.
        var signatureValid: Bool?
        var nonce: String?

        func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name.lowercased() }?.1 }
    }

    struct Answer: Sendable, Equatable {
        var decision: String
        var number: String
        var uv: String
        var signatureValid: Bool
    }

    struct State {
        var now: Int64
        var devices: [String: String] = [:]
        var nonces: Set<String> = []
        var log: [Record] = []
        var answers: [Answer] = []
        var pushes: [RequestView] = []
        var proofValid: Bool?
        /// Answer the next request with this problem (status, name, title) instead.
        var forcedProblem: (Int, String, String)?
        var streamEvents: [String] = []
        /// Per stream connection, in order; `streamEvents` once these are used up.
        var laterConnections: [[String]] = []
    }

    let state: Mutex<State>

    init(serverTime: Int64) {
        state = Mutex(State(now: serverTime))
    }

    var log: [Record] { state.withLock { $0.log } }
    var answers: [Answer] { state.withLock { $0.answers } }

    func register(deviceID: String, publicKey: String) {
        state.withLock { $0.devices[deviceID] = publicKey }
    }

    static func view(_ tx: String, kind: String) -> RequestView {
        RequestView(
            transaction: tx, kind: kind, issuer: issuer, tenant: "Acme", application: "Acme account", origin: origin,
            requestedAt: "2027-01-15T08:00:00Z", expiresAt: "2027-01-15T08:02:00Z",
            requester: .init(ip: "203.0.113.7", browser: "Chrome on Linux", location: nil), challenge: challenge)
    }

    static func problem(_ status: Int, _ name: String, _ title: String, detail: String? = nil) -> HTTPReply {
        HTTPReply(
            status: status, headers: [("Content-Type", "application/problem+json")],
            body: Wire.encode(ProblemView(type: "urn:sigil:problem:" + name, title: title, status: status, detail: detail)))
    }

    static func json<T: Encodable>(_ value: T, status: Int = 200) -> HTTPReply {
        HTTPReply(status: status, headers: [("Content-Type", "application/json")], body: Wire.encode(value))
    }

    func send(_ request: HTTPExchange) async throws -> HTTPReply {
        state.withLock { handle(request, &$0) }
    }

    func open(_ request: HTTPExchange) async throws -> (HTTPReply, AsyncThrowingStream<[UInt8], any Error>) {
        let (reply, events) = state.withLock { state -> (HTTPReply, [String]) in
            let reply = handle(request, &state)
            if !state.laterConnections.isEmpty { return (reply, state.laterConnections.removeFirst()) }
            return (reply, state.streamEvents)
        }
        let body = reply.body
        return (
            HTTPReply(status: reply.status, headers: reply.headers),
            AsyncThrowingStream { continuation in
                if (200..<300).contains(reply.status) {
                    for event in events { continuation.yield(Array(event.utf8)) }
                } else {
                    continuation.yield(body)
                }
                continuation.finish()
            }
        )
    }

    private func handle(_ request: HTTPExchange, _ state: inout State) -> HTTPReply {
        guard request.url.hasPrefix(Self.issuer + "/authenticator/v1/") else {
            state.log.append(Record(method: request.method, url: request.url, headers: request.headers, body: request.body))
            return Self.problem(404, "not-found", "Not found")
        }
        let path = String(request.url.dropFirst(Self.issuer.count))
        if path == "/authenticator/v1/enroll/preview" || path == "/authenticator/v1/devices" {
            state.log.append(Record(method: request.method, url: request.url, headers: request.headers, body: request.body))
            return unsigned(path, request, &state)
        }
        // §1.4, in the server's order.
        var record = Record(
            method: request.method, url: request.url, headers: request.headers, body: request.body,
            signatureValid: false, nonce: request.header("Sigil-Nonce"))
        defer { state.log.append(record) }
        guard let device = request.header("Sigil-Device"), let tsText = request.header("Sigil-Timestamp"),
            let ts = Int64(tsText), let nonce = request.header("Sigil-Nonce"), let signature = request.header("Sigil-Signature")
        else {
            return Self.problem(401, "device-auth-required", "Device authentication required")
        }
        if abs(state.now - ts) > 300 {
            return Self.problem(401, "device-clock-skew", "Clock skew", detail: "server time \(state.now)")
        }
        guard let publicKey = state.devices[device] else { return Self.problem(401, "device-revoked", "Device revoked") }
        guard
            let message = try? CanonicalMessage.request(
                method: request.method, target: request.url, deviceID: device,
                timestamp: ts, nonce: nonce, body: request.body),
            DeviceSignature.verify(signature, message: message, publicKey: publicKey)
        else {
            return Self.problem(401, "device-signature-invalid", "Bad device signature")
        }
        guard state.nonces.insert(device + nonce).inserted else { return Self.problem(401, "device-replay", "Replayed") }
        record.signatureValid = true
        if let (status, name, title) = state.forcedProblem {
            state.forcedProblem = nil
            return Self.problem(status, name, title)
        }
        return signed(path, request, publicKey: publicKey, &state)
    }

    private func unsigned(_ path: String, _ request: HTTPExchange, _ state: inout State) -> HTTPReply {
        if path.hasSuffix("/preview") {
            guard let body = try? Wire.decode(EnrolmentPreviewBody.self, from: request.body), body.transaction == Self.enrolTx,
                body.secret == Self.secret
            else { return Self.problem(404, "enrolment-link-invalid", "Invalid link") }
            return Self.json(
                EnrolmentPreviewView(
                    transaction: Self.enrolTx, issuer: Self.issuer, tenant: "Acme",
                    user: WireUser(email: "ada@example.com"), challenge: Self.enrolChallenge,
                    expiresAt: "2027-01-15T08:10:00Z"))
        }
        guard let body = try? Wire.decode(DeviceRegistrationBody.self, from: request.body), body.secret == Self.secret else {
            return Self.problem(403, "transaction-secret-invalid", "Wrong secret")
        }
        let proof =
            (try? CanonicalMessage.enrolment(
                issuer: Self.issuer, transactionID: body.transaction,
                challenge: Self.enrolChallenge, publicKey: body.publicKey))
            .map { DeviceSignature.verify(body.proof, message: $0, publicKey: body.publicKey) } ?? false
        state.proofValid = proof
        guard proof else { return Self.problem(400, "enrolment-proof-invalid", "Bad proof") }
        state.devices[Self.deviceID] = body.publicKey
        return Self.json(
            DeviceRegisteredView(
                device: .init(
                    id: Self.deviceID, name: body.name, platform: body.platform, keyProtection: body.keyProtection,
                    createdAt: "2027-01-15T08:00:00Z"),
                issuer: Self.issuer, tenant: "Acme", user: WireUser(id: "usr_01jbz6vq0e7h2k5n8r1t4w7y0b", email: "ada@example.com")),
            status: 201)
    }

    private func signed(_ path: String, _ request: HTTPExchange, publicKey: String, _ state: inout State) -> HTTPReply {
        let tx = "/authenticator/v1/transactions/"
        switch (request.method, path) {
        case ("POST", tx + Self.loginTx + "/claim"):
            guard (try? Wire.decode(ClaimBody.self, from: request.body))?.secret == Self.secret else {
                return Self.problem(403, "transaction-secret-invalid", "Wrong secret")
            }
            return Self.json(Self.view(Self.loginTx, kind: "qr"))
        case ("GET", tx + Self.loginTx):
            return Self.json(Self.view(Self.loginTx, kind: "qr"))
        case ("GET", _) where path.hasPrefix("/authenticator/v1/pending"):
            return Self.json(PendingList(requests: state.pushes))
        case ("GET", "/authenticator/v1/stream"):
            return HTTPReply(status: 200, headers: [("Content-Type", "text/event-stream")])
        case ("POST", _) where path.hasPrefix(tx) && (path.hasSuffix("/approve") || path.hasSuffix("/deny")):
            let id = String(path.dropFirst(tx.count).prefix { $0 != "/" })
            let approve = path.hasSuffix("/approve")
            let number: String, uv: String, signature: String, decision: CanonicalMessage.Decision
            if approve {
                guard let body = try? Wire.decode(ApproveBody.self, from: request.body) else { return Self.problem(400, "bad-request", "Bad") }
                (number, uv, signature, decision) = (body.number, body.userVerification, body.signature, .approve)
            } else {
                guard let body = try? Wire.decode(DenyBody.self, from: request.body) else { return Self.problem(400, "bad-request", "Bad") }
                (number, uv, signature) = ("", body.userVerification, body.signature)
                decision = body.reason == "not_me" ? .report : .deny
            }
            // Rebuilt from "stored" values plus what was submitted.
            let valid =
                (try? CanonicalMessage.approval(
                    issuer: Self.issuer, transactionID: id, challenge: Self.challenge, origin: Self.origin, number: number,
                    decision: decision, userVerification: CanonicalMessage.UserVerification(rawValue: uv) ?? .none))
                .map { DeviceSignature.verify(signature, message: $0, publicKey: publicKey) } ?? false
            state.answers.append(Answer(decision: decision.rawValue, number: number, uv: uv, signatureValid: valid))
            guard valid else { return Self.problem(401, "approval-signature-invalid", "Bad approval signature") }
            if approve && number != Self.number { return Self.problem(422, "wrong-number", "Wrong number") }
            return Self.json(AnswerResult(transaction: id, state: approve ? "approved" : "denied"))
        case ("PUT", "/authenticator/v1/device/push-token"), ("DELETE", "/authenticator/v1/device"):
            return HTTPReply(status: 204)
        default:
            return Self.problem(404, "login-transaction-unknown", "Unknown")
        }
    }
}

/// Enrolments in memory.
final class MemoryEnrolmentStore: EnrolmentStore {
    let enrolments = Mutex<[Enrolment]>([])
    let saves = Mutex(0)
    func load() async throws -> [Enrolment] { enrolments.withLock { $0 } }
    func save(_ list: [Enrolment]) async throws {
        enrolments.withLock { $0 = list }
        saves.withLock { $0 += 1 }
    }
}

/// Records the prompts it is shown; answers with a fixed method or cancels.
final class RecordingVerifier: UserVerifier {
    let method: UserVerificationMethod?
    let prompts = Mutex<[Decision]>([])
    init(_ method: UserVerificationMethod?) { self.method = method }
    func verify(_ prompt: ApprovalPrompt) async throws -> UserVerificationMethod {
        prompts.withLock { $0.append(prompt.decision) }
        guard let method else { throw AuthenticatorError.cancelled }
        return method
    }
}
