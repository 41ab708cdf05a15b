import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SigilCore
import SigilHTTP
import SigilServices
import SigilStore
import Testing

/// The connector API over HTTP: keys from the admin API (shown once, scoped, revocable, rotated
/// with an overlap), starting a verification with idempotency keys, reading its result, and the
/// refusals a flow builder can meet. The capture itself is the IDV suites' (IDVRoutesTests,
/// scripts/interop-idv.sh).
@Suite struct ConnectorAPITests {
    static let idempotency = HTTPField.Name("Idempotency-Key")!

    func issue(
        _ h: Harness, name: String = "descope", scopes: String = #"["idv:write","idv:read"]"#, origins: String = #"["https://flows.example.com"]"#
    ) async throws -> (id: String, key: String) {
        let r = try await h.admin(.post, "/connector-keys", json: #"{"name":"\#(name)","scopes":\#(scopes),"redirect_origins":\#(origins)}"#)
        #expect(r.status == .created)
        let body = try r.json()
        let record = try #require(body["connector_key"] as? [String: Any])
        return (try #require(record["id"] as? String), try #require(body["key"] as? String))
    }

    func start(_ h: Harness, key: String, json: String, idempotency: String? = nil) async throws -> TestResponse {
        var headers: HTTPFields = [:]
        if let idempotency { headers[Self.idempotency] = idempotency }
        return try await h.request(.post, "/api/v1/connectors/idv/sessions", token: key, json: json, headers: headers)
    }

    @Test func aFlowStartsAVerificationAndReadsItsResult() async throws {
        try await Harness.run { h in
            let (id, key) = try await issue(h)
            #expect(key.hasPrefix("sck_"))
            // The key is never shown again.
            let list = try await h.admin(.get, "/connector-keys")
            #expect(list.status == .ok)
            #expect(!String(buffer: list.body).contains(key))
            #expect(String(buffer: list.body).contains(id))

            let body =
                #"{"user_identifier":"U123","document_types":["passport"],"liveness_mode":"active","redirect_url":"https://flows.example.com/back?step=2","expected":{"given_name":"Ada","family_name":"Lovelace"}}"#
            let r = try await start(h, key: key, json: body, idempotency: "flow-1")
            #expect(r.status == .created)
            let started = try r.json()
            let sid = try #require(started["session_id"] as? String)
            #expect((started["session_url"] as? String)?.hasPrefix("https://id.example.com/idv/\(sid)/open?k=") == true)
            #expect(started["status"] as? String == "pending")

            // A retry with the same key and body gets the same session; another body is refused.
            let again = try await start(h, key: key, json: body, idempotency: "flow-1")
            #expect(again.status == .ok && again.headers[HTTPField.Name("Idempotent-Replayed")!] == "true")
            #expect(try again.json()["session_id"] as? String == sid)
            #expect(try again.json()["session_url"] as? String == started["session_url"] as? String)
            let other = try await start(h, key: key, json: #"{"user_identifier":"U999"}"#, idempotency: "flow-1")
            _ = try other.expectProblem(.unprocessableContent, "validation-failed")
            // Without a key, a second call is a second session.
            let fresh = try await start(h, key: key, json: body)
            #expect(try fresh.json()["session_id"] as? String != sid)

            // The same person (user_identifier) is the same subject.
            #expect(try fresh.json()["subject"] as? String == started["subject"] as? String)

            let result = try await h.request(.get, "/api/v1/connectors/idv/sessions/\(sid)", token: key)
            #expect(result.status == .ok)
            let status = try result.json()
            #expect(status["status"] as? String == "pending")
            #expect(status["verified_claims"] == nil)

            // The session narrows the tenant's policy: passport only, liveness required.
            let tenant = try await h.defaultTenant()
            let s = try await h.services.idv.adminStatus(tenantID: tenant.id, id: sid, by: .cli).0.connector
            #expect(s?.documentTypes == ["passport"] && s?.requireLiveness == true)

            // Revoked: refused at once.
            #expect(try await h.admin(.delete, "/connector-keys/\(id)").status == .noContent)
            _ = try await h.request(.get, "/api/v1/connectors/idv/sessions/\(sid)", token: key).expectProblem(.unauthorized)
        }
    }

    @Test func refusalsSayWhatIsWrong() async throws {
        try await Harness.run { h in
            let (_, key) = try await issue(h)
            // No key, a wrong key.
            _ = try await start(h, key: "", json: "{}").expectProblem(.unauthorized)
            _ = try await start(h, key: "sck_wrong", json: "{}").expectProblem(.unauthorized)
            // Bad values, each named.
            for (json, field) in [
                (#"{"document_types":["diploma"]}"#, "document_types"), (#"{"liveness_mode":"none"}"#, "liveness_mode"),
                (#"{"redirect_url":"https://evil.example.net/x"}"#, "redirect_url"), (#"{"user_identifier":""}"#, "user_identifier"),
                (#"{"expected":{"birthdate":"1815-13-10"}}"#, "expected.birthdate"),
            ] {
                let p = try await start(h, key: key, json: json).expectProblem(.unprocessableContent, "validation-failed")
                let fields = (p["errors"] as? [[String: Any]])?.compactMap { $0["field"] as? String }
                #expect(fields == [field], "\(json)")
            }
            _ = try await start(h, key: key, json: #"{"colour":"blue"}"#).expectProblem(.badRequest)
            _ = try await start(h, key: key, json: "{}", idempotency: String(repeating: "x", count: 300)).expectProblem(.unprocessableContent)
            // A read-only key cannot start; an unknown session is 404.
            let (_, reader) = try await issue(h, name: "reader", scopes: #"["idv:read"]"#)
            // A name is unique among the tenant's live keys.
            _ = try await h.admin(.post, "/connector-keys", json: #"{"name":"reader","scopes":["idv:read"]}"#).expectProblem(.conflict)
            _ = try await start(h, key: reader, json: "{}").expectProblem(.forbidden)
            _ = try await h.request(.get, "/api/v1/connectors/idv/sessions/idv_01kbwx0000000000000000000", token: reader).expectProblem(.notFound)
            // An admin-started session is not a connector's to read.
            let admin = try await h.admin(.post, "/idv/sessions", json: "{}").json()
            let adminSession = try #require(admin["id"] as? String)
            _ = try await h.request(.get, "/api/v1/connectors/idv/sessions/\(adminSession)", token: reader).expectProblem(.notFound)
            // Keys: bad scopes and origins are refused.
            _ = try await h.admin(.post, "/connector-keys", json: #"{"name":"x","scopes":["idv:write"],"redirect_origins":["http://flows.example.com"]}"#)
                .expectProblem(.unprocessableContent)
        }
    }

    @Test func guessingKeysIsSlowedDown() async throws {
        try await Harness.run { h in
            let (_, key) = try await issue(h)
            for i in 0..<20 {
                _ = try await start(h, key: "sck_guess\(i)", json: "{}").expectProblem(.unauthorized)
            }
            // Spent: even the right key waits (the limiter's clock stands still in tests).
            let limited = try await start(h, key: key, json: "{}")
            #expect(limited.status == .tooManyRequests)
            #expect(limited.headers[.retryAfter] != nil)
        }
    }

    @Test func anExpiredSessionLinkSaysSoInsteadOfOpeningTheCapturePage() async throws {
        let clock = ManualClock(Date(timeIntervalSince1970: 1_800_000_000))
        try await Harness.run(clock: clock) { h in
            let (_, key) = try await issue(h)
            let started = try await start(h, key: key, json: "{}").json()
            let url = try #require(started["session_url"] as? String).replacingOccurrences(of: "https://id.example.com", with: "")
            let opened = try await h.request(.get, url)
            #expect(opened.status == .seeOther)
            let cookie = try #require(opened.headers[.setCookie]?.split(separator: ";").first.map(String.init))
            let page = try #require(opened.headers[.location])
            #expect(try await h.request(.get, page, headers: [.cookie: cookie]).status == .ok)
            clock.advance(by: 3 * 86_400)
            let late = try await h.request(.get, url)
            #expect(late.status == .gone && late.text.contains("expired"), "\(late.status)")
            let latePage = try await h.request(.get, page, headers: [.cookie: cookie])
            #expect(latePage.status == .gone && latePage.text.contains("expired"), "\(latePage.status)")
        }
    }

    @Test func rotationKeepsTheOldKeyForTheOverlap() async throws {
        let clock = ManualClock(Date(timeIntervalSince1970: 1_800_000_000))
        try await Harness.run(clock: clock) { h in
            let (id, old) = try await issue(h)
            let rotated = try await h.admin(.post, "/connector-keys/\(id)/rotate", json: #"{"overlap_seconds":600}"#)
            #expect(rotated.status == .ok)
            let new = try #require(try rotated.json()["key"] as? String)
            #expect(new != old)
            #expect(try await start(h, key: old, json: "{}").status == .created)
            #expect(try await start(h, key: new, json: "{}").status == .created)
            clock.advance(by: 601)
            _ = try await start(h, key: old, json: "{}").expectProblem(.unauthorized)
            #expect(try await start(h, key: new, json: "{}").status == .created)
            // The OpenAPI document is served.
            let doc = try await h.request(.get, "/api/v1/connectors/openapi.json")
            #expect(doc.status == .ok)
            let paths = try #require(try doc.json()["paths"] as? [String: Any])
            #expect(
                Set(paths.keys) == [
                    "/api/v1/connectors/idv/sessions", "/api/v1/connectors/idv/sessions/{session_id}", "/api/v1/connectors/stepup/challenges",
                    "/api/v1/connectors/stepup/challenges/{challenge_id}", "/api/v1/hooks/{source}",
                ])
        }
    }
}
