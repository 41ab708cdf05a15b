import Foundation
import SQLKit
import SigilCore
import SigilStore
import SigilTestSupport
import Testing

@testable import SigilSQLStore

/// Conformance for webhook endpoints and their outbox (migration 15): endpoints per tenant with
/// their subscriptions; an audit append queues one delivery per subscribed enabled endpoint in its
/// own transaction; claims lease rows (never the same row twice at once) and come with endpoint
/// and event; the delivery log pages newest first and is swept once finished.
@Suite("Store conformance: webhooks")
struct WebhookStoreConformanceTests {
    let f = Fixtures()

    struct Boom: Error {}

    func endpoint(_ tenant: Tenant, _ types: [String], enabled: Bool = true) -> WebhookEndpoint {
        WebhookEndpoint(
            id: f.ids.make(.webhookEndpoint), tenantID: tenant.id, url: "https://hooks.example/\(tenant.slug)", eventTypes: types,
            enabled: enabled, sealedSecret: "sealed:\(UUID().uuidString)", createdAt: f.clock.now(), updatedAt: f.clock.now())
    }

    func event(_ tenant: Tenant?, _ action: String = "user.created", at: Date? = nil) -> AuditEvent {
        AuditEvent(
            id: f.ids.make(.auditEvent), tenantID: tenant?.id, occurredAt: at ?? f.clock.now(), actor: "cli", action: action,
            targetType: "user", targetID: "usr_1")
    }

    /// `endpoint/event`, to compare sets of claimed deliveries.
    static func key(_ claimed: ClaimedWebhookDelivery) -> String { claimed.delivery.endpointID + "/" + claimed.delivery.eventID }

    @Test(arguments: Backend.enabled)
    func endpointsPerTenant(_ backend: Backend) async throws {
        try await withFreshStore(backend) { (store: SQLStore) async throws in
            let acme = try await store.tenants.create(f.tenant("acme"))
            let beta = try await store.tenants.create(f.tenant("beta"))
            var first = endpoint(acme, ["user.created", "user.deleted"])
            first.description = "CRM sync"
            try await store.webhooks.createEndpoint(first)
            await #expect(throws: StoreError.alreadyExists("webhook endpoint")) { try await store.webhooks.createEndpoint(first) }
            var orphan = endpoint(acme, ["*"])
            orphan.tenantID = "ten_missing"
            await #expect(throws: StoreError.notFound("webhook endpoint")) { try await store.webhooks.createEndpoint(orphan) }
            f.clock.advance(by: 1)
            let second = endpoint(acme, ["*"])
            try await store.webhooks.createEndpoint(second)

            #expect(try await store.webhooks.endpoint(tenantID: acme.id, id: first.id) == first)
            #expect(try await store.webhooks.endpoint(tenantID: beta.id, id: first.id) == nil)
            #expect(try await store.webhooks.endpoints(tenantID: acme.id) == [first, second])
            #expect(try await store.webhooks.endpoints(tenantID: beta.id).isEmpty)

            // An update replaces everything but the identity and creation time, subscriptions included.
            f.clock.advance(by: 1)
            var changed = first
            changed.url = "https://hooks.example/v2"
            changed.description = nil
            changed.eventTypes = ["session.created"]
            changed.enabled = false
            changed.previousSealedSecret = first.sealedSecret
            changed.previousSecretExpiresAt = f.clock.now().addingTimeInterval(86_400)
            changed.sealedSecret = "sealed:rotated"
            changed.updatedAt = f.clock.now()
            try await store.webhooks.updateEndpoint(changed)
            #expect(try await store.webhooks.endpoint(tenantID: acme.id, id: first.id) == changed)
            var stranger = changed
            stranger.tenantID = beta.id
            await #expect(throws: StoreError.notFound("webhook endpoint")) { try await store.webhooks.updateEndpoint(stranger) }

            changed.enabled = true
            try await store.webhooks.updateEndpoint(changed)
            let created = event(acme, "user.created")
            let started = event(acme, "session.created")
            try await store.audit.append(created)
            try await store.audit.append(started)
            #expect(try await store.webhooks.delivery(tenantID: acme.id, endpointID: first.id, eventID: created.id) == nil)
            #expect(try await store.webhooks.delivery(tenantID: acme.id, endpointID: first.id, eventID: started.id) != nil)

            #expect(try await !store.webhooks.deleteEndpoint(tenantID: beta.id, id: first.id, at: f.clock.now()))
            #expect(try await store.webhooks.deleteEndpoint(tenantID: acme.id, id: first.id, at: f.clock.now()))
            #expect(try await !store.webhooks.deleteEndpoint(tenantID: acme.id, id: first.id, at: f.clock.now()))
            #expect(try await store.webhooks.endpoint(tenantID: acme.id, id: first.id) == nil)
            #expect(try await store.webhooks.endpoints(tenantID: acme.id) == [second])
        }
    }

    @Test(arguments: Backend.enabled)
    func anAuditAppendQueuesItsDeliveries(_ backend: Backend) async throws {
        try await withFreshStore(backend) { (store: SQLStore) async throws in
            let acme = try await store.tenants.create(f.tenant("acme"))
            let beta = try await store.tenants.create(f.tenant("beta"))
            let everything = endpoint(acme, ["*"])
            let users = endpoint(acme, ["user.created", "user.deleted"])
            let sessions = endpoint(acme, ["session.created"])
            let paused = endpoint(acme, ["*"], enabled: false)
            let betaEverything = endpoint(beta, ["*"])
            for e in [everything, users, sessions, paused, betaEverything] { try await store.webhooks.createEndpoint(e) }

            let created = event(acme, "user.created")
            try await store.audit.append(created)
            // A disabled endpoint's delivery is queued too: it waits until the endpoint is enabled.
            for e in [everything, users, paused] {
                let d = try #require(try await store.webhooks.delivery(tenantID: acme.id, endpointID: e.id, eventID: created.id))
                let queued = WebhookDelivery(
                    endpointID: e.id, eventID: created.id, tenantID: acme.id, eventType: "user.created",
                    nextAttemptAt: created.occurredAt, createdAt: created.occurredAt)
                #expect(d == queued)
            }
            for e in [sessions] {
                #expect(try await store.webhooks.delivery(tenantID: acme.id, endpointID: e.id, eventID: created.id) == nil)
            }
            let betaBefore = try await store.webhooks.deliveries(
                tenantID: beta.id, endpointID: betaEverything.id, state: nil, page: PageRequest())
            #expect(betaBefore.items.isEmpty)
            #expect(try await store.webhooks.pendingCount() == 3)

            // Events without a tenant queue nothing; queuing an event twice adds nothing.
            try await store.audit.append(event(nil, "tenant.created"))
            #expect(try await store.webhooks.enqueue(event(nil, "tenant.created")) == 0)
            #expect(try await store.webhooks.enqueue(created) == 0)
            #expect(try await store.webhooks.pendingCount() == 3)

            // The deliveries commit with the event, or not at all.
            let committed = event(acme, "user.deleted")
            try await store.transaction { tx in try await tx.audit.append(committed) }
            #expect(try await store.webhooks.delivery(tenantID: acme.id, endpointID: users.id, eventID: committed.id) != nil)
            let rolledBack = event(acme, "user.deleted")
            await #expect(throws: Boom.self) {
                try await store.transaction { tx in
                    try await tx.audit.append(rolledBack)
                    throw Boom()
                }
            }
            #expect(try await store.webhooks.delivery(tenantID: acme.id, endpointID: users.id, eventID: rolledBack.id) == nil)
            #expect(try await store.webhooks.delivery(tenantID: acme.id, endpointID: everything.id, eventID: rolledBack.id) == nil)
            #expect(try await store.webhooks.pendingCount() == 6)

            // Another tenant's event goes to that tenant's endpoints only.
            let betaEvent = event(beta, "user.created")
            try await store.audit.append(betaEvent)
            let betaLog = try await store.webhooks.deliveries(
                tenantID: beta.id, endpointID: betaEverything.id, state: nil, page: PageRequest())
            #expect(betaLog.items.map(\.eventID) == [betaEvent.id])
            #expect(try await store.webhooks.delivery(tenantID: acme.id, endpointID: everything.id, eventID: betaEvent.id) == nil)
        }
    }

    @Test(arguments: Backend.enabled)
    func claimsLeaseDueDeliveriesWithEndpointAndEvent(_ backend: Backend) async throws {
        try await withFreshStore(backend) { (store: SQLStore) async throws in
            let acme = try await store.tenants.create(f.tenant("acme"))
            let hook = endpoint(acme, ["*"])
            var paused = endpoint(acme, ["user.updated"])
            try await store.webhooks.createEndpoint(hook)
            try await store.webhooks.createEndpoint(paused)
            let now = f.clock.now()
            let due = event(acme, "user.created", at: now)
            let later = event(acme, "user.created", at: now.addingTimeInterval(60))
            let held = event(acme, "user.updated", at: now)
            for e in [due, later, held] { try await store.audit.append(e) }
            // A disabled endpoint's deliveries wait for it.
            paused.enabled = false
            try await store.webhooks.updateEndpoint(paused)

            let lease = now.addingTimeInterval(30)
            let claimed = try await store.webhooks.claimDue(now: now, leaseUntil: lease, limit: 10)
            #expect(Set(claimed.map(Self.key)) == ["\(hook.id)/\(due.id)", "\(hook.id)/\(held.id)"])
            // Both were due at `now`: then the order is by event id.
            #expect(claimed.map(\.delivery.eventID) == claimed.map(\.delivery.eventID).sorted())
            let first = try #require(claimed.first { $0.delivery.eventID == due.id })
            #expect(first.endpoint == hook && first.event == due)
            #expect(first.delivery.claimedUntil == lease && first.delivery.state == .pending && first.delivery.attempts == 0)

            // Held rows are not handed out again until their lease runs out.
            #expect(try await store.webhooks.claimDue(now: now, leaseUntil: lease, limit: 10).isEmpty)
            #expect(try await store.webhooks.claimDue(now: lease.addingTimeInterval(-1), leaseUntil: lease, limit: 10).isEmpty)
            let again = try await store.webhooks.claimDue(now: lease, leaseUntil: now.addingTimeInterval(60), limit: 10)
            #expect(Set(again.map(Self.key)) == ["\(hook.id)/\(due.id)", "\(hook.id)/\(held.id)"])
            // A limit is a limit; the later event comes due in its turn.
            let atLater = now.addingTimeInterval(60)
            let one = try await store.webhooks.claimDue(now: atLater, leaseUntil: atLater.addingTimeInterval(30), limit: 1)
            #expect(one.count == 1)
            let rest = try await store.webhooks.claimDue(now: atLater, leaseUntil: atLater.addingTimeInterval(30), limit: 10)
            #expect(Set((one + rest).map(Self.key)) == ["\(hook.id)/\(due.id)", "\(hook.id)/\(held.id)", "\(hook.id)/\(later.id)"])

            // Enabled again, the paused endpoint's delivery is claimed like any other.
            #expect(try await store.webhooks.pendingCount() == 4)
            paused.enabled = true
            try await store.webhooks.updateEndpoint(paused)
            let resumed = try await store.webhooks.claimDue(now: atLater, leaseUntil: atLater.addingTimeInterval(30), limit: 10)
            #expect(resumed.map(Self.key) == ["\(paused.id)/\(held.id)"])
            #expect(resumed.first?.endpoint == paused)
        }
    }

    /// Nodes claiming at the same time never get the same row (PostgreSQL runs the claims on
    /// separate pooled connections; SQLite serialises them).
    @Test(arguments: Backend.enabled)
    func concurrentClaimsNeverOverlap(_ backend: Backend) async throws {
        try await withFreshStore(backend) { (store: SQLStore) async throws in
            let acme = try await store.tenants.create(f.tenant("acme"))
            let hooks = [endpoint(acme, ["*"]), endpoint(acme, ["user.created"])]
            for hook in hooks { try await store.webhooks.createEndpoint(hook) }
            let now = f.clock.now()
            var all: Set<String> = []
            for i in 0..<20 {
                let e = event(acme, "user.created", at: now.addingTimeInterval(-Double(i)))
                try await store.audit.append(e)
                for hook in hooks { all.insert("\(hook.id)/\(e.id)") }
            }
            let batches = try await withThrowingTaskGroup(of: [String].self) { group in
                for _ in 0..<8 {
                    group.addTask {
                        try await store.webhooks.claimDue(now: now, leaseUntil: now.addingTimeInterval(60), limit: 7).map(Self.key)
                    }
                }
                var out: [[String]] = []
                for try await batch in group { out.append(batch) }
                return out
            }
            let claimed = batches.flatMap { $0 }
            #expect(claimed.count == Set(claimed).count, "a delivery was claimed twice")
            #expect(Set(claimed).isSubset(of: all))
            // Whatever was not claimed is still there for the next pass.
            let rest = try await store.webhooks.claimDue(now: now, leaseUntil: now.addingTimeInterval(60), limit: 100).map(Self.key)
            #expect(Set(claimed).union(rest) == all && Set(claimed).isDisjoint(with: rest))
        }
    }

    @Test(arguments: Backend.enabled)
    func attemptsAreRecordedAndReplayed(_ backend: Backend) async throws {
        try await withFreshStore(backend) { (store: SQLStore) async throws in
            let acme = try await store.tenants.create(f.tenant("acme"))
            let beta = try await store.tenants.create(f.tenant("beta"))
            let hook = endpoint(acme, ["*"])
            try await store.webhooks.createEndpoint(hook)
            let now = f.clock.now()
            let delivered = event(acme, "user.created")
            let retried = event(acme, "user.updated")
            let abandoned = event(acme, "user.deleted")
            for e in [delivered, retried, abandoned] { try await store.audit.append(e) }
            #expect(try await store.webhooks.claimDue(now: now, leaseUntil: now.addingTimeInterval(30), limit: 10).count == 3)
            let at = now.addingTimeInterval(1)
            func read(_ e: AuditEvent) async throws -> WebhookDelivery {
                try #require(try await store.webhooks.delivery(tenantID: acme.id, endpointID: hook.id, eventID: e.id))
            }

            try await store.webhooks.markDelivered(endpointID: hook.id, eventID: delivered.id, at: at, status: 204)
            var d = try await read(delivered)
            #expect(d.state == .delivered && d.attempts == 1 && d.claimedUntil == nil && d.lastStatus == 204)
            #expect(d.deliveredAt == at && d.lastAttemptAt == at && d.lastError == nil)

            // A failure with a next attempt stays pending, due then, and released.
            let retryAt = now.addingTimeInterval(61)
            try await store.webhooks.markFailed(
                endpointID: hook.id, eventID: retried.id, at: at, status: 503, error: "HTTP 503", nextAttemptAt: retryAt)
            d = try await read(retried)
            #expect(d.state == .pending && d.attempts == 1 && d.claimedUntil == nil && d.nextAttemptAt == retryAt)
            #expect(d.lastStatus == 503 && d.lastError == "HTTP 503" && d.lastAttemptAt == at && d.deliveredAt == nil)
            // Without one it has failed for good.
            try await store.webhooks.markFailed(
                endpointID: hook.id, eventID: abandoned.id, at: at, status: nil, error: "timed out", nextAttemptAt: nil)
            d = try await read(abandoned)
            #expect(d.state == .failed && d.attempts == 1 && d.claimedUntil == nil && d.lastStatus == nil && d.lastError == "timed out")
            #expect(try await store.webhooks.pendingCount() == 1)
            await #expect(throws: StoreError.notFound("webhook delivery")) {
                try await store.webhooks.markDelivered(endpointID: hook.id, eventID: "evt_missing", at: at, status: 200)
            }
            await #expect(throws: StoreError.notFound("webhook delivery")) {
                try await store.webhooks.markFailed(
                    endpointID: hook.id, eventID: "evt_missing", at: at, status: nil, error: "x", nextAttemptAt: nil)
            }

            // Only the retry comes due, at its time.
            #expect(try await store.webhooks.claimDue(now: retryAt.addingTimeInterval(-1), leaseUntil: retryAt, limit: 10).isEmpty)
            let due = try await store.webhooks.claimDue(now: retryAt, leaseUntil: retryAt.addingTimeInterval(30), limit: 10)
            #expect(due.map(\.delivery.eventID) == [retried.id] && due.first?.delivery.attempts == 1)

            // A replay sends any delivery again from scratch, at once.
            let replayAt = now.addingTimeInterval(100)
            #expect(try await store.webhooks.replay(tenantID: acme.id, endpointID: hook.id, eventID: abandoned.id, now: replayAt))
            #expect(try await store.webhooks.replay(tenantID: acme.id, endpointID: hook.id, eventID: delivered.id, now: replayAt))
            for e in [abandoned, delivered] {
                d = try await read(e)
                #expect(d.state == .pending && d.attempts == 0 && d.nextAttemptAt == replayAt)
                #expect(d.claimedUntil == nil && d.deliveredAt == nil)
            }
            #expect(try await !store.webhooks.replay(tenantID: beta.id, endpointID: hook.id, eventID: abandoned.id, now: replayAt))
            #expect(try await !store.webhooks.replay(tenantID: acme.id, endpointID: hook.id, eventID: "evt_missing", now: replayAt))
            let replayed = try await store.webhooks.claimDue(now: replayAt, leaseUntil: replayAt.addingTimeInterval(30), limit: 10)
            #expect(Set(replayed.map(\.delivery.eventID)) == [abandoned.id, delivered.id, retried.id])
        }
    }

    @Test(arguments: Backend.enabled)
    func deletingAnEndpointFailsWhatItWasOwed(_ backend: Backend) async throws {
        try await withFreshStore(backend) { (store: SQLStore) async throws in
            let acme = try await store.tenants.create(f.tenant("acme"))
            let gone = endpoint(acme, ["*"])
            let kept = endpoint(acme, ["*"])
            try await store.webhooks.createEndpoint(gone)
            try await store.webhooks.createEndpoint(kept)
            let now = f.clock.now()
            let sent = event(acme)
            try await store.audit.append(sent)
            try await store.webhooks.markDelivered(endpointID: gone.id, eventID: sent.id, at: now, status: 200)
            try await store.webhooks.markDelivered(endpointID: kept.id, eventID: sent.id, at: now, status: 200)
            let owed = event(acme)
            try await store.audit.append(owed)

            #expect(try await store.webhooks.deleteEndpoint(tenantID: acme.id, id: gone.id, at: now))
            let failed = try #require(try await store.webhooks.delivery(tenantID: acme.id, endpointID: gone.id, eventID: owed.id))
            #expect(failed.state == .failed && failed.lastError == "endpoint deleted")
            // The log stays: what was delivered is still there.
            #expect(try await store.webhooks.delivery(tenantID: acme.id, endpointID: gone.id, eventID: sent.id)?.state == .delivered)
            #expect(try await !store.webhooks.replay(tenantID: acme.id, endpointID: gone.id, eventID: owed.id, now: now))
            #expect(try await store.webhooks.pendingCount() == 1)
            let claimed = try await store.webhooks.claimDue(now: now, leaseUntil: now.addingTimeInterval(30), limit: 10)
            #expect(claimed.map(Self.key) == ["\(kept.id)/\(owed.id)"])

            // A delivery queued by a transaction that read the endpoint before the deletion
            // committed is never handed out: the claim fails it.
            let late = event(acme)
            try await store.audit.append(late)
            try await store.backend.withTransaction { db in
                try await db.raw(
                    """
                    INSERT INTO webhook_deliveries
                        (endpoint_id, event_id, tenant_id, event_type, state, attempts, next_attempt_at, created_at)
                    VALUES (\(bind: gone.id), \(bind: late.id), \(bind: acme.id), \(bind: late.action), 'pending', 0,
                            \(bind: now.ms), \(bind: now.ms))
                    """
                ).run()
            }
            let next = try await store.webhooks.claimDue(now: now, leaseUntil: now.addingTimeInterval(30), limit: 10)
            #expect(next.map(Self.key) == ["\(kept.id)/\(late.id)"])
            let orphan = try #require(try await store.webhooks.delivery(tenantID: acme.id, endpointID: gone.id, eventID: late.id))
            #expect(orphan.state == .failed && orphan.lastError == "endpoint deleted")
        }
    }

    @Test(arguments: Backend.enabled)
    func theLogPagesNewestFirstAndIsSwept(_ backend: Backend) async throws {
        try await withFreshStore(backend) { (store: SQLStore) async throws in
            let acme = try await store.tenants.create(f.tenant("acme"))
            let beta = try await store.tenants.create(f.tenant("beta"))
            let hook = endpoint(acme, ["*"])
            try await store.webhooks.createEndpoint(hook)
            let start = f.clock.now()
            var events: [AuditEvent] = []
            for _ in 0..<5 {
                let e = event(acme)
                events.append(e)
                try await store.audit.append(e)
                f.clock.advance(by: 10)
            }
            func page(_ state: WebhookDelivery.State? = nil, limit: Int = 50, after: String? = nil) async throws -> Page<WebhookDelivery> {
                try await store.webhooks.deliveries(
                    tenantID: acme.id, endpointID: hook.id, state: state, page: PageRequest(limit: limit, after: after))
            }
            let first = try await page(limit: 2)
            #expect(first.items.map(\.eventID) == [events[4].id, events[3].id] && first.nextCursor == events[3].id)
            let second = try await page(limit: 2, after: first.nextCursor)
            #expect(second.items.map(\.eventID) == [events[2].id, events[1].id] && second.nextCursor == events[1].id)
            let last = try await page(limit: 2, after: second.nextCursor)
            #expect(last.items.map(\.eventID) == [events[0].id] && last.nextCursor == nil)
            let elsewhere = try await store.webhooks.deliveries(tenantID: beta.id, endpointID: hook.id, state: nil, page: PageRequest())
            #expect(elsewhere.items.isEmpty)

            let at = f.clock.now()
            try await store.webhooks.markDelivered(endpointID: hook.id, eventID: events[0].id, at: at, status: 200)
            try await store.webhooks.markFailed(
                endpointID: hook.id, eventID: events[1].id, at: at, status: 410, error: "HTTP 410", nextAttemptAt: nil)
            try await store.webhooks.markDelivered(endpointID: hook.id, eventID: events[4].id, at: at, status: 200)
            #expect(try await page(.delivered).items.map(\.eventID) == [events[4].id, events[0].id])
            #expect(try await page(.failed).items.map(\.eventID) == [events[1].id])
            #expect(try await page(.pending).items.map(\.eventID) == [events[3].id, events[2].id])

            // Retention: finished deliveries created before the cut go; pending ones and later ones stay.
            #expect(try await store.webhooks.deleteFinished(before: start.addingTimeInterval(25)) == 2)
            #expect(try await store.webhooks.deleteFinished(before: start.addingTimeInterval(25)) == 0)
            #expect(try await page().items.map(\.eventID) == [events[4].id, events[3].id, events[2].id])
            #expect(try await store.webhooks.pendingCount() == 2)
        }
    }
}
