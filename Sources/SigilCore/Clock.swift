import Foundation

/// A source of the current time. Protocol cores and services take one instead of calling `Date()`,
/// so tests control time exactly.
public protocol SigilClock: Sendable {
    func now() -> Date
}

/// The wall clock.
public struct SystemClock: SigilClock {
    public init() {}
    public func now() -> Date { Date() }
}

/// A clock tests move by hand. Thread-safe.
public final class ManualClock: SigilClock, @unchecked Sendable {
    // `lock` guards `current`.
    private let lock = NSLock()
    private var current: Date

    public init(_ start: Date = Date(timeIntervalSince1970: 1_800_000_000)) {
        self.current = start
    }

    public func now() -> Date {
        lock.lock(); defer { lock.unlock() }
        return current
    }

    public func advance(by seconds: TimeInterval) {
        lock.lock(); defer { lock.unlock() }
        current = current.addingTimeInterval(seconds)
    }
}

extension Date {
    /// Milliseconds since 1970, the form every timestamp is stored in.
    public var unixMilliseconds: Int64 { Int64((timeIntervalSince1970 * 1000).rounded(.down)) }

    public init(unixMilliseconds ms: Int64) {
        self.init(timeIntervalSince1970: Double(ms) / 1000)
    }
}
