import Foundation
import SigilCore
import SigilStore
import SigilTestSupport
import Testing

@testable import SigilSQLStore

/// Conformance for Shared Signals (migration 18): streams per client, subjects, events queued in
/// the audit event's transaction for the streams that asked for the type and hold the user,
/// push claims with a lease, polling with acknowledgements, pause and disable, deletion.
@Suite("Store conformance: shared signals")
struct SSFStoreConformanceTests {
    let f = Fixtures()

    func stream(_ tenant: Tenant, client: String, method: String, events: [String]) -> SSFStream {
        SSFStream(
            id: f.ids.make(.ssfStream), tenantID: tenant.id, clientID: client, description: nil, deliveryMethod: method,
            endpointURL: method == "urn:ietf:rfc:8935" ? "https://receiver.example/ssf" : nil, sealedAuthorization: nil, eventsRequested: events,
            eventsDelivered: events, profile: "standard", status: "enabled", statusReason: nil, createdAt: f.clock.now(), updatedAt: f.clock.now())
    }

    func event(
        _ tenant: Tenant, action: String, actor: String = "admin_token:adt_1", target: String, before: [String: String]? = nil, after: [String: String]? = nil
    ) -> AuditEvent {
        AuditEvent(
            id: f.ids.make(.auditEvent), tenantID: tenant.id, occurredAt: f.clock.now(), actor: actor, action: action, targetType: "x",
            targetID: target, before: before, after: after)
    }

    @Test(arguments: Backend.enabled)
    func streamsSubjectsAndEvents(_ backend: Backend) async throws {
        try await withFreshStore(backend) { (store: SQLStore) async throws in
            let acme = try await store.tenants.create(f.tenant("acme"))
            let ada = try await store.users.create(f.user(acme, "ada@example.com"))
            let bob = try await store.users.create(f.user(acme, "bob@example.com"))
            let push = stream(
                acme, client: "siem", method: "urn:ietf:rfc:8935",
                events: [SSFSignal.sessionRevoked, SSFSignal.accountDisabled, SSFSignal.assuranceLevelChange])
            let poll = stream(acme, client: "siem", method: "urn:ietf:rfc:8936", events: [SSFSignal.accountDisabled])
            try await store.ssf.createStream(push)
            try await store.ssf.createStream(poll)
            #expect(Set(try await store.ssf.streams(tenantID: acme.id, clientID: "siem").map(\.id)) == [push.id, poll.id])
            #expect(try await store.ssf.streams(tenantID: acme.id, clientID: "other").isEmpty)
            #expect(Set(try await store.ssf.streams(tenantID: acme.id, clientID: nil).map(\.id)) == [push.id, poll.id])
            try await store.ssf.addSubject(streamID: push.id, userID: ada.id, subject: #"{"email":"ada@example.com","format":"email"}"#, at: f.clock.now())
            try await store.ssf.addSubject(streamID: poll.id, userID: ada.id, subject: #"{"format":"opaque","id":"\#(ada.id)"}"#, at: f.clock.now())

            // A session of ada's ended: session-revoked for the push stream only (the poll stream did not ask).
            let now = f.clock.now()
            let session = Session(
                id: f.ids.make(.session), tenantID: acme.id, userID: ada.id, tokenHash: tokenHash("c"), createdAt: now, lastSeenAt: now,
                idleExpiresAt: now.addingTimeInterval(60), absoluteExpiresAt: now.addingTimeInterval(60), authTime: now, amr: ["hwk"], acr: "phrh")
            _ = try await store.sessions.create(session)
            try await store.audit.append(event(acme, action: "session.ended", target: session.id))
            // bob is nobody's subject; a failed or unrelated event raises nothing.
            try await store.audit.append(event(acme, action: "user.updated", target: bob.id, before: ["status": "active"], after: ["status": "disabled"]))
            try await store.audit.append(event(acme, action: "user.updated", target: ada.id, before: ["status": "active"], after: ["status": "active"]))
            let claimed = try await store.ssf.claimDuePush(now: f.clock.now(), leaseUntil: f.clock.now().addingTimeInterval(30), limit: 10)
            #expect(claimed.count == 1 && claimed.first?.0.eventType == SSFSignal.sessionRevoked && claimed.first?.1.id == push.id)
            #expect(claimed.first?.0.subject.contains("ada@example.com") == true && claimed.first?.0.payload.contains(session.id) == true)
            // Leased: not claimed again until the lease ends; failed with a retry time, then delivered.
            #expect(try await store.ssf.claimDuePush(now: f.clock.now(), leaseUntil: f.clock.now().addingTimeInterval(30), limit: 10).isEmpty)
            let jti = try #require(claimed.first?.0.jti)
            try await store.ssf.markFailed(streamID: push.id, jti: jti, error: "HTTP 503", nextAttemptAt: f.clock.now().addingTimeInterval(5))
            f.clock.advance(by: 6)
            let again = try await store.ssf.claimDuePush(now: f.clock.now(), leaseUntil: f.clock.now().addingTimeInterval(30), limit: 10)
            #expect(again.map(\.0.jti) == [jti] && again.first?.0.attempts == 1)
            try await store.ssf.markDelivered(streamID: push.id, jti: jti)

            // ada's own verification (a subject bound to her) raises assurance-level-change; a
            // subject known only to a relying party raises nothing.
            try await store.idv.saveSubject(
                IDVSubject(tenantID: acme.id, id: "sub_ada", clientID: nil, externalKeyHash: nil, userID: ada.id, createdAt: f.clock.now()))
            try await store.idv.saveSubject(
                IDVSubject(tenantID: acme.id, id: "sub_rp", clientID: "okta", externalKeyHash: nil, userID: nil, createdAt: f.clock.now()))
            for subject in ["sub_ada", "sub_rp"] {
                try await store.audit.append(
                    event(
                        acme, action: "idv.decided", actor: "system", target: "idv_1",
                        after: ["decision": "VERIFIED", "assurance_level": "ial2", "subject": subject]))
            }
            let verified = try await store.ssf.claimDuePush(now: f.clock.now(), leaseUntil: f.clock.now().addingTimeInterval(30), limit: 10)
            #expect(verified.map(\.0.eventType) == [SSFSignal.assuranceLevelChange] && verified.first?.0.payload.contains("ial2") == true)
            try await store.ssf.markDelivered(streamID: push.id, jti: try #require(verified.first?.0.jti))

            // ada disabled: both streams asked for account-disabled.
            try await store.audit.append(event(acme, action: "user.updated", target: ada.id, before: ["status": "active"], after: ["status": "disabled"]))
            var polled = try await store.ssf.poll(tenantID: acme.id, streamID: poll.id, ack: [], limit: 10)
            #expect(polled.events.map(\.eventType) == [SSFSignal.accountDisabled] && !polled.more)
            polled = try await store.ssf.poll(tenantID: acme.id, streamID: poll.id, ack: polled.events.map(\.jti), limit: 10)
            #expect(polled.events.isEmpty)
            // Paused: held; disabled: dropped.
            var paused = poll
            paused.status = "paused"
            try await store.ssf.updateStream(paused)
            try await store.ssf.enqueue(
                SSFEvent(
                    streamID: poll.id, jti: "v1", tenantID: acme.id, eventType: SSFSignal.verification, subject: "{}", payload: "{}",
                    eventTime: f.clock.now(), nextAttemptAt: f.clock.now(), createdAt: f.clock.now()))
            #expect(try await store.ssf.poll(tenantID: acme.id, streamID: poll.id, ack: [], limit: 10).events.isEmpty)
            paused.status = "enabled"
            try await store.ssf.updateStream(paused)
            #expect(try await store.ssf.poll(tenantID: acme.id, streamID: poll.id, ack: [], limit: 10).events.map(\.jti) == ["v1"])
            paused.status = "disabled"
            try await store.ssf.updateStream(paused)
            paused.status = "enabled"
            try await store.ssf.updateStream(paused)
            #expect(try await store.ssf.poll(tenantID: acme.id, streamID: poll.id, ack: [], limit: 10).events.isEmpty)
            // Subjects removed; streams deleted with their events.
            #expect(try await store.ssf.removeSubject(streamID: push.id, userID: ada.id))
            #expect(try await !store.ssf.removeSubject(streamID: push.id, userID: ada.id))
            #expect(try await store.ssf.deleteStream(tenantID: acme.id, id: push.id))
            #expect(try await !store.ssf.deleteStream(tenantID: acme.id, id: push.id))
            #expect(try await store.ssf.stream(tenantID: acme.id, id: push.id) == nil)
        }
    }
}
