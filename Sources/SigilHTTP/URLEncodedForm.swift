import Foundation
import Hummingbird
import SigilCore

/// The one `application/x-www-form-urlencoded` parser (WHATWG URL §5.1) for every route: sign-in
/// and account forms, OAuth queries and bodies, SAML HTTP-POST. Strict: a body over its limit, a
/// name sent twice, or a percent-escape that is malformed or not UTF-8 is refused, never guessed
/// at — a SAMLRequest, CSRF token or redirect_uri must mean one thing (RFC 6749 §3.1 for OAuth).
/// Each caller maps `Invalid` to its protocol's error: OAuth `invalid_request`, the SAML error
/// page, problem+json.
enum URLEncodedForm {
    typealias Invalid = FormURLEncoding.Invalid

    /// `FormURLEncoding.parse` (SigilCore): empty pairs skipped, a pair without `=` is a name with an
    /// empty value, values kept as sent (see `withoutEmptyValues`).
    static func parse(_ text: Substring) throws(Invalid) -> [String: String] {
        try FormURLEncoding.parse(text)
    }

    static func parse(_ text: String) throws(Invalid) -> [String: String] {
        try parse(text[...])
    }

    /// Reads and parses a request body of at most `maxBytes` (the Content-Type is the caller's concern).
    static func read(_ request: Request, maxBytes: Int = 16 * 1024) async throws(Invalid) -> [String: String] {
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: maxBytes)
        } catch {
            throw Invalid(reason: .tooLarge(limit: maxBytes))
        }
        return try parse(String(buffer: buffer))
    }

    /// One component: `+` is a space, then percent-escapes must decode to UTF-8; nil otherwise.
    static func decode(_ component: Substring) -> String? { FormURLEncoding.decode(component) }

    /// Parameters sent without a value are treated as omitted (RFC 6749 §3.1).
    static func withoutEmptyValues(_ parameters: [String: String]) -> [String: String] {
        parameters.filter { !$0.value.isEmpty }
    }
}

extension URLEncodedForm.Invalid {
    /// The problem+json answer for the hosted pages' own forms (account, sign-out).
    var problem: Problem {
        switch reason {
        case .tooLarge: Problem(status: .contentTooLarge, type: "payload-too-large", title: "The request body is too large")
        case .repeated: Problem(status: .badRequest, type: "invalid-form", title: "The form sends a field twice", detail: description)
        case .malformedEncoding: Problem(status: .badRequest, type: "invalid-form", title: "The form is not valid form encoding", detail: description)
        }
    }
}
