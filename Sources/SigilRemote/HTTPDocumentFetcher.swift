import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import SigilServices
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `RemoteDocumentFetcher` over async-http-client: one GET, no redirects (a redirect could take
/// an allowed https URL to a host the URL policy would refuse), a connect and a whole-request
/// timeout, and a body limit enforced while reading. The URL policy itself is checked by
/// `RemoteDocuments` before this is called.
public final class HTTPDocumentFetcher: RemoteDocumentFetcher {
    private let configuration: HTTPClient.Configuration
    private let timeout: TimeAmount

    public init(connectTimeout: Duration = .seconds(3), requestTimeout: Duration = .seconds(5)) {
        var configuration = HTTPClient.Configuration()
        configuration.timeout = .init(connect: .init(connectTimeout), read: .init(requestTimeout))
        configuration.redirectConfiguration = .disallow
        configuration.decompression = .disabled
        self.configuration = configuration
        self.timeout = .init(requestTimeout)
    }

    /// One per process: the CLI and the server share it.
    public static let shared = HTTPDocumentFetcher()

    /// Nothing to close: each fetch uses a client of its own (below).
    public func shutdown() async throws {}

    public func fetch(_ url: URL, accept: String, maxBytes: Int, policy: OutboundPolicy) async throws -> RemoteDocument {
        // Resolve once, check every address, and pin the connection to a checked one: the
        // client's DNS override keeps the URL's host for the Host header, SNI and certificate
        // checks while connecting to that address, so a second DNS answer cannot differ.
        guard let host = url.host, !host.isEmpty else { throw RemoteFetchError.notAllowed("no host") }
        var configuration = self.configuration
        configuration.dnsOverride = [host: try await OutboundResolver.checkedAddress(for: host, policy: policy)]
        let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
        do {
            let document = try await fetch(url, accept: accept, maxBytes: maxBytes, client: client)
            try? await client.shutdown()
            return document
        } catch {
            try? await client.shutdown()
            throw error
        }
    }

    private func fetch(_ url: URL, accept: String, maxBytes: Int, client: HTTPClient) async throws -> RemoteDocument {
        var request = HTTPClientRequest(url: url.absoluteString)
        request.method = .GET
        request.headers.add(name: "accept", value: accept)
        request.headers.add(name: "user-agent", value: "Sigil")
        let response: HTTPClientResponse
        do {
            response = try await client.execute(request, timeout: timeout)
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout || error == .connectTimeout {
            throw RemoteFetchError.timeout
        } catch {
            throw RemoteFetchError.unreachable(Self.describe(error))
        }
        guard response.status == .ok else { throw RemoteFetchError.status(Int(response.status.code)) }
        if let length = response.headers.first(name: "content-length").flatMap(Int.init), length > maxBytes {
            throw RemoteFetchError.tooLarge(maxBytes)
        }
        let body: ByteBuffer
        do {
            body = try await response.body.collect(upTo: maxBytes)
        } catch is NIOTooManyBytesError {
            throw RemoteFetchError.tooLarge(maxBytes)
        } catch {
            throw RemoteFetchError.unreachable(Self.describe(error))
        }
        return RemoteDocument(
            body: Array(body.readableBytesView),
            maxAge: Self.maxAge(response.headers[canonicalForm: "cache-control"].map(String.init)))
    }

    public func send(_ outbound: OutboundRequest, maxBytes: Int, policy: OutboundPolicy) async throws -> OutboundResponse {
        guard let host = outbound.url.host, !host.isEmpty else { throw RemoteFetchError.notAllowed("no host") }
        var configuration = self.configuration
        configuration.dnsOverride = [host: try await OutboundResolver.checkedAddress(for: host, policy: policy)]
        let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
        do {
            let response = try await send(outbound, maxBytes: maxBytes, client: client)
            try? await client.shutdown()
            return response
        } catch {
            try? await client.shutdown()
            throw error
        }
    }

    private func send(_ outbound: OutboundRequest, maxBytes: Int, client: HTTPClient) async throws -> OutboundResponse {
        var request = HTTPClientRequest(url: outbound.url.absoluteString)
        request.method = HTTPMethod(rawValue: outbound.method)
        request.headers.add(name: "user-agent", value: "Sigil")
        for (name, value) in outbound.headers { request.headers.add(name: name, value: value) }
        if let body = outbound.body { request.body = .bytes(ByteBuffer(bytes: body)) }
        let response: HTTPClientResponse
        do {
            response = try await client.execute(request, timeout: timeout)
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout || error == .connectTimeout {
            throw RemoteFetchError.timeout
        } catch {
            throw RemoteFetchError.unreachable(Self.describe(error))
        }
        let body: ByteBuffer
        do {
            body = try await response.body.collect(upTo: maxBytes)
        } catch is NIOTooManyBytesError {
            throw RemoteFetchError.tooLarge(maxBytes)
        } catch {
            throw RemoteFetchError.unreachable(Self.describe(error))
        }
        return OutboundResponse(
            status: Int(response.status.code), body: Array(body.readableBytesView),
            headers: response.headers.map { ($0.name.lowercased(), $0.value) })
    }

    /// `max-age` from Cache-Control values; `no-store`/`no-cache` count as 0.
    static func maxAge(_ values: [String]) -> TimeInterval? {
        var result: TimeInterval?
        for directive in values.flatMap({ $0.split(separator: ",") }) {
            let parts = directive.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                .map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
            switch parts[0] {
            case "no-store", "no-cache": return 0
            case "max-age" where parts.count == 2: result = Int(parts[1].trimmingCharacters(in: CharacterSet(charactersIn: "\""))).map(TimeInterval.init)
            default: break
            }
        }
        return result
    }

    /// A short reason without the URL (a URL may carry a token in its query).
    static func describe(_ error: any Error) -> String {
        if let error = error as? HTTPClientError { return "\(error)" }
        return String(describing: type(of: error))
    }
}

/// Resolves a host once for an outbound request Sigil makes to an administrator-chosen URL and
/// checks every address against the `OutboundPolicy` (docs/configuration.md "Outbound fetches").
/// The caller connects to the address returned (async-http-client's DNS override), never
/// resolving the name again.
public enum OutboundResolver {
    /// The address to connect to, or `RemoteFetchError.addressNotPermitted` / `.unreachable`.
    public static func checkedAddress(for host: String, policy: OutboundPolicy) async throws -> String {
        let addresses = try await resolve(host)
        guard let first = addresses.first else { throw RemoteFetchError.unreachable("the host name did not resolve") }
        guard addresses.allSatisfy({ policy.permits($0.bytes, host: host) }) else { throw RemoteFetchError.addressNotPermitted }
        return first.text
    }

    struct Resolved: Sendable { let bytes: [UInt8]; let text: String }

    /// The addresses of `host` (an IP literal is its own address), via the system resolver on a
    /// thread of its own (getaddrinfo blocks). A cancelled caller gets `CancellationError` at once
    /// rather than after the resolver's own timeouts (5 s per try here): graceful shutdown cancels
    /// the delivery loops, and a lookup of a name nobody answers must not hold it up. The lookup
    /// itself finishes on its thread and its answer is dropped.
    static func resolve(_ host: String) async throws -> [Resolved] {
        try await resolve(host, within: lookupLimit, lookUp: lookUp)
    }

    /// How long a name may take to resolve. glibc's resolver waits 5 s per try and server (twice
    /// by default), so a name nobody answers for held an outbound call (and the admin request or
    /// delivery behind it) 10 s or more before its connect timeout even began. 6 s still lets a
    /// lookup whose first packet was lost succeed on glibc's second try.
    static let lookupLimit: Duration = .seconds(6)

    /// `resolve` with the limit and the blocking lookup given (tests stand in for getaddrinfo).
    static func resolve(_ host: String, within limit: Duration, lookUp: @escaping @Sendable (String) throws -> [Resolved]) async throws
        -> [Resolved]
    {
        let bare = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        if let literal = IPAddress.parse(bare) { return [Resolved(bytes: literal, text: bare)] }
        let answer = ResolverAnswer()
        let nanoseconds = limit.components.seconds * 1_000_000_000 + limit.components.attoseconds / 1_000_000_000
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                guard answer.wait(continuation) else { return }
                Thread.detachNewThread { answer.give(Result { try lookUp(bare) }) }
                DispatchQueue.global().asyncAfter(deadline: .now() + .nanoseconds(Int(nanoseconds))) {
                    answer.give(.failure(RemoteFetchError.unreachable("the host name did not resolve in time")))
                }
            }
        } onCancel: {
            answer.give(.failure(CancellationError()))
        }
    }

    private static func lookUp(_ bare: String) throws -> [Resolved] {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        #if canImport(Glibc)
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        #else
        hints.ai_socktype = SOCK_STREAM
        #endif
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(bare, nil, &hints, &list)
        guard status == 0, let head = list else { throw RemoteFetchError.unreachable("the host name did not resolve") }
        defer { freeaddrinfo(head) }
        var out: [Resolved] = []
        var node: UnsafeMutablePointer<addrinfo>? = head
        while let current = node {
            if let sa = current.pointee.ai_addr {
                if current.pointee.ai_family == AF_INET {
                    let bytes = sa.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { pointer in
                        withUnsafeBytes(of: pointer.pointee.sin_addr) { Array($0) }
                    }
                    out.append(Resolved(bytes: bytes, text: bytes.map(String.init).joined(separator: ".")))
                } else if current.pointee.ai_family == AF_INET6 {
                    let bytes = sa.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { pointer in
                        withUnsafeBytes(of: pointer.pointee.sin6_addr) { Array($0) }
                    }
                    out.append(
                        Resolved(
                            bytes: bytes,
                            text: stride(from: 0, to: 16, by: 2)
                                .map { String(UInt16(bytes[$0]) << 8 | UInt16(bytes[$0 + 1]), radix: 16) }.joined(separator: ":")))
                }
            }
            node = current.pointee.ai_next
        }
        var seen = Set<[UInt8]>()
        return out.filter { seen.insert($0.bytes).inserted }
    }
}

/// The one answer a lookup gets: the resolver's or, if the caller was cancelled first, the
/// cancellation. Whichever comes first resumes the caller; the other is dropped.
private final class ResolverAnswer: Sendable {
    private enum State {
        case idle
        case waiting(CheckedContinuation<[OutboundResolver.Resolved], any Error>)
        case answered(Result<[OutboundResolver.Resolved], any Error>)
        case done
    }

    private let state = Mutex<State>(.idle)

    /// Registers the caller; false when the answer (a cancellation) came first and it was resumed.
    func wait(_ continuation: CheckedContinuation<[OutboundResolver.Resolved], any Error>) -> Bool {
        let early: Result<[OutboundResolver.Resolved], any Error>? = state.withLock { state in
            if case .answered(let result) = state {
                state = .done
                return result
            }
            state = .waiting(continuation)
            return nil
        }
        guard let early else { return true }
        continuation.resume(with: early)
        return false
    }

    func give(_ result: Result<[OutboundResolver.Resolved], any Error>) {
        let waiting: CheckedContinuation<[OutboundResolver.Resolved], any Error>? = state.withLock { state in
            switch state {
            case .idle:
                state = .answered(result)
                return nil
            case .waiting(let continuation):
                state = .done
                return continuation
            case .answered, .done:
                return nil
            }
        }
        waiting?.resume(with: result)
    }
}
