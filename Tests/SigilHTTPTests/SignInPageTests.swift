import Foundation
import HTTPTypes
import SigilCore
import SigilFlows
import SigilSQLStore
import SigilServices
import SigilStore
import Testing

@Suite struct SignInPageTests {
    @Test func pagesCarryAStrictPolicyAndRefuseForeignPosts() async throws {
        try await Harness.run { h in
            let login = try await h.request(.get, "/login")
            #expect(login.status == .ok)
            #expect(login.headers[.contentSecurityPolicy]?.contains("script-src 'self'") == true)
            #expect(login.headers[.contentSecurityPolicy]?.contains("'unsafe-inline'") == false)
            #expect(login.text.contains(#"autocomplete="username webauthn""#))
            #expect(!login.text.contains("<script>"))
            #expect(try await h.request(.get, "/assets/sigil.js").status == .ok)

            let origin = HTTPField.Name("Origin")!
            try await h.request(.post, "/login/passkey/options", json: "{}", headers: [origin: "https://evil.example"])
                .expectProblem(.forbidden, "cross-origin")
            try await h.request(.post, "/login/passkey/options", json: "{}").expectProblem(.forbidden, "cross-origin")
            let ok = try await h.request(
                .post, "/login/passkey/options", json: #"{"return_to":"https://evil.example/steal"}"#,
                headers: [origin: "https://id.example.com"])
            #expect(ok.status == .ok, "\(ok.text)")
            let body = try ok.json()
            let options = try #require(body["publicKey"] as? [String: Any])
            #expect(options["rpId"] as? String == "id.example.com")
            #expect(options["userVerification"] as? String == "required")
            #expect((options["challenge"] as? String).flatMap(Base64URL.decode)?.count == 32)
            // An open redirect is not stored: the return path falls back to the account page.
            let transaction = try await h.store.loginTransactions.get(
                tenantID: try await h.defaultTenant().id, id: try #require(body["transaction"] as? String))
            #expect(transaction.passkeyCeremony?.purpose == .signIn(returnTo: "/account"))

            // Unknown or garbage ceremonies fail cleanly.
            try await h.request(
                .post, "/login/passkey/verify",
                json:
                    #"{"transaction":"ltx_nope","credential":{"id":"AA","rawId":"AA","type":"public-key","response":{"clientDataJSON":"e30","authenticatorData":"AA","signature":"AA"}}}"#,
                headers: [origin: "https://id.example.com"]
            ).expectProblem(.unprocessableContent)
            try await h.request(.post, "/login/passkey/verify", json: #"{"transaction":"x"}"#, headers: [origin: "https://id.example.com"])
                .expectProblem(.badRequest, "invalid-field-type")

            // Enrolment links: unknown tokens get a page that says so.
            let bad = try await h.request(.get, "/enroll/sigil_en_unknown")
            #expect(bad.status == .notFound)
            #expect(bad.text.contains("invalid, used or expired"))
            // /account without a session goes to /login.
            let account = try await h.request(.get, "/account")
            #expect(account.status == .seeOther)
            #expect(account.headers[.location] == "/login?return_to=/account")
        }
    }
}
