import Foundation
import HTTPTypes
import Hummingbird
import OpenAPIHummingbird
import OpenAPIRuntime
import SigilAdminAPI
import SigilCore
import SigilJOSE
import SigilServices
import SigilStore

/// The admin REST API under `/api/admin/v1`: the implementation of the `APIProtocol` that
/// swift-openapi-generator makes from `Sources/SigilAdminAPI/openapi.json` at build time, so the
/// operations, their parameters and their bodies are the document's by construction. Every
/// operation acts on the request's tenant (host or `/t/{tenant}/` prefix) except the tenant
/// collection, which needs a global token. Each method reads the call (`AdminCall`: tenant,
/// issuer, principal, set by `AdminGate`), calls one service and builds the generated output;
/// errors are thrown and become problem+json in `ProblemMiddleware`.
public struct AdminAPI: Sendable {
    public static let base = "/api/admin/v1"
    static let documentPath = "\(base)/openapi.json"
    let services: ServiceSet
    let limiter: RateLimiter

    public init(services: ServiceSet) { self.init(services: services, limiter: RateLimiter()) }

    init(services: ServiceSet, limiter: RateLimiter) {
        self.services = services
        self.limiter = limiter
    }

    /// Every operation the generated code registers, as `(method, OpenAPI path)`: what the route
    /// table serves. Derived from the generated `registerHandlers`, not written down again.
    public var routes: [(method: HTTPRequest.Method, path: String)] {
        let recorder = RouteRecorder()
        try? registerHandlers(on: recorder, serverURL: Self.serverURL, configuration: Self.configuration)
        return recorder.routes
    }

    static let serverURL = URL(string: "/")!
    /// Compact JSON with sorted keys, as the hand-written encoder wrote it (not pretty-printed).
    static let configuration = Configuration(jsonEncodingOptions: [.sortedKeys, .withoutEscapingSlashes])

    /// Registers the document (unauthenticated, the file's own bytes), every generated operation
    /// behind `AdminGate`, and 405 + `Allow` for the methods a documented path does not declare.
    public func register(on router: Router<SigilRequestContext>) {
        router.get(RouterPath(Self.documentPath)) { _, _ in
            Response(
                status: .ok, headers: [.contentType: "application/json"],
                body: .init(byteBuffer: ByteBuffer(bytes: AdminAPIDocument.bytes)))
        }
        let group = router.group().add(middleware: AdminGate(services: services, limiter: limiter, rules: .fromDocument))
        let recorder = RouteRecorder(group: group, skipping: Self.documentPath)
        do {
            try registerHandlers(on: recorder, serverURL: Self.serverURL, configuration: Self.configuration)
        } catch {
            preconditionFailure("the generated admin API routes did not register: \(error)")
        }
        // Methods a path does not declare answer 405 with Allow (RFC 9110 §15.5.6), not 404.
        let declared = Dictionary(grouping: recorder.routes, by: \.path).mapValues { Set($0.map(\.method)) }
        for (path, methods) in declared {
            let allow = methods.map(\.rawValue).sorted().joined(separator: ", ")
            for method in [HTTPRequest.Method.get, .post, .put, .patch, .delete, .trace, .connect, .options, HTTPRequest.Method("QUERY")!]
            where !methods.contains(method) {
                router.on(RouterPath(path), method: method) { _, _ -> Response in
                    var problem = Problem(
                        status: .methodNotAllowed, type: "method-not-allowed", title: "This method is not allowed here",
                        detail: "allowed: \(allow)")
                    problem.extraHeaders[.allow] = allow
                    throw problem
                }
            }
        }
    }
}

/// A `ServerTransport` that registers the generated handlers on a route group and remembers
/// what it registered (for the 405 routes and the tests). The document's own operation is left
/// to the plain route that serves the file's bytes.
final class RouteRecorder: ServerTransport {
    private(set) var routes: [(method: HTTPRequest.Method, path: String)] = []
    private let group: RouterGroup<SigilRequestContext>?
    private let skipping: String?

    init(group: RouterGroup<SigilRequestContext>? = nil, skipping: String? = nil) {
        self.group = group
        self.skipping = skipping
    }

    func register(
        _ handler: @escaping @Sendable (HTTPRequest, HTTPBody?, ServerRequestMetadata) async throws -> (HTTPResponse, HTTPBody?),
        method: HTTPRequest.Method, path: String
    ) throws {
        routes.append((method, path))
        guard path != skipping else { return }
        group?.register(handler, method: method, path: path)
    }
}
