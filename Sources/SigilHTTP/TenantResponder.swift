import Foundation
import HTTPTypes
import Hummingbird
import SigilServices
import SigilStore

/// Finds the tenant of a request before routing, so every route is written once and serves every
/// tenant:
/// 1. `/t/{slug}/…`: the tenant named in the path; the prefix is removed before routing and the
///    issuer is `{public URL}/t/{slug}`.
/// 2. A `Host` registered to a tenant (`sigil tenant create acme --host acme.example.com`): the
///    issuer is `{public URL scheme}://{host}`.
/// 3. Anything else: the `default` tenant, whose issuer is the public URL.
public struct TenantResponder<Inner: HTTPResponder<SigilRequestContext>>: HTTPResponder {
    public typealias Context = SigilRequestContext
    let inner: Inner
    let tenants: TenantService
    let publicURL: URL
    var trustedProxies: TrustedProxies = .none

    public func respond(to request: Request, context: SigilRequestContext) async throws -> Response {
        var response: Response
        do {
            response = try await resolveAndRespond(to: request, context: context)
        } catch let error as any HTTPResponseError {
            response = try error.response(from: request, context: context)
        }
        SecurityHeaders.apply(to: &response.headers, https: publicURL.scheme?.lowercased() == "https")
        return response
    }

    func resolveAndRespond(to request: Request, context: SigilRequestContext) async throws -> Response {
        var context = context
        context.clientAddress = trustedProxies.clientAddress(
            peer: context.clientAddress,
            forwardedFor: request.headers[values: .xForwardedFor])
        let path = request.uri.path
        context.originalPath = path
        // Operations endpoints belong to the process, not a tenant: they must answer (and
        // /readyz must say 503) even when the database cannot resolve a tenant.
        if Self.operationsPaths.contains(path) {
            return try await inner.respond(to: request, context: context)
        }
        let base = publicURL.absoluteString.hasSuffix("/") ? String(publicURL.absoluteString.dropLast()) : publicURL.absoluteString
        do {
            if let (slug, rest) = Self.splitTenantPrefix(path) {
                guard let tenant = try await tenants.resolve(slug: slug) else {
                    return Problem.tenantNotFound().response(path: path)
                }
                context.tenant = tenant
                context.issuer = "\(base)/t/\(slug)"
                var head = request.head
                let query = request.uri.query.map { "?\($0)" } ?? ""
                head.path = rest + query
                return try await inner.respond(to: Request(head: head, body: request.body), context: context)
            }
            if let host = (request.headers[Self.hostHeader] ?? request.head.authority)?.lowercased(),
                let tenant = try await tenants.resolve(host: host)
            {
                context.tenant = tenant
                context.issuer = "\(publicURL.scheme ?? "https")://\(host)"
            } else {
                context.tenant = try await tenants.resolve(slug: Tenant.defaultSlug)
                context.issuer = base
            }
        } catch {
            context.logger.error("tenant resolution failed", metadata: ["error": .string("\(error)")])
            return Problem(status: .serviceUnavailable, type: "unavailable", title: "The database is unavailable").response(path: path)
        }
        return try await inner.respond(to: request, context: context)
    }

    /// HTTP/1 carries the authority in `Host`; HTTPTypes moves it to `authority`, but requests built
    /// in-process may still carry the header.
    static var hostHeader: HTTPField.Name { HTTPField.Name("Host")! }

    static var operationsPaths: Set<String> { ["/healthz", "/readyz", "/metrics"] }

    /// `/t/acme/oauth2/jwks` → ("acme", "/oauth2/jwks"); `/t/acme` → ("acme", "/").
    static func splitTenantPrefix(_ path: String) -> (String, String)? {
        guard path.hasPrefix("/t/") else { return nil }
        let afterPrefix = path.dropFirst(3)
        let slug = afterPrefix.prefix(while: { $0 != "/" })
        guard !slug.isEmpty, Validate.slug(String(slug)) == nil else { return nil }
        let rest = afterPrefix.dropFirst(slug.count)
        return (String(slug), rest.isEmpty ? "/" : String(rest))
    }
}
