import Foundation
import SigilCore
import SigilStore
import SigilTestSupport
import Testing

@testable import SigilSQLStore

/// Conformance for consent grants (migration 6) and the migrator's handling of version gaps.
@Suite("Store conformance: consent")
struct ConsentStoreConformanceTests {
    let f = Fixtures()

    func consent(_ tenant: Tenant, _ user: User, _ client: String, _ scopes: [String], claims: [String] = []) -> ConsentGrant {
        ConsentGrant(
            tenantID: tenant.id, userID: user.id, clientID: client, scopes: scopes, claims: claims,
            createdAt: f.clock.now(), updatedAt: f.clock.now())
    }

    @Test(arguments: Backend.enabled)
    func grantsAreSavedPerUserAndClientAndReplaced(_ backend: Backend) async throws {
        try await withFreshStore(backend) { (store: SQLStore) async throws in
            let acme = try await store.tenants.create(f.tenant("acme"))
            let beta = try await store.tenants.create(f.tenant("beta"))
            let ada = try await store.users.create(f.user(acme, "ada@example.com"))
            let bob = try await store.users.create(f.user(acme, "bob@example.com"))
            let first = try await store.consents.save(consent(acme, ada, "c1", ["openid", "email"], claims: ["given_name"]))
            #expect(try await store.consents.find(tenantID: acme.id, userID: ada.id, clientID: "c1") == first)
            #expect(try await store.consents.find(tenantID: acme.id, userID: bob.id, clientID: "c1") == nil)
            #expect(try await store.consents.find(tenantID: beta.id, userID: ada.id, clientID: "c1") == nil)
            // Saving again replaces scopes, claims and updatedAt, keeping createdAt.
            f.clock.advance(by: 60)
            var wider = consent(acme, ada, "c1", ["openid", "email", "profile"])
            wider.createdAt = f.clock.now()
            let replaced = try await store.consents.save(wider)
            #expect(replaced.scopes == ["openid", "email", "profile"] && replaced.claims.isEmpty)
            #expect(replaced.createdAt == first.createdAt && replaced.updatedAt == f.clock.now())
            try await store.consents.save(consent(acme, ada, "c0", ["openid"]))
            try await store.consents.save(consent(acme, bob, "c1", ["openid"]))
            #expect(try await store.consents.list(tenantID: acme.id, userID: ada.id).map(\.clientID) == ["c0", "c1"])
            #expect(try await store.consents.delete(tenantID: acme.id, userID: ada.id, clientID: "c1") == replaced)
            #expect(try await store.consents.delete(tenantID: acme.id, userID: ada.id, clientID: "c1") == nil)
            #expect(try await store.consents.list(tenantID: acme.id, userID: ada.id).map(\.clientID) == ["c0"])
            // A failed transaction leaves nothing behind.
            await #expect(throws: (any Error).self) {
                try await store.transaction { tx in
                    try await tx.consents.save(consent(acme, ada, "c2", ["openid"]))
                    throw StoreError.conflict("test")
                }
            }
            #expect(try await store.consents.find(tenantID: acme.id, userID: ada.id, clientID: "c2") == nil)
            // Deleting the user deletes the grants.
            _ = try await store.users.delete(tenantID: acme.id, id: bob.id, expectedVersion: nil)
            #expect(try await store.consents.list(tenantID: acme.id, userID: bob.id).isEmpty)
        }
    }

    @Test(arguments: Backend.enabled)
    func revokingTokensTouchesOnlyThatUserAndClient(_ backend: Backend) async throws {
        try await withFreshStore(backend) { (store: SQLStore) async throws in
            let acme = try await store.tenants.create(f.tenant("acme"))
            let ada = try await store.users.create(f.user(acme, "ada@example.com"))
            let bob = try await store.users.create(f.user(acme, "bob@example.com"))
            func grant(_ user: User, _ client: String) -> OAuthGrant {
                OAuthGrant(
                    id: f.ids.make(.oauthGrant), tenantID: acme.id, clientID: client, userID: user.id, sessionID: "ses", scopes: ["openid"],
                    createdAt: f.clock.now(), expiresAt: f.clock.now().addingTimeInterval(3600))
            }
            let a1 = try await store.oauth.createGrant(grant(ada, "c1"))
            let a1b = try await store.oauth.createGrant(grant(ada, "c1"))
            let a2 = try await store.oauth.createGrant(grant(ada, "c2"))
            let b1 = try await store.oauth.createGrant(grant(bob, "c1"))
            let now = f.clock.now()
            #expect(try await store.consents.revokeTokens(tenantID: acme.id, userID: ada.id, clientID: "c1", at: now) == 2)
            #expect(try await store.consents.revokeTokens(tenantID: acme.id, userID: ada.id, clientID: "c1", at: now) == 0)
            for (g, active) in [(a1, false), (a1b, false), (a2, true), (b1, true)] {
                #expect(try await store.oauth.grant(tenantID: acme.id, id: g.id)?.isActive(at: now) == active)
            }
        }
    }

    @Test(arguments: Backend.enabled)
    func migrationVersionsMayHaveGapsFilledLater(_ backend: Backend) async throws {
        try await withFreshStore(backend) { (store: SQLStore) async throws in
            // The newest version, not the count, is the schema's version (a branch may lack 5).
            #expect(SQLStore.latestMigration == Migrations.all.map(\.version).max())
            // A lower version merged later (listed after the higher one) still applies, once.
            // (5 while this branch lacks it; any free lower number once it is merged.)
            let versions = Set(Migrations.all.map(\.version))
            let gap = (1...Migrations.latestVersion).first { !versions.contains($0) } ?? 0
            let later = Migration(version: gap, name: "merged later") { _ in ["CREATE TABLE merged_later (id TEXT PRIMARY KEY)"] }
            let known = Migrations.all + [later]
            #expect(try await store.migrate(now: Date(), migrations: known) == [gap])
            #expect(try await store.migrate(now: Date(), migrations: known).isEmpty)
            // A binary that does not know the newest applied version refuses to run.
            await #expect(throws: (any Error).self) {
                _ = try await store.migrate(now: Date(), migrations: known.filter { $0.version < Migrations.latestVersion })
            }
        }
    }
}
