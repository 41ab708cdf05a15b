import Foundation
import HTTPTypes
import Hummingbird
import SigilServices
import Synchronization

/// Token buckets per key (a route group and a client address, OAuth client or tenant), in this
/// node's memory. Each node limits on its own, so N nodes allow up to N× the rate: a bound
/// against guessing, flooding and push fatigue, not an accounting system. The clock is injected
/// for tests; `scale` multiplies every capacity and refill rate (`SIGIL_RATE_LIMIT_SCALE`: a load
/// test, or a deployment whose clients legitimately send more).
public final class RateLimiter: Sendable {
    struct Rule: Sendable {
        /// Requests allowed in a burst.
        var capacity: Double
        /// Tokens regained per second.
        var refillPerSecond: Double
    }

    private struct Bucket {
        var tokens: Double
        var updated: TimeInterval
    }

    private let state = Mutex<[String: Bucket]>([:])
    private let now: @Sendable () -> TimeInterval
    private let maximumKeys = 100_000
    let scale: Double

    public init(scale: Double = 1, now: @escaping @Sendable () -> TimeInterval = { Date().timeIntervalSince1970 }) {
        self.now = now
        self.scale = scale > 0 ? scale : 1
    }

    /// Takes a token for `key`; returns nil when allowed, else seconds until one is available.
    func take(_ key: String, rule: Rule) -> Int? {
        update(key, rule: rule, consume: true)
    }

    /// Whether `key` has a token left, without taking it: nil when it has, else seconds to wait.
    func peek(_ key: String, rule: Rule) -> Int? {
        update(key, rule: rule, consume: false)
    }

    private func update(_ key: String, rule unscaled: Rule, consume: Bool) -> Int? {
        let rule = Rule(capacity: unscaled.capacity * scale, refillPerSecond: unscaled.refillPerSecond * scale)
        let t = now()
        return state.withLock { buckets in
            if buckets.count > maximumKeys {
                // Forget full buckets first; they carry no information.
                buckets = buckets.filter { $0.value.tokens + (t - $0.value.updated) * rule.refillPerSecond < rule.capacity }
            }
            var bucket = buckets[key] ?? Bucket(tokens: rule.capacity, updated: t)
            bucket.tokens = min(rule.capacity, bucket.tokens + (t - bucket.updated) * rule.refillPerSecond)
            bucket.updated = t
            if bucket.tokens >= 1 {
                if consume {
                    bucket.tokens -= 1
                    buckets[key] = bucket
                }
                return nil
            }
            buckets[key] = bucket
            return Int(((1 - bucket.tokens) / rule.refillPerSecond).rounded(.up))
        }
    }
}

/// What a rule's buckets are counted per.
enum RateLimitScope: Sendable {
    /// The client address, across every tenant (`/t/acme/…` and `/t/beta/…` share it).
    case address
    /// The tenant, whoever asks.
    case tenant
}

/// Applies rules to the routes they guard: 429 problem+json with `Retry-After`, and an audit
/// event. Per-client limits that need the authenticated client (OAuth) live in `OAuthRoutes`.
struct RateLimitMiddleware: RouterMiddleware {
    typealias Context = SigilRequestContext
    struct Limit: Sendable {
        var prefix: String
        var name: String
        var rule: RateLimiter.Rule
        var scope: RateLimitScope = .address
        var methods: Set<HTTPRequest.Method> = [.post, .put, .patch, .delete]
    }

    let limiter: RateLimiter
    let services: ServiceSet
    /// Path prefix → rules; every rule whose prefix matches first for its name applies.
    let limits: [Limit]

    static func standard(limiter: RateLimiter, services: ServiceSet) -> RateLimitMiddleware {
        RateLimitMiddleware(
            limiter: limiter, services: services,
            limits: [
                Limit(prefix: "/login/push/", name: "push", rule: .init(capacity: 5, refillPerSecond: 1.0 / 60)),
                // The passkey step after an upstream sign-in: bound to a flow the IdP's sign-in
                // started, so counted apart from the hosted login's attempts.
                Limit(prefix: "/login/upstream/step-up/", name: "upstream-step-up", rule: .init(capacity: 30, refillPerSecond: 1)),
                Limit(prefix: "/login/", name: "sign-in", rule: .init(capacity: 30, refillPerSecond: 0.5)),
                Limit(prefix: "/authenticator/v1/enroll/", name: "authenticator-secret", rule: .init(capacity: 10, refillPerSecond: 1.0 / 6)),
                Limit(prefix: "/authenticator/v1/devices", name: "authenticator-secret", rule: .init(capacity: 10, refillPerSecond: 1.0 / 6)),
                Limit(prefix: "/authenticator/v1/", name: "authenticator", rule: .init(capacity: 60, refillPerSecond: 1)),
                Limit(prefix: "/enroll/", name: "enrolment", rule: .init(capacity: 20, refillPerSecond: 0.2)),
                Limit(prefix: "/account/", name: "account", rule: .init(capacity: 30, refillPerSecond: 0.5)),
                // AuthnRequests are counted in SAMLRoutes (per address without a session, per session
                // with one); the continue link, which checks a key, per address here.
                Limit(prefix: "/saml/sso/continue", name: "saml-continue", rule: .init(capacity: 60, refillPerSecond: 2), methods: [.get]),
                Limit(prefix: "/saml/slo", name: "saml-logout", rule: .init(capacity: 60, refillPerSecond: 1), methods: [.get, .post]),
                // OAuth back-channel requests per address (the per-client limits and failed client
                // authentication are counted in OAuthRoutes).
                Limit(prefix: "/oauth2/par", name: "oauth-par", rule: .init(capacity: 120, refillPerSecond: 5)),
                Limit(prefix: "/oauth2/bc-authorize", name: "oauth-ciba", rule: .init(capacity: 30, refillPerSecond: 1)),
                // Admin API writes, per tenant: a leaked or runaway token cannot fill the directory.
                Limit(prefix: "/api/admin/v1/", name: "admin-write", rule: .init(capacity: 100, refillPerSecond: 2), scope: .tenant),
            ])
    }

    /// The first limit whose prefix matches; a QR claim counts against the secret-guessing group.
    func limit(for path: String, method: HTTPRequest.Method) -> Limit? {
        if path.hasPrefix("/authenticator/v1/transactions/"), path.hasSuffix("/claim") {
            return limits.first { $0.name == "authenticator-secret" }
        }
        return limits.first { path.hasPrefix($0.prefix) && $0.methods.contains(method) }
    }

    static func key(_ limit: Limit, _ context: SigilRequestContext) -> String {
        switch limit.scope {
        case .address: "\(limit.name)|addr|\(context.clientAddress)"
        case .tenant: "\(limit.name)|tenant|\(context.tenant?.id ?? "-")"
        }
    }

    func handle(
        _ request: Request, context: SigilRequestContext,
        next: (Request, SigilRequestContext) async throws -> Response
    ) async throws -> Response {
        guard let match = limit(for: request.uri.path, method: request.method) else {
            return try await next(request, context)
        }
        if let retryAfter = limiter.take(Self.key(match, context), rule: match.rule) {
            throw await Self.refusal(retryAfter: retryAfter, group: match.name, context: context, services: services)
        }
        return try await next(request, context)
    }

    static func refusal(retryAfter: Int, group: String, context: SigilRequestContext, services: ServiceSet) async -> Problem {
        await services.context.recordFailure(
            "rate_limit.exceeded", by: .system, tenantID: context.tenant?.id,
            reason: "\(group) from \(context.clientAddress)")
        var problem = Problem(
            status: .tooManyRequests, type: "rate-limited", title: "Too many attempts; wait a moment and try again",
            detail: "retry after \(retryAfter) seconds")
        problem.extraHeaders[.retryAfter] = String(retryAfter)
        return problem
    }
}
