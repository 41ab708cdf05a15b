import Foundation
import HTTPTypes
import Hummingbird
import SigilCore
import SigilStore

/// Helpers for Sigil's own HTML pages: escaping, cookies, CSRF, origin checks, page responses.
enum Web {
    /// Escapes text for HTML element content and quoted attribute values.
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.count)
        for ch in text {
            switch ch {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(ch)
            }
        }
        return out
    }

    /// Pages allow only our own script and style: no inline code, no third parties, no framing.
    static let pageCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        + "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

    /// The policy of a page whose form submission may end at another site (an SP's ACS or logout
    /// endpoint, a client's redirect URI), possibly through redirects: only `form-action` differs
    /// from `pageCSP` (WebOrigin.handOffFormAction says why).
    static func handOffCSP(target: String?) -> String {
        pageCSP.replacingOccurrences(of: "form-action 'self'", with: WebOrigin.handOffFormAction(target: target))
    }

    static func page(title: String, name: String, base: String, body: String, status: HTTPResponse.Status = .ok) -> Response {
        let html = """
            <!doctype html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>\(escape(title)) · Sigil</title>
            <link rel="stylesheet" href="\(escape(base))/assets/sigil.css">
            <script src="\(escape(base))/assets/sigil.js" defer></script>
            </head>
            <body data-page="\(escape(name))" data-base="\(escape(base))">
            <main>
            \(body)
            </main>
            </body>
            </html>
            """
        return Response(status: status,
                        headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store", .contentSecurityPolicy: pageCSP],
                        body: .init(byteBuffer: ByteBuffer(string: html)))
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

    /// Parses an `application/x-www-form-urlencoded` body. A name sent twice is refused, as in
    /// JSON bodies and OAuth requests: a SAMLRequest or CSRF token must mean one thing.
    static func form(_ request: Request, maxBytes: Int = 16 * 1024) async throws -> [String: String] {
        let buffer = try await request.body.collect(upTo: maxBytes)
        var result: [String: String] = [:]
        for pair in String(buffer: buffer).split(separator: "&") {
            let kv = pair.split(separator: "=", maxSplits: 1).map {
                String($0).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? ""
            }
            if let key = kv.first {
                guard result[key] == nil else {
                    throw Problem(status: .badRequest, type: "invalid-form", title: "The form sends a field twice",
                                  detail: "repeated: \(key.prefix(40))")
                }
                result[key] = kv.count > 1 ? kv[1] : ""
            }
        }
        return result
    }

    /// Only same-site relative paths may be a post-login destination (no open redirects).
    static func safeReturnPath(_ candidate: String?, base: String) -> String {
        guard let candidate, candidate.hasPrefix("/"), !candidate.hasPrefix("//"), !candidate.contains("\\"),
              !candidate.unicodeScalars.contains(where: { $0.value < 0x20 }) else {
            return base + "/account"
        }
        return candidate
    }
}
