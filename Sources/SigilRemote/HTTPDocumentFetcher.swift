import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import SigilServices

/// `RemoteDocumentFetcher` over async-http-client: one GET, no redirects (a redirect could take
/// an allowed https URL to a host the URL policy would refuse), a connect and a whole-request
/// timeout, and a body limit enforced while reading. The URL policy itself is checked by
/// `RemoteDocuments` before this is called.
public final class HTTPDocumentFetcher: RemoteDocumentFetcher {
    private let client: HTTPClient
    private let timeout: TimeAmount

    public init(connectTimeout: Duration = .seconds(3), requestTimeout: Duration = .seconds(5)) {
        var configuration = HTTPClient.Configuration()
        configuration.timeout = .init(connect: .init(connectTimeout), read: .init(requestTimeout))
        configuration.redirectConfiguration = .disallow
        configuration.decompression = .disabled
        self.client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
        self.timeout = .init(requestTimeout)
    }

    /// One per process, created on first use and never shut down (like async-http-client's own
    /// shared client): the CLI and the server share it.
    public static let shared = HTTPDocumentFetcher()

    /// Closes the connections; call once on shutdown (not on `shared`).
    public func shutdown() async throws {
        try await client.shutdown()
    }

    public func fetch(_ url: URL, accept: String, maxBytes: Int) async throws -> RemoteDocument {
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
        return RemoteDocument(body: Array(body.readableBytesView),
                              maxAge: Self.maxAge(response.headers[canonicalForm: "cache-control"].map(String.init)))
    }

    /// `max-age` from Cache-Control values; `no-store`/`no-cache` count as 0.
    static func maxAge(_ values: [String]) -> TimeInterval? {
        var result: TimeInterval?
        for directive in values.flatMap({ $0.split(separator: ",") }) {
            let parts = directive.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
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
