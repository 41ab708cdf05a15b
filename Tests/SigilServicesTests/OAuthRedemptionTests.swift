import Foundation
import SigilCore
import SigilOAuth
import SigilServices
import SigilStore
import SigilTestSupport
import Testing

/// A code or refresh token is spent in the same commit as what it buys (found by
/// scripts/crash-check.sh's reasoning about SIGKILL between two commits): when the write of the
/// new tokens fails — a crash, a lost database — nothing is spent, so the client's retry gets its
/// tokens instead of tripping reuse detection and losing the grant.
@Suite("OAuth redemptions: spent together with the tokens they buy")
struct OAuthRedemptionTests {
    static let issuer = ServiceHarness.issuer
    static let redirect = "https://rp.example/cb"
    static let verifier = String(repeating: "v", count: 50)

    struct Fixture {
        let client: OAuthService.AuthenticatedClient
        let code: String
    }

    static func fixture(_ h: ServiceHarness, email: String = "ada@example.com") async throws -> Fixture {
        let user = try await h.user(email)
        var new = ApplicationService.NewOIDCClient(name: "RP", redirectURIs: [redirect])
        new.grantTypes = ["authorization_code", "refresh_token"]
        let (app, secret) = try await h.services.applications.createOIDC(tenantID: h.tenant.id, new, by: .cli)
        let (session, _) = try await h.services.sessions.start(tenantID: h.tenant.id, userID: user.id, amr: ["hwk", "user"], acr: "phrh")
        let outcome = try await h.services.oauth.authorize(
            tenantID: h.tenant.id, issuer: issuer,
            parameters: [
                "response_type": "code", "client_id": try #require(app.clientID), "redirect_uri": redirect, "scope": "openid email",
                "state": "s", "nonce": "n", "code_challenge": PKCE.challenge(for: verifier), "code_challenge_method": "S256",
            ], session: (session, user), freshAfter: nil)
        guard case .respond(.redirect(let location)) = outcome else {
            Issue.record("no redirect: \(outcome)")
            throw CancellationError()
        }
        let code = try #require(URLComponents(string: location)?.queryItems?.first { $0.name == "code" }?.value)
        let client = try await h.services.oauth.authenticate(
            tenantID: h.tenant.id, issuer: issuer,
            credentials: .init(basicID: try #require(app.clientID), basicSecret: try #require(secret).value), endpoint: "/oauth2/token")
        return Fixture(client: client, code: code)
    }

    static func exchange(_ h: ServiceHarness, _ f: Fixture) async throws -> OAuthService.TokenResponse {
        try await h.services.oauth.token(
            tenantID: h.tenant.id, issuer: issuer, client: f.client,
            parameters: ["grant_type": "authorization_code", "code": f.code, "redirect_uri": redirect, "code_verifier": verifier])
    }

    static func refresh(_ h: ServiceHarness, _ f: Fixture, _ token: String) async throws -> OAuthService.TokenResponse {
        try await h.services.oauth.token(
            tenantID: h.tenant.id, issuer: issuer, client: f.client, parameters: ["grant_type": "refresh_token", "refresh_token": token])
    }

    @Test(arguments: Backend.enabled) func aFailedIssuanceSpendsNeitherTheCodeNorTheRefreshToken(_ backend: Backend) async throws {
        try await withServices(backend) { h in
            let f = try await Self.fixture(h)
            // The tokens' write fails (what a crash between "spent" and "issued" would leave).
            h.faults.fail(.auditAppend("oauth.token_issued"))
            await #expect(throws: FaultInjectingStore.Injected.self) { try await Self.exchange(h, f) }
            h.faults.heal()
            // The retry gets the tokens: the code was not spent, so it is no reuse.
            let first = try await Self.exchange(h, f)
            #expect(first.refreshToken != nil && first.idToken != nil)
            // The code is one-time from now on (and its reuse revokes the grant, as before).
            await #expect(throws: OAuthError.self) { try await Self.exchange(h, f) }

            let f2 = try await Self.fixture(h, email: "grace@example.com")
            let second = try #require(try await Self.exchange(h, f2).refreshToken)

            // The same for a refresh: a failed rotation leaves the old token usable once.
            h.faults.fail(.auditAppend("oauth.token_issued"))
            await #expect(throws: FaultInjectingStore.Injected.self) { try await Self.refresh(h, f2, second) }
            h.faults.heal()
            let rotated = try await Self.refresh(h, f2, second)
            #expect(rotated.refreshToken != nil && rotated.refreshToken != second)
            // The grant is still active: its new refresh token works, the old one is spent.
            let again = try await Self.refresh(h, f2, try #require(rotated.refreshToken))
            #expect(again.accessToken.isEmpty == false)
            await #expect(throws: OAuthError.self) { try await Self.refresh(h, f2, second) }
        }
    }
}
