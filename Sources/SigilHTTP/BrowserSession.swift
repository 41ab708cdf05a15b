import Hummingbird
import SigilServices
import SigilStore
import Synchronization

/// The browser's signed-in session for one request: the tenant's session cookie resolved through
/// `SessionService.resolve` the first time a route asks, then kept on the request context so every
/// later step of the same request (rate limit, service call, page) sees the same answer without
/// another store read. One per `SigilRequestContext`; a new request starts unresolved.
final class BrowserSessionSlot: Sendable {
    private enum State: Sendable {
        case unresolved
        case resolved(SignedIn?)
    }

    typealias SignedIn = (session: Session, user: User)

    private let state = Mutex<State>(.unresolved)

    func value(resolve: () async throws -> SignedIn?) async throws -> SignedIn? {
        if case .resolved(let known) = state.withLock({ $0 }) { return known }
        let resolved = try await resolve()
        state.withLock { $0 = .resolved(resolved) }
        return resolved
    }

    func forget() {
        state.withLock { $0 = .unresolved }
    }
}

extension SigilRequestContext {
    /// The signed-in session this request's cookie names in its tenant (nil without a cookie, or
    /// when the session expired, was revoked or its user disabled). Resolved once per request.
    func browserSession(_ request: Request, _ sessions: SessionService) async throws -> (Session, User)? {
        let tenant = try requireTenant()
        return try await sessionSlot.value {
            guard let cookie = Web.cookie(Web.sessionCookieName(self, tenant: tenant), in: request) else { return nil }
            return try await sessions.resolve(cookie: cookie, tenantID: tenant.id)
        }
    }

    /// Resolves the session again, after a step of this request that may have ended it (single
    /// logout): the only second read, used to decide whether to clear the cookie.
    func browserSessionAfterChange(_ request: Request, _ sessions: SessionService) async throws -> (Session, User)? {
        sessionSlot.forget()
        return try await browserSession(request, sessions)
    }
}
