import Foundation
import Logging
import SigilCore

#if canImport(Glibc)
import Glibc
#endif

/// Writes one JSON object per line: `ts`, `level`, `logger`, `msg` and the metadata, members in
/// sorted order, slashes unescaped. Values are whatever the caller logged: Sigil's code never
/// logs secrets, tokens or identity documents.
///
/// The line is encoded by hand into bytes (no `JSONSerialization`, no date formatter) and handed
/// to `output`: for `sigil serve` a `BufferedLineWriter`, so the request that logs never waits for
/// the write; for the CLI commands a direct write to standard error.
public struct JSONLogHandler: LogHandler {
    public typealias Output = @Sendable ([UInt8]) -> Void

    public let label: String
    public var logLevel: Logger.Level
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let output: Output

    public init(label: String, level: Logger.Level, output: @escaping Output) {
        self.label = label
        self.logLevel = level
        self.output = output
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        output(line(event, at: Date()))
    }

    /// The encoded line for `event` at `date`, newline included.
    func line(_ event: LogEvent, at date: Date) -> [UInt8] {
        var merged = metadata
        if let provided = metadataProvider?.get(), !provided.isEmpty { merged.merge(provided) { _, new in new } }
        if let extra = event.metadata, !extra.isEmpty { merged.merge(extra) { _, new in new } }
        // The fixed members win over metadata of the same name, as before.
        for fixed in ["ts", "level", "logger", "msg"] { merged[fixed] = nil }
        var members: [(String, Member)] = [
            ("ts", .timestamp(date)), ("level", .raw(event.level.rawValue)), ("logger", .raw(label)),
            ("msg", .raw(event.message.description)),
        ]
        for (key, value) in merged { members.append((key, .value(value))) }
        members.sort { $0.0 < $1.0 }
        var out: [UInt8] = []
        out.reserveCapacity(256)
        out.append(UInt8(ascii: "{"))
        for (index, (key, member)) in members.enumerated() {
            if index > 0 { out.append(UInt8(ascii: ",")) }
            JSONString.append(key, to: &out)
            out.append(UInt8(ascii: ":"))
            switch member {
            case .raw(let text): JSONString.append(text, to: &out)
            case .timestamp(let date): Self.appendTimestamp(date, to: &out)
            case .value(let value): Self.append(value, to: &out)
            }
        }
        out.append(UInt8(ascii: "}"))
        out.append(0x0A)
        return out
    }

    private enum Member {
        case raw(String)
        case timestamp(Date)
        case value(Logger.Metadata.Value)
    }

    static func append(_ value: Logger.Metadata.Value, to out: inout [UInt8]) {
        switch value {
        case .string(let s): JSONString.append(s, to: &out)
        case .stringConvertible(let c): JSONString.append(c.description, to: &out)
        case .array(let items):
            out.append(UInt8(ascii: "["))
            for (index, item) in items.enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                append(item, to: &out)
            }
            out.append(UInt8(ascii: "]"))
        case .dictionary(let dictionary):
            out.append(UInt8(ascii: "{"))
            for (index, key) in dictionary.keys.sorted().enumerated() {
                if index > 0 { out.append(UInt8(ascii: ",")) }
                JSONString.append(key, to: &out)
                out.append(UInt8(ascii: ":"))
                append(dictionary[key]!, to: &out)
            }
            out.append(UInt8(ascii: "}"))
        }
    }

    /// `2026-12-06T05:49:08.123Z` (RFC 3339, UTC, milliseconds), without a date formatter.
    static func timestamp(_ date: Date) -> String {
        var out: [UInt8] = []
        appendTimestamp(date, to: &out)
        return String(decoding: out.dropFirst().dropLast(), as: UTF8.self)
    }

    /// The timestamp as a JSON string.
    static func appendTimestamp(_ date: Date, to out: inout [UInt8]) {
        let interval = date.timeIntervalSince1970
        let seconds = interval.rounded(.down)
        let millis = min(max(Int(((interval - seconds) * 1000).rounded(.down)), 0), 999)
        var time = time_t(seconds)
        var parts = tm()
        gmtime_r(&time, &parts)
        func digits(_ value: Int, _ width: Int) {
            var divisor = 1
            for _ in 1..<width { divisor *= 10 }
            var rest = value
            while divisor > 0 {
                out.append(UInt8(ascii: "0") + UInt8((rest / divisor) % 10))
                rest %= divisor
                divisor /= 10
            }
        }
        out.append(UInt8(ascii: "\""))
        digits(Int(parts.tm_year) + 1900, 4)
        out.append(UInt8(ascii: "-"))
        digits(Int(parts.tm_mon) + 1, 2)
        out.append(UInt8(ascii: "-"))
        digits(Int(parts.tm_mday), 2)
        out.append(UInt8(ascii: "T"))
        digits(Int(parts.tm_hour), 2)
        out.append(UInt8(ascii: ":"))
        digits(Int(parts.tm_min), 2)
        out.append(UInt8(ascii: ":"))
        digits(Int(parts.tm_sec), 2)
        out.append(UInt8(ascii: "."))
        digits(millis, 3)
        out.append(UInt8(ascii: "Z"))
        out.append(UInt8(ascii: "\""))
    }
}
