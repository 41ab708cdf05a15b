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

    /// Upstream sessions (migration 11, sealed ID token and the sid index from 12): found by
    /// Sigil session, by subject and by the IdP's session index; gone with the Sigil session.
    @Test(arguments: Backend.enabled)
    func upstreamSessionsAreFoundBySubjectAndSessionIndex(_ backend: Backend) async throws {
        try await withFreshStore(backend) { (store: SQLStore) async throws in
            let acme = try await store.tenants.create(f.tenant("acme"))
            let ada = try await store.users.create(f.user(acme, "ada@example.com"))
            let okta = try await store.upstreams.create(connection(acme, "upc_1", "okta"))
            let now = f.clock.now()
            func session(_ token: String) async throws -> Session {
                try await store.sessions.create(
                    Session(
                        id: f.ids.make(.session), tenantID: acme.id, userID: ada.id, tokenHash: tokenHash(token), createdAt: now,
                        lastSeenAt: now, idleExpiresAt: now.addingTimeInterval(1800), absoluteExpiresAt: now.addingTimeInterval(3600),
                        authTime: now, amr: ["fed"], acr: "urn:sigil:acr:upstream"))
            }
            let s1 = try await session("one"), s2 = try await session("two"), s3 = try await session("three")
            let rows = [
                UpstreamSession(
                    tenantID: acme.id, sessionID: s1.id, connectionID: okta.id, subject: "sub-1", subjectFormat: nil, sessionIndex: "sid-a",
                    sealedIDToken: "sealed-token", createdAt: now),
                UpstreamSession(
                    tenantID: acme.id, sessionID: s2.id, connectionID: okta.id, subject: "sub-1", subjectFormat: nil, sessionIndex: "sid-b",
                    createdAt: now.addingTimeInterval(1)),
                UpstreamSession(
                    tenantID: acme.id, sessionID: s3.id, connectionID: okta.id, subject: "sub-2", subjectFormat: "email", sessionIndex: "sid-a",
                    createdAt: now.addingTimeInterval(2)),
            ]
            for row in rows { try await store.upstreams.recordSession(row) }
            #expect(try await store.upstreams.session(tenantID: acme.id, sessionID: s1.id) == rows[0])
            #expect(try await store.upstreams.session(tenantID: acme.id, sessionID: s2.id)?.sealedIDToken == nil)
            #expect(try await store.upstreams.sessions(tenantID: acme.id, connectionID: okta.id, subject: "sub-1").map(\.sessionID) == [s1.id, s2.id])
            #expect(try await store.upstreams.sessions(tenantID: acme.id, connectionID: okta.id, sessionIndex: "sid-a").map(\.sessionID) == [s1.id, s3.id])
            #expect(try await store.upstreams.sessions(tenantID: acme.id, connectionID: "upc_other", sessionIndex: "sid-a").isEmpty)
            #expect(try await store.upstreams.sessions(tenantID: "ten_other", connectionID: okta.id, sessionIndex: "sid-a").isEmpty)
        }
    }
}
