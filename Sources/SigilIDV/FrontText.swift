import Foundation

/// The printed front of a North American licence against its barcode (docs/idv.md, "Checks"):
/// the licence number, family name, given name and date of birth the barcode carries must also be
/// printed on the front, as the engine's OCR read it.
///
/// OCR of a phone photo is noisy, so each value is looked for with tolerance: letters and digits
/// only, the shapes OCR confuses (`O`/`0`, `I`/`L`/`1`, `S`/`5`, `B`/`8`, `Z`/`2`, `G`/`6`) taken
/// as one, and up to one wrong character in eight. The check is judged only where the front was
/// **read**: at least one of the values was found, or the text shows a licence's structure (a
/// printed date, or two of its field labels). A front that gives no such text (glare, a blank
/// card) is not held against the session; a front that was read and prints something else is.
public enum FrontText {
    public static let checkName = "front_matches_barcode"

    /// The check over the front's `lines`, or nil when the front was not read.
    public static func check(lines: [String], barcode: AAMVARecord) -> IDVCheck? {
        let text = lines.map(normalise)
        var found: [String: Bool] = [:]
        if let number = barcode.documentNumber.map(normalise), number.count >= 4 {
            found["document_number"] = text.contains { contains($0, number, allowing: number.count / 8) }
        }
        if let family = barcode.familyName { found["family_name"] = name(family, in: text) }
        if let given = barcode.givenName { found["given_name"] = name(given, in: text) }
        if let birth = barcode.birthDate { found["birth_date"] = date(birth, in: text) }
        guard !found.isEmpty else { return nil }
        let read = found.values.contains(true) || looksLikeALicence(text)
        guard read else { return nil }
        let reasons = found.filter { !$0.value }.keys.sorted().map { "front_\($0)_differs" }
        return IDVCheck(name: checkName, passed: reasons.isEmpty, reasons: reasons)
    }

    /// Upper-case letters and digits, accents folded, everything else a space.
    static func normalise(_ s: String) -> String {
        var out = ""
        for c in s.uppercased().folding(options: [.diacriticInsensitive, .widthInsensitive], locale: Locale(identifier: "en_US_POSIX")) {
            if let a = c.asciiValue, (48...57).contains(a) || (65...90).contains(a) { out.append(c) } else { out.append(" ") }
        }
        return out
    }

    /// The class OCR cannot tell apart.
    static func shape(_ c: Character) -> Character {
        switch c {
        case "O", "Q", "D": "0"
        case "I", "L", "|": "1"
        case "S": "5"
        case "B": "8"
        case "Z": "2"
        case "G": "6"
        default: c
        }
    }

    /// Whether `needle` (spaces ignored) occurs in `haystack` (spaces ignored) with at most
    /// `allowing` characters of a different shape.
    static func contains(_ haystack: String, _ needle: String, allowing: Int) -> Bool {
        let h = Array(haystack.filter { $0 != " " }.map(shape)), n = Array(needle.filter { $0 != " " }.map(shape))
        guard !n.isEmpty, h.count >= n.count else { return false }
        for start in 0...(h.count - n.count) {
            var wrong = 0
            for i in 0..<n.count where h[start + i] != n[i] {
                wrong += 1
                if wrong > allowing { break }
            }
            if wrong <= allowing { return true }
        }
        return false
    }

    /// Every word of the name, each a whole word of some line (a label stuck to its front, as in
    /// `LNDOE`, allowed), with one wrong character in words of five or more.
    static func name(_ value: String, in text: [String]) -> Bool {
        let words = NameMatch.parts(value, long: false)
        guard !words.isEmpty else { return true }
        let tokens = text.flatMap { $0.split(separator: " ").map(String.init) }
        return words.allSatisfy { word in
            let allowing = word.count >= 5 ? 1 : 0
            return tokens.contains { token in
                token.count >= word.count && token.count <= word.count + 3 && contains(String(token.suffix(word.count)), word, allowing: allowing)
            }
        }
    }

    /// The date as US cards print it (MM/DD/YYYY), as Canadian ones do (YYYY/MM/DD, DD/MM/YYYY),
    /// or ISO, separators ignored.
    static func date(_ d: DateComponents, in text: [String]) -> Bool {
        guard let y = d.year, let m = d.month, let day = d.day else { return false }
        let yyyy = String(format: "%04d", y), mm = String(format: "%02d", m), dd = String(format: "%02d", day)
        let forms = [mm + dd + yyyy, yyyy + mm + dd, dd + mm + yyyy]
        return text.contains { line in forms.contains { contains(line, $0, allowing: 0) } }
    }

    /// A printed date (eight digits with separators) or two of a licence's labels.
    static func looksLikeALicence(_ text: [String]) -> Bool {
        let labels: Set<String> = ["DL", "DOB", "EXP", "ISS", "LN", "FN", "CLASS", "SEX", "HGT", "LICENSE", "LICENCE", "DRIVER", "DRIVERS", "RESTR"]
        let tokens = text.flatMap { $0.split(separator: " ").map(String.init) }
        if Set(tokens).intersection(labels).count >= 2 { return true }
        // Normalised, `01/02/1990` reads `01 02 1990`.
        return text.contains { $0.range(of: #"\b\d{2} +\d{2} +\d{4}\b|\b\d{4} +\d{2} +\d{2}\b"#, options: .regularExpression) != nil }
    }
}
