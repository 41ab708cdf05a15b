import Foundation
import SigilCore

/// An authorization response (RFC 6749 §4.1.2, §4.1.2.1) carrying `iss` (RFC 9207), delivered as a
/// redirect with the query (default) or as a form the browser posts (form_post, rendered by the HTTP layer).
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
        /// A page that POSTs `fields` to `action` (the redirect URI) from the browser; the HTTP
        /// layer renders it (and sets its CSP).
        case formPost(FormPost)
    }

    /// The form_post response mode's form (OAuth 2.0 Form Post Response Mode §2): a value, not HTML.
    public struct FormPost: Sendable, Equatable {
        public struct Field: Sendable, Equatable {
            public let name: String
            public let value: String

            public init(name: String, value: String) {
                self.name = name
                self.value = value
            }
        }

        public let action: String
        /// In order: the response parameters, then `iss`.
        public let fields: [Field]

        public init(action: String, fields: [Field]) {
            self.action = action
            self.fields = fields
        }
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
            return .formPost(FormPost(action: target.redirectURI, fields: fields.map { FormPost.Field(name: $0.0, value: $0.1) }))
        }
    }

    /// `application/x-www-form-urlencoded` encoding of one value (space as %20 is equally valid; we use it).
    public static func formEncode(_ s: String) -> String {
        s.addingPercentEncoding(withAllowedCharacters: unreserved) ?? ""
    }

    static let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
}
