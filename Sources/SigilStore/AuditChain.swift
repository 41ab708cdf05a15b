import Crypto
import Foundation
import SigilCore

/// The hash chain over audit events (docs/audit.md). Each tenant has one chain, and events without
/// a tenant (global administration) one more, keyed `""`. Event *n* of a chain stores
///
///     digest_n = SHA-256(encoding(event_n))                         the event's own content
///     hash_n   = SHA-256("sigil-audit-link-v1" ‖ 0x00 ‖ chain ‖ 0x00 ‖ n (8 bytes, big-endian)
///                        ‖ hash_{n-1} (32 bytes) ‖ digest_n)
///
/// with `hash_0` 32 zero bytes. The store computes it inside the transaction that writes the event,
/// holding the chain's head row, so nodes writing at once still form one line. The content digest
/// is separate from the link so that a range can be proven to an outsider with the digests of the
/// events after it (not their contents).
public enum AuditChain {
    /// `hash_0`, hex.
    public static let genesis = String(repeating: "0", count: 64)

    /// The chain an event belongs to: its tenant's, or `""` for global events.
    public static func key(tenantID: String?) -> String { tenantID ?? "" }

    /// SHA-256 of the event's canonical encoding: a version tag, then every field in a fixed order,
    /// each either absent (one 0x00 byte) or present (0x01, a 4-byte big-endian length, the UTF-8
    /// bytes); the two summaries as a count and their pairs sorted by key. Unambiguous and
    /// independent of any JSON encoder, so a verifier in another language can recompute it.
    public static func contentDigest(_ event: AuditEvent) -> [UInt8] {
        var bytes: [UInt8] = Array("sigil-audit-event-v1".utf8)
        func field(_ value: String?) {
            guard let value else {
                bytes.append(0)
                return
            }
            let utf8 = Array(value.utf8)
            bytes.append(1)
            bytes += bigEndian(UInt32(truncatingIfNeeded: utf8.count))
            bytes += utf8
        }
        func summary(_ value: [String: String]?) {
            guard let value else {
                bytes.append(0)
                return
            }
            bytes.append(1)
            bytes += bigEndian(UInt32(truncatingIfNeeded: value.count))
            for key in value.keys.sorted(by: { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }) {
                field(key)
                field(value[key])
            }
        }
        field(event.id)
        field(event.tenantID)
        field(String(milliseconds(event.occurredAt)))
        field(event.actor)
        field(event.action)
        field(event.targetType)
        field(event.targetID)
        field(event.outcome.rawValue)
        summary(event.before)
        summary(event.after)
        field(event.reason)
        return Array(SHA256.hash(data: bytes))
    }

    /// The event time as the chain sees it: whole milliseconds, to the nearest. The store keeps
    /// milliseconds and hands the event to `contentDigest` with its time already truncated to them,
    /// so what is hashed at writing and what is read back agree.
    public static func milliseconds(_ date: Date) -> Int64 { Int64((date.timeIntervalSince1970 * 1000).rounded()) }

    /// `hash_n` (hex) from `hash_{n-1}` (hex) and `digest_n`; nil when `previous` is not 64 hex digits.
    public static func link(chain: String, sequence: Int64, previous: String, contentDigest: [UInt8]) -> String? {
        guard let previousBytes = hexBytes(previous), previousBytes.count == 32 else { return nil }
        var bytes: [UInt8] = Array("sigil-audit-link-v1".utf8)
        bytes.append(0)
        bytes += Array(chain.utf8)
        bytes.append(0)
        bytes += bigEndian(UInt64(bitPattern: sequence))
        bytes += previousBytes
        bytes += contentDigest
        return hex(Array(SHA256.hash(data: bytes)))
    }

    public static func hex(_ bytes: [UInt8]) -> String { hexEncoded(bytes) }

    /// Lower-case hex only, even length.
    public static func hexBytes(_ text: String) -> [UInt8]? {
        let utf8 = Array(text.utf8)
        guard utf8.count % 2 == 0 else { return nil }
        func nibble(_ c: UInt8) -> UInt8? {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
            default: nil
            }
        }
        var out: [UInt8] = []
        out.reserveCapacity(utf8.count / 2)
        var index = 0
        while index < utf8.count {
            guard let high = nibble(utf8[index]), let low = nibble(utf8[index + 1]) else { return nil }
            out.append(high << 4 | low)
            index += 2
        }
        return out
    }

    private static func bigEndian<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
        withUnsafeBytes(of: value.bigEndian) { Array($0) }
    }
}

/// An audit event with its place in its chain, as stored.
public struct ChainedAuditEvent: Sendable, Equatable {
    public var event: AuditEvent
    /// The chain key (`AuditChain.key`), as stored.
    public var chain: String?
    /// Position in the chain, from 1; nil for a row that was never chained (written around Sigil).
    public var sequence: Int64?
    public var previousHash: String?
    public var hash: String?

    public init(event: AuditEvent, chain: String?, sequence: Int64?, previousHash: String?, hash: String?) {
        self.event = event; self.chain = chain; self.sequence = sequence; self.previousHash = previousHash; self.hash = hash
    }
}

/// Where a chain ends, as the store's head row says.
public struct AuditChainHead: Sendable, Equatable {
    public var chain: String
    public var sequence: Int64
    public var hash: String
    public var updatedAt: Date

    public init(chain: String, sequence: Int64, hash: String, updatedAt: Date) {
        self.chain = chain; self.sequence = sequence; self.hash = hash; self.updatedAt = updatedAt
    }
}

/// A signed statement "chain C had hash H at position N", made now and then by any node.
/// `signed` is a compact JWS by the tenant's current RS256 key (`typ` `sigil-audit-checkpoint+jwt`),
/// or, for the global chain, a MAC under the master key (`AuditCheckpointToken`). The columns
/// `sequence` and `hash` are for lookups; a verifier trusts only what `signed` says.
public struct AuditCheckpoint: Sendable, Equatable {
    public var chain: String
    public var sequence: Int64
    public var hash: String
    public var signed: String
    public var createdAt: Date

    public init(chain: String, sequence: Int64, hash: String, signed: String, createdAt: Date) {
        self.chain = chain; self.sequence = sequence; self.hash = hash; self.signed = signed; self.createdAt = createdAt
    }
}
