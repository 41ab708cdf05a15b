import SigilWebAuthn
import Testing

@Suite("CBOR decoder")
struct CBORTests {
    func decodeError(_ hexString: String) -> WebAuthnError.Code? {
        webAuthnError { try CBOR.decode(hex(hexString)) }?.code
    }

    @Test func integers() throws {
        // RFC 8949 Appendix A examples.
        #expect(try CBOR.decode(hex("00")) == .unsigned(0))
        #expect(try CBOR.decode(hex("17")) == .unsigned(23))
        #expect(try CBOR.decode(hex("1818")) == .unsigned(24))
        #expect(try CBOR.decode(hex("1903e8")) == .unsigned(1000))
        #expect(try CBOR.decode(hex("1a000f4240")) == .unsigned(1_000_000))
        #expect(try CBOR.decode(hex("1b000000e8d4a51000")) == .unsigned(1_000_000_000_000))
        #expect(try CBOR.decode(hex("1bffffffffffffffff")) == .unsigned(UInt64.max))
        #expect(try CBOR.decode(hex("20")).intValue == -1)
        #expect(try CBOR.decode(hex("3863")).intValue == -100)
        #expect(try CBOR.decode(hex("390100")).intValue == -257)
        #expect(try CBOR.decode(hex("3bffffffffffffffff")) == .negative(UInt64.max))
        #expect(try CBOR.decode(hex("3bffffffffffffffff")).intValue == nil)
    }

    @Test func stringsArraysMapsAndSimpleValues() throws {
        #expect(try CBOR.decode(hex("40")) == .bytes([]))
        #expect(try CBOR.decode(hex("4401020304")) == .bytes([1, 2, 3, 4]))
        #expect(try CBOR.decode(hex("6449455446")) == .text("IETF"))
        #expect(try CBOR.decode(hex("62c3bc")) == .text("ü"))
        #expect(try CBOR.decode(hex("83010203")) == .array([.unsigned(1), .unsigned(2), .unsigned(3)]))
        #expect(try CBOR.decode(hex("f4")) == .bool(false))
        #expect(try CBOR.decode(hex("f5")) == .bool(true))
        #expect(try CBOR.decode(hex("f6")) == .null)
        let map = try #require(try CBOR.decode(hex("a26161016162820203")).mapValue)
        #expect(map[text: "a"] == .unsigned(1))
        #expect(map[text: "b"] == .array([.unsigned(2), .unsigned(3)]))
        let cose = try #require(try CBOR.decode(hex("a201022620")).mapValue)
        #expect(cose[int: 1] == .unsigned(2))
        #expect(cose[int: -7] == .negative(0))
        #expect(cose.entries.map(\.key) == [.unsigned(1), .negative(6)])
    }

    @Test func prefixReportsTheConsumedRange() throws {
        // A map followed by two unrelated bytes, starting at offset 2.
        let bytes = hex("ffff" + "a10102" + "0102")
        let (value, range) = try CBOR.decodePrefix(bytes, from: 2)
        #expect(range == 2..<5)
        #expect(value.mapValue?[int: 1] == .unsigned(2))
    }

    @Test func rejectsTrailingBytes() {
        #expect(decodeError("0000") == .malformedCBOR)
        #expect(decodeError("a10102ff") == .malformedCBOR)
    }

    @Test func rejectsIndefiniteLengths() {
        #expect(decodeError("5f42010243030405ff") == .malformedCBOR) // indefinite byte string
        #expect(decodeError("7f657374726561646d696e67ff") == .malformedCBOR) // indefinite text
        #expect(decodeError("9f018202039f0405ffff") == .malformedCBOR) // indefinite array
        #expect(decodeError("bf61610161629f0203ffff") == .malformedCBOR) // indefinite map
        #expect(decodeError("ff") == .malformedCBOR) // lone break
    }

    @Test func rejectsOverlongEncodings() {
        #expect(decodeError("1805") == .malformedCBOR)
        #expect(decodeError("190005") == .malformedCBOR)
        #expect(decodeError("1a000000ff") == .malformedCBOR)
        #expect(decodeError("1b00000000ffffffff") == .malformedCBOR)
        #expect(decodeError("3800") == .malformedCBOR)
        #expect(decodeError("580101") == .malformedCBOR) // overlong byte string length
        #expect(decodeError("980101") == .malformedCBOR) // overlong array count
        #expect(decodeError("b8010102") == .malformedCBOR) // overlong map count
    }

    @Test func rejectsReservedAdditionalInformation() {
        #expect(decodeError("1c") == .malformedCBOR)
        #expect(decodeError("1d") == .malformedCBOR)
        #expect(decodeError("1e") == .malformedCBOR)
    }

    @Test func rejectsLengthsBeyondInput() {
        #expect(decodeError("") == .malformedCBOR)
        #expect(decodeError("4501020304") == .malformedCBOR)
        #expect(decodeError("8301") == .malformedCBOR)
        #expect(decodeError("a201") == .malformedCBOR)
        #expect(decodeError("5bffffffffffffffff") == .malformedCBOR)
        #expect(decodeError("9bffffffffffffffff") == .malformedCBOR)
        #expect(decodeError("bbffffffffffffffff") == .malformedCBOR)
        #expect(decodeError("19") == .malformedCBOR)
    }

    @Test func nestingLimit() {
        // 16 nested arrays (the innermost empty) are allowed; 17 are not.
        let sixteen = String(repeating: "81", count: 15) + "80"
        let seventeen = String(repeating: "81", count: 16) + "80"
        #expect(decodeError(sixteen) == nil)
        #expect(decodeError(seventeen) == .malformedCBOR)
    }

    @Test func rejectsDuplicateMapKeys() {
        #expect(decodeError("a201020103") == .malformedCBOR)
        #expect(decodeError("a2616101616102") == .malformedCBOR)
        // 1 and "1" are different keys.
        #expect(decodeError("a20102613103") == nil)
    }

    @Test func rejectsUnsupportedMapKeys() {
        #expect(decodeError("a1410102") == .malformedCBOR) // byte string key
        #expect(decodeError("a1800102") == .malformedCBOR) // array key
        #expect(decodeError("a1f501") == .malformedCBOR) // bool key
    }

    @Test func rejectsTagsFloatsAndOtherSimpleValues() {
        #expect(decodeError("c11a514b67b0") == .malformedCBOR) // tag 1
        #expect(decodeError("f93c00") == .malformedCBOR) // half float 1.0
        #expect(decodeError("fa47c35000") == .malformedCBOR) // single float
        #expect(decodeError("fb3ff199999999999a") == .malformedCBOR) // double float
        #expect(decodeError("f7") == .malformedCBOR) // undefined
        #expect(decodeError("f0") == .malformedCBOR) // simple(16)
        #expect(decodeError("f8ff") == .malformedCBOR) // simple(255)
    }

    @Test func rejectsInvalidUTF8() {
        #expect(decodeError("62c328") == .malformedCBOR)
        #expect(decodeError("61ff") == .malformedCBOR)
    }

    @Test func encoderRoundTrip() throws {
        let value = cborMap([
            (.int(1), .int(2)), (.int(-1), .bytes(Array(repeating: 7, count: 300))),
            (.text("list"), .array([.bool(true), .null, .int(-70000), .int(5_000_000_000)])),
        ])
        #expect(try CBOR.decode(cbor(value)) == value)
    }
}
