import Foundation
import SigilAuthenticatorProtocol
import SigilCore

/// The device side of the Sigil authenticator protocol (docs/authenticator-protocol.md §10): enrols
/// with issuers, claims QR codes, receives push requests and answers them. Every `/authenticator/v1`
/// call except the enrolment preview and registration is signed per §1.4 with the enrolment's key.
/// Nothing here logs; errors never carry secrets, numbers or keys.
public struct Authenticator: Sendable {
    public let keys: any DeviceKeyStore
    public let verifier: any UserVerifier
    public let transport: any AuthenticatorTransport
    public let store: any EnrolmentStore
    public let clock: any SigilClock
    public let random: any RandomSource

    public init(
        keys: any DeviceKeyStore, verifier: any UserVerifier, transport: any AuthenticatorTransport,
        enrolments: any EnrolmentStore, clock: any SigilClock = SystemClock(), random: any RandomSource = SystemRandom()
    ) {
        self.keys = keys
        self.verifier = verifier
        self.transport = transport
        self.store = enrolments
        self.clock = clock
        self.random = random
    }

    static let prefix = "/authenticator/v1"

    // MARK: Codes

    /// Parses a QR payload or link (https or `sigil://`).
    public static func parse(_ text: String) throws(AuthenticatorError) -> ScannedCode {
        let payload: AuthenticatorPayload
        do {
            payload = try AuthenticatorPayload.parse(text)
        } catch {
            throw AuthenticatorError(.invalidCode, error.message)
        }
        switch payload.purpose {
        case .login: return .login(LoginCode(payload))
        case .enrolment: return .enrolment(EnrolmentCode(payload))
        }
    }

    /// All enrolments, as the store holds them.
    public func listEnrolments() async throws -> [Enrolment] {
        try await store.load()
    }

    /// The enrolment whose issuer is byte-equal to `issuer` (never a Unicode-equivalent one).
    public func enrolment(forIssuer issuer: String) async throws -> Enrolment? {
        try await store.load().first { $0.issuer.utf8.elementsEqual(issuer.utf8) }
    }

    // MARK: Enrolment (§2)

    /// `POST /authenticator/v1/enroll/preview`: who and where, and the challenge to sign.
    public func preview(_ code: EnrolmentCode) async throws -> EnrolmentPreview {
        let body = Wire.encode(EnrolmentPreviewBody(transaction: code.transactionID, secret: code.payload.secret))
        let reply = try await unsigned("POST", issuer: code.issuer, path: Self.prefix + "/enroll/preview", body: body)
        let view = try Self.decode(EnrolmentPreviewView.self, reply)
        guard view.transaction == code.transactionID, !view.challenge.isEmpty else {
            throw AuthenticatorError.transport("the server answered the enrolment preview for another transaction")
        }
        return EnrolmentPreview(
            code: code, tenant: view.tenant, email: view.user.email, challenge: view.challenge,
            expiresAt: view.expiresAt)
    }

    /// Previews, then registers (see `enrol(_:name:platform:push:)` with a preview).
    public func enrol(_ code: EnrolmentCode, name: String, platform: String, push: PushRegistration?) async throws -> Enrolment {
        try await enrol(try await preview(code), name: name, platform: platform, push: push)
    }

    /// Generates a key, proves possession (§1.3) and registers it (`POST /authenticator/v1/devices`);
    /// then saves the enrolment. The key is deleted again if registration fails.
    public func enrol(_ preview: EnrolmentPreview, name: String, platform: String, push: PushRegistration?) async throws -> Enrolment {
        let code = preview.code
        let generated: (handle: DeviceKeyHandle, publicKey: [UInt8], protection: KeyProtection)
        do {
            generated = try await keys.generateKey()
        } catch {
            throw Self.keyError(error)
        }
        do {
            let publicKey = Base64URL.encode(generated.publicKey)
            let message = try Self.canonical {
                try CanonicalMessage.enrolment(
                    issuer: code.issuer, transactionID: code.transactionID,
                    challenge: preview.challenge, publicKey: publicKey)
            }
            let proof = try await sign(message, with: generated.handle)
            let body = Wire.encode(
                DeviceRegistrationBody(
                    transaction: code.transactionID, secret: code.payload.secret, publicKey: publicKey, name: name,
                    platform: platform, keyProtection: generated.protection.rawValue, push: push, proof: proof))
            let reply = try await unsigned("POST", issuer: code.issuer, path: Self.prefix + "/devices", body: body)
            let view = try Self.decode(DeviceRegisteredView.self, reply)
            guard IdentifierGenerator.isWellFormed(view.device.id, kind: .authenticatorDevice) else {
                throw AuthenticatorError.transport("the server returned a malformed device id")
            }
            let enrolment = Enrolment(
                issuer: code.issuer, deviceID: view.device.id, userID: view.user.id ?? "", email: view.user.email,
                name: view.device.name, tenant: view.tenant, key: generated.handle, keyProtection: generated.protection,
                clockOffset: 0, createdAt: view.device.createdAt)
            var all = try await store.load()
            all.removeAll { $0.deviceID == enrolment.deviceID && $0.issuer == enrolment.issuer }
            all.append(enrolment)
            try await store.save(all)
            return enrolment
        } catch {
            try? await keys.deleteKey(generated.handle)
            throw error
        }
    }

    // MARK: Requests (§3, §4.1)

    /// `POST …/transactions/{tx}/claim` with the code's secret, signed by the enrolment whose issuer
    /// is byte-equal to the code's. Throws `.notEnrolled` without sending anything if there is none.
    public func claim(_ code: LoginCode) async throws -> ApprovalRequest {
        guard let enrolment = try await enrolment(forIssuer: code.issuer) else {
            throw AuthenticatorError.notEnrolled(code.issuer)
        }
        let body = Wire.encode(ClaimBody(secret: code.payload.secret))
        let reply = try await signed("POST", Self.prefix + "/transactions/\(code.transactionID)/claim", body: body, as: enrolment)
        return try Self.request(Self.decode(RequestView.self, reply), for: enrolment)
    }

    /// `GET /authenticator/v1/pending?wait=N` for every enrolment (concurrently); `wait` is clamped to
    /// 0…55 s. Enrolments that fail are skipped unless all fail.
    public func pending(wait: Duration = .zero) async throws -> [ApprovalRequest] {
        let all = try await store.load()
        if all.isEmpty { return [] }
        let seconds = max(0, min(55, wait.components.seconds))
        let results = await withTaskGroup(of: Result<[ApprovalRequest], any Error>.self) { group in
            for enrolment in all {
                group.addTask {
                    do {
                        let reply = try await signed("GET", Self.prefix + "/pending?wait=\(seconds)", body: [], as: enrolment)
                        let list = try Self.decode(PendingList.self, reply)
                        return .success(try list.requests.map { try Self.request($0, for: enrolment) })
                    } catch {
                        return .failure(error)
                    }
                }
            }
            var out: [Result<[ApprovalRequest], any Error>] = []
            for await result in group { out.append(result) }
            return out
        }
        var requests: [ApprovalRequest] = []
        var firstError: (any Error)?
        for result in results {
            switch result {
            case .success(let list): requests += list
            case .failure(let error): firstError = firstError ?? error
            }
        }
        if requests.isEmpty, let firstError, results.allSatisfy({ if case .failure = $0 { true } else { false } }) {
            throw firstError
        }
        return requests.sorted { $0.view.requestedAt < $1.view.requestedAt }
    }

    /// `GET /authenticator/v1/transactions/{tx}`: one request (after a notification, or to re-read a claimed QR).
    public func request(id: String, deviceID: String) async throws -> ApprovalRequest {
        guard IdentifierGenerator.isWellFormed(id, kind: .loginTransaction) else {
            throw AuthenticatorError(.invalidCode, "not a transaction id")
        }
        guard let enrolment = try await store.load().first(where: { $0.deviceID == deviceID }) else {
            throw AuthenticatorError(.notEnrolled, "no enrolment has device \(deviceID)")
        }
        let reply = try await signed("GET", Self.prefix + "/transactions/\(id)", body: [], as: enrolment)
        return try Self.request(Self.decode(RequestView.self, reply), for: enrolment)
    }

    /// The device stream (`GET /authenticator/v1/stream`, server-sent events): `push`, `gone`,
    /// `revoked`. Reconnects with a fresh signature when the server closes it (it does after 300 s),
    /// honouring `retry`; ends after `revoked` (or `device-revoked`), throws after repeated failures.
    public func events(for enrolment: Enrolment) -> AsyncThrowingStream<DeviceEvent, any Error> {
        AsyncThrowingStream { continuation in
            let task = Task {
                var retry = 1000
                var failures = 0
                while !Task.isCancelled {
                    do {
                        let current = try await store.load().first { $0.deviceID == enrolment.deviceID && $0.issuer == enrolment.issuer } ?? enrolment
                        let stream = try await signedOpen(Self.prefix + "/stream", as: current)
                        var parser = ServerSentEventParser()
                        for try await chunk in stream {
                            for event in try parser.feed(chunk) {
                                switch event.event {
                                case "push":
                                    let view = try Wire.decode(RequestView.self, from: Array(event.data.utf8))
                                    continuation.yield(.push(try Self.request(view, for: current)))
                                case "gone":
                                    let gone = try Wire.decode(GoneEvent.self, from: Array(event.data.utf8))
                                    continuation.yield(.gone(transaction: gone.transaction))
                                case "revoked":
                                    continuation.yield(.revoked)
                                    continuation.finish()
                                    return
                                default:
                                    continue
                                }
                            }
                            failures = 0
                        }
                        if let r = parser.retry { retry = max(100, min(r, 60_000)) }
                    } catch let error as AuthenticatorError where error.code != .transport && (error.status ?? 0) < 500 {
                        if error.problemName == "device-revoked" {
                            continuation.yield(.revoked)
                            continuation.finish()
                        } else {
                            continuation.finish(throwing: error)
                        }
                        return
                    } catch {
                        if Task.isCancelled { break }
                        failures += 1
                        if failures >= 5 {
                            continuation.finish(throwing: error)
                            return
                        }
                    }
                    try? await Task.sleep(for: .milliseconds(retry * (1 << min(failures, 5))))
                }
                continuation.finish()
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    // MARK: Answers (§5.1)

    /// Asks the verifier, signs the approval (§1.2) over the typed number, and posts it.
    @discardableResult
    /// A request without number matching (`view.numberMatching == false`, CIBA) takes number `""`.
    public func approve(_ request: ApprovalRequest, number: String) async throws -> AnswerResult {
        let noNumber = request.view.numberMatching == false && number.isEmpty
        guard noNumber || (number.utf8.count == 2 && number.utf8.allSatisfy({ $0 >= 0x30 && $0 <= 0x39 })) else {
            throw AuthenticatorError(.invalidNumber, "type the two digits shown in the browser")
        }
        let enrolment = try await enrolment(for: request)
        let method = try await verify(ApprovalPrompt(request: request, decision: .approve))
        let signature = try await approvalSignature(request, enrolment: enrolment, number: number, decision: .approve, uv: method)
        let body = Wire.encode(ApproveBody(number: number, userVerification: method.rawValue, signature: signature))
        let reply = try await signed("POST", Self.prefix + "/transactions/\(request.transactionID)/approve", body: body, as: enrolment)
        return try Self.decode(AnswerResult.self, reply)
    }

    /// Declines (`deny`, reason `declined`) or reports "this wasn't me" (`report`, reason `not_me`).
    /// Refusing needs no local check: the verifier is not asked and `user_verification` is `none`.
    @discardableResult
    public func deny(_ request: ApprovalRequest, notMe: Bool) async throws -> AnswerResult {
        let enrolment = try await enrolment(for: request)
        let decision: Decision = notMe ? .report : .deny
        let signature = try await approvalSignature(request, enrolment: enrolment, number: "", decision: decision, uv: .none)
        let body = Wire.encode(
            DenyBody(
                reason: notMe ? "not_me" : "declined", userVerification: UserVerificationMethod.none.rawValue,
                signature: signature))
        let reply = try await signed("POST", Self.prefix + "/transactions/\(request.transactionID)/deny", body: body, as: enrolment)
        return try Self.decode(AnswerResult.self, reply)
    }

    // MARK: Device management (§2)

    /// `PUT /authenticator/v1/device/push-token`; nil clears it (`{"provider":null}`).
    public func setPushToken(_ push: PushRegistration?, for enrolment: Enrolment) async throws {
        let body: [UInt8]
        if let push, push.provider != nil {
            body = Wire.encode(push)
        } else {
            body = Array(#"{"provider":null}"#.utf8)
        }
        _ = try await signed("PUT", Self.prefix + "/device/push-token", body: body, as: enrolment)
    }

    /// `DELETE /authenticator/v1/device`, then deletes the key and forgets the enrolment. A device the
    /// server already revoked is removed locally too.
    public func remove(_ enrolment: Enrolment) async throws {
        do {
            _ = try await signed("DELETE", Self.prefix + "/device", body: [], as: enrolment)
        } catch let error as AuthenticatorError where error.problemName == "device-revoked" {
            // Already gone on the server.
        }
        try? await keys.deleteKey(enrolment.key)
        var all = try await store.load()
        all.removeAll { $0.deviceID == enrolment.deviceID && $0.issuer == enrolment.issuer }
        try await store.save(all)
    }

    // MARK: Signing

    func approvalSignature(
        _ request: ApprovalRequest, enrolment: Enrolment, number: String, decision: Decision,
        uv: UserVerificationMethod
    ) async throws -> String {
        let message = try Self.canonical {
            try CanonicalMessage.approval(
                issuer: enrolment.issuer, transactionID: request.view.transaction,
                challenge: request.view.challenge, origin: request.view.origin, number: number,
                decision: decision, userVerification: uv.canonical)
        }
        return try await sign(message, with: enrolment.key)
    }

    func verify(_ prompt: ApprovalPrompt) async throws -> UserVerificationMethod {
        do {
            return try await verifier.verify(prompt)
        } catch let error as AuthenticatorError {
            throw error
        } catch {
            throw AuthenticatorError.cancelled
        }
    }

    func sign(_ message: [UInt8], with handle: DeviceKeyHandle) async throws -> String {
        do {
            return Base64URL.encode(try await keys.sign(message, with: handle))
        } catch {
            throw Self.keyError(error)
        }
    }

    func enrolment(for request: ApprovalRequest) async throws -> Enrolment {
        guard IdentifierGenerator.isWellFormed(request.transactionID, kind: .loginTransaction) else {
            throw AuthenticatorError(.invalidCode, "not a transaction id")
        }
        guard
            let enrolment = try await store.load().first(where: {
                $0.deviceID == request.deviceID && $0.issuer.utf8.elementsEqual(request.issuer.utf8)
            })
        else {
            throw AuthenticatorError.notEnrolled(request.issuer)
        }
        return enrolment
    }

    /// The §1.4 headers for one attempt.
    func signedExchange(_ method: String, _ path: String, body: [UInt8], as enrolment: Enrolment, offset: Int64) async throws -> HTTPExchange {
        let url = enrolment.issuer + path
        let timestamp = Int64(clock.now().timeIntervalSince1970.rounded(.down)) + offset
        let nonce = Base64URL.encode(random.bytes(16))
        let message = try Self.canonical {
            try CanonicalMessage.request(
                method: method, target: url, deviceID: enrolment.deviceID, timestamp: timestamp,
                nonce: nonce, body: body)
        }
        let signature = try await sign(message, with: enrolment.key)
        var headers: [(String, String)] = [
            ("Sigil-Device", enrolment.deviceID),
            ("Sigil-Timestamp", String(timestamp)),
            ("Sigil-Nonce", nonce),
            ("Sigil-Signature", signature),
            ("Accept", "application/json"),
        ]
        if !body.isEmpty { headers.append(("Content-Type", "application/json")) }
        return HTTPExchange(method: method, url: url, headers: headers, body: body)
    }

    /// Sends a signed request; on `device-clock-skew` learns the offset, saves it and retries once.
    func signed(_ method: String, _ path: String, body: [UInt8], as enrolment: Enrolment) async throws -> HTTPReply {
        var offset = enrolment.clockOffset
        for attempt in 0..<2 {
            let exchange = try await signedExchange(method, path, body: body, as: enrolment, offset: offset)
            let reply = try await send(exchange)
            if (200..<300).contains(reply.status) { return reply }
            let error = Self.problem(reply)
            guard error.problemName == "device-clock-skew" else { throw error }
            guard attempt == 0, let learned = learnOffset(reply) else { throw Self.skewError(error) }
            offset = learned
            try await remember(offset: offset, for: enrolment)
        }
        throw AuthenticatorError.clockSkew("the server refused this device's clock")
    }

    /// Opens a signed streamed request (same skew handling); returns the body stream of a 2xx answer.
    func signedOpen(_ path: String, as enrolment: Enrolment) async throws -> AsyncThrowingStream<[UInt8], any Error> {
        var offset = enrolment.clockOffset
        for attempt in 0..<2 {
            var exchange = try await signedExchange("GET", path, body: [], as: enrolment, offset: offset)
            exchange.headers.removeAll { $0.0 == "Accept" }
            exchange.headers.append(("Accept", "text/event-stream"))
            let (head, stream): (HTTPReply, AsyncThrowingStream<[UInt8], any Error>)
            do {
                (head, stream) = try await transport.open(exchange)
            } catch let error as AuthenticatorError {
                throw error
            } catch {
                throw AuthenticatorError.transport("could not reach \(Self.host(exchange.url)): \(error)")
            }
            if (200..<300).contains(head.status) { return stream }
            var reply = head
            do {
                for try await chunk in stream {
                    reply.body += chunk
                    if reply.body.count > 64 * 1024 { break }
                }
            } catch {}
            let error = Self.problem(reply)
            guard error.problemName == "device-clock-skew" else { throw error }
            guard attempt == 0, let learned = learnOffset(reply) else { throw Self.skewError(error) }
            offset = learned
            try await remember(offset: offset, for: enrolment)
        }
        throw AuthenticatorError.clockSkew("the server refused this device's clock")
    }

    func unsigned(_ method: String, issuer: String, path: String, body: [UInt8]) async throws -> HTTPReply {
        let exchange = HTTPExchange(
            method: method, url: issuer + path,
            headers: [("Accept", "application/json"), ("Content-Type", "application/json")], body: body)
        let reply = try await send(exchange)
        guard (200..<300).contains(reply.status) else { throw Self.problem(reply) }
        return reply
    }

    func send(_ exchange: HTTPExchange) async throws -> HTTPReply {
        do {
            return try await transport.send(exchange)
        } catch let error as AuthenticatorError {
            throw error
        } catch {
            throw AuthenticatorError.transport("could not reach \(Self.host(exchange.url)): \(error)")
        }
    }

    /// The offset that makes this device's clock match the server's: from the problem's
    /// `server time N` detail, else from the `Date` header.
    func learnOffset(_ reply: HTTPReply) -> Int64? {
        let local = Int64(clock.now().timeIntervalSince1970.rounded(.down))
        if let problem = try? Wire.decode(ProblemView.self, from: reply.body), let detail = problem.detail,
            let range = detail.range(of: "server time ")
        {
            let digits = detail[range.upperBound...].prefix { $0.isASCII && $0.isNumber }
            if let server = Int64(digits) { return server - local }
        }
        if let date = reply.header("Date"), let server = Self.httpDate(date) {
            return Int64(server.timeIntervalSince1970.rounded(.down)) - local
        }
        return nil
    }

    func remember(offset: Int64, for enrolment: Enrolment) async throws {
        var all = try await store.load()
        guard let index = all.firstIndex(where: { $0.deviceID == enrolment.deviceID && $0.issuer == enrolment.issuer }) else { return }
        all[index].clockOffset = offset
        try await store.save(all)
    }

    // MARK: Helpers

    struct GoneEvent: Decodable { var transaction: String }

    static func request(_ view: RequestView, for enrolment: Enrolment) throws -> ApprovalRequest {
        guard IdentifierGenerator.isWellFormed(view.transaction, kind: .loginTransaction) else {
            throw AuthenticatorError.transport("the server sent a malformed transaction id")
        }
        return ApprovalRequest(view: view, issuer: enrolment.issuer, deviceID: enrolment.deviceID)
    }

    static func decode<T: Decodable>(_ type: T.Type, _ reply: HTTPReply) throws -> T {
        do {
            return try Wire.decode(type, from: reply.body)
        } catch {
            throw AuthenticatorError.transport("the server's answer (\(reply.status)) could not be read")
        }
    }

    /// Maps an error answer: an RFC 9457 problem, or the bare status.
    static func problem(_ reply: HTTPReply) -> AuthenticatorError {
        if let problem = try? Wire.decode(ProblemView.self, from: reply.body) {
            return .server(status: reply.status, type: problem.type, title: problem.title)
        }
        return .server(status: reply.status, type: "about:blank", title: "HTTP \(reply.status)")
    }

    static func skewError(_ error: AuthenticatorError) -> AuthenticatorError {
        AuthenticatorError(
            .clockSkew, "the server still refuses this device's clock; check the system time",
            status: error.status, problemType: error.problemType, title: error.title)
    }

    static func keyError(_ error: any Error) -> AuthenticatorError {
        if let error = error as? AuthenticatorError { return error }
        return AuthenticatorError(.keyStore, "the device key could not be used")
    }

    static func canonical(_ build: () throws -> [UInt8]) throws -> [UInt8] {
        do {
            return try build()
        } catch {
            throw AuthenticatorError(.invalidCode, "a value to sign is not printable ASCII")
        }
    }

    static func host(_ url: String) -> String {
        URLComponents(string: url)?.host ?? "the server"
    }

    static func httpDate(_ text: String) -> Date? {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        return formatter.date(from: text)
    }
}
