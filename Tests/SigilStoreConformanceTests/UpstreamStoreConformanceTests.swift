import Foundation
import SigilCore
import SigilStore
import SigilTestSupport
import Testing

@testable import SigilSQLStore

/// Conformance for upstream connections and their links to users (migration 11).
@Suite("Store conformance: upstream connections")
struct UpstreamStoreConformanceTests {
    let f = Fixtures()

    func connection(_ tenant: Tenant, _ id: String, _ name: String, metadataURL: String? = nil) -> UpstreamConnection {
        UpstreamConnection(
            id: id, tenantID: tenant.id, name: name, displayName: name.uppercased(), policy: UpstreamPolicy(emailDomains: ["example.org"]),
            settings: .saml(
                UpstreamSAMLSettings(
                    idpEntityID: "https://idp.example/\(name)", ssoURL: "https://idp.example/sso", signingCertificatesPEM: ["PEM1"],
                    metadataURL: metadataURL, spKeyID: "k", spCertificatePEM: "SPPEM", sealedSPKey: "sealed")),
            createdAt: f.clock.now(), updatedAt: f.clock.now())
    }

    @Test(arguments: Backend.enabled)
    func connectionsAreUniquePerTenantAndUpdatedUnderVersion(_ backend: Backend) async throws {
        try await withFreshStore(backend) { (store: SQLStore) async throws in
            let acme = try await store.tenants.create(f.tenant("acme"))
            let beta = try await store.tenants.create(f.tenant("beta"))
            let okta = try await store.upstreams.create(connection(acme, "upc_1", "okta", metadataURL: "https://idp.example/md"))
            _ = try await store.upstreams.create(connection(acme, "upc_2", "azure"))
            // The same name in another tenant is another connection; in the same tenant it is refused.
            _ = try await store.upstreams.create(connection(beta, "upc_3", "okta"))
            await #expect(throws: StoreError.self) { _ = try await store.upstreams.create(connection(acme, "upc_4", "okta")) }
            #expect(try await store.upstreams.get(tenantID: acme.id, id: "upc_1") == okta)
            #expect(try await store.upstreams.find(tenantID: acme.id, name: "okta")?.id == "upc_1")
            #expect(try await store.upstreams.find(tenantID: acme.id, name: "none") == nil)
            await #expect(throws: StoreError.self) { _ = try await store.upstreams.get(tenantID: beta.id, id: "upc_1") }
            #expect(try await store.upstreams.list(tenantID: acme.id).map(\.name) == ["azure", "okta"])
            #expect(try await store.upstreams.listWithMetadataURL().map(\.id) == ["upc_1"])
            // Update: version checked and bumped, settings round-trip.
            let (before, after) = try await store.upstreams.update(tenantID: acme.id, id: "upc_1", expectedVersion: 1) {
                guard case .saml(var saml) = $0.settings else { return }
                saml.signingCertificatesPEM = ["PEM1", "PEM2"]
                saml.metadataURL = nil
                $0.settings = .saml(saml)
                $0.enabled = false
            }
            #expect(before.version == 1 && after.version == 2 && after.saml?.signingCertificatesPEM == ["PEM1", "PEM2"] && !after.enabled)
            #expect(try await store.upstreams.get(tenantID: acme.id, id: "upc_1") == after)
            #expect(try await store.upstreams.listWithMetadataURL().isEmpty)
            await #expect(throws: StoreError.self) { _ = try await store.upstreams.update(tenantID: acme.id, id: "upc_1", expectedVersion: 1) { _ in } }
        }
    }

    @Test(arguments: Backend.enabled)
    func linksAreOnePerSubjectAndGoWithTheirConnectionOrUser(_ backend: Backend) async throws {
        try await withFreshStore(backend) { (store: SQLStore) async throws in
            let acme = try await store.tenants.create(f.tenant("acme"))
            let ada = try await store.users.create(f.user(acme, "ada@example.com"))
            let bob = try await store.users.create(f.user(acme, "bob@example.com"))
            _ = try await store.upstreams.create(connection(acme, "upc_1", "okta"))
            _ = try await store.upstreams.create(connection(acme, "upc_2", "azure"))
            let now = f.clock.now()
            let link = UpstreamLink(tenantID: acme.id, connectionID: "upc_1", subject: "ada@idp", userID: ada.id, createdAt: now, lastSeenAt: now)
            _ = try await store.upstreams.createLink(link)
            // One user per (connection, subject); the same subject at another connection is another link.
            await #expect(throws: StoreError.self) {
                var other = link
                other.userID = bob.id
                _ = try await store.upstreams.createLink(other)
            }
            var second = link
            second.connectionID = "upc_2"
            _ = try await store.upstreams.createLink(second)
            #expect(try await store.upstreams.link(tenantID: acme.id, connectionID: "upc_1", subject: "ada@idp") == link)
            f.clock.advance(by: 30)
            try await store.upstreams.touchLink(tenantID: acme.id, connectionID: "upc_1", subject: "ada@idp", at: f.clock.now())
            #expect(try await store.upstreams.link(tenantID: acme.id, connectionID: "upc_1", subject: "ada@idp")?.lastSeenAt == f.clock.now())
            #expect(try await store.upstreams.links(tenantID: acme.id, userID: ada.id).map(\.connectionID) == ["upc_1", "upc_2"])
            // Deleting the connection deletes its links; deleting the user deletes theirs.
            _ = try await store.upstreams.delete(tenantID: acme.id, id: "upc_1")
            #expect(try await store.upstreams.links(tenantID: acme.id, userID: ada.id).map(\.connectionID) == ["upc_2"])
            _ = try await store.users.delete(tenantID: acme.id, id: ada.id, expectedVersion: nil)
            #expect(try await store.upstreams.links(tenantID: acme.id, userID: ada.id).isEmpty)
        }
    }
}
