import Foundation
import SigilCore
import SigilJOSE

/// A document fetched over HTTP(S): a client's JWKS (`jwks_uri`) or a SAML SP's metadata.
public struct RemoteDocument: Sendable {
    public var body: [UInt8]
    /// `Cache-Control: max-age` from the response, if any.
    public var maxAge: TimeInterval?

    public init(body: [UInt8], maxAge: TimeInterval? = nil) {
        self.body = body
        self.maxAge = maxAge
    }
}

public enum RemoteFetchError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The URL is not one Sigil fetches (scheme, host, credentials in it).
    case notAllowed(String)
    /// No fetcher is configured (tests, or a build without outbound HTTP).
    case disabled
    case unreachable(String)
    case status(Int)
    case tooLarge(Int)
    case timeout
    /// The host resolved to an address the `OutboundPolicy` does not permit.
    case addressNotPermitted

    /// What a tenant administrator is told: the URL policy's reason when the URL itself is
    /// refused, and otherwise one message for every target that could not be read, so the
    /// answer cannot be used to map what is reachable from Sigil's network. The precise reason
    /// is logged for the operator.
    public var publicDescription: String {
        switch self {
        case .notAllowed(let why): "not fetched: \(why)"
        case .disabled: "fetching remote documents is not enabled"
        default: "could not be fetched: it must be a public https URL that answers 200 with the document within a few seconds"
        }
    }

    public var description: String {
        switch self {
        case .notAllowed(let why): "not fetched: \(why)"
        case .disabled: "fetching remote documents is not enabled"
        case .unreachable(let why): "unreachable: \(why)"
        case .status(let code): "answered HTTP \(code)"
        case .tooLarge(let limit): "larger than \(limit) bytes"
        case .timeout: "timed out"
        case .addressNotPermitted: "resolves to a loopback, link-local or private address"
        }
    }
}

/// Outbound GET, implemented at the edge (`SigilRemote`, over async-http-client). Implementations
/// follow no redirects, stop reading at `maxBytes` and give up after a few seconds.
/// A request Sigil sends to an administrator-configured endpoint (an upstream provider's token,
/// PAR or userinfo endpoint), under the same outbound policy as document fetches.
public struct OutboundRequest: Sendable {
    public var method: String
    public var url: URL
    public var headers: [(String, String)]
    public var body: [UInt8]?

    public init(method: String, url: URL, headers: [(String, String)] = [], body: [UInt8]? = nil) {
        self.method = method; self.url = url; self.headers = headers; self.body = body
    }
}

public struct OutboundResponse: Sendable {
    public var status: Int
    public var body: [UInt8]
    /// Response headers, names lower-cased, for the few callers that read one (a partner API's
    /// `Retry-After`). Empty where the fetcher does not pass them on.
    public var headers: [(String, String)]
    public init(status: Int, body: [UInt8], headers: [(String, String)] = []) {
        self.status = status; self.body = body; self.headers = headers
    }

    /// The first value of header `name` (case-insensitive), or nil.
    public func header(_ name: String) -> String? {
        let wanted = name.lowercased()
        return headers.first { $0.0.lowercased() == wanted }?.1
    }
}

public protocol RemoteDocumentFetcher: Sendable {
    /// Resolves the host once, refuses it unless every address is permitted by `policy`, and
    /// connects only to a checked address.
    func fetch(_ url: URL, accept: String, maxBytes: Int, policy: OutboundPolicy) async throws -> RemoteDocument
    /// Sends `request` (no redirects followed) and returns any status with its body.
    func send(_ request: OutboundRequest, maxBytes: Int, policy: OutboundPolicy) async throws -> OutboundResponse
}

extension RemoteDocumentFetcher {
    public func send(_ request: OutboundRequest, maxBytes: Int, policy: OutboundPolicy) async throws -> OutboundResponse {
        throw RemoteFetchError.notAllowed("outbound requests are not configured")
    }
}

/// The fetcher used when none is configured: refuses everything.
public struct NoRemoteFetcher: RemoteDocumentFetcher {
    public init() {}
    public func fetch(_ url: URL, accept: String, maxBytes: Int, policy: OutboundPolicy) async throws -> RemoteDocument {
        throw RemoteFetchError.disabled
    }
}

/// Remote documents the services depend on, with the URL policy and the JWKS cache in one
/// place. A client's `jwks_uri` is fetched on first use and kept for its `max-age` (clamped to
/// 5 minutes – 1 day, 1 hour without one); a signature that fails with the cached keys may force
/// one refetch per minute per URL, so a client that rotates keys is picked up quickly without
/// letting a stream of bad assertions turn Sigil into a request amplifier.
public actor RemoteDocuments {
    public static let jwksLimit = 64 * 1024
    public static let metadataLimit = 512 * 1024
    static let minimumTTL: TimeInterval = 300
    static let maximumTTL: TimeInterval = 86_400
    static let defaultTTL: TimeInterval = 3_600
    static let forcedRefreshInterval: TimeInterval = 60

    private let fetcher: any RemoteDocumentFetcher
    private let clock: any SigilClock
    private var keySets: [String: (set: JWKSet, fetchedAt: Date, expiresAt: Date)] = [:]
    /// Where fetches may go (`SIGIL_OUTBOUND_ALLOW_HOSTS`).
    public nonisolated let policy: OutboundPolicy

    public init(
        fetcher: any RemoteDocumentFetcher = NoRemoteFetcher(), clock: any SigilClock = SystemClock(),
        policy: OutboundPolicy = OutboundPolicy()
    ) {
        self.fetcher = fetcher
        self.clock = clock
        self.policy = policy
    }

    /// Whether Sigil will fetch this URL (`OutboundPolicy.refusal`): https to public hosts, http
    /// only to hosts the operator allows, never credentials or a fragment. The reason it won't.
    public nonisolated func refusal(_ value: String) -> String? {
        policy.refusal(value)
    }

    /// The keys published at a client's `jwks_uri`. `refresh` asks for a new copy (allowed once
    /// a minute per URL); otherwise the cached set is used while fresh.
    public func keys(at uri: String, refresh: Bool = false) async throws -> JWKSet {
        let now = clock.now()
        if let cached = keySets[uri] {
            let fresh = now < cached.expiresAt
            let mayRefresh = now.timeIntervalSince(cached.fetchedAt) >= Self.forcedRefreshInterval
            if fresh && !(refresh && mayRefresh) { return cached.set }
        }
        let document = try await get(uri, accept: "application/jwk-set+json, application/json", limit: Self.jwksLimit)
        guard StrictJSON.isValid(document.body), let set = try? JSONDecoder().decode(JWKSet.self, from: Data(document.body)) else {
            throw RemoteFetchError.unreachable("the response is not a JWKS document")
        }
        let ttl = min(max(document.maxAge ?? Self.defaultTTL, Self.minimumTTL), Self.maximumTTL)
        let fetchedAt = clock.now()
        keySets[uri] = (set, fetchedAt, fetchedAt.addingTimeInterval(ttl))
        return set
    }

    /// A JSON document (an OpenID Provider's discovery document; not cached).
    public func json(at url: String) async throws -> [UInt8] {
        try await get(url, accept: "application/json", limit: Self.metadataLimit).body
    }

    /// Sends a request to an administrator-configured endpoint, under the URL policy.
    public func send(_ request: OutboundRequest, limit: Int = 256 * 1024) async throws -> OutboundResponse {
        if let why = refusal(request.url.absoluteString) { throw RemoteFetchError.notAllowed(why) }
        return try await fetcher.send(request, maxBytes: limit, policy: policy)
    }

    /// A SAML metadata document (not cached: imports are one-off admin actions).
    public func metadata(at url: String) async throws -> [UInt8] {
        try await metadataDocument(at: url).body
    }

    /// The same, with the HTTP freshness (`Cache-Control: max-age`) the server gave it.
    public func metadataDocument(at url: String) async throws -> RemoteDocument {
        try await get(url, accept: "application/samlmetadata+xml, application/xml, text/xml", limit: Self.metadataLimit)
    }

    private func get(_ value: String, accept: String, limit: Int) async throws -> RemoteDocument {
        if let why = refusal(value) { throw RemoteFetchError.notAllowed(why) }
        guard let url = URL(string: value) else { throw RemoteFetchError.notAllowed("not a URL") }
        return try await fetcher.fetch(url, accept: accept, maxBytes: limit, policy: policy)
    }
}
