import Foundation

/// Runs the checks of one session over its evidence (opened), with an engine, and returns the
/// findings `IDVDecider` decides on. Each engine-dependent step says why it gave nothing
/// (`engine_unavailable`, `no_face_in_selfie`, `mrz_not_found`, …).
public struct IDVChecks: Sendable {
    public let engine: any IDVEngine
    public let threshold: Double

    public init(engine: any IDVEngine, threshold: Double) {
        self.engine = engine
        self.threshold = threshold
    }

    enum Kind: String { case documentFront = "document_front", documentBack = "document_back", chip, selfie, liveness }

    /// `evidence` by kind name (`document_front`, `document_back`, `chip`, `selfie`, `liveness`).
    public func run(
        documentType: String, evidence raw: [String: [UInt8]], cscas: [[UInt8]], liveness challenge: LivenessChallenge?,
        expected: [String: String], livenessReceivedAt: Date? = nil, now: Date
    ) async -> IDVFindings {
        var evidence: [Kind: [UInt8]] = [:]
        for (k, v) in raw { if let kind = Kind(rawValue: k) { evidence[kind] = v } }
        var f = IDVFindings(documentType: documentType, expectedNames: expected)
        var reference: [UInt8]?

        // The chip: passive authentication, its DG1 MRZ, its DG2 portrait.
        if let bytes = evidence[.chip] {
            do {
                let chip = try ChipEvidence.parse(bytes)
                f.chip = PassiveAuthentication.verify(sod: chip.sod, dataGroups: chip.dataGroups, cscas: cscas)
                if let text = chip.mrzText { f.chipMRZ = try? MRZ.parse(text) }
                if f.chipMRZ == nil { f.additionalChecks.append(IDVCheck(name: "chip_mrz", passed: false, reasons: ["chip_dg1_unreadable"])) }
                reference = chip.portrait
            } catch {
                f.additionalChecks.append(IDVCheck(name: "chip_data", passed: false, reasons: [error.reason]))
            }
        }
        // The printed MRZ, read from the document's front (passports, ID cards).
        if documentType != "driving_permit", let front = evidence[.documentFront] {
            do {
                let lines = try await engine.mrzLines(in: front)
                if let mrz = Self.bestMRZ(lines) {
                    f.mrz = mrz
                } else {
                    f.additionalChecks.append(IDVCheck(name: "mrz_read", passed: false, reasons: ["mrz_not_found"]))
                }
            } catch {
                // With a verified chip the printed MRZ is a cross-check only; without one it is the data.
                if f.chip == nil { f.additionalChecks.append(IDVCheck(name: "mrz_read", passed: false, reasons: [error.reason])) }
            }
        }
        // The PDF417 barcode on the back of a North American card.
        if let back = evidence[.documentBack] {
            do {
                if let text = try await engine.pdf417(in: back) {
                    do {
                        let record = try AAMVARecord.parse(text)
                        f.barcode = record
                        // The printed front must say what the barcode says, where it was read.
                        if let front = evidence[.documentFront], let lines = try? await engine.documentText(in: front),
                            let check = FrontText.check(lines: lines, barcode: record)
                        {
                            f.additionalChecks.append(check)
                        }
                    } catch {
                        f.additionalChecks.append(IDVCheck(name: "barcode_read", passed: false, reasons: ["barcode_not_aamva"]))
                    }
                } else {
                    f.additionalChecks.append(IDVCheck(name: "barcode_read", passed: false, reasons: ["barcode_not_found"]))
                }
            } catch {
                f.additionalChecks.append(IDVCheck(name: "barcode_read", passed: false, reasons: [error.reason]))
            }
        }
        if reference == nil { reference = evidence[.documentFront] }

        // Face match: the selfie against the chip portrait (or the document's photo).
        var selfieFace: DetectedFace?
        if let selfie = evidence[.selfie] {
            do {
                let faces = try await engine.faces(in: selfie)
                selfieFace = faces.count == 1 ? faces[0] : nil
                if let reference {
                    let result = FaceComparison.compare(selfie: faces, reference: try await engine.faces(in: reference), threshold: threshold)
                    f.faceMatch = (result.passed, result.distance)
                    f.faceMatchReasons = result.reasons
                    f.portraitTemplate = result.reference?.descriptor
                } else {
                    f.faceMatch = (false, .infinity)
                    f.faceMatchReasons = ["no_reference_portrait"]
                }
            } catch {
                f.faceMatch = (false, .infinity)
                f.faceMatchReasons = [error.reason]
            }
        }
        // Liveness: the recorded frames of the last challenge.
        if let bytes = evidence[.liveness] {
            if let challenge {
                let result = await Self.liveness(bytes, challenge: challenge, selfie: selfieFace, engine: engine, now: livenessReceivedAt ?? now)
                f.liveness = result.passed
                f.livenessReasons = result.reasons
            } else {
                f.liveness = false
                f.livenessReasons = ["no_liveness_challenge"]
            }
        }
        return f
    }

    /// The first reading of the engine's lines that parses as an MRZ (2 or 3 consecutive lines).
    static func bestMRZ(_ lines: [String]) -> MRZ? {
        let cleaned = lines.map { $0.replacingOccurrences(of: " ", with: "") }.filter { [30, 36, 44].contains($0.count) }
        var best: MRZ?
        for size in [3, 2] where cleaned.count >= size {
            for start in 0...(cleaned.count - size) {
                guard let mrz = try? MRZ.parse(cleaned[start..<start + size].joined(separator: "\n")) else { continue }
                if mrz.checksPass { return mrz }
                if best == nil { best = mrz }
            }
        }
        return best
    }

    /// `{"challenge": id, "frames": [{"step": i, "t": ms, "image": base64}]}`.
    static func liveness(_ bytes: [UInt8], challenge: LivenessChallenge, selfie: DetectedFace?, engine: any IDVEngine, now: Date) async
        -> Liveness.Result
    {
        switch await measure(bytes, challenge: challenge, engine: engine) {
        case .failure(let refused): return refused.result
        case .success(let measured): return Liveness.evaluate(challenge, frames: measured, receivedAt: now, selfie: selfie)
        }
    }

    /// Why recorded frames could not be measured (the liveness result that says so).
    public struct Unmeasured: Error, Sendable, Equatable {
        public var result: Liveness.Result
        init(_ reason: String) { result = Liveness.Result(passed: false, reasons: [reason]) }
    }

    /// Parses the recorded frames of `challenge` and has the engine find the faces in each.
    public static func measure(_ bytes: [UInt8], challenge: LivenessChallenge, engine: any IDVEngine) async -> Result<[Liveness.Frame], Unmeasured> {
        guard let object = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any], let frames = object["frames"] as? [[String: Any]],
            object["challenge"] as? String == challenge.id
        else { return .failure(Unmeasured("liveness_frames_malformed")) }
        guard frames.count <= 64 else { return .failure(Unmeasured("liveness_too_many_frames")) }
        var measured: [Liveness.Frame] = []
        for frame in frames {
            guard let step = frame["step"] as? Int, let t = frame["t"] as? Int, let b64 = frame["image"] as? String,
                let image = Data(base64Encoded: b64)
            else { return .failure(Unmeasured("liveness_frames_malformed")) }
            do {
                measured.append(Liveness.Frame(step: step, milliseconds: t, faces: try await engine.faces(in: [UInt8](image))))
            } catch {
                return .failure(Unmeasured(error.reason))
            }
        }
        return .success(measured)
    }
}

extension ChipEvidence.Malformed { public var description: String { reason } }
