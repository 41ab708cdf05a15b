import Foundation
import SigilJOSE
import Testing

@testable import SigilIDV

/// OIDC4IDA `verified_claims`: only verified data, only what was asked, restrictions honoured by
/// omission; Okta's BYO IDV dialect exactly as protocols.md §1.5 describes it.
@Suite struct VerifiedClaimsTests {
    let now = ISO8601DateFormatter().date(from: "2026-12-06T10:00:00Z")!

    func identity(_ status: VerifiedIdentity.Status = .verified) -> VerifiedIdentity {
        VerifiedIdentity(
            status: status, assuranceLevel: "ial2", time: now.addingTimeInterval(-60), process: "idv_123",
            claims: ["given_name": .string("ERIKA"), "family_name": .string("MUSTERMANN"), "birthdate": .string("1964-08-12")],
            document: .init(type: "passport", number: "C01X00T47", issuerCountry: "DEU", dateOfExpiry: "2027-10-31", checks: ["vpip", "vdig", "pvp"]),
            nameMatches: [
                "given_name": NameMatch.compare(expected: "Erika", actual: "ERIKA"),
                "family_name": NameMatch.compare(expected: "Mustermann", actual: "MUSTERMANN"),
            ])
    }

    func claims(_ json: String) throws -> JSONValue { try JSONValue.parse(Array(json.utf8)) }

    @Test func scopeOnlyReturnsEverythingVerified() throws {
        let v = try #require(VerifiedClaims.response(for: identity(), claims: nil, now: now)?.object)
        let verification = try #require(v["verification"]?.object)
        #expect(verification["trust_framework"] == .string("nist_800_63A") && verification["assurance_level"] == .string("ial2"))
        #expect(verification["time"] == .string("2026-12-06T09:59:00Z") && verification["verification_process"] == .string("idv_123"))
        #expect(verification["evidence"]?.array?.first?.object?["type"] == .string("document"))
        #expect(v["claims"]?.object?.keys.sorted() == ["birthdate", "family_name", "given_name"])
        // A failed verification returns nothing in the standard dialect.
        #expect(VerifiedClaims.response(for: identity(.failed), claims: nil, now: now) == nil)
    }

    @Test func onlyWhatWasRequested() throws {
        let request = try claims(#"{"id_token":{"verified_claims":{"verification":{"trust_framework":null},"claims":{"given_name":null,"email":null}}}}"#)
        let v = try #require(VerifiedClaims.response(for: identity(), claims: request, now: now)?.object)
        #expect(v["claims"] == .object(["given_name": .string("ERIKA")]))
        #expect(v["verification"] == .object(["trust_framework": .string("nist_800_63A")]))
        // Asked for userinfo only: nothing for the ID token.
        let userinfo = try claims(#"{"userinfo":{"verified_claims":{"verification":{"trust_framework":null},"claims":{}}}}"#)
        #expect(VerifiedClaims.response(for: identity(), claims: userinfo, target: "id_token", now: now) == nil)
        #expect(VerifiedClaims.response(for: identity(), claims: userinfo, target: "userinfo", now: now) != nil)
    }

    @Test func unmetRestrictionsOmitNotFail() throws {
        func answer(_ json: String) throws -> JSONValue? { VerifiedClaims.response(for: identity(), claims: try claims(json), now: now) }
        // Under verification: the whole element goes.
        #expect(try answer(#"{"id_token":{"verified_claims":{"verification":{"trust_framework":{"value":"eidas"}},"claims":{"given_name":null}}}}"#) == nil)
        #expect(
            try answer(#"{"id_token":{"verified_claims":{"verification":{"trust_framework":null,"time":{"max_age":30}},"claims":{"given_name":null}}}}"#) == nil
        )
        #expect(
            try answer(
                #"{"id_token":{"verified_claims":{"verification":{"trust_framework":null,"evidence":[{"type":{"value":"electronic_record"}}]},"claims":{}}}}"#)
                == nil)
        #expect(
            try answer(
                #"{"id_token":{"verified_claims":{"verification":{"trust_framework":null,"evidence":[{"type":{"value":"document"},"document_details":{"type":{"values":["idcard"]}}}]},"claims":{}}}}"#
            ) == nil)
        // Met: kept.
        #expect(
            try answer(
                #"{"id_token":{"verified_claims":{"verification":{"trust_framework":{"values":["eidas","nist_800_63A"]},"time":{"max_age":3600}},"claims":{"given_name":null}}}}"#
            ) != nil)
        // On a claim: only that claim goes.
        let v = try #require(
            try answer(
                #"{"id_token":{"verified_claims":{"verification":{"trust_framework":null},"claims":{"given_name":{"value":"MAX"},"family_name":{"essential":true}}}}}"#
            )?.object)
        #expect(v["claims"] == .object(["family_name": .string("MUSTERMANN")]))
        // An array request is answered entry by entry, as an array.
        let both = try answer(
            #"{"id_token":{"verified_claims":[{"verification":{"trust_framework":{"value":"eidas"}},"claims":{}},{"verification":{"trust_framework":null},"claims":{"birthdate":null}}]}}"#
        )
        #expect(both?.array?.count == 1 && both?.array?.first?.object?["claims"] == .object(["birthdate": .string("1964-08-12")]))
    }

    /// Okta's PAR `claims` (protocols.md §1.3) and what its ID token must carry (§1.5).
    static let oktaRequest = #"""
        {"id_token":{"verified_claims":[{"verification":{"trust_framework":{"value":"IDV-DELEGATED","essential":true},"assurance_level":{"value":"VERIFIED","essential":true}},"claims":{"given_name":{"value":"Erika","fuzzy":true},"family_name":{"value":"Mustermann","fuzzy":true},"email":{"value":"erika@example.com","fuzzy":true}}}]}}
        """#

    @Test func oktaDialect() throws {
        let request = try claims(Self.oktaRequest)
        let entry = try #require(VerifiedClaims.requests(in: request, target: "id_token")?.entries.first)
        #expect(VerifiedClaims.isOkta(entry))
        #expect(VerifiedClaims.expectedValues(entry) == ["given_name": "Erika", "family_name": "Mustermann", "email": "erika@example.com"])
        let ok = try #require(VerifiedClaims.response(for: identity(), claims: request, now: now)?.array?.first?.object)
        #expect(
            ok["verification"]
                == .object([
                    "trust_framework": .string("IDV-DELEGATED"), "assurance_level": .string("VERIFIED"), "time": .string("2026-12-06T09:59:00Z"),
                    "verification_process": .string("idv_123"),
                ]))
        let c = try #require(ok["claims"]?.object)
        #expect(c["given_name"] == .object(["value": .string("ERIKA"), "fuzzy": .bool(true)]))
        // Not something a document proves: left out under VERIFIED (never null beside VERIFIED).
        #expect(c["email"] == nil && c.count == 2)
        // FAILED: the same shape, assurance_level FAILED, values null.
        let failed = try #require(VerifiedClaims.response(for: identity(.failed), claims: request, now: now)?.array?.first?.object)
        #expect(failed["verification"]?.object?["assurance_level"] == .string("FAILED"))
        #expect(failed["claims"]?.object?["given_name"] == .object(["value": .null, "fuzzy": .bool(true)]))
        // A name that did not match: null, even when verified otherwise.
        var other = identity()
        other.nameMatches["family_name"] = NameMatch.compare(expected: "Schmidt", actual: "MUSTERMANN")
        var failedName = other
        failedName.status = .failed
        let partly = try #require(VerifiedClaims.response(for: failedName, claims: request, now: now)?.array?.first?.object)
        #expect(partly["claims"]?.object?["family_name"] == .object(["value": .null, "fuzzy": .bool(true)]))
        // Okta's `bithdate` spelling and nested address.
        let typo = try claims(
            #"{"id_token":{"verified_claims":[{"verification":{"trust_framework":{"value":"IDV-DELEGATED"}},"claims":{"given_name":{"value":"Erika","fuzzy":true},"bithdate":{"value":"1964-08-12","fuzzy":true},"address":{"locality":{"value":"Köln","fuzzy":true}}}}]}}"#
        )
        let answered = try #require(VerifiedClaims.response(for: identity(), claims: typo, now: now)?.array?.first?.object?["claims"]?.object)
        #expect(answered["bithdate"] == .object(["value": .string("1964-08-12"), "fuzzy": .bool(true)]) && answered["address"] == nil)
        let failedTypo = try #require(VerifiedClaims.response(for: identity(.failed), claims: typo, now: now)?.array?.first?.object?["claims"]?.object)
        #expect(failedTypo["address"] == .object(["locality": .object(["value": .null, "fuzzy": .bool(true)])]))
    }

    @Test func discoveryMetadata() {
        let d = VerifiedClaims.discovery
        #expect(d["trust_frameworks_supported"]?.array?.contains(.string("IDV-DELEGATED")) == true)
        #expect(d["claims_in_verified_claims_supported"]?.array?.count == VerifiedClaims.supportedClaims.count)
        #expect(d["documents_supported"] != nil && d["evidence_supported"] == .array([.string("document")]))
    }
}
