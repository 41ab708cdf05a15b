import HTTPTypes
import SigilServices

/// The address a request really came from when Sigil runs behind proxies it trusts (a TLS
/// terminator, a load balancer): every per-address rate limit and audit reason uses it.
///
/// `SIGIL_TRUSTED_PROXIES` lists the proxies' addresses or CIDR ranges. Only when the TCP peer is
/// one of them is `X-Forwarded-For` read, from the right: each hop a trusted proxy appended is
/// skipped, and the first address that is not a trusted proxy is the client. A client cannot
/// choose its own address by sending the header, because the hops it wrote are left of the ones
/// the trusted proxies appended. Without trusted proxies the header is ignored.
public struct TrustedProxies: Sendable, Equatable {
    struct Range: Sendable, Equatable {
        let network: [UInt8]
        let prefix: Int

        func contains(_ address: [UInt8]) -> Bool {
            guard address.count == network.count else { return false }
            var bits = prefix
            for (a, n) in zip(address, network) {
                if bits <= 0 { return true }
                let mask: UInt8 = bits >= 8 ? 0xFF : ~(0xFF >> UInt8(bits))
                if a & mask != n & mask { return false }
                bits -= 8
            }
            return true
        }
    }

    let ranges: [Range]

    public static let none = TrustedProxies(ranges: [])

    init(ranges: [Range]) { self.ranges = ranges }

    /// Addresses or CIDR ranges separated by commas or spaces; nil if one cannot be read.
    public init?(_ text: String) {
        var ranges: [Range] = []
        for item in text.split(whereSeparator: { $0 == "," || $0 == " " }) where !item.isEmpty {
            let parts = item.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
            guard let network = IPAddress.parse(String(parts[0])) else { return nil }
            let maximum = network.count * 8
            guard let prefix = parts.count == 2 ? Int(parts[1]) : maximum, (0...maximum).contains(prefix) else { return nil }
            ranges.append(Range(network: network, prefix: prefix))
        }
        self.ranges = ranges
    }

    func isTrusted(_ address: String) -> Bool {
        guard let bytes = IPAddress.parse(address) else { return false }
        return ranges.contains { $0.contains(bytes) }
    }

    /// The client's address: `peer` itself unless it is a trusted proxy.
    public func clientAddress(peer: String, forwardedFor values: [String]) -> String {
        guard !ranges.isEmpty, isTrusted(peer) else { return peer }
        let hops = values.flatMap { $0.split(separator: ",") }.map { $0.trimmingCharacters(in: .whitespaces) }
        var client = peer
        for hop in hops.reversed() {
            guard IPAddress.parse(hop) != nil else { return client } // garbage: stop at the last good hop
            client = hop
            if !isTrusted(hop) { return hop }
        }
        return client
    }
}

extension HTTPField.Name {
    static let xForwardedFor = Self("X-Forwarded-For")!
}
