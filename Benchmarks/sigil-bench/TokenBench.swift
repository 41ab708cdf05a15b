import Crypto
import Foundation
import SigilCore
import SigilJOSE
import SigilServices
import _CryptoExtras

/// Client-credentials tokens per second in-process (no HTTP): client authentication
/// (`client_secret_basic`), then the token endpoint (an access token signed with the client's
/// algorithm, the grant and its audit row written in one transaction), one at a time. Baseline in
/// the same run, in alternating rounds: raw signatures of a token-sized input with swift-crypto and
/// a key parsed once and reused — the best the server could do with this library.
///
///     swift run -c release sigil-bench token [--seconds 10] [--postgres URL]
func runTokenBench(arguments: [String]) async throws {
    let seconds = BenchStore.option("--seconds", in: arguments).flatMap(Double.init) ?? 10
    let bench = try await BenchStore.open(arguments: arguments)
    let services = bench.services, tenant = bench.tenant
    let issuer = "https://id.example.com"
    let oauth = services.oauth
    let input = Array(String(repeating: "eyJhbGciOiJSUzI1NiIsImtpZCI6IngiLCJ0eXAiOiJhdCtqd3QifQ.", count: 6).utf8)
    print(
        "Client-credentials tokens (\(ProcessInfo.processInfo.activeProcessorCount) cores, \(bench.isPostgres ? "postgresql" : "sqlite"), one at a time, in-process)"
    )
    for algorithm in [SigningAlgorithm.rs256, .es256] {
        var new = ApplicationService.NewOIDCClient(name: "bench-\(algorithm.rawValue)", redirectURIs: ["https://rp.example/cb"])
        new.grantTypes = ["client_credentials"]
        new.idTokenSigningAlg = algorithm.rawValue
        let (app, secret) = try await services.applications.createOIDC(tenantID: tenant.id, new, by: .cli)
        let clientID = app.clientID!, clientSecret = secret!.value
        func token() async throws {
            let client = try await oauth.authenticate(
                tenantID: tenant.id, issuer: issuer, credentials: .init(basicID: clientID, basicSecret: clientSecret), endpoint: "/oauth2/token")
            _ = try await oauth.token(tenantID: tenant.id, issuer: issuer, client: client, parameters: ["grant_type": "client_credentials"])
        }
        let raw = try RawSigner(algorithm)
        for _ in 0..<20 { try await token(); try raw.sign(input) }
        let clock = ContinuousClock()
        var tokenTime = Duration.zero, rawTime = Duration.zero, tokens = 0, signatures = 0
        let end = clock.now + .milliseconds(Int(seconds * 1000))
        while clock.now < end {
            var t = clock.now
            for _ in 0..<10 { try await token() }
            tokenTime += clock.now - t
            tokens += 10
            t = clock.now
            for _ in 0..<10 { try raw.sign(input) }
            rawTime += clock.now - t
            signatures += 10
        }
        func rate(_ n: Int, _ d: Duration) -> Double { Double(n) / (Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18) }
        let tokenRate = rate(tokens, tokenTime), rawRate = rate(signatures, rawTime)
        print(
            String(
                format: "  %@: %8.0f tokens/s   raw signing (reused key) %8.0f /s   ratio %.2f", algorithm.rawValue, tokenRate, rawRate,
                tokenRate / rawRate))
    }
    try await bench.close()
}

/// Raw signing with swift-crypto and a private key parsed once: the baseline every signing
/// benchmark divides by (re-parsing per signature would flatter the server).
struct RawSigner {
    private let body: @Sendable ([UInt8]) throws -> Void

    init(_ algorithm: SigningAlgorithm) throws {
        switch algorithm {
        case .rs256:
            let key = try _RSA.Signing.PrivateKey(keySize: .bits2048)
            body = { _ = try key.signature(for: $0, padding: .insecurePKCS1v1_5) }
        case .es256:
            let key = P256.Signing.PrivateKey()
            body = { _ = try key.signature(for: $0) }
        case .eddsa:
            let key = Curve25519.Signing.PrivateKey()
            body = { _ = try key.signature(for: $0) }
        }
    }

    func sign(_ message: [UInt8]) throws { try body(message) }
}
