import Foundation
import HTTPTypes
import Hummingbird
import OpenAPIRuntime
import SigilAdminAPI
import SigilServices

/// What the admin API's operations learn about their request beyond the generated `Input`: the
/// resolved tenant and issuer (`SigilRequestContext`) and the authenticated `Principal`. Set by
/// `AdminGate` for the duration of one operation.
struct AdminCall: Sendable {
    let context: SigilRequestContext
    let principal: Principal

    @TaskLocal static var current: AdminCall?

    static func get() throws -> AdminCall {
        // Only reachable through AdminGate; anything else is a wiring bug.
        guard let current else { throw Problem(status: .internalServerError, type: "internal", title: "Internal error") }
        return current
    }
}

/// The steps every generated admin operation runs first, in order (a Hummingbird middleware on
/// the route group the generated handlers are registered on):
/// 1. the failed-token limit per client address (429 while spent, valid token or not);
/// 2. bearer-token authentication and the token's tenant scope (401 / 403, audited);
/// 3. for operations with a request body, every check the generated decoder does not make, on
///    the raw bytes (`JSONBody.checked`): media type, size, I-JSON (duplicate members), an
///    object, only the fields the document declares, no explicit null;
/// 4. the operation, with `AdminCall.current` set; a `ServerError` from the generated code is
///    unwrapped: a request the generated decoder refused becomes the problem the hand-written
///    decoder gave, an operation's own error goes on to `ProblemMiddleware` as thrown;
/// 5. the response headers the document declares go out as plain values, and `Content-Type` as
///    `application/json`, as before the generated code.
struct AdminGate: RouterMiddleware {
    typealias Context = SigilRequestContext

    let services: ServiceSet
    let limiter: RateLimiter
    let rules: AdminDocumentRules

    /// Failed bearer tokens per client address, across tenants: while spent, every request from
    /// that address answers 429, valid token or not.
    static let failedTokensPerAddress = RateLimiter.Rule(capacity: 20, refillPerSecond: 0.2)

    func handle(
        _ request: Request, context: SigilRequestContext,
        next: (Request, SigilRequestContext) async throws -> Response
    ) async throws -> Response {
        let key = "admin-token-failure|addr|\(context.clientAddress)"
        if let retryAfter = limiter.peek(key, rule: Self.failedTokensPerAddress) {
            throw await RateLimitMiddleware.refusal(retryAfter: retryAfter, group: "admin-authentication", context: context, services: services)
        }
        let principal: Principal
        do {
            principal = try await Self.authenticate(request, context: context, services: services)
        } catch let error as ServiceError where error.code == .unauthenticated {
            _ = limiter.take(key, rule: Self.failedTokensPerAddress)
            throw error
        } catch let problem as Problem where problem.status == .unauthorized {
            _ = limiter.take(key, rule: Self.failedTokensPerAddress)
            throw problem
        }
        var head = request.head
        // Every admin answer is JSON, whatever Accept says (as before the generated code): the
        // generated serializer would otherwise refuse it only after the operation had run.
        head.headerFields[.accept] = nil
        var body = request.body
        let fields = context.endpointPath.flatMap { rules.fields(request.method, $0) }
        if let fields {
            body = .init(buffer: try await JSONBody.checked(request, allowed: fields))
            // The generated decoder takes application/json; merge-patch+json bodies were checked above.
            head.headerFields[.contentType] = "application/json"
        }
        let request = Request(head: head, body: body)
        do {
            var response = try await AdminCall.$current.withValue(AdminCall(context: context, principal: principal)) {
                try await next(request, context)
            }
            // The generated serializer writes header values percent-encoded (OpenAPI's "simple"
            // style): `"3"` would leave as `%223%22`. The headers the document declares are plain
            // RFC 9110 values (ETag, Location, Cache-Control), so they go out decoded.
            for name in rules.responseHeaders {
                if let value = response.headers[name], value.contains("%"), let plain = value.removingPercentEncoding {
                    response.headers[name] = plain
                }
            }
            // …and the media type without the `charset` parameter it adds (JSON has none, RFC 8259 §11).
            if response.headers[.contentType] == "application/json; charset=utf-8" { response.headers[.contentType] = "application/json" }
            return response
        } catch let error as ServerError where error.operationInput == nil {
            // The generated code could not make the operation's Input from the request.
            throw Self.problem(decoding: error, hasBody: fields != nil)
        } catch let error as ServerError {
            // The operation threw (the underlying error is ours, a Problem, ServiceError or
            // StoreError), or its Output did not encode (a 500 either way).
            throw error.underlyingError
        }
    }

    /// A request the generated decoder refused, as the problem the hand-written decoder gave: the
    /// body's failing field named (400 `invalid-field-type`), or a query parameter (400 `invalid-query`).
    static func problem(decoding error: ServerError, hasBody: Bool) -> Problem {
        guard hasBody, let decoding = error.underlyingError as? DecodingError else {
            return Problem(status: .badRequest, type: "invalid-query", title: "Invalid query parameter", detail: error.causeDescription)
        }
        switch decoding {
        case .keyNotFound(let key, let ctx):
            let field = JSONBody.fieldPath(ctx.codingPath + [key])
            return Problem.invalidType(field, "\(field) is required")
        case .typeMismatch(_, let ctx), .valueNotFound(_, let ctx):
            let field = JSONBody.fieldPath(ctx.codingPath)
            return Problem.invalidType(field, "\(field) has the wrong type")
        case .dataCorrupted(let ctx) where JSONBody.fieldPath(ctx.codingPath) == "protocol":
            // An application's protocol picks which fields apply: a validation failure (422), as
            // the service reports the other cross-field rules, not a malformed body.
            return Problem(
                status: .unprocessableContent, type: "validation-failed", title: "The request has invalid values",
                detail: "protocol must be oidc or saml", errors: [FieldError(field: "protocol", message: "must be oidc or saml")])
        case .dataCorrupted(let ctx) where ctx.debugDescription.hasPrefix("Additional properties are disabled"):
            // A member a nested object does not declare (`additionalProperties: false`), named as
            // `JSONBody.checked` names the top-level ones. (Should the runtime reword its message,
            // this degrades to the 400 `invalid-field-type` below.)
            return Problem.unknownFields([JSONBody.fieldPath(ctx.codingPath)])
        case .dataCorrupted(let ctx):
            let field = JSONBody.fieldPath(ctx.codingPath)
            return Problem.invalidType(field, "\(field) has an invalid value")
        @unknown default:
            return Problem.invalidType("", "the body does not match the operation's schema")
        }
    }

    static func authenticate(_ request: Request, context: SigilRequestContext, services: ServiceSet) async throws -> Principal {
        let tenantID = context.tenant?.id
        guard let header = request.headers[.authorization] else {
            throw Problem.unauthenticated("send Authorization: Bearer <admin token>")
        }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            throw Problem.unauthenticated("the Authorization header must use the Bearer scheme")
        }
        let principal: Principal
        do {
            principal = try await services.adminTokens.authenticate(String(parts[1]).trimmingCharacters(in: .whitespaces))
        } catch let error as ServiceError {
            await services.context.recordFailure("admin.authentication_failed", by: .system, tenantID: tenantID, reason: error.message)
            throw error
        }
        if let tenantID, !principal.canAccess(tenantID: tenantID), !request.uri.path.hasSuffix("/tenants") {
            await services.context.recordFailure(
                "admin.access_denied", by: principal, tenantID: tenantID,
                reason: "token scoped to another tenant")
            throw ServiceError(.forbidden, "this admin token belongs to another tenant")
        }
        return principal
    }
}

/// What `AdminGate` reads from the document itself, so it cannot drift from the generated code:
/// the top-level fields each operation's request body may have (`properties` of its schema), and
/// the names of the response headers the document declares.
struct AdminDocumentRules: Sendable {
    /// "METHOD /path/{param}" → field names.
    private let byRoute: [String: Set<String>]
    let responseHeaders: [HTTPField.Name]

    static let fromDocument = AdminDocumentRules(document: AdminAPIDocument.bytes)

    init(document: [UInt8]) {
        var byRoute: [String: Set<String>] = [:]
        let root = (try? JSONSerialization.jsonObject(with: Data(document))) as? [String: Any] ?? [:]
        let schemas = (root["components"] as? [String: Any])?["schemas"] as? [String: Any] ?? [:]
        for (path, item) in root["paths"] as? [String: Any] ?? [:] {
            for (method, operation) in item as? [String: Any] ?? [:] {
                guard let body = (operation as? [String: Any])?["requestBody"] as? [String: Any],
                    var schema = ((body["content"] as? [String: Any])?["application/json"] as? [String: Any])?["schema"] as? [String: Any]
                else { continue }
                if let ref = schema["$ref"] as? String, let name = ref.split(separator: "/").last,
                    let target = schemas[String(name)] as? [String: Any]
                {
                    schema = target
                }
                byRoute["\(method.uppercased()) \(path)"] = Set((schema["properties"] as? [String: Any] ?? [:]).keys)
            }
        }
        self.byRoute = byRoute
        var names: [HTTPField.Name] = []
        for item in root["paths"] as? [String: Any] ?? [:] {
            for operation in (item.value as? [String: Any] ?? [:]).values {
                for response in ((operation as? [String: Any])?["responses"] as? [String: Any] ?? [:]).values {
                    for name in ((response as? [String: Any])?["headers"] as? [String: Any] ?? [:]).keys {
                        if let field = HTTPField.Name(name), !names.contains(field) { names.append(field) }
                    }
                }
            }
        }
        self.responseHeaders = names
    }

    /// nil for an operation without a request body.
    func fields(_ method: HTTPRequest.Method, _ route: String) -> Set<String>? {
        byRoute["\(method.rawValue) \(route)"]
    }

    var routes: Set<String> { Set(byRoute.keys) }
}
