import Foundation
import SigilIDV
import SigilServices
import Testing

/// The real `sigil-idv-engine` (docs/idv-engines.md) through `ProcessIDVEngine`, on the fixture
/// photographs and the BSI test passport read in place from ../shared/fixtures. Skipped with a
/// message where the engine or the fixtures are missing; in CI (CI=true) a missing engine fails.
@Suite("The real IDV engine")
struct RealIDVEngineTests {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../../shared/fixtures").standardized

    static var enginePath: String? {
        let candidates = [ProcessInfo.processInfo.environment["SIGIL_IDV_ENGINE"], "/usr/local/lib/sigil/sigil-idv-engine"].compactMap { $0 }
        return candidates.first { !$0.isEmpty && FileManager.default.isExecutableFile(atPath: $0) }
    }

    func setUp() -> (ProcessIDVEngine, URL)? {
        guard let path = Self.enginePath else {
            if ProcessInfo.processInfo.environment["CI"] == "true" {
                Issue.record("sigil-idv-engine is not installed in CI (scripts/install-idv-engines.sh)")
            } else {
                print("skipped: sigil-idv-engine is not installed (sudo scripts/install-idv-engines.sh)")
            }
            return nil
        }
        guard FileManager.default.fileExists(atPath: Self.fixtures.appendingPathComponent("faces").path) else {
            print("skipped: ../shared/fixtures is absent (the real engine's photo cases)")
            return nil
        }
        return (ProcessIDVEngine(path: path), Self.fixtures)
    }

    func bytes(_ base: URL, _ path: String) throws -> [UInt8] { Array(try Data(contentsOf: base.appendingPathComponent(path))) }

    @Test func facesMatchThePersonAndNotAnother() async throws {
        guard let (engine, base) = setUp() else { return }
        #expect(await engine.capabilities().face)
        let a = try await engine.faces(in: try bytes(base, "faces/obama__a.jpg"))
        let b = try await engine.faces(in: try bytes(base, "faces/obama__b.jpg"))
        let other = try await engine.faces(in: try bytes(base, "faces/biden__a.jpg"))
        #expect(a.count == 1 && b.count == 1 && other.count == 1)
        #expect(a.first?.descriptor.count == 128)
        let same = FaceComparison.compare(selfie: b, reference: a, threshold: IDVSettings.defaultThreshold)
        let different = FaceComparison.compare(selfie: other, reference: a, threshold: IDVSettings.defaultThreshold)
        #expect(same.passed, "distance \(same.distance)")
        #expect(!different.passed && different.reasons == ["face_mismatch"], "distance \(different.distance)")
        // Two people in one selfie are refused.
        let two = try await engine.faces(in: try bytes(base, "faces/multi_two_people.jpg"))
        #expect(FaceComparison.compare(selfie: two, reference: a, threshold: 0.6).reasons == ["multiple_faces_in_selfie"])
        // The quality check: a sharp portrait needs no retake; the same photo shrunk would be too small.
        #expect(try await engine.quality(of: try bytes(base, "faces/obama__a.jpg"), kind: "selfie").isEmpty)
        #expect(try await engine.quality(of: try bytes(base, "faces/obama__c.jpg"), kind: "selfie") == ["too_small"])
        // Not an image: the engine's own reason.
        await #expect(throws: IDVEngineError.self) { _ = try await engine.faces(in: [0xFF, 0xD8, 0xFF, 0x00, 0x01]) }
    }

    @Test func theBSIPassportPortraitIsAFace() async throws {
        guard let (engine, base) = setUp() else { return }
        let dg2 = try bytes(base, "passports/bsi2008/Datagroup2.bin")
        let chip = ChipEvidence(sod: [0x77, 0x00], dataGroups: [1: [], 2: dg2])
        let portrait = try #require(chip.portrait)
        #expect(try await engine.faces(in: portrait).count == 1)
    }
}
