import Foundation

/// A tenant's webhook endpoint: where Sigil posts the tenant's events, signed with the endpoint's
/// own secret (Standard Webhooks). The secret is needed to sign, so it is kept sealed with the
/// master key (never hashed, never shown again after creation or rotation).
public struct WebhookEndpoint: Codable, Sendable, Equatable {
    public var id: String
    public var tenantID: String
    public var url: String
    public var description: String?
    /// Event types (audit actions, docs/events.md) this endpoint receives; `*` is every one.
    public var eventTypes: [String]
    public var enabled: Bool
    /// The signing secret's bytes, sealed with the master key.
    public var sealedSecret: String
    /// After a rotation, the previous secret, still signing beside the new one until
    /// `previousSecretExpiresAt` (receivers accept either signature).
    public var previousSealedSecret: String?
    public var previousSecretExpiresAt: Date?
    public var createdAt: Date
    public var updatedAt: Date

    public init(
        id: String, tenantID: String, url: String, description: String? = nil, eventTypes: [String], enabled: Bool = true,
        sealedSecret: String, previousSealedSecret: String? = nil, previousSecretExpiresAt: Date? = nil,
        createdAt: Date, updatedAt: Date
    ) {
        self.id = id; self.tenantID = tenantID; self.url = url; self.description = description
        self.eventTypes = eventTypes; self.enabled = enabled; self.sealedSecret = sealedSecret
        self.previousSealedSecret = previousSealedSecret; self.previousSecretExpiresAt = previousSecretExpiresAt
        self.createdAt = createdAt; self.updatedAt = updatedAt
    }

    /// Whether this endpoint takes events of `type`.
    public func subscribes(to type: String) -> Bool { eventTypes.contains("*") || eventTypes.contains(type) }
}

/// One event owed to one endpoint: the outbox row. Written in the same transaction as the audit
/// event it carries (so an event exists exactly when its change committed), claimed by any node
/// with a lease, and kept after delivery for the delivery log and replays.
public struct WebhookDelivery: Codable, Sendable, Equatable {
    public enum State: String, Codable, Sendable, CaseIterable {
        /// Not yet delivered; due at `nextAttemptAt`.
        case pending
        /// The endpoint answered 2xx.
        case delivered
        /// Given up: every attempt over the retry window failed, or the endpoint is gone.
        case failed
    }

    public var endpointID: String
    /// The audit event carried; also the message's `webhook-id` (the same on every retry).
    public var eventID: String
    public var tenantID: String
    public var eventType: String
    public var state: State
    public var attempts: Int
    public var nextAttemptAt: Date
    /// While set and in the future, one node is delivering this row; others leave it alone.
    public var claimedUntil: Date?
    public var lastAttemptAt: Date?
    /// The endpoint's last HTTP status, if it answered.
    public var lastStatus: Int?
    /// Why the last attempt failed (client-safe: no secrets, no response bodies).
    public var lastError: String?
    public var createdAt: Date
    public var deliveredAt: Date?

    public init(
        endpointID: String, eventID: String, tenantID: String, eventType: String, state: State = .pending,
        attempts: Int = 0, nextAttemptAt: Date, claimedUntil: Date? = nil, lastAttemptAt: Date? = nil,
        lastStatus: Int? = nil, lastError: String? = nil, createdAt: Date, deliveredAt: Date? = nil
    ) {
        self.endpointID = endpointID; self.eventID = eventID; self.tenantID = tenantID; self.eventType = eventType
        self.state = state; self.attempts = attempts; self.nextAttemptAt = nextAttemptAt; self.claimedUntil = claimedUntil
        self.lastAttemptAt = lastAttemptAt; self.lastStatus = lastStatus; self.lastError = lastError
        self.createdAt = createdAt; self.deliveredAt = deliveredAt
    }
}

/// What a node needs to make one delivery attempt: the row, its endpoint and its event.
public struct ClaimedWebhookDelivery: Sendable, Equatable {
    public var delivery: WebhookDelivery
    public var endpoint: WebhookEndpoint
    public var event: AuditEvent

    public init(delivery: WebhookDelivery, endpoint: WebhookEndpoint, event: AuditEvent) {
        self.delivery = delivery; self.endpoint = endpoint; self.event = event
    }
}

public protocol WebhookStore: Sendable {
    // MARK: endpoints

    /// Throws `StoreError.notFound` when the tenant does not exist.
    func createEndpoint(_ endpoint: WebhookEndpoint) async throws
    func endpoint(tenantID: String, id: String) async throws -> WebhookEndpoint?
    /// Oldest first.
    func endpoints(tenantID: String) async throws -> [WebhookEndpoint]
    /// Replaces url, description, event types, enabled, secrets and `updatedAt`. Throws
    /// `StoreError.notFound` when there is no such endpoint.
    func updateEndpoint(_ endpoint: WebhookEndpoint) async throws
    /// Deletes the endpoint; its pending deliveries become `failed` ("endpoint deleted") and stay
    /// in the log until they expire with it. `false` when there was none.
    func deleteEndpoint(tenantID: String, id: String, at: Date) async throws -> Bool

    // MARK: outbox

    /// Queues `event` for every endpoint of its tenant subscribed to its action, due at once (a
    /// disabled endpoint's deliveries wait until it is enabled again: `claimDue` skips them). Called by the audit store's `append`, in its transaction; events without a tenant
    /// queue nothing. Returns how many deliveries were queued.
    @discardableResult
    func enqueue(_ event: AuditEvent) async throws -> Int
    /// Claims up to `limit` pending deliveries due at `now` that nobody holds (of enabled
    /// endpoints), leasing each until `leaseUntil`, with their endpoint and event. Two nodes
    /// claiming at once never get the same row.
    func claimDue(now: Date, leaseUntil: Date, limit: Int) async throws -> [ClaimedWebhookDelivery]
    /// Records a 2xx answer: `delivered`, attempts + 1, the claim released.
    func markDelivered(endpointID: String, eventID: String, at: Date, status: Int) async throws
    /// Records a failed attempt: attempts + 1, the claim released, and either due again at
    /// `nextAttemptAt` or, when that is nil, `failed`.
    func markFailed(
        endpointID: String, eventID: String, at: Date, status: Int?, error: String, nextAttemptAt: Date?
    ) async throws
    func delivery(tenantID: String, endpointID: String, eventID: String) async throws -> WebhookDelivery?
    /// An endpoint's deliveries, newest first, optionally of one state.
    func deliveries(
        tenantID: String, endpointID: String, state: WebhookDelivery.State?, page: PageRequest
    ) async throws -> Page<WebhookDelivery>
    /// Sends a delivery again (whatever its state): pending, due at `now`, attempts from zero, the
    /// claim released. `false` when there is no such delivery (or its endpoint is gone).
    func replay(tenantID: String, endpointID: String, eventID: String, now: Date) async throws -> Bool
    /// Deletes delivered and failed deliveries created before `before` (retention). Returns how many.
    func deleteFinished(before: Date) async throws -> Int
    /// How many deliveries are pending, for the metrics gauge.
    func pendingCount() async throws -> Int
}
