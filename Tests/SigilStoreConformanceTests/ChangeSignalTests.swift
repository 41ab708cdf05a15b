import Foundation
import SigilSQLStore
import SigilStore
import SigilTestSupport
import Testing

@Suite("Change signals")
struct ChangeSignalTests {
    /// A wait that is never signalled ends at its timeout: the time limit catches one that hangs
    /// (no test times anything finer; the run shares two cores with RSA key generation).
    @Test(.timeLimit(.minutes(10)))
    func localSignalsWakeWaitersAndTimeOut() async throws {
        let signal = LocalChangeSignal()
        async let woken = signal.wait(for: "ltx_1", timeout: .seconds(10))
        try await Task.sleep(for: .milliseconds(50))
        await signal.publish("ltx_2") // another key wakes nobody
        await signal.publish("ltx_1")
        #expect(await woken)
        #expect(await signal.wait(for: "ltx_3", timeout: .milliseconds(100)) == false)
    }

    /// Two stores on one PostgreSQL database stand for two nodes: a change published through one
    /// wakes a waiter on the other (LISTEN/NOTIFY). A notification sent before B's listener is up
    /// is lost (waiters fall back to their timeouts and re-read the database), and on a loaded
    /// machine that start can take seconds, so A publishes again, each time to a fresh waiter,
    /// until one is woken: what is checked is that a notification crosses, not how soon.
    @Test(.timeLimit(.minutes(10)))
    func postgresSignalsCrossNodes() async throws {
        guard let url = Backend.postgresURL else {
            print("note: SIGIL_TEST_POSTGRES_URL is not set; the cross-node signal test is skipped")
            return
        }
        let nodeA = try await testPostgresStore(url: url)
        let nodeB = try await testPostgresStore(url: url)
        let key = "ltx_" + UUID().uuidString
        // Let B's listener come up, then wait while A publishes.
        _ = await nodeB.signals.wait(for: "warm-up-\(key)", timeout: .milliseconds(200))
        var woken = false
        for _ in 0..<30 where !woken {
            async let wait = nodeB.signals.wait(for: key, timeout: .seconds(3))
            try await Task.sleep(for: .milliseconds(200))
            await nodeA.signals.publish(key)
            woken = await wait
        }
        #expect(woken)
        try await nodeA.close()
        try await nodeB.close()
    }
}
