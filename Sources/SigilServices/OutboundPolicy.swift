import Foundation

/// Where Sigil's outbound fetches (a client's `jwks_uri`, an SP's metadata URL) may go. A tenant
/// administrator chooses these URLs, so they must not reach what only Sigil's network can: by
/// default only public addresses, over https. The operator names hosts that are allowed anyway
/// (`SIGIL_OUTBOUND_ALLOW_HOSTS`: an internal metadata server, the loopback peers of the interop
/// tests); http is allowed only to those hosts.
///
/// The fetcher resolves a host name once, checks every address it got, and connects to a
/// checked address (docs/configuration.md "Outbound fetches"), so DNS cannot answer differently
/// between the check and the connection.
public struct OutboundPolicy: Sendable, Equatable {
    /// Lower-case host names or IP literals (IPv6 without brackets) the operator allows.
    public var allowedHosts: Set<String>

    public init(allowedHosts: Set<String> = []) {
        self.allowedHosts = Set(allowedHosts.map { Self.canonicalHost($0) })
    }

    /// `SIGIL_OUTBOUND_ALLOW_HOSTS`: host names or IP addresses separated by commas or spaces.
    public init(environmentValue: String?) {
        let hosts = (environmentValue ?? "").split(whereSeparator: { $0 == "," || $0 == " " }).map(String.init).filter { !$0.isEmpty }
        self.init(allowedHosts: Set(hosts))
    }

    static func canonicalHost(_ host: String) -> String {
        var h = host.lowercased()
        if h.hasPrefix("["), h.hasSuffix("]") { h = String(h.dropFirst().dropLast()) }
        if h.hasSuffix(".") { h = String(h.dropLast()) }
        return h
    }

    public func isAllowlisted(_ host: String) -> Bool { allowedHosts.contains(Self.canonicalHost(host)) }

    /// Why Sigil will not fetch this URL at all (checked before any DNS look-up), or nil.
    public func refusal(_ value: String) -> String? {
        guard value.utf8.count <= 2048, let components = URLComponents(string: value),
            let scheme = components.scheme?.lowercased(), let rawHost = components.host, !rawHost.isEmpty
        else {
            return "must be an absolute https URL"
        }
        if components.user != nil || components.password != nil { return "must not carry credentials" }
        if components.fragment != nil { return "must not have a fragment" }
        let host = Self.canonicalHost(rawHost)
        let allowlisted = isAllowlisted(host)
        if !allowlisted {
            if host == "localhost" || host.hasSuffix(".localhost") { return Self.privateTarget }
            if let address = IPAddress.parse(host), !Self.isPublic(address) { return Self.privateTarget }
        }
        switch scheme {
        case "https": return nil
        case "http": return allowlisted ? nil : "must use https"
        default: return "must use https"
        }
    }

    static let privateTarget = "must not point at a loopback, link-local or private address"

    /// Whether a resolved address of `host` may be connected to.
    public func permits(_ address: [UInt8], host: String) -> Bool {
        isAllowlisted(host) || Self.isPublic(address)
    }

    /// Globally reachable unicast (RFC 6890 and the IANA special-purpose registries): not
    /// loopback, private, shared (CGNAT), link-local, unspecified, documentation, benchmarking,
    /// multicast or reserved; IPv4 embedded in IPv6 (mapped, NAT64, 6to4) is judged as IPv4.
    public static func isPublic(_ address: [UInt8]) -> Bool {
        switch address.count {
        case 4:
            let (a, b, c) = (address[0], address[1], address[2])
            switch a {
            case 0, 10, 127: return false
            case 100 where (64...127).contains(b): return false // 100.64/10 shared address space
            case 169 where b == 254: return false // link-local
            case 172 where (16...31).contains(b): return false // private
            case 192 where b == 168: return false // private
            case 192 where b == 0 && (c == 0 || c == 2): return false // IETF protocol assignments, TEST-NET-1
            case 198 where b == 18 || b == 19: return false // benchmarking
            case 198 where b == 51 && c == 100: return false // TEST-NET-2
            case 203 where b == 0 && c == 113: return false // TEST-NET-3
            case 224...255: return false // multicast, reserved, broadcast
            default: return true
            }
        case 16:
            if address[0..<15].allSatisfy({ $0 == 0 }) { return false } // :: and ::1
            if address[0..<10].allSatisfy({ $0 == 0 }) && address[10] == 0xFF && address[11] == 0xFF {
                return isPublic(Array(address[12..<16])) // ::ffff:a.b.c.d
            }
            if address[0..<12] == [0x00, 0x64, 0xFF, 0x9B, 0, 0, 0, 0, 0, 0, 0, 0] { return isPublic(Array(address[12..<16])) } // 64:ff9b::/96
            if address[0] == 0x20 && address[1] == 0x02 { return isPublic(Array(address[2..<6])) } // 2002::/16 6to4
            if address[0] & 0xFE == 0xFC { return false } // fc00::/7 unique local
            if address[0] == 0xFE && address[1] & 0xC0 == 0x80 { return false } // fe80::/10 link-local
            if address[0] == 0xFE && address[1] & 0xC0 == 0xC0 { return false } // fec0::/10 site-local (deprecated)
            if address[0] == 0xFF { return false } // multicast
            if address[0..<4] == [0x20, 0x01, 0x0D, 0xB8] { return false } // 2001:db8::/32 documentation
            if address[0..<8] == [0x01, 0x00, 0, 0, 0, 0, 0, 0] { return false } // 100::/64 discard
            if address[0] == 0 { return false } // the rest of ::/8 is reserved
            return true
        default:
            return false
        }
    }
}

/// IPv4 and IPv6 literals as bytes, without the resolver.
public enum IPAddress {
    public static func parse(_ text: String) -> [UInt8]? {
        if let v4 = parseIPv4(text) { return v4 }
        return parseIPv6(text)
    }

    static func parseIPv4(_ text: String) -> [UInt8]? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 4 else { return nil }
        var out: [UInt8] = []
        for part in parts {
            guard !part.isEmpty, part.count <= 3, part.allSatisfy(\.isASCII), part.allSatisfy(\.isNumber),
                let value = UInt8(part), !(part.count > 1 && part.hasPrefix("0"))
            else { return nil }
            out.append(value)
        }
        return out
    }

    static func parseIPv6(_ text: String) -> [UInt8]? {
        var body = Substring(text)
        if let percent = body.firstIndex(of: "%") { body = body[..<percent] } // zone index
        guard body.contains(":") else { return nil }
        var tail: [UInt8] = []
        // A trailing dotted IPv4 (::ffff:1.2.3.4).
        if let lastColon = body.lastIndex(of: ":"), body[body.index(after: lastColon)...].contains(".") {
            guard let v4 = parseIPv4(String(body[body.index(after: lastColon)...])) else { return nil }
            tail = v4
            body = body[...lastColon]
            if body.hasSuffix(":") && !body.hasSuffix("::") { body = body.dropLast() }
        }
        func groups(_ s: Substring) -> [UInt16]? {
            if s.isEmpty { return [] }
            var out: [UInt16] = []
            for g in s.split(separator: ":", omittingEmptySubsequences: false) {
                guard !g.isEmpty, g.count <= 4, let v = UInt16(g, radix: 16) else { return nil }
                out.append(v)
            }
            return out
        }
        let halves = body.components(separatedBy: "::")
        let wanted = 8 - tail.count / 2
        var words: [UInt16]
        switch halves.count {
        case 1:
            guard let all = groups(Substring(halves[0])), all.count == wanted else { return nil }
            words = all
        case 2:
            guard let head = groups(Substring(halves[0])), let rest = groups(Substring(halves[1])), head.count + rest.count < wanted else { return nil }
            words = head + Array(repeating: 0, count: wanted - head.count - rest.count) + rest
        default:
            return nil
        }
        return words.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] } + tail
    }
}
