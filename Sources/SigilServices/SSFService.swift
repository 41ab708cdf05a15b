import Foundation
import Logging
import SigilCore
import SigilJOSE
import SigilStore

/// The Shared Signals transmitter (OpenID SSF 1.0, CAEP 1.0, RISC; docs/ssf.md): receivers are
/// OAuth clients of the tenant (client credentials, scopes `ssf.manage` and `ssf.read`) that
/// create streams, name their subjects, verify the stream, and receive Security Event Tokens
/// (RFC 8417) by push (RFC 8935) or poll (RFC 8936). The events are queued with the audit event
/// that raised them (`SSFSignal`), so none is lost between the change and its signal.
public struct SSFService: Sendable {
    public let context: ServiceContext
    public var lease: TimeInterval = 30

    public init(context: ServiceContext) { self.context = context }

    public static let push = "urn:ietf:rfc:8935"
    public static let poll = "urn:ietf:rfc:8936"
    public static let manageScope = "ssf.manage"
    public static let readScope = "ssf.read"
    public static let minVerificationInterval = 30
    public static let responseLimit = 64 * 1024

    public struct Failure: Error, Sendable, Equatable {
        public enum Kind: Sendable, Equatable { case invalid, notFound }
        public var kind: Kind
        public var message: String
        init(_ kind: Kind, _ message: String) { self.kind = kind; self.message = message }
    }

    // MARK: metadata

    /// SSF §7.1 transmitter configuration metadata.
    public static func configuration(issuer: String) -> [String: JSONValue] {
        [
            "spec_version": "1_0", "issuer": .string(issuer), "jwks_uri": .string(issuer + "/oauth2/jwks"),
            "delivery_methods_supported": .strings([push, poll]),
            "configuration_endpoint": .string(issuer + "/ssf/streams"), "status_endpoint": .string(issuer + "/ssf/status"),
            "add_subject_endpoint": .string(issuer + "/ssf/subjects/add"),
            "remove_subject_endpoint": .string(issuer + "/ssf/subjects/remove"),
            "verification_endpoint": .string(issuer + "/ssf/verify"),
            "authorization_schemes": .array([.object(["spec_urn": "urn:ietf:rfc:6749"])]), "default_subjects": "NONE",
        ]
    }

    // MARK: streams

    public struct StreamInput: Sendable {
        public var deliveryMethod: String?
        public var endpointURL: String?
        public var authorizationHeader: String?
        public var eventsRequested: [String]?
        public var description: String?
        public var profile: String?
        public init(
            deliveryMethod: String? = nil, endpointURL: String? = nil, authorizationHeader: String? = nil, eventsRequested: [String]? = nil,
            description: String? = nil, profile: String? = nil
        ) {
            self.deliveryMethod = deliveryMethod; self.endpointURL = endpointURL; self.authorizationHeader = authorizationHeader
            self.eventsRequested = eventsRequested; self.description = description; self.profile = profile
        }
    }

    static func authorizationContext(_ tenantID: String, _ id: String) -> String { "sigil/ssf-authorization/\(tenantID)/\(id)" }

    /// The events a stream may be sent, from what it asked (the Okta profile takes the CAEP and
    /// RISC types Okta's receiver accepts; see docs/ssf.md).
    static func delivered(_ requested: [String], profile: String) -> [String] {
        let supported = profile == "okta" ? SSFSignal.oktaSupported : SSFSignal.supported
        return requested.filter { supported.contains($0) }
    }

    func validated(_ input: StreamInput, into stream: inout SSFStream) throws {
        if let method = input.deliveryMethod {
            guard method == Self.push || method == Self.poll else {
                throw Failure(.invalid, "delivery.method must be \(Self.push) (push) or \(Self.poll) (poll)")
            }
            stream.deliveryMethod = method
        }
        if stream.deliveryMethod == Self.push {
            if let url = input.endpointURL { stream.endpointURL = url }
            guard let url = stream.endpointURL, url.utf8.count <= 2048 else { throw Failure(.invalid, "push delivery needs delivery.endpoint_url") }
            if let why = context.remote.refusal(url) { throw Failure(.invalid, "delivery.endpoint_url \(why)") }
            if let header = input.authorizationHeader {
                guard header.utf8.count <= 4096, !header.contains("\r"), !header.contains("\n") else {
                    throw Failure(.invalid, "delivery.authorization_header is at most 4096 bytes on one line")
                }
                stream.sealedAuthorization = try context.masterKey.seal(Array(header.utf8), context: Self.authorizationContext(stream.tenantID, stream.id))
            }
        } else {
            stream.endpointURL = nil
            stream.sealedAuthorization = nil
        }
        if let profile = input.profile {
            guard profile == "standard" || profile == "okta" else { throw Failure(.invalid, "profile is standard or okta") }
            stream.profile = profile
        }
        if let requested = input.eventsRequested {
            guard requested.count <= 20, requested.allSatisfy({ $0.utf8.count <= 256 }) else {
                throw Failure(.invalid, "events_requested lists at most 20 URIs")
            }
            stream.eventsRequested = requested
        }
        stream.eventsDelivered = Self.delivered(stream.eventsRequested, profile: stream.profile)
        // Okta's receiver takes pushed SETs only, for every user (it never adds subjects).
        if stream.profile == "okta", stream.deliveryMethod != Self.push { throw Failure(.invalid, "the okta profile is delivered by push") }
        if let d = input.description {
            guard d.count <= 200, !d.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
                throw Failure(.invalid, "description is at most 200 characters, no control characters")
            }
            stream.description = d
        }
    }

    public func create(tenantID: String, clientID: String, _ input: StreamInput) async throws -> SSFStream {
        let now = context.clock.now()
        // SSF §8.1.1.1: without a delivery method the transmitter assumes poll.
        var input = input
        if input.deliveryMethod == nil { input.deliveryMethod = Self.poll }
        var stream = SSFStream(
            id: context.ids.make(.ssfStream), tenantID: tenantID, clientID: clientID, description: nil, deliveryMethod: input.deliveryMethod ?? "",
            endpointURL: nil, sealedAuthorization: nil, eventsRequested: [], eventsDelivered: [], profile: "standard", status: "enabled",
            statusReason: nil, createdAt: now, updatedAt: now)
        try validated(input, into: &stream)
        let created = stream
        let context = self.context
        try await context.store.transaction { tx in
            try await tx.ssf.createStream(created)
            try await tx.audit.append(
                context.auditEvent(
                    "ssf.stream_created", by: .client(clientID), tenantID: tenantID, targetType: "ssf_stream", targetID: created.id,
                    after: Self.summary(created)))
        }
        return created
    }

    /// The client's own stream; another client's is `notFound` (never "forbidden": ids are not
    /// confirmed to strangers).
    public func stream(tenantID: String, clientID: String, id: String) async throws -> SSFStream {
        guard let s = try await context.store.ssf.stream(tenantID: tenantID, id: id), s.clientID == clientID else {
            throw Failure(.notFound, "no such stream")
        }
        return s
    }

    public func streams(tenantID: String, clientID: String) async throws -> [SSFStream] {
        try await context.store.ssf.streams(tenantID: tenantID, clientID: clientID)
    }

    /// PATCH (`replace` false: the fields given) or PUT (`replace` true: the whole configuration).
    public func update(tenantID: String, clientID: String, id: String, _ input: StreamInput, replace: Bool) async throws -> SSFStream {
        var s = try await stream(tenantID: tenantID, clientID: clientID, id: id)
        var input = input
        if replace {
            if input.deliveryMethod == nil { input.deliveryMethod = Self.poll }
            s.description = nil; s.eventsRequested = []; s.profile = "standard"; s.endpointURL = nil; s.sealedAuthorization = nil
        }
        try validated(input, into: &s)
        return try await save(s, "ssf.stream_updated", after: Self.summary(s), reason: nil)
    }

    /// Stores a changed stream with its audit event, in one transaction (by its receiver unless
    /// `principal` says who else).
    func save(_ stream: SSFStream, _ action: String, by principal: Principal? = nil, after: [String: String], reason: String?) async throws
        -> SSFStream
    {
        var updated = stream
        updated.updatedAt = context.clock.now()
        let saved = updated
        let context = self.context
        try await context.store.transaction { tx in
            try await tx.ssf.updateStream(saved)
            try await tx.audit.append(
                context.auditEvent(
                    action, by: principal ?? .client(saved.clientID), tenantID: saved.tenantID, targetType: "ssf_stream", targetID: saved.id,
                    after: after, reason: reason))
        }
        return saved
    }

    public func delete(tenantID: String, clientID: String, id: String) async throws {
        _ = try await stream(tenantID: tenantID, clientID: clientID, id: id)
        let context = self.context
        try await context.store.transaction { tx in
            _ = try await tx.ssf.deleteStream(tenantID: tenantID, id: id)
            try await tx.audit.append(
                context.auditEvent("ssf.stream_deleted", by: .client(clientID), tenantID: tenantID, targetType: "ssf_stream", targetID: id))
        }
    }

    // MARK: the administrator's view (admin API `/ssf/streams`)

    /// Every receiver's streams of the tenant, oldest first.
    public func adminStreams(tenantID: String, by principal: Principal) async throws -> [SSFStream] {
        try authorize(principal, tenantID)
        return try await context.store.ssf.streams(tenantID: tenantID, clientID: nil)
    }

    public func adminStream(tenantID: String, id: String, by principal: Principal) async throws -> SSFStream {
        try authorize(principal, tenantID)
        guard let s = try await context.store.ssf.stream(tenantID: tenantID, id: id) else { throw StoreError.notFound("ssf stream", id) }
        return s
    }

    /// An administrator pauses, disables or re-enables a receiver's stream (audited as theirs).
    public func adminSetStatus(tenantID: String, id: String, status: String, reason: String?, by principal: Principal) async throws -> SSFStream {
        var s = try await adminStream(tenantID: tenantID, id: id, by: principal)
        guard ["enabled", "paused", "disabled"].contains(status) else {
            throw ServiceError.invalid([FieldError(field: "status", message: "status is enabled, paused or disabled")])
        }
        if let reason, reason.isEmpty || reason.count > 200 {
            throw ServiceError.invalid([FieldError(field: "reason", message: "reason is 1 to 200 characters")])
        }
        s.status = status
        s.statusReason = reason
        return try await save(s, "ssf.stream_status", by: principal, after: ["status": status], reason: reason)
    }

    /// An administrator deletes a receiver's stream, with its subjects and undelivered events.
    public func adminDelete(tenantID: String, id: String, by principal: Principal) async throws {
        let s = try await adminStream(tenantID: tenantID, id: id, by: principal)
        let context = self.context
        try await context.store.transaction { tx in
            _ = try await tx.ssf.deleteStream(tenantID: tenantID, id: id)
            try await tx.audit.append(
                context.auditEvent(
                    "ssf.stream_deleted", by: principal, tenantID: tenantID, targetType: "ssf_stream", targetID: id,
                    after: ["client": s.clientID]))
        }
    }

    public func setStatus(tenantID: String, clientID: String, id: String, status: String, reason: String?) async throws -> SSFStream {
        var s = try await stream(tenantID: tenantID, clientID: clientID, id: id)
        guard ["enabled", "paused", "disabled"].contains(status) else { throw Failure(.invalid, "status is enabled, paused or disabled") }
        if let reason, reason.count > 200 { throw Failure(.invalid, "reason is at most 200 characters") }
        s.status = status
        s.statusReason = reason
        return try await save(s, "ssf.stream_status", after: ["status": status], reason: reason)
    }

    // MARK: subjects

    /// The user a subject (RFC 9493) names: `email`, `opaque` (a Sigil user id) or `iss_sub`
    /// (this issuer and a user id). nil for a well-formed subject Sigil does not know (SSF lets a
    /// transmitter not reveal that).
    func user(tenantID: String, issuer: String, subject: JSONValue) async throws -> User? {
        guard case .object(let o) = subject, let format = o["format"]?.string else { throw Failure(.invalid, "subject.format is required") }
        switch format {
        case "email":
            guard let email = o["email"]?.string, email.utf8.count <= 320 else { throw Failure(.invalid, "an email subject needs email") }
            return try await context.store.users.find(tenantID: tenantID, email: email.trimmingCharacters(in: .whitespaces).lowercased())
        case "opaque":
            guard let id = o["id"]?.string, id.utf8.count <= 64 else { throw Failure(.invalid, "an opaque subject needs id") }
            return id.hasPrefix("usr_") ? try? await context.store.users.get(tenantID: tenantID, id: id) : nil
        case "iss_sub":
            guard let iss = o["iss"]?.string, let sub = o["sub"]?.string else { throw Failure(.invalid, "an iss_sub subject needs iss and sub") }
            return iss == issuer && sub.hasPrefix("usr_") ? try? await context.store.users.get(tenantID: tenantID, id: sub) : nil
        default:
            throw Failure(.invalid, "subject.format must be email, opaque or iss_sub")
        }
    }

    public func addSubject(tenantID: String, clientID: String, issuer: String, streamID: String, subject: JSONValue) async throws {
        let s = try await stream(tenantID: tenantID, clientID: clientID, id: streamID)
        guard let user = try await user(tenantID: tenantID, issuer: issuer, subject: subject) else { return }
        let text = String(decoding: try subject.serialized(), as: UTF8.self)
        let context = self.context
        try await context.store.transaction { tx in
            try await tx.ssf.addSubject(streamID: s.id, userID: user.id, subject: text, at: context.clock.now())
            try await tx.audit.append(
                context.auditEvent(
                    "ssf.subject_added", by: .client(clientID), tenantID: tenantID, targetType: "ssf_stream", targetID: s.id,
                    after: ["user": user.id]))
        }
    }

    public func removeSubject(tenantID: String, clientID: String, issuer: String, streamID: String, subject: JSONValue) async throws {
        let s = try await stream(tenantID: tenantID, clientID: clientID, id: streamID)
        guard let user = try await user(tenantID: tenantID, issuer: issuer, subject: subject) else { return }
        let context = self.context
        try await context.store.transaction { tx in
            if try await tx.ssf.removeSubject(streamID: s.id, userID: user.id) {
                try await tx.audit.append(
                    context.auditEvent(
                        "ssf.subject_removed", by: .client(clientID), tenantID: tenantID, targetType: "ssf_stream", targetID: s.id,
                        after: ["user": user.id]))
            }
        }
    }

    // MARK: verification

    /// SSF §8.1.4: a verification event with the receiver's `state` goes out through the stream.
    public func verify(tenantID: String, clientID: String, streamID: String, state: String?) async throws {
        let s = try await stream(tenantID: tenantID, clientID: clientID, id: streamID)
        if let state, state.utf8.count > 256 { throw Failure(.invalid, "state is at most 256 bytes") }
        let now = context.clock.now()
        var claims: [String: String] = [:]
        if let state { claims["state"] = state }
        let subject = String(decoding: try JSONValue.object(["format": "opaque", "id": .string(s.id)]).serialized(), as: UTF8.self)
        try await context.store.ssf.enqueue(
            SSFEvent(
                streamID: s.id, jti: context.ids.make(.auditEvent) + ".v", tenantID: tenantID, eventType: SSFSignal.verification, subject: subject,
                payload: String(decoding: try JSONEncoder.sorted.encode(claims), as: UTF8.self), eventTime: now, nextAttemptAt: now,
                createdAt: now))
    }

    // MARK: SETs

    /// RFC 8417 / SSF §4: `iss jti iat aud sub_id events`, header `typ` `secevent+jwt`, signed
    /// with the tenant's current RS256 key. The Okta profile puts the subject inside the event.
    public func set(_ e: SSFEvent, stream: SSFStream, issuer: String) async throws -> String {
        let key = try await KeyService(context: context).currentSigningKey(tenantID: stream.tenantID, algorithm: .rs256)
        let subject = try JSONValue.parse(Array(e.subject.utf8))
        var event: [String: JSONValue] = [:]
        if case .object(let claims) = try JSONValue.parse(Array(e.payload.utf8)) { event = claims }
        let timestamp = Int64(e.eventTime.timeIntervalSince1970)
        if e.eventType != SSFSignal.verification { event["event_timestamp"] = .int(timestamp) }
        if let reason = event.removeValue(forKey: "reason_admin") { event["reason_admin"] = .object(["en": reason]) }
        var claims: [String: JSONValue] = [
            "iss": .string(issuer), "jti": .string(e.jti), "iat": .int(Int64(context.clock.now().timeIntervalSince1970)),
            "aud": .string(stream.clientID),
        ]
        if stream.profile == "okta" {
            // Okta: only iss, aud (the org's URL), jti, iat and events; the subject inside the event.
            claims["aud"] = .string(stream.endpointURL.flatMap(WebOrigin.of) ?? stream.clientID)
            event["subject"] = subject
        } else {
            claims["txn"] = .string(String(e.jti.split(separator: ".").first ?? ""))
            claims["sub_id"] = subject
        }
        claims["events"] = .object([e.eventType: .object(event)])
        return try JWS.sign(payload: claims, key: key, type: "secevent+jwt")
    }

    // MARK: push delivery (RFC 8935)

    public struct Pass: Sendable, Equatable {
        public var claimed = 0
        public var delivered = 0
        public var retrying = 0
        public var failed = 0
    }

    /// Pushes due SETs once each. `issuer(tenantID)` gives the tenant's issuer. Never throws.
    public func deliverDue(limit: Int = 50, issuer: @Sendable (String) async -> String?) async -> Pass {
        var pass = Pass()
        let now = context.clock.now()
        let claimed: [(SSFEvent, SSFStream)]
        do {
            claimed = try await context.store.ssf.claimDuePush(now: now, leaseUntil: now.addingTimeInterval(lease), limit: limit)
        } catch {
            context.logger.warning("ssf claim failed", metadata: ["error": .string("\(error)")])
            return pass
        }
        pass.claimed = claimed.count
        for (event, stream) in claimed {
            // Graceful shutdown: the rest stay leased and go out once the lease runs out.
            if Task.isCancelled { break }
            switch await attempt(event, stream: stream, issuer: await issuer(stream.tenantID)) {
            case .delivered: pass.delivered += 1
            case .retrying: pass.retrying += 1
            case .failed: pass.failed += 1
            }
        }
        return pass
    }

    enum Outcome { case delivered, retrying, failed }

    func attempt(_ e: SSFEvent, stream: SSFStream, issuer: String?) async -> Outcome {
        let metadata: Logger.Metadata = [
            "stream": .string(stream.id), "jti": .string(e.jti), "event_type": .string(e.eventType), "attempt": .stringConvertible(e.attempts + 1),
        ]
        var failure: String
        var permanent = false
        do {
            guard let issuer else { throw Failure(.invalid, "the tenant is gone") }
            guard let endpoint = stream.endpointURL, let url = URL(string: endpoint) else { throw Failure(.invalid, "no push endpoint") }
            let token = try await set(e, stream: stream, issuer: issuer)
            var headers = [("Content-Type", "application/secevent+jwt"), ("Accept", "application/json")]
            if let sealed = stream.sealedAuthorization {
                let value = try context.masterKey.open(sealed, context: Self.authorizationContext(stream.tenantID, stream.id))
                headers.append(("Authorization", String(decoding: value, as: UTF8.self)))
            }
            let response = try await context.remote.send(
                OutboundRequest(method: "POST", url: url, headers: headers, body: Array(token.utf8)), limit: Self.responseLimit)
            if response.status == 202 || response.status == 200 {
                try? await context.store.ssf.markDelivered(streamID: stream.id, jti: e.jti)
                context.logger.info("ssf event delivered", metadata: metadata)
                return .delivered
            }
            failure = "HTTP \(response.status)"
            // RFC 8935 §2.3: a 400 names what the receiver rejects; sending the same SET again
            // would get the same answer.
            if response.status == 400 {
                permanent = true
                if case .object(let o)? = try? JSONValue.parse(response.body), let err = o["err"]?.string {
                    failure += " " + String(err.prefix(64))
                }
            }
        } catch let error as Failure {
            failure = error.message
        } catch {
            failure = WebhookService.describe(error)
        }
        if Task.isCancelled {
            // Interrupted by shutdown: not an attempt; sent again once the lease runs out.
            context.logger.info("ssf push interrupted by shutdown", metadata: metadata)
            return .retrying
        }
        let now = context.clock.now()
        let next =
            permanent ? nil : WebhookRetry.nextAttempt(after: e.attempts + 1, createdAt: e.createdAt, now: now, jitter: context.random.unitInterval())
        try? await context.store.ssf.markFailed(streamID: stream.id, jti: e.jti, error: failure, nextAttemptAt: next)
        context.logger.info(
            next == nil ? "ssf event failed for good" : "ssf push failed", metadata: metadata.merging(["reason": .string(failure)]) { $1 })
        return next == nil ? .failed : .retrying
    }

    // MARK: poll delivery (RFC 8936)

    public func poll(
        tenantID: String, clientID: String, issuer: String, streamID: String, ack: [String], errors: [String: String] = [:], maxEvents: Int
    ) async throws -> (sets: [String: String], more: Bool) {
        let s = try await stream(tenantID: tenantID, clientID: clientID, id: streamID)
        guard s.deliveryMethod == Self.poll else { throw Failure(.invalid, "this stream is delivered by push") }
        guard ack.count + errors.count <= 1000 else { throw Failure(.invalid, "at most 1000 acknowledgements at a time") }
        if !errors.isEmpty {
            context.logger.info("ssf receiver reported SET errors", metadata: ["stream": .string(s.id), "count": .stringConvertible(errors.count)])
        }
        let (events, more) = try await context.store.ssf.poll(
            tenantID: tenantID, streamID: s.id, ack: ack, errors: errors, limit: min(max(maxEvents, 0), 100))
        var sets: [String: String] = [:]
        for e in events { sets[e.jti] = try await set(e, stream: s, issuer: issuer) }
        return (sets, more)
    }

    static func summary(_ s: SSFStream) -> [String: String] {
        [
            "client_id": s.clientID, "delivery": s.deliveryMethod, "endpoint_url": s.endpointURL ?? "", "profile": s.profile,
            "events_delivered": s.eventsDelivered.joined(separator: " "),
        ]
    }
}
