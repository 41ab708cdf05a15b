import Foundation
import Logging
import PostgresNIO
import SigilStore
import Synchronization

/// `ChangeSignal` across nodes: `publish` runs `pg_notify('sigil_changes', key)`; one connection
/// per node LISTENs and wakes local waiters. If the listening connection drops it reconnects;
/// meanwhile waiters fall back to their timeouts (they re-read the database anyway).
final class PostgresChangeSignal: ChangeSignal {
    static let channel = "sigil_changes"
    private let client: PostgresClient
    private let local = LocalChangeSignal()
    private let logger: Logger
    private let listener = Mutex<Task<Void, Never>?>(nil)

    init(client: PostgresClient, logger: Logger) {
        self.client = client
        self.logger = logger
    }

    /// Starts listening (once); returns once LISTEN is in place, or when the first attempt failed.
    func start() async {
        let alreadyStarted = listener.withLock { current in
            if current != nil { return true }
            current = Task {} // placeholder: claims the start
            return false
        }
        if alreadyStarted { return }
        let (ready, signalReady) = AsyncStream<Void>.makeStream()
        let task = Task { [client, local, logger] in
            var announced = false
            while !Task.isCancelled {
                do {
                    try await client.withConnection { connection in
                        try await connection.listen(on: Self.channel) { notifications in
                            if !announced { signalReady.yield(); signalReady.finish(); announced = true }
                            for try await notification in notifications {
                                await local.publish(notification.payload)
                            }
                        }
                    }
                } catch {
                    if Task.isCancelled { break }
                    logger.warning("change listener lost its connection; reconnecting", metadata: ["error": .string("\(error)")])
                }
                if !announced { signalReady.finish(); announced = true }
                try? await Task.sleep(for: .seconds(1))
            }
        }
        listener.withLock { $0 = task }
        for await _ in ready {}
    }

    func stop() {
        listener.withLock { $0?.cancel() }
    }

    func publish(_ key: String) async {
        do {
            try await client.query("SELECT pg_notify(\(Self.channel), \(key))")
        } catch {
            logger.warning("change notification failed", metadata: ["error": .string("\(error)")])
            await local.publish(key)
        }
    }

    func wait(for key: String, timeout: Duration) async -> Bool {
        await start()
        return await local.wait(for: key, timeout: timeout)
    }
}
