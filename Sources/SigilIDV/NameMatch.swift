import Foundation

/// Compares the names a relying party expects (Okta sends the user's profile names, "fuzzy")
/// with the names read from a document, and says how they matched.
///
/// Both sides are normalised the way ICAO Doc 9303 part 3 §6 writes names into an MRZ: upper
/// case, diacritics removed, the letters the MRZ transliterates written both ways (`Ä` is `AE`
/// or `A`, `ß` is `SS`, `Ø` is `OE`, `Þ` is `TH`, …), anything else a separator. Then, in order:
/// - `exact`: the same text;
/// - `normalised`: the same after normalisation (case, accents, hyphens, apostrophes, spacing);
/// - `transliterated`: the same once either side's special letters are written the other ICAO way;
/// - `reordered`: the same name parts in another order;
/// - `partial`: every expected part is on the document, which also has more (middle names), or
///   the document's given names begin with the expected one;
/// - `fuzzy`: Jaro-Winkler similarity of the normalised names at least `threshold` (0.92), for
///   one-letter OCR slips and spelling variants;
/// - `mismatch` otherwise.
public enum NameMatch {
    public enum Kind: String, Sendable, Codable, Comparable {
        case exact, normalised, transliterated, reordered, partial, fuzzy, mismatch

        public static func < (a: Kind, b: Kind) -> Bool { a.rank < b.rank }
        var rank: Int {
            switch self {
            case .exact: 0
            case .normalised: 1
            case .transliterated: 2
            case .reordered: 3
            case .partial: 4
            case .fuzzy: 5
            case .mismatch: 6
            }
        }
    }

    public struct Result: Sendable, Equatable, Codable {
        public var kind: Kind
        /// Jaro-Winkler similarity of the normalised forms (1 for exact).
        public var score: Double
        public var matched: Bool { kind != .mismatch }
    }

    public static let threshold = 0.92

    /// ICAO 9303 part 3 §6 B: letters written as two in an MRZ, and their one-letter alternative.
    static let transliterations: [Character: (String, String)] = [
        "Ä": ("AE", "A"), "Ö": ("OE", "O"), "Ü": ("UE", "U"), "ß": ("SS", "SS"), "Å": ("AA", "A"), "Æ": ("AE", "AE"),
        "Ø": ("OE", "O"), "Œ": ("OE", "OE"), "Þ": ("TH", "TH"), "Ð": ("D", "D"), "Ĳ": ("IJ", "IJ"), "Ł": ("L", "L"),
        "Đ": ("D", "D"), "Ħ": ("H", "H"), "Ŋ": ("N", "N"),
    ]

    /// The name as MRZ-style parts: upper-case A–Z words. `long`: transliterate to the two-letter
    /// form (`Ä` → `AE`), else to the one-letter form (`Ä` → `A`).
    public static func parts(_ name: String, long: Bool = true) -> [String] {
        var out = ""
        for c in name.uppercased() {
            if let t = transliterations[c] {
                out += long ? t.0 : t.1
                continue
            }
            // Strip accents: the base letter of a decomposed character.
            let folded = String(c).folding(options: [.diacriticInsensitive, .widthInsensitive], locale: Locale(identifier: "en_US_POSIX"))
            for f in folded.uppercased() {
                if let a = f.asciiValue, (65...90).contains(a) { out.append(f) } else if f == "<" || !f.isLetter { out.append(" ") }
            }
        }
        return out.split(separator: " ").map(String.init)
    }

    public static func compare(expected: String, actual: String) -> Result {
        if expected.trimmingCharacters(in: .whitespaces) == actual.trimmingCharacters(in: .whitespaces), !expected.isEmpty {
            return Result(kind: .exact, score: 1)
        }
        let e = parts(expected), a = parts(actual)
        guard !e.isEmpty, !a.isEmpty else { return Result(kind: .mismatch, score: 0) }
        let joinedE = e.joined(separator: " "), joinedA = a.joined(separator: " ")
        let score = jaroWinkler(joinedE, joinedA)
        if e == a { return Result(kind: .normalised, score: 1) }
        let eShort = parts(expected, long: false), aShort = parts(actual, long: false)
        if e == aShort || eShort == a || eShort == aShort { return Result(kind: .transliterated, score: 1) }
        let forms = [(e, a), (eShort, aShort)]
        if forms.contains(where: { $0.0.sorted() == $0.1.sorted() }) { return Result(kind: .reordered, score: score) }
        if forms.contains(where: { pair in Set(pair.0).isSubset(of: Set(pair.1)) }) { return Result(kind: .partial, score: score) }
        let best = max(score, jaroWinkler(eShort.joined(separator: " "), aShort.joined(separator: " ")))
        if best >= threshold { return Result(kind: .fuzzy, score: best) }
        return Result(kind: .mismatch, score: best)
    }

    /// Jaro-Winkler similarity (Winkler 1990; prefix scale 0.1, at most 4 characters).
    public static func jaroWinkler(_ s1: String, _ s2: String) -> Double {
        let a = Array(s1), b = Array(s2)
        if a.isEmpty && b.isEmpty { return 1 }
        guard !a.isEmpty, !b.isEmpty else { return 0 }
        let window = max(0, max(a.count, b.count) / 2 - 1)
        var aMatched = [Bool](repeating: false, count: a.count), bMatched = [Bool](repeating: false, count: b.count)
        var matches = 0
        for i in a.indices {
            let lo = max(0, i - window), hi = min(b.count - 1, i + window)
            guard lo <= hi else { continue }
            for j in lo...hi where !bMatched[j] && a[i] == b[j] {
                aMatched[i] = true
                bMatched[j] = true
                matches += 1
                break
            }
        }
        guard matches > 0 else { return 0 }
        var transpositions = 0, k = 0
        for i in a.indices where aMatched[i] {
            while !bMatched[k] { k += 1 }
            if a[i] != b[k] { transpositions += 1 }
            k += 1
        }
        let m = Double(matches)
        let jaro = (m / Double(a.count) + m / Double(b.count) + (m - Double(transpositions) / 2) / m) / 3
        var prefix = 0
        while prefix < min(4, a.count, b.count), a[prefix] == b[prefix] { prefix += 1 }
        return jaro + Double(prefix) * 0.1 * (1 - jaro)
    }
}
