import Foundation
import SigilCore
import SigilJOSE

/// Raw signing rates on one core, the baseline `scripts/bench/oidc.sh` divides token endpoint
/// throughput by: `sigil-bench signing [--seconds S]` prints `RS256 <n>` and `ES256 <n>` (signatures
/// per second over a token-sized input) and nothing else, so the script can read them.
func runSigningBench(arguments: [String]) throws {
    let seconds = Double(arguments.firstIndex(of: "--seconds").flatMap { arguments.indices.contains($0 + 1) ? Double(arguments[$0 + 1]) : nil } ?? 3)
    let input = Array(String(repeating: "eyJhbGciOiJSUzI1NiIsImtpZCI6IngiLCJ0eXAiOiJhdCtqd3QifQ.", count: 6).utf8)
    for algorithm in [SigningAlgorithm.rs256, .es256] {
        let key = try SigningKeyMaterial.generate(algorithm)
        for _ in 0..<50 { _ = try key.sign(input) }
        let clock = ContinuousClock()
        let start = clock.now
        var count = 0
        while clock.now - start < .milliseconds(Int(seconds * 1000)) {
            for _ in 0..<20 { _ = try key.sign(input) }
            count += 20
        }
        let elapsed = clock.now - start
        let perSecond = Double(count) / (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
        print("\(algorithm.rawValue) \(Int(perSecond))")
    }
}
