import Foundation
import Hummingbird
import Prometheus

/// Prometheus metrics kept in a registry the server owns (no global bootstrap, so tests can run
/// many servers in one process): requests by route and status, a latency histogram, build info.
public final class HTTPMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    static let buckets: [Duration] = [
        .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
        .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1),
        .seconds(2.5), .seconds(5),
    ]

    public init(version: String, backend: String) {
        registry = PrometheusCollectorRegistry()
        registry.makeGauge(
            descriptor: MetricNameDescriptor(
                namespace: "sigil", metricName: "build", unitName: "info",
                helpText: "Sigil build information"),
            labels: [("version", version), ("storage", backend)]
        ).set(to: 1.0)
        droppedLogLines.increment(by: Int64(0))
    }

    /// Log lines dropped because the log writer's buffer was full (`BufferedLineWriter`).
    var droppedLogLines: Counter {
        registry.makeCounter(
            descriptor: MetricNameDescriptor(
                namespace: "sigil", subsystem: "log", metricName: "lines_dropped", unitName: "total",
                helpText: "Log lines dropped because the log writer's buffer was full"))
    }

    /// One-click integrations whose last check found drift (the scheduled integration doctor).
    public func setDriftingIntegrations(_ count: Int) {
        registry.makeGauge(
            descriptor: MetricNameDescriptor(
                namespace: "sigil", subsystem: "integrations", metricName: "drifting",
                helpText: "One-click integrations whose last check found a difference from what was set up")
        ).set(to: Double(count))
    }

    /// One pass of the webhook delivery loop: attempts by outcome, and what is still pending.
    public func recordWebhookPass(delivered: Int, retrying: Int, failed: Int, pending: Int?) {
        for (outcome, n) in [("delivered", delivered), ("retrying", retrying), ("failed", failed)] where n > 0 {
            registry.makeCounter(
                descriptor: MetricNameDescriptor(
                    namespace: "sigil", subsystem: "webhook", metricName: "attempts", unitName: "total",
                    helpText: "Webhook delivery attempts by outcome (retrying: failed and due again; failed: given up)"),
                labels: [("outcome", outcome)]
            ).increment(by: Int64(n))
        }
        if let pending {
            registry.makeGauge(
                descriptor: MetricNameDescriptor(
                    namespace: "sigil", subsystem: "webhook", metricName: "pending",
                    helpText: "Webhook deliveries not yet delivered or given up")
            ).set(to: Double(pending))
        }
    }

    /// Counts `count` dropped log lines.
    public func countDroppedLogLines(_ count: Int) {
        droppedLogLines.increment(by: Int64(count))
    }

    func record(route: String, method: String, status: Int, duration: Duration) {
        registry.makeCounter(
            descriptor: MetricNameDescriptor(
                namespace: "sigil", subsystem: "http", metricName: "requests", unitName: "total",
                helpText: "HTTP requests by route, method and status"),
            labels: [("route", route), ("method", method), ("status", String(status))]
        ).increment()
        registry.makeDurationHistogram(
            descriptor: MetricNameDescriptor(
                namespace: "sigil", subsystem: "http", metricName: "request_duration",
                unitName: "seconds", helpText: "HTTP request latency by route"),
            labels: [("route", route), ("method", method)], buckets: Self.buckets
        ).record(duration)
    }

    public func exposition() -> String { registry.emitToString() }
}

/// Records every request: the matched route pattern (not the raw path, so label cardinality stays
/// bounded), method, status and latency; and writes one access log line without query strings.
struct MetricsMiddleware: RouterMiddleware {
    typealias Context = SigilRequestContext
    let metrics: HTTPMetrics

    func handle(
        _ request: Request, context: SigilRequestContext,
        next: (Request, SigilRequestContext) async throws -> Response
    ) async throws -> Response {
        let start = ContinuousClock.now
        let response = try await next(request, context)
        let elapsed = ContinuousClock.now - start
        let route = context.endpointPath ?? "unmatched"
        metrics.record(route: route, method: request.method.rawValue, status: Int(response.status.code), duration: elapsed)
        context.logger.info(
            "request",
            metadata: [
                "method": .string(request.method.rawValue), "route": .string(route), "status": .stringConvertible(response.status.code),
                "tenant": .string(context.tenant?.slug ?? "-"),
                "ms": .stringConvertible((Double(elapsed.components.attoseconds) / 1e15 + Double(elapsed.components.seconds) * 1000).rounded()),
            ])
        return response
    }
}
