import AsyncHTTPClient
import AuthenticatorKit

/// `AuthenticatorTransport` over async-http-client. Redirects are not followed (a signed request
/// names one URL). With `via`, everything before `/authenticator/v1/` is replaced by that base URL;
/// the request is still signed for the issuer's URL.
struct HTTPTransport: AuthenticatorTransport {
    let client: HTTPClient
    let via: String?

    static let marker = "/authenticator/v1/"

    static func rewrite(_ url: String, via: String?) -> String {
        guard let via, let range = url.range(of: marker) else { return url }
        var base = via
        while base.hasSuffix("/") { base.removeLast() }
        return base + url[range.lowerBound...]
    }

    func request(_ exchange: HTTPExchange) -> HTTPClientRequest {
        var request = HTTPClientRequest(url: Self.rewrite(exchange.url, via: via))
        request.method = .init(rawValue: exchange.method)
        for (name, value) in exchange.headers { request.headers.add(name: name, value: value) }
        request.headers.replaceOrAdd(name: "User-Agent", value: "sigil-authenticator")
        if !exchange.body.isEmpty || ["POST", "PUT"].contains(exchange.method) { request.body = .bytes(exchange.body) }
        return request
    }

    func send(_ exchange: HTTPExchange) async throws -> HTTPReply {
        // Long enough for `pending?wait=55`.
        let response = try await client.execute(request(exchange), timeout: .seconds(90))
        let body = try await response.body.collect(upTo: 1 << 20)
        return HTTPReply(
            status: Int(response.status.code), headers: response.headers.map { ($0.name, $0.value) },
            body: Array(body.readableBytesView))
    }

    func open(_ exchange: HTTPExchange) async throws -> (HTTPReply, AsyncThrowingStream<[UInt8], any Error>) {
        // The server closes a device stream after 300 s.
        let response = try await client.execute(request(exchange), timeout: .seconds(330))
        let body = response.body
        let stream = AsyncThrowingStream<[UInt8], any Error> { continuation in
            let task = Task {
                do {
                    for try await buffer in body { continuation.yield(Array(buffer.readableBytesView)) }
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
        return (HTTPReply(status: Int(response.status.code), headers: response.headers.map { ($0.name, $0.value) }), stream)
    }
}
