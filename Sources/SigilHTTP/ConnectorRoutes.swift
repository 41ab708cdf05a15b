import Foundation
import HTTPTypes
import Hummingbird
import SigilAdminAPI
import SigilAuthenticatorProtocol
import SigilCore
import SigilJOSE
import SigilServices
import SigilStore

/// The connector API for flow builders (docs/connectors.md): `/api/v1/connectors/…`, authenticated
/// by a tenant's connector key (`Authorization: Bearer sck_…`), described by
/// `/api/v1/connectors/openapi.json`. Errors are problem+json like the admin API's.
struct ConnectorRoutes {
    let services: ServiceSet
    var limiter: RateLimiter = RateLimiter()
    var pages: Pages = .standard

    /// Failed connector keys per client address: while spent, every connector call from that
    /// address answers 429, valid key or not (as for admin tokens).
    static let failedKeysPerAddress = RateLimiter.Rule(capacity: 20, refillPerSecond: 0.2)

    func register(on router: Router<SigilRequestContext>) {
        router.get("/api/v1/connectors/openapi.json") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "application/json", .cacheControl: "public, max-age=300"],
                body: .init(byteBuffer: ByteBuffer(bytes: ConnectorAPIDocument.bytes)))
        }
        router.post("/api/v1/connectors/idv/sessions") { request, context in try await self.startIDV(request, context) }
        router.get("/api/v1/connectors/idv/sessions/:sid") { request, context in try await self.idvResult(request, context) }
        router.post("/api/v1/connectors/stepup/challenges") { request, context in try await self.startStepUp(request, context) }
        router.get("/api/v1/connectors/stepup/challenges/:cid") { request, context in try await self.stepUpResult(request, context) }
        // Inbound hooks: signed events from a flow builder (docs/connectors.md "Inbound hooks").
        router.post("/api/v1/hooks/:source") { request, context in try await self.receiveHook(request, context) }
        // The challenge page the flow sends the person to (`challenge_url`).
        router.get("/stepup/:cid/open") { request, context in try await self.openChallenge(request, context) }
        router.get("/stepup/:cid") { request, context in try await self.challengePage(request, context) }
        router.get("/stepup/:cid/continue") { request, context in try await self.continueChallenge(request, context) }
    }

    func key(_ request: Request, _ context: SigilRequestContext, scope: String) async throws -> ConnectorKey {
        let tenant = try context.requireTenant()
        let limit = "connector-key-failure|addr|\(context.clientAddress)"
        if let retryAfter = limiter.peek(limit, rule: Self.failedKeysPerAddress) {
            throw await RateLimitMiddleware.refusal(retryAfter: retryAfter, group: "connector-authentication", context: context, services: services)
        }
        let header = request.headers[.authorization] ?? ""
        let bearer = header.lowercased().hasPrefix("bearer ") ? String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces) : nil
        do {
            // A key (`sck_…`), or an OAuth client's client-credentials access token (a JWT).
            if let bearer, !bearer.hasPrefix(ConnectorService.keyPrefix), bearer.split(separator: ".").count == 3 {
                return try await services.connectors.authenticate(
                    tenantID: tenant.id, accessToken: bearer, scope: scope, oauth: services.oauth, issuer: context.issuer)
            }
            return try await services.connectors.authenticate(tenantID: tenant.id, bearer: bearer, scope: scope)
        } catch let error as ServiceError where error.code == .unauthenticated {
            _ = limiter.take(limit, rule: Self.failedKeysPerAddress)
            throw error
        }
    }

    struct StartBody: Decodable {
        var documentTypes: [String]?
        var livenessMode: String?
        var userIdentifier: String?
        var redirectUrl: String?
        var expected: [String: String]?
    }

    func startIDV(_ request: Request, _ context: SigilRequestContext) async throws -> Response {
        let key = try await key(request, context, scope: "idv:write")
        let body = try await JSONBody.decode(
            StartBody.self, from: request, context: context,
            allowed: ["document_types", "liveness_mode", "user_identifier", "redirect_url", "expected"])
        let idempotencyKey = request.headers[HTTPField.Name("Idempotency-Key")!]
        let (started, replayed) = try await services.connectors.startIDV(
            key: key,
            .init(
                documentTypes: body.documentTypes, livenessMode: body.livenessMode, userIdentifier: body.userIdentifier,
                redirectURL: body.redirectUrl, expected: body.expected),
            idempotencyKey: idempotencyKey, issuer: context.issuer)
        var response = try AuthenticatorRoutes.json(
            [
                "session_id": JSONValue.string(started.sessionID), "session_url": .string(started.sessionURL),
                "handoff_url": .string(started.handoffURL), "subject": .string(started.subject), "status": .string("pending"),
                "expires_at": .string(Wire.time(started.expiresAt)),
            ], status: replayed ? .ok : .created)
        if replayed { response.headers[HTTPField.Name("Idempotent-Replayed")!] = "true" }
        return response
    }

    func idvResult(_ request: Request, _ context: SigilRequestContext) async throws -> Response {
        let key = try await key(request, context, scope: "idv:read")
        let sid = context.parameters.get("sid") ?? ""
        let result = try await services.connectors.idvResult(key: key, sessionID: sid)
        var body: [String: JSONValue] = [
            "session_id": .string(sid), "status": .string(result.status), "state": .string(result.stage),
            "reasons": .array(result.reasons.map { JSONValue.string($0) }), "expires_at": .string(Wire.time(result.expiresAt)),
        ]
        if let ial = result.ialLevel { body["ial_level"] = .string(ial) }
        if let claims = result.verifiedClaims { body["verified_claims"] = claims }
        if let subject = result.subject { body["subject"] = .string(subject) }
        return try AuthenticatorRoutes.json(body)
    }

    // MARK: inbound hooks

    /// The raw body goes to the service as received: the signature is checked over these bytes
    /// before anything parses them. Refused signatures count against the address like bad keys.
    func receiveHook(_ request: Request, _ context: SigilRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        let limit = "connector-key-failure|addr|\(context.clientAddress)"
        if let retryAfter = limiter.peek(limit, rule: Self.failedKeysPerAddress) {
            throw await RateLimitMiddleware.refusal(retryAfter: retryAfter, group: "connector-authentication", context: context, services: services)
        }
        let body: [UInt8]
        do {
            body = Array(try await request.body.collect(upTo: ConnectorService.hookBodyLimit).readableBytesView)
        } catch {
            throw Problem(status: .contentTooLarge, type: "payload-too-large", title: "The request body is too large", detail: "at most 64 KiB")
        }
        var headers: [String: String] = [:]
        for field in request.headers {
            let name = field.name.canonicalName
            headers[name] = headers[name].map { $0 + ", " + field.value } ?? field.value
        }
        let origin = WebOrigin.of(context.issuer) ?? context.issuer
        let delivery = ConnectorService.HookDelivery(
            method: request.method.rawValue, targetURI: origin + request.uri.string, headers: headers, body: body)
        let outcome: ConnectorService.HookOutcome
        do {
            outcome = try await services.connectors.receiveHook(
                tenant: tenant, name: context.parameters.get("source") ?? "", delivery: delivery, issuer: context.issuer,
                authenticator: services.authenticator)
        } catch let error as ServiceError where error.code == .unauthenticated {
            _ = limiter.take(limit, rule: Self.failedKeysPerAddress)
            throw error
        }
        var answer: [String: JSONValue] = ["event_id": .string(outcome.eventID), "action": .string(outcome.action)]
        if let v = outcome.sessionID { answer["session_id"] = .string(v) }
        if let v = outcome.sessionURL { answer["session_url"] = .string(v) }
        if let v = outcome.challengeID { answer["challenge_id"] = .string(v) }
        if let v = outcome.challengeURL { answer["challenge_url"] = .string(v) }
        if let v = outcome.number { answer["number"] = .string(v) }
        if let v = outcome.expiresAt { answer["expires_at"] = .string(Wire.time(v)) }
        if outcome.replayed == true { answer["replayed"] = .bool(true) }
        return try AuthenticatorRoutes.json(answer)
    }

    // MARK: LiveID step-up

    struct StepUpBody: Decodable {
        var userIdentifier: String
        var reason: String?
        var bindingMessage: String?
        var redirectUrl: String?
        var userVerification: String?
        var faceMatch: String?
    }

    func startStepUp(_ request: Request, _ context: SigilRequestContext) async throws -> Response {
        let key = try await key(request, context, scope: "stepup:write")
        let tenant = try context.requireTenant()
        let body = try await JSONBody.decode(
            StepUpBody.self, from: request, context: context,
            allowed: ["user_identifier", "reason", "binding_message", "redirect_url", "user_verification", "face_match"])
        let (started, replayed) = try await services.connectors.startStepUp(
            key: key, tenant: tenant,
            .init(
                userIdentifier: body.userIdentifier, reason: body.reason, bindingMessage: body.bindingMessage, redirectURL: body.redirectUrl,
                userVerification: body.userVerification, faceMatch: body.faceMatch),
            idempotencyKey: request.headers[HTTPField.Name("Idempotency-Key")!], issuer: context.issuer,
            authenticator: services.authenticator)
        var response = try AuthenticatorRoutes.json(
            [
                "challenge_id": JSONValue.string(started.challengeID), "challenge_url": .string(started.challengeURL),
                "number": .string(started.number), "user_id": .string(started.userID), "match_result": .string("pending"),
                "expires_at": .string(Wire.time(started.expiresAt)), "face_match": .string(started.faceMatch ?? "off"),
            ], status: replayed ? .ok : .created)
        if replayed { response.headers[HTTPField.Name("Idempotent-Replayed")!] = "true" }
        return response
    }

    func stepUpResult(_ request: Request, _ context: SigilRequestContext) async throws -> Response {
        let key = try await key(request, context, scope: "stepup:read")
        let cid = context.parameters.get("cid") ?? ""
        let r = try await services.connectors.stepUpResult(key: key, challengeID: cid)
        var body: [String: JSONValue] = [
            "challenge_id": .string(cid), "match_result": .string(r.matchResult), "amr": .strings(r.amr),
            "expires_at": .string(Wire.time(r.expiresAt)),
        ]
        if let v = r.confidence { body["confidence"] = .string(v) }
        if let v = r.acr { body["acr"] = .string(v) }
        if let v = r.reason { body["reason"] = .string(v) }
        if let v = r.userVerification { body["user_verification"] = .string(v) }
        if let v = r.userID { body["user_id"] = .string(v) }
        if let v = r.number { body["number"] = .string(v) }
        if let v = r.decidedAt { body["decided_at"] = .string(Wire.time(v)) }
        if let v = r.faceMatch { body["face_match"] = .string(v) }
        if let v = r.verificationProcess { body["verification_process"] = .string(v) }
        return try AuthenticatorRoutes.json(body)
    }

    static func challengeID(_ context: SigilRequestContext) throws -> String {
        guard let cid = context.parameters.get("cid"), cid.hasPrefix("stu_"), cid.utf8.count < 64,
            cid.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x7A) || $0 == 0x5F })
        else { throw Problem.notFound() }
        return cid
    }

    static func challengePath(_ context: SigilRequestContext, _ cid: String, _ tail: String = "") -> String {
        Web.basePath(context) + "/stepup/" + cid + tail
    }

    static func cookieName(_ context: SigilRequestContext) -> String { Web.isSecure(context) ? "__Secure-sigil_liveid" : "sigil_liveid" }

    /// `challenge_url`: the link's secret moves into a cookie scoped to the challenge's path, out
    /// of the address bar.
    func openChallenge(_ request: Request, _ context: SigilRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        let cid = try Self.challengeID(context)
        let secret = request.uri.queryParameters.get("k").map { String($0) } ?? ""
        guard try await services.connectors.stepUpForLink(tenantID: tenant.id, challengeID: cid, secret: secret) != nil else {
            return unknownChallenge(context)
        }
        let cookie = Web.linkCookie(Self.cookieName(context), secret, path: Self.challengePath(context, cid), maxAge: 1800, context)
        return Web.redirect(Self.challengePath(context, cid), headers: [.setCookie: cookie, .referrerPolicy: "no-referrer"])
    }

    func challengePage(_ request: Request, _ context: SigilRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        let cid = try Self.challengeID(context)
        let base = Web.basePath(context)
        guard
            let r = try await services.connectors.stepUpForLink(
                tenantID: tenant.id, challengeID: cid, secret: Web.cookie(Self.cookieName(context), in: request))
        else { return unknownChallenge(context) }
        let next = Self.challengePath(context, cid, "/continue")
        let view: LiveIDView
        switch r.matchResult {
        case "pending":
            view = LiveIDView(
                base: base, heading: "Confirm it's you", number: r.number, result: r.matchResult, message: nil, refresh: "2", continueURL: nil)
        default:
            let message: String =
                switch r.matchResult {
                case "match": "Confirmed on your Sigil authenticator."
                case "expired": "Nobody answered in time."
                default: "The request was not confirmed."
                }
            view = LiveIDView(
                base: base, heading: r.matchResult == "match" ? "Confirmed" : "Not confirmed", number: nil, result: r.matchResult,
                message: message, refresh: r.redirectURL == nil ? nil : "0;url=" + next, continueURL: r.redirectURL == nil ? nil : next)
        }
        var response = pages.page(.liveID, view)
        response.headers[.referrerPolicy] = "no-referrer"
        return response
    }

    /// Once decided, back to the flow that asked (an origin its key allows) with the challenge's
    /// id to read the result by; never the result itself.
    func continueChallenge(_ request: Request, _ context: SigilRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        let cid = try Self.challengeID(context)
        guard
            let r = try await services.connectors.stepUpForLink(
                tenantID: tenant.id, challengeID: cid, secret: Web.cookie(Self.cookieName(context), in: request))
        else { return unknownChallenge(context) }
        guard r.matchResult != "pending" else { return Web.redirect(Self.challengePath(context, cid)) }
        guard let back = r.redirectURL, var url = URLComponents(string: back) else {
            return pages.page(.continueLink, ContinueLinkView(base: Web.basePath(context), url: Web.basePath(context) + "/", heading: "Finished"))
        }
        url.queryItems = (url.queryItems ?? []) + [URLQueryItem(name: "challenge_id", value: cid)]
        guard let target = url.string else { return unknownChallenge(context) }
        return Web.redirect(target, headers: [.referrerPolicy: "no-referrer"])
    }

    func unknownChallenge(_ context: SigilRequestContext) -> Response {
        pages.page(
            .error,
            ErrorView(
                base: Web.basePath(context), title: "Step-up", heading: "This request cannot continue",
                message: "This link is unknown or has expired. Go back to the application and try again.", oauthCode: nil, askAdministrator: false),
            status: .forbidden)
    }
}
