import Foundation
import Testing

@testable import SigilIDV

/// ICAO Doc 9303 MRZ parsing: the specimens of parts 4–6, the BSI test passport's DG1, and the
/// confusions an OCR engine (or a forger) introduces.
@Suite struct MRZTests {
    // ICAO Doc 9303 part 4 (TD3), part 5 (TD1) and part 6 (TD2) specimens.
    static let td3 = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\nL898902C36UTO7408122F1204159ZE184226B<<<<<10"
    static let td1 = "I<UTOD231458907<<<<<<<<<<<<<<<\n7408122F1204159UTO<<<<<<<<<<<6\nERIKSSON<<ANNA<MARIA<<<<<<<<<<"
    static let td2 = "I<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<\nD231458907UTO7408122F1204159<<<<<<<6"

    @Test func checkDigitsOfTheSpecimen() {
        #expect(MRZ.checkDigit("L898902C3") == 6)
        #expect(MRZ.checkDigit("740812") == 2)
        #expect(MRZ.checkDigit("120415") == 9)
        #expect(MRZ.checkDigit("ZE184226B<<<<<") == 1)
        #expect(MRZ.checkDigit("a1") == nil)
    }

    @Test func threeFormats() throws {
        let p = try MRZ.parse(Self.td3)
        #expect(p.format == .td3 && p.documentCode == "P" && p.issuingState == "UTO" && p.nationality == "UTO")
        #expect(p.documentNumber == "L898902C3" && p.birthDate == "740812" && p.expiryDate == "120415" && p.sex == "F")
        #expect(p.primaryIdentifier == "ERIKSSON" && p.secondaryIdentifiers == "ANNA MARIA" && p.optionalData == "ZE184226B")
        #expect(p.checksPass && p.corrections.isEmpty, "\(p.checkDigits)")
        let i = try MRZ.parse(Self.td1)
        #expect(i.format == .td1 && i.documentCode == "I" && i.documentNumber == "D23145890" && i.checksPass, "\(i.checkDigits)")
        #expect(i.primaryIdentifier == "ERIKSSON" && i.secondaryIdentifiers == "ANNA MARIA" && i.birthDate == "740812")
        let t = try MRZ.parse(Self.td2)
        #expect(t.format == .td2 && t.documentNumber == "D23145890" && t.checksPass, "\(t.checkDigits)")
        // Lower case, spaces and CRLF are tolerated.
        #expect(try MRZ.parse(Self.td3.lowercased().replacingOccurrences(of: "\n", with: " \r\n ")).checksPass)
    }

    /// The BSI 2008 test passport's DG1 (tag 61, then 5F1F holding the MRZ), read in place.
    @Test func bsiTestPassportDG1() throws {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent(
            "../../../shared/fixtures/passports/bsi2008/Datagroup1.bin")
        guard let dg1 = try? Data(contentsOf: url.standardizedFileURL) else {
            print("skipped: ../shared/fixtures is absent (BSI DG1)")
            return
        }
        let bytes = Array(dg1)
        guard let at = (0..<(bytes.count - 2)).first(where: { bytes[$0] == 0x5F && bytes[$0 + 1] == 0x1F }) else {
            Issue.record("no 5F1F in DG1")
            return
        }
        let length = Int(bytes[at + 2])
        let text = String(decoding: bytes[(at + 3)..<(at + 3 + length)], as: UTF8.self)
        let mrz = try MRZ.parse(String(text.prefix(44)) + "\n" + String(text.dropFirst(44)))
        #expect(mrz.format == .td3 && mrz.issuingState == "D" && mrz.primaryIdentifier == "MUSTERMANN" && mrz.secondaryIdentifiers == "ERIKA")
        #expect(mrz.checksPass, "\(mrz.checkDigits)")
    }

    @Test func lettersInNumericFieldsAndDigitsInAlphabeticFields() throws {
        // 74O812 (a letter O in the birth date), UT0 (a zero in the country), 12O415.
        let misread = "P<UT0ERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\nL898902C36UT074O8122F12O4159ZE184226B<<<<<10"
        let p = try MRZ.parse(misread)
        #expect(p.issuingState == "UTO" && p.nationality == "UTO" && p.birthDate == "740812" && p.expiryDate == "120415")
        #expect(p.checksPass)
        #expect(Set(p.corrections.map(\.field)) == ["issuing_state", "nationality", "birth_date", "expiry_date"])
    }

    @Test func aDocumentNumberIsRepairedOnlyByTheOneSubstitutionItsCheckDigitAllows() throws {
        let p = try MRZ.parse(Self.td3.replacingOccurrences(of: "L898902C3", with: "L8989O2C3"))
        #expect(p.documentNumber == "L898902C3" && p.checksPass)
        #expect(
            p.corrections == [.init(field: "document_number", from: "O", to: "0", reason: "the only look-alike substitution that satisfies the check digit")])
        // Two characters wrong: no unique repair; the check digit fails.
        let q = try MRZ.parse(Self.td3.replacingOccurrences(of: "L898902C3", with: "L8989O2CB"))
        #expect(!q.checksPass && q.checkDigits.first { $0.field == "document_number" }?.valid == false)
    }

    /// The name line has no check digit: fillers misread as K are repaired at the end only, and
    /// a real K stays.
    @Test func fillersReadAsKAtTheEndOfTheName() throws {
        let p = try MRZ.parse(Self.td3.replacingOccurrences(of: "MARIA<<<<<<<<<<<<<<<<<<<", with: "MARIA<<<<<<<<<<<<KK<KKK<"))
        #expect(p.secondaryIdentifiers == "ANNA MARIA" && p.corrections.map(\.reason) == ["fillers at the end of the name field read as K"])
        let novak = try MRZ.parse("P<UTONOVAK<<JAN<<<<<<<<<<<<<<<<<<<<<<<<<<<<<\nL898902C36UTO7408122F1204159ZE184226B<<<<<10")
        #expect(novak.primaryIdentifier == "NOVAK" && novak.secondaryIdentifiers == "JAN" && novak.corrections.isEmpty)
        let kk = try MRZ.parse("P<UTOKOKK<<JAN<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<\nL898902C36UTO7408122F1204159ZE184226B<<<<<10")
        #expect(kk.primaryIdentifier == "KOKK" && kk.corrections.isEmpty)
    }

    @Test func forgedOrDamagedMRZsFailTheirChecks() throws {
        // A changed birth date with the old check digit; a changed composite.
        let p = try MRZ.parse(Self.td3.replacingOccurrences(of: "7408122", with: "7508122"))
        #expect(!p.checksPass && p.checkDigits.first { $0.field == "birth_date" }?.valid == false)
        let c = try MRZ.parse(Self.td3.replacingOccurrences(of: "<<<<<10", with: "<<<<<19"))
        #expect(c.checkDigits.first { $0.field == "composite" }?.valid == false)
        let i = try MRZ.parse(Self.td1.replacingOccurrences(of: "UTO<<<<<<<<<<<6", with: "UTO<<<<<<<<<<<7"))
        #expect(i.checkDigits.first { $0.field == "composite" }?.valid == false)
    }

    @Test func shapesAndCharacters() {
        for bad in ["", "P<UTO", String(Self.td3.prefix(60)), Self.td3 + "\nX", Self.td3.replacingOccurrences(of: "ANNA", with: "ANÑA")] {
            #expect(throws: MRZError.self) { _ = try MRZ.parse(bad) }
        }
        #expect(throws: MRZError.self) { _ = try MRZ.parse(Self.td3.replacingOccurrences(of: "P<UTO", with: "Z<UTO")) }
    }

    @Test func twoDigitYears() {
        let now = ISO8601DateFormatter().date(from: "2026-12-06T00:00:00Z")!
        #expect(MRZ.date("740812", kind: .birth, now: now) == DateComponents(year: 1974, month: 8, day: 12))
        #expect(MRZ.date("150101", kind: .birth, now: now) == DateComponents(year: 2015, month: 1, day: 1))
        #expect(MRZ.date("300101", kind: .birth, now: now) == DateComponents(year: 1930, month: 1, day: 1))
        #expect(MRZ.date("310101", kind: .expiry, now: now) == DateComponents(year: 2031, month: 1, day: 1))
        #expect(MRZ.date("120415", kind: .expiry, now: now) == DateComponents(year: 2012, month: 4, day: 15))
        #expect(MRZ.date("121315", kind: .expiry, now: now) == nil)
        #expect(MRZ.date("120231", kind: .expiry, now: now) == nil)
    }
}

@Suite struct NameMatchTests {
    @Test func howNamesMatch() {
        func kind(_ e: String, _ a: String) -> NameMatch.Kind { NameMatch.compare(expected: e, actual: a).kind }
        #expect(kind("Erika", "Erika") == .exact)
        #expect(kind("Erika", "ERIKA") == .normalised)
        #expect(kind("Jean-Luc", "JEAN LUC") == .normalised)
        #expect(kind("José", "JOSE") == .normalised)
        #expect(kind("Müller", "MUELLER") == .normalised)
        #expect(kind("Müller", "MULLER") == .transliterated)
        #expect(kind("Mueller", "MÜLLER") == .normalised)
        #expect(kind("Søren", "SOEREN") == .normalised)
        #expect(kind("Anna Maria", "MARIA ANNA") == .reordered)
        #expect(kind("Anna", "ANNA MARIA") == .partial)
        #expect(kind("Jon", "JOHN") == .fuzzy)
        #expect(kind("Eriksson", "ERIKSON") == .fuzzy)
        #expect(kind("Smith", "JONES") == .mismatch)
        #expect(kind("", "JONES") == .mismatch)
        #expect(kind("Anna Maria", "ANNA") == .mismatch || kind("Anna Maria", "ANNA") == .fuzzy)
    }

    @Test func jaroWinklerKnownValues() {
        // Winkler's examples: MARTHA/MARHTA 0.961, DWAYNE/DUANE 0.84, DIXON/DICKSONX 0.813.
        #expect(abs(NameMatch.jaroWinkler("MARTHA", "MARHTA") - 0.961) < 0.001)
        #expect(abs(NameMatch.jaroWinkler("DWAYNE", "DUANE") - 0.84) < 0.001)
        #expect(abs(NameMatch.jaroWinkler("DIXON", "DICKSONX") - 0.813) < 0.001)
        #expect(NameMatch.jaroWinkler("", "") == 1 && NameMatch.jaroWinkler("A", "") == 0)
    }
}
