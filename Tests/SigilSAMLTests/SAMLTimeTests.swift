import Foundation
import SigilCore
import SigilSAML
import Testing

@Suite("SAML instants")
struct SAMLTimeTests {
    /// The direct formatter agrees with ISO8601DateFormatter (UTC, whole seconds) everywhere.
    @Test func formatMatchesFoundation() {
        let reference = ISO8601DateFormatter()
        reference.formatOptions = [.withInternetDateTime]
        reference.timeZone = TimeZone(identifier: "UTC")
        var dates: [Date] = [
            Date(timeIntervalSince1970: 0), Date(timeIntervalSince1970: 951_782_400), // 2000-02-29
            Date(timeIntervalSince1970: 4_107_542_399), Date(timeIntervalSince1970: -86_401),
            Date(timeIntervalSince1970: 1_800_000_000.999), Date(timeIntervalSince1970: 253_402_300_799),
        ]
        let random = InsecureSeededRandom(seed: "saml-time")
        for _ in 0..<2000 {
            let b = random.bytes(5)
            let seconds = b.reduce(0) { $0 << 8 | Int64($1) } % 7_000_000_000 - 1_000_000_000
            dates.append(Date(timeIntervalSince1970: TimeInterval(seconds)))
        }
        for date in dates {
            let whole = Date(timeIntervalSince1970: date.timeIntervalSince1970.rounded(.down))
            #expect(SAMLTime.format(date) == reference.string(from: whole), "\(date.timeIntervalSince1970)")
            #expect(SAMLTime.parse(SAMLTime.format(date)) == whole)
        }
    }

    @Test func newIDsAreUnderscoreAnd40Hex() {
        let builder = SAMLResponseBuilder(signer: try! TestKey().signer, random: InsecureSeededRandom(seed: "ids"))
        let a = builder.newID(), b = builder.newID()
        #expect(a != b)
        #expect(a.count == 41 && a.hasPrefix("_"))
        #expect(a.dropFirst().allSatisfy { "0123456789abcdef".contains($0) })
    }
}
