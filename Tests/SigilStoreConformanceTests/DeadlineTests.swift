import Foundation
import Synchronization
import Testing

@testable import SigilSQLStore

/// The time limits below only catch a hang: the whole test run shares two cores with RSA key
/// generation, and a limit near the work's own length failed on a busy machine, not on a bug.
///
/// `withDeadline` bounds every PostgreSQL operation. These pin down that it releases its caller
/// even when the body ignores cancellation (a statement stuck on a connection whose server
/// vanished), which a task-group race cannot do: the group waits for all its children.
@Suite("Database deadlines")
struct DeadlineTests {
    /// A gate that ignores cancellation: `wait()` returns only after `open()`.
    final class Gate: Sendable {
        private let state = Mutex<(open: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))
        func wait() async {
            await withCheckedContinuation { continuation in
                let resumeNow = state.withLock { s -> Bool in
                    if s.open { return true }
                    s.waiters.append(continuation)
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        }
        func open() {
            let waiters = state.withLock { s in
                s.open = true
                defer { s.waiters = [] }
                return s.waiters
            }
            for waiter in waiters { waiter.resume() }
        }
    }

    @Test(.timeLimit(.minutes(10)))
    func aBodyThatIgnoresCancellationStillTimesOut() async throws {
        let gate = Gate()
        let finished = Mutex(false)
        await #expect(throws: DatabaseTimeout.self) {
            try await withDeadline(.milliseconds(50)) {
                await gate.wait()
                finished.withLock { $0 = true }
                return 1
            }
        }
        // The caller was released while the body was still waiting.
        #expect(finished.withLock { $0 } == false)
        gate.open()
    }

    @Test
    func resultsAndErrorsOfTheBodyPassThrough() async throws {
        #expect(try await withDeadline(.seconds(60)) { 42 } == 42)
        struct Boom: Error {}
        await #expect(throws: Boom.self) {
            try await withDeadline(.seconds(60)) { () async throws -> Int in throw Boom() }
        }
    }

    @Test(.timeLimit(.minutes(10)))
    func cancellingTheCallerEndsTheWait() async throws {
        let gate = Gate()
        let task = Task {
            try await withDeadline(.seconds(3600)) {
                await gate.wait()
                return 1
            }
        }
        task.cancel()
        await #expect(throws: CancellationError.self) { try await task.value }
        gate.open()
    }

    /// Finished operations leave nothing behind: no watch, no timer (one per operation used to
    /// stay armed for the whole limit, issue 17's memory growth on PostgreSQL).
    @Test(.timeLimit(.minutes(10)))
    func finishedOperationsLeaveNoWatchBehind() async throws {
        let clock = DeadlineClock()
        for i in 0..<500 {
            #expect(try await withDeadline(.seconds(3600), clock: clock) { i } == i)
        }
        struct Boom: Error {}
        for _ in 0..<50 {
            _ = try? await withDeadline(.seconds(3600), clock: clock) { () async throws -> Int in throw Boom() }
        }
        #expect(clock.pendingCount == 0)
        // And a watched deadline still fires on the same clock after all that.
        await #expect(throws: DatabaseTimeout.self) {
            try await withDeadline(.milliseconds(20), clock: clock) { () async throws -> Int in
                try? await Task.sleep(for: .seconds(3600))
                return 0
            }
        }
        #expect(clock.pendingCount == 0)
    }
}
