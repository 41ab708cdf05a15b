import Crypto
import Foundation

/// A source of cryptographically secure random bytes. Injected everywhere randomness is needed.
public protocol RandomSource: Sendable {
    func bytes(_ count: Int) -> [UInt8]
}

/// The operating system's CSPRNG, eight bytes per call of it (a byte per call, as before, was a
/// `getrandom` system call per byte: 32 for every token identifier).
public struct SystemRandom: RandomSource {
    public init() {}
    public func bytes(_ count: Int) -> [UInt8] {
        var generator = SystemRandomNumberGenerator()
        var out: [UInt8] = []
        out.reserveCapacity(count + 8)
        while out.count < count {
            let word = generator.next()
            withUnsafeBytes(of: word) { out.append(contentsOf: $0) }
        }
        out.removeLast(out.count - count)
        return out
    }
}

/// Deterministic bytes for tests (a SHA-256 counter stream). Never use outside tests.
public final class InsecureSeededRandom: RandomSource, @unchecked Sendable {
    // `lock` guards `counter`.
    private let lock = NSLock()
    private let seed: [UInt8]
    private var counter: UInt64 = 0

    public init(seed: String) { self.seed = Array(seed.utf8) }

    public func bytes(_ count: Int) -> [UInt8] {
        lock.lock(); defer { lock.unlock() }
        var out: [UInt8] = []
        while out.count < count {
            var block = seed
            withUnsafeBytes(of: counter.bigEndian) { block.append(contentsOf: $0) }
            counter += 1
            out.append(contentsOf: SHA256.hash(data: block))
        }
        return Array(out.prefix(count))
    }
}
