import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SigilCore
import SigilJOSE
import SigilServices
import SigilStore
import Testing

/// The Shared Signals transmitter over HTTP (docs/ssf.md): metadata, OAuth scopes, a poll
/// stream's life (verify, subjects, session-revoked when an administrator signs the user out,
/// account-disabled, pause), SETs signed with the tenant's key. The push receiver written from the
/// specs runs in scripts/interop-ssf.sh.
@Suite struct SSFTests {
    typealias A = ApplicationManagementTests

    func token(_ h: Harness, scopes: String) async throws -> String {
        let created = try await A.createClient(h, #", "allowed_scopes": \#(scopes)"#)
        let clientID = try #require((created["oidc"] as? [String: Any])?["client_id"] as? String)
        let secret = try #require(created["client_secret"] as? String)
        let scope = (try JSONSerialization.jsonObject(with: Data(scopes.utf8)) as? [String] ?? []).joined(separator: "+")
        let r = try await A.clientCredentials(h, A.basic(clientID, secret), body: "grant_type=client_credentials&scope=\(scope)")
        #expect(r.status == .ok, "\(r.text)")
        return try #require(try r.json()["access_token"] as? String)
    }

    func call(_ h: Harness, _ method: HTTPRequest.Method, _ path: String, token: String?, json: String? = nil) async throws -> TestResponse {
        try await h.request(method, path, token: token, json: json)
    }

    /// The SETs a poll returns, decoded after checking the signature against the tenant's JWKS.
    func poll(_ h: Harness, _ token: String, _ stream: String, ack: [String] = []) async throws -> [String: [String: JSONValue]] {
        let ackJSON = "[" + ack.map { "\"\($0)\"" }.joined(separator: ",") + "]"
        let r = try await call(h, .post, "/ssf/poll/\(stream)", token: token, json: #"{"maxEvents":10,"returnImmediately":true,"ack":\#(ackJSON)}"#)
        #expect(r.status == .ok, "\(r.text)")
        let sets = try #require(try r.json()["sets"] as? [String: String])
        let jwks = try await h.services.keys.jwks(tenantID: try await h.defaultTenant().id)
        var out: [String: [String: JSONValue]] = [:]
        for (jti, set) in sets {
            let parsed = try JWS.parse(set)
            #expect(parsed.type == "secevent+jwt" && JWS.verify(parsed, with: jwks))
            out[jti] = parsed.payload
        }
        return out
    }

    @Test func aPollStreamFromVerificationToSessionRevoked() async throws {
        try await Harness.run { h in
            let meta = try await h.request(.get, "/.well-known/ssf-configuration").json()
            #expect(meta["spec_version"] as? String == "1_0" && meta["configuration_endpoint"] as? String == "https://id.example.com/ssf/streams")
            #expect(meta["default_subjects"] as? String == "NONE")
            let manage = try await token(h, scopes: #"["ssf.manage"]"#)
            let readOnly = try await token(h, scopes: #"["ssf.read"]"#)
            // No token, a bad one, a token without the scope.
            #expect(try await call(h, .post, "/ssf/streams", token: nil, json: "{}").status == .unauthorized)
            #expect(try await call(h, .post, "/ssf/streams", token: "nope", json: "{}").status == .unauthorized)
            let refused = try await call(h, .post, "/ssf/streams", token: readOnly, json: #"{"delivery":{"method":"urn:ietf:rfc:8936"}}"#)
            #expect(refused.status == .forbidden && refused.headers[.wwwAuthenticate]?.contains("insufficient_scope") == true)
            let created = try await call(
                h, .post, "/ssf/streams", token: manage,
                json:
                    #"{"delivery":{"method":"urn:ietf:rfc:8936"},"events_requested":["https://schemas.openid.net/secevent/caep/event-type/session-revoked","https://schemas.openid.net/secevent/risc/event-type/account-disabled","urn:example:unknown"],"description":"SIEM"}"#
            )
            #expect(created.status == .created, "\(created.text)")
            let stream = try created.json()
            let id = try #require(stream["stream_id"] as? String)
            #expect((stream["events_delivered"] as? [String])?.count == 2)
            #expect((stream["delivery"] as? [String: Any])?["endpoint_url"] as? String == "https://id.example.com/ssf/poll/\(id)")
            // Another client does not see it; a read-only token of that client would, but this one is another client.
            #expect(try await call(h, .get, "/ssf/streams?stream_id=\(id)", token: readOnly).status == .notFound)
            #expect(try await call(h, .get, "/ssf/streams?stream_id=\(id)", token: manage).status == .ok)
            // Verification.
            #expect(try await call(h, .post, "/ssf/verify", token: manage, json: #"{"stream_id":"\#(id)","state":"s-1"}"#).status == .noContent)
            var sets = try await poll(h, manage, id)
            let verification = try #require(sets.first)
            let events = try #require(verification.value["events"]?.object)
            #expect(events["https://schemas.openid.net/secevent/ssf/event-type/verification"]?.object?["state"]?.string == "s-1")
            #expect(verification.value["aud"]?.string != nil && verification.value["iss"]?.string == "https://id.example.com")
            // A user not added produces nothing; once added, an administrator's sign-out does.
            let tenant = try await h.defaultTenant()
            let ada = try await h.services.users.create(tenantID: tenant.id, .init(email: "ada@example.com", givenName: "Ada", familyName: "L"), by: .cli)
            _ = try await h.services.sessions.start(tenantID: tenant.id, userID: ada.id, amr: ["hwk"], acr: "phrh")
            #expect(try await h.admin(.delete, "/users/\(ada.id)/sessions").status == .ok)
            sets = try await poll(h, manage, id, ack: [verification.key])
            #expect(sets.isEmpty)
            let add = try await call(
                h, .post, "/ssf/subjects/add", token: manage, json: #"{"stream_id":"\#(id)","subject":{"format":"email","email":"ada@example.com"}}"#)
            #expect(add.status == .ok)
            _ = try await h.services.sessions.start(tenantID: tenant.id, userID: ada.id, amr: ["hwk"], acr: "phrh")
            #expect(try await h.admin(.delete, "/users/\(ada.id)/sessions").status == .ok)
            sets = try await poll(h, manage, id)
            let revoked = try #require(sets.first)
            #expect(revoked.value["sub_id"]?.object?["email"]?.string == "ada@example.com")
            let event = revoked.value["events"]?.object?[SSFSignal.sessionRevoked]?.object
            #expect(event?["initiating_entity"]?.string == "admin" && event?["event_timestamp"]?.int != nil)
            // Acknowledged, it is not returned again.
            #expect(try await poll(h, manage, id, ack: [revoked.key]).isEmpty)
            // Paused: held, then delivered once enabled.
            #expect(try await call(h, .post, "/ssf/status", token: manage, json: #"{"stream_id":"\#(id)","status":"paused"}"#).status == .ok)
            _ = try await h.admin(.patch, "/users/\(ada.id)", json: #"{"status":"disabled"}"#)
            #expect(try await poll(h, manage, id).isEmpty)
            #expect(try await call(h, .post, "/ssf/status", token: manage, json: #"{"stream_id":"\#(id)","status":"enabled"}"#).status == .ok)
            sets = try await poll(h, manage, id)
            #expect(sets.first?.value["events"]?.object?[SSFSignal.accountDisabled] != nil, "\(sets)")
            // Deleted: gone.
            #expect(try await call(h, .delete, "/ssf/streams?stream_id=\(id)", token: manage).status == .noContent)
            #expect(try await call(h, .get, "/ssf/status?stream_id=\(id)", token: manage).status == .notFound)
        }
    }

    /// The administrator's view: every receiver's streams, pause/disable/enable, delete; a
    /// receiver's Authorization header is never shown; audited as the administrator.
    @Test func administratorsSeeAndControlReceiversStreams() async throws {
        try await Harness.run { h in
            let manage = try await token(h, scopes: #"["ssf.manage"]"#)
            let created = try await call(
                h, .post, "/ssf/streams", token: manage,
                json:
                    #"{"delivery":{"method":"urn:ietf:rfc:8935","endpoint_url":"https://siem.example.com/events","authorization_header":"Bearer receiver-secret"},"events_requested":["https://schemas.openid.net/secevent/caep/event-type/session-revoked"],"description":"SIEM"}"#
            )
            #expect(created.status == .created, "\(created.text)")
            let id = try #require(try created.json()["stream_id"] as? String)
            let list = try await h.admin(.get, "/ssf/streams")
            #expect(list.status == .ok && !list.text.contains("receiver-secret"), "\(list.text)")
            let items = try #require(try list.json()["items"] as? [[String: Any]])
            #expect(items.count == 1 && items.first?["id"] as? String == id && items.first?["endpoint_url"] as? String == "https://siem.example.com/events")
            #expect(items.first?["status"] as? String == "enabled" && items.first?["profile"] as? String == "standard")
            let paused = try await h.admin(.post, "/ssf/streams/\(id)/status", json: #"{"status":"paused","reason":"receiver down"}"#)
            let pausedStatus = try paused.json()["status"] as? String
            #expect(paused.status == .ok && pausedStatus == "paused", "\(paused.text)")
            // The receiver sees the administrator's change.
            let seen = try await call(h, .get, "/ssf/status?stream_id=\(id)", token: manage).json()
            #expect(seen["status"] as? String == "paused")
            _ = try await h.admin(.post, "/ssf/streams/\(id)/status", json: #"{"status":"sometimes"}"#).expectProblem(.badRequest)
            _ = try await h.admin(.get, "/ssf/streams/sst_00000000000000000000000000").expectProblem(.notFound)
            #expect(try await h.admin(.delete, "/ssf/streams/\(id)").status == .noContent)
            #expect(try await call(h, .get, "/ssf/status?stream_id=\(id)", token: manage).status == .notFound)
            let events = try await h.store.audit.list(tenantID: nil, page: PageRequest(limit: 50)).items
            let deleted = try #require(events.first { $0.action == "ssf.stream_deleted" })
            #expect(!deleted.actor.hasPrefix("client") && deleted.after?["client"] != nil, "\(deleted.actor)")
            #expect(events.contains { $0.action == "ssf.stream_status" && $0.reason == "receiver down" && !$0.actor.hasPrefix("client") })
        }
    }
}
