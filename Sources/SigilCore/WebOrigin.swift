import Foundation

/// Web origins (RFC 6454) of URLs, and the Content-Security-Policy `form-action` sources of pages
/// whose form submission leaves Sigil.
public enum WebOrigin {
    /// `scheme://host[:port]` of an absolute URL, as browsers serialise an origin (default ports
    /// are left out when the URL leaves them out); nil for URLs without a host.
    public static func of(_ url: String) -> String? {
        guard let c = URLComponents(string: url) else { return nil }
        return of(c)
    }

    public static func of(_ c: URLComponents) -> String? {
        guard let scheme = c.scheme?.lowercased(), let host = c.host, !host.isEmpty else { return nil }
        return c.port.map { "\(scheme)://\(host):\($0)" } ?? "\(scheme)://\(host)"
    }

    /// The `form-action` sources of a page whose form is submitted to `target` (a SAML ACS or
    /// logout endpoint, an OAuth `form_post` redirect URI, or Sigil itself answering with a
    /// redirect to one of those).
    ///
    /// Chromium and Safari check `form-action` against every redirect that follows a form
    /// submission, not only the form's own action. A service provider's ACS commonly answers with
    /// a redirect to its application on another origin (Auth0's `/login/callback`, Okta's SSO
    /// endpoint), and a logout endpoint answers with a redirect back to Sigil; none of those
    /// origins are known when the page is built. So these pages allow navigation to any URL of
    /// the target's scheme: `https:` for an https target, `http:` (which also matches https,
    /// CSP3 §6.7.2.8) for an http one, plus the target itself (a custom-scheme redirect URI of a
    /// native app) and `'self'`. Every other directive of the page stays as strict as it was;
    /// the forms' actions and fields are Sigil's own, never the user's.
    public static func handOffFormAction(target: String?) -> String {
        var sources = ["'self'"]
        let components = target.flatMap { URLComponents(string: $0) }
        let scheme = components?.scheme?.lowercased()
        switch scheme {
        case "https": sources.append("https:")
        case "http": sources.append("http:")
        case let other?:
            // A native app's redirect URI (`com.example.app:/cb`): that scheme only, and https.
            if other.allSatisfy({ $0.isLetter || $0.isNumber || "+-.".contains($0) }) { sources.append(other + ":") }
            sources.append("https:")
        case nil:
            sources.append("https:")
        }
        return "form-action " + sources.joined(separator: " ")
    }
}
