import Synchronization

/// Work started off the request path (push deliveries, back-channel logout tokens) that graceful
/// shutdown and tests can wait for. One task per `enqueue`; a task forgets itself when done.
final class TrackedTasks: Sendable {
    private let state = Mutex<(next: Int, running: [Int: Task<Void, Never>])>((0, [:]))

    func enqueue(_ work: @escaping @Sendable () async -> Void) {
        state.withLock { s in
            let id = s.next
            s.next += 1
            s.running[id] = Task {
                await work()
                self.state.withLock { _ = $0.running.removeValue(forKey: id) }
            }
        }
    }

    /// Waits until nothing is running, including work enqueued while waiting.
    func drain() async {
        while true {
            let tasks = state.withLock { Array($0.running.values) }
            if tasks.isEmpty { return }
            for task in tasks { await task.value }
        }
    }
}
