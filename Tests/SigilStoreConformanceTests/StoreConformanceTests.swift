import Foundation
import SigilCore
import SigilSQLStore
import SigilStore
import SigilTestSupport
import Testing

/// One conformance suite for every backend (the dex pattern): each case gets a fresh store.
@Suite("Store conformance")
struct StoreConformanceTests {
    let f = Fixtures()

    func expectStoreError(
        _ code: StoreError.Code, _ body: () async throws -> Void,
        sourceLocation: SourceLocation = #_sourceLocation
    ) async {
        do {
            try await body()
            Issue.record("expected \(code), nothing was thrown", sourceLocation: sourceLocation)
        } catch let error as StoreError {
            #expect(error.code == code, "got \(error)", sourceLocation: sourceLocation)
        } catch {
            Issue.record("expected StoreError \(code), got \(error)", sourceLocation: sourceLocation)
        }
    }

    @Test(arguments: Backend.enabled)
    func migrationsAreIdempotentAndRecorded(_ backend: Backend) async throws {
        try await withFreshStore(backend) { (store: SQLStore) async throws in
            #expect(try await store.migrate().isEmpty)
            let health = await store.health(deadline: .seconds(60))
            #expect(health.isReady, "\(health)")
            #expect(health.appliedMigrations == health.knownMigrations)
        }
    }

    @Test(arguments: Backend.enabled)
    func tenants(_ backend: Backend) async throws {
        try await withFreshStore(backend) { (store: SQLStore) async throws in
            let acme = try await store.tenants.create(f.tenant("acme", host: "acme.example.com"))
            let beta = try await store.tenants.create(f.tenant("beta"))
            #expect(try await store.tenants.get(id: acme.id) == acme)
            #expect(try await store.tenants.get(slug: "beta") == beta)
            #expect(try await store.tenants.find(host: "ACME.example.com") == acme)
            #expect(try await store.tenants.find(host: "other.example.com") == nil)
            #expect(try await store.tenants.list().map(\.slug).sorted() == ["acme", "beta"])
            await expectStoreError(.alreadyExists) { _ = try await store.tenants.create(f.tenant("acme")) }
            await expectStoreError(.alreadyExists) { _ = try await store.tenants.create(f.tenant("gamma", host: "acme.example.com")) }
            await expectStoreError(.notFound) { _ = try await store.tenants.get(slug: "nope") }
            await expectStoreError(.notFound) { _ = try await store.tenants.get(id: "ten_missing") }
            #expect(try await store.tenants.list().count == 2)
        }
    }

    @Test(arguments: Backend.enabled)
    func usersAreUniqueByEmailCaseInsensitivelyPerTenant(_ backend: Backend) async throws {
        try await withFreshStore(backend) { (store: SQLStore) async throws in
            let acme = try await store.tenants.create(f.tenant("acme"))
            let beta = try await store.tenants.create(f.tenant("beta"))
            let ada = try await store.users.create(f.user(acme, "Ada@Example.com"))
            #expect(try await store.users.get(tenantID: acme.id, id: ada.id) == ada)
            #expect(try await store.users.find(tenantID: acme.id, email: "ada@example.COM")?.id == ada.id)
            await expectStoreError(.alreadyExists) { _ = try await store.users.create(f.user(acme, "ada@example.com")) }
            // Same address in another tenant is another person.
            _ = try await store.users.create(f.user(beta, "ada@example.com"))
            // Another tenant's id reads as not found.
            await expectStoreError(.notFound) { _ = try await store.users.get(tenantID: beta.id, id: ada.id) }
            await expectStoreError(.notFound) { _ = try await store.users.create(f.user(f.tenant("ghost"), "x@example.com")) }
        }
    }

    @Test(arguments: Backend.enabled)
    func userUpdatesCheckVersionsAndStayInTenant(_ backend: Backend) async throws {
        try await withFreshStore(backend) { (store: SQLStore) async throws in
            let acme = try await store.tenants.create(f.tenant("acme"))
            let beta = try await store.tenants.create(f.tenant("beta"))
            let ada = try await store.users.create(f.user(acme, "ada@example.com"))
            let grace = try await store.users.create(f.user(acme, "grace@example.com"))
            let (before, after) = try await store.users.update(tenantID: acme.id, id: ada.id, expectedVersion: 1) { user in
                user.givenName = "Augusta"
                user.status = .disabled
                user.id = "usr_hijack" // ignored: ids are not updatable
            }
            #expect(before == ada)
            #expect(after.givenName == "Augusta" && after.status == .disabled && after.version == 2 && after.id == ada.id)
            #expect(try await store.users.get(tenantID: acme.id, id: ada.id) == after)
            await expectStoreError(.conflict) {
                _ = try await store.users.update(tenantID: acme.id, id: ada.id, expectedVersion: 1) { $0.givenName = "Stale" }
            }
            // Taking another user's address is refused and changes nothing.
            await expectStoreError(.alreadyExists) {
                _ = try await store.users.update(tenantID: acme.id, id: grace.id, expectedVersion: nil) { $0.email = "ADA@example.com" }
            }
            #expect(try await store.users.get(tenantID: acme.id, id: grace.id) == grace)
            await expectStoreError(.notFound) {
                _ = try await store.users.update(tenantID: beta.id, id: ada.id, expectedVersion: nil) { $0.givenName = "X" }
            }
            await expectStoreError(.conflict) { _ = try await store.users.delete(tenantID: acme.id, id: ada.id, expectedVersion: 1) }
            #expect(try await store.users.delete(tenantID: acme.id, id: ada.id, expectedVersion: 2).id == ada.id)
            await expectStoreError(.notFound) { _ = try await store.users.get(tenantID: acme.id, id: ada.id) }
            await expectStoreError(.notFound) { _ = try await store.users.delete(tenantID: acme.id, id: ada.id, expectedVersion: nil) }
        }
    }

    @Test(arguments: Backend.enabled)
    func userPaginationVisitsEveryUserOnce(_ backend: Backend) async throws {
        try await withFreshStore(backend) { (store: SQLStore) async throws in
            let acme = try await store.tenants.create(f.tenant("acme"))
            let other = try await store.tenants.create(f.tenant("other"))
            var created: [String] = []
            for i in 0..<7 {
                f.clock.advance(by: 1)
                created.append(try await store.users.create(f.user(acme, "u\(i)@example.com")).id)
            }
            _ = try await store.users.create(f.user(other, "elsewhere@example.com"))
            var seen: [String] = []
            var cursor: String?
            var pages = 0
            repeat {
                let page = try await store.users.list(tenantID: acme.id, page: PageRequest(limit: 3, after: cursor))
                #expect(page.items.count <= 3)
                seen += page.items.map(\.id)
                cursor = page.nextCursor
                pages += 1
            } while cursor != nil && pages < 10
            #expect(pages == 3)
            #expect(seen == created.sorted())
            #expect(try await store.users.list(tenantID: acme.id, page: PageRequest(limit: 7)).nextCursor == nil)
        }
    }

    @Test(arguments: Backend.enabled)
    func usersAreFoundByPartOfTheirEmailLiterallyAndPerTenant(_ backend: Backend) async throws {
        try await withFreshStore(backend) { (store: SQLStore) async throws in
            let acme = try await store.tenants.create(f.tenant("acme"))
            let other = try await store.tenants.create(f.tenant("other"))
            var grace: [String] = []
            for email in ["Grace.Hopper@Example.com", "grace_h@example.org", "ada@example.com", "g%race@example.net"] {
                f.clock.advance(by: 1)
                let user = try await store.users.create(f.user(acme, email))
                if email.lowercased().contains("grace") { grace.append(user.id) }
            }
            _ = try await store.users.create(f.user(other, "grace@elsewhere.example"))
            let found = try await store.users.search(tenantID: acme.id, emailContaining: "GRACE", page: PageRequest(limit: 10))
            #expect(found.items.map(\.id) == grace.sorted())
            // LIKE's wildcards are matched as themselves.
            #expect(try await store.users.search(tenantID: acme.id, emailContaining: "_", page: PageRequest(limit: 10)).items.count == 1)
            #expect(try await store.users.search(tenantID: acme.id, emailContaining: "%", page: PageRequest(limit: 10)).items.count == 1)
            #expect(try await store.users.search(tenantID: acme.id, emailContaining: "g%r", page: PageRequest(limit: 10)).items.count == 1)
            // Pages, in id order.
            let first = try await store.users.search(tenantID: acme.id, emailContaining: "example", page: PageRequest(limit: 2))
            #expect(first.items.count == 2 && first.nextCursor != nil)
            let second = try await store.users.search(tenantID: acme.id, emailContaining: "example", page: PageRequest(limit: 2, after: first.nextCursor))
            #expect(second.items.count == 2 && second.nextCursor == nil)
        }
    }

    @Test(arguments: Backend.enabled)
    func applicationsRoundTripAndAreUniquePerTenant(_ backend: Backend) async throws {
        try await withFreshStore(backend) { (store: SQLStore) async throws in
            let acme = try await store.tenants.create(f.tenant("acme"))
            let beta = try await store.tenants.create(f.tenant("beta"))
            let oidc = try await store.applications.create(f.oidcApp(acme, clientID: "client-1"))
            let saml = try await store.applications.create(f.samlApp(acme, entityID: "https://www.okta.com/saml2/service-provider/sp1"))
            #expect(try await store.applications.get(tenantID: acme.id, id: oidc.id) == oidc)
            #expect(try await store.applications.get(tenantID: acme.id, id: saml.id) == saml)
            #expect(try await store.applications.find(tenantID: acme.id, clientID: "client-1") == oidc)
            #expect(try await store.applications.find(tenantID: acme.id, entityID: "https://www.okta.com/saml2/service-provider/sp1") == saml)
            #expect(try await store.applications.find(tenantID: beta.id, clientID: "client-1") == nil)
            await expectStoreError(.alreadyExists) { _ = try await store.applications.create(f.oidcApp(acme, clientID: "client-1")) }
            await expectStoreError(.alreadyExists) {
                _ = try await store.applications.create(f.samlApp(acme, entityID: "https://www.okta.com/saml2/service-provider/sp1"))
            }
            _ = try await store.applications.create(f.oidcApp(beta, clientID: "client-1"))
            let (_, renamed) = try await store.applications.update(tenantID: acme.id, id: oidc.id, expectedVersion: 1) { app in
                app.name = "Renamed"
                guard case .oidc(var s) = app.settings else { return }
                s.redirectURIs.append("https://rp.example/cb2")
                app.settings = .oidc(s)
            }
            #expect(try await store.applications.get(tenantID: acme.id, id: oidc.id) == renamed)
            await expectStoreError(.conflict) {
                _ = try await store.applications.update(tenantID: acme.id, id: oidc.id, expectedVersion: nil) { app in
                    app.settings = saml.settings
                }
            }
            let page = try await store.applications.list(tenantID: acme.id, page: PageRequest(limit: 10))
            #expect(Set(page.items.map(\.id)) == [oidc.id, saml.id])
            _ = try await store.applications.delete(tenantID: acme.id, id: saml.id, expectedVersion: nil)
            #expect(try await store.applications.find(tenantID: acme.id, entityID: "https://www.okta.com/saml2/service-provider/sp1") == nil)
        }
    }

    @Test(arguments: Backend.enabled)
    func signingKeys(_ backend: Backend) async throws {
        try await withFreshStore(backend) { (store: SQLStore) async throws in
            let acme = try await store.tenants.create(f.tenant("acme"))
            func key(_ kid: String, _ state: SigningKeyState) -> SigningKeyRecord {
                f.clock.advance(by: 1)
                return SigningKeyRecord(
                    kid: kid, tenantID: acme.id, algorithm: "ES256", state: state, sealedPrivateKey: "v1.sealed",
                    publicJWK: #"{"kty":"EC"}"#, certificatePEM: nil, createdAt: f.clock.now(), updatedAt: f.clock.now())
            }
            let a = try await store.signingKeys.create(key("kid-a", .current))
            _ = try await store.signingKeys.create(key("kid-b", .next))
            await expectStoreError(.alreadyExists) { _ = try await store.signingKeys.create(key("kid-a", .next)) }
            #expect(try await store.signingKeys.list(tenantID: acme.id, forUpdate: false).map(\.kid) == ["kid-a", "kid-b"])
            try await store.signingKeys.setState(tenantID: acme.id, kid: "kid-a", state: .previous, at: f.clock.now())
            let listed = try await store.signingKeys.list(tenantID: acme.id, forUpdate: false)
            #expect(listed.first?.state == .previous)
            #expect(listed.first?.sealedPrivateKey == a.sealedPrivateKey)
            await expectStoreError(.notFound) { try await store.signingKeys.setState(tenantID: acme.id, kid: "nope", state: .retired, at: f.clock.now()) }
        }
    }

    @Test(arguments: Backend.enabled)
    func adminTokens(_ backend: Backend) async throws {
        try await withFreshStore(backend) { (store: SQLStore) async throws in
            let acme = try await store.tenants.create(f.tenant("acme"))
            let global = try await store.adminTokens.create(
                AdminToken(
                    id: f.ids.make(.adminToken), tenantID: nil, name: "ops",
                    tokenHash: tokenHash("t1"), createdAt: f.clock.now()))
            let scoped = try await store.adminTokens.create(
                AdminToken(
                    id: f.ids.make(.adminToken), tenantID: acme.id, name: "acme",
                    tokenHash: tokenHash("t2"), createdAt: f.clock.now()))
            #expect(try await store.adminTokens.find(tokenHash: tokenHash("t1")) == global)
            #expect(try await store.adminTokens.find(tokenHash: tokenHash("t3")) == nil)
            #expect(try await store.adminTokens.list(tenantID: acme.id) == [scoped])
            #expect(try await store.adminTokens.list(tenantID: nil).count == 2)
            try await store.adminTokens.revoke(id: scoped.id, at: f.clock.now())
            #expect(try await store.adminTokens.find(tokenHash: tokenHash("t2"))?.revokedAt == f.clock.now())
            await expectStoreError(.notFound) { try await store.adminTokens.revoke(id: scoped.id, at: f.clock.now()) }
            await expectStoreError(.alreadyExists) {
                _ = try await store.adminTokens.create(
                    AdminToken(
                        id: f.ids.make(.adminToken), tenantID: nil, name: "dup",
                        tokenHash: tokenHash("t1"), createdAt: f.clock.now()))
            }
        }
    }

    @Test(arguments: Backend.enabled)
    func enrolmentTokensAreSingleUseAndExpire(_ backend: Backend) async throws {
        try await withFreshStore(backend) { (store: SQLStore) async throws in
            let acme = try await store.tenants.create(f.tenant("acme"))
            let now = f.clock.now()
            func token(_ raw: String, lifetime: TimeInterval) -> EnrolmentToken {
                EnrolmentToken(
                    id: f.ids.make(.enrolment), tenantID: acme.id, purpose: .firstAdmin, userID: nil,
                    tokenHash: tokenHash(raw), createdAt: now, expiresAt: now.addingTimeInterval(lifetime))
            }
            _ = try await store.enrolmentTokens.create(token("once", lifetime: 600))
            _ = try await store.enrolmentTokens.create(token("short", lifetime: 60))
            #expect(try await store.enrolmentTokens.anyConsumed(tenantID: acme.id, purpose: .firstAdmin) == false)
            let used = try await store.enrolmentTokens.consume(tokenHash: tokenHash("once"), now: now)
            #expect(used.consumedAt == now)
            #expect(try await store.enrolmentTokens.anyConsumed(tenantID: acme.id, purpose: .firstAdmin))
            #expect(try await store.enrolmentTokens.anyConsumed(tenantID: acme.id, purpose: .user) == false)
            await expectStoreError(.notFound) { _ = try await store.enrolmentTokens.consume(tokenHash: tokenHash("once"), now: now) }
            await expectStoreError(.notFound) {
                _ = try await store.enrolmentTokens.consume(tokenHash: tokenHash("short"), now: now.addingTimeInterval(60))
            }
            await expectStoreError(.notFound) { _ = try await store.enrolmentTokens.consume(tokenHash: tokenHash("never"), now: now) }
            // Racing consumers: exactly one wins.
            _ = try await store.enrolmentTokens.create(token("race", lifetime: 600))
            let wins = await withTaskGroup(of: Bool.self) { group in
                for _ in 0..<8 {
                    group.addTask { (try? await store.enrolmentTokens.consume(tokenHash: tokenHash("race"), now: now)) != nil }
                }
                return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(wins == 1)
            #expect(try await store.enrolmentTokens.deleteExpired(now: now.addingTimeInterval(60)) == 1)
        }
    }

    @Test(arguments: Backend.enabled)
    func auditEventsListNewestFirstPerTenant(_ backend: Backend) async throws {
        try await withFreshStore(backend) { (store: SQLStore) async throws in
            let acme = try await store.tenants.create(f.tenant("acme"))
            var ids: [String] = []
            for i in 0..<5 {
                f.clock.advance(by: 1)
                let event = AuditEvent(
                    id: f.ids.make(.auditEvent), tenantID: i == 4 ? nil : acme.id, occurredAt: f.clock.now(),
                    actor: "cli", action: "user.created", targetType: "user", targetID: "usr_\(i)",
                    before: nil, after: ["email": "u\(i)@example.com"])
                try await store.audit.append(event)
                ids.append(event.id)
            }
            let first = try await store.audit.list(tenantID: acme.id, page: PageRequest(limit: 3))
            #expect(first.items.map(\.id) == [ids[3], ids[2], ids[1]])
            #expect(first.items.first?.after == ["email": "u3@example.com"])
            let second = try await store.audit.list(tenantID: acme.id, page: PageRequest(limit: 3, after: first.nextCursor))
            #expect(second.items.map(\.id) == [ids[0]])
            #expect(second.nextCursor == nil)
            #expect(try await store.audit.list(tenantID: nil, page: PageRequest(limit: 10)).items.count == 5)
        }
    }

    struct Boom: Error {}

    @Test(arguments: Backend.enabled)
    func aFailedTransactionLeavesNothing(_ backend: Backend) async throws {
        try await withFreshStore(backend) { (store: SQLStore) async throws in
            let acme = try await store.tenants.create(f.tenant("acme"))
            let user = f.user(acme, "ada@example.com")
            let app = f.oidcApp(acme)
            await #expect(throws: Boom.self) {
                try await store.transaction { tx in
                    _ = try await tx.users.create(user)
                    _ = try await tx.applications.create(app)
                    try await tx.audit.append(AuditEvent(id: "evt_x", tenantID: acme.id, occurredAt: Date(), actor: "cli", action: "x"))
                    throw Boom()
                }
            }
            #expect(try await store.users.find(tenantID: acme.id, email: "ada@example.com") == nil)
            #expect(try await store.applications.find(tenantID: acme.id, clientID: app.clientID!) == nil)
            #expect(try await store.audit.list(tenantID: acme.id, page: PageRequest()).items.isEmpty)
            // A unique violation half-way rolls back the earlier statements too.
            _ = try await store.users.create(f.user(acme, "taken@example.com"))
            let fresh = f.user(acme, "fresh@example.com")
            await expectStoreError(.alreadyExists) {
                try await store.transaction { tx in
                    _ = try await tx.users.create(fresh)
                    _ = try await tx.users.create(f.user(acme, "TAKEN@example.com"))
                }
            }
            #expect(try await store.users.find(tenantID: acme.id, email: "fresh@example.com") == nil)
        }
    }

    @Test(arguments: Backend.enabled)
    func parallelUpdatesLoseNothing(_ backend: Backend) async throws {
        try await withFreshStore(backend) { (store: SQLStore) async throws in
            let acme = try await store.tenants.create(f.tenant("acme"))
            let app = try await store.applications.create(f.oidcApp(acme))
            let writers = 24
            try await withThrowingTaskGroup(of: Void.self) { group in
                for i in 0..<writers {
                    group.addTask {
                        _ = try await store.applications.update(tenantID: acme.id, id: app.id, expectedVersion: nil) { app in
                            guard case .oidc(var s) = app.settings else { return }
                            s.redirectURIs.append("https://rp.example/cb/\(i)")
                            app.settings = .oidc(s)
                        }
                    }
                }
                try await group.waitForAll()
            }
            let final = try await store.applications.get(tenantID: acme.id, id: app.id)
            guard case .oidc(let s) = final.settings else { Issue.record("kind changed"); return }
            #expect(s.redirectURIs.count == writers + 1)
            #expect(Set(s.redirectURIs).count == writers + 1)
            #expect(final.version == writers + 1)
        }
    }
}
