import Foundation

/// SAML 2.0 names as the specifications spell them.
public enum SAML {
    public static let assertionNamespace = "urn:oasis:names:tc:SAML:2.0:assertion"
    public static let protocolNamespace = "urn:oasis:names:tc:SAML:2.0:protocol"
    public static let metadataNamespace = "urn:oasis:names:tc:SAML:2.0:metadata"
    public static let dsigNamespace = "http://www.w3.org/2000/09/xmldsig#"

    public enum AuthnContextClass {
        public static let unspecified = "urn:oasis:names:tc:SAML:2.0:ac:classes:unspecified"
        /// A registered device plus a second factor on it (authenticator app: phone + biometric/PIN).
        public static let mobileTwoFactorContract = "urn:oasis:names:tc:SAML:2.0:ac:classes:MobileTwoFactorContract"
    }

    public static let bearer = "urn:oasis:names:tc:SAML:2.0:cm:bearer"
    public static let attributeNameFormatUnspecified = "urn:oasis:names:tc:SAML:2.0:attrname-format:unspecified"
    public static let attributeNameFormatBasic = "urn:oasis:names:tc:SAML:2.0:attrname-format:basic"
    public static let rsaSHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
}

/// A top-level `StatusCode` with an optional second-level code (SAML core §3.2.2.2).
public struct SAMLStatus: Sendable, Equatable {
    public var code: String
    public var subcode: String?
    public var message: String?

    public init(code: String, subcode: String? = nil, message: String? = nil) {
        self.code = code; self.subcode = subcode; self.message = message
    }

    static let prefix = "urn:oasis:names:tc:SAML:2.0:status:"
    public static let successCode = prefix + "Success"
    public static let requesterCode = prefix + "Requester"
    public static let responderCode = prefix + "Responder"
    public static let versionMismatchCode = prefix + "VersionMismatch"
    /// Second-level: the session authority could not propagate logout to every participant.
    public static let partialLogoutCode = prefix + "PartialLogout"

    public static let success = SAMLStatus(code: successCode)
    public static func requester(_ sub: String? = nil, _ message: String? = nil) -> SAMLStatus {
        SAMLStatus(code: requesterCode, subcode: sub.map { prefix + $0 }, message: message)
    }
    public static func responder(_ sub: String? = nil, _ message: String? = nil) -> SAMLStatus {
        SAMLStatus(code: responderCode, subcode: sub.map { prefix + $0 }, message: message)
    }
    // Second-level codes used here: AuthnFailed, NoPassive, InvalidNameIDPolicy, RequestDenied,
    // RequestUnsupported, UnsupportedBinding.
}

/// SAML instants: UTC, `yyyy-MM-ddTHH:mm:ssZ` when produced; fractional seconds accepted.
public enum SAMLTime {
    /// `yyyy-MM-ddTHH:mm:ssZ` in UTC, whole seconds (rounded down). Computed directly: a new
    /// ISO8601DateFormatter per call cost more than the rest of a Response's XML work.
    public static func format(_ date: Date) -> String {
        let total = Int64(date.timeIntervalSince1970.rounded(.down))
        var days = total / 86_400
        var secondOfDay = total % 86_400
        if secondOfDay < 0 { secondOfDay += 86_400; days -= 1 }
        // Civil date from days since 1970-01-01 (H. Hinnant's days_from_civil, inverted).
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let mp = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * mp + 2) / 5 + 1
        let month = mp < 10 ? mp + 3 : mp - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        func two(_ v: Int64) -> String { v < 10 ? "0\(v)" : "\(v)" }
        let y = String(year)
        let paddedYear = year >= 0 && y.count < 4 ? String(repeating: "0", count: 4 - y.count) + y : y
        return "\(paddedYear)-\(two(month))-\(two(day))T\(two(secondOfDay / 3600)):\(two(secondOfDay / 60 % 60)):\(two(secondOfDay % 60))Z"
    }

    public static func parse(_ text: String) -> Date? {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        if let d = f.date(from: text) { return d }
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f.date(from: text)
    }
}

/// SAML bindings (SAML Bindings 2.0 §3), as metadata and messages name them.
public enum SAMLBinding: String, Sendable, Codable, CaseIterable {
    case httpPOST = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
    case httpRedirect = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
    case httpArtifact = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Artifact"
}

/// NameID formats Sigil issues (SAML Core 2.0 §8.3).
public enum NameIDFormat: String, Sendable, Codable, CaseIterable {
    case emailAddress = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
    case persistent = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
    case transient = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"
    case unspecified = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"

    /// The format for a spelling administrators use: the URN itself, or its last part
    /// (`emailAddress`, `persistent`, `transient`, `unspecified`, any case; `email` too). The
    /// admin API, the CLI and metadata import all accept the same spellings. Nil if unknown.
    public init?(spelling: String) {
        let trimmed = spelling.trimmingCharacters(in: .whitespaces)
        if let exact = NameIDFormat(rawValue: trimmed) { self = exact; return }
        switch trimmed.lowercased() {
        case "emailaddress", "email": self = .emailAddress
        case "persistent": self = .persistent
        case "transient": self = .transient
        case "unspecified": self = .unspecified
        default: return nil
        }
    }
}
