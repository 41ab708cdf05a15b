import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SigilCore
import SigilServices
import Testing

/// The connector API with OAuth 2.0 client credentials instead of a key (docs/connectors.md,
/// "Authentication"): a client allowed the connector scopes gets an access token at the token
/// endpoint and calls the API with it; a token without the scope, a user's token, or a token of
/// another tenant's kind is refused.
@Suite struct ConnectorOAuthTests {
    let ssf = SSFTests()
    let steps = ConnectorStepUpTests()

    @Test func aClientCredentialsTokenCallsTheConnectorAPI() async throws {
        try await Harness.run { h in
            let (_, user) = try await AuthenticatorRoutesTests().enrolPhone(h)
            let token = try await ssf.token(h, scopes: #"["stepup:write","stepup:read","idv:write","idv:read"]"#)
            let r = try await h.request(
                .post, "/api/v1/connectors/stepup/challenges", token: token,
                json: #"{"user_identifier":"ada@example.com","redirect_url":"https://rp.example/after"}"#,
                headers: [HTTPField.Name("Idempotency-Key")!: "run-1"])
            #expect(r.status == .created, "\(r.text)")
            let id = try #require(try r.json()["challenge_id"] as? String)
            #expect(try r.json()["user_id"] as? String == user.id)
            // The same idempotency key from the same client: the first answer.
            let again = try await h.request(
                .post, "/api/v1/connectors/stepup/challenges", token: token,
                json: #"{"user_identifier":"ada@example.com","redirect_url":"https://rp.example/after"}"#,
                headers: [HTTPField.Name("Idempotency-Key")!: "run-1"])
            let againID = try again.json()["challenge_id"] as? String
            #expect(again.status == .ok && againID == id)
            let read = try await h.request(.get, "/api/v1/connectors/stepup/challenges/\(id)", token: token)
            let state = try read.json()["match_result"] as? String
            #expect(read.status == .ok && state == "pending", "\(read.text)")
            // redirect_url only on the client's registered redirect origins.
            let elsewhere = try await h.request(
                .post, "/api/v1/connectors/stepup/challenges", token: token,
                json: #"{"user_identifier":"ada@example.com","redirect_url":"https://evil.example/x"}"#)
            #expect(elsewhere.status == .unprocessableContent && elsewhere.text.contains("redirect_url"))
            let idv = try await h.request(.post, "/api/v1/connectors/idv/sessions", token: token, json: #"{"user_identifier":"someone"}"#)
            #expect(idv.status == .created, "\(idv.text)")

            // Without the scope: 403; a forged or garbled token: 401.
            let readOnly = try await ssf.token(h, scopes: #"["stepup:read"]"#)
            _ = try await h.request(.post, "/api/v1/connectors/stepup/challenges", token: readOnly, json: #"{"user_identifier":"ada@example.com"}"#)
                .expectProblem(.forbidden)
            #expect(try await h.request(.get, "/api/v1/connectors/stepup/challenges/\(id)", token: readOnly).status == .ok)
            var forged = token
            forged.removeLast(4)
            forged += "AAAA"
            #expect(try await h.request(.get, "/api/v1/connectors/stepup/challenges/\(id)", token: forged).status == .unauthorized)
            #expect(try await h.request(.get, "/api/v1/connectors/stepup/challenges/\(id)", token: "a.b.c").status == .unauthorized)
            // A token with other scopes only (an SSF receiver's): 403.
            let ssfToken = try await ssf.token(h, scopes: #"["ssf.read"]"#)
            #expect(try await h.request(.get, "/api/v1/connectors/stepup/challenges/\(id)", token: ssfToken).status == .forbidden)
        }
    }
}
