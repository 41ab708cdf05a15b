import Dispatch
import Foundation
import Logging
import Synchronization
import Testing

@testable import SigilHTTP

/// The log path of `sigil serve`: `BufferedLineWriter` (bounded, never blocks the caller, counts
/// drops, flushes) and `JSONLogHandler`'s hand-written JSON. Nothing here measures time: a sink
/// that blocks until the test releases it stands for a slow log collector.
@Suite struct LogWriterTests {
    /// Shared state for the sinks and observers (escaping closures cannot capture a `Mutex`).
    final class Box<Value: Sendable>: Sendable {
        let value: Mutex<Value>
        init(_ value: Value) { self.value = Mutex(value) }
        var current: Value { value.withLock { $0 } }
    }

    /// A sink that records what it receives and, while `held`, blocks in its first call after
    /// signalling `entered`, until `release()`.
    final class SlowSink: Sendable {
        let received = Mutex<[UInt8]>([])
        let entered = DispatchSemaphore(value: 0)
        let gate = DispatchSemaphore(value: 0)
        let held = Mutex(true)

        func write(_ bytes: [UInt8]) {
            received.withLock { $0.append(contentsOf: bytes) }
            if held.withLock({ $0 }) {
                entered.signal()
                gate.wait()
            }
        }

        func release() {
            held.withLock { $0 = false }
            gate.signal()
        }

        var text: String { String(decoding: received.withLock { $0 }, as: UTF8.self) }
    }

    @Test func aFullBufferDropsAndCountsInsteadOfBlocking() {
        let sink = SlowSink()
        let writer = BufferedLineWriter(capacity: 10) { sink.write($0) }
        let observed = Box(0)
        writer.observeDrops { n in observed.value.withLock { $0 += n } }
        #expect(writer.write(Array("a\n".utf8)))
        sink.entered.wait() // the writer thread now holds "a\n" and is stuck in the sink
        // 10 bytes of room: three 3-byte lines fit, the other two are dropped. Each call returns
        // while the sink is still blocked: were a write to wait for the sink, this test would hang.
        let accepted = (0..<5).map { _ in writer.write(Array("bb\n".utf8)) }
        #expect(accepted == [true, true, true, false, false])
        #expect(writer.dropped == 2)
        #expect(observed.current == 2)
        sink.release()
        writer.flush()
        #expect(sink.text == "a\nbb\nbb\nbb\n")
        // Room again once the sink caught up.
        #expect(writer.write(Array("c\n".utf8)))
        writer.close()
        #expect(sink.text == "a\nbb\nbb\nbb\nc\n")
        #expect(writer.dropped == 2)
    }

    @Test func flushDeliversEverythingWrittenBeforeItInOrder() {
        let received = Box<[UInt8]>([])
        let writer = BufferedLineWriter { bytes in received.value.withLock { $0.append(contentsOf: bytes) } }
        var expected: [UInt8] = []
        for i in 0..<1000 {
            let line = Array("line \(i)\n".utf8)
            expected += line
            #expect(writer.write(line))
        }
        writer.flush()
        #expect(received.current == expected)
        writer.flush() // nothing pending: returns
        writer.close()
        writer.close() // a second close returns too
        #expect(!writer.write(Array("late\n".utf8)))
        writer.flush()
        #expect(received.current == expected)
    }

    @Test func dropsBeforeAnObserverAreReportedToIt() {
        let sink = SlowSink()
        let writer = BufferedLineWriter(capacity: 2) { sink.write($0) }
        #expect(writer.write(Array("a\n".utf8)))
        sink.entered.wait()
        #expect(writer.write(Array("b\n".utf8)))
        #expect(!writer.write(Array("c\n".utf8)))
        let observed = Box(0)
        writer.observeDrops { n in observed.value.withLock { $0 += n } }
        #expect(observed.current == 1)
        sink.release()
        writer.close()
    }

    func line(_ level: Logger.Level, _ message: String, _ metadata: Logger.Metadata, handlerMetadata: Logger.Metadata = [:]) throws -> [String: Any] {
        let lines = Box<[[UInt8]]>([])
        var handler = JSONLogHandler(label: "sigil", level: .trace) { bytes in lines.value.withLock { $0.append(bytes) } }
        handler.metadata = handlerMetadata
        var logger = Logger(label: "sigil") { _ in handler }
        logger.logLevel = .trace
        logger.log(level: level, "\(message)", metadata: metadata)
        let written = try #require(lines.current.first)
        #expect(written.last == 0x0A)
        #expect(written.dropLast().firstIndex(of: 0x0A) == nil)
        return try #require(try JSONSerialization.jsonObject(with: Data(written)) as? [String: Any])
    }

    @Test func linesAreValidJSONWithEveryCharacterEscaped() throws {
        let hostile = "quote \" backslash \\ newline \n tab \t nul \u{0} bell \u{7} slash / é 🔑"
        let object = try line(
            .info, hostile,
            [
                "route": "/oauth2/token", "status": .stringConvertible(200), "nested": ["b": "2", "a": ["x", .string(hostile)]],
                "level": "spoofed",
            ], handlerMetadata: ["hb.request.id": "42"])
        #expect(object["msg"] as? String == hostile)
        #expect(object["level"] as? String == "info")
        #expect(object["logger"] as? String == "sigil")
        #expect(object["route"] as? String == "/oauth2/token")
        #expect(object["status"] as? String == "200")
        #expect(object["hb.request.id"] as? String == "42")
        let nested = try #require(object["nested"] as? [String: Any])
        #expect(nested["b"] as? String == "2")
        #expect(nested["a"] as? [String] == ["x", hostile])
        let ts = try #require(object["ts"] as? String)
        let parser = ISO8601DateFormatter()
        parser.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        #expect(parser.date(from: ts) != nil, "\(ts)")
    }

    @Test func membersAreSortedAndSlashesUnescaped() {
        let handler = JSONLogHandler(label: "sigil", level: .info) { _ in }
        let event = LogEvent(
            level: .warning, message: "m", metadata: ["zeta": "/a/b", "alpha": "1"], source: "s", file: "f", function: "g", line: 1)
        let text = String(decoding: handler.line(event, at: Date(timeIntervalSince1970: 1_800_000_000.25)), as: UTF8.self)
        #expect(text == #"{"alpha":"1","level":"warning","logger":"sigil","msg":"m","ts":"2027-01-15T08:00:00.250Z","zeta":"/a/b"}"# + "\n")
    }
}
