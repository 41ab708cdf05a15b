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
}
