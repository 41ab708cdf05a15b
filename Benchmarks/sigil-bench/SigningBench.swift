import Foundation
import SigilCore
import SigilJOSE

/// Raw signing rates on one core, the baseline `scripts/bench/oidc.sh` divides token endpoint
/// throughput by: `sigil-bench signing [--seconds S]` prints `RS256 <n>` and `ES256 <n>` (signatures
/// per second over a token-sized input, swift-crypto with a key parsed once and reused: the best
/// this library does, so the ratio is honest) and nothing else, so the script can read them.
/// `--reparse` adds `reparsed-RS256 <n>` and `reparsed-ES256 <n>`: the same with the key parsed
/// again for every signature (what the server paid before keys were kept parsed).
func runSigningBench(arguments: [String]) throws {
    let seconds = Double(arguments.firstIndex(of: "--seconds").flatMap { arguments.indices.contains($0 + 1) ? Double(arguments[$0 + 1]) : nil } ?? 3)
    let input = Array(String(repeating: "eyJhbGciOiJSUzI1NiIsImtpZCI6IngiLCJ0eXAiOiJhdCtqd3QifQ.", count: 6).utf8)
    func rate(_ sign: () throws -> Void) rethrows -> Int {
        for _ in 0..<50 { try sign() }
        let clock = ContinuousClock()
        let start = clock.now
        var count = 0
        while clock.now - start < .milliseconds(Int(seconds * 1000)) {
            for _ in 0..<20 { try sign() }
            count += 20
        }
        let elapsed = clock.now - start
        return Int(Double(count) / (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18))
    }
    for algorithm in [SigningAlgorithm.rs256, .es256] {
        let raw = try RawSigner(algorithm)
        print("\(algorithm.rawValue) \(try rate { try raw.sign(input) })")
    }
    if arguments.contains("--reparse") {
        for algorithm in [SigningAlgorithm.rs256, .es256] {
            let der = try SigningKeyMaterial.generate(algorithm).privateKeyDER.value
            print("reparsed-\(algorithm.rawValue) \(try rate { _ = try SigningKeyMaterial(algorithm: algorithm, privateKeyDER: der).sign(input) })")
        }
    }
}
