import Foundation
import Synchronization
import HTTPTypes
import Hummingbird
import SigilServices

/// Token buckets per key (client address and route group), in this node's memory. Each node
/// limits on its own, so N nodes allow up to N× the rate: a bound against guessing and push
/// fatigue, not an accounting system. The clock is injected for tests.
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

    public init(now: @escaping @Sendable () -> TimeInterval = { Date().timeIntervalSince1970 }) {
        self.now = now
    }

    /// Takes a token for `key`; returns nil when allowed, else seconds until one is available.
    func take(_ key: String, rule: Rule) -> Int? {
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
                bucket.tokens -= 1
                buckets[key] = bucket
                return nil
            }
            buckets[key] = bucket
            return Int(((1 - bucket.tokens) / rule.refillPerSecond).rounded(.up))
        }
    }
}

/// Applies a rule to the routes it guards: 429 problem+json with `Retry-After`, and an audit event.
struct RateLimitMiddleware: RouterMiddleware {
    typealias Context = SigilRequestContext
    let limiter: RateLimiter
    let services: ServiceSet
    /// Path prefix → rule. Only POST, PUT and DELETE are limited (they start, answer or finish ceremonies).
    let rules: [(prefix: String, name: String, rule: RateLimiter.Rule)]

    static func standard(limiter: RateLimiter, services: ServiceSet) -> RateLimitMiddleware {
        RateLimitMiddleware(limiter: limiter, services: services, rules: [
            ("/login/push/", "push", .init(capacity: 5, refillPerSecond: 1.0 / 60)),
            ("/login/", "sign-in", .init(capacity: 30, refillPerSecond: 0.5)),
            ("/authenticator/v1/enroll/", "authenticator-secret", .init(capacity: 10, refillPerSecond: 1.0 / 6)),
            ("/authenticator/v1/devices", "authenticator-secret", .init(capacity: 10, refillPerSecond: 1.0 / 6)),
            ("/authenticator/v1/", "authenticator", .init(capacity: 60, refillPerSecond: 1)),
            ("/enroll/", "enrolment", .init(capacity: 20, refillPerSecond: 0.2)),
            ("/account/", "account", .init(capacity: 30, refillPerSecond: 0.5)),
        ])
    }

    /// The first rule whose prefix matches; a QR claim counts against the secret-guessing group.
    func rule(for path: String) -> (prefix: String, name: String, rule: RateLimiter.Rule)? {
        if path.hasPrefix("/authenticator/v1/transactions/"), path.hasSuffix("/claim") {
            return rules.first { $0.name == "authenticator-secret" }
        }
        return rules.first { path.hasPrefix($0.prefix) }
    }

    func handle(_ request: Request, context: SigilRequestContext,
                next: (Request, SigilRequestContext) async throws -> Response) async throws -> Response {
        guard [.post, .put, .delete].contains(request.method), let match = rule(for: request.uri.path) else {
            return try await next(request, context)
        }
        let key = "\(match.name)|\(context.tenant?.id ?? "-")|\(context.clientAddress)"
        if let retryAfter = limiter.take(key, rule: match.rule) {
            await services.context.recordFailure("rate_limit.exceeded", by: .system, tenantID: context.tenant?.id,
                                                 reason: "\(match.name) from \(context.clientAddress)")
            var problem = Problem(status: .tooManyRequests, type: "rate-limited", title: "Too many attempts; wait a moment and try again",
                                  detail: "retry after \(retryAfter) seconds")
            problem.extraHeaders[.retryAfter] = String(retryAfter)
            throw problem
        }
        return try await next(request, context)
    }
}
