import Foundation
import SigilCore
import SigilIDV
import SigilStore
import SigilTestSupport
import Testing

@testable import SigilSQLStore

/// Conformance for identity verification's rows (migration 13): settings, CSCAs, sealed evidence, subjects, retention.
@Suite("Store conformance: identity verification")
struct IDVStoreConformanceTests {
    let f = Fixtures()

    @Test(arguments: Backend.enabled)
    func settingsCSCAsEvidenceSubjectsAndTheSweep(_ backend: Backend) async throws {
        try await withFreshStore(backend) { (store: SQLStore) async throws in
            let acme = try await store.tenants.create(f.tenant("acme"))
            let beta = try await store.tenants.create(f.tenant("beta"))
            let now = f.clock.now()
            // Settings: none, then saved, then replaced; per tenant.
            #expect(try await store.idv.settings(tenantID: acme.id) == nil)
            var s = IDVSettings(
                policy: IDVPolicy(documentTypes: ["passport"], countries: ["D"], minimumAge: 18, requireChip: true), faceMatchThreshold: 0.55, retentionDays: 7)
            try await store.idv.saveSettings(tenantID: acme.id, s, at: now)
            #expect(try await store.idv.settings(tenantID: acme.id) == s)
            s.retentionDays = 0
            try await store.idv.saveSettings(tenantID: acme.id, s, at: now)
            #expect(try await store.idv.settings(tenantID: acme.id)?.retentionDays == 0)
            #expect(try await store.idv.settings(tenantID: beta.id) == nil)
            // CSCAs: added once per tenant, listed, deleted.
            let csca = CSCARecord(
                tenantID: acme.id, id: String(repeating: "a", count: 64), subject: "CN=CSCA", der: [0x30, 0x03, 0x02, 0x01, 0x00], createdAt: now)
            #expect(try await store.idv.addCSCA(csca))
            #expect(try await !store.idv.addCSCA(csca))
            #expect(try await store.idv.addCSCA(CSCARecord(tenantID: beta.id, id: csca.id, subject: "CN=other", der: [1], createdAt: now)))
            #expect(try await store.idv.cscas(tenantID: acme.id) == [csca])
            #expect(try await store.idv.deleteCSCA(tenantID: acme.id, id: csca.id))
            #expect(try await !store.idv.deleteCSCA(tenantID: acme.id, id: csca.id))
            #expect(try await store.idv.cscas(tenantID: beta.id).count == 1)
            // Evidence: one row per kind, replaced by a retake.
            let e1 = IDVEvidenceRecord(
                tenantID: acme.id, sessionID: "idv_1", kind: "selfie", sealed: "S1", createdAt: now, expiresAt: now.addingTimeInterval(60))
            try await store.idv.putEvidence(e1)
            try await store.idv.putEvidence(
                IDVEvidenceRecord(tenantID: acme.id, sessionID: "idv_1", kind: "selfie", sealed: "S2", createdAt: now, expiresAt: now.addingTimeInterval(60)))
            try await store.idv.putEvidence(
                IDVEvidenceRecord(tenantID: acme.id, sessionID: "idv_1", kind: "chip", sealed: "C", createdAt: now, expiresAt: now.addingTimeInterval(3600)))
            #expect(try await store.idv.evidence(tenantID: acme.id, sessionID: "idv_1").map(\.sealed) == ["C", "S2"])
            #expect(try await store.idv.evidence(tenantID: beta.id, sessionID: "idv_1").isEmpty)
            // Subjects: by id, by (client, external key), by user; replaced by id.
            var subject = IDVSubject(tenantID: acme.id, id: "sub_1", clientID: "c1", externalKeyHash: "h1", userID: nil, createdAt: now)
            try await store.idv.saveSubject(subject)
            #expect(try await store.idv.subject(tenantID: acme.id, clientID: "c1", externalKeyHash: "h1") == subject)
            await #expect(throws: StoreError.self) {
                try await store.idv.saveSubject(IDVSubject(tenantID: acme.id, id: "sub_2", clientID: "c1", externalKeyHash: "h1", userID: nil, createdAt: now))
            }
            subject.sealedIdentity = "sealed"
            subject.status = "VERIFIED"
            subject.verifiedAt = now
            subject.identityExpiresAt = now.addingTimeInterval(120)
            try await store.idv.saveSubject(subject)
            #expect(try await store.idv.subject(tenantID: acme.id, id: "sub_1") == subject)
            #expect(try await store.idv.subject(tenantID: beta.id, id: "sub_1") == nil)
            // The sweep: evidence and identities past their time; the subject itself stays.
            let swept = try await store.idv.sweep(before: now.addingTimeInterval(300))
            #expect(swept.evidence == 1 && swept.identities == 1)
            #expect(try await store.idv.evidence(tenantID: acme.id, sessionID: "idv_1").map(\.kind) == ["chip"])
            let kept = try await store.idv.subject(tenantID: acme.id, id: "sub_1")
            #expect(kept?.sealedIdentity == nil && kept?.status == nil && kept?.clientID == "c1")
            #expect(try await store.idv.deleteEvidence(tenantID: acme.id, sessionID: "idv_1") == 1)
            #expect(try await store.idv.deleteSubject(tenantID: acme.id, id: "sub_1"))
            #expect(try await !store.idv.deleteSubject(tenantID: acme.id, id: "sub_1"))
        }
    }
}
