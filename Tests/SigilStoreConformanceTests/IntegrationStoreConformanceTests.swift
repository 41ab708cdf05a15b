import Foundation
import SigilCore
import SigilStore
import SigilTestSupport
import Testing

@testable import SigilSQLStore

/// Conformance for one-click integration records (migration 14): created, read per tenant, listed,
/// updated (a repair's new key, the last check), deleted.
@Suite("Store conformance: integrations")
struct IntegrationStoreConformanceTests {
    let f = Fixtures()

    @Test(arguments: Backend.enabled)
    func recordsPerTenant(_ backend: Backend) async throws {
        try await withFreshStore(backend) { (store: SQLStore) async throws in
            let acme = try await store.tenants.create(f.tenant("acme"))
            let beta = try await store.tenants.create(f.tenant("beta"))
            let now = f.clock.now()
            var record = IntegrationRecord(
                tenantID: acme.id, id: "int_1", kind: "auth0-saml", partnerDomain: "acme.eu.auth0.com",
                partnerObjects: [.init(kind: "connection", id: "con_1", name: "sigil")], applicationID: "app_1", enabledClients: ["c1"],
                values: ["acs_url": "https://acme.eu.auth0.com/login/callback?connection=sigil"], createdAt: now)
            try await store.integrationRecords.create(record)
            let second = IntegrationRecord(
                tenantID: acme.id, id: "int_2", kind: "okta-idv", partnerDomain: "acme.okta.com", partnerObjects: [], applicationID: "app_2",
                enabledClients: [], values: [:], createdAt: now.addingTimeInterval(1))
            try await store.integrationRecords.create(second)
            await #expect(throws: StoreError.self) { try await store.integrationRecords.create(record) }
            #expect(try await store.integrationRecords.get(tenantID: acme.id, id: "int_1") == record)
            #expect(try await store.integrationRecords.get(tenantID: beta.id, id: "int_1") == nil)
            #expect(try await store.integrationRecords.list(tenantID: acme.id).map(\.id) == ["int_1", "int_2"])
            #expect(try await store.integrationRecords.list(tenantID: beta.id).isEmpty)
            #expect(try await store.integrationRecords.all(limit: 10).count == 2)

            record.partnerObjects.append(.init(kind: "key", id: "kid-2"))
            record.lastCheck = .init(
                status: "drift", findings: [.init(code: "certificate_changed", side: "partner", message: "…", repairable: true)], checkedAt: now,
                partnerRead: false)
            try await store.integrationRecords.update(record)
            #expect(try await store.integrationRecords.get(tenantID: acme.id, id: "int_1") == record)
            var stranger = record
            stranger.tenantID = beta.id
            await #expect(throws: StoreError.self) { try await store.integrationRecords.update(stranger) }

            #expect(try await store.integrationRecords.delete(tenantID: acme.id, id: "int_1"))
            #expect(try await !store.integrationRecords.delete(tenantID: acme.id, id: "int_1"))
            #expect(try await store.integrationRecords.list(tenantID: acme.id).map(\.id) == ["int_2"])
        }
    }
}
