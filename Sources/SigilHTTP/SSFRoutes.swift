import Foundation
import HTTPTypes
import Hummingbird
import SigilCore
import SigilJOSE
import SigilOAuth
import SigilServices
import SigilStore

/// The Shared Signals transmitter's endpoints (docs/ssf.md): the metadata, stream management,
/// subjects, verification and RFC 8936 polling, each authorised by an access token of the
/// receiver's OAuth client with `ssf.manage` (or `ssf.read` to read and poll). Errors are
/// problem+json; RFC 6750's `WWW-Authenticate` names what is missing.
struct SSFRoutes {
    let services: ServiceSet
    var ssf: SSFService { services.ssf }

    func register(on router: Router<SigilRequestContext>) {
        router.get("/.well-known/ssf-configuration") { _, context in
            try AuthenticatorRoutes.json(SSFService.configuration(issuer: context.issuer))
        }
        // SSF §7.2: for an issuer with a path, the well-known part goes before it
        // (`/.well-known/ssf-configuration/t/acme` for `https://host/t/acme`).
        router.get("/.well-known/ssf-configuration/t/:slug") { _, context in
            guard let slug = context.parameters.get("slug"), let tenant = try? await services.tenants.get(slug: slug), tenant.host == nil else {
                throw Problem.notFound("no such tenant")
            }
            let root = context.issuer
            return try AuthenticatorRoutes.json(SSFService.configuration(issuer: TenantService.issuer(of: tenant, publicURL: root)))
        }
        router.post("/ssf/streams") { request, context in try await self.create(request, context) }
        router.get("/ssf/streams") { request, context in try await self.read(request, context) }
        router.patch("/ssf/streams") { request, context in try await self.update(request, context, replace: false) }
        router.put("/ssf/streams") { request, context in try await self.update(request, context, replace: true) }
        router.delete("/ssf/streams") { request, context in try await self.delete(request, context) }
        router.get("/ssf/status") { request, context in try await self.status(request, context) }
        router.post("/ssf/status") { request, context in try await self.setStatus(request, context) }
        router.post("/ssf/subjects/add") { request, context in try await self.subject(request, context, add: true) }
        router.post("/ssf/subjects/remove") { request, context in try await self.subject(request, context, add: false) }
        router.post("/ssf/verify") { request, context in try await self.verify(request, context) }
        router.post("/ssf/poll/:stream") { request, context in try await self.poll(request, context) }
    }

    /// The receiver's client id, from a live access token holding `scope` (`ssf.read` is also
    /// satisfied by `ssf.manage`).
    func client(_ request: Request, _ context: SigilRequestContext, scope: String) async throws -> (tenant: Tenant, clientID: String) {
        let tenant = try context.requireTenant()
        let header = request.headers[.authorization] ?? ""
        guard header.lowercased().hasPrefix("bearer "), header.utf8.count < 8192 else {
            var p = Problem(status: .unauthorized, type: "oauth-invalid-token", title: "An access token is required", detail: "Authorization: Bearer <token>")
            p.extraHeaders[.wwwAuthenticate] = #"Bearer realm="ssf""#
            throw p
        }
        let token = String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces)
        guard let verified = try await services.oauth.verifyAccessToken(token, tenantID: tenant.id, issuer: context.issuer) else {
            var p = Problem(
                status: .unauthorized, type: "oauth-invalid-token", title: "The access token is not valid", detail: "expired, revoked or not Sigil's")
            p.extraHeaders[.wwwAuthenticate] = #"Bearer realm="ssf", error="invalid_token""#
            throw p
        }
        let scopes = Set(verified.scopes)
        guard scopes.contains(scope) || (scope == SSFService.readScope && scopes.contains(SSFService.manageScope)) else {
            var p = Problem(status: .forbidden, type: "oauth-insufficient-scope", title: "The access token lacks a scope", detail: "needs \(scope)")
            p.extraHeaders[.wwwAuthenticate] = "Bearer realm=\"ssf\", error=\"insufficient_scope\", scope=\"\(scope)\""
            throw p
        }
        return (tenant, verified.clientID)
    }

    /// The body as a JSON object, through the checks every JSON endpoint makes (`JSONBody.checked`:
    /// media type, size, strict JSON, only `allowed` fields).
    func body(_ request: Request, allowed: Set<String>) async throws -> [String: JSONValue] {
        let buffer = try await JSONBody.checked(request, allowed: allowed)
        guard case .object(let o) = try JSONValue.parse(buffer.readableBytesView) else { throw Problem.invalidJSON("a JSON object is expected") }
        return o
    }

    static let streamFields: Set<String> = [
        "stream_id", "delivery", "events_requested", "description", "profile", "iss", "aud", "events_supported", "events_delivered",
        "min_verification_interval",
    ]

    static func view(_ s: SSFStream, issuer: String) -> JSONValue {
        var delivery: [String: JSONValue] = ["method": .string(s.deliveryMethod)]
        delivery["endpoint_url"] = .string(s.deliveryMethod == SSFService.poll ? issuer + "/ssf/poll/" + s.id : (s.endpointURL ?? ""))
        var o: [String: JSONValue] = [
            "stream_id": .string(s.id), "iss": .string(issuer), "aud": .string(s.clientID), "delivery": .object(delivery),
            "events_supported": .strings(s.profile == "okta" ? SSFSignal.oktaSupported : SSFSignal.supported),
            "events_requested": .strings(s.eventsRequested), "events_delivered": .strings(s.eventsDelivered),
            "min_verification_interval": .int(Int64(SSFService.minVerificationInterval)), "profile": .string(s.profile),
        ]
        if let d = s.description { o["description"] = .string(d) }
        return .object(o)
    }

    static func input(_ o: [String: JSONValue]) throws -> SSFService.StreamInput {
        var input = SSFService.StreamInput()
        if let d = o["delivery"] {
            guard case .object(let delivery) = d else { throw Problem(status: .badRequest, type: "ssf-invalid-request", title: "delivery is an object") }
            input.deliveryMethod = delivery["method"]?.string
            input.endpointURL = delivery["endpoint_url"]?.string
            input.authorizationHeader = delivery["authorization_header"]?.string
        }
        if let events = o["events_requested"] {
            guard let list = events.strings else {
                throw Problem(status: .badRequest, type: "ssf-invalid-request", title: "events_requested is a list of URIs")
            }
            input.eventsRequested = list
        }
        input.description = o["description"]?.string
        input.profile = o["profile"]?.string
        return input
    }

    func create(_ request: Request, _ context: SigilRequestContext) async throws -> Response {
        let (tenant, clientID) = try await client(request, context, scope: SSFService.manageScope)
        let input = try Self.input(try await body(request, allowed: Self.streamFields))
        let stream = try await ssf.create(tenantID: tenant.id, clientID: clientID, input)
        return try AuthenticatorRoutes.json(Self.view(stream, issuer: context.issuer), status: .created)
    }

    func read(_ request: Request, _ context: SigilRequestContext) async throws -> Response {
        let (tenant, clientID) = try await client(request, context, scope: SSFService.readScope)
        if let id = request.uri.queryParameters.get("stream_id") {
            let s = try await ssf.stream(tenantID: tenant.id, clientID: clientID, id: String(id))
            return try AuthenticatorRoutes.json(Self.view(s, issuer: context.issuer))
        }
        let all = try await ssf.streams(tenantID: tenant.id, clientID: clientID)
        return try AuthenticatorRoutes.json(JSONValue.array(all.map { Self.view($0, issuer: context.issuer) }))
    }

    func update(_ request: Request, _ context: SigilRequestContext, replace: Bool) async throws -> Response {
        let (tenant, clientID) = try await client(request, context, scope: SSFService.manageScope)
        let o = try await body(request, allowed: Self.streamFields)
        guard let id = o["stream_id"]?.string else { throw Problem(status: .badRequest, type: "ssf-invalid-request", title: "stream_id is required") }
        let input = try Self.input(o)
        // SSF §8.1.1.3: transmitter-supplied properties may be sent back, but must match.
        let current = try await ssf.stream(tenantID: tenant.id, clientID: clientID, id: id)
        if case .object(let view) = Self.view(current, issuer: context.issuer) {
            for key in ["iss", "aud", "events_supported", "min_verification_interval"] where o[key] != nil && o[key] != view[key] {
                throw Problem(status: .badRequest, type: "ssf-invalid-request", title: "\(key) is the transmitter's and does not match")
            }
        }
        let s = try await ssf.update(tenantID: tenant.id, clientID: clientID, id: id, input, replace: replace)
        return try AuthenticatorRoutes.json(Self.view(s, issuer: context.issuer))
    }

    func delete(_ request: Request, _ context: SigilRequestContext) async throws -> Response {
        let (tenant, clientID) = try await client(request, context, scope: SSFService.manageScope)
        guard let id = request.uri.queryParameters.get("stream_id") else {
            throw Problem(status: .badRequest, type: "ssf-invalid-request", title: "stream_id is required")
        }
        try await ssf.delete(tenantID: tenant.id, clientID: clientID, id: String(id))
        return Response(status: .noContent, headers: [.cacheControl: "no-store"])
    }

    func status(_ request: Request, _ context: SigilRequestContext) async throws -> Response {
        let (tenant, clientID) = try await client(request, context, scope: SSFService.readScope)
        guard let id = request.uri.queryParameters.get("stream_id") else {
            throw Problem(status: .badRequest, type: "ssf-invalid-request", title: "stream_id is required")
        }
        let s = try await ssf.stream(tenantID: tenant.id, clientID: clientID, id: String(id))
        return try AuthenticatorRoutes.json(Self.statusView(s))
    }

    static func statusView(_ s: SSFStream) -> JSONValue {
        var o: [String: JSONValue] = ["stream_id": .string(s.id), "status": .string(s.status)]
        if let r = s.statusReason { o["reason"] = .string(r) }
        return .object(o)
    }

    func setStatus(_ request: Request, _ context: SigilRequestContext) async throws -> Response {
        let (tenant, clientID) = try await client(request, context, scope: SSFService.manageScope)
        let o = try await body(request, allowed: ["stream_id", "status", "reason"])
        guard let id = o["stream_id"]?.string, let status = o["status"]?.string else {
            throw Problem(status: .badRequest, type: "ssf-invalid-request", title: "stream_id and status are required")
        }
        let s = try await ssf.setStatus(tenantID: tenant.id, clientID: clientID, id: id, status: status, reason: o["reason"]?.string)
        return try AuthenticatorRoutes.json(Self.statusView(s))
    }

    func subject(_ request: Request, _ context: SigilRequestContext, add: Bool) async throws -> Response {
        let (tenant, clientID) = try await client(request, context, scope: SSFService.manageScope)
        let o = try await body(request, allowed: ["stream_id", "subject", "verified"])
        guard let id = o["stream_id"]?.string, let subject = o["subject"] else {
            throw Problem(status: .badRequest, type: "ssf-invalid-request", title: "stream_id and subject are required")
        }
        if add {
            try await ssf.addSubject(tenantID: tenant.id, clientID: clientID, issuer: context.issuer, streamID: id, subject: subject)
        } else {
            try await ssf.removeSubject(tenantID: tenant.id, clientID: clientID, issuer: context.issuer, streamID: id, subject: subject)
        }
        return add
            ? Response(status: .ok, headers: [.cacheControl: "no-store"]) : Response(status: .noContent, headers: [.cacheControl: "no-store"])
    }

    func verify(_ request: Request, _ context: SigilRequestContext) async throws -> Response {
        let (tenant, clientID) = try await client(request, context, scope: SSFService.manageScope)
        let o = try await body(request, allowed: ["stream_id", "state"])
        guard let id = o["stream_id"]?.string else { throw Problem(status: .badRequest, type: "ssf-invalid-request", title: "stream_id is required") }
        try await ssf.verify(tenantID: tenant.id, clientID: clientID, streamID: id, state: o["state"]?.string)
        return Response(status: .noContent, headers: [.cacheControl: "no-store"])
    }

    /// RFC 8936 §2.4: `{"ack": […], "maxEvents": n, "returnImmediately": bool}` →
    /// `{"sets": {jti: SET}, "moreAvailable": bool}`. Without `returnImmediately` an empty answer
    /// waits up to 10 s for events.
    func poll(_ request: Request, _ context: SigilRequestContext) async throws -> Response {
        let (tenant, clientID) = try await client(request, context, scope: SSFService.readScope)
        let o = try await body(request, allowed: ["ack", "maxEvents", "returnImmediately", "setErrs"])
        let id = context.parameters.get("stream") ?? ""
        let ack = o["ack"]?.strings ?? []
        // RFC 8936 §2.4: setErrs names SETs the receiver could not accept: they are not sent again.
        var errors: [String: String] = [:]
        if case .object(let reported)? = o["setErrs"] {
            for (jti, detail) in reported { errors[jti] = detail.object?["err"]?.string ?? "error" }
        }
        let maxEvents = Int(o["maxEvents"]?.int ?? 10)
        let immediately = o["returnImmediately"] == .bool(true)
        var answer = try await ssf.poll(
            tenantID: tenant.id, clientID: clientID, issuer: context.issuer, streamID: id, ack: ack, errors: errors, maxEvents: maxEvents)
        var waited = 0
        while answer.sets.isEmpty, !immediately, maxEvents > 0, waited < 20 {
            try await Task.sleep(for: .milliseconds(500))
            waited += 1
            answer = try await ssf.poll(tenantID: tenant.id, clientID: clientID, issuer: context.issuer, streamID: id, ack: [], maxEvents: maxEvents)
        }
        return try AuthenticatorRoutes.json(
            JSONValue.object(["sets": .object(answer.sets.mapValues { .string($0) }), "moreAvailable": .bool(answer.more)]))
    }
}
