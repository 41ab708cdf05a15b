import Foundation
import SigilCore
import SigilSQLStore
import SigilStore
import SigilTestSupport
import Testing

/// Conformance for the OAuth aggregate: grants, one-time codes, rotating refresh tokens, PAR
/// requests, client assertion ids, expiry.
@Suite("Store conformance: oauth")
struct OAuthStoreConformanceTests {
    let f = Fixtures()

    func grant(_ tenant: Tenant, _ user: User?, session: String? = nil, lifetime: TimeInterval = 3600) -> OAuthGrant {
        OAuthGrant(
            id: f.ids.make(.oauthGrant), tenantID: tenant.id, clientID: "c1", userID: user?.id, sessionID: session,
            scopes: ["openid", "email"], claims: #"{"userinfo":{"email":null}}"#, createdAt: f.clock.now(),
            expiresAt: f.clock.now().addingTimeInterval(lifetime))
    }

    @Test(arguments: Backend.enabled)
    func codesAreConsumedOnceAndGrantsRevokeOnce(_ backend: Backend) async throws {
        try await withFreshStore(backend) { (store: SQLStore) async throws in
            let acme = try await store.tenants.create(f.tenant("acme"))
            let ada = try await store.users.create(f.user(acme, "ada@example.com"))
            let g = try await store.oauth.createGrant(grant(acme, ada, session: "ses_1"))
            #expect(try await store.oauth.grant(tenantID: acme.id, id: g.id) == g)
            let now = f.clock.now()
            let code = AuthorizationCodeRecord(
                codeHash: tokenHash("code-1"), tenantID: acme.id, clientID: "c1", grantID: g.id, userID: ada.id,
                request: "{}", createdAt: now, expiresAt: now.addingTimeInterval(60))
            try await store.oauth.createCode(code)
            await #expect(throws: StoreError.self) { try await store.oauth.createCode(code) }
            let first = try await store.oauth.consumeCode(codeHash: tokenHash("code-1"), at: now)
            #expect(first == code && first?.consumedAt == nil)
            let second = try await store.oauth.consumeCode(codeHash: tokenHash("code-1"), at: now.addingTimeInterval(1))
            #expect(second?.consumedAt != nil)
            #expect(try await store.oauth.consumeCode(codeHash: tokenHash("nope"), at: now) == nil)
            #expect(try await store.oauth.revokeGrant(tenantID: acme.id, id: g.id, at: now))
            #expect(!(try await store.oauth.revokeGrant(tenantID: acme.id, id: g.id, at: now)))
            #expect(try await store.oauth.grant(tenantID: acme.id, id: g.id)?.isActive(at: now) == false)
            // Sign-out revokes by session.
            _ = try await store.oauth.createGrant(grant(acme, ada, session: "ses_2"))
            _ = try await store.oauth.createGrant(grant(acme, ada, session: "ses_2"))
            #expect(try await store.oauth.revokeGrants(tenantID: acme.id, sessionID: "ses_2", at: now) == 2)
            // A failed transaction leaves nothing behind.
            let orphan = grant(acme, ada)
            await #expect(throws: StoreError.self) {
                try await store.transaction { tx in
                    _ = try await tx.oauth.createGrant(orphan)
                    try await tx.oauth.createCode(code) // duplicate: fails
                }
            }
            #expect(try await store.oauth.grant(tenantID: acme.id, id: orphan.id) == nil)
        }
    }

    @Test(arguments: Backend.enabled)
    func refreshTokensAreUsedOnce(_ backend: Backend) async throws {
        try await withFreshStore(backend) { (store: SQLStore) async throws in
            let acme = try await store.tenants.create(f.tenant("acme"))
            let ada = try await store.users.create(f.user(acme, "ada@example.com"))
            let g = try await store.oauth.createGrant(grant(acme, ada))
            let now = f.clock.now()
            let token = RefreshTokenRecord(
                tokenHash: tokenHash("rt-1"), tenantID: acme.id, clientID: "c1", grantID: g.id, userID: ada.id,
                scopes: ["openid"], data: "{}", createdAt: now, expiresAt: now.addingTimeInterval(3600))
            try await store.oauth.createRefreshToken(token)
            #expect(try await store.oauth.findRefreshToken(tokenHash: tokenHash("rt-1")) == token)
            #expect(try await store.oauth.useRefreshToken(tokenHash: tokenHash("rt-1"), at: now)?.usedAt == nil)
            #expect(try await store.oauth.useRefreshToken(tokenHash: tokenHash("rt-1"), at: now)?.usedAt != nil)
            #expect(try await store.oauth.useRefreshToken(tokenHash: tokenHash("rt-2"), at: now) == nil)
        }
    }

    @Test(arguments: Backend.enabled)
    func pushedRequestsAreClaimedAndConsumedOnce(_ backend: Backend) async throws {
        try await withFreshStore(backend) { (store: SQLStore) async throws in
            let acme = try await store.tenants.create(f.tenant("acme"))
            let now = f.clock.now()
            let par = PushedAuthorizationRequestRecord(
                requestURIHash: tokenHash("ref-1"), tenantID: acme.id, clientID: "c1",
                parameters: ["scope": "openid", "claims": #"{"id_token":{}}"#], createdAt: now,
                expiresAt: now.addingTimeInterval(60))
            try await store.oauth.createPushedRequest(par)
            #expect(try await store.oauth.findPushedRequest(requestURIHash: tokenHash("ref-1")) == par)
            #expect(try await store.oauth.claimPushedRequest(requestURIHash: par.requestURIHash, at: now, expiresAt: now.addingTimeInterval(600)))
            #expect(!(try await store.oauth.claimPushedRequest(requestURIHash: par.requestURIHash, at: now, expiresAt: now.addingTimeInterval(600))))
            #expect(try await store.oauth.findPushedRequest(requestURIHash: par.requestURIHash)?.expiresAt == now.addingTimeInterval(600))
            #expect(try await store.oauth.consumePushedRequest(requestURIHash: par.requestURIHash, at: now.addingTimeInterval(300)))
            #expect(!(try await store.oauth.consumePushedRequest(requestURIHash: par.requestURIHash, at: now.addingTimeInterval(301))))
            // An expired request cannot be consumed.
            var late = par
            late.requestURIHash = tokenHash("ref-2")
            try await store.oauth.createPushedRequest(late)
            #expect(!(try await store.oauth.consumePushedRequest(requestURIHash: late.requestURIHash, at: now.addingTimeInterval(61))))
        }
    }

    @Test(arguments: Backend.enabled)
    func assertionIDsAreSingleUseAndEverythingExpires(_ backend: Backend) async throws {
        try await withFreshStore(backend) { (store: SQLStore) async throws in
            let acme = try await store.tenants.create(f.tenant("acme"))
            let ada = try await store.users.create(f.user(acme, "ada@example.com"))
            let now = f.clock.now()
            try await store.oauth.recordAssertionID(tenantID: acme.id, clientID: "c1", jti: "j1", expiresAt: now.addingTimeInterval(60))
            await #expect(throws: StoreError.self) {
                try await store.oauth.recordAssertionID(tenantID: acme.id, clientID: "c1", jti: "j1", expiresAt: now.addingTimeInterval(60))
            }
            try await store.oauth.recordAssertionID(tenantID: acme.id, clientID: "c2", jti: "j1", expiresAt: now.addingTimeInterval(60))
            let g = try await store.oauth.createGrant(grant(acme, ada, lifetime: 120))
            try await store.oauth.createCode(
                AuthorizationCodeRecord(
                    codeHash: tokenHash("c"), tenantID: acme.id, clientID: "c1", grantID: g.id,
                    userID: ada.id, request: "{}", createdAt: now, expiresAt: now.addingTimeInterval(60)))
            #expect(try await store.oauth.deleteExpired(now: now) == 0)
            #expect(try await store.oauth.deleteExpired(now: now.addingTimeInterval(61)) == 3)
            #expect(try await store.oauth.deleteExpired(now: now.addingTimeInterval(121)) == 1)
            #expect(try await store.oauth.grant(tenantID: acme.id, id: g.id) == nil)
        }
    }
}
