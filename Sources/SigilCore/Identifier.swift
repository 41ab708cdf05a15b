import Foundation

/// Time-ordered identifiers: a type prefix, then a ULID-like body (48-bit milliseconds and 80
/// random bits in Crockford base32). Sorting by id sorts by creation, which cursor pagination
/// relies on.
public enum IdentifierKind: String, Sendable, CaseIterable {
    case tenant = "ten"
    case user = "usr"
    case application = "app"
    case adminToken = "adt"
    case enrolment = "enr"
    case auditEvent = "evt"
    case signingKey = "key"
    case session = "ses"
    case loginTransaction = "ltx"
    case authenticatorDevice = "dev"
    case oauthGrant = "grt"
    case logoutDelivery = "bcl"
    case upstreamConnection = "upc"
    case idvSession = "idv"
    case idvSubject = "sub"
    case integration = "int"
    case webhookEndpoint = "whk"
    case connectorKey = "cnk"
    case stepUpChallenge = "stu"
    case hookSource = "hks"
    case ssfStream = "sst"
}

public struct IdentifierGenerator: Sendable {
    public let clock: any SigilClock
    public let random: any RandomSource

    public init(clock: any SigilClock, random: any RandomSource) {
        self.clock = clock
        self.random = random
    }

    public func make(_ kind: IdentifierKind) -> String {
        kind.rawValue + "_" + Self.ulidBody(milliseconds: UInt64(max(0, clock.now().unixMilliseconds)), random: random.bytes(10))
    }

    static let alphabet = Array("0123456789abcdefghjkmnpqrstvwxyz".utf8)

    static func ulidBody(milliseconds: UInt64, random: [UInt8]) -> String {
        // 128 bits: 48 time bits then 80 random bits, encoded as 26 base32 characters (130 bits, top 2 zero).
        var bytes = [UInt8](repeating: 0, count: 16)
        for i in 0..<6 { bytes[i] = UInt8((milliseconds >> (8 * UInt64(5 - i))) & 0xFF) }
        for i in 0..<10 { bytes[6 + i] = random[i] }
        var out = [UInt8]()
        out.reserveCapacity(26)
        var acc: UInt32 = 0
        var bits = 2 // leading pad bits so that 130 bits divide into 26 groups of 5
        for byte in bytes {
            acc = (acc << 8) | UInt32(byte)
            bits += 8
            while bits >= 5 {
                bits -= 5
                out.append(alphabet[Int((acc >> UInt32(bits)) & 0x1F)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Whether `id` has the shape this generator makes for `kind`.
    public static func isWellFormed(_ id: String, kind: IdentifierKind) -> Bool {
        let prefix = kind.rawValue + "_"
        guard id.hasPrefix(prefix) else { return false }
        let body = id.utf8.dropFirst(prefix.utf8.count)
        return body.count == 26 && body.allSatisfy { alphabet.contains($0) }
    }
}

/// Opaque random tokens (bearer tokens, client secrets, enrolment links): `prefix` + base64url of
/// 32 random bytes. Only their SHA-256 is stored.
public enum OpaqueToken {
    public static func make(prefix: String, random: any RandomSource, bytes: Int = 32) -> String {
        prefix + Base64URL.encode(random.bytes(bytes))
    }
}
