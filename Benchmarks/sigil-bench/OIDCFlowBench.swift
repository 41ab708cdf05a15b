import Foundation
import SigilCore
import SigilJOSE
import SigilOAuth
import SigilSQLStore
import SigilServices
import SigilStore

/// Complete authorization-code flows per second (issue 4), without HTTP or a browser: for a
/// signed-in session, `/authorize`'s decision (client and redirect checks, PKCE, the grant and the
/// code stored, audited), then the token endpoint (client_secret_basic, the code consumed, PKCE
/// checked, an RS256 access token and ID token signed, a refresh token stored, audited). Baseline
/// in the same run, in alternating rounds: the two raw RS256 signatures every flow needs, so the
/// ratio says how much of a flow is the signing Sigil cannot avoid.
///
///     swift run -c release sigil-bench oidc-flow [--seconds 10] [--postgres URL]
func runOIDCFlowBench(arguments: [String]) async throws {
    let seconds = BenchStore.option("--seconds", in: arguments).flatMap(Double.init) ?? 10
    let bench = try await BenchStore.open(arguments: arguments)
    let services = bench.services, tenant = bench.tenant, slug = bench.slug
    let issuer = "https://id.example.com"
    let redirect = "https://rp.example/cb"
    let user = try await services.users.create(tenantID: tenant.id, .init(email: "\(slug)@example.com", givenName: "B", familyName: "B"), by: .cli)
    let (app, secret) = try await services.applications.createOIDC(tenantID: tenant.id, .init(name: "bench", redirectURIs: [redirect]), by: .cli)
    let clientID = app.clientID!, clientSecret = secret!.value
    let (session, _) = try await services.sessions.start(tenantID: tenant.id, userID: user.id, amr: ["hwk", "user"], acr: "phrh")
    let verifier = String(repeating: "v", count: 50)
    let parameters = [
        "response_type": "code", "client_id": clientID, "redirect_uri": redirect, "scope": "openid email profile",
        "state": "s", "nonce": "n", "code_challenge": PKCE.challenge(for: verifier), "code_challenge_method": "S256",
    ]
    let oauth = services.oauth

    func flow() async throws {
        guard
            case .respond(.redirect(let location)) = try await oauth.authorize(
                tenantID: tenant.id, issuer: issuer, parameters: parameters, session: (session, user), freshAfter: nil),
            let code = URLComponents(string: location)?.queryItems?.first(where: { $0.name == "code" })?.value
        else {
            throw SigilError(.internalFailure, "authorize did not answer with a code")
        }
        let client = try await oauth.authenticate(
            tenantID: tenant.id, issuer: issuer,
            credentials: .init(basicID: clientID, basicSecret: clientSecret), endpoint: "/oauth2/token")
        let tokens = try await oauth.token(
            tenantID: tenant.id, issuer: issuer, client: client,
            parameters: [
                "grant_type": "authorization_code", "code": code, "redirect_uri": redirect, "code_verifier": verifier,
            ])
        guard tokens.idToken != nil, tokens.refreshToken != nil else { throw SigilError(.internalFailure, "incomplete token response") }
    }

    let key = try RawSigner(.rs256) // swift-crypto, a key parsed once and reused
    let input = Array(String(repeating: "eyJhbGciOiJSUzI1NiIsImtpZCI6IngiLCJ0eXAiOiJhdCtqd3QifQ.", count: 8).utf8)
    for _ in 0..<20 { try await flow(); try key.sign(input) }
    print("Authorization-code flows (\(ProcessInfo.processInfo.activeProcessorCount) cores, \(bench.isPostgres ? "postgresql" : "sqlite"), one at a time)")
    let clock = ContinuousClock()
    var flowTime = Duration.zero, rawTime = Duration.zero, flows = 0, signatures = 0
    let end = clock.now + .milliseconds(Int(seconds * 1000))
    while clock.now < end {
        var t = clock.now
        for _ in 0..<10 { try await flow() }
        flowTime += clock.now - t; flows += 10
        t = clock.now
        for _ in 0..<20 { try key.sign(input) }
        rawTime += clock.now - t; signatures += 20
    }
    func rate(_ n: Int, _ d: Duration) -> Double { Double(n) / (Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18) }
    let flowRate = rate(flows, flowTime), rawRate = rate(signatures, rawTime)
    print(String(format: "  complete code flows       %8.0f /s", flowRate))
    print(String(format: "  raw RS256 signatures      %8.0f /s   (a flow signs two: floor %.0f flows/s)", rawRate, rawRate / 2))
    print(String(format: "  ratio to the signing floor %.2f", flowRate / (rawRate / 2)))
    try await bench.close()
}
