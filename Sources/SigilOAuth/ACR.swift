import SigilJOSE

/// Sigil's authentication context class references (docs/oidc.md "acr"), strongest first:
///
/// - `phrh`: a phishing-resistant, hardware-bound sign-in — a device-bound passkey (backup
///   ineligible) with user verification.
/// - `phr`: a phishing-resistant sign-in — any passkey with user verification, synced ones too.
/// - `urn:sigil:acr:authenticator`: an approval in the Sigil authenticator app (QR or push).
///
/// A session's `acr` satisfies a requested value when it ranks at least as high.
public enum ACR {
    public static let phrh = "phrh"
    public static let phr = "phr"
    public static let authenticator = "urn:sigil:acr:authenticator"
    /// Strongest first (discovery's `acr_values_supported`).
    public static let supported = [phrh, phr, authenticator]

    /// Higher is stronger; nil for a value Sigil never produces.
    public static func rank(_ value: String) -> Int? {
        switch value {
        case phrh: 3
        case phr: 2
        case authenticator: 1
        default: nil
        }
    }

    public static func satisfies(_ sessionACR: String, _ requested: String) -> Bool {
        guard let have = rank(sessionACR), let want = rank(requested) else { return sessionACR == requested }
        return have >= want
    }

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

        /// The weakest known value asked for: the login page offers the methods that reach it.
        public var minimum: String? { known.min { (ACR.rank($0) ?? 0) < (ACR.rank($1) ?? 0) } }
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
