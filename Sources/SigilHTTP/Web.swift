import Foundation
import HTTPTypes
import Hummingbird
import SigilCore
import SigilStore

/// Helpers for Sigil's own HTML pages: policies, redirects, cookies, CSRF, origin checks. The pages
/// themselves are templates (`Pages`); forms are parsed by `URLEncodedForm`.
enum Web {
    /// Pages allow only our own script and style: no inline code, no third parties, no framing.
    static let pageCSP =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        + "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

    /// The policy of a page whose form submission may end at another site (an SP's ACS or logout
    /// endpoint, a client's redirect URI), possibly through redirects: only `form-action` differs
    /// from `pageCSP` (WebOrigin.handOffFormAction says why).
    static func handOffCSP(target: String?) -> String {
        pageCSP.replacingOccurrences(of: "form-action 'self'", with: WebOrigin.handOffFormAction(target: target))
    }

    static func redirect(_ location: String, headers extra: HTTPFields = [:]) -> Response {
        var headers: HTTPFields = [.location: location, .cacheControl: "no-store"]
        headers.append(contentsOf: extra)
        return Response(status: .seeOther, headers: headers)
    }

    /// The path part of the tenant's issuer: "" for a host tenant, "/t/acme" for a path tenant.
    static func basePath(_ context: SigilRequestContext) -> String {
        guard let url = URLComponents(string: context.issuer) else { return "" }
        return url.path.hasSuffix("/") ? String(url.path.dropLast()) : url.path
    }

    /// The origin browsers send for the tenant's pages.
    static func origin(_ context: SigilRequestContext) -> String? {
        WebOrigin.of(context.issuer)
    }

    /// State-changing requests must come from our own pages: the `Origin` header (sent by every
    /// browser on POST) must be the tenant's origin. Blocks cross-site form posts and fetches.
    static func requireSameOrigin(_ request: Request, _ context: SigilRequestContext) throws {
        guard let origin = request.headers[.origin], origin == Self.origin(context) else {
            throw Problem(status: .forbidden, type: "cross-origin", title: "This request must come from Sigil's own pages")
        }
    }

    // MARK: cookies

    static func isSecure(_ context: SigilRequestContext) -> Bool { context.issuer.hasPrefix("https://") }

    /// `__Host-` cookies (Secure, Path=/, no Domain) on https; on http (local development only)
    /// browsers refuse Secure cookies from non-localhost origins, so the prefix and flag are dropped.
    static func sessionCookieName(_ context: SigilRequestContext, tenant: Tenant) -> String {
        (isSecure(context) ? "__Host-" : "") + "sigil_session_" + tenant.slug
    }

    /// The cookie a bearer link's secret moves into (IDV capture, step-up challenge): HttpOnly,
    /// SameSite=Lax, scoped to `path`, Secure on https.
    static func linkCookie(_ name: String, _ value: String, path: String, maxAge: Int, _ context: SigilRequestContext) -> String {
        var parts = ["\(name)=\(value)", "Path=\(path)", "HttpOnly", "SameSite=Lax", "Max-Age=\(maxAge)"]
        if isSecure(context) { parts.append("Secure") }
        return parts.joined(separator: "; ")
    }

    static func sessionCookie(_ value: String, _ context: SigilRequestContext, tenant: Tenant, maxAge: Int) -> String {
        var parts = ["\(sessionCookieName(context, tenant: tenant))=\(value)", "Path=/", "HttpOnly", "SameSite=Lax", "Max-Age=\(maxAge)"]
        if isSecure(context) { parts.append("Secure") }
        return parts.joined(separator: "; ")
    }

    static func cookie(_ name: String, in request: Request) -> String? {
        for header in request.headers[values: .cookie] {
            for pair in header.split(separator: ";") {
                let trimmed = pair.trimmingCharacters(in: .whitespaces)
                if let eq = trimmed.firstIndex(of: "="), trimmed[..<eq] == name {
                    return String(trimmed[trimmed.index(after: eq)...])
                }
            }
        }
        return nil
    }

    /// A CSRF token for forms: a MAC of the session id under a key derived from the master key.
    static func csrfToken(session: Session, masterKey: MasterKey) -> String {
        Base64URL.encode(masterKey.authenticationCode(Array(session.id.utf8), purpose: "csrf"))
    }

    static func checkCSRF(_ presented: String?, session: Session, masterKey: MasterKey) throws {
        guard let presented, constantTimeEquals(Array(presented.utf8), Array(csrfToken(session: session, masterKey: masterKey).utf8)) else {
            throw Problem(status: .forbidden, type: "csrf", title: "The form expired; reload the page and try again")
        }
    }

    /// Only same-site relative paths may be a post-login destination (no open redirects).
    static func safeReturnPath(_ candidate: String?, base: String) -> String {
        guard let candidate, candidate.hasPrefix("/"), !candidate.hasPrefix("//"), !candidate.contains("\\"),
            !candidate.unicodeScalars.contains(where: { $0.value < 0x20 })
        else {
            return base + "/account"
        }
        return candidate
    }
}
