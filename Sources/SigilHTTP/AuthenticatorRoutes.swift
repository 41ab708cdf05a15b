import Foundation
import HTTPTypes
import Hummingbird
import ServiceLifecycle
import SigilAuthenticatorProtocol
import SigilCore
import SigilQR
import SigilServices
import SigilStore

/// The Sigil authenticator's HTTP surface (docs/authenticator-protocol.md): the browser side of QR
/// and push sign-in and of device enrolment (`/login/…`, `/account/devices/…`), and the device API
/// (`/authenticator/v1/…`, signed requests per §1.4).
struct AuthenticatorRoutes {
    let services: ServiceSet
    var pages: Pages = .standard
    var authenticator: AuthenticatorService { services.authenticator }

    func register(on router: Router<SigilRequestContext>) {
        router.get("/login/qr") { _, context in self.landing(context, what: "sign-in code") }
        router.post("/login/qr/start") { request, context in try await self.startQR(request, context) }
        router.post("/login/push/start") { request, context in try await self.startPush(request, context) }
        router.get("/login/transactions/:tx") { request, context in try await self.snapshot(request, context) }
        router.get("/login/transactions/:tx/events") { request, context in try await self.events(request, context) }
        router.get("/login/transactions/:tx/qr.svg") { request, context in try await self.qrImage(request, context) }
        router.post("/login/transactions/:tx/complete") { request, context in try await self.complete(request, context) }
        router.post("/login/transactions/:tx/cancel") { request, context in try await self.cancel(request, context) }
        router.post("/account/devices/enroll") { request, context in try await self.startEnrolment(request, context) }
        router.post("/enroll/:token/device") { request, context in try await self.startLinkEnrolment(request, context) }
        router.post("/account/devices/:id/delete") { request, context in try await self.deleteDevice(request, context) }

        router.get("/authenticator/v1/enroll") { _, context in self.landing(context, what: "enrolment code") }
        router.post("/authenticator/v1/enroll/preview") { request, context in try await self.enrolPreview(request, context) }
        router.post("/authenticator/v1/devices") { request, context in try await self.enrolRegister(request, context) }
        router.post("/authenticator/v1/transactions/:tx/claim") { request, context in try await self.claim(request, context) }
        router.get("/authenticator/v1/transactions/:tx") { request, context in try await self.deviceView(request, context) }
        router.post("/authenticator/v1/transactions/:tx/approve") { request, context in try await self.approve(request, context) }
        router.post("/authenticator/v1/transactions/:tx/deny") { request, context in try await self.deny(request, context) }
        router.post("/authenticator/v1/transactions/:tx/face/challenge") { request, context in try await self.faceChallenge(request, context) }
        router.post("/authenticator/v1/transactions/:tx/face") { request, context in try await self.faceFrames(request, context) }
        router.get("/authenticator/v1/pending") { request, context in try await self.pending(request, context) }
        router.get("/authenticator/v1/stream") { request, context in try await self.deviceStream(request, context) }
        router.put("/authenticator/v1/device/push-token") { request, context in try await self.setPushToken(request, context) }
        router.delete("/authenticator/v1/device") { request, context in try await self.removeSelf(request, context) }
        // Identity verification from the app (docs/idv.md "From the Sigil authenticator").
        router.post("/authenticator/v1/idv/:sid/claim") { request, context in try await self.idvClaim(request, context) }
        router.post("/authenticator/v1/idv/:sid/evidence") { request, context in try await self.idvEvidence(request, context) }
        router.post("/authenticator/v1/idv/:sid/liveness") { request, context in try await self.idvLiveness(request, context) }
        router.post("/authenticator/v1/idv/:sid/submit") { request, context in try await self.idvSubmit(request, context) }
    }

    // MARK: the browser-binding cookie

    static func bindingCookieName(_ context: SigilRequestContext, tenant: Tenant) -> String {
        (Web.isSecure(context) ? "__Host-" : "") + "sigil_login_" + tenant.slug
    }

    static func bindingCookie(_ value: String, _ context: SigilRequestContext, tenant: Tenant, maxAge: Int) -> String {
        var parts = ["\(bindingCookieName(context, tenant: tenant))=\(value)", "Path=/", "HttpOnly", "SameSite=Strict", "Max-Age=\(maxAge)"]
        if Web.isSecure(context) { parts.append("Secure") }
        return parts.joined(separator: "; ")
    }

    static func wellFormedBinding(_ value: String?) -> String? {
        guard let value, value.hasPrefix("sigil_lb_"), let raw = Base64URL.decode(String(value.dropFirst(9))), raw.count == 32 else { return nil }
        return value
    }

    /// The browser's binding secret, reused when it already has one (two tabs both work).
    func binding(_ request: Request, _ context: SigilRequestContext, tenant: Tenant) -> (value: String, setCookie: String) {
        Self.binding(request, context, tenant: tenant, random: services.context.random, maxAge: 900)
    }

    /// The binding secret and its cookie, for any flow that must come back to this browser (the
    /// authenticator's sign-in, an upstream IdP's sign-in).
    static func binding(_ request: Request, _ context: SigilRequestContext, tenant: Tenant, random: any RandomSource, maxAge: Int)
        -> (value: String, setCookie: String)
    {
        let value =
            wellFormedBinding(Web.cookie(bindingCookieName(context, tenant: tenant), in: request)) ?? "sigil_lb_" + Base64URL.encode(random.bytes(32))
        return (value, bindingCookie(value, context, tenant: tenant, maxAge: maxAge))
    }

    /// `tokenHash` of the presented binding cookie, or a value that matches nothing.
    func bindingHash(_ request: Request, _ context: SigilRequestContext, tenant: Tenant) -> String {
        Self.bindingHash(request, context, tenant: tenant)
    }

    static func bindingHash(_ request: Request, _ context: SigilRequestContext, tenant: Tenant) -> String {
        guard let value = wellFormedBinding(Web.cookie(bindingCookieName(context, tenant: tenant), in: request)) else { return "none" }
        return tokenHash(value)
    }

    func loginStart(_ request: Request, _ context: SigilRequestContext, bindingValue: String, returnTo: String?) -> LoginStart {
        LoginStart(
            origin: Web.origin(context) ?? context.issuer, browserHash: tokenHash(bindingValue),
            returnTo: Web.safeReturnPath(returnTo, base: Web.basePath(context)), clientIP: context.clientAddress,
            userAgent: request.headers[.userAgent].map { String($0.prefix(300)) })
    }

    // MARK: browser: start

    func startQR(_ request: Request, _ context: SigilRequestContext) async throws -> Response {
        try Web.requireSameOrigin(request, context)
        let tenant = try context.requireTenant()
        let body = try await JSONBody.decode(QRStartBody.self, from: request, context: context, allowed: ["return_to", "user_verification"])
        if let uv = body.userVerification, uv != "biometric" {
            throw ServiceError.invalid([FieldError(field: "user_verification", message: "user_verification is biometric or absent")])
        }
        let (value, setCookie) = binding(request, context, tenant: tenant)
        let started = try await authenticator.startQR(
            tenant: tenant, issuer: context.issuer,
            start: loginStart(request, context, bindingValue: value, returnTo: body.returnTo), requireBiometric: body.userVerification == "biometric")
        return try JSONResponse.make(
            StartedView(started.transaction, base: Web.basePath(context), payload: started.payload),
            headers: [.setCookie: setCookie, .cacheControl: "no-store"])
    }

    func startPush(_ request: Request, _ context: SigilRequestContext) async throws -> Response {
        try Web.requireSameOrigin(request, context)
        let tenant = try context.requireTenant()
        let body = try await JSONBody.decode(
            PushStartBody.self, from: request, context: context, allowed: ["email", "return_to", "user_verification"])
        if let uv = body.userVerification, uv != "biometric" {
            throw ServiceError.invalid([FieldError(field: "user_verification", message: "user_verification is biometric or absent")])
        }
        if let message = Validate.email(body.email) {
            throw ServiceError.invalid([FieldError(field: "email", message: message)])
        }
        let (value, setCookie) = binding(request, context, tenant: tenant)
        let transaction = try await authenticator.startPush(
            tenant: tenant, issuer: context.issuer,
            start: loginStart(request, context, bindingValue: value, returnTo: body.returnTo),
            email: body.email, requireBiometric: body.userVerification == "biometric")
        return try JSONResponse.make(
            StartedView(transaction, base: Web.basePath(context), payload: nil),
            headers: [.setCookie: setCookie, .cacheControl: "no-store"])
    }

    func startEnrolment(_ request: Request, _ context: SigilRequestContext) async throws -> Response {
        try Web.requireSameOrigin(request, context)
        let tenant = try context.requireTenant()
        guard let (_, user) = try await context.browserSession(request, services.sessions) else {
            throw Problem.unauthenticatedUser()
        }
        _ = try await JSONBody.decode(EmptyBody.self, from: request, context: context, allowed: [])
        let (value, setCookie) = binding(request, context, tenant: tenant)
        let started = try await services.authenticatorEnrolment.start(
            user: user, issuer: context.issuer,
            origin: Web.origin(context) ?? context.issuer,
            browserHash: tokenHash(value))
        return try JSONResponse.make(
            StartedView(started.transaction, base: Web.basePath(context), payload: started.payload, includeLink: true),
            headers: [.setCookie: setCookie, .cacheControl: "no-store"])
    }

    /// A phone as the first sign-in method, from a one-time enrolment link (first administrator or
    /// invitation): the link is used up when the device registers, then this browser is signed in.
    func startLinkEnrolment(_ request: Request, _ context: SigilRequestContext) async throws -> Response {
        try Web.requireSameOrigin(request, context)
        let tenant = try context.requireTenant()
        let signIn = SignInRoutes(services: services)
        let (enrolment, token) = try await signIn.usableEnrolment(context)
        let body = try await JSONBody.decode(EnrolBody.self, from: request, context: context, allowed: EnrolBody.fields)
        var newUser: AuthenticatorEnrolment.NewUser? = nil
        if enrolment.userID == nil {
            let admin = try await services.enrolment.firstAdministrator(
                tenantID: tenant.id, email: body.email, givenName: body.givenName, familyName: body.familyName)
            newUser = .init(email: admin.email, givenName: admin.givenName, familyName: admin.familyName)
        }
        let (value, setCookie) = binding(request, context, tenant: tenant)
        let base = Web.basePath(context)
        let started = try await services.authenticatorEnrolment.start(
            enrolment: enrolment, linkHash: tokenHash(token), newUser: newUser, issuer: context.issuer,
            origin: Web.origin(context) ?? context.issuer, browserHash: tokenHash(value), returnTo: base + "/account")
        return try JSONResponse.make(
            StartedView(started.transaction, base: base, payload: started.payload, includeLink: true),
            headers: [.setCookie: setCookie, .cacheControl: "no-store"])
    }

    // MARK: browser: watch, image, complete, cancel

    func browserTransaction(_ request: Request, _ context: SigilRequestContext) async throws -> (Tenant, LoginTransaction) {
        let tenant = try context.requireTenant()
        let id = context.parameters.get("tx") ?? ""
        let t = try await authenticator.browserTransaction(tenant: tenant, transactionID: id, browserHash: bindingHash(request, context, tenant: tenant))
        return (tenant, t)
    }

    func snapshot(_ request: Request, _ context: SigilRequestContext) async throws -> Response {
        let (_, t) = try await browserTransaction(request, context)
        return try JSONResponse.make(AuthenticatorService.snapshot(t, now: services.context.clock.now()), headers: [.cacheControl: "no-store"])
    }

    func qrImage(_ request: Request, _ context: SigilRequestContext) async throws -> Response {
        let (_, t) = try await browserTransaction(request, context)
        guard t.state == .pending, t.expiresAt > services.context.clock.now(), let payload = authenticator.payload(of: t) else {
            throw AuthenticatorServiceError(.loginTransactionExpired, "this code has expired; start again")
        }
        let code = try QRCode.encode(payload.url, errorCorrection: .medium)
        let svg = code.svg(moduleSize: 6, quietZone: 4, title: "Sigil authenticator code")
        return Response(
            status: .ok, headers: [.contentType: "image/svg+xml", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(string: svg)))
    }

    static let heartbeat: Duration = .seconds(15)
    static let maximumStream: TimeInterval = 600

    /// Server-sent events with the transaction's state; closes once it is final.
    func events(_ request: Request, _ context: SigilRequestContext) async throws -> Response {
        let (tenant, first) = try await browserTransaction(request, context)
        let clock = services.context.clock
        let lastEventID = request.headers[HTTPField.Name("Last-Event-ID")!]
        let watch = authenticator.watch(tenant: tenant, transaction: first)
        let initial = watch.initial
        if initial.isFinal, lastEventID != nil {
            return Response(status: .noContent, headers: [.cacheControl: "no-store"]) // stops EventSource reconnecting
        }
        let body = ResponseBody { writer in
            try await writer.write(ByteBuffer(string: ServerSentEvent.retry(milliseconds: 2000)))
            var lastSent = lastEventID.map { ($0, initial.state) }
            var lastBeat = ContinuousClock.now
            let started = clock.now()
            while true {
                let snapshot = await watch.snapshot()
                if lastSent == nil || lastSent! != (String(snapshot.version), snapshot.state) {
                    let event = ServerSentEvent(
                        event: snapshot.state, data: String(decoding: Wire.encode(snapshot), as: UTF8.self),
                        id: String(snapshot.version))
                    try await writer.write(ByteBuffer(string: event.encoded))
                    lastSent = (String(snapshot.version), snapshot.state)
                }
                if snapshot.isFinal || clock.now().timeIntervalSince(started) > Self.maximumStream || Task.isShuttingDownGracefully { break }
                let untilExpiry = (Wire.date(snapshot.expiresAt) ?? clock.now()).timeIntervalSince(clock.now())
                let wait = min(
                    AuthenticatorService.safetyPoll, Self.heartbeat - (ContinuousClock.now - lastBeat), .milliseconds(Int(max(0.05, untilExpiry + 0.05) * 1000))
                )
                await watch.waitForChange(timeout: max(wait, .milliseconds(50)))
                if ContinuousClock.now - lastBeat >= Self.heartbeat {
                    try await writer.write(ByteBuffer(string: ServerSentEvent.heartbeat))
                    lastBeat = .now
                }
            }
            try await writer.finish(nil)
        }
        return Response(
            status: .ok,
            headers: [
                .contentType: "text/event-stream", .cacheControl: "no-store",
                HTTPField.Name("X-Accel-Buffering")!: "no",
            ], body: body)
    }

    func complete(_ request: Request, _ context: SigilRequestContext) async throws -> Response {
        try Web.requireSameOrigin(request, context)
        let tenant = try context.requireTenant()
        _ = try await JSONBody.decode(EmptyBody.self, from: request, context: context, allowed: [])
        let previous = try await context.browserSession(request, services.sessions)?.0
        let done = try await authenticator.complete(
            tenant: tenant, transactionID: context.parameters.get("tx") ?? "",
            browserHash: bindingHash(request, context, tenant: tenant), sessions: services.sessions, replacing: previous)
        try await SignInRoutes.endReplaced(previous, by: done.user.id, services: services, context: context)
        var headers: HTTPFields = [.cacheControl: "no-store"]
        headers.append(
            HTTPField(
                name: .setCookie,
                value: Web.sessionCookie(
                    done.cookie.value, context, tenant: tenant,
                    maxAge: Int(services.sessions.policy.absoluteTimeout))))
        headers.append(HTTPField(name: .setCookie, value: Self.bindingCookie("", context, tenant: tenant, maxAge: 0)))
        return try JSONResponse.make(["redirect": done.returnTo], headers: headers)
    }

    func cancel(_ request: Request, _ context: SigilRequestContext) async throws -> Response {
        try Web.requireSameOrigin(request, context)
        let tenant = try context.requireTenant()
        try await authenticator.cancel(
            tenant: tenant, transactionID: context.parameters.get("tx") ?? "",
            browserHash: bindingHash(request, context, tenant: tenant))
        return Response(status: .noContent)
    }

    func deleteDevice(_ request: Request, _ context: SigilRequestContext) async throws -> Response {
        try Web.requireSameOrigin(request, context)
        let base = Web.basePath(context)
        let tenant = try context.requireTenant()
        guard let (session, user) = try await context.browserSession(request, services.sessions) else {
            return Web.redirect("\(base)/login")
        }
        let form = try await SignInRoutes.form(request)
        try Web.checkCSRF(form["csrf"], session: session, masterKey: services.context.masterKey)
        guard let id = context.parameters.get("id") else { throw Problem.notFound() }
        try await authenticator.removeDevice(tenantID: tenant.id, userID: user.id, deviceID: id, by: .user(user.id), via: "account")
        return Web.redirect("\(base)/account")
    }

    // MARK: device: enrolment (authenticated by the code's secret)

    func landing(_ context: SigilRequestContext, what: String) -> Response {
        pages.page(.authenticatorLanding, AuthenticatorLandingView(base: Web.basePath(context), what: what))
    }

    func enrolPreview(_ request: Request, _ context: SigilRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        let body = try await deviceBody(EnrolmentPreviewBody.self, try await Self.read(request), allowed: ["transaction", "secret"])
        let preview = try await services.authenticatorEnrolment.preview(tenant: tenant, transactionID: body.transaction, secret: body.secret)
        return try Self.json(
            EnrolmentPreviewView(
                transaction: preview.transactionID, issuer: preview.issuer, tenant: preview.tenantName,
                user: WireUser(email: preview.email), challenge: preview.challenge,
                expiresAt: Wire.time(preview.expiresAt)))
    }

    func enrolRegister(_ request: Request, _ context: SigilRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        let body = try await deviceBody(
            DeviceRegistrationBody.self, try await Self.read(request),
            allowed: ["transaction", "secret", "public_key", "name", "platform", "key_protection", "push", "proof"])
        let (device, user) = try await services.authenticatorEnrolment.register(
            tenant: tenant,
            .init(
                transactionID: body.transaction, secret: body.secret, publicKey: body.publicKey, name: body.name, platform: body.platform,
                keyProtection: body.keyProtection, proof: body.proof, push: body.push))
        return try Self.json(
            DeviceRegisteredView(
                device: .init(
                    id: device.id, name: device.name, platform: device.platform, keyProtection: device.keyProtection,
                    createdAt: Wire.time(device.createdAt)),
                issuer: context.issuer, tenant: tenant.displayName, user: WireUser(id: user.id, email: user.email)), status: .created)
    }

    // MARK: device: signed requests

    static func read(_ request: Request, limit: Int = DeviceRequestVerifier.maximumBody) async throws -> [UInt8] {
        do {
            return Array(try await request.body.collect(upTo: limit).readableBytesView)
        } catch {
            throw AuthenticatorServiceError(.payloadTooLarge, "at most \(limit) bytes")
        }
    }

    static let deviceHeader = HTTPField.Name("Sigil-Device")!
    static let timestampHeader = HTTPField.Name("Sigil-Timestamp")!
    static let nonceHeader = HTTPField.Name("Sigil-Nonce")!
    static let signatureHeader = HTTPField.Name("Sigil-Signature")!

    func device(
        _ request: Request, _ context: SigilRequestContext, body: [UInt8], maximumBody: Int = DeviceRequestVerifier.maximumBody
    ) async throws -> (Tenant, AuthenticatedDevice) {
        let tenant = try context.requireTenant()
        let query = request.uri.query.map { "?\($0)" } ?? ""
        let signed = DeviceRequestVerifier.SignedRequest(
            method: request.method.rawValue, target: context.issuer + request.uri.path + query,
            deviceID: request.headers[Self.deviceHeader], timestamp: request.headers[Self.timestampHeader],
            nonce: request.headers[Self.nonceHeader], signature: request.headers[Self.signatureHeader], body: body,
            maximumBody: maximumBody)
        return (tenant, try await services.deviceRequests.verify(signed, tenantID: tenant.id))
    }

    /// Strict JSON for device bodies: an object with only the known fields, then typed decoding.
    func deviceBody<T: Decodable>(_ type: T.Type, _ bytes: [UInt8], allowed: Set<String>) async throws -> T {
        do { try StrictJSON.check(bytes) } catch { throw Problem.invalidJSON(error.description) }
        guard let object = try? JSONSerialization.jsonObject(with: Data(bytes)), let dictionary = object as? [String: Any] else {
            throw Problem.invalidJSON("the body must be a JSON object")
        }
        let unknown = dictionary.keys.filter { !allowed.contains($0) }.sorted()
        guard unknown.isEmpty else { throw Problem.unknownFields(unknown) }
        do {
            return try Wire.decode(T.self, from: bytes)
        } catch {
            throw Problem.invalidType("body", "a field is missing or has the wrong type")
        }
    }

    static func json<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) throws -> Response {
        Response(
            status: status, headers: [.contentType: "application/json", .cacheControl: "no-store"],
            body: .init(byteBuffer: ByteBuffer(bytes: Wire.encode(value))))
    }

    func claim(_ request: Request, _ context: SigilRequestContext) async throws -> Response {
        let bytes = try await Self.read(request)
        let (tenant, device) = try await device(request, context, body: bytes)
        let body = try await deviceBody(ClaimBody.self, bytes, allowed: ["secret"])
        return try Self.json(
            try await authenticator.claim(
                tenant: tenant, device: device, transactionID: context.parameters.get("tx") ?? "",
                secret: body.secret))
    }

    func deviceView(_ request: Request, _ context: SigilRequestContext) async throws -> Response {
        let (tenant, device) = try await device(request, context, body: [])
        return try Self.json(try await authenticator.request(tenant: tenant, device: device, transactionID: context.parameters.get("tx") ?? ""))
    }

    func approve(_ request: Request, _ context: SigilRequestContext) async throws -> Response {
        let bytes = try await Self.read(request)
        let (tenant, device) = try await device(request, context, body: bytes)
        let body = try await deviceBody(ApproveBody.self, bytes, allowed: ["number", "user_verification", "signature"])
        return try Self.json(
            try await authenticator.answer(
                tenant: tenant, device: device, transactionID: context.parameters.get("tx") ?? "",
                answer: .approve(number: body.number), userVerification: body.userVerification,
                signature: body.signature))
    }

    func deny(_ request: Request, _ context: SigilRequestContext) async throws -> Response {
        let bytes = try await Self.read(request)
        let (tenant, device) = try await device(request, context, body: bytes)
        let body = try await deviceBody(DenyBody.self, bytes, allowed: ["reason", "user_verification", "signature"])
        let answer: AuthenticatorService.Answer
        switch body.reason {
        case "declined": answer = .deny
        case "not_me": answer = .report
        default: throw AuthenticatorServiceError(.invalidInput, "reason must be declined or not_me")
        }
        return try Self.json(
            try await authenticator.answer(
                tenant: tenant, device: device, transactionID: context.parameters.get("tx") ?? "",
                answer: answer, userVerification: body.userVerification, signature: body.signature))
    }

    /// Pending push requests; `?wait=N` (0…55 s) waits for one to appear.
    func pending(_ request: Request, _ context: SigilRequestContext) async throws -> Response {
        let (tenant, device) = try await device(request, context, body: [])
        let waitParameter = request.uri.queryParameters.get("wait").map { String($0) }
        var wait = 0
        if let waitParameter {
            guard let n = Int(waitParameter), (0...55).contains(n) else {
                throw AuthenticatorServiceError(.invalidInput, "wait must be a number of seconds from 0 to 55")
            }
            wait = n
        }
        let requests = try await authenticator.pending(
            tenant: tenant, device: device, waitingUpTo: .seconds(wait),
            stop: { Task.isShuttingDownGracefully })
        return try Self.json(PendingList(requests: requests))
    }

    /// The device's event stream: `push` for each pending request, `gone` when one ends,
    /// `revoked` when the device is removed. Closed after 300 s; the device reconnects.
    func deviceStream(_ request: Request, _ context: SigilRequestContext) async throws -> Response {
        let (tenant, device) = try await device(request, context, body: [])
        let watch = authenticator.watch(tenant: tenant, device: device)
        let body = ResponseBody { writer in
            try await writer.write(ByteBuffer(string: ServerSentEvent.retry(milliseconds: 1000)))
            var sent: Set<String> = []
            let end = ContinuousClock.now + .seconds(300)
            var lastBeat = ContinuousClock.now
            while ContinuousClock.now < end, !Task.isShuttingDownGracefully {
                guard case .pending(let requests) = await watch.current() else {
                    try await writer.write(ByteBuffer(string: ServerSentEvent(event: "revoked", data: "{}").encoded))
                    break
                }
                let ids = Set(requests.map(\.transaction))
                for view in requests where !sent.contains(view.transaction) {
                    try await writer.write(
                        ByteBuffer(
                            string: ServerSentEvent(
                                event: "push", data: String(decoding: Wire.encode(view), as: UTF8.self),
                                id: view.transaction
                            ).encoded))
                }
                for gone in sent.subtracting(ids) {
                    try await writer.write(ByteBuffer(string: ServerSentEvent(event: "gone", data: "{\"transaction\":\"\(gone)\"}").encoded))
                }
                sent = ids
                await watch.waitForChange(timeout: AuthenticatorService.safetyPoll)
                if ContinuousClock.now - lastBeat >= Self.heartbeat {
                    try await writer.write(ByteBuffer(string: ServerSentEvent.heartbeat))
                    lastBeat = .now
                }
            }
            try await writer.finish(nil)
        }
        return Response(
            status: .ok,
            headers: [
                .contentType: "text/event-stream", .cacheControl: "no-store",
                HTTPField.Name("X-Accel-Buffering")!: "no",
            ], body: body)
    }

    func setPushToken(_ request: Request, _ context: SigilRequestContext) async throws -> Response {
        let bytes = try await Self.read(request)
        let (tenant, device) = try await device(request, context, body: bytes)
        let body = try await deviceBody(PushRegistration.self, bytes, allowed: ["provider", "token"])
        try await authenticator.setPushToken(tenant: tenant, device: device, registration: body)
        return Response(status: .noContent)
    }

    func removeSelf(_ request: Request, _ context: SigilRequestContext) async throws -> Response {
        let (tenant, device) = try await device(request, context, body: try await Self.read(request))
        try await authenticator.removeDevice(tenantID: tenant.id, userID: device.user.id, deviceID: device.device.id, by: .user(device.user.id), via: "device")
        return Response(status: .noContent)
    }
}

struct QRStartBody: Decodable {
    var returnTo: String?
    var userVerification: String?
}

struct PushStartBody: Decodable {
    var email: String
    var returnTo: String?
    /// `biometric` from a LiveID login page: the phone is told a face or fingerprint is needed.
    var userVerification: String?
}

/// The answer to starting a QR login, a push or an enrolment.
struct StartedView: Encodable {
    /// Links under the tenant's base path for transaction `tx`; `qr` only when there is a code to draw.
    init(_ transaction: LoginTransaction, base: String, payload: AuthenticatorPayload?, includeLink: Bool = false) {
        let tx = transaction.id
        self.transaction = tx
        expiresAt = Wire.time(transaction.expiresAt)
        qr = payload == nil ? nil : "\(base)/login/transactions/\(tx)/qr.svg"
        link = includeLink ? payload?.url : nil
        deepLink = payload?.deepLink
        number = payload == nil ? transaction.number : nil
        events = "\(base)/login/transactions/\(tx)/events"
        status = "\(base)/login/transactions/\(tx)"
    }

    var transaction: String
    var expiresAt: String
    var qr: String?
    var link: String?
    var deepLink: String?
    var number: String?
    var events: String
    var status: String
    enum CodingKeys: String, CodingKey {
        case transaction, qr, link, number, events, status
        case expiresAt = "expires_at", deepLink = "deep_link"
    }
}
