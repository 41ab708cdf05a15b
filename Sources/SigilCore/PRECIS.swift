import Foundation

/// Identifier comparison per the PRECIS framework (RFC 8264) as RFC 8265 §3.4 prepares and
/// enforces a case-mapped username, applied to a whole identifier (an email address): two
/// spellings a person cannot tell apart are one identifier.
///
/// 1. Width mapping (§3.4.1): fullwidth and halfwidth forms become their ordinary characters
///    (`ａｄａ` → `ada`).
/// 2. Case mapping (§3.4.3, RFC 8264 §9.3): Unicode `toLowerCase`.
/// 3. Normalization (§3.4.4): NFC, so `é` typed as one code point or as `e` + U+0301 is the same.
///
/// Used for uniqueness and look-up only; the identifier is shown as the person wrote it.
public enum PRECIS {
    public static func caseMappedIdentifier(_ identifier: String) -> String {
        var mapped = String.UnicodeScalarView()
        for scalar in identifier.unicodeScalars {
            if (0xFF00...0xFFEF).contains(scalar.value) || scalar.value == 0x3000 {
                // Halfwidth and Fullwidth Forms (and the ideographic space): their compatibility decomposition.
                mapped.append(contentsOf: String(scalar).precomposedStringWithCompatibilityMapping.unicodeScalars)
            } else {
                mapped.append(scalar)
            }
        }
        return String(mapped).lowercased().precomposedStringWithCanonicalMapping
    }
}
