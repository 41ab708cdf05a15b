import Foundation
import SigilCore
import SigilStore
import SigilTestSupport
import Testing

@testable import SigilSQLStore

/// Email uniqueness under PRECIS case mapping (NFC, width, case), on every backend, and the
/// migration that recomputes the keys of existing users and reports collisions.
@Suite("Store conformance: identifier normalisation")
struct IdentifierNormalisationTests {
    let f = Fixtures()
    static let nfc = "jos\u{E9}@example.com"
    static let nfd = "jose\u{301}@example.com"

    @Test func caseMappingFoldsWhatPeopleCannotTellApart() {
        #expect(PRECIS.caseMappedIdentifier(Self.nfd) == Self.nfc)
        #expect(PRECIS.caseMappedIdentifier("JOS\u{C9}@Example.COM") == Self.nfc)
        #expect(PRECIS.caseMappedIdentifier("\u{FF41}\u{FF44}\u{FF41}@example.com") == "ada@example.com")
        #expect(PRECIS.caseMappedIdentifier("ada@example.com") != PRECIS.caseMappedIdentifier("ada@example.co"))
    }

    @Test(arguments: Backend.enabled)
    func nfcAndNfdSpellingsAreOneUser(_ backend: Backend) async throws {
        try await withFreshStore(backend) { (store: SQLStore) async throws in
            let acme = try await store.tenants.create(f.tenant("acme"))
            let jose = try await store.users.create(f.user(acme, Self.nfc))
            await #expect(throws: StoreError.self) { _ = try await store.users.create(f.user(acme, Self.nfd)) }
            await #expect(throws: StoreError.self) { _ = try await store.users.create(f.user(acme, "JOSE\u{301}@example.com")) }
            #expect(try await store.users.find(tenantID: acme.id, email: Self.nfd)?.id == jose.id)
        }
    }

    @Test(arguments: Backend.enabled)
    func migrationRecomputesKeysAndReportsCollisions(_ backend: Backend) async throws {
        try await withFreshStore(backend) { (store: SQLStore) async throws in
            let acme = try await store.tenants.create(f.tenant("acme"))
            let older = try await store.users.create(f.user(acme, Self.nfc))
            let ada = try await store.users.create(f.user(acme, "ada@example.com"))
            // Rows as the old code wrote them: keys lower-cased only, so these were distinct.
            let later = older.createdAt.addingTimeInterval(60).unixMilliseconds
            let nfdID = "usr_nfd", wideID = "usr_wide"
            try await store.backend.withTransaction { db in
                try await db.raw("UPDATE users SET email_normalized = \(bind: Self.nfc) WHERE id = \(bind: older.id)").run()
                for (id, email) in [(nfdID, Self.nfd), (wideID, "\u{FF41}da@example.com")] {
                    try await db.raw(
                        """
                        INSERT INTO users (id, tenant_id, email, email_normalized, given_name, family_name, status, created_at, updated_at, version, roles)
                        VALUES (\(bind: id), \(bind: acme.id), \(bind: email), \(bind: email.lowercased()), 'J', 'D', 'active',
                                \(bind: later), \(bind: later), 1, '[]')
                        """
                    ).run()
                }
            }
            try await store.backend.withLongTransaction { db in try await IdentifierNormalisation.run(db, now: Date()) }
            // The older accounts keep the address; the newer ones stay, reachable by id, and are reported.
            #expect(try await store.users.find(tenantID: acme.id, email: Self.nfd)?.id == older.id)
            #expect(try await store.users.find(tenantID: acme.id, email: "ADA@example.com")?.id == ada.id)
            #expect(try await store.users.get(tenantID: acme.id, id: nfdID).email == Self.nfd)
            let events = try await store.audit.list(tenantID: acme.id, page: PageRequest(limit: 50)).items
                .filter { $0.action == "user.identifier_collision" }
            #expect(Set(events.compactMap(\.targetID)) == [nfdID, wideID])
            #expect(events.first { $0.targetID == nfdID }?.after?["collides_with"] == older.id)
        }
    }
}
