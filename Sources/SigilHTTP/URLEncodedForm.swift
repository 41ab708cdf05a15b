import Foundation
import Hummingbird

/// The one `application/x-www-form-urlencoded` parser (WHATWG URL §5.1) for every route: sign-in
/// and account forms, OAuth queries and bodies, SAML HTTP-POST. Strict: a body over its limit, a
/// name sent twice, or a percent-escape that is malformed or not UTF-8 is refused, never guessed
/// at — a SAMLRequest, CSRF token or redirect_uri must mean one thing (RFC 6749 §3.1 for OAuth).
/// Each caller maps `Invalid` to its protocol's error: OAuth `invalid_request`, the SAML error
/// page, problem+json.
enum URLEncodedForm {
    struct Invalid: Error, Equatable, CustomStringConvertible {
        enum Reason: Equatable {
            case tooLarge(limit: Int)
            /// The name (at most 40 characters of it).
            case repeated(String)
            case malformedEncoding
        }

        let reason: Reason

        /// For the client: says what is wrong without echoing more than a name's first 40 characters.
        var description: String {
            switch reason {
            case .tooLarge: "the request body is too large"
            case .repeated(let name): "parameter \(name) is repeated"
            case .malformedEncoding: "malformed percent-encoding"
            }
        }
    }

    /// Parses a query string or form body. Empty pairs (`a=1&&b=2`) are skipped; a pair without `=`
    /// is a name with an empty value. Values are kept as sent, empty ones too (see `withoutEmptyValues`).
    static func parse(_ text: Substring) throws(Invalid) -> [String: String] {
        var result: [String: String] = [:]
        for pair in text.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard let name = decode(parts[0]), let value = parts.count > 1 ? decode(parts[1]) : "" else {
                throw Invalid(reason: .malformedEncoding)
            }
            guard result[name] == nil else { throw Invalid(reason: .repeated(String(name.prefix(40)))) }
            result[name] = value
        }
        return result
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
    static func decode(_ component: Substring) -> String? {
        String(component).replacingOccurrences(of: "+", with: " ").removingPercentEncoding
    }

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
