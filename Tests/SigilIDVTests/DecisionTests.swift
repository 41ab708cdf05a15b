import Foundation
import SigilJOSE
import Testing

@testable import SigilIDV

/// The decision over findings: which source the identity comes from, each failing check and its
/// reason, REVIEW by policy, and the IAL.
@Suite struct DecisionTests {
    let now = ISO8601DateFormatter().date(from: "2026-12-06T10:00:00Z")!
    // The ICAO TD3 specimen with a future expiry (2031-04-15): UTO, ERIKSSON ANNA MARIA, born 1974-08-12.
    static let current = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\nL898902C36UTO7408122F3104150ZE184226B<<<<<16"

    func mrz(_ text: String = current) -> MRZ { try! MRZ.parse(text) }
    let chipPassed = PassiveAuthentication.Report(signatureValid: true, chain: .trusted, dataGroups: [1: true, 2: true], reasons: [])

    func findings(_ change: (inout IDVFindings) -> Void = { _ in }) -> IDVFindings {
        var f = IDVFindings(
            documentType: "passport", mrz: mrz(), chip: chipPassed, chipMRZ: mrz(), faceMatch: (true, 0.41), liveness: true,
            expectedNames: ["given_name": "Anna", "family_name": "Eriksson"])
        change(&f)
        return f
    }

    @Test func theSpecimenIsCurrent() {
        #expect(mrz().checksPass, "\(mrz().checkDigits)")
    }

    @Test func aChipPassportWithAMatchingFaceIsIAL2() {
        let o = IDVDecider.decide(findings(), policy: IDVPolicy(), now: now)
        #expect(o.decision == .verified && o.reasons.isEmpty && o.assuranceLevel == "ial2", "\(o.reasons)")
        #expect(o.claims["given_name"] == .string("ANNA MARIA") && o.claims["family_name"] == .string("ERIKSSON"))
        #expect(o.claims["birthdate"] == .string("1974-08-12") && o.claims["nationalities"] == .array([.string("UTO")]))
        #expect(o.document?.checks == ["vpip", "vdig", "pvp", "vri"] && o.document?.dateOfExpiry == "2031-04-15")
        #expect(o.nameMatches["given_name"]?.kind == .partial && o.nameMatches["family_name"]?.kind == .normalised)
    }

    /// Germany's MRZ code is `D`; OIDC4IDA and policies speak ISO 3166 (`DEU`).
    @Test func germanyIsDEU() {
        func german(_ f: inout IDVFindings) {
            f.mrz?.issuingState = "D"; f.mrz?.nationality = "D"; f.chipMRZ?.issuingState = "D"; f.chipMRZ?.nationality = "D"
        }
        let o = IDVDecider.decide(findings(german), policy: IDVPolicy(countries: ["DEU"]), now: now)
        #expect(o.decision == .verified && o.claims["nationalities"] == .array([.string("DEU")]) && o.document?.issuerCountry == "DEU")
        #expect(IDVDecider.decide(findings(german), policy: IDVPolicy(countries: ["D"]), now: now).decision == .verified)
    }

    @Test func eachFailureSaysWhy() {
        func reasons(_ policy: IDVPolicy = IDVPolicy(), _ change: (inout IDVFindings) -> Void) -> [String] {
            let o = IDVDecider.decide(findings(change), policy: policy, now: now)
            #expect(o.decision == .failed && o.claims.isEmpty && o.document == nil)
            return o.reasons
        }
        #expect(reasons { $0.faceMatch = (false, 0.81) } == ["face_mismatch"])
        #expect(reasons { $0.liveness = false } == ["liveness_failed"])
        #expect(reasons { $0.liveness = nil } == ["liveness_required"])
        #expect(reasons { $0.expectedNames["family_name"] = "Smith" } == ["family_name_mismatch"])
        #expect(reasons { $0.expectedNames["birthdate"] = "1974-08-13" } == ["birthdate_mismatch"])
        #expect(reasons { $0.documentType = "residence_permit" } == ["document_type_not_allowed"])
        #expect(reasons(IDVPolicy(countries: ["D", "FRA"])) { _ in } == ["country_not_allowed"])
        #expect(reasons(IDVPolicy(minimumAge: 60)) { _ in } == ["under_minimum_age"])
        // An expired document (the original specimen: 2012).
        let expired = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<\nL898902C36UTO7408122F1204159ZE184226B<<<<<10"
        #expect(
            reasons {
                $0.mrz = mrz(expired); $0.chipMRZ = mrz(expired)
            } == ["document_expired"])
        // The chip's signature chain failed; the printed MRZ alone still reads, but the check fails.
        #expect(reasons { $0.chip?.reasons = ["ds_not_from_trusted_csca"] } == ["ds_not_from_trusted_csca"])
        // A printed MRZ that says something else than the signed chip.
        #expect(reasons { $0.mrz = mrz(Self.current.replacingOccurrences(of: "ANNA<MARIA", with: "ANNE<MARIA")) } == ["mrz_differs_from_chip"])
    }

    @Test func withoutAChipTheMRZIsTheSource() {
        let o = IDVDecider.decide(
            findings {
                $0.chip = nil; $0.chipMRZ = nil
            }, policy: IDVPolicy(), now: now)
        #expect(o.decision == .verified && o.assuranceLevel == "ial2" && o.document?.checks == ["vdig", "pvp", "vri"])
        // A policy that requires the chip refuses it.
        #expect(
            IDVDecider.decide(
                findings {
                    $0.chip = nil; $0.chipMRZ = nil
                }, policy: IDVPolicy(requireChip: true), now: now
            ).reasons == ["chip_required"])
        // A repaired MRZ: a failed check (mrz_corrected), REVIEW when the policy says so.
        let repaired = mrz(Self.current.replacingOccurrences(of: "L898902C3", with: "L8989O2C3"))
        #expect(repaired.checksPass && !repaired.corrections.isEmpty)
        let review = IDVDecider.decide(
            findings {
                $0.chip = nil; $0.chipMRZ = nil; $0.mrz = repaired
            }, policy: IDVPolicy(reviewReasons: ["mrz_corrected"]), now: now)
        #expect(review.decision == .review && review.reasons == ["mrz_corrected"])
    }

    @Test func noFaceMatchIsAtMostIAL1() {
        let o = IDVDecider.decide(
            findings {
                $0.faceMatch = nil; $0.liveness = nil
            }, policy: IDVPolicy(requireFaceMatch: false, requireLiveness: false), now: now)
        #expect(o.decision == .verified && o.assuranceLevel == "ial1")
    }

    @Test func aDrivingLicenceFromItsBarcode() throws {
        let card = try AAMVARecord.parse(AAMVATests.card())
        let o = IDVDecider.decide(
            IDVFindings(
                documentType: "driving_permit", barcode: card, faceMatch: (true, 0.3), liveness: true,
                expectedNames: ["given_name": "Michael", "family_name": "Sample"]), policy: IDVPolicy(), now: now)
        #expect(o.decision == .verified && o.assuranceLevel == "ial2", "\(o.reasons)")
        #expect(o.claims["birthdate"] == .string("1976-07-04") && o.claims["family_name"] == .string("SAMPLE"))
        #expect(o.document?.number == "0123456789" && o.document?.issuerCountry == "USA" && o.document?.checks == ["vdig", "pvp", "vri"])
    }

    @Test func nothingReadable() {
        let o = IDVDecider.decide(IDVFindings(documentType: "passport", faceMatch: (true, 0.2), liveness: true), policy: IDVPolicy(), now: now)
        #expect(o.decision == .failed && o.reasons == ["no_readable_document_data"] && o.assuranceLevel == "ial1")
    }
}
