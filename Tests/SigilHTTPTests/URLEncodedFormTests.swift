import Foundation
import HTTPTypes
import Hummingbird
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
        for text in ["a=%", "a=%2", "a=%zz", "a=100%", "%=1", "a=%FF", "a=%C3", "a=%ED%A0%80", "x=1&b%G1=2"] {
            #expect(throws: URLEncodedForm.Invalid(reason: .malformedEncoding), "\(text)") { try URLEncodedForm.parse(text) }
        }
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
