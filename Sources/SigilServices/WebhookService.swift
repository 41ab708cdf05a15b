import Crypto
import Foundation
import Logging
import SigilCore
import SigilStore

/// Outbound webhooks (docs/webhooks.md): a tenant's endpoints receive its audit events
/// (docs/events.md) as Standard Webhooks messages, signed with each endpoint's own secret.
///
/// Durable: the audit store queues one delivery row per subscribed endpoint in the same
/// transaction as the event, so an event is owed exactly when its change committed. Any node
/// delivers: `deliverDue` claims due rows with a lease; a node that dies mid-delivery leaves a
/// lease that runs out, and another node sends the message again with the same `webhook-id`, which
/// receivers use to drop duplicates. Failed attempts are retried with exponential backoff and
/// jitter for at least 24 hours (`WebhookRetry`).
public struct WebhookService: Sendable {
    public let context: ServiceContext
    /// How long a claimed delivery is held by the node sending it.
    public var lease: TimeInterval = 30
    /// How large a response body is read (and then dropped: bodies are never stored).
    static let responseLimit = 1024 * 1024

    public init(context: ServiceContext) { self.context = context }

    // MARK: endpoints

    /// A new endpoint and its secret (`whsec_…`), shown this once.
    public struct Created: Sendable {
        public var endpoint: WebhookEndpoint
        public var secret: Secret<String>
    }

    public func create(
        tenantID: String, url: String, description: String?, eventTypes: [String], enabled: Bool = true, by principal: Principal
    ) async throws -> Created {
        try authorize(principal, tenantID)
        let types = try validate(url: url, description: description, eventTypes: eventTypes)
        let now = context.clock.now()
        let id = context.ids.make(.webhookEndpoint)
        let (secret, sealed) = try newSecret(tenantID: tenantID, id: id)
        let endpoint = WebhookEndpoint(
            id: id, tenantID: tenantID, url: url, description: description, eventTypes: types, enabled: enabled, sealedSecret: sealed,
            createdAt: now, updatedAt: now)
        let context = self.context
        try await context.store.transaction { tx in
            try await tx.webhooks.createEndpoint(endpoint)
            try await tx.audit.append(
                context.auditEvent(
                    "webhook.endpoint_created", by: principal, tenantID: tenantID, targetType: "webhook_endpoint", targetID: id,
                    after: Self.summary(endpoint)))
        }
        return Created(endpoint: endpoint, secret: secret)
    }

    public func endpoints(tenantID: String, by principal: Principal) async throws -> [WebhookEndpoint] {
        try authorize(principal, tenantID)
        return try await context.store.webhooks.endpoints(tenantID: tenantID)
    }

    public func endpoint(tenantID: String, id: String, by principal: Principal) async throws -> WebhookEndpoint {
        try authorize(principal, tenantID)
        guard let endpoint = try await context.store.webhooks.endpoint(tenantID: tenantID, id: id) else {
            throw StoreError.notFound("webhook endpoint", id)
        }
        return endpoint
    }

    /// What an update may change; nil leaves a field as it is.
    public struct Change: Sendable {
        public var url: String?
        public var description: String?
        public var eventTypes: [String]?
        public var enabled: Bool?
        public init(url: String? = nil, description: String? = nil, eventTypes: [String]? = nil, enabled: Bool? = nil) {
            self.url = url; self.description = description; self.eventTypes = eventTypes; self.enabled = enabled
        }
    }

    public func update(tenantID: String, id: String, _ change: Change, by principal: Principal) async throws -> WebhookEndpoint {
        var endpoint = try await self.endpoint(tenantID: tenantID, id: id, by: principal)
        let before = Self.summary(endpoint)
        let types = try validate(
            url: change.url ?? endpoint.url, description: change.description ?? endpoint.description,
            eventTypes: change.eventTypes ?? endpoint.eventTypes)
        endpoint.url = change.url ?? endpoint.url
        endpoint.description = change.description ?? endpoint.description
        endpoint.eventTypes = types
        endpoint.enabled = change.enabled ?? endpoint.enabled
        endpoint.updatedAt = context.clock.now()
        try await save(endpoint, "webhook.endpoint_updated", by: principal, before: before, after: Self.summary(endpoint))
        return endpoint
    }

    /// Writes a changed endpoint with its audit event, in one transaction.
    func save(
        _ endpoint: WebhookEndpoint, _ action: String, by principal: Principal, before: [String: String]?, after: [String: String]
    ) async throws {
        let context = self.context
        try await context.store.transaction { tx in
            try await tx.webhooks.updateEndpoint(endpoint)
            try await tx.audit.append(
                context.auditEvent(
                    action, by: principal, tenantID: endpoint.tenantID, targetType: "webhook_endpoint", targetID: endpoint.id,
                    before: before, after: after))
        }
    }

    public func delete(tenantID: String, id: String, by principal: Principal) async throws {
        try authorize(principal, tenantID)
        let now = context.clock.now()
        let context = self.context
        try await context.store.transaction { tx in
            guard try await tx.webhooks.deleteEndpoint(tenantID: tenantID, id: id, at: now) else {
                throw StoreError.notFound("webhook endpoint", id)
            }
            try await tx.audit.append(
                context.auditEvent("webhook.endpoint_deleted", by: principal, tenantID: tenantID, targetType: "webhook_endpoint", targetID: id))
        }
    }

    /// A new secret, shown this once. The old one keeps signing beside it (both signatures in
    /// `webhook-signature`) for `overlap` seconds, so receivers can switch without losing messages.
    public func rotateSecret(tenantID: String, id: String, overlap: TimeInterval, by principal: Principal) async throws -> Created {
        try Validate.rotationOverlap(overlap)
        var endpoint = try await self.endpoint(tenantID: tenantID, id: id, by: principal)
        let now = context.clock.now()
        let (secret, sealed) = try newSecret(tenantID: tenantID, id: id)
        endpoint.previousSealedSecret = overlap > 0 ? endpoint.sealedSecret : nil
        endpoint.previousSecretExpiresAt = overlap > 0 ? now.addingTimeInterval(overlap) : nil
        endpoint.sealedSecret = sealed
        endpoint.updatedAt = now
        try await save(endpoint, "webhook.secret_rotated", by: principal, before: nil, after: ["overlap_seconds": String(Int(overlap))])
        return Created(endpoint: endpoint, secret: secret)
    }

    public func deliveries(
        tenantID: String, endpointID: String, state: WebhookDelivery.State?, page: PageRequest, by principal: Principal
    ) async throws -> Page<WebhookDelivery> {
        _ = try await endpoint(tenantID: tenantID, id: endpointID, by: principal)
        return try await context.store.webhooks.deliveries(tenantID: tenantID, endpointID: endpointID, state: state, page: page)
    }

    /// Sends a delivery again, whatever its state: due now, with the same `webhook-id`.
    public func replay(tenantID: String, endpointID: String, eventID: String, by principal: Principal) async throws -> WebhookDelivery {
        try authorize(principal, tenantID)
        let now = context.clock.now()
        let context = self.context
        return try await context.store.transaction { tx in
            guard try await tx.webhooks.replay(tenantID: tenantID, endpointID: endpointID, eventID: eventID, now: now),
                let delivery = try await tx.webhooks.delivery(tenantID: tenantID, endpointID: endpointID, eventID: eventID)
            else { throw StoreError.notFound("webhook delivery", eventID) }
            try await tx.audit.append(
                context.auditEvent(
                    "webhook.delivery_replayed", by: principal, tenantID: tenantID, targetType: "webhook_endpoint", targetID: endpointID,
                    after: ["event_id": eventID]))
            return delivery
        }
    }

    // MARK: delivery

    /// What one pass of `deliverDue` did.
    public struct Pass: Sendable, Equatable {
        public var claimed = 0
        public var delivered = 0
        public var retrying = 0
        public var failed = 0
    }

    /// Claims up to `limit` due deliveries and attempts each once. Never throws: a store error
    /// ends the pass (the rows' leases run out and any node tries again).
    public func deliverDue(limit: Int = 50) async -> Pass {
        var pass = Pass()
        let now = context.clock.now()
        let claimed: [ClaimedWebhookDelivery]
        do {
            claimed = try await context.store.webhooks.claimDue(now: now, leaseUntil: now.addingTimeInterval(lease), limit: limit)
        } catch {
            context.logger.warning("webhook claim failed", metadata: ["error": .string("\(error)")])
            return pass
        }
        pass.claimed = claimed.count
        await withTaskGroup(of: AttemptOutcome.self) { group in
            for item in claimed { group.addTask { await self.attempt(item) } }
            for await outcome in group {
                switch outcome {
                case .delivered: pass.delivered += 1
                case .retrying: pass.retrying += 1
                case .failed: pass.failed += 1
                }
            }
        }
        return pass
    }

    enum AttemptOutcome { case delivered, retrying, failed }

    func attempt(_ item: ClaimedWebhookDelivery) async -> AttemptOutcome {
        let d = item.delivery
        let metadata: Logger.Metadata = [
            "endpoint": .string(d.endpointID), "webhook_id": .string(d.eventID), "event_type": .string(d.eventType),
            "attempt": .stringConvertible(d.attempts + 1),
        ]
        var status: Int?
        var failure: String
        do {
            let message = try sign(item, at: context.clock.now())
            guard let url = URL(string: item.endpoint.url) else { throw WebhookError("the endpoint URL is not a URL") }
            let response = try await context.remote.send(
                OutboundRequest(method: "POST", url: url, headers: message.headers, body: message.body), limit: Self.responseLimit)
            status = response.status
            if (200..<300).contains(response.status) {
                do {
                    try await context.store.webhooks.markDelivered(
                        endpointID: d.endpointID, eventID: d.eventID, at: context.clock.now(), status: response.status)
                } catch {
                    // Delivered but not recorded: the lease runs out and the message goes again
                    // (same webhook-id, dropped by the receiver).
                    context.logger.warning("webhook delivered, not recorded", metadata: metadata.merging(["error": .string("\(error)")]) { $1 })
                }
                context.logger.info("webhook delivered", metadata: metadata.merging(["status": .stringConvertible(response.status)]) { $1 })
                return .delivered
            }
            failure = "HTTP \(response.status)"
        } catch let error as WebhookError {
            failure = error.message
        } catch {
            failure = Self.describe(error)
        }
        if Task.isCancelled {
            // Shutdown interrupted the attempt: it does not count. The lease runs out and this
            // node (after a restart) or another sends the message again.
            context.logger.info("webhook attempt interrupted by shutdown", metadata: metadata)
            return .retrying
        }
        let now = context.clock.now()
        let next = WebhookRetry.nextAttempt(after: d.attempts + 1, createdAt: d.createdAt, now: now, jitter: context.random.unitInterval())
        do {
            try await context.store.webhooks.markFailed(
                endpointID: d.endpointID, eventID: d.eventID, at: now, status: status, error: failure, nextAttemptAt: next)
        } catch {
            context.logger.warning("webhook attempt not recorded", metadata: metadata.merging(["error": .string("\(error)")]) { $1 })
        }
        context.logger.info(
            next == nil ? "webhook delivery failed for good" : "webhook attempt failed",
            metadata: metadata.merging(["reason": .string(failure)]) { $1 })
        return next == nil ? .failed : .retrying
    }

    static func describe(_ error: any Error) -> String {
        switch error {
        case RemoteFetchError.notAllowed(let why): "the URL is not allowed: \(why)"
        case RemoteFetchError.timeout: "no answer in time"
        case RemoteFetchError.disabled: "outbound requests are disabled"
        case RemoteFetchError.addressNotPermitted: "the host resolved to an address Sigil does not post to"
        case RemoteFetchError.unreachable(let why): "not reachable: \(why)"
        default: "not reachable"
        }
    }

    // MARK: messages

    /// A signed message ready to post.
    public struct Message: Sendable {
        public var headers: [(String, String)]
        public var body: [UInt8]
    }

    /// The Standard Webhooks message for a claimed delivery: the JSON body (`type`, `timestamp`,
    /// `data`) and the `webhook-id` (the audit event's id), `webhook-timestamp` and
    /// `webhook-signature` headers (`v1,` + base64 HMAC-SHA256 of `id.timestamp.body` under each
    /// current secret).
    func sign(_ item: ClaimedWebhookDelivery, at now: Date) throws -> Message {
        let body = try Self.body(item.event)
        var keys = [try secretBytes(item.endpoint.sealedSecret, tenantID: item.endpoint.tenantID, id: item.endpoint.id)]
        if let previous = item.endpoint.previousSealedSecret, let until = item.endpoint.previousSecretExpiresAt, now < until {
            keys.append(try secretBytes(previous, tenantID: item.endpoint.tenantID, id: item.endpoint.id))
        }
        let timestamp = String(Int64(now.timeIntervalSince1970.rounded(.down)))
        let signatures = keys.map { Self.signature(key: $0, id: item.delivery.eventID, timestamp: timestamp, body: body) }
        return Message(
            headers: [
                ("content-type", "application/json"), ("webhook-id", item.delivery.eventID), ("webhook-timestamp", timestamp),
                ("webhook-signature", signatures.joined(separator: " ")), ("user-agent", "Sigil-Webhooks/1"),
            ],
            body: body)
    }

    /// `v1,` + base64(HMAC-SHA256(key, "id.timestamp.body")).
    public static func signature(key: [UInt8], id: String, timestamp: String, body: [UInt8]) -> String {
        var signed = Array("\(id).\(timestamp).".utf8)
        signed += body
        let mac = HMAC<SHA256>.authenticationCode(for: signed, using: SymmetricKey(data: key))
        return "v1," + Data(mac).base64EncodedString()
    }

    /// The message body: the event type, when it happened, and the audit event's client-safe
    /// summary (never a secret: audit events carry none).
    static func body(_ event: AuditEvent) throws -> [UInt8] {
        struct Body: Encodable {
            var type: String
            var timestamp: String
            var data: Data
            struct Data: Encodable {
                var id: String
                var tenant_id: String?
                var actor: String
                var outcome: String
                var target: Target?
                var before: [String: String]?
                var after: [String: String]?
                var reason: String?
            }
            struct Target: Encodable {
                var type: String?
                var id: String?
            }
        }
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        let body = Body(
            type: event.action, timestamp: formatter.string(from: event.occurredAt),
            data: .init(
                id: event.id, tenant_id: event.tenantID, actor: event.actor, outcome: event.outcome.rawValue,
                target: event.targetType == nil && event.targetID == nil ? nil : .init(type: event.targetType, id: event.targetID),
                before: event.before, after: event.after, reason: event.reason))
        return Array(try JSONEncoder.sorted.encode(body))
    }

    // MARK: secrets and validation

    static let secretPrefix = "whsec_"

    func newSecret(tenantID: String, id: String) throws -> (Secret<String>, String) {
        let bytes = context.random.bytes(32)
        let sealed = try context.masterKey.seal(bytes, context: Self.secretContext(tenantID: tenantID, id: id))
        return (Secret(Self.secretPrefix + Data(bytes).base64EncodedString()), sealed)
    }

    func secretBytes(_ sealed: String, tenantID: String, id: String) throws -> [UInt8] {
        try context.masterKey.open(sealed, context: Self.secretContext(tenantID: tenantID, id: id))
    }

    static func secretContext(tenantID: String, id: String) -> String { "sigil/webhook-secret/\(tenantID)/\(id)" }

    /// Event types look like audit actions (`idv.decided`), or `*` for all.
    static func isEventType(_ t: String) -> Bool {
        if t == "*" { return true }
        guard (3...64).contains(t.utf8.count), t.contains(".") else { return false }
        return t.utf8.allSatisfy { (0x61...0x7A).contains($0) || (0x30...0x39).contains($0) || $0 == 0x2E || $0 == 0x5F }
    }

    func validate(url: String, description: String?, eventTypes: [String]) throws -> [String] {
        var errors: [FieldError] = []
        if let why = context.remote.refusal(url) { errors.append(FieldError(field: "url", message: "url \(why)")) }
        if let description, description.count > 200 || description.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
            errors.append(FieldError(field: "description", message: "description is at most 200 characters, no control characters"))
        }
        let types = Array(Set(eventTypes)).sorted()
        if types.isEmpty || types.count > 50 {
            errors.append(FieldError(field: "event_types", message: "event_types lists 1 to 50 event types (docs/events.md), or [\"*\"] for all"))
        } else if let bad = types.first(where: { !Self.isEventType($0) }) {
            errors.append(FieldError(field: "event_types", message: "\"\(bad.prefix(64))\" is not an event type (docs/events.md)"))
        }
        guard errors.isEmpty else { throw ServiceError.invalid(errors) }
        return types
    }

    static func summary(_ e: WebhookEndpoint) -> [String: String] {
        ["url": e.url, "event_types": e.eventTypes.joined(separator: " "), "enabled": e.enabled ? "true" : "false"]
    }
}

/// A delivery attempt that could not be made (the reason is client-safe).
struct WebhookError: Error {
    let message: String
    init(_ message: String) { self.message = message }
}

/// When a failed delivery is tried again: exponential backoff (5 s, then ×4 up to 6 hours) with
/// ±20 % jitter, until an attempt fails 24 hours or more after the event; then never (`failed`).
public enum WebhookRetry {
    public static let window: TimeInterval = 24 * 3600
    static let first: TimeInterval = 5
    static let cap: TimeInterval = 6 * 3600

    /// The base delay after `attempts` failed attempts (1-based).
    public static func delay(afterAttempts attempts: Int) -> TimeInterval {
        min(cap, first * pow(4, Double(max(0, min(attempts - 1, 12)))))
    }

    /// The next attempt's time, or nil to give up. `jitter` is uniform in [0, 1).
    public static func nextAttempt(after attempts: Int, createdAt: Date, now: Date, jitter: Double) -> Date? {
        if now.timeIntervalSince(createdAt) >= window { return nil }
        let base = delay(afterAttempts: attempts)
        return now.addingTimeInterval(base * (0.8 + 0.4 * min(max(jitter, 0), 1)))
    }
}

extension RandomSource {
    /// A uniform double in [0, 1) from 53 random bits.
    func unitInterval() -> Double {
        let b = bytes(8)
        let v = b.reduce(UInt64(0)) { $0 << 8 | UInt64($1) } >> 11
        return Double(v) / Double(UInt64(1) << 53)
    }
}
