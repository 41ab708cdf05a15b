import Foundation
import SigilJOSE

/// What an identity verification proved, as the decision keeps it: only data that passed its
/// checks (a value read from a document whose checks failed is never here).
public struct VerifiedIdentity: Codable, Sendable, Equatable {
    public typealias Status = IDVDecision

    public struct Document: Codable, Sendable, Equatable {
        /// IDA predefined values: `passport`, `idcard`, `driving_permit`, `residence_permit`.
        public var type: String
        public var number: String?
        public var issuerCountry: String?
        public var dateOfExpiry: String?
        /// IDA check methods done on it: `vpip` (chip passive authentication), `vdig` (MRZ/barcode
        /// data and check digits), `pvp` (face match), `vri` (liveness), with when.
        public var checks: [String]

        public init(type: String, number: String?, issuerCountry: String?, dateOfExpiry: String?, checks: [String]) {
            self.type = type; self.number = number; self.issuerCountry = issuerCountry; self.dateOfExpiry = dateOfExpiry; self.checks = checks
        }
    }

    public var status: Status
    /// NIST SP 800-63A: `ial1` or `ial2` (docs/idv.md says which checks reach which).
    public var assuranceLevel: String
    public var time: Date
    /// The IDV session's ID (IDA `verification_process`).
    public var process: String
    /// Verified claims by OIDC name: `given_name`, `family_name`, `middle_name`, `birthdate`
    /// (YYYY-MM-DD), `nationalities` (array), … .
    public var claims: [String: JSONValue]
    public var document: Document?
    /// How each expected name matched (Okta's fuzzy names), by claim.
    public var nameMatches: [String: NameMatch.Result]
    /// The verified portrait's face descriptor, kept only in a subject's latest VERIFIED identity
    /// (sealed, swept with it) for the LiveID step-up's live face re-match; never in a token.
    public var portraitTemplate: [Double]?

    public init(
        status: Status, assuranceLevel: String, time: Date, process: String, claims: [String: JSONValue], document: Document?,
        nameMatches: [String: NameMatch.Result] = [:]
    ) {
        self.status = status; self.assuranceLevel = assuranceLevel; self.time = time; self.process = process; self.claims = claims
        self.document = document; self.nameMatches = nameMatches
    }
}

/// OpenID Connect for Identity Assurance 1.0: the `verified_claims` Sigil returns for a request.
///
/// - Only verified data, and only what was asked for: each requested `verified_claims` entry is
///   answered on its own; a restriction under `verification` the data does not meet (a
///   `trust_framework` value, a `time` `max_age`, an evidence type) omits that whole entry;
///   a claim whose `value`/`values` does not match, or that was not verified, is omitted
///   (IDA §5.5–5.8). Nothing is an error.
/// - Okta's "Bring Your Own IDV" dialect (protocols.md §1.3–1.5), recognised by `fuzzy` claims:
///   the requested `trust_framework` value is echoed (`IDV-DELEGATED`), `assurance_level` is
///   `VERIFIED` or `FAILED`, `time` is always present, each requested supported claim echoes
///   `fuzzy: true` with the verified value (or `null` when it did not match or the verification
///   failed), and no claim outside Okta's list is returned.
public enum VerifiedClaims {
    public static let trustFramework = "nist_800_63A"
    public static let supportedClaims = ["given_name", "family_name", "middle_name", "birthdate", "nationalities"]
    public static let oktaClaims: Set<String> = [
        "given_name", "family_name", "middle_name", "email", "birthdate", "phone_number", "street_address", "locality", "region",
        "postal_code", "country",
    ]

    /// Discovery metadata (IDA §"OP metadata").
    public static var discovery: [String: JSONValue] {
        [
            "verified_claims_supported": .bool(true),
            "trust_frameworks_supported": .array([.string(trustFramework), .string("IDV-DELEGATED")]),
            "evidence_supported": .array([.string("document")]),
            "documents_supported": .array([.string("passport"), .string("idcard"), .string("driving_permit")]),
            "documents_check_methods_supported": .array([.string("vpip"), .string("vdig"), .string("pvp"), .string("vri")]),
            "claims_in_verified_claims_supported": .array(supportedClaims.map(JSONValue.string)),
        ]
    }

    /// The requested `verified_claims` under `target` (`id_token` or `userinfo`) of an OIDC
    /// `claims` parameter: each entry, and whether the request used an array.
    public static func requests(in claims: JSONValue?, target: String) -> (entries: [[String: JSONValue]], array: Bool)? {
        guard let value = claims?.object?[target]?.object?["verified_claims"] else { return nil }
        switch value {
        case .object(let o): return ([o], false)
        case .array(let a): return (a.compactMap(\.object), true)
        default: return nil
        }
    }

    /// Whether a request is Okta's dialect: some claim carries `fuzzy`.
    public static func isOkta(_ entry: [String: JSONValue]) -> Bool {
        (entry["claims"]?.object ?? [:]).values.contains { $0.object?["fuzzy"] != nil }
    }

    /// The expected names an Okta request carries (`claims.given_name.value`, …).
    public static func expectedValues(_ entry: [String: JSONValue]) -> [String: String] {
        var out: [String: String] = [:]
        for (name, spec) in entry["claims"]?.object ?? [:] {
            if let v = spec.object?["value"]?.string { out[oktaAliases[name] ?? name] = v }
        }
        return out
    }

    /// The `verified_claims` value for `identity` answering `claims` (nil: nothing to return).
    /// Without a request (the `identity_assurance` scope alone) every verified claim is returned
    /// under Sigil's trust framework.
    public static func response(for identity: VerifiedIdentity, claims: JSONValue?, target: String = "id_token", now: Date) -> JSONValue? {
        guard let (entries, array) = requests(in: claims, target: target) else {
            // Asked for elsewhere (the other target) only: nothing here. Not asked for at all
            // (the `identity_assurance` scope alone): everything verified.
            let elsewhere = ["id_token", "userinfo"].contains { requests(in: claims, target: $0) != nil }
            guard identity.status == .verified, !elsewhere else { return nil }
            return .object(standard(identity, entry: nil, now: now) ?? [:])
        }
        let answers: [JSONValue] = entries.compactMap { entry in
            (isOkta(entry) ? okta(identity, entry: entry) : standard(identity, entry: entry, now: now)).map(JSONValue.object)
        }
        guard !answers.isEmpty else { return nil }
        return array ? .array(answers) : answers[0]
    }

    static func isoTime(_ date: Date) -> String {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime]
        return f.string(from: date)
    }

    /// Whether `value` satisfies a request spec's `value`/`values` restriction.
    static func allowed(_ value: JSONValue, by spec: JSONValue?) -> Bool {
        guard let o = spec?.object else { return true }
        if let v = o["value"], v != value { return false }
        if let vs = o["values"]?.array, !vs.contains(value) { return false }
        return true
    }

    static func standard(_ identity: VerifiedIdentity, entry: [String: JSONValue]?, now: Date) -> [String: JSONValue]? {
        guard identity.status == .verified else { return nil }
        let requested = entry?["verification"]?.object
        // Restrictions under verification: unmet → the whole entry is left out.
        guard allowed(.string(trustFramework), by: requested?["trust_framework"]) else { return nil }
        if let spec = requested?["assurance_level"], !allowed(.string(identity.assuranceLevel), by: spec) { return nil }
        if let maxAge = requested?["time"]?.object?["max_age"]?.int, now.timeIntervalSince(identity.time) > Double(maxAge) { return nil }
        var verification: [String: JSONValue] = ["trust_framework": .string(trustFramework)]
        if requested == nil || requested?["assurance_level"] != nil { verification["assurance_level"] = .string(identity.assuranceLevel) }
        if requested == nil || requested?["time"] != nil { verification["time"] = .string(isoTime(identity.time)) }
        if requested == nil || requested?["verification_process"] != nil { verification["verification_process"] = .string(identity.process) }
        if let evidenceRequest = requested?["evidence"] {
            // IDA §5.6: each requested evidence entry is a filter on `type`; entries are OR-ed.
            let types = (evidenceRequest.array ?? []).compactMap { $0.object?["type"]?.object?["value"]?.string }
            guard let document = identity.document, types.isEmpty || types.contains("document") else { return nil }
            if let documentType = (evidenceRequest.array ?? []).compactMap({ $0.object?["document_details"]?.object?["type"] }).first,
                !allowed(.string(document.type), by: documentType)
            {
                return nil
            }
            verification["evidence"] = .array([evidence(document, time: identity.time)])
        } else if requested == nil, let document = identity.document {
            verification["evidence"] = .array([evidence(document, time: identity.time)])
        }
        var claims: [String: JSONValue] = [:]
        let wanted = entry?["claims"]?.object
        for (name, value) in identity.claims where supportedClaims.contains(name) {
            if let wanted {
                guard let spec = wanted[name], allowed(value, by: spec) else { continue }
            }
            claims[name] = value
        }
        return ["verification": .object(verification), "claims": .object(claims)]
    }

    static func evidence(_ d: VerifiedIdentity.Document, time: Date) -> JSONValue {
        var details: [String: JSONValue] = ["type": .string(d.type)]
        if let n = d.number { details["document_number"] = .string(n) }
        if let e = d.dateOfExpiry { details["date_of_expiry"] = .string(e) }
        if let c = d.issuerCountry { details["issuer"] = .object(["country_code": .string(c)]) }
        return .object([
            "type": .string("document"),
            "check_details": .array(d.checks.map { .object(["check_method": .string($0), "organization": .string("sigil"), "time": .string(isoTime(time))]) }),
            "document_details": .object(details),
        ])
    }

    /// Okta's example spells `birthdate` as `bithdate`; the answer uses the key that was asked for.
    static let oktaAliases = ["bithdate": "birthdate"]

    static func okta(_ identity: VerifiedIdentity, entry: [String: JSONValue]) -> [String: JSONValue] {
        let requested = entry["verification"]?.object ?? [:]
        let framework = requested["trust_framework"]?.object?["value"] ?? .string("IDV-DELEGATED")
        let verified = identity.status == .verified
        var claims: [String: JSONValue] = [:]
        // Each requested claim Okta supports: the verified value when it matched; on FAILED,
        // `null` (Okta's failure example). A claim the verification cannot speak to (email,
        // phone, an address a passport does not carry) is left out rather than answered `null`
        // under VERIFIED: Okta reads success from trust_framework and assurance_level, and a
        // `null` beside VERIFIED would be a contradiction. The nested `address` object is
        // answered the same way, part by part.
        for (key, spec) in entry["claims"]?.object ?? [:] {
            let name = oktaAliases[key] ?? key
            guard oktaClaims.contains(name) || name == "address" else { continue }
            let fuzzy = spec.object?["fuzzy"] ?? .bool(true)
            if name == "address" {
                guard !verified else { continue }
                var parts: [String: JSONValue] = [:]
                for (part, partSpec) in spec.object ?? [:] where oktaClaims.contains(part) {
                    parts[part] = .object(["value": .null, "fuzzy": partSpec.object?["fuzzy"] ?? .bool(true)])
                }
                if !parts.isEmpty { claims[key] = .object(parts) }
                continue
            }
            let value = identity.claims[name]
            let matched = identity.nameMatches[name]?.matched ?? (value != nil)
            if verified {
                guard let value, matched else { continue }
                claims[key] = .object(["value": value, "fuzzy": fuzzy])
            } else {
                claims[key] = .object(["value": .null, "fuzzy": fuzzy])
            }
        }
        return [
            "verification": .object([
                "trust_framework": framework, "assurance_level": .string(verified ? "VERIFIED" : "FAILED"),
                "time": .string(isoTime(identity.time)), "verification_process": .string(identity.process),
            ]),
            "claims": .object(claims),
        ]
    }
}
