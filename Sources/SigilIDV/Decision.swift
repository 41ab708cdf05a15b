import Foundation
import SigilJOSE

/// A verification's outcome.
public enum IDVDecision: String, Codable, Sendable { case verified = "VERIFIED", failed = "FAILED", review = "REVIEW" }

/// One check's verdict: passed, or the machine-readable reasons it did not.
public struct IDVCheck: Codable, Sendable, Equatable {
    public var name: String
    public var passed: Bool
    public var reasons: [String]
    public init(name: String, passed: Bool, reasons: [String] = []) { self.name = name; self.passed = passed; self.reasons = reasons }
}

/// A tenant's identity verification policy.
public struct IDVPolicy: Codable, Sendable, Equatable {
    /// IDA document types accepted: `passport`, `idcard`, `driving_permit`, `residence_permit`.
    public var documentTypes: Set<String>
    /// Issuing states accepted (ICAO codes as in the MRZ, e.g. `D`, `UTO`, `USA`); empty: any.
    public var countries: Set<String>
    public var minimumAge: Int?
    /// Only a chip whose passive authentication passes is evidence (ePassports, eID cards).
    public var requireChip: Bool
    public var requireFaceMatch: Bool
    public var requireLiveness: Bool
    /// The weakest name match accepted (`fuzzy` accepts every kind but `mismatch`).
    public var weakestNameMatch: NameMatch.Kind
    /// Failure reasons that send the session to a person (REVIEW) instead of failing it.
    public var reviewReasons: Set<String>

    public init(
        documentTypes: Set<String> = ["passport", "idcard", "driving_permit"], countries: Set<String> = [], minimumAge: Int? = nil,
        requireChip: Bool = false, requireFaceMatch: Bool = true, requireLiveness: Bool = true, weakestNameMatch: NameMatch.Kind = .fuzzy,
        reviewReasons: Set<String> = []
    ) {
        self.documentTypes = documentTypes; self.countries = countries; self.minimumAge = minimumAge; self.requireChip = requireChip
        self.requireFaceMatch = requireFaceMatch; self.requireLiveness = requireLiveness; self.weakestNameMatch = weakestNameMatch
        self.reviewReasons = reviewReasons
    }
}

/// What the engines and parsers found for one session: the inputs of the decision.
public struct IDVFindings: Sendable, Equatable {
    /// IDA type of the document presented.
    public var documentType: String
    /// The MRZ read from the document's image (OCR), if any.
    public var mrz: MRZ?
    /// The barcode of a North American card, if any.
    public var barcode: AAMVARecord?
    /// The chip: its passive authentication and the MRZ in its DG1.
    public var chip: PassiveAuthentication.Report?
    public var chipMRZ: MRZ?
    /// Face match of the selfie against the chip portrait or the document photo.
    public var faceMatch: (passed: Bool, distance: Double)?
    /// Why the face match failed (`face_mismatch`, `no_face_in_selfie`, `engine_unavailable`, …).
    public var faceMatchReasons: [String] = []
    /// The reference portrait's face descriptor (dlib's 128 numbers) the selfie was compared with:
    /// kept, sealed, with a VERIFIED identity as the template later step-ups re-match against.
    public var portraitTemplate: [Double]?
    public var liveness: Bool?
    public var livenessReasons: [String] = []
    /// Checks the session ran that the decision does not derive itself (reading the MRZ or the
    /// barcode from an image, chip evidence that could not be parsed): each failure fails the session.
    public var additionalChecks: [IDVCheck] = []
    /// The values the relying party expects, by claim (`given_name`, `family_name` compared as
    /// names; `birthdate`, YYYY-MM-DD, compared exactly).
    public var expectedNames: [String: String]

    public init(
        documentType: String, mrz: MRZ? = nil, barcode: AAMVARecord? = nil, chip: PassiveAuthentication.Report? = nil, chipMRZ: MRZ? = nil,
        faceMatch: (passed: Bool, distance: Double)? = nil, liveness: Bool? = nil, expectedNames: [String: String] = [:]
    ) {
        self.documentType = documentType; self.mrz = mrz; self.barcode = barcode; self.chip = chip; self.chipMRZ = chipMRZ
        self.faceMatch = faceMatch; self.liveness = liveness; self.expectedNames = expectedNames
    }

    public static func == (a: IDVFindings, b: IDVFindings) -> Bool {
        a.documentType == b.documentType && a.mrz == b.mrz && a.barcode == b.barcode && a.chip == b.chip && a.chipMRZ == b.chipMRZ
            && a.faceMatch?.passed == b.faceMatch?.passed && a.faceMatch?.distance == b.faceMatch?.distance && a.liveness == b.liveness
            && a.expectedNames == b.expectedNames && a.faceMatchReasons == b.faceMatchReasons && a.livenessReasons == b.livenessReasons
            && a.additionalChecks == b.additionalChecks
    }
}

/// The decision over a session's findings under a policy (docs/idv.md, "Decision").
///
/// The identity data comes from the strongest source that passed its checks: the chip's DG1
/// (signed by the issuing state), else the MRZ (check digits) or the barcode. A check that fails
/// fails the session, unless the policy sends its reason to REVIEW. The assurance level follows
/// NIST SP 800-63A: `ial2` when the evidence was validated (passive authentication, or a clean MRZ
/// or barcode) **and** the person was verified against it (face match, and liveness when remote),
/// else `ial1` (nothing proven about the person presenting it).
public enum IDVDecider {
    public struct Outcome: Sendable, Equatable {
        public var decision: IDVDecision
        public var checks: [IDVCheck]
        public var reasons: [String]
        public var assuranceLevel: String
        /// Verified claims by OIDC name, from checked data only (empty unless VERIFIED).
        public var claims: [String: JSONValue]
        public var nameMatches: [String: NameMatch.Result]
        public var document: VerifiedIdentity.Document?
    }

    /// An ICAO 9303 state code as ISO 3166-1 alpha-3, which OIDC4IDA and policies use: they are
    /// the same but for Germany, whose MRZ code is `D` (ICAO 9303 part 3 §5).
    public static func iso3166(_ icao: String) -> String { icao == "D" ? "DEU" : icao }

    public static func decide(_ f: IDVFindings, policy: IDVPolicy, now: Date) -> Outcome {
        var checks: [IDVCheck] = []
        func check(_ name: String, _ passed: Bool, _ reasons: [String]) { checks.append(IDVCheck(name: name, passed: passed, reasons: passed ? [] : reasons)) }

        // The data source: the chip when its passive authentication passed, else MRZ, else barcode.
        let chipGood = f.chip?.passed == true && f.chipMRZ?.checksPass == true
        let mrzGood = f.mrz.map { $0.checksPass } ?? false
        check("document_type", policy.documentTypes.contains(f.documentType), ["document_type_not_allowed"])
        if let chip = f.chip { check("passive_authentication", chip.passed, chip.reasons) }
        if policy.requireChip && f.chip == nil { check("passive_authentication", false, ["chip_required"]) }
        if let mrz = f.mrz {
            check("mrz_check_digits", mrz.checksPass, mrz.checkDigits.filter { !$0.valid }.map { "mrz_\($0.field)_check_digit" })
            if !mrz.corrections.isEmpty { check("mrz_read_cleanly", false, ["mrz_corrected"]) }
        }
        if let mrz = f.mrz, let chipMRZ = f.chipMRZ {
            // The printed MRZ must say what the signed chip says.
            let same =
                mrz.documentNumber == chipMRZ.documentNumber && mrz.birthDate == chipMRZ.birthDate && mrz.expiryDate == chipMRZ.expiryDate
                && mrz.primaryIdentifier == chipMRZ.primaryIdentifier && mrz.secondaryIdentifiers == chipMRZ.secondaryIdentifiers
            check("mrz_matches_chip", same, ["mrz_differs_from_chip"])
        }
        let source: MRZ? = chipGood ? f.chipMRZ : (mrzGood ? f.mrz : nil)
        let barcode = source == nil ? f.barcode : nil
        let evidenceValidated = chipGood || (mrzGood && f.mrz?.corrections.isEmpty == true) || barcode != nil
        if source == nil && barcode == nil { check("document_data", false, ["no_readable_document_data"]) }

        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let expiry = source.flatMap { MRZ.date($0.expiryDate, kind: .expiry, now: now) } ?? barcode?.expiryDate
        let birth = source.flatMap { MRZ.date($0.birthDate, kind: .birth, now: now) } ?? barcode?.birthDate
        let country = (source?.issuingState).map(Self.iso3166) ?? barcode?.country
        if source != nil || barcode != nil {
            let expires = expiry.flatMap { calendar.date(from: $0) }
            check("not_expired", expires.map { $0.addingTimeInterval(86_400) > now } ?? false, [expires == nil ? "expiry_unreadable" : "document_expired"])
            if !policy.countries.isEmpty {
                check("issuing_country", country.map(policy.countries.map(Self.iso3166).contains) ?? false, ["country_not_allowed"])
            }
            if let minimum = policy.minimumAge {
                let age = birth.flatMap { calendar.date(from: $0) }.map { calendar.dateComponents([.year], from: $0, to: now).year ?? 0 }
                check("minimum_age", (age ?? -1) >= minimum, [age == nil ? "birth_date_unreadable" : "under_minimum_age"])
            }
        }
        checks.append(contentsOf: f.additionalChecks)
        if let face = f.faceMatch { check("face_match", face.passed, f.faceMatchReasons.isEmpty ? ["face_mismatch"] : f.faceMatchReasons) }
        if policy.requireFaceMatch && f.faceMatch == nil { check("face_match", false, ["face_match_required"]) }
        if let live = f.liveness { check("liveness", live, f.livenessReasons.isEmpty ? ["liveness_failed"] : f.livenessReasons) }
        if policy.requireLiveness && f.liveness == nil { check("liveness", false, ["liveness_required"]) }

        // Names, against the expected ones.
        let actual: [String: String] = [
            "given_name": source?.secondaryIdentifiers ?? barcode?.givenName ?? "",
            "family_name": source?.primaryIdentifier ?? barcode?.familyName ?? "",
        ]
        var matches: [String: NameMatch.Result] = [:]
        func iso(_ c: DateComponents?) -> String? {
            guard let c, let y = c.year, let m = c.month, let d = c.day else { return nil }
            return String(format: "%04d-%02d-%02d", y, m, d)
        }
        if let expected = f.expectedNames["birthdate"], source != nil || barcode != nil {
            check("birthdate", iso(birth) == expected, ["birthdate_mismatch"])
        }
        for (claim, expected) in f.expectedNames.sorted(by: { $0.key < $1.key }) where actual[claim] != nil {
            let result = NameMatch.compare(expected: expected, actual: actual[claim] ?? "")
            matches[claim] = result
            check("name_\(claim)", result.kind <= policy.weakestNameMatch, ["\(claim)_mismatch"])
        }

        let failed = checks.filter { !$0.passed }
        let reasons = failed.flatMap(\.reasons)
        let decision: IDVDecision =
            failed.isEmpty ? .verified : (Set(reasons).isSubset(of: policy.reviewReasons) ? .review : .failed)
        let personVerified = f.faceMatch?.passed == true && (f.liveness == true || !policy.requireLiveness)
        var claims: [String: JSONValue] = [:]
        var document: VerifiedIdentity.Document?
        if decision == .verified {
            if let given = actual["given_name"], !given.isEmpty { claims["given_name"] = .string(given) }
            if let family = actual["family_name"], !family.isEmpty { claims["family_name"] = .string(family) }
            if let b = iso(birth) { claims["birthdate"] = .string(b) }
            if let nationality = source?.nationality, !nationality.isEmpty { claims["nationalities"] = .array([.string(Self.iso3166(nationality))]) }
            var methods: [String] = []
            if chipGood { methods.append("vpip") }
            if mrzGood || barcode != nil { methods.append("vdig") }
            if f.faceMatch?.passed == true { methods.append("pvp") }
            if f.liveness == true { methods.append("vri") }
            document = VerifiedIdentity.Document(
                type: f.documentType, number: source?.documentNumber ?? barcode?.documentNumber, issuerCountry: country,
                dateOfExpiry: iso(expiry), checks: methods)
        }
        return Outcome(
            decision: decision, checks: checks, reasons: reasons, assuranceLevel: evidenceValidated && personVerified ? "ial2" : "ial1",
            claims: claims, nameMatches: matches, document: document)
    }
}
