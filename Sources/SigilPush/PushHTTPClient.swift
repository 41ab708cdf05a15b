import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// The HTTP client both adapters use. Real APNs is HTTP/2 only: async-http-client negotiates HTTP/2
/// by ALPN over TLS (`httpVersion` `.automatic`); over cleartext (the local fake) it speaks HTTP/1.1.
///
/// Create one per process and call `shutdown()` on graceful shutdown, or use `shared` (the
/// process-wide client of async-http-client, which is never shut down).
public final class PushHTTPClient: Sendable {
    let client: HTTPClient
    private let owned: Bool
    private let configuration: HTTPClient.Configuration

    /// A client owned by the caller, who must call `shutdown()` once it is no longer used.
    /// - Parameters:
    ///   - connectTimeout: one TCP and TLS connection attempt.
    ///   - requestTimeout: one whole request, from sending to the last byte of the answer. While a
    ///     provider is unreachable, async-http-client retries connecting until this deadline, so
    ///     a send gives up after about twice this (the adapters retry once).
    public init(connectTimeout: Duration = .seconds(5), requestTimeout: Duration = .seconds(10)) {
        var configuration = HTTPClient.Configuration()
        configuration.timeout = .init(connect: .init(connectTimeout), read: .init(requestTimeout))
        configuration.redirectConfiguration = .disallow
        configuration.httpVersion = .automatic
        self.configuration = configuration
        self.client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
        self.owned = true
        self.requestTimeout = .init(requestTimeout)
    }

    private init(shared client: HTTPClient) {
        self.client = client
        self.owned = false
        self.requestTimeout = .seconds(10)
        var configuration = HTTPClient.Configuration()
        configuration.redirectConfiguration = .disallow
        self.configuration = configuration
    }

    /// async-http-client's process-wide client; `shutdown()` does nothing on it.
    public static let shared = PushHTTPClient(shared: HTTPClient.shared)

    let requestTimeout: TimeAmount

    /// Closes the connections; in-flight requests fail. Call once, after the last `send`.
    public func shutdown() async throws {
        guard owned else { return }
        try await client.shutdown()
    }

    /// One POST. The URL contains a device token (APNs): never log it.
    func post(url: String, headers: [(String, String)], body: [UInt8]) async throws -> PushHTTPResponse {
        try await post(url: url, headers: headers, body: body, using: client)
    }

    /// One POST connected to `address` for `host` (checked by the caller's outbound policy):
    /// a client of its own with that DNS override, so the name is not resolved again.
    func post(url: String, headers: [(String, String)], body: [UInt8], pinning host: String, to address: String) async throws -> PushHTTPResponse {
        var pinned = configuration
        pinned.dnsOverride = [host: address]
        let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: pinned)
        do {
            let response = try await post(url: url, headers: headers, body: body, using: client)
            try? await client.shutdown()
            return response
        } catch {
            try? await client.shutdown()
            throw error
        }
    }

    private func post(url: String, headers: [(String, String)], body: [UInt8], using client: HTTPClient) async throws -> PushHTTPResponse {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        request.headers.replaceOrAdd(name: "content-length", value: String(body.count))
        request.body = .bytes(ByteBuffer(bytes: body))
        let response = try await client.execute(request, timeout: requestTimeout)
        let buffer = try await response.body.collect(upTo: 64 * 1024)
        var fields: [String: String] = [:]
        for header in response.headers { fields[header.name.lowercased()] = header.value }
        return PushHTTPResponse(status: Int(response.status.code), headers: fields, body: Array(buffer.readableBytesView))
    }
}

struct PushHTTPResponse: Sendable {
    var status: Int
    /// Lower-cased names; the last value wins.
    var headers: [String: String]
    var body: [UInt8]
}

enum PushHTTP {
    /// `Retry-After` as delay-seconds or an HTTP-date (RFC 9110 §10.2.3), relative to `now`.
    static func retryAfter(_ value: String?, now: Date) -> TimeInterval? {
        guard let value = value?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { return nil }
        if let seconds = Int(value) { return TimeInterval(max(0, seconds)) }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        guard let date = formatter.date(from: value) else { return nil }
        return max(0, date.timeIntervalSince(now))
    }

    /// The wait before the one retry: the server's `Retry-After`, else a short pause, capped.
    static func retryDelay(_ retryAfter: TimeInterval?, cap: TimeInterval) -> TimeInterval {
        min(retryAfter ?? 0.5, cap)
    }

    static func sleep(seconds: TimeInterval) async {
        guard seconds > 0 else { return }
        try? await Task.sleep(for: .milliseconds(Int((seconds * 1000).rounded(.up))))
    }

    /// A JSON string literal for `value` (RFC 8259 escaping), for bodies built in a fixed key order.
    static func jsonString(_ value: String) -> String {
        var out = "\""
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 {
                    out += String(format: "\\u%04x", scalar.value)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }

    /// A provider's error text, reduced to a short identifier-like string safe to log and store
    /// (it never echoes a token or body back).
    static func reason(_ raw: String?, status: Int) -> String {
        guard let raw else { return "HTTP \(status)" }
        let kept = raw.unicodeScalars.filter { unreserved.contains($0) || $0 == " " }
        let text = String(String.UnicodeScalarView(kept.prefix(80)))
        return text.isEmpty ? "HTTP \(status)" : text
    }

    /// RFC 3986 unreserved characters.
    static let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")

    /// Percent-encodes a path segment (a device token in a URL).
    static func pathSegment(_ value: String) -> String {
        value.addingPercentEncoding(withAllowedCharacters: unreserved) ?? ""
    }

    /// `application/x-www-form-urlencoded` value.
    static func formValue(_ value: String) -> String {
        value.addingPercentEncoding(withAllowedCharacters: unreserved) ?? ""
    }

    static func trimmingSlash(_ url: String) -> String {
        var url = url
        while url.hasSuffix("/") { url.removeLast() }
        return url
    }
}
