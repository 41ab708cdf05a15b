import Dispatch
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Log lines off the request path: `write` appends a line to a bounded in-memory buffer and
/// returns at once; one writer thread hands whatever has accumulated to the sink in a single
/// call. When the buffer is full (the sink, e.g. a pipe to a slow log collector, cannot keep up)
/// the line is dropped and counted (`dropped`, and the observer `sigil serve` points at the
/// Prometheus counter `sigil_log_lines_dropped_total`): a request never waits for the log.
/// `flush()` waits until every line written before it has reached the sink (shutdown).
public final class BufferedLineWriter: Sendable {
    public typealias Sink = @Sendable ([UInt8]) -> Void

    private struct State: Sendable {
        var pending: [UInt8] = []
        var writerIdle = false
        var closing = false
        var dropped = 0
        var flushWaiters: [DispatchSemaphore] = []
        var dropObserver: (@Sendable (Int) -> Void)?
    }

    private enum Step: Sendable {
        case write([UInt8])
        case release([DispatchSemaphore])
        case sleep
        case exit([DispatchSemaphore])
    }

    /// At most this many bytes wait for the sink; a line that does not fit is dropped.
    public let capacity: Int
    private let sink: Sink
    private let state = Mutex(State())
    private let wake = DispatchSemaphore(value: 0)

    /// Starts the writer thread. `capacity` bounds the bytes waiting for `sink`.
    public init(capacity: Int = 4 << 20, sink: @escaping Sink) {
        self.capacity = capacity
        self.sink = sink
        let thread = Thread { [self] in self.run() }
        thread.name = "sigil-log-writer"
        thread.start()
    }

    /// Queues `line` (already terminated); false when it was dropped because the buffer is full.
    @discardableResult
    public func write(_ line: [UInt8]) -> Bool {
        let (accepted, wakeWriter, observer) = state.withLock { state -> (Bool, Bool, (@Sendable (Int) -> Void)?) in
            guard !state.closing, state.pending.count + line.count <= capacity else {
                state.dropped += 1
                return (false, false, state.dropObserver)
            }
            state.pending.append(contentsOf: line)
            guard state.writerIdle else { return (true, false, nil) }
            state.writerIdle = false
            return (true, true, nil)
        }
        if wakeWriter { wake.signal() }
        if !accepted { observer?(1) }
        return accepted
    }

    /// Lines dropped so far because the buffer was full.
    public var dropped: Int { state.withLock { $0.dropped } }

    /// Calls `observer` with every future drop, and once now with the drops so far (if any).
    public func observeDrops(_ observer: @escaping @Sendable (Int) -> Void) {
        let earlier = state.withLock { state in
            state.dropObserver = observer
            return state.dropped
        }
        if earlier > 0 { observer(earlier) }
    }

    /// Returns once every line written before the call has been handed to the sink.
    public func flush() {
        waitForWriter(closing: false)
    }

    /// Flushes, then stops the writer thread; later lines are dropped.
    public func close() {
        waitForWriter(closing: true)
    }

    /// Queues a waiter the writer releases once the buffer is empty (and then exits, when
    /// `closing`); returns at once when the writer has already been told to exit.
    private func waitForWriter(closing: Bool) {
        let done = DispatchSemaphore(value: 0)
        let (queued, wakeWriter) = state.withLock { state -> (Bool, Bool) in
            guard !state.closing else { return (false, false) }
            if closing { state.closing = true }
            state.flushWaiters.append(done)
            guard state.writerIdle else { return (true, false) }
            state.writerIdle = false
            return (true, true)
        }
        guard queued else { return }
        if wakeWriter { wake.signal() }
        done.wait()
    }

    private func run() {
        var spare: [UInt8] = []
        while true {
            let step = state.withLock { state -> Step in
                if !state.pending.isEmpty {
                    var batch = spare
                    swap(&batch, &state.pending)
                    return .write(batch)
                }
                if state.closing {
                    let waiters = state.flushWaiters
                    state.flushWaiters = []
                    return .exit(waiters)
                }
                if !state.flushWaiters.isEmpty {
                    let waiters = state.flushWaiters
                    state.flushWaiters = []
                    return .release(waiters)
                }
                state.writerIdle = true
                return .sleep
            }
            switch step {
            case .write(var batch):
                sink(batch)
                batch.removeAll(keepingCapacity: batch.capacity <= 1 << 20)
                spare = batch
            case .release(let waiters):
                for waiter in waiters { waiter.signal() }
            case .sleep:
                wake.wait()
            case .exit(let waiters):
                for waiter in waiters { waiter.signal() }
                return
            }
        }
    }

    /// A sink writing to a file descriptor (1: standard output), retrying short writes and
    /// interruptions; other errors drop the batch (there is nowhere to report them).
    public static func fileDescriptor(_ fd: Int32) -> Sink {
        { bytes in
            bytes.withUnsafeBytes { raw in
                var offset = 0
                while offset < raw.count {
                    let n = Glibc.write(fd, raw.baseAddress! + offset, raw.count - offset)
                    if n > 0 {
                        offset += n
                    } else if n < 0 && errno == EINTR {
                        continue
                    } else {
                        return
                    }
                }
            }
        }
    }
}
