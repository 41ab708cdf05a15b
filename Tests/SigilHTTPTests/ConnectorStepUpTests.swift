import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SigilAuthenticatorProtocol
import SigilCore
import SigilOAuth
import SigilServices
import SigilStore
import Testing

/// LiveID step-up through the connector API: a flow asks, the user's phone gets a push with
/// number matching, the answer decides the challenge (match, no match, expired), the challenge
/// page shows the number and sends the person back, and `stepup.decided` is recorded (so a
/// webhook goes out). The real phone and browser run in scripts/interop-connectors.sh.
@Suite struct ConnectorStepUpTests {
    typealias Phone = AuthenticatorRoutesTests.Phone
    static let origin = AuthenticatorRoutesTests.origin

    func issue(_ h: Harness, name: String = "flows", scopes: String = #"["stepup:write","stepup:read"]"#) async throws -> String {
        let r = try await h.admin(
            .post, "/connector-keys", json: #"{"name":"\#(name)","scopes":\#(scopes),"redirect_origins":["https://flows.example.com"]}"#)
        #expect(r.status == .created, "\(r.text)")
        return try #require(try r.json()["key"] as? String)
    }

    func start(_ h: Harness, key: String, json: String) async throws -> TestResponse {
        try await h.request(.post, "/api/v1/connectors/stepup/challenges", token: key, json: json)
    }

    /// The phone's pending push (after the dispatcher ran).
    func pending(_ h: Harness, _ phone: Phone) async throws -> RequestView {
        await h.services.pushDispatcher.drain()
        let path = "/authenticator/v1/pending?wait=0"
        let r = try await h.request(.get, path, headers: try phone.headers("GET", path, body: []))
        let list = try Wire.decode(PendingList.self, from: Array(r.text.utf8))
        return try #require(list.requests.last, "no pending push: \(r.text)")
    }

    func approve(_ h: Harness, _ phone: Phone, _ view: RequestView, number: String, uv: CanonicalMessage.UserVerification) async throws
        -> TestResponse
    {
        let message = try CanonicalMessage.approval(
            issuer: Self.origin, transactionID: view.transaction, challenge: view.challenge, origin: Self.origin, number: number,
            decision: .approve, userVerification: uv)
        let body = Wire.encode(ApproveBody(number: number, userVerification: uv.rawValue, signature: try DeviceSignature.sign(message, with: phone.key)))
        let path = "/authenticator/v1/transactions/\(view.transaction)/approve"
        return try await h.request(.post, path, json: String(decoding: body, as: UTF8.self), headers: try phone.headers("POST", path, body: body))
    }

    func deny(_ h: Harness, _ phone: Phone, _ view: RequestView, notMe: Bool = false) async throws -> TestResponse {
        let message = try CanonicalMessage.approval(
            issuer: Self.origin, transactionID: view.transaction, challenge: view.challenge, origin: Self.origin, number: "",
            decision: notMe ? .report : .deny, userVerification: .face)
        let body = Wire.encode(
            DenyBody(reason: notMe ? "not_me" : "declined", userVerification: "face", signature: try DeviceSignature.sign(message, with: phone.key)))
        let path = "/authenticator/v1/transactions/\(view.transaction)/deny"
        return try await h.request(.post, path, json: String(decoding: body, as: UTF8.self), headers: try phone.headers("POST", path, body: body))
    }

    func result(_ h: Harness, key: String, _ id: String) async throws -> [String: Any] {
        let r = try await h.request(.get, "/api/v1/connectors/stepup/challenges/\(id)", token: key)
        #expect(r.status == .ok, "\(r.text)")
        return try r.json()
    }

    @Test func aFlowStepsUpAUserWithTheirPhone() async throws {
        try await Harness.run { h in
            let (phone, user) = try await AuthenticatorRoutesTests().enrolPhone(h)
            let key = try await issue(h)
            let r = try await start(
                h, key: key,
                json:
                    #"{"user_identifier":"Ada@Example.com","reason":"risk: new device","binding_message":"Pay 40 EUR","redirect_url":"https://flows.example.com/back?run=7"}"#
            )
            #expect(r.status == .created, "\(r.text)")
            let started = try r.json()
            let id = try #require(started["challenge_id"] as? String)
            let number = try #require(started["number"] as? String)
            let link = try #require(started["challenge_url"] as? String)
            #expect(id.hasPrefix("stu_") && number.count == 2 && started["user_id"] as? String == user.id)
            #expect(link.hasPrefix("https://id.example.com/stepup/\(id)/open?k="))
            #expect(started["match_result"] as? String == "pending")

            // The phone shows the tenant and the binding message; the flow's reason stays in the audit trail.
            let view = try await pending(h, phone)
            #expect(view.userVerification == "biometric")
            #expect(view.kind == "push" && view.application.contains("Pay 40 EUR") && !view.application.contains("risk"))
            #expect(view.transaction != id)
            let before = try await result(h, key: key, id)
            #expect(before["match_result"] as? String == "pending" && before["number"] as? String == number && before["confidence"] == nil)

            // The challenge page: the link's secret goes into a cookie, out of the address bar.
            let open = try await h.request(.get, String(link.dropFirst("https://id.example.com".count)))
            #expect(open.status == .seeOther && open.headers[.location] == "/stepup/\(id)")
            let cookie = try #require(AuthenticatorRoutesTests.cookie(open, "__Secure-sigil_liveid"))
            let page = try await h.request(.get, "/stepup/\(id)", headers: [.cookie: "__Secure-sigil_liveid=\(cookie)"])
            #expect(page.status == .ok && page.text.contains(">\(number)<") && page.text.contains(#"http-equiv="refresh" content="2""#))
            #expect(try await h.request(.get, "/stepup/\(id)").status == .forbidden)
            #expect(try await h.request(.get, "/stepup/\(id)", headers: [.cookie: "__Secure-sigil_liveid=wrong"]).status == .forbidden)
            #expect(try await h.request(.get, "/stepup/\(id)/open?k=wrong").status == .forbidden)
            // Too early to go back.
            let early = try await h.request(.get, "/stepup/\(id)/continue", headers: [.cookie: "__Secure-sigil_liveid=\(cookie)"])
            #expect(early.status == .seeOther && early.headers[.location] == "/stepup/\(id)")

            // The user approves with their face, picking the number.
            let approved = try await approve(h, phone, view, number: number, uv: .face)
            #expect(approved.status == .ok, "\(approved.text)")
            let after = try await result(h, key: key, id)
            #expect(after["match_result"] as? String == "match" && after["confidence"] as? String == "high")
            #expect((after["amr"] as? [String])?.contains("face") == true && after["acr"] as? String == ACR.liveID)
            #expect(after["user_verification"] as? String == "face" && after["decided_at"] is String && after["number"] == nil)

            // The page now goes on; /continue answers the flow with the id, never the result.
            let done = try await h.request(.get, "/stepup/\(id)", headers: [.cookie: "__Secure-sigil_liveid=\(cookie)"])
            #expect(done.text.contains("Confirmed") && done.text.contains("url=/stepup/\(id)/continue"))
            let back = try await h.request(.get, "/stepup/\(id)/continue", headers: [.cookie: "__Secure-sigil_liveid=\(cookie)"])
            #expect(back.status == .seeOther && back.headers[.location] == "https://flows.example.com/back?run=7&challenge_id=\(id)")

            // Audited (and so sent to subscribed webhooks): started, then decided once.
            let events = try await h.store.audit.list(tenantID: nil, page: PageRequest(limit: 100)).items.filter { $0.targetID == id }
            #expect(events.map(\.action).sorted() == ["stepup.decided", "stepup.started"])
            let decided = try #require(events.first { $0.action == "stepup.decided" })
            #expect(decided.after?["match_result"] == "match" && decided.outcome == .success)
        }
    }

    @Test func declinedWeakAndUnansweredAreNoMatch() async throws {
        let clock = ManualClock(Date())
        try await Harness.run(clock: clock) { h in
            let (phone, user) = try await AuthenticatorRoutesTests().enrolPhone(h)
            let key = try await issue(h)

            // Declined.
            let first = try await start(h, key: key, json: #"{"user_identifier":"\#(user.id)"}"#).json()
            let firstID = try #require(first["challenge_id"] as? String)
            #expect(try await deny(h, phone, try await pending(h, phone)).status == .ok)
            let declined = try await result(h, key: key, firstID)
            #expect(declined["match_result"] as? String == "no_match" && declined["reason"] as? String == "declined" && declined["acr"] == nil)

            // A PIN where the flow asked for a biometric check.
            let second = try await start(h, key: key, json: #"{"user_identifier":"ada@example.com"}"#).json()
            let secondID = try #require(second["challenge_id"] as? String)
            let number = try #require(second["number"] as? String)
            #expect(try await approve(h, phone, try await pending(h, phone), number: number, uv: .pin).status == .ok)
            let weak = try await result(h, key: key, secondID)
            #expect(weak["match_result"] as? String == "no_match" && weak["reason"] as? String == "user_verification_too_weak")
            #expect(weak["confidence"] as? String == "medium")

            // ... which is a match when the flow accepts any local check.
            let third = try await start(h, key: key, json: #"{"user_identifier":"ada@example.com","user_verification":"any"}"#).json()
            let thirdID = try #require(third["challenge_id"] as? String)
            let n3 = try #require(third["number"] as? String)
            #expect(try await approve(h, phone, try await pending(h, phone), number: n3, uv: .pin).status == .ok)
            #expect(try await result(h, key: key, thirdID)["match_result"] as? String == "match")

            // Nobody answers: the sweep decides it expired after the push's deadline, once.
            let fourth = try await start(h, key: key, json: #"{"user_identifier":"ada@example.com"}"#).json()
            let fourthID = try #require(fourth["challenge_id"] as? String)
            await h.services.pushDispatcher.drain()
            #expect(try await ConnectorService.decideOverdueStepUps(now: clock.now(), context: h.services.context) == 0)
            clock.advance(by: 121)
            #expect(try await ConnectorService.decideOverdueStepUps(now: clock.now(), context: h.services.context) == 1)
            #expect(try await ConnectorService.decideOverdueStepUps(now: clock.now(), context: h.services.context) == 0)
            let expired = try await result(h, key: key, fourthID)
            #expect(expired["match_result"] as? String == "expired" && expired["reason"] as? String == "expired")
            let decided = try await h.store.audit.list(tenantID: nil, page: PageRequest(limit: 100)).items.filter {
                $0.targetID == fourthID && $0.action == "stepup.decided"
            }
            #expect(decided.count == 1 && decided.first?.after?["match_result"] == "expired")

            // Results are kept for the retention, then gone.
            clock.advance(by: ConnectorService.stepUpRetention + 1)
            try await h.request(.get, "/api/v1/connectors/stepup/challenges/\(fourthID)", token: key).expectProblem(.notFound)
        }
    }

    @Test func refusalsSayWhatIsWrong() async throws {
        try await Harness.run { h in
            let (phone, _) = try await AuthenticatorRoutesTests().enrolPhone(h)
            let key = try await issue(h)
            let idvOnly = try await issue(h, name: "idv only", scopes: #"["idv:write"]"#)
            try await start(h, key: idvOnly, json: #"{"user_identifier":"ada@example.com"}"#).expectProblem(.forbidden)
            try await start(h, key: "sck_nope", json: #"{"user_identifier":"ada@example.com"}"#).expectProblem(.unauthorized)
            // Unknown users and users without a phone cannot be stepped up.
            let tenant = try await h.defaultTenant()
            _ = try await h.services.users.create(tenantID: tenant.id, .init(email: "bob@example.com", givenName: "Bob", familyName: "B"), by: .cli)
            for who in ["nobody@example.com", "bob@example.com", "usr_00000000000000000000000000"] {
                let p = try await start(h, key: key, json: #"{"user_identifier":"\#(who)"}"#).expectProblem(.unprocessableContent)
                #expect((p["errors"] as? [[String: Any]])?.first?["field"] as? String == "user_identifier")
            }
            let p = try await start(
                h, key: key,
                json:
                    #"{"user_identifier":"ada@example.com","binding_message":"\#(String(repeating: "x", count: 41))","redirect_url":"https://evil.example/x","user_verification":"none"}"#
            ).expectProblem(.unprocessableContent)
            let fields = Set(((p["errors"] as? [[String: Any]]) ?? []).compactMap { $0["field"] as? String })
            #expect(fields == ["binding_message", "redirect_url", "user_verification"])
            try await start(h, key: key, json: #"{"user_identifier":"ada@example.com","extra":1}"#).expectProblem(.badRequest, "unknown-field")
            try await h.request(.get, "/api/v1/connectors/stepup/challenges/stu_00000000000000000000000000", token: key).expectProblem(.notFound)
            // Idempotent: a retry is the same challenge; another body with the key is refused.
            var headers: HTTPFields = [:]
            headers[HTTPField.Name("Idempotency-Key")!] = "run-1"
            let a = try await h.request(
                .post, "/api/v1/connectors/stepup/challenges", token: key, json: #"{"user_identifier":"ada@example.com"}"#, headers: headers)
            let b = try await h.request(
                .post, "/api/v1/connectors/stepup/challenges", token: key, json: #"{"user_identifier":"ada@example.com"}"#, headers: headers)
            #expect(a.status == .created && b.status == .ok && b.headers[HTTPField.Name("Idempotent-Replayed")!] == "true")
            #expect(try a.json()["challenge_id"] as? String == b.json()["challenge_id"] as? String)
            try await h.request(
                .post, "/api/v1/connectors/stepup/challenges", token: key, json: #"{"user_identifier":"ada@example.com","reason":"x"}"#,
                headers: headers
            ).expectProblem(.unprocessableContent)
            // "This wasn't me": no match, and the flow is told at once that pushes to the user are blocked.
            let cid = try #require(try a.json()["challenge_id"] as? String)
            #expect(try await deny(h, phone, try await pending(h, phone), notMe: true).status == .ok)
            let reported = try await h.request(.get, "/api/v1/connectors/stepup/challenges/\(cid)", token: key).json()
            #expect(reported["match_result"] as? String == "no_match" && reported["reason"] as? String == "reported")
            try await start(h, key: key, json: #"{"user_identifier":"ada@example.com"}"#).expectProblem(.conflict, "push-blocked")
        }
    }
}
