import Foundation
import SigilCore
import SigilJOSE

/// Raw signing rates on one core, the baseline `scripts/bench/oidc.sh` divides token endpoint
/// throughput by: `sigil-bench signing [--seconds S]` prints `RS256 <n>` and `ES256 <n>` (signatures
/// per second over a token-sized input, swift-crypto with a key parsed once and reused: the best
/// this library does, so the ratio is honest) and nothing else, so the script can read them.
/// `RS256` is the faster of the two libraries Sigil can sign RS256 with, each with its key parsed
/// once: swift-crypto's BoringSSL and the system's OpenSSL 3 (`RSASignerLibrary`); the lines
/// `RS256-boringssl <n>` and `RS256-openssl <n>` give both, measured in alternating rounds.
/// `--reparse` adds `reparsed-RS256 <n>` and `reparsed-ES256 <n>`: the same with the key parsed
/// again for every signature (what the server paid before keys were kept parsed).
func runSigningBench(arguments: [String]) throws {
    let seconds = Double(arguments.firstIndex(of: "--seconds").flatMap { arguments.indices.contains($0 + 1) ? Double(arguments[$0 + 1]) : nil } ?? 3)
    let input = Array(String(repeating: "eyJhbGciOiJSUzI1NiIsImtpZCI6IngiLCJ0eXAiOiJhdCtqd3QifQ.", count: 6).utf8)
    func rate(_ sign: () throws -> Void) rethrows -> Int { Int(try operationsPerSecond(seconds: seconds, sign)) }
    let boring = try RawSigner(.rs256)
    guard let openSSL = try SigningKeyMaterial.generate(.rs256).signingWithOpenSSL() else {
        throw SigilError(.internalFailure, "libcrypto cannot read an RSA key")
    }
    var boringRates: [Int] = []
    var openSSLRates: [Int] = []
    for _ in 0..<3 {
        boringRates.append(try rate { try boring.sign(input) })
        openSSLRates.append(try rate { _ = try openSSL.sign(input) })
    }
    let boringRate = boringRates.sorted()[1]
    let openSSLRate = openSSLRates.sorted()[1]
    print("RS256 \(max(boringRate, openSSLRate))")
    let es = try RawSigner(.es256)
    print("ES256 \(try rate { try es.sign(input) })")
    print("RS256-boringssl \(boringRate)")
    print("RS256-openssl \(openSSLRate)")
    if arguments.contains("--reparse") {
        for algorithm in [SigningAlgorithm.rs256, .es256] {
            let der = try SigningKeyMaterial.generate(algorithm).privateKeyDER.value
            print("reparsed-\(algorithm.rawValue) \(try rate { _ = try SigningKeyMaterial(algorithm: algorithm, privateKeyDER: der).sign(input) })")
        }
    }
}

/// Calls of `body` per second over `seconds` of wall time, after 50 unmeasured calls, counted in
/// batches of 20 so the clock is not read between every call.
func operationsPerSecond(seconds: Double, _ body: () throws -> Void) rethrows -> Double {
    for _ in 0..<50 { try body() }
    let clock = ContinuousClock()
    let start = clock.now
    var count = 0
    while clock.now - start < .milliseconds(Int(seconds * 1000)) {
        for _ in 0..<20 { try body() }
        count += 20
    }
    let elapsed = clock.now - start
    return Double(count) / (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
}
