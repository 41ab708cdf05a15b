import Foundation
import SigilCore
import SigilJOSE
import Testing

/// `JSONValue.serialized()` is written by hand; it must give the bytes `JSONEncoder` (sorted keys,
/// slashes unescaped) gave, since tokens, published documents and their entity tags are made of
/// them.
@Suite struct JSONValueSerializationTests {
    static func foundation(_ value: JSONValue) throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return Array(try encoder.encode(value))
    }

    @Test func generatedValuesSerialiseAsJSONEncoderDid() throws {
        var every = ""
        for byte in UInt8(0)..<0x20 { every.unicodeScalars.append(Unicode.Scalar(byte)) }
        let strings = [
            "", "a", "B", "_", "10", "9", "é", "e\u{301}", "🙂", "/", "\\", "\"", "\u{7F}", "\u{2028}", "a/b\\c\"d", every, "https://id.example.com/t/x",
        ]
        let doubles = [0.1, 1.5, 1.0, -0.0, 1e21, 1e-7, 123_456_789_012_345_678.0]
        let random = InsecureSeededRandom(seed: "json-serialisation")
        func next() -> Int { random.bytes(4).reduce(0) { $0 << 8 | Int($1) } }
        func value(depth: Int) -> JSONValue {
            switch next() % (depth > 3 ? 5 : 7) {
            case 0: return .null
            case 1: return .bool(next() % 2 == 0)
            case 2: return .int([0, 1, -1, Int64.max, Int64.min, 1_700_000_000][next() % 6])
            case 3: return .double(doubles[next() % doubles.count])
            case 4: return .string(strings[next() % strings.count] + strings[next() % strings.count])
            case 5: return .array((0..<(next() % 4)).map { _ in value(depth: depth + 1) })
            default:
                var members: [String: JSONValue] = [:]
                for _ in 0..<(next() % 6) { members[strings[next() % strings.count]] = value(depth: depth + 1) }
                return .object(members)
            }
        }
        var mismatches: [String] = []
        for _ in 0..<3_000 {
            let v = value(depth: 0)
            let ours = try v.serialized()
            let theirs = try Self.foundation(v)
            if ours != theirs { mismatches.append(String(decoding: theirs, as: UTF8.self)) }
        }
        #expect(mismatches.isEmpty, "first: \(mismatches.prefix(3))")
    }

    @Test func aJWTHeaderAndClaimsAreByteForByteTheSame() throws {
        let claims: JSONValue = .object([
            "iss": "https://localhost:8080/t/acme", "sub": "usr_01", "aud": .array(["client-1"]), "exp": 1_700_000_600,
            "iat": 1_700_000_000, "nonce": "n-0S6_WzA2Mj", "acr": "urn:sigil:acr:passkey", "amr": .array(["hwk", "user"]),
        ])
        #expect(try claims.serialized() == Self.foundation(claims))
        #expect(
            String(decoding: try JSONValue.object(["typ": "at+jwt", "alg": "RS256", "kid": "k/1"]).serialized(), as: UTF8.self)
                == #"{"alg":"RS256","kid":"k/1","typ":"at+jwt"}"#)
        #expect(throws: (any Error).self) { try JSONValue.double(.nan).serialized() }
    }
}
