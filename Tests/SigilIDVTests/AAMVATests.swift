import Foundation
import Testing

@testable import SigilIDV

/// AAMVA DL/ID barcode data (the text a PDF417 decoder returns).
@Suite struct AAMVATests {
    /// The layout of the AAMVA 2020 standard's example (annex D), version 10, with invented values.
    static func card(country: String = "USA", dob: String = "07041976", expiry: String = "07042030", extra: String = "") -> String {
        let body = [
            "DL", "DCAD", "DCBNONE", "DCDNONE", "DBA\(expiry)", "DCSSAMPLE", "DACMICHAEL", "DADJOHN", "DBD06062022", "DBB\(dob)", "DBC1",
            "DAYBRO", "DAU068 IN", "DAG2300 WEST BROAD STREET", "DAIRICHMOND", "DAJVA", "DAK232690000", "DAQ0123456789",
            "DCF2424244747474786102204", "DCG\(country)", "DDEN", "DDFN", "DDGN\(extra)",
        ]
        var subfile = body[0] + body[1]
        for element in body.dropFirst(2) { subfile += "\n" + element }
        subfile += "\r"
        let header = "@\n\u{1e}\rANSI 636000100001DL" + String(format: "%04d%04d", 31, subfile.utf8.count)
        return header + subfile
    }

    @Test func aVersion10Licence() throws {
        let r = try AAMVARecord.parse(Self.card())
        #expect(r.issuerIdentification == "636000" && r.version == 10 && r.documentType == "DL")
        #expect(r.familyName == "SAMPLE" && r.givenName == "MICHAEL" && r.middleName == "JOHN" && r.documentNumber == "0123456789")
        #expect(r.birthDate == DateComponents(year: 1976, month: 7, day: 4) && r.expiryDate == DateComponents(year: 2030, month: 7, day: 4))
        #expect(r.issueDate == DateComponents(year: 2022, month: 6, day: 6) && r.sex == "M" && r.country == "USA")
        #expect(r.elements["DAJ"] == "VA" && r.elements["DCA"] == "D")
    }

    @Test func canadianDatesAreYearFirst() throws {
        let r = try AAMVARecord.parse(Self.card(country: "CAN", dob: "19760704", expiry: "20300704"))
        #expect(r.birthDate == DateComponents(year: 1976, month: 7, day: 4) && r.expiryDate == DateComponents(year: 2030, month: 7, day: 4))
        // A US card with year-first dates reads as no date, never as another date.
        #expect(try AAMVARecord.parse(Self.card(dob: "19760704")).birthDate == nil)
        #expect(try AAMVARecord.parse(Self.card(dob: "02301976")).birthDate == nil)
    }

    @Test func anOffsetThatIsWrongIsForgiven() throws {
        let text = Self.card().replacingOccurrences(of: "DL0031", with: "DL0099")
        #expect(try AAMVARecord.parse(text).familyName == "SAMPLE")
    }

    @Test func notAAMVA() {
        for bad in [
            "", "hello", "@\n\u{1e}\rPDF4 636000100001DL00310100DL", Self.card().replacingOccurrences(of: "DAQ0123456789", with: "DAQ"),
            "@\n\u{1e}\rANSI 63600010000XDL00310100",
        ] {
            #expect(throws: AAMVAError.self) { _ = try AAMVARecord.parse(bad) }
        }
    }
}

/// The printed front against the barcode (FrontText): what OCR of a licence front gives, noise included.
@Suite struct FrontTextTests {
    static let record = try! AAMVARecord.parse(AAMVATests.card())
    static let front = [
        "VIRGINIA", "DRIVER'S LICENSE", "4d DL 012 345 6789", "1 SAMPLE", "2 MICHAEL JOHN", "3 DOB 07/04/1976", "4b EXP 07/04/2030",
        "8 2300 WEST BROAD STREET",
    ]

    @Test func aFrontThatSaysWhatTheBarcodeSaysPasses() {
        #expect(FrontText.check(lines: Self.front, barcode: Self.record) == IDVCheck(name: "front_matches_barcode", passed: true, reasons: []))
        // OCR's usual confusions and a label stuck to its value still match.
        let noisy = ["DRIVERS LICENSE", "DL O12 345 6789", "LNSAMPLE", "FN MlCHAEL", "DOB 07-04-1976"]
        #expect(FrontText.check(lines: noisy, barcode: Self.record)?.passed == true)
    }

    @Test func aFrontThatSaysSomethingElseFailsWithTheFieldsNamed() {
        var other = Self.front
        other[3] = "1 JOHNSON"
        other[5] = "3 DOB 07/05/1976"
        let check = FrontText.check(lines: other, barcode: Self.record)
        #expect(check == IDVCheck(name: "front_matches_barcode", passed: false, reasons: ["front_birth_date_differs", "front_family_name_differs"]))
        // A wholly different card, still recognisably a licence: every field differs.
        let stranger = ["DRIVER LICENSE", "DL 999 888 7777", "LN BROWN", "FN ALICE", "DOB 01/02/1990", "EXP 01/02/2031"]
        #expect(FrontText.check(lines: stranger, barcode: Self.record)?.reasons.count == 4)
        // A short name is not found inside a longer word.
        let short = try! AAMVARecord.parse(AAMVATests.card().replacingOccurrences(of: "DCSSAMPLE", with: "DCSLI"))
        #expect(FrontText.check(lines: ["DRIVER LICENSE", "LN LICENSEE"], barcode: short)?.reasons.contains("front_family_name_differs") == true)
    }

    @Test func anUnreadFrontIsNotHeldAgainstTheSession() {
        #expect(FrontText.check(lines: [], barcode: Self.record) == nil)
        #expect(FrontText.check(lines: ["~~ ,,", "Xq"], barcode: Self.record) == nil)
    }
}
