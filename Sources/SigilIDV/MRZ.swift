import Foundation

/// The machine-readable zone of a travel document (ICAO Doc 9303 parts 3–6): TD1 (ID cards, 3 × 30
/// characters), TD2 (2 × 36) and TD3 (passports, 2 × 44).
///
/// Parsing is field-aware: every field has a character class (alphabetic, numeric, alphanumeric,
/// names), and characters an OCR engine confuses across classes are read as the class demands
/// (`O` in a date is `0`, `0` in a country code is `O`). Check digits are verified where the
/// format has them; a document number whose check digit fails is repaired only when exactly one
/// confusion substitution makes it pass. The name field has no check digit, so fillers misread
/// as `K` (the commonest confusion of `<`) are repaired only at the end of the field and only as
/// a run the ICAO alphabet makes implausible, and every repair is reported: a decision may treat a
/// repaired MRZ as weaker evidence than a clean one.
public struct MRZ: Sendable, Equatable, Codable {
    public enum Format: String, Sendable, Codable { case td1, td2, td3 }

    /// A check digit and what it covers.
    public struct CheckDigit: Sendable, Equatable, Codable {
        public var field: String
        public var valid: Bool
    }

    /// A character read other than as scanned, and why.
    public struct Correction: Sendable, Equatable, Codable {
        public var field: String
        public var from: String
        public var to: String
        public var reason: String
    }

    public var format: Format
    /// `P`, `ID`, `I<`, `AC`, … (first two characters, fillers removed).
    public var documentCode: String
    /// ICAO 9303 part 3 code (ISO 3166-1 alpha-3 or a special code such as `D` for Germany), fillers removed.
    public var issuingState: String
    public var documentNumber: String
    public var nationality: String
    /// `YYMMDD` as printed (digits after field-aware reading).
    public var birthDate: String
    public var sex: String
    public var expiryDate: String
    /// The primary identifier (surname), `<` separators as spaces.
    public var primaryIdentifier: String
    /// The secondary identifiers (given names), `<` separators as spaces.
    public var secondaryIdentifiers: String
    public var optionalData: String
    public var optionalData2: String
    public var checkDigits: [CheckDigit]
    public var corrections: [Correction]

    /// Every check digit verifies.
    public var checksPass: Bool { checkDigits.allSatisfy(\.valid) }

    /// The lines as read (after field-aware reading and repairs).
    public var lines: [String]
}

public struct MRZError: Error, Sendable, Equatable, CustomStringConvertible {
    public enum Code: String, Sendable { case shape, characters, field }
    public var code: Code
    public var message: String
    public var description: String { "\(code.rawValue): \(message)" }
    init(_ code: Code, _ message: String) { self.code = code; self.message = message }
}

extension MRZ {
    /// ICAO 9303 part 3 §4.9: weights 7, 3, 1; digits their value, A–Z 10–35, `<` 0.
    public static func checkDigit<S: Sequence>(_ characters: S) -> Int? where S.Element == Character {
        let weights = [7, 3, 1]
        var sum = 0
        for (i, c) in characters.enumerated() {
            guard let v = value(c) else { return nil }
            sum += v * weights[i % 3]
        }
        return sum % 10
    }

    static func value(_ c: Character) -> Int? {
        if c == "<" { return 0 }
        guard let a = c.asciiValue else { return nil }
        switch a {
        case 48...57: return Int(a) - 48
        case 65...90: return Int(a) - 55
        default: return nil
        }
    }

    /// Parses MRZ text: 2 or 3 lines (separated by newlines; spaces and surrounding whitespace
    /// ignored), of one of the three formats' lengths.
    public static func parse(_ text: String) throws(MRZError) -> MRZ {
        let rows = text.uppercased().split(whereSeparator: \.isNewline)
            .map { $0.filter { !$0.isWhitespace } }.filter { !$0.isEmpty }
        for row in rows where !row.allSatisfy({ c in c == "<" || (c.isASCII && (c.isLetter || c.isNumber)) }) {
            throw MRZError(.characters, "an MRZ line may hold only A–Z, 0–9 and <")
        }
        switch (rows.count, rows.first?.count ?? 0) {
        case (3, 30) where rows.allSatisfy({ $0.count == 30 }): return try parseTD1(rows.map(Array.init))
        case (2, 36) where rows.allSatisfy({ $0.count == 36 }): return try parseTD23(rows.map(Array.init), format: .td2)
        case (2, 44) where rows.allSatisfy({ $0.count == 44 }): return try parseTD23(rows.map(Array.init), format: .td3)
        default:
            throw MRZError(.shape, "not an MRZ: expected 3 lines of 30, 2 of 36 or 2 of 44 characters (got \(rows.map(\.count)))")
        }
    }

    // MARK: field classes

    /// Digit look-alikes read in a numeric field.
    static let toDigit: [Character: Character] = [
        "O": "0", "Q": "0", "D": "0", "U": "0", "I": "1", "L": "1", "T": "1", "Z": "2", "S": "5", "B": "8", "G": "6",
    ]
    /// Letter look-alikes read in an alphabetic field.
    static let toLetter: [Character: Character] = ["0": "O", "1": "I", "2": "Z", "5": "S", "8": "B", "6": "G"]

    final class Reader {
        var corrections: [Correction] = []

        func numeric(_ chars: ArraySlice<Character>, field: String, allowFiller: Bool = false) -> [Character] {
            var out = Array(chars)
            for (i, c) in out.enumerated() where !c.isNumber && !(allowFiller && c == "<") {
                if let d = MRZ.toDigit[c] {
                    out[i] = d
                    corrections.append(Correction(field: field, from: String(c), to: String(d), reason: "a letter in a numeric field"))
                }
            }
            return out
        }

        func alphabetic(_ chars: ArraySlice<Character>, field: String) -> [Character] {
            var out = Array(chars)
            for (i, c) in out.enumerated() where c.isNumber {
                if let l = MRZ.toLetter[c] {
                    out[i] = l
                    corrections.append(Correction(field: field, from: String(c), to: String(l), reason: "a digit in an alphabetic field"))
                }
            }
            return out
        }

        /// An alphanumeric field protected by `check`: kept as read when the digit verifies; else
        /// the one confusion substitution (letter↔digit look-alike) that makes it verify, if exactly one does.
        func checked(_ chars: ArraySlice<Character>, check: Character, field: String) -> (value: [Character], valid: Bool) {
            let value = Array(chars)
            guard let expected = MRZ.value(check), check.isNumber || check == "<" else { return (value, false) }
            if MRZ.checkDigit(value) == expected { return (value, true) }
            var fixes: [[Character]] = []
            for (i, c) in value.enumerated() {
                for alternative in [MRZ.toDigit[c], MRZ.toLetter[c]].compactMap({ $0 }) {
                    var candidate = value
                    candidate[i] = alternative
                    if MRZ.checkDigit(candidate) == expected { fixes.append(candidate) }
                }
            }
            if fixes.count == 1 {
                let fixed = fixes[0]
                let i = value.indices.first { value[$0] != fixed[$0] }!
                corrections.append(
                    Correction(
                        field: field, from: String(value[i]), to: String(fixed[i]), reason: "the only look-alike substitution that satisfies the check digit"))
                return (fixed, true)
            }
            return (value, false)
        }

        /// The name field: `<<` separates primary from secondary identifiers, `<` separates name
        /// parts, fillers pad the end. A trailing run of `K` and `<` holding at least two `K`s and
        /// one `<` is fillers misread (no name ends in such a run); digits become letters.
        func names(_ chars: ArraySlice<Character>, field: String) -> (primary: String, secondary: String, repaired: [Character]) {
            var out = alphabetic(chars, field: field)
            var start = out.count
            while start > 0, out[start - 1] == "<" || out[start - 1] == "K" { start -= 1 }
            let tail = out[start...]
            let ks = tail.filter { $0 == "K" }.count
            if ks >= 2, tail.contains("<") {
                corrections.append(
                    Correction(
                        field: field, from: String(tail), to: String(repeating: "<", count: tail.count),
                        reason: "fillers at the end of the name field read as K"))
                for i in start..<out.count { out[i] = "<" }
            }
            let text = String(out)
            let parts = text.components(separatedBy: "<<")
            func clean(_ s: String) -> String {
                s.split(separator: "<").joined(separator: " ")
            }
            let primary = clean(parts[0])
            let secondary = clean(parts.dropFirst().joined(separator: "<<"))
            return (primary, secondary, out)
        }
    }

    static func strip(_ chars: some Sequence<Character>) -> String {
        var s = String(chars)
        while s.hasSuffix("<") { s.removeLast() }
        return s
    }

    static func documentCode(_ chars: ArraySlice<Character>, reader: Reader) throws(MRZError) -> String {
        let code = reader.alphabetic(chars, field: "document_code")
        guard let first = code.first, ["P", "I", "A", "C", "V"].contains(first) else {
            throw MRZError(.field, "the document code \(String(code)) is not a travel document's (P, I, A, C or V)")
        }
        return strip(code)
    }

    static func sex(_ c: Character, reader: Reader) -> String {
        switch c {
        case "M", "F", "X": return String(c)
        case "<": return "X"
        case "H":
            reader.corrections.append(Correction(field: "sex", from: "H", to: "M", reason: "a look-alike in the sex field"))
            return "M"
        default: return String(c)
        }
    }

    static func parseTD23(_ rows: [[Character]], format: Format) throws(MRZError) -> MRZ {
        let r = Reader()
        let l1 = rows[0][...], l2 = rows[1][...]
        let width = rows[0].count
        let code = try documentCode(l1[0..<2], reader: r)
        let state = r.alphabetic(l1[2..<5], field: "issuing_state")
        let names = r.names(l1[5..<width], field: "name")
        let number = r.checked(l2[0..<9], check: l2[9], field: "document_number")
        let nationality = r.alphabetic(l2[10..<13], field: "nationality")
        let birth = r.numeric(l2[13..<19], field: "birth_date")
        let birthCheck = r.numeric(l2[19...19], field: "birth_date_check")[0]
        let sex = sex(l2[20], reader: r)
        let expiry = r.numeric(l2[21..<27], field: "expiry_date")
        let expiryCheck = r.numeric(l2[27...27], field: "expiry_date_check")[0]
        let optionalEnd = format == .td3 ? 42 : width - 1
        let optional = Array(l2[28..<optionalEnd])
        var checks = [
            CheckDigit(field: "document_number", valid: number.valid),
            CheckDigit(field: "birth_date", valid: checkDigit(birth) == value(birthCheck) && birthCheck.isNumber),
            CheckDigit(field: "expiry_date", valid: checkDigit(expiry) == value(expiryCheck) && expiryCheck.isNumber),
        ]
        if format == .td3 {
            // The personal number's check digit may be `<` when the field is all fillers.
            let optionalCheck = l2[42]
            let optionalValid =
                optional.allSatisfy { $0 == "<" } ? (optionalCheck == "<" || optionalCheck == "0") : checkDigit(optional) == value(optionalCheck)
            checks.append(CheckDigit(field: "personal_number", valid: optionalValid && (optionalCheck.isNumber || optionalCheck == "<")))
        }
        let composite = r.numeric(l2[(width - 1)...], field: "composite_check")[0]
        // Composite: document number + check, birth date + check, expiry + check, optional (+ check).
        var covered: [Character] = Array(number.value) + [l2[9]] + birth + [birthCheck] + expiry + [expiryCheck]
        covered += format == .td3 ? optional + [l2[42]] : optional
        checks.append(CheckDigit(field: "composite", valid: checkDigit(covered) == value(composite) && composite.isNumber))
        return MRZ(
            format: format, documentCode: code, issuingState: strip(state), documentNumber: strip(number.value), nationality: strip(nationality),
            birthDate: String(birth), sex: sex, expiryDate: String(expiry), primaryIdentifier: names.primary,
            secondaryIdentifiers: names.secondary, optionalData: strip(optional), optionalData2: "", checkDigits: checks,
            corrections: r.corrections, lines: [String(Array(l1[0..<5]) + names.repaired), String(rows[1])])
    }

    static func parseTD1(_ rows: [[Character]]) throws(MRZError) -> MRZ {
        let r = Reader()
        let l1 = rows[0][...], l2 = rows[1][...], l3 = rows[2][...]
        let code = try documentCode(l1[0..<2], reader: r)
        let state = r.alphabetic(l1[2..<5], field: "issuing_state")
        var optional1 = Array(l1[15..<30])
        var number: (value: [Character], valid: Bool)
        let long = l1[14] == "<" && optional1.first != "<"
        if long, let end = optional1.firstIndex(of: "<"), end > 0 {
            // A document number longer than 9: its last characters and check digit open the optional data (part 5 §4.2.2 note j).
            let rest = optional1[0..<(end - 1)]
            number = r.checked((Array(l1[5..<14]) + rest)[...], check: optional1[end - 1], field: "document_number")
            optional1 = Array(optional1[end...])
        } else {
            number = r.checked(l1[5..<14], check: l1[14], field: "document_number")
        }
        let birth = r.numeric(l2[0..<6], field: "birth_date")
        let birthCheck = r.numeric(l2[6...6], field: "birth_date_check")[0]
        let sex = sex(l2[7], reader: r)
        let expiry = r.numeric(l2[8..<14], field: "expiry_date")
        let expiryCheck = r.numeric(l2[14...14], field: "expiry_date_check")[0]
        let nationality = r.alphabetic(l2[15..<18], field: "nationality")
        let optional2 = Array(l2[18..<29])
        let composite = r.numeric(l2[29...29], field: "composite_check")[0]
        let names = r.names(l3[0..<30], field: "name")
        // Composite (part 5 §4.2.2): upper line 6–30, middle line 1–7, 9–15 and 19–29, as printed.
        let upper: [Character] = long ? Array(l1[5..<30]) : number.value + [l1[14]] + Array(l1[15..<30])
        let covered: [Character] = upper + birth + [birthCheck] + expiry + [expiryCheck] + optional2
        let checks = [
            CheckDigit(field: "document_number", valid: number.valid),
            CheckDigit(field: "birth_date", valid: checkDigit(birth) == value(birthCheck) && birthCheck.isNumber),
            CheckDigit(field: "expiry_date", valid: checkDigit(expiry) == value(expiryCheck) && expiryCheck.isNumber),
            CheckDigit(field: "composite", valid: checkDigit(covered) == value(composite) && composite.isNumber),
        ]
        return MRZ(
            format: .td1, documentCode: code, issuingState: strip(state), documentNumber: strip(number.value), nationality: strip(nationality),
            birthDate: String(birth), sex: sex, expiryDate: String(expiry), primaryIdentifier: names.primary,
            secondaryIdentifiers: names.secondary, optionalData: strip(optional1), optionalData2: strip(optional2), checkDigits: checks,
            corrections: r.corrections, lines: [String(rows[0]), String(rows[1]), String(names.repaired)])
    }
}

extension MRZ {
    /// A `YYMMDD` date as a calendar date: a birth date is in the past century window (the year
    /// not after `now`'s), an expiry date within 50 years either side of `now`.
    public static func date(_ yymmdd: String, kind: DateKind, now: Date) -> DateComponents? {
        let digits = yymmdd.compactMap { $0.wholeNumberValue }
        guard digits.count == 6, yymmdd.count == 6 else { return nil }
        let yy = digits[0] * 10 + digits[1], mm = digits[2] * 10 + digits[3], dd = digits[4] * 10 + digits[5]
        guard (1...12).contains(mm), (1...31).contains(dd) else { return nil }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let thisYear = calendar.component(.year, from: now)
        let century = thisYear / 100 * 100
        var year = century + yy
        switch kind {
        case .birth: if year > thisYear { year -= 100 }
        case .expiry:
            if year < thisYear - 50 { year += 100 } else if year > thisYear + 50 { year -= 100 }
        }
        let components = DateComponents(year: year, month: mm, day: dd)
        guard let date = calendar.date(from: components), calendar.component(.day, from: date) == dd else { return nil }
        return components
    }

    public enum DateKind: Sendable { case birth, expiry }
}
