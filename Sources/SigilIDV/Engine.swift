import Foundation

/// What an IDV engine found in one image: faces with their descriptors and landmark metrics.
public struct DetectedFace: Sendable, Equatable, Codable {
    /// left, top, right, bottom in pixels.
    public var box: [Int]
    /// The 128-dimension descriptor (dlib's ResNet): faces of one person lie within about 0.6.
    public var descriptor: [Double]
    /// The eye aspect ratios (open ≈ 0.2–0.4 depending on the person; a blink falls well below the person's own).
    public var eyeAspectRatio: Double?
    /// Head pose in degrees, estimated from landmarks (docs/idv-engines.md gives the conventions).
    public var yaw: Double?
    public var pitch: Double?
    public var roll: Double?

    public init(box: [Int], descriptor: [Double], eyeAspectRatio: Double? = nil, yaw: Double? = nil, pitch: Double? = nil, roll: Double? = nil) {
        self.box = box; self.descriptor = descriptor; self.eyeAspectRatio = eyeAspectRatio; self.yaw = yaw; self.pitch = pitch; self.roll = roll
    }

    public var area: Int { box.count == 4 ? max(0, box[2] - box[0]) * max(0, box[3] - box[1]) : 0 }

    /// Euclidean distance between two descriptors (∞ when they cannot be compared).
    public func distance(to other: DetectedFace) -> Double {
        guard descriptor.count == other.descriptor.count, !descriptor.isEmpty else { return .infinity }
        return zip(descriptor, other.descriptor).reduce(0) { $0 + ($1.0 - $1.1) * ($1.0 - $1.1) }.squareRoot()
    }
}

/// Why an engine call gave no answer. `unavailable` becomes the check reason `engine_unavailable`.
public enum IDVEngineError: Error, Sendable, Equatable {
    case unavailable(String)
    /// The image could not be read (`image_unreadable`, `image_too_large`).
    case image(String)
    case failed(String)

    public var reason: String {
        switch self {
        case .unavailable: "engine_unavailable"
        case .image(let r): r
        case .failed: "engine_failed"
        }
    }
}

public struct IDVEngineCapabilities: Sendable, Equatable {
    public var face: Bool
    public var pdf417: Bool
    public var mrz: Bool
    /// The image-quality check (retake advice).
    public var quality: Bool
    /// The printed text of a document's front (OCR).
    public var text: Bool
    public init(face: Bool, pdf417: Bool, mrz: Bool, quality: Bool = false, text: Bool = false) {
        self.face = face; self.pdf417 = pdf417; self.mrz = mrz; self.quality = quality; self.text = text
    }
    public static let none = IDVEngineCapabilities(face: false, pdf417: false, mrz: false)
}

/// The image engines (DESIGN §5): face descriptors and landmarks, PDF417, MRZ text. The real one
/// is the `sigil-idv-engine` executable (docs/idv-engines.md); a deployment without it gets
/// `UnavailableIDVEngine`, and every check that needs it reports `engine_unavailable`.
public protocol IDVEngine: Sendable {
    func capabilities() async -> IDVEngineCapabilities
    /// Faces in the image, largest first.
    func faces(in image: [UInt8]) async throws(IDVEngineError) -> [DetectedFace]
    /// The PDF417 barcode's text, nil when none was found.
    func pdf417(in image: [UInt8]) async throws(IDVEngineError) -> String?
    /// Lines that look like an MRZ, as read (field-aware decoding is `MRZ.parse`'s).
    func mrzLines(in image: [UInt8]) async throws(IDVEngineError) -> [String]
    /// Retake advice for a capture (`blurry`, `glare`, `too_dark`, `too_small`); `kind` is
    /// `document` or `selfie`.
    func quality(of image: [UInt8], kind: String) async throws(IDVEngineError) -> [String]
    /// The printed text of a document's front, as lines top to bottom.
    func documentText(in image: [UInt8]) async throws(IDVEngineError) -> [String]
}

extension IDVEngine {
    public func quality(of image: [UInt8], kind: String) async throws(IDVEngineError) -> [String] { throw .unavailable("no quality check") }
    public func documentText(in image: [UInt8]) async throws(IDVEngineError) -> [String] { throw .unavailable("no text reader") }
}

public struct UnavailableIDVEngine: IDVEngine {
    public let why: String
    public init(why: String = "no IDV engine is installed (sudo scripts/install-idv-engines.sh)") { self.why = why }
    public func capabilities() async -> IDVEngineCapabilities { .none }
    public func faces(in image: [UInt8]) async throws(IDVEngineError) -> [DetectedFace] { throw .unavailable(why) }
    public func pdf417(in image: [UInt8]) async throws(IDVEngineError) -> String? { throw .unavailable(why) }
    public func mrzLines(in image: [UInt8]) async throws(IDVEngineError) -> [String] { throw .unavailable(why) }
}

/// A tenant's IDV settings: the decision policy plus the numbers around it (stored per tenant,
/// edited through the admin API's `/idv/policy`).
public struct IDVSettings: Codable, Sendable, Equatable {
    public var policy: IDVPolicy
    /// A selfie matches the reference portrait when the descriptors are at most this far apart.
    public var faceMatchThreshold: Double
    /// Evidence (images, chip data) and verified identities are deleted this long after the decision.
    public var retentionDays: Int

    public init(policy: IDVPolicy = IDVPolicy(), faceMatchThreshold: Double = 0.6, retentionDays: Int = 30) {
        self.policy = policy; self.faceMatchThreshold = faceMatchThreshold; self.retentionDays = retentionDays
    }

    public static let defaultThreshold = 0.6
}

/// The chip's files as the capture page or the app send them: `{"dg1": b64url, "dg2": b64url, "sod": b64url}`
/// (any `dgN` may be present; EF.SOD is required).
public struct ChipEvidence: Sendable, Equatable {
    public var sod: [UInt8]
    public var dataGroups: [Int: [UInt8]]

    public init(sod: [UInt8], dataGroups: [Int: [UInt8]]) { self.sod = sod; self.dataGroups = dataGroups }

    public struct Malformed: Error, Sendable, Equatable { public var reason: String }

    public static func parse(_ json: [UInt8]) throws(Malformed) -> ChipEvidence {
        guard let object = try? JSONSerialization.jsonObject(with: Data(json)) as? [String: Any] else { throw Malformed(reason: "chip_evidence_not_json") }
        func bytes(_ v: Any) -> [UInt8]? {
            guard let s = v as? String else { return nil }
            var t = s.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
            t = t.trimmingCharacters(in: CharacterSet(charactersIn: "="))
            t += String(repeating: "=", count: (4 - t.count % 4) % 4)
            return Data(base64Encoded: t).map { [UInt8]($0) }
        }
        guard let sodValue = object["sod"], let sod = bytes(sodValue), !sod.isEmpty else { throw Malformed(reason: "chip_sod_missing") }
        var groups: [Int: [UInt8]] = [:]
        for (key, value) in object where key.hasPrefix("dg") {
            guard let n = Int(key.dropFirst(2)), (1...16).contains(n), let data = bytes(value), !data.isEmpty else {
                throw Malformed(reason: "chip_data_group_malformed")
            }
            groups[n] = data
        }
        guard groups[1] != nil else { throw Malformed(reason: "chip_dg1_missing") }
        return ChipEvidence(sod: sod, dataGroups: groups)
    }

    /// DG1's MRZ text (tag 0x61 → 0x5F1F), nil when DG1 is not that shape.
    public var mrzText: String? {
        guard let dg1 = dataGroups[1], let inner = TLV.value(of: [0x61], in: dg1), let mrz = TLV.value(of: [0x5F, 0x1F], in: inner) else { return nil }
        let text = String(decoding: mrz, as: UTF8.self)
        switch text.count {
        case 90: return stride(from: 0, to: 90, by: 30).map { String(Array(text)[$0..<$0 + 30]) }.joined(separator: "\n")
        case 72: return stride(from: 0, to: 72, by: 36).map { String(Array(text)[$0..<$0 + 36]) }.joined(separator: "\n")
        case 88: return stride(from: 0, to: 88, by: 44).map { String(Array(text)[$0..<$0 + 44]) }.joined(separator: "\n")
        default: return nil
        }
    }

    /// The portrait in DG2: the first JPEG or JPEG 2000 image inside its biometric data block,
    /// found by its signature (ISO/IEC 19794-5 headers vary between issuers).
    public var portrait: [UInt8]? { dataGroups[2].flatMap(Self.embeddedImage) }

    static func embeddedImage(_ data: [UInt8]) -> [UInt8]? {
        let signatures: [[UInt8]] = [
            [0x00, 0x00, 0x00, 0x0C, 0x6A, 0x50, 0x20, 0x20, 0x0D, 0x0A, 0x87, 0x0A], // JP2
            [0xFF, 0x4F, 0xFF, 0x51], // J2K codestream
            [0xFF, 0xD8, 0xFF], // JPEG
        ]
        var best: Int?
        for signature in signatures where data.count >= signature.count {
            for i in 0...(data.count - signature.count) where data[i] == signature[0] && Array(data[i..<i + signature.count]) == signature {
                best = min(best ?? i, i)
                break
            }
        }
        return best.map { Array(data[$0...]) }
    }
}

/// Minimal BER-TLV reading for the LDS files (ICAO 9303 part 10): EF.SOD's wrapper, DG1, DG2.
enum TLV {
    /// The element starting at `start`: its tag bytes, its value's range, and where it ends.
    static func element(in data: [UInt8], at start: Int = 0) -> (tag: [UInt8], value: Range<Int>, end: Int)? {
        var i = start
        guard i < data.count else { return nil }
        var tag = [data[i]]
        i += 1
        if tag[0] & 0x1F == 0x1F {
            while i < data.count {
                tag.append(data[i])
                i += 1
                if tag.last! & 0x80 == 0 { break }
            }
        }
        guard i < data.count else { return nil }
        var length = Int(data[i])
        i += 1
        if length & 0x80 != 0 {
            let n = length & 0x7F
            guard (1...3).contains(n), i + n <= data.count else { return nil }
            length = data[i..<i + n].reduce(0) { $0 << 8 | Int($1) }
            i += n
        }
        guard i + length <= data.count else { return nil }
        return (tag, i..<i + length, i + length)
    }

    /// The value of the first element with `tag` at the top level of `data`.
    static func value(of tag: [UInt8], in data: [UInt8]) -> [UInt8]? {
        var i = 0
        while let e = element(in: data, at: i) {
            if e.tag == tag { return Array(data[e.value]) }
            i = e.end
        }
        return nil
    }
}

/// Face comparison of a selfie against a reference portrait.
public enum FaceComparison {
    public struct Result: Sendable, Equatable {
        public var passed: Bool
        public var distance: Double
        public var reasons: [String]
        /// The reference's face the selfie was compared with (its descriptor is the portrait's template).
        public var reference: DetectedFace? = nil
    }

    /// Exactly one face in the selfie (two people in frame is refused: whose face is it?), the
    /// largest face of the reference, and their distance against `threshold`.
    public static func compare(selfie: [DetectedFace], reference: [DetectedFace], threshold: Double) -> Result {
        guard let face = selfie.first else { return Result(passed: false, distance: .infinity, reasons: ["no_face_in_selfie"]) }
        guard selfie.count == 1 else { return Result(passed: false, distance: .infinity, reasons: ["multiple_faces_in_selfie"]) }
        guard let portrait = reference.max(by: { $0.area < $1.area }) else {
            return Result(passed: false, distance: .infinity, reasons: ["no_face_in_document"])
        }
        let d = face.distance(to: portrait)
        return Result(passed: d <= threshold, distance: d, reasons: d <= threshold ? [] : ["face_mismatch"], reference: portrait)
    }
}
