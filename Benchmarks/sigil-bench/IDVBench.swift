import Foundation
import SigilIDV
import SigilServices

/// `sigil-bench idv [--rounds N] [--engine PATH] [--fixtures DIR]`: time per face match and per full
/// decision with the real `sigil-idv-engine`, against baselines measured in the same run:
/// - one face descriptor through `ProcessIDVEngine` (JSON over the pipe, parsing, the actor) against
///   the same request written to a second engine process by hand (the engine's own time plus the
///   pipe): the client's overhead;
/// - a full decision (`IDVChecks.run` over a chip and a selfie, then `IDVDecider.decide`) against the
///   sum of its parts measured alone (two descriptors and one passive authentication): the
///   orchestration's overhead.
/// Needs the engine and ../shared/fixtures (the BSI test passport and the face photos).
func runIDVBench(arguments: [String]) async throws {
    func option(_ name: String) -> String? { arguments.firstIndex(of: name).flatMap { arguments.indices.contains($0 + 1) ? arguments[$0 + 1] : nil } }
    let rounds = option("--rounds").flatMap(Int.init) ?? 15
    let enginePath = option("--engine") ?? ProcessInfo.processInfo.environment["SIGIL_IDV_ENGINE"] ?? "/usr/local/lib/sigil/sigil-idv-engine"
    let fixtures = option("--fixtures") ?? FileManager.default.currentDirectoryPath + "/../shared/fixtures"
    guard FileManager.default.isExecutableFile(atPath: enginePath) else {
        print("idv: no engine at \(enginePath) (sudo scripts/install-idv-engines.sh)")
        return
    }
    func read(_ path: String) throws -> [UInt8] { Array(try Data(contentsOf: URL(fileURLWithPath: fixtures + "/" + path))) }
    let selfie = try read("faces/obama__b.jpg")
    let chip = ChipEvidence(
        sod: try read("passports/bsi2008/EF_SOD.bin"),
        dataGroups: [1: try read("passports/bsi2008/Datagroup1.bin"), 2: try read("passports/bsi2008/Datagroup2.bin")])
    var chipJSON: [String: String] = ["sod": Data(chip.sod).base64EncodedString()]
    for (n, b) in chip.dataGroups { chipJSON["dg\(n)"] = Data(b).base64EncodedString() }
    let chipBytes = Array(try JSONSerialization.data(withJSONObject: chipJSON))
    let portrait = try require(chip.portrait)

    let engine = ProcessIDVEngine(path: enginePath)
    // The baseline's own engine process, driven by hand.
    let raw = Process()
    raw.executableURL = URL(fileURLWithPath: enginePath)
    raw.arguments = ["--serve"]
    let input = Pipe(), output = Pipe()
    raw.standardInput = input
    raw.standardOutput = output
    raw.standardError = FileHandle.nullDevice
    try raw.run()
    defer { raw.terminate() }
    let request = Array(try JSONSerialization.data(withJSONObject: ["op": "face", "image": Data(selfie).base64EncodedString(), "upsample": 1])) + [0x0A]
    var pending: [UInt8] = []
    func rawFace() throws {
        try input.fileHandleForWriting.write(contentsOf: Data(request))
        while !pending.contains(0x0A) { pending += output.fileHandleForReading.availableData }
        pending.removeFirst(pending.firstIndex(of: 0x0A)! + 1)
    }

    let clock = ContinuousClock()
    func median(_ xs: [Duration]) -> Double {
        let s = xs.sorted()
        let d = s[s.count / 2].components
        return Double(d.seconds) * 1000 + Double(d.attoseconds) / 1e15
    }
    var client: [Duration] = [], baseline: [Duration] = [], decision: [Duration] = [], parts: [Duration] = []
    _ = try await engine.faces(in: selfie) // models loaded before timing
    try rawFace()
    let checks = IDVChecks(engine: engine, threshold: 0.6)
    for _ in 0..<rounds {
        // Alternating, so load on the machine hits both sides alike.
        baseline.append(try clock.measure { try rawFace() })
        var start = clock.now
        _ = try await engine.faces(in: selfie)
        client.append(clock.now - start)
        start = clock.now
        let findings = await checks.run(
            documentType: "passport", evidence: ["chip": chipBytes, "selfie": selfie], cscas: [], liveness: nil,
            expected: ["given_name": "Erika", "family_name": "Mustermann"], now: Date())
        _ = IDVDecider.decide(findings, policy: IDVPolicy(requireLiveness: false), now: Date())
        decision.append(clock.now - start)
        start = clock.now
        _ = try await engine.faces(in: selfie)
        _ = try await engine.faces(in: portrait)
        _ = PassiveAuthentication.verify(sod: chip.sod, dataGroups: chip.dataGroups, cscas: [])
        parts.append(clock.now - start)
    }
    let (c, b, d, p) = (median(client), median(baseline), median(decision), median(parts))
    print(String(format: "idv face descriptor: %.1f ms through ProcessIDVEngine, %.1f ms by hand over the pipe: ratio %.2f", c, b, c / b))
    print(String(format: "idv full decision (chip + selfie): %.1f ms, its parts alone %.1f ms: ratio %.2f", d, p, d / p))
    print("(\(rounds) rounds, medians; the engine at \(enginePath))")
}

struct MissingPortrait: Error {}

func require<T>(_ value: T?) throws -> T {
    guard let value else { throw MissingPortrait() }
    return value
}
