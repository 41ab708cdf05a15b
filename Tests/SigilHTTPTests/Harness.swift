import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SigilCore
import SigilHTTP
import SigilIDV
import SigilSQLStore
import SigilServices
import SigilStore
import Testing

/// An in-process Sigil on a fresh in-memory SQLite store, with a global admin token.
struct Harness {
    let services: ServiceSet
    let store: SQLStore
    let client: any TestClientProtocol
    let globalToken: String
    static let publicURL = URL(string: "https://id.example.com")!

    /// `clock` drives the services (not the rate limiter); `fetcher` answers outbound fetches
    /// (client JWKS, SP metadata), which are refused without one.
    static func run(
        clock: any SigilClock = SystemClock(), fetcher: (any RemoteDocumentFetcher)? = nil,
        backChannel: BackChannelLogoutDispatcher = BackChannelLogoutDispatcher(), idvEngine: (any IDVEngine)? = nil,
        _ body: @Sendable (Harness) async throws -> Void
    ) async throws {
        let store = try await SQLStore.sqlite(path: nil)
        try await store.migrate()
        let remote = fetcher.map { RemoteDocuments(fetcher: $0, clock: clock) }
        let context = ServiceContext(
            store: store, clock: clock, masterKey: try MasterKey(rawBytes: Array(repeating: 7, count: 32)),
            remote: remote)
        var made = ServiceSet(context: context, backChannel: backChannel)
        if let idvEngine { made.idvEngine = idvEngine }
        let services = made
        try await services.tenants.ensureDefault()
        let (_, token) = try await services.adminTokens.create(tenantID: nil, name: "test", by: .cli)
        let metrics = HTTPMetrics(version: "test", backend: "sqlite")
        // Rate-limit buckets on a frozen clock: tests count requests, not wall time (a slow machine
        // would otherwise refill buckets mid-test).
        let app = Application(
            responder: SigilServer.responder(
                services: services, metrics: metrics, publicURL: publicURL,
                rateLimiter: RateLimiter(now: { 1_000_000 })))
        try await app.test(.router) { client in
            try await body(Harness(services: services, store: store, client: client, globalToken: token.value))
        }
        try await store.close()
    }

    func request(
        _ method: HTTPRequest.Method, _ path: String, token: String? = nil, json: String? = nil,
        headers extra: HTTPFields = [:]
    ) async throws -> TestResponse {
        var headers = extra
        if let token { headers[.authorization] = "Bearer \(token)" }
        if json != nil, headers[.contentType] == nil { headers[.contentType] = "application/json" }
        return try await client.execute(uri: path, method: method, headers: headers, body: json.map { ByteBuffer(string: $0) })
    }

    func admin(_ method: HTTPRequest.Method, _ path: String, json: String? = nil, headers: HTTPFields = [:]) async throws -> TestResponse {
        try await request(method, "/api/admin/v1" + path, token: globalToken, json: json, headers: headers)
    }

    func defaultTenant() async throws -> Tenant { try await services.tenants.get(slug: "default") }
}

extension TestResponse {
    var text: String { String(buffer: body) }

    func json() throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any], "not a JSON object: \(text)")
    }

    /// Asserts an RFC 9457 problem response and returns its `type` suffix.
    @discardableResult
    func expectProblem(_ status: HTTPResponse.Status, _ type: String? = nil, sourceLocation: SourceLocation = #_sourceLocation) throws -> [String: Any] {
        #expect(self.status == status, "body: \(text)", sourceLocation: sourceLocation)
        #expect(headers[.contentType] == "application/problem+json", sourceLocation: sourceLocation)
        let body = try json()
        #expect(body["status"] as? Int == Int(status.code), sourceLocation: sourceLocation)
        #expect(body["title"] is String, sourceLocation: sourceLocation)
        if let type { #expect(body["type"] as? String == "urn:sigil:problem:\(type)", sourceLocation: sourceLocation) }
        return body
    }
}
