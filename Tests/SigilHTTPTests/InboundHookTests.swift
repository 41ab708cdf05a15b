import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SigilCore
import SigilServices
import SigilStore
import Testing

/// Inbound hooks (docs/connectors.md "Inbound hooks"): a flow builder's signed events at
/// /api/v1/hooks/{name}, checked over the raw body before parsing; stale and replayed deliveries
/// refused; login.risk starts a LiveID step-up, user.registered an identity verification. The
/// Python flow builder signs them with its own RFC 9421 code in scripts/interop-connectors.sh.
@Suite struct InboundHookTests {
    func key(_ h: Harness, scopes: String = #"["stepup:write","stepup:read","idv:write","idv:read"]"#) async throws -> (id: String, key: String) {
        let r = try await h.admin(
            .post, "/connector-keys", json: #"{"name":"descope","scopes":\#(scopes),"redirect_origins":["https://flows.example.com"]}"#)
        #expect(r.status == .created, "\(r.text)")
        let body = try r.json()
        return (try #require((body["connector_key"] as? [String: Any])?["id"] as? String), try #require(body["key"] as? String))
    }

    func source(_ h: Harness, keyID: String, signature: String = "rfc9421", extra: String = "") async throws -> (secret: [UInt8], body: [String: Any]) {
        let r = try await h.admin(
            .post, "/hook-sources", json: #"{"name":"descope","connector_key_id":"\#(keyID)","signature":"\#(signature)"\#(extra)}"#)
        #expect(r.status == .created, "\(r.text)")
        let body = try r.json()
        return (Array(try #require(body["secret"] as? String).utf8), body)
    }

    func post(_ h: Harness, _ signed: HTTPMessageSignature.Request, path: String = "/api/v1/hooks/descope") async throws -> TestResponse {
        var headers: HTTPFields = [.contentType: "application/json"]
        for (name, value) in signed.headers { headers[HTTPField.Name(name)!] = value }
        return try await h.request(.post, path, json: String(decoding: signed.body, as: UTF8.self), headers: headers)
    }

    static func signed(_ body: String, secret: [UInt8], created: Int, nonce: String) throws -> HTTPMessageSignature.Request {
        try HTTPMessageSignature.signHMAC(
            .init(method: "POST", targetURI: "https://id.example.com/api/v1/hooks/descope", headers: [:], body: Array(body.utf8)), secret: secret,
            components: ["@method", "@target-uri", "content-digest"], created: Int64(created), nonce: nonce)
    }

    func now(_ h: Harness) -> Int { Int(h.services.context.clock.now().timeIntervalSince1970) }

    @Test func aSignedRiskSignalStartsALiveIDStepUpOnce() async throws {
        try await Harness.run { h in
            _ = try await AuthenticatorRoutesTests().enrolPhone(h)
            let (keyID, key) = try await key(h)
            let (secret, created) = try await source(h, keyID: keyID, extra: #","stepup":{"binding_message":"Risky sign-in"}"#)
            #expect((created["hook_source"] as? [String: Any])?["url"] as? String == "https://id.example.com/api/v1/hooks/descope")
            let event = #"{"id":"evt-1","type":"login.risk","user":{"email":"ada@example.com"},"risk":{"score":80,"reasons":["new_device"]}}"#
            let signed = try Self.signed(event, secret: secret, created: now(h), nonce: "nonce-1")
            let r = try await post(h, signed)
            #expect(r.status == .ok, "\(r.text)")
            let answer = try r.json()
            #expect(answer["action"] as? String == "require_stepup" && answer["event_id"] as? String == "evt-1")
            let challenge = try #require(answer["challenge_id"] as? String)
            #expect((answer["challenge_url"] as? String)?.hasPrefix("https://id.example.com/stepup/\(challenge)/open?k=") == true)
            // The source's key reads the result like any step-up it started.
            let result = try await h.request(.get, "/api/v1/connectors/stepup/challenges/\(challenge)", token: key)
            #expect(try result.status == .ok && result.json()["match_result"] as? String == "pending")
            // The same delivery again: a replay.
            #expect(try await post(h, signed).status == .conflict)
            // A resend of the event with a new signature: the first answer, no second push.
            let resent = try await post(h, try Self.signed(event, secret: secret, created: now(h), nonce: "nonce-2"))
            let resentBody = try resent.json()
            #expect(resent.status == .ok && resentBody["challenge_id"] as? String == challenge && resentBody["replayed"] as? Bool == true)
            // Stale, future-dated, tampered, wrongly signed, for another source: refused before parsing.
            #expect(try await post(h, try Self.signed(event, secret: secret, created: now(h) - 400, nonce: "n3")).status == .unauthorized)
            #expect(try await post(h, try Self.signed(event, secret: secret, created: now(h) + 120, nonce: "n4")).status == .unauthorized)
            var tampered = try Self.signed(event, secret: secret, created: now(h), nonce: "n5")
            tampered.body = Array(event.replacingOccurrences(of: "80", with: "10").utf8)
            #expect(try await post(h, tampered).status == .unauthorized)
            let wrong = try Self.signed(event, secret: Array("not-the-secret-not-the-secret-00".utf8), created: now(h), nonce: "n6")
            #expect(try await post(h, wrong).status == .unauthorized)
            #expect(try await post(h, try Self.signed("not json", secret: secret, created: now(h), nonce: "n7")).status == .unprocessableContent)
            #expect(try await post(h, signed, path: "/api/v1/hooks/nobody").status == .notFound)
            // Unknown event types ask for nothing.
            let other = try await post(h, try Self.signed(#"{"id":"evt-9","type":"user.updated"}"#, secret: secret, created: now(h), nonce: "n8"))
            let otherBody = try other.json()
            #expect(other.status == .ok && otherBody["action"] as? String == "none")
            let audit = try await h.store.audit.list(tenantID: nil, page: PageRequest(limit: 100)).items.map(\.action)
            #expect(audit.filter { $0 == "hook.received" }.count == 3 && audit.filter { $0 == "hook.refused" }.count >= 6)
            #expect(audit.contains("hook_source.created"))
        }
    }

    @Test func descopeHMACStartsAVerificationWithTheEventsTimeAndID() async throws {
        try await Harness.run { h in
            let (keyID, _) = try await key(h)
            let (secret, _) = try await source(h, keyID: keyID, signature: "descope_hmac", extra: #","idv":{"redirect_url":"https://flows.example.com/done"}"#)
            func send(_ body: String, signing: String? = nil, secret: [UInt8]) async throws -> TestResponse {
                let mac = HMAC<SHA256>.authenticationCode(for: Array((signing ?? body).utf8), using: SymmetricKey(data: secret))
                return try await h.request(
                    .post, "/api/v1/hooks/descope", json: body,
                    headers: [HTTPField.Name("x-descope-webhook-s256")!: Data(mac).base64EncodedString()])
            }
            let time = ISO8601DateFormatter().string(from: h.services.context.clock.now())
            let event = "{\n  \"id\": \"reg-1\", \"type\": \"user.registered\", \"time\": \"\(time)\",\n  \"user\": {\"login_id\": \"ada@example.com\"}\n}"
            // Signed over the compact form (Descope's "JSON string"), sent pretty: accepted.
            let compact = String(decoding: compactJSON(Array(event.utf8))!, as: UTF8.self)
            let r = try await send(event, signing: compact, secret: secret)
            #expect(r.status == .ok, "\(r.text)")
            let answer = try r.json()
            #expect(answer["action"] as? String == "start_idv" && (answer["session_url"] as? String)?.contains("/idv/") == true)
            // The same event id again: refused as a replay.
            #expect(try await send(event, secret: secret).status == .conflict)
            // No time, or a stale one: refused.
            let untimed = #"{"id":"reg-2","type":"user.registered","user":{"login_id":"x"}}"#
            #expect(try await send(untimed, secret: secret).status == .unprocessableContent)
            let stale = ISO8601DateFormatter().string(from: h.services.context.clock.now().addingTimeInterval(-600))
            #expect(try await send(#"{"id":"reg-3","type":"user.registered","time":"\#(stale)"}"#, secret: secret).status == .unauthorized)
            #expect(try await send(#"{"id":"reg-4","type":"user.registered","time":"\#(time)"}"#, secret: Array("x".utf8)).status == .unauthorized)
            // Without the header at all.
            #expect(try await h.request(.post, "/api/v1/hooks/descope", json: untimed).status == .unauthorized)
        }
    }

    @Test func administratorsManageSourcesAndMistakesAreNamed() async throws {
        try await Harness.run { h in
            let (keyID, _) = try await key(h, scopes: #"["stepup:write"]"#)
            // The default mapping starts IDV too: this key cannot.
            let noIDV = try await h.admin(.post, "/hook-sources", json: #"{"name":"descope","connector_key_id":"\#(keyID)","signature":"rfc9421"}"#)
            #expect(noIDV.status == .unprocessableContent && noIDV.text.contains("idv:write"), "\(noIDV.text)")
            let ok = try await h.admin(
                .post, "/hook-sources",
                json: #"{"name":"descope","connector_key_id":"\#(keyID)","signature":"rfc9421","actions":{"user.registered":"ignore"},"minimum_risk_score":50}"#
            )
            #expect(ok.status == .created, "\(ok.text)")
            let again = try await h.admin(
                .post, "/hook-sources", json: #"{"name":"descope","connector_key_id":"\#(keyID)","signature":"rfc9421","actions":{"user.registered":"ignore"}}"#
            )
            #expect(again.status == .conflict)
            let bad = try await h.admin(
                .post, "/hook-sources",
                json:
                    #"{"name":"other","connector_key_id":"\#(keyID)","signature":"rfc9421","actions":{"user.registered":"ignore"},"stepup":{"redirect_url":"https://evil.example.net/"}}"#
            )
            #expect(bad.status == .unprocessableContent && bad.text.contains("stepup.redirect_url"), "\(bad.text)")
            let list = try await h.admin(.get, "/hook-sources")
            let items = try #require(try list.json()["items"] as? [[String: Any]])
            #expect(items.count == 1 && items[0]["secret"] == nil)
            #expect((items[0]["actions"] as? [String: String]) == ["user.registered": "ignore", "login.risk": "require_stepup"])
            #expect(try await h.admin(.get, "/hook-sources/descope").status == .ok)
            #expect(try await h.admin(.delete, "/hook-sources/descope").status == .noContent)
            #expect(try await h.admin(.get, "/hook-sources/descope").status == .notFound)
            #expect(try await h.admin(.delete, "/hook-sources/descope").status == .notFound)
        }
    }
}
