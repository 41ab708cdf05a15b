import Foundation
import HTTPTypes
import Hummingbird
import Logging
import SigilServices
import SigilStore

/// The one route table and the HTTP application around it.
public enum SigilServer {
    public static let version = "0.1.0"

    /// Every route Sigil serves, in one place.
    public static func router(services: ServiceSet, metrics: HTTPMetrics, rateLimiter: RateLimiter = RateLimiter()) -> Router<SigilRequestContext> {
        let router = Router(context: SigilRequestContext.self)
        // Every HTML page's template, parsed once here (embedded in the binary at build time).
        let pages = Pages.standard
        router.add(middleware: MetricsMiddleware(metrics: metrics))
        router.add(middleware: ProblemMiddleware())
        router.add(middleware: RateLimitMiddleware.standard(limiter: rateLimiter, services: services))
        PublicRoutes.register(on: router, services: services, metrics: metrics)
        AuditRoutes.register(on: router, services: services)
        let adminAPI = AdminAPI(services: services, limiter: rateLimiter)
        adminAPI.register(on: router)
        AdminXRoutes(services: services, api: adminAPI, pages: pages).register(on: router)
        SignInRoutes(services: services, pages: pages).register(on: router)
        AuthenticatorRoutes(services: services, pages: pages).register(on: router)
        OAuthRoutes(services: services, limiter: rateLimiter, pages: pages).register(on: router)
        SAMLRoutes(services: services, limiter: rateLimiter, pages: pages).register(on: router)
        UpstreamRoutes(services: services, limiter: rateLimiter, pages: pages).register(on: router)
        IDVRoutes(services: services, limiter: rateLimiter, pages: pages).register(on: router)
        ConnectorRoutes(services: services, limiter: rateLimiter, pages: pages).register(on: router)
        SSFRoutes(services: services).register(on: router)
        return router
    }

    /// The responder: tenant resolution in front of the router.
    public static func responder(
        services: ServiceSet, metrics: HTTPMetrics, publicURL: URL,
        rateLimiter: RateLimiter = RateLimiter(),
        trustedProxies: TrustedProxies = .none
    ) -> some HTTPResponder<SigilRequestContext> {
        TenantResponder(
            inner: router(services: services, metrics: metrics, rateLimiter: rateLimiter).buildResponder(),
            tenants: services.tenants, publicURL: publicURL, trustedProxies: trustedProxies)
    }

    public static func application(
        services: ServiceSet, metrics: HTTPMetrics, host: String, port: Int, publicURL: URL,
        logger: Logger, rateLimiter: RateLimiter = RateLimiter(), trustedProxies: TrustedProxies = .none,
        onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    )
        -> some ApplicationProtocol
    {
        Application(
            responder: responder(
                services: services, metrics: metrics, publicURL: publicURL, rateLimiter: rateLimiter,
                trustedProxies: trustedProxies),
            configuration: .init(address: .hostname(host, port: port), serverName: nil),
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? port) },
            logger: logger)
    }
}

/// Headers every response carries: no sniffing, no framing, no referrer leaks. Applied once, by
/// `TenantResponder`, outside the router, so responses it answers itself (an unknown tenant, a
/// database outage) and routed ones alike carry them.
enum SecurityHeaders {
    static func apply(to headers: inout HTTPFields, https: Bool) {
        headers[.xContentTypeOptions] = "nosniff"
        headers[.xFrameOptions] = "DENY"
        // same-origin: nothing leaks to other sites, and our own form POSTs carry a real Origin (no-referrer makes it "null").
        headers[.referrerPolicy] = "same-origin"
        if headers[.contentSecurityPolicy] == nil {
            headers[.contentSecurityPolicy] = "default-src 'none'; frame-ancestors 'none'"
        }
        // An https deployment tells browsers to use nothing else for a year (RFC 6797). Not
        // `includeSubDomains`: Sigil cannot know what else runs under its parent domain.
        if https { headers[.strictTransportSecurity] = "max-age=31536000" }
    }
}

extension HTTPField.Name {
    static let xContentTypeOptions = Self("X-Content-Type-Options")!
    static let xFrameOptions = Self("X-Frame-Options")!
    static let referrerPolicy = Self("Referrer-Policy")!
    static let strictTransportSecurity = Self("Strict-Transport-Security")!
}
