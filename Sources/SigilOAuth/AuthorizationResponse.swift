import Crypto
import Foundation
import SigilCore

/// An authorization response (RFC 6749 §4.1.2, §4.1.2.1) carrying `iss` (RFC 9207), delivered as a
/// redirect with the query (default) or as an auto-submitting form (form_post).
public enum AuthorizationResponse {
    public struct Target: Sendable, Equatable, Codable {
        public let redirectURI: String
        public let mode: ResponseMode
        public let state: String?

        public init(redirectURI: String, mode: ResponseMode, state: String?) {
            self.redirectURI = redirectURI
            self.mode = mode
            self.state = state
        }
    }

    public enum Delivery: Sendable, Equatable {
        /// 303 to this URL.
        case redirect(String)
        /// An HTML page posting `fields` to `action`, with the CSP it needs.
        case formPost(html: String, contentSecurityPolicy: String)
    }

    public static func success(code: String, target: Target, issuer: String) -> Delivery {
        var fields = [("code", code)]
        if let state = target.state { fields.append(("state", state)) }
        fields.append(("iss", issuer))
        return deliver(fields, to: target)
    }

    public static func error(_ error: OAuthError, target: Target, issuer: String) -> Delivery {
        var fields = [("error", error.code.rawValue), ("error_description", error.description)]
        if let state = target.state { fields.append(("state", state)) }
        fields.append(("iss", issuer))
        return deliver(fields, to: target)
    }

    static func deliver(_ fields: [(String, String)], to target: Target) -> Delivery {
        switch target.mode {
        case .query:
            let query = fields.map { "\(formEncode($0.0))=\(formEncode($0.1))" }.joined(separator: "&")
            let separator = target.redirectURI.contains("?") ? "&" : "?"
            return .redirect(target.redirectURI + separator + query)
        case .formPost:
            let inputs = fields.map { #"<input type="hidden" name="\#(htmlEscape($0.0))" value="\#(htmlEscape($0.1))">"# }.joined(separator: "\n")
            let html = """
                <!doctype html>
                <html lang="en"><head><meta charset="utf-8"><title>Continue</title></head>
                <body>
                <form method="post" action="\(htmlEscape(target.redirectURI))">
                \(inputs)
                <noscript><button type="submit">Continue</button></noscript>
                </form>
                <script>\(autoSubmitScript)</script>
                </body></html>
                """
            // The client's callback may redirect on to another origin after the POST: see WebOrigin.handOffFormAction.
            let csp = "default-src 'none'; script-src '\(scriptHash)'; \(WebOrigin.handOffFormAction(target: target.redirectURI)); "
                + "frame-ancestors 'none'; base-uri 'none'"
            return .formPost(html: html, contentSecurityPolicy: csp)
        }
    }

    static let autoSubmitScript = "document.forms[0].submit();"
    static let scriptHash = "sha256-" + Data(SHA256.hash(data: Array(autoSubmitScript.utf8))).base64EncodedString()

    /// `application/x-www-form-urlencoded` encoding of one value (space as %20 is equally valid; we use it).
    public static func formEncode(_ s: String) -> String {
        s.addingPercentEncoding(withAllowedCharacters: unreserved) ?? ""
    }

    static let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")

    static func htmlEscape(_ text: String) -> String {
        var out = ""
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
}
