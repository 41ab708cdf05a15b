/// Wakes whoever waits for a record to change (a login transaction approved on a phone while a
/// browser waits on another node). Signals carry only keys (ids), never data: waiters re-read
/// the store, so a lost signal costs latency, not correctness.
public protocol ChangeSignal: Sendable {
    /// Announces that the record under `key` changed. Call after the change is committed.
    func publish(_ key: String) async
    /// Returns when `key` is published or `timeout` passes; true if it was published.
    func wait(for key: String, timeout: Duration) async -> Bool
}

/// Signals within one process (SQLite deployments are one process).
public actor LocalChangeSignal: ChangeSignal {
    private var waiters: [String: [Int: CheckedContinuation<Bool, Never>]] = [:]
    private var nextID = 0

    public init() {}

    public func publish(_ key: String) {
        guard let waiting = waiters.removeValue(forKey: key) else { return }
        for continuation in waiting.values { continuation.resume(returning: true) }
    }

    public func wait(for key: String, timeout: Duration) async -> Bool {
        let id = nextID
        nextID += 1
        let timer = Task { [weak self] in
            try? await Task.sleep(for: timeout)
            await self?.expire(key: key, id: id)
        }
        let published = await withCheckedContinuation { continuation in
            waiters[key, default: [:]][id] = continuation
        }
        timer.cancel()
        return published
    }

    private func expire(key: String, id: Int) {
        guard let continuation = waiters[key]?.removeValue(forKey: id) else { return }
        if waiters[key]?.isEmpty == true { waiters[key] = nil }
        continuation.resume(returning: false)
    }
}
