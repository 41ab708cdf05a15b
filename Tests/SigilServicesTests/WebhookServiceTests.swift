import Crypto
import Foundation
import SigilCore
import SigilServices
import SigilStore
import SigilTestSupport
import Synchronization
import Testing

/// Outbound webhooks over the real store with a recording receiver: signing (checked here with an
/// independent HMAC; `scripts/interop-webhooks.sh` checks with the Standard Webhooks library),
/// retries over a receiver that is down for an hour on the harness's clock, giving up after 24
/// hours, leases held by a node that died, rotation, disabling, replay.
@Suite struct WebhookServiceTests {
    static let url = "https://hooks.example.com/sigil"

    /// A receiver: answers with the scripted statuses (the last one repeats) and records requests.
    final class Receiver: RemoteDocumentFetcher, Sendable {
        struct Request: Sendable {
            var url: String
            var headers: [(String, String)]
            var body: [UInt8]
            func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name }?.1 }
            var webhookID: String { header("webhook-id") ?? "" }
            var json: [String: Any] { (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] ?? [:] }
        }
        let requests = Mutex<[Request]>([])
        let statuses = Mutex<[Int]>([200])

        func answer(_ statuses: [Int]) { self.statuses.withLock { $0 = statuses } }
        var received: [Request] { requests.withLock { $0 } }
        /// Requests it answered with a 2xx.
        let accepted = Mutex<[Request]>([])
        /// One element each time a request starts waiting for a status of -1.
        let holding = AsyncStream<Void>.makeStream()

        func fetch(_ url: URL, accept: String, maxBytes: Int, policy: OutboundPolicy) async throws -> RemoteDocument {
            throw RemoteFetchError.status(404)
        }

        func send(_ request: OutboundRequest, maxBytes: Int, policy: OutboundPolicy) async throws -> OutboundResponse {
            let r = Request(url: request.url.absoluteString, headers: request.headers, body: request.body ?? [])
            requests.withLock { $0.append(r) }
            let status = statuses.withLock { s -> Int in s.count > 1 ? s.removeFirst() : s[0] }
            if status == 0 { throw RemoteFetchError.unreachable("connection refused") }
            if status == -1 {
                // A receiver that never answers: the request waits until its task is cancelled.
                holding.continuation.yield()
                while !Task.isCancelled { try? await Task.sleep(for: .milliseconds(20)) }
                throw CancellationError()
            }
            if (200..<300).contains(status) { accepted.withLock { $0.append(r) } }
            return OutboundResponse(status: status, body: Array("ignored".utf8))
        }
    }

    func withReceiver(_ backend: Backend, seed: String = #function, _ body: (ServiceHarness, Receiver) async throws -> Void) async throws {
        let receiver = Receiver()
        let h = try await ServiceHarness.open(backend, seed: seed, fetcher: receiver)
        do { try await body(h, receiver) } catch {
            try? await h.close()
            throw error
        }
        try await h.close()
    }

    /// Verifies a message the way a Standard Webhooks receiver does, with our own HMAC.
    static func verifies(_ r: Receiver.Request, secret: String) -> Bool {
        guard secret.hasPrefix("whsec_"), let key = Data(base64Encoded: String(secret.dropFirst(6))),
            let id = r.header("webhook-id"), let ts = r.header("webhook-timestamp"), let sigs = r.header("webhook-signature")
        else { return false }
        let mac = HMAC<SHA256>.authenticationCode(for: Array("\(id).\(ts).".utf8) + r.body, using: SymmetricKey(data: key))
        let expected = "v1," + Data(mac).base64EncodedString()
        return sigs.split(separator: " ").contains { String($0) == expected }
    }

    @Test(arguments: Backend.enabled)
    func anEventIsSignedAndDeliveredOnce(_ backend: Backend) async throws {
        try await withReceiver(backend) { h, receiver in
            let created = try await h.services.webhooks.create(
                tenantID: h.tenant.id, url: Self.url, description: "flows", eventTypes: ["user.created"], by: .cli)
            #expect(created.secret.value.hasPrefix("whsec_"))
            #expect(Data(base64Encoded: String(created.secret.value.dropFirst(6)))?.count == 32)
            let user = try await h.user()
            _ = try await h.user("bob@example.com")
            // An event the endpoint did not subscribe to queues nothing.
            _ = try await h.services.webhooks.create(tenantID: h.tenant.id, url: Self.url + "/other", description: nil, eventTypes: ["idv.decided"], by: .cli)
            let pass = await h.services.webhooks.deliverDue()
            #expect(pass.claimed == 2 && pass.delivered == 2)
            let got = receiver.received
            #expect(got.count == 2)
            #expect(got.allSatisfy { Self.verifies($0, secret: created.secret.value) })
            #expect(!got.contains { Self.verifies($0, secret: "whsec_" + Data(repeating: 1, count: 32).base64EncodedString()) })
            let first = try #require(
                got.first { ($0.json["data"] as? [String: Any])?["target"].flatMap { ($0 as? [String: Any])?["id"] as? String } == user.id })
            #expect(first.json["type"] as? String == "user.created")
            #expect((first.json["data"] as? [String: Any])?["id"] as? String == first.webhookID)
            #expect(first.header("webhook-timestamp") == String(Int(h.clock.now().timeIntervalSince1970)))
            #expect(first.header("content-type") == "application/json")
            // Nothing more is owed.
            #expect(await h.services.webhooks.deliverDue().claimed == 0)
            let log = try await h.services.webhooks.deliveries(
                tenantID: h.tenant.id, endpointID: created.endpoint.id, state: .delivered, page: PageRequest(), by: .cli)
            #expect(log.items.count == 2 && log.items.allSatisfy { $0.attempts == 1 && $0.lastStatus == 200 && $0.deliveredAt != nil })
        }
    }

    @Test(arguments: Backend.enabled)
    func aReceiverDownForAnHourGetsEveryEventOnceAfterwards(_ backend: Backend) async throws {
        try await withReceiver(backend) { h, receiver in
            let created = try await h.services.webhooks.create(tenantID: h.tenant.id, url: Self.url, description: nil, eventTypes: ["*"], by: .cli)
            receiver.answer([503])
            let downAt = h.clock.now()
            var events = 0
            // Events keep coming while the receiver is down; the loop runs every 2 s of the clock.
            while h.clock.now().timeIntervalSince(downAt) < 3600 {
                if events < 5 {
                    _ = try await h.user("u\(events)@example.com")
                    events += 1
                }
                _ = await h.services.webhooks.deliverDue()
                h.clock.advance(by: 2)
            }
            #expect(receiver.accepted.withLock { $0.isEmpty })
            let failedAttempts = receiver.received.count
            #expect(failedAttempts >= 5 * 5) // 5, 20, 80, 320, 1280 s: at least five attempts each within the hour
            receiver.answer([200])
            // Backoff: the next attempts are up to 5120 s (±20 %) after the last ones.
            while h.clock.now().timeIntervalSince(downAt) < 3 * 3600 {
                _ = await h.services.webhooks.deliverDue()
                h.clock.advance(by: 10)
            }
            let accepted = receiver.accepted.withLock { $0 }
            let ids = accepted.map(\.webhookID)
            #expect(Set(ids).count == events + 1) // the users, and the endpoint's own creation
            #expect(ids.count == Set(ids).count) // exactly once
            // Every attempt of one message carried the same webhook-id.
            let attemptIDs = Set(receiver.received.map(\.webhookID))
            #expect(attemptIDs == Set(ids))
            let pending = try await h.store.webhooks.deliveries(
                tenantID: h.tenant.id, endpointID: created.endpoint.id, state: .pending, page: PageRequest(), by: .cli)
            #expect(pending.items.isEmpty)
        }
    }

    @Test(arguments: Backend.enabled)
    func deliveryIsRetriedForADayThenGivenUp(_ backend: Backend) async throws {
        try await withReceiver(backend) { h, receiver in
            let created = try await h.services.webhooks.create(
                tenantID: h.tenant.id, url: Self.url, description: nil, eventTypes: ["user.created"], by: .cli)
            receiver.answer([500])
            let user = try await h.user()
            let start = h.clock.now()
            var attemptTimes: [Date] = []
            for _ in 0..<40 {
                let before = receiver.received.count
                _ = await h.services.webhooks.deliverDue()
                if receiver.received.count > before { attemptTimes.append(h.clock.now()) }
                guard
                    let d = try await h.store.webhooks.deliveries(
                        tenantID: h.tenant.id, endpointID: created.endpoint.id, state: nil, page: PageRequest(), by: .cli
                    ).items.first, d.state == .pending
                else { break }
                h.clock.advance(by: max(0, d.nextAttemptAt.timeIntervalSince(h.clock.now())) + 0.001)
            }
            let d = try #require(
                try await h.store.webhooks.deliveries(tenantID: h.tenant.id, endpointID: created.endpoint.id, state: nil, page: PageRequest(), by: .cli)
                    .items.first)
            #expect(d.state == .failed)
            #expect(d.lastStatus == 500 && d.lastError == "HTTP 500")
            #expect(d.attempts == attemptTimes.count)
            // Kept trying for at least 24 hours, and stopped with the first attempt past them.
            let last = try #require(attemptTimes.last)
            #expect(last.timeIntervalSince(start) >= 24 * 3600)
            #expect(attemptTimes.dropLast().allSatisfy { $0.timeIntervalSince(start) < 24 * 3600 })
            // Backoff grows (each gap at least the previous one's, jitter allowing) and is capped at 6 h (+20 %).
            let gaps = zip(attemptTimes.dropFirst(), attemptTimes).map { $0.timeIntervalSince($1) }
            #expect(gaps.first.map { (4...6.1).contains($0) } == true)
            #expect(gaps.allSatisfy { $0 <= 6 * 3600 * 1.2 + 1 })
            _ = user
        }
    }

    @Test(arguments: Backend.enabled)
    func aDeliveryHeldByADeadNodeIsSentByAnotherAfterTheLease(_ backend: Backend) async throws {
        try await withReceiver(backend) { h, receiver in
            _ = try await h.services.webhooks.create(tenantID: h.tenant.id, url: Self.url, description: nil, eventTypes: ["user.created"], by: .cli)
            _ = try await h.user()
            // Node A claims the delivery, then dies before sending or recording anything.
            let now = h.clock.now()
            let held = try await h.store.webhooks.claimDue(now: now, leaseUntil: now.addingTimeInterval(30), limit: 10)
            #expect(held.count == 1)
            // Node B leaves it alone while the lease holds…
            #expect(await h.services.webhooks.deliverDue().claimed == 0)
            h.clock.advance(by: 29)
            #expect(await h.services.webhooks.deliverDue().claimed == 0)
            // …and sends it once it has run out.
            h.clock.advance(by: 2)
            #expect(await h.services.webhooks.deliverDue().delivered == 1)
            #expect(receiver.accepted.withLock { $0.map(\.webhookID) } == [held[0].delivery.eventID])
        }
    }

    /// Graceful shutdown cancels the delivery loop: an attempt it cuts short is not counted
    /// against the delivery's retry schedule; the message goes out once the lease has run out.
    @Test(arguments: Backend.enabled)
    func anAttemptCutShortByShutdownDoesNotCount(_ backend: Backend) async throws {
        try await withReceiver(backend) { h, receiver in
            let created = try await h.services.webhooks.create(
                tenantID: h.tenant.id, url: Self.url, description: nil, eventTypes: ["user.created"], by: .cli)
            _ = try await h.user()
            receiver.answer([-1, 200])
            let webhooks = h.services.webhooks
            let pass = Task { await webhooks.deliverDue() }
            for await _ in receiver.holding.stream { break }
            pass.cancel()
            let cut = await pass.value
            #expect(cut.claimed == 1 && cut.delivered == 0 && cut.failed == 0)
            let owed = try await h.services.webhooks.deliveries(
                tenantID: h.tenant.id, endpointID: created.endpoint.id, state: nil, page: PageRequest(), by: .cli)
            #expect(owed.items.count == 1 && owed.items.allSatisfy { $0.attempts == 0 && $0.lastError == nil })
            // Held until the lease runs out, then sent: its first counted attempt.
            #expect(await webhooks.deliverDue().claimed == 0)
            h.clock.advance(by: 31)
            #expect(await webhooks.deliverDue().delivered == 1)
            let done = try await h.services.webhooks.deliveries(
                tenantID: h.tenant.id, endpointID: created.endpoint.id, state: .delivered, page: PageRequest(), by: .cli)
            #expect(done.items.count == 1 && done.items.allSatisfy { $0.attempts == 1 })
        }
    }

    @Test(arguments: Backend.enabled)
    func rotationSignsWithBothSecretsDuringTheOverlap(_ backend: Backend) async throws {
        try await withReceiver(backend) { h, receiver in
            let created = try await h.services.webhooks.create(
                tenantID: h.tenant.id, url: Self.url, description: nil, eventTypes: ["user.created"], by: .cli)
            let rotated = try await h.services.webhooks.rotateSecret(tenantID: h.tenant.id, id: created.endpoint.id, overlap: 3600, by: .cli)
            #expect(rotated.secret.value != created.secret.value)
            _ = try await h.user()
            _ = await h.services.webhooks.deliverDue()
            let first = try #require(receiver.received.last)
            #expect(Self.verifies(first, secret: created.secret.value) && Self.verifies(first, secret: rotated.secret.value))
            #expect(first.header("webhook-signature")?.split(separator: " ").count == 2)
            h.clock.advance(by: 3601)
            _ = try await h.user("later@example.com")
            _ = await h.services.webhooks.deliverDue()
            let second = try #require(receiver.received.last)
            #expect(!Self.verifies(second, secret: created.secret.value) && Self.verifies(second, secret: rotated.secret.value))
            await #expect(throws: ServiceError.self) {
                try await h.services.webhooks.rotateSecret(tenantID: h.tenant.id, id: created.endpoint.id, overlap: -1, by: .cli)
            }
        }
    }

    @Test(arguments: Backend.enabled)
    func aDisabledEndpointKeepsItsEventsUntilEnabledAndReplaySendsAgain(_ backend: Backend) async throws {
        try await withReceiver(backend) { h, receiver in
            let created = try await h.services.webhooks.create(
                tenantID: h.tenant.id, url: Self.url, description: nil, eventTypes: ["user.created"], enabled: false, by: .cli)
            _ = try await h.user()
            #expect(await h.services.webhooks.deliverDue().claimed == 0)
            _ = try await h.services.webhooks.update(tenantID: h.tenant.id, id: created.endpoint.id, .init(enabled: true), by: .cli)
            #expect(await h.services.webhooks.deliverDue().delivered == 1)
            let id = try #require(receiver.received.first?.webhookID)
            let replayed = try await h.services.webhooks.replay(tenantID: h.tenant.id, endpointID: created.endpoint.id, eventID: id, by: .cli)
            #expect(replayed.state == .pending && replayed.attempts == 0)
            #expect(await h.services.webhooks.deliverDue().delivered == 1)
            #expect(receiver.received.map(\.webhookID) == [id, id])
            await #expect(throws: StoreError.self) {
                try await h.services.webhooks.replay(tenantID: h.tenant.id, endpointID: created.endpoint.id, eventID: "evt_nope", by: .cli)
            }
            // Deleting the endpoint fails what it still owed and sends nothing more.
            _ = try await h.services.webhooks.update(tenantID: h.tenant.id, id: created.endpoint.id, .init(enabled: false), by: .cli)
            _ = try await h.user("carol@example.com")
            try await h.services.webhooks.delete(tenantID: h.tenant.id, id: created.endpoint.id, by: .cli)
            #expect(await h.services.webhooks.deliverDue().claimed == 0)
            #expect(receiver.received.count == 2)
        }
    }

    @Test(arguments: Backend.enabled)
    func badEndpointsAreRefusedWithFieldErrors(_ backend: Backend) async throws {
        try await withReceiver(backend) { h, _ in
            for (url, types, field) in [
                ("ftp://hooks.example.com/x", ["user.created"], "url"), ("http://hooks.example.com/x", ["user.created"], "url"),
                ("https://10.0.0.1/x", ["user.created"], "url"), ("https://localhost/x", ["user.created"], "url"),
                (Self.url, [String](), "event_types"), (Self.url, ["Not An Event"], "event_types"),
            ] {
                do {
                    _ = try await h.services.webhooks.create(tenantID: h.tenant.id, url: url, description: nil, eventTypes: types, by: .cli)
                    Issue.record("\(url) \(types) was accepted")
                } catch let error as ServiceError {
                    #expect(error.fieldErrors.map(\.field) == [field], "\(url) \(types)")
                }
            }
            #expect(try await h.services.webhooks.endpoints(tenantID: h.tenant.id, by: .cli).isEmpty)
            // Another tenant's token sees nothing of this tenant's endpoints.
            let other = Principal.adminToken(id: "adt_x", tenantID: "ten_other")
            await #expect(throws: ServiceError.self) { try await h.services.webhooks.endpoints(tenantID: h.tenant.id, by: other) }
        }
    }
}

extension WebhookStore {
    /// The store's page under the service's name, for reading in tests.
    func deliveries(tenantID: String, endpointID: String, state: WebhookDelivery.State?, page: PageRequest, by _: Principal)
        async throws -> Page<WebhookDelivery>
    {
        try await deliveries(tenantID: tenantID, endpointID: endpointID, state: state, page: page)
    }
}
