import Foundation
import HTTPTypes
import Hummingbird
import SigilCore
import SigilFlows
import SigilOAuth
import SigilSAML
import SigilServices
import SigilStore
import SigilWebAuthn

/// An RFC 9457 problem details response. `type` is a URN naming the problem
/// (`urn:sigil:problem:validation-failed`, catalogued in docs/admin-api.md).
public struct Problem: Error, Sendable, Encodable, HTTPResponseError {
    public let status: HTTPResponse.Status
    public let type: String
    public let title: String
    public var detail: String?
    public var errors: [FieldError]?
    var extraHeaders: HTTPFields = [:]

    public init(status: HTTPResponse.Status, type: String, title: String, detail: String? = nil, errors: [FieldError]? = nil) {
        self.status = status
        self.type = "urn:sigil:problem:" + type
        self.title = title
        self.detail = detail
        self.errors = errors
    }

    enum CodingKeys: String, CodingKey { case type, title, status, detail, instance, errors }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(type, forKey: .type)
        try c.encode(title, forKey: .title)
        try c.encode(Int(status.code), forKey: .status)
        try c.encodeIfPresent(detail, forKey: .detail)
        try c.encodeIfPresent(errors, forKey: .errors)
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        response(path: request.uri.path)
    }

    func response(path: String) -> Response {
        var body: [String: Any] = ["type": type, "title": title, "status": Int(status.code), "instance": path]
        if let detail { body["detail"] = detail }
        if let errors { body["errors"] = errors.map { ["field": $0.field, "message": $0.message] } }
        let data = (try? JSONSerialization.data(withJSONObject: body, options: [.sortedKeys, .withoutEscapingSlashes])) ?? Data()
        var headers: HTTPFields = [.contentType: "application/problem+json", .cacheControl: "no-store"]
        headers.append(contentsOf: extraHeaders)
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }

    // MARK: catalogue

    static func tenantNotFound() -> Problem {
        Problem(status: .notFound, type: "tenant-not-found", title: "No such tenant")
    }

    static func notFound(_ detail: String? = nil) -> Problem {
        Problem(status: .notFound, type: "not-found", title: "Not found", detail: detail)
    }

    static func invalidJSON(_ detail: String) -> Problem {
        Problem(status: .badRequest, type: "invalid-json", title: "The request body is not valid JSON", detail: detail)
    }

    static func unknownFields(_ fields: [String]) -> Problem {
        Problem(
            status: .badRequest, type: "unknown-field", title: "The request has fields this endpoint does not accept",
            detail: "unknown: \(fields.joined(separator: ", "))",
            errors: fields.map { FieldError(field: $0, message: "unknown field") })
    }

    static func invalidType(_ field: String, _ message: String) -> Problem {
        Problem(
            status: .badRequest, type: "invalid-field-type", title: "A field has the wrong type or is missing",
            detail: message, errors: [FieldError(field: field, message: message)])
    }

    static func unauthenticated(_ detail: String) -> Problem {
        var p = Problem(status: .unauthorized, type: "unauthenticated", title: "A valid admin bearer token is required", detail: detail)
        p.extraHeaders[.wwwAuthenticate] = #"Bearer realm="sigil-admin""#
        return p
    }

    /// Maps any error to the problem a client sees: the one renderer for every module's errors
    /// (services, store, authenticator, OAuth, SAML, WebAuthn, outbound fetches, flows, HTTP).
    /// Unknown errors become a 500 without details.
    static func from(_ error: any Error) -> Problem {
        switch error {
        case let problem as Problem:
            return problem
        case let error as ServiceError:
            switch error.code {
            case .invalidInput:
                return Problem(
                    status: .unprocessableContent, type: "validation-failed", title: "The request has invalid values",
                    detail: error.message, errors: error.fieldErrors)
            case .unauthenticated:
                return unauthenticated(error.message)
            case .signInFailed:
                // Not 401: that needs a WWW-Authenticate challenge, and this is no HTTP authentication scheme.
                return Problem(status: .forbidden, type: "sign-in-failed", title: "The sign-in did not succeed", detail: error.message)
            case .forbidden:
                return Problem(status: .forbidden, type: "forbidden", title: "This token may not do that", detail: error.message)
            default:
                return Problem(status: .badRequest, type: "bad-request", title: "Bad request", detail: error.message)
            }
        case let error as IntegrationError:
            // The vendor refused the credentials or the values, could not be reached, or a name is
            // taken: what the administrator gave cannot be used as it is (the message says how to fix it).
            let status: HTTPResponse.Status =
                switch error.code {
                case .unknownIntegration: .notFound
                case .auth0ConnectionNameTaken, .oktaNameTaken: .conflict
                default: .unprocessableContent
                }
            return Problem(
                status: status, type: error.code.name.replacingOccurrences(of: "_", with: "-"), title: "The integration could not be set up or checked",
                detail: error.message)
        case let error as AuthenticatorServiceError:
            return Problem(
                status: HTTPResponse.Status(code: error.code.status), type: error.code.name,
                title: authenticatorTitles[error.code.name] ?? error.message, detail: error.message)
        case let error as StoreError:
            switch error.code {
            case .notFound:
                return Problem(status: .notFound, type: "not-found", title: "Not found", detail: "no such \(error.entity)")
            case .alreadyExists:
                return Problem(
                    status: .conflict, type: "already-exists", title: "It already exists",
                    detail: "a \(error.entity) with the same unique value exists")
            case .conflict where error.detail.hasPrefix("version"):
                return Problem(
                    status: .preconditionFailed, type: "version-mismatch",
                    title: "The resource changed since you read it", detail: "If-Match does not match the current version")
            case .conflict:
                return Problem(status: .conflict, type: "conflict", title: "The change conflicts with the current state", detail: error.detail)
            default:
                return Problem(status: .serviceUnavailable, type: "unavailable", title: "The database is unavailable")
            }
        case let failure as SSFService.Failure:
            // Shared Signals answers 400 for a request it cannot take (SSF §8.1), 404 for a stream the caller may not see.
            return failure.kind == .notFound
                ? Problem(status: .notFound, type: "not-found", title: "No such stream", detail: failure.message)
                : Problem(status: .badRequest, type: "ssf-invalid-request", title: "The request is not valid", detail: failure.message)
        case let error as OAuthError:
            // Where a route does not answer in OAuth's own JSON (RFC 6749 §5.2), the same code as a problem.
            let status: HTTPResponse.Status =
                switch error.code {
                case .invalidClient, .invalidToken: .unauthorized
                case .insufficientScope, .accessDenied: .forbidden
                case .serverError: .internalServerError
                case .temporarilyUnavailable: .serviceUnavailable
                default: .badRequest
                }
            return Problem(
                status: status, type: "oauth-" + error.code.rawValue.replacingOccurrences(of: "_", with: "-"),
                title: "The OAuth request was refused", detail: error.description)
        case let error as SAMLError:
            return Problem(status: .badRequest, type: "saml-request-refused", title: "The SAML message was refused", detail: error.message)
        case let error as WebAuthnError:
            return Problem(status: .badRequest, type: "webauthn-invalid", title: "The passkey response is not valid", detail: error.message)
        case let error as RemoteFetchError:
            return Problem(
                status: .badGateway, type: "remote-document-unavailable", title: "A document Sigil needs could not be fetched",
                detail: error.publicDescription)
        case let error as SigilError where error.code == .invalidInput:
            return Problem(status: .unprocessableContent, type: "validation-failed", title: "The request has invalid values", detail: error.message)
        case let refusal as FlowRefusal:
            return Problem(
                status: .conflict, type: "flow-" + refusal.rawValue, title: "This step cannot be taken now",
                detail: "the flow refused it (\(refusal.rawValue)); start again")
        case let error as HTTPError:
            switch error.status {
            case .notFound: return notFound("no route for this path")
            case .methodNotAllowed: return Problem(status: .methodNotAllowed, type: "method-not-allowed", title: "Method not allowed")
            case .contentTooLarge: return Problem(status: .contentTooLarge, type: "payload-too-large", title: "The request body is too large")
            default: return Problem(status: error.status, type: "http-error", title: error.status.reasonPhrase, detail: error.body)
            }
        default:
            return Problem(status: .internalServerError, type: "internal", title: "Internal error")
        }
    }
}

/// Turns every thrown error into problem+json, logging unexpected ones (without request bodies).
struct ProblemMiddleware: RouterMiddleware {
    typealias Context = SigilRequestContext

    func handle(
        _ request: Request, context: SigilRequestContext,
        next: (Request, SigilRequestContext) async throws -> Response
    ) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            let problem = Problem.from(error)
            if problem.status.code >= 500 {
                context.logger.error("request failed", metadata: ["error": .string(String(describing: error)), "path": .string(request.uri.path)])
            }
            return problem.response(path: context.originalPath.isEmpty ? request.uri.path : context.originalPath)
        }
    }
}

/// Short titles of the authenticator problems (docs/authenticator-protocol.md); the detail says more.
let authenticatorTitles: [String: String] = [
    "device-auth-required": "A signed device request is required",
    "device-clock-skew": "The device clock is too far from the server's",
    "payload-too-large": "The request body is too large",
    "device-revoked": "This device is not enrolled",
    "device-signature-invalid": "The device signature does not verify",
    "device-replay": "This request was already received",
    "account-disabled": "This account is disabled",
    "enrolment-link-invalid": "This enrolment code is invalid, used or expired",
    "transaction-secret-invalid": "The code does not match",
    "invalid-public-key": "The device key is not a valid P-256 public key",
    "enrolment-proof-invalid": "The proof of possession does not verify",
    "device-key-registered": "This device key is already registered",
    "device-limit": "Too many devices",
    "invalid-input": "The request has invalid values",
    "login-transaction-unknown": "No such sign-in request",
    "login-transaction-expired": "The sign-in request has expired",
    "transaction-answered": "The sign-in request was already answered",
    "transaction-claimed": "Another device already scanned this code",
    "approval-signature-invalid": "The approval signature does not verify",
    "wrong-number": "The number does not match",
    "login-not-approved": "The sign-in has not been approved yet",
    "login-denied": "The sign-in was declined",
    "login-already-used": "This sign-in was already used",
]
