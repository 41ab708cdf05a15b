import SigilJOSE

/// Sigil's authentication context class references (docs/oidc.md "acr"), strongest first:
///
/// - `phrh`: a phishing-resistant, hardware-bound sign-in — a device-bound passkey (backup
///   ineligible) with user verification.
/// - `phr`: a phishing-resistant sign-in — any passkey with user verification, synced ones too.
/// - `urn:sigil:acr:liveid`: LiveID, an approval in the Sigil authenticator app after a biometric
///   check on the phone (face or fingerprint), with number matching.
/// - `urn:sigil:acr:authenticator`: an approval in the Sigil authenticator app (QR or push).
///
/// The classes are partly ordered: `phrh` satisfies `phr`, both satisfy `authenticator`, and
/// `liveid` satisfies `authenticator`; a passkey does not satisfy `liveid` (it proves no biometric
/// on the enrolled phone) and `liveid` does not satisfy `phr` (number matching is not phishing
/// resistant).
public enum ACR {
    public static let phrh = "phrh"
    public static let phr = "phr"
    public static let liveID = "urn:sigil:acr:liveid"
    public static let authenticator = "urn:sigil:acr:authenticator"
    /// Strongest first (discovery's `acr_values_supported`).
    public static let supported = [phrh, phr, liveID, authenticator]

    /// Higher is stronger (`phr` and `liveid` are level but neither satisfies the other); nil for a
    /// value Sigil never produces.
    public static func rank(_ value: String) -> Int? {
        switch value {
        case phrh: 3
        case phr, liveID: 2
        case authenticator: 1
        default: nil
        }
    }

    /// The classes each class satisfies, itself included.
    static func implied(by value: String) -> Set<String> {
        switch value {
        case phrh: [phrh, phr, authenticator]
        case phr: [phr, authenticator]
        case liveID: [liveID, authenticator]
        case authenticator: [authenticator]
        default: [value]
        }
    }

    public static func satisfies(_ sessionACR: String, _ requested: String) -> Bool {
        implied(by: sessionACR).contains(requested)
    }

    /// Whether a sign-in with `value` needs a passkey (`phr`, `phrh`).
    public static func needsPasskey(_ value: String) -> Bool { value == phr || value == phrh }

    /// What an authorization request asks of the sign-in's `acr`: `claims.id_token.acr` with
    /// `value`/`values` (essential or not) wins over `acr_values` (voluntary), which wins over the
    /// client's registered defaults (voluntary).
    public struct Requirement: Sendable, Equatable, Codable {
        /// The requested values, in the client's order.
        public var values: [String]
        public var essential: Bool

        public init(values: [String], essential: Bool) {
            self.values = values
            self.essential = essential
        }

        /// The requested values Sigil can produce; unknown ones are never satisfied.
        public var known: [String] { values.filter { ACR.rank($0) != nil } }

        /// The value to report for a session with `sessionACR`: the strongest requested value it
        /// satisfies, or nil when it satisfies none.
        public func satisfied(by sessionACR: String) -> String? {
            values.filter { ACR.satisfies(sessionACR, $0) }.max { (ACR.rank($0) ?? 0) < (ACR.rank($1) ?? 0) }
        }

        /// The weakest known value asked for (the client's first among equals): the login page
        /// offers the methods that reach it.
        public var minimum: String? {
            known.reduce(nil) { weakest, value in
                guard let w = weakest else { return value }
                return (ACR.rank(value) ?? 0) < (ACR.rank(w) ?? 0) ? value : w
            }
        }
    }

    /// The requirement of a validated request, or nil when the request (and the client) asks for
    /// nothing. A voluntary request naming only values Sigil never produces asks for nothing
    /// (OIDC Core §3.1.2.1: `acr_values` is voluntary; the conformance suite sends `1 2`).
    public static func requirement(acrValues: [String], claims: JSONValue?, defaults: [String]) -> Requirement? {
        if let acr = claims?.object?["id_token"]?.object?["acr"]?.object {
            var values: [String] = []
            if let value = acr["value"]?.string { values = [value] }
            if let list = acr["values"]?.array { values = list.compactMap(\.string) }
            let essential = acr["essential"] == .bool(true)
            if !values.isEmpty {
                let requirement = Requirement(values: values, essential: essential)
                return essential || !requirement.known.isEmpty ? requirement : nil
            }
        }
        for candidate in [acrValues, defaults] where !candidate.isEmpty {
            let requirement = Requirement(values: candidate, essential: false)
            return requirement.known.isEmpty ? nil : requirement
        }
        return nil
    }
}
