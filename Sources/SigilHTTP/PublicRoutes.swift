import Foundation
import HTTPTypes
import Hummingbird
import SigilJOSE
import SigilServices
import SigilStore

/// Routes every tenant serves without authentication: operations and published keys.
enum PublicRoutes {
    static func register(on router: Router<SigilRequestContext>, services: ServiceSet, metrics: HTTPMetrics) {
        // Process up.
        router.get("/healthz") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "application/json", .cacheControl: "no-store"],
                body: .init(byteBuffer: ByteBuffer(string: #"{"status":"ok"}"#)))
        }
        // Database reachable and migrations current.
        router.get("/readyz") { _, _ in
            let health = await services.readiness.check()
            let body: [String: Any] = [
                "status": health.isReady ? "ready" : "not_ready", "database": health.reachable ? "reachable" : "unreachable",
                "migrations": ["applied": health.appliedMigrations, "known": health.knownMigrations],
            ]
            let data = try JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])
            return Response(
                status: health.isReady ? .ok : .serviceUnavailable,
                headers: [.contentType: "application/json", .cacheControl: "no-store"],
                body: .init(byteBuffer: ByteBuffer(bytes: data)))
        }
        router.get("/metrics") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: .init(byteBuffer: ByteBuffer(string: metrics.exposition())))
        }
        router.get("/oauth2/jwks") { request, context in
            let jwks = try await services.keys.publishedJWKS(tenantID: try context.requireTenant().id)
            return PublishedResponse.response(jwks, for: request, contentType: "application/jwk-set+json", crossOrigin: true)
        }
        router.get("/saml/certificate.pem") { _, context in
            let pem = try await services.keys.currentCertificatePEM(tenantID: try context.requireTenant().id)
            return Response(
                status: .ok,
                headers: [.contentType: "application/x-pem-file", .contentDisposition: #"inline; filename="certificate.pem""#],
                body: .init(byteBuffer: ByteBuffer(string: pem)))
        }
    }
}
