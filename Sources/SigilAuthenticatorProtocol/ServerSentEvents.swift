/// Server-sent events as the HTML Living Standard ("Server-sent events", §9.2) defines the
/// `text/event-stream` format: the writer used by the server, the parser used by the kit.
public struct ServerSentEvent: Sendable, Equatable {
    public var event: String
    public var data: String
    public var id: String?
    public init(event: String = "message", data: String, id: String? = nil) { self.event = event; self.data = data; self.id = id }

    /// The wire form of this event. `event`, `id` must not contain line breaks (they are ids and
    /// state names here); `data` may, and becomes one `data:` line per line.
    public var encoded: String {
        var out = ""
        if let id { out += "id: \(id)\n" }
        if event != "message" { out += "event: \(event)\n" }
        for line in data.split(separator: "\n", omittingEmptySubsequences: false) { out += "data: \(line)\n" }
        return out + "\n"
    }

    public static func retry(milliseconds: Int) -> String { "retry: \(milliseconds)\n\n" }
    public static let heartbeat = ": hb\n\n"
}

/// Incremental `text/event-stream` parser: feed bytes as they arrive, collect complete events.
/// Lines end in CRLF, LF or CR; comments (`:`) are ignored; `retry` is recorded.
public struct ServerSentEventParser: Sendable {
    private var buffer: [UInt8] = []
    private var lastWasCR = false
    private var data: [String] = []
    private var event = ""
    private var hasData = false
    public private(set) var lastEventID: String?
    public private(set) var retry: Int?
    /// Upper bound on one line, so a hostile stream cannot grow memory without bound.
    public let maximumLine: Int

    public init(maximumLine: Int = 64 * 1024) { self.maximumLine = maximumLine }

    public enum ParseError: Error, Sendable { case lineTooLong }

    public mutating func feed(_ bytes: some Sequence<UInt8>) throws(ParseError) -> [ServerSentEvent] {
        var events: [ServerSentEvent] = []
        for byte in bytes {
            if byte == 0x0A, lastWasCR { lastWasCR = false; continue }
            lastWasCR = byte == 0x0D
            if byte == 0x0A || byte == 0x0D {
                if let e = line(String(decoding: buffer, as: UTF8.self)) { events.append(e) }
                buffer.removeAll(keepingCapacity: true)
            } else {
                buffer.append(byte)
                if buffer.count > maximumLine { throw .lineTooLong }
            }
        }
        return events
    }

    private mutating func line(_ line: String) -> ServerSentEvent? {
        if line.isEmpty {
            defer { data = []; event = ""; hasData = false }
            guard hasData else { return nil }
            return ServerSentEvent(event: event.isEmpty ? "message" : event, data: data.joined(separator: "\n"), id: lastEventID)
        }
        if line.hasPrefix(":") { return nil }
        let field: Substring
        var value: Substring
        if let colon = line.firstIndex(of: ":") {
            field = line[..<colon]
            value = line[line.index(after: colon)...]
            if value.hasPrefix(" ") { value = value.dropFirst() }
        } else {
            field = Substring(line)
            value = ""
        }
        switch field {
        case "event": event = String(value)
        case "data": data.append(String(value)); hasData = true
        case "id": if !value.contains("\0") { lastEventID = String(value) }
        case "retry": if let n = Int(value), value.allSatisfy(\.isNumber) { retry = n }
        default: break
        }
        return nil
    }
}
