import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SigilAuthenticatorProtocol
import SigilCore
import SigilIDV
import SigilOAuth
import SigilServices
import SigilStore
import Testing

/// An engine whose faces are keyed by the image: byte 3 is the pose (0x10 neutral, 0x11 turned
/// left, 0x12 turned right, 0x13 eyes closed), byte 4 the person (0 the verified one, 1 another).
struct PosedFaceEngine: IDVEngine {
    static let person = [Double](repeating: 0.1, count: 128)
    static let samePerson = person.enumerated().map { $0.offset % 2 == 0 ? $0.element + 0.02 : $0.element }
    static let otherPerson = [Double](repeating: 0.3, count: 128)

    static func image(_ pose: UInt8, other: Bool = false) -> [UInt8] { [0xFF, 0xD8, 0xFF, pose, other ? 1 : 0] }

    func capabilities() async -> IDVEngineCapabilities { IDVEngineCapabilities(face: true, pdf417: false, mrz: false) }
    func faces(in image: [UInt8]) async throws(IDVEngineError) -> [DetectedFace] {
        guard image.count >= 5 else { throw .image("image_unreadable") }
        let d = image[4] == 1 ? Self.otherPerson : Self.samePerson
        func face(eye: Double = 0.3, yaw: Double = 0) -> [DetectedFace] {
            [DetectedFace(box: [0, 0, 100, 100], descriptor: d, eyeAspectRatio: eye, yaw: yaw)]
        }
        switch image[3] {
        case 0x10: return face()
        case 0x11: return face(yaw: 25)
        case 0x12: return face(yaw: -25)
        case 0x13: return face(eye: 0.08)
        default: return []
        }
    }
    func pdf417(in image: [UInt8]) async throws(IDVEngineError) -> String? { nil }
    func mrzLines(in image: [UInt8]) async throws(IDVEngineError) -> [String] { [] }
}

/// The LiveID step-up's live face re-match: a user whose identity was verified with a portrait
/// must match it on their phone (an active liveness challenge) before the approval counts.
/// The real engine, sigil-authenticator and rendered frames run in scripts/interop-connectors.sh.
@Suite struct FaceRematchTests {
    typealias Phone = AuthenticatorRoutesTests.Phone
    let steps = ConnectorStepUpTests()

    /// Gives `user` a VERIFIED identity whose portrait template is `PosedFaceEngine.person`.
    func verify(_ h: Harness, _ user: User, process: String = "idv_verified1") async throws -> String {
        let tenant = try await h.defaultTenant()
        var identity = VerifiedIdentity(
            status: .verified, assuranceLevel: "ial2", time: Date(), process: process, claims: [:], document: nil)
        identity.portraitTemplate = PosedFaceEngine.person
        let id = h.services.context.ids.make(.idvSubject)
        let sealed = try h.services.context.masterKey.seal(
            Array(try JSONEncoder().encode(identity)), context: IDVService.identityContext(tenantID: tenant.id, reference: id))
        try await h.store.idv.saveSubject(
            IDVSubject(
                tenantID: tenant.id, id: id, clientID: nil, externalKeyHash: nil, userID: user.id, sealedIdentity: sealed, status: "VERIFIED",
                verifiedAt: Date(), identityExpiresAt: Date().addingTimeInterval(86_400), createdAt: Date()))
        return id
    }

    func post(_ h: Harness, _ phone: Phone, _ path: String, _ body: [UInt8]) async throws -> TestResponse {
        try await h.request(.post, path, json: String(decoding: body, as: UTF8.self), headers: try phone.headers("POST", path, body: body))
    }

    func challenge(_ h: Harness, _ phone: Phone, _ tx: String) async throws -> VerificationLiveness {
        let r = try await post(h, phone, "/authenticator/v1/transactions/\(tx)/face/challenge", Array("{}".utf8))
        #expect(r.status == .ok, "\(r.text)")
        return try #require(try Wire.decode(FaceRematchAnswer.self, from: Array(r.text.utf8)).liveness)
    }

    /// Frames performing `c` by the verified person (or another), as the app records them.
    func frames(_ c: VerificationLiveness, other: Bool = false) throws -> [UInt8] {
        var frames: [[String: Any]] = []
        let slot = Int(c.stepSeconds * 1000)
        for (i, step) in c.steps.enumerated() {
            let pose: UInt8 = ["turn_left": 0x11, "turn_right": 0x12, "blink": 0x13][step] ?? 0x10
            for (k, p) in [0x10, pose, pose, 0x10].enumerated() {
                frames.append(["step": i, "t": i * slot + 300 + k * 600, "image": Data(PosedFaceEngine.image(p, other: other)).base64EncodedString()])
            }
        }
        return Array(try JSONSerialization.data(withJSONObject: ["challenge": c.challenge, "frames": frames]))
    }

    func send(_ h: Harness, _ phone: Phone, _ tx: String, _ recording: [UInt8]) async throws -> (TestResponse, FaceRematchAnswer?) {
        let body = Wire.encode(FaceFramesBody(frames: Base64URL.encode(recording)))
        let r = try await post(h, phone, "/authenticator/v1/transactions/\(tx)/face", body)
        return (r, try? Wire.decode(FaceRematchAnswer.self, from: Array(r.text.utf8)))
    }

    @Test func aVerifiedUserMatchesTheirFaceBeforeTheApprovalCounts() async throws {
        try await Harness.run(idvEngine: PosedFaceEngine()) { h in
            let (phone, user) = try await AuthenticatorRoutesTests().enrolPhone(h)
            _ = try await verify(h, user)
            let key = try await steps.issue(h)
            let r = try await steps.start(h, key: key, json: #"{"user_identifier":"ada@example.com"}"#)
            #expect(r.status == .created, "\(r.text)")
            let started = try r.json()
            #expect(started["face_match"] as? String == "required")
            let id = try #require(started["challenge_id"] as? String)
            let number = try #require(started["number"] as? String)
            let view = try await steps.pending(h, phone)
            #expect(view.faceMatch == "required" && view.userVerification == "biometric")
            #expect(try await steps.result(h, key: key, id)["face_match"] as? String == "required")

            // Approving first is refused and changes nothing; frames before a challenge too.
            _ = try await steps.approve(h, phone, view, number: number, uv: .face).expectProblem(.conflict, "face-rematch-required")
            _ = try await send(h, phone, view.transaction, Array("{}".utf8)).0.expectProblem(.unprocessableContent, "invalid-input")

            // Another person's face (alive, turning and blinking) does not match; the phone may try again.
            let first = try await challenge(h, phone, view.transaction)
            #expect(first.steps.first == "neutral" && first.steps.count == 4)
            let (r1, a1) = try await send(h, phone, view.transaction, try frames(first, other: true))
            #expect(r1.status == .ok, "\(r1.text)")
            #expect(a1?.result == "no_match" && a1?.reasons == ["face_mismatch"] && a1?.retry == true)
            // A recording for a spent challenge is refused.
            _ = try await send(h, phone, view.transaction, try frames(first)).0.expectProblem(.unprocessableContent, "invalid-input")

            // The verified person: a match, then the approval counts.
            let second = try await challenge(h, phone, view.transaction)
            let (_, a2) = try await send(h, phone, view.transaction, try frames(second))
            #expect(a2?.result == "match" && a2?.reasons == [] && a2?.retry == false)
            let again = try await steps.pending(h, phone)
            #expect(again.faceMatch == "matched")
            let approved = try await steps.approve(h, phone, view, number: number, uv: .fingerprint)
            #expect(approved.status == .ok, "\(approved.text)")
            let result = try await steps.result(h, key: key, id)
            #expect(result["match_result"] as? String == "match" && result["face_match"] as? String == "match")
            #expect(result["verification_process"] as? String == "idv_verified1")
            #expect((result["amr"] as? [String]).map { $0.contains("face") && $0.contains("fpt") } == true)
            // The attempts are audited without any biometric data.
            let events = try await h.store.audit.list(tenantID: nil, page: PageRequest(limit: 200)).items.filter { $0.action == "stepup.face_rematch" }
                .reversed()
            #expect(events.map(\.outcome) == [.failure, .success])
            #expect(events.first?.after?["distance"] != nil && events.first?.reason == "face_mismatch")
        }
    }

    @Test func threeFailedFaceAttemptsEndTheStepUp() async throws {
        try await Harness.run(idvEngine: PosedFaceEngine()) { h in
            let (phone, user) = try await AuthenticatorRoutesTests().enrolPhone(h)
            _ = try await verify(h, user)
            let key = try await steps.issue(h)
            let started = try await steps.start(h, key: key, json: #"{"user_identifier":"ada@example.com","face_match":"required"}"#).json()
            let id = try #require(started["challenge_id"] as? String)
            let view = try await steps.pending(h, phone)
            for attempt in 1...3 {
                let c = try await challenge(h, phone, view.transaction)
                // A still photo held to the camera: no turn, no blink.
                var still = c
                still.steps = c.steps.map { _ in "neutral" }
                let (_, a) = try await send(h, phone, view.transaction, try frames(still))
                #expect(a?.result == "no_match" && a?.retry == (attempt < 3))
                #expect(a?.reasons.map { $0.contains { $0.hasPrefix("liveness_") } } == true)
            }
            let result = try await steps.result(h, key: key, id)
            #expect(result["match_result"] as? String == "no_match" && result["reason"] as? String == "face_not_matched")
            #expect(result["face_match"] as? String == "no_match" && result["verification_process"] == nil)
            _ = try await post(h, phone, "/authenticator/v1/transactions/\(view.transaction)/face/challenge", Array("{}".utf8))
                .expectProblem(.conflict, "transaction-answered")
        }
    }

    @Test func faceMatchIsAutoRequiredOrOff() async throws {
        try await Harness.run(idvEngine: PosedFaceEngine()) { h in
            let (phone, user) = try await AuthenticatorRoutesTests().enrolPhone(h)
            let key = try await steps.issue(h)
            // No verified identity yet: auto asks for none; required is refused by field.
            let auto = try await steps.start(h, key: key, json: #"{"user_identifier":"ada@example.com"}"#)
            #expect(try auto.json()["face_match"] as? String == "off")
            #expect(try await steps.pending(h, phone).faceMatch == nil)
            let required = try await steps.start(h, key: key, json: #"{"user_identifier":"ada@example.com","face_match":"required"}"#)
            #expect(required.status == .unprocessableContent && required.text.contains("face_match"), "\(required.text)")
            let bad = try await steps.start(h, key: key, json: #"{"user_identifier":"ada@example.com","face_match":"sometimes"}"#)
            #expect(bad.status == .unprocessableContent && bad.text.contains("face_match"))
            // Verified: off still skips it; a device with no face to match is told so.
            _ = try await verify(h, user)
            let off = try await steps.start(h, key: key, json: #"{"user_identifier":"ada@example.com","face_match":"off"}"#)
            #expect(try off.json()["face_match"] as? String == "off")
            let view = try await steps.pending(h, phone)
            #expect(view.faceMatch == nil)
            _ = try await post(h, phone, "/authenticator/v1/transactions/\(view.transaction)/face/challenge", Array("{}".utf8))
                .expectProblem(.conflict, "face-rematch-not-expected")
            // Another user's phone cannot see or feed the re-match.
            let auto2 = try await steps.start(h, key: key, json: #"{"user_identifier":"ada@example.com"}"#)
            #expect(try auto2.json()["face_match"] as? String == "required")
            let pushed = try await steps.pending(h, phone)
            let stranger = Phone(id: phone.id, key: P256.Signing.PrivateKey())
            let refused = try await post(h, stranger, "/authenticator/v1/transactions/\(pushed.transaction)/face/challenge", Array("{}".utf8))
            #expect(refused.status == .unauthorized)
        }
    }

    /// The OIDC LiveID page's push: the same re-match, and the session (hence the tokens) records
    /// the verification it matched, with `face` in its methods.
    @Test func aLiveIDSignInOfAVerifiedUserRematchesTheFace() async throws {
        try await Harness.run(idvEngine: PosedFaceEngine()) { h in
            let (phone, user) = try await AuthenticatorRoutesTests().enrolPhone(h)
            _ = try await verify(h, user, process: "idv_verified2")
            let origin = AuthenticatorRoutesTests.origin
            let r = try await h.request(
                .post, "/login/push/start", json: #"{"email":"ada@example.com","user_verification":"biometric"}"#, headers: [.origin: origin])
            #expect(r.status == .ok, "\(r.text)")
            let tx = try #require(try r.json()["transaction"] as? String)
            let binding = try #require(AuthenticatorRoutesTests.cookie(r, "__Host-sigil_login_default"))
            let view = try await steps.pending(h, phone)
            #expect(view.transaction == tx && view.faceMatch == "required")
            let number = try #require(try await h.store.loginTransactions.get(tenantID: try await h.defaultTenant().id, id: tx).number)
            _ = try await steps.approve(h, phone, view, number: number, uv: .fingerprint).expectProblem(.conflict, "face-rematch-required")
            let c = try await challenge(h, phone, tx)
            #expect(try await send(h, phone, tx, try frames(c)).1?.result == "match")
            #expect(try await steps.approve(h, phone, view, number: number, uv: .fingerprint).status == .ok)
            let cookies: HTTPFields = [.cookie: "__Host-sigil_login_default=\(binding)", .origin: origin]
            let complete = try await h.request(.post, "/login/transactions/\(tx)/complete", json: "{}", headers: cookies)
            #expect(complete.status == .ok, "\(complete.text)")
            let cookie = try #require(AuthenticatorRoutesTests.cookie(complete, "__Host-sigil_session_default"))
            let session = try #require(try await h.store.sessions.find(tokenHash: tokenHash(cookie)))
            #expect(session.verificationProcess == "idv_verified2" && session.acr == ACR.liveID)
            #expect(session.amr.contains("face") && session.amr.contains("fpt"))
        }
    }
}
