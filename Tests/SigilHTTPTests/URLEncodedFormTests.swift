import Foundation
import HTTPTypes
import Hummingbird
import SigilCore
import SigilOAuth
import Testing

@testable import SigilHTTP

/// The one form parser (`URLEncodedForm`) and how each protocol reports its refusals.
@Suite struct URLEncodedFormTests {
    @Test func decodesPlusPercentAndEmptyPairs() throws {
        let form = try URLEncodedForm.parse("a=1&&b=x+y%2Bz&c=&d&e=%C3%A9%3D%26")
        #expect(form == ["a": "1", "b": "x y+z", "c": "", "d": "", "e": "é=&"])
        #expect(try URLEncodedForm.parse("") == [:])
        #expect(try URLEncodedForm.parse("k=a=b") == ["k": "a=b"])
        #expect(URLEncodedForm.withoutEmptyValues(form) == ["a": "1", "b": "x y+z", "e": "é=&"])
    }

    @Test func refusesRepeatedNamesEvenWhenOneIsEmpty() {
        for text in ["a=1&a=2", "a=1&a=1", "a=&a=x", "a&a", "SAMLRequest=x&RelayState=1&RelayState=2", "a%20b=1&a+b=2"] {
            #expect(throws: URLEncodedForm.Invalid.self, "\(text)") { try URLEncodedForm.parse(text) }
        }
        #expect(throws: URLEncodedForm.Invalid(reason: .repeated("csrf"))) { try URLEncodedForm.parse("csrf=1&x=2&csrf=3") }
        let long = String(repeating: "n", count: 500)
        #expect(throws: URLEncodedForm.Invalid(reason: .repeated(String(long.prefix(40))))) { try URLEncodedForm.parse("\(long)=1&\(long)=2") }
    }

    @Test func refusesMalformedPercentEncoding() {
        for text in ["a=%", "a=%2", "a=%zz", "a=100%", "%=1", "a=%FF", "a=%C3", "a=%ED%A0%80", "a=%A9", "a=%C3%A9%A9", "x=1&b%G1=2"] {
            #expect(throws: URLEncodedForm.Invalid(reason: .malformedEncoding), "\(text)") { try URLEncodedForm.parse(text) }
        }
    }

    /// The byte-level decoder agrees with Foundation's `+` replacement and
    /// `removingPercentEncoding` (what it replaced) on 20,000 generated components: escapes of
    /// every byte, broken ones, `+`, raw non-ASCII, NUL.
    @Test func decodingAgreesWithFoundation() {
        let pieces = [
            "a", "Z", "0", "~", "+", "%", "%2", "%2B", "%2b", "%C3%A9", "%c3", "%A9", "%ED%A0%80", "%F0%9F%99%82", "%FF", "%00",
            "%zz", "%G1", "é", "🙂", "=", " ", "%%", "%25",
        ]
        let random = InsecureSeededRandom(seed: "form-decoding")
        func next() -> Int { random.bytes(4).reduce(0) { $0 << 8 | Int($1) } }
        var disagreements: [String] = []
        for _ in 0..<20_000 {
            var text = ""
            for _ in 0..<(next() % 8) { text += pieces[next() % pieces.count] }
            let ours = URLEncodedForm.decode(text[...])
            let foundation = text.replacingOccurrences(of: "+", with: " ").removingPercentEncoding
            // Foundation turns some bytes that are not UTF-8 (a lone continuation byte, `%A9`)
            // into U+FFFD while refusing others (`%80`, `%FF`); the parser refuses them all.
            if ours == nil, foundation?.contains("\u{FFFD}") == true, !text.contains("\u{FFFD}") { continue }
            if ours != foundation { disagreements.append(text) }
        }
        #expect(disagreements.isEmpty, "first: \(disagreements.prefix(5))")
        #expect(URLEncodedForm.decode("a%00b"[...]) == "a\u{0}b")
    }

    @Test func readsBodiesUpToTheLimitOnly() async throws {
        let small = Request(
            head: .init(method: .post, scheme: "https", authority: "id.example.com", path: "/x"),
            body: .init(buffer: ByteBuffer(string: "a=1&b=2")))
        #expect(try await URLEncodedForm.read(small, maxBytes: 16) == ["a": "1", "b": "2"])
        let large = Request(
            head: .init(method: .post, scheme: "https", authority: "id.example.com", path: "/x"),
            body: .init(buffer: ByteBuffer(string: "a=" + String(repeating: "x", count: 64))))
        await #expect(throws: URLEncodedForm.Invalid(reason: .tooLarge(limit: 16))) { try await URLEncodedForm.read(large, maxBytes: 16) }
    }

    @Test func eachProtocolMapsTheRefusalToItsOwnError() throws {
        // OAuth: invalid_request, and a parameter without a value is absent (RFC 6749 §3.1).
        #expect(try OAuthRoutes.parameters("scope=openid&state=&prompt") == ["scope": "openid"])
        #expect(throws: OAuthError.invalidRequest("parameter scope is repeated")) { try OAuthRoutes.parameters("scope=a&scope=b") }
        #expect(throws: OAuthError.invalidRequest("malformed percent-encoding")) { try OAuthRoutes.parameters("redirect_uri=%zz") }
        // Hosted pages: problem+json.
        let repeated = URLEncodedForm.Invalid(reason: .repeated("csrf")).problem
        #expect(repeated.status == .badRequest && repeated.type == "urn:sigil:problem:invalid-form")
        #expect(URLEncodedForm.Invalid(reason: .tooLarge(limit: 1)).problem.status == .contentTooLarge)
    }

    @Test func routesRefuseRepeatedAndMalformedFieldsInTheirProtocol() async throws {
        try await Harness.run { h in
            let form: HTTPFields = [.contentType: "application/x-www-form-urlencoded"]
            // OAuth token endpoint: invalid_request JSON.
            let token = try await h.client.execute(
                uri: "/oauth2/token", method: .post, headers: form,
                body: ByteBuffer(string: "grant_type=authorization_code&code=a&code=b"))
            let tokenError = try token.json()["error"] as? String
            #expect(token.status == .badRequest && tokenError == "invalid_request", "\(token.text)")
            let malformed = try await h.client.execute(uri: "/oauth2/token", method: .post, headers: form, body: ByteBuffer(string: "grant_type=%zz"))
            let description = try malformed.json()["error_description"] as? String
            #expect(description == "malformed percent-encoding")
            // Authorization endpoint: the OAuth error page.
            let authorize = try await h.request(.get, "/oauth2/authorize?client_id=a&client_id=b")
            #expect(authorize.status == .badRequest && authorize.text.contains("<code>invalid_request</code>"), "\(authorize.text)")
            // SAML HTTP-POST: the SAML error page, not problem+json.
            let saml = try await h.client.execute(
                uri: "/saml/sso", method: .post, headers: form,
                body: ByteBuffer(string: "SAMLRequest=a&SAMLRequest=b"))
            #expect(
                saml.status == .badRequest && saml.headers[.contentType] == "text/html; charset=utf-8"
                    && saml.text.contains("This sign-in request was refused"), "\(saml.text)")
            let slo = try await h.client.execute(uri: "/saml/slo", method: .post, headers: form, body: ByteBuffer(string: "SAMLRequest=%"))
            #expect(slo.status == .badRequest && slo.text.contains("This sign-out request was refused"), "\(slo.text)")
        }
    }
}
