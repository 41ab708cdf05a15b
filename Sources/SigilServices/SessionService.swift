import Foundation
import SigilCore
import SigilStore

/// Server-side sessions behind an opaque cookie. The cookie carries 256 random bits; the row
/// stores only their SHA-256, so a database leak does not leak sessions.
public struct SessionService: Sendable {
    public let context: ServiceContext
    public let policy: Policy

    public struct Policy: Sendable {
        /// Signed out after this long without a request.
        public var idleTimeout: TimeInterval
        /// Signed out this long after signing in, whatever the activity.
        public var absoluteTimeout: TimeInterval
        /// Requests closer together than this do not rewrite `last_seen_at`.
        public var touchInterval: TimeInterval

        public init(idleTimeout: TimeInterval = 3600, absoluteTimeout: TimeInterval = 12 * 3600, touchInterval: TimeInterval = 60) {
            self.idleTimeout = idleTimeout
            self.absoluteTimeout = absoluteTimeout
            self.touchInterval = touchInterval
        }
    }

    public static let cookiePrefix = "sigil_ss_"

    public init(context: ServiceContext, policy: Policy = Policy()) {
        self.context = context
        self.policy = policy
    }

    /// Starts a session after a successful sign-in. Returns the cookie value (shown to the browser
    /// only).
    public func start(tenantID: String, userID: String, amr: [String], acr: String) async throws -> (Session, Secret<String>) {
        let token = OpaqueToken.make(prefix: Self.cookiePrefix, random: context.random)
        let now = context.clock.now()
        let session = Session(
            id: context.ids.make(.session), tenantID: tenantID, userID: userID, tokenHash: tokenHash(token),
            createdAt: now, lastSeenAt: now, idleExpiresAt: now.addingTimeInterval(policy.idleTimeout),
            absoluteExpiresAt: now.addingTimeInterval(policy.absoluteTimeout), authTime: now, amr: amr, acr: acr)
        let context = self.context
        let created = try await context.store.transaction { tx in
            try await Self.record(session, context: context, in: tx)
        }
        return (created, Secret(token))
    }

    /// A new session row and its cookie, written inside the caller's store transaction (so a sign-in
    /// that consumes something — an approved login — commits together with its session).
    public func start(
        tenantID: String, userID: String, amr: [String], acr: String, verificationProcess: String? = nil,
        in tx: any StoreSession
    ) async throws -> (Session, Secret<String>) {
        let token = OpaqueToken.make(prefix: Self.cookiePrefix, random: context.random)
        let now = context.clock.now()
        let session = Session(
            id: context.ids.make(.session), tenantID: tenantID, userID: userID, tokenHash: tokenHash(token),
            createdAt: now, lastSeenAt: now, idleExpiresAt: now.addingTimeInterval(policy.idleTimeout),
            absoluteExpiresAt: now.addingTimeInterval(policy.absoluteTimeout), authTime: now, amr: amr, acr: acr,
            verificationProcess: verificationProcess)
        return (try await Self.record(session, context: context, in: tx), Secret(token))
    }

    /// A sign-in in a browser that already holds `previous`. The same user's live session is
    /// re-authenticated in place: same id (so the `sid` of its tokens, its grants and its logout
    /// participants stay one session, and signing out ends them all), a new cookie, and the new
    /// sign-in's `auth_time`, `amr` and `acr` (a step-up upgrades the session rather than leaving
    /// the weaker one alive beside it). Otherwise a new session (the caller ends another user's).
    /// `verificationProcess`: the verification whose portrait this sign-in's face re-match matched.
    public func start(
        tenantID: String, userID: String, amr: [String], acr: String, replacing previous: Session?, verificationProcess: String? = nil,
        in tx: any StoreSession
    ) async throws -> (Session, Secret<String>) {
        let now = context.clock.now()
        guard let previous, previous.tenantID == tenantID, previous.userID == userID, previous.revokedAt == nil,
            previous.absoluteExpiresAt > now
        else {
            return try await start(tenantID: tenantID, userID: userID, amr: amr, acr: acr, verificationProcess: verificationProcess, in: tx)
        }
        let token = OpaqueToken.make(prefix: Self.cookiePrefix, random: context.random)
        do {
            let session = try await tx.sessions.reauthenticate(
                id: previous.id, tokenHash: tokenHash(token), authTime: now, amr: amr, acr: acr, verificationProcess: verificationProcess,
                idleExpiresAt: now.addingTimeInterval(policy.idleTimeout))
            try await tx.audit.append(
                context.auditEvent(
                    "session.reauthenticated", by: .user(userID), tenantID: tenantID, targetType: "session", targetID: session.id,
                    before: ["amr": previous.amr.joined(separator: " "), "acr": previous.acr],
                    after: ["amr": amr.joined(separator: " "), "acr": acr]))
            return (session, Secret(token))
        } catch let error as StoreError where error.code == .notFound {
            // Ended meanwhile (signed out in another tab): a new one.
            return try await start(tenantID: tenantID, userID: userID, amr: amr, acr: acr, verificationProcess: verificationProcess, in: tx)
        }
    }

    public func start(tenantID: String, userID: String, amr: [String], acr: String, replacing previous: Session?) async throws -> (
        Session, Secret<String>
    ) {
        try await context.store.transaction { tx in
            try await self.start(tenantID: tenantID, userID: userID, amr: amr, acr: acr, replacing: previous, in: tx)
        }
    }

    static func record(_ session: Session, context: ServiceContext, in tx: any StoreSession) async throws -> Session {
        let created = try await tx.sessions.create(session)
        try await tx.audit.append(
            context.auditEvent(
                "session.started", by: .user(session.userID), tenantID: session.tenantID,
                targetType: "session", targetID: created.id,
                after: ["amr": session.amr.joined(separator: " "), "acr": session.acr]))
        return created
    }

    /// The active session a cookie names in `tenantID`, touching it; nil when absent, expired,
    /// revoked, for another tenant, or the user is disabled.
    public func resolve(cookie: String, tenantID: String) async throws -> (Session, User)? {
        guard cookie.hasPrefix(Self.cookiePrefix), cookie.utf8.count < 200 else { return nil }
        guard let session = try await context.store.sessions.find(tokenHash: tokenHash(cookie)), session.tenantID == tenantID else {
            return nil
        }
        let now = context.clock.now()
        guard session.isActive(at: now) else { return nil }
        let user: User
        do {
            user = try await context.store.users.get(tenantID: tenantID, id: session.userID)
        } catch let error as StoreError where error.code == .notFound {
            return nil
        }
        guard user.status == .active else { return nil }
        var current = session
        if now.timeIntervalSince(session.lastSeenAt) >= policy.touchInterval {
            let idle = now.addingTimeInterval(policy.idleTimeout)
            try await context.store.sessions.touch(id: session.id, lastSeenAt: now, idleExpiresAt: idle)
            current.lastSeenAt = now
            current.idleExpiresAt = min(idle, session.absoluteExpiresAt)
        }
        return (current, user)
    }

    public func end(_ session: Session) async throws {
        let context = self.context
        try await context.store.transaction { tx in
            try await tx.sessions.revoke(id: session.id, at: context.clock.now())
            try await tx.audit.append(
                context.auditEvent(
                    "session.ended", by: .user(session.userID), tenantID: session.tenantID,
                    targetType: "session", targetID: session.id))
        }
    }
}
