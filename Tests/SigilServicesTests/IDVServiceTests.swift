import Foundation
import SigilCore
import SigilFlows
import SigilIDV
import SigilJOSE
import SigilOAuth
import SigilServices
import SigilStore
import SigilTestSupport
import Testing

/// An engine whose answers are keyed by the image: byte 3 picks the face, byte 4 says whether
/// the image shows an MRZ. What the real engine is measured on is in scripts/idv-engine-check.sh.
struct ScriptedEngine: IDVEngine {
    static let person = [Double](repeating: 0.1, count: 128)
    static let samePerson = person.enumerated().map { $0.offset % 2 == 0 ? $0.element + 0.02 : $0.element }
    static let otherPerson = [Double](repeating: 0.3, count: 128)
    static let mrz = ["P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<", "L898902C36UTO7408122F3104150ZE184226B<<<<<16"]

    /// An image whose byte 3 names the face (and pose) and byte 4 says `M` for an MRZ.
    static func image(_ face: UInt8, mrz: Bool = false) -> [UInt8] { [0xFF, 0xD8, 0xFF, face, mrz ? 0x4D : 0] }

    func capabilities() async -> IDVEngineCapabilities { IDVEngineCapabilities(face: true, pdf417: true, mrz: true) }
    func faces(in image: [UInt8]) async throws(IDVEngineError) -> [DetectedFace] {
        guard image.count >= 5 else { throw .image("image_unreadable") }
        func face(_ d: [Double], eye: Double = 0.3, yaw: Double = 0) -> DetectedFace {
            DetectedFace(box: [0, 0, 100, 100], descriptor: d, eyeAspectRatio: eye, yaw: yaw)
        }
        switch image[3] {
        case 1: return [face(Self.person)]
        case 2: return [face(Self.samePerson)]
        case 3: return [face(Self.otherPerson)]
        case 4: return [face(Self.person), face(Self.otherPerson)]
        case 0x10: return [face(Self.samePerson)]
        case 0x11: return [face(Self.samePerson, yaw: 25)]
        case 0x12: return [face(Self.samePerson, yaw: -25)]
        case 0x13: return [face(Self.samePerson, eye: 0.08)]
        case 0x14: return [face(Self.otherPerson)]
        default: return []
        }
    }
    func pdf417(in image: [UInt8]) async throws(IDVEngineError) -> String? { nil }
    /// Byte 3 = 0x20: a blurry photo.
    func quality(of image: [UInt8], kind: String) async throws(IDVEngineError) -> [String] { image.count > 3 && image[3] == 0x20 ? ["blurry"] : [] }
    func mrzLines(in image: [UInt8]) async throws(IDVEngineError) -> [String] { image.count >= 5 && image[4] == 0x4D ? Self.mrz : [] }
}

@Suite("Identity verification: sessions, checks, the OIDC answer")
struct IDVServiceTests {
    static let issuer = ServiceHarness.issuer
    static let callback = "https://okta.example/idp/identity-verification/callback"
    static let verifier = String(repeating: "k", count: 50)

    struct Flow {
        let client: OAuthService.AuthenticatedClient
        let session: IDVService.Started
        let request: OAuthService.VerificationRequest
        let subject: String
    }

    /// Okta's request to an IDV client, up to the started session.
    static func start(_ h: ServiceHarness, idv: IDVService, loginHint: String = "00u1okta", given: String = "Anna", family: String = "Eriksson")
        async throws -> Flow
    {
        var new = ApplicationService.NewOIDCClient(name: "Okta IDV", redirectURIs: [callback])
        new.grantTypes = ["authorization_code"]
        new.tokenEndpointAuthMethod = "client_secret_post"
        new.allowedScopes = ["openid", "profile", "identity_assurance"]
        new.identityVerification = true
        let (app, secret) = try await h.services.applications.createOIDC(tenantID: h.tenant.id, new, by: .cli)
        let claims: JSONValue = .object([
            "id_token": .object([
                "verified_claims": .array([
                    .object([
                        "verification": .object([
                            "trust_framework": .object(["value": "IDV-DELEGATED", "essential": true]),
                            "assurance_level": .object(["value": "VERIFIED", "essential": true]),
                        ]),
                        "claims": .object([
                            "given_name": .object(["value": .string(given), "fuzzy": true]),
                            "family_name": .object(["value": .string(family), "fuzzy": true]),
                        ]),
                    ])
                ])
            ])
        ])
        let outcome = try await h.services.oauth.authorize(
            tenantID: h.tenant.id, issuer: issuer,
            parameters: [
                "response_type": "code", "client_id": try #require(app.clientID), "redirect_uri": callback, "scope": "openid profile identity_assurance",
                "state": "okta-state", "nonce": "okta-nonce", "code_challenge": PKCE.challenge(for: verifier), "code_challenge_method": "S256",
                "login_hint": loginHint, "claims": String(decoding: try claims.serialized(), as: UTF8.self),
            ], session: nil, freshAfter: nil)
        guard case .verifyIdentity(let request) = outcome else {
            Issue.record("not an identity verification: \(outcome)")
            throw CancellationError()
        }
        #expect(request.expected == ["given_name": given, "family_name": family])
        let subject = try await idv.subject(tenantID: h.tenant.id, clientID: request.clientID, externalID: request.loginHint)
        let started = try await idv.start(
            tenantID: h.tenant.id, origin: .oidc(authorization: request.encodedRequest), expected: request.expected, clientID: request.clientID,
            subjectID: subject.id, by: .client(request.clientID))
        let client = try await h.services.oauth.authenticate(
            tenantID: h.tenant.id, issuer: issuer, credentials: .init(clientID: try #require(app.clientID), clientSecret: try #require(secret).value),
            endpoint: "/oauth2/token")
        return Flow(client: client, session: started, request: request, subject: subject.id)
    }

    /// Frames that perform `challenge` (or, with `skip`, leave that step out).
    static func frames(_ c: LivenessChallenge, skip: LivenessChallenge.Step? = nil, face: UInt8? = nil) throws -> [UInt8] {
        var frames: [[String: Any]] = []
        let slot = Int(c.stepSeconds * 1000)
        for (i, step) in c.steps.enumerated() {
            var pose: UInt8 =
                switch step {
                case .neutral: 0x10
                case .turnLeft: 0x11
                case .turnRight: 0x12
                case .blink: 0x13
                }
            if step == skip { pose = 0x10 }
            for (k, p) in [0x10, pose, pose, 0x10].enumerated() {
                let b = ScriptedEngine.image(face ?? UInt8(p))
                frames.append(["step": i, "t": i * slot + 300 + k * 600, "image": Data(b).base64EncodedString()])
            }
        }
        return Array(try JSONSerialization.data(withJSONObject: ["challenge": c.id, "frames": frames]))
    }

    func decode(_ idToken: String) throws -> [String: JSONValue] { try JWS.parse(idToken).payload }

    @Test(arguments: Backend.enabled)
    func oktaShapedVerificationEndToEnd(_ backend: Backend) async throws {
        try await withServices(backend) { h in
            let idv = IDVService(context: h.context, engine: ScriptedEngine())
            let f = try await Self.start(h, idv: idv)
            let t = h.tenant.id, id = f.session.id, secret = f.session.secret
            // Refused evidence: unknown kind, not an image, empty; a wrong secret sees nothing.
            await #expect(throws: IDVService.Refused.self) { _ = try await idv.addEvidence(tenantID: t, id: id, secret: secret, kind: "passport", bytes: [1]) }
            await #expect(throws: IDVService.Refused("not_an_image", "Upload a JPEG or PNG photo.")) {
                _ = try await idv.addEvidence(tenantID: t, id: id, secret: secret, kind: "selfie", bytes: Array("GIF89a".utf8))
            }
            await #expect(throws: IDVService.Refused.self) {
                _ = try await idv.addEvidence(tenantID: t, id: id, secret: "wrong", kind: "selfie", bytes: ScriptedEngine.image(2))
            }
            // Liveness frames before a challenge are refused.
            await #expect(throws: IDVService.Refused.self) { _ = try await idv.addEvidence(tenantID: t, id: id, secret: secret, kind: "liveness", bytes: [1]) }
            _ = try await idv.addEvidence(tenantID: t, id: id, secret: secret, kind: "document_front", bytes: ScriptedEngine.image(1, mrz: true))
            // Retake advice from the engine's quality check: images only, advice only.
            #expect(await idv.advice(kind: "document_front", bytes: ScriptedEngine.image(0x20)) == ["blurry"])
            #expect(await idv.advice(kind: "selfie", bytes: ScriptedEngine.image(2)).isEmpty)
            #expect(await idv.advice(kind: "chip", bytes: ScriptedEngine.image(0x20)).isEmpty)
            #expect(await IDVService(context: h.context, engine: UnavailableIDVEngine()).advice(kind: "selfie", bytes: ScriptedEngine.image(0x20)).isEmpty)
            // Submitting early names what is missing.
            await #expect(throws: IDVService.Refused("missing_evidence", "Still needed: liveness, selfie", missing: ["liveness", "selfie"])) {
                _ = try await idv.submit(tenantID: t, id: id, secret: secret, documentType: "passport")
            }
            _ = try await idv.addEvidence(tenantID: t, id: id, secret: secret, kind: "selfie", bytes: ScriptedEngine.image(2))
            let challenge = try await idv.livenessChallenge(tenantID: t, id: id, secret: secret)
            h.clock.advance(by: 10)
            let have = try await idv.addEvidence(tenantID: t, id: id, secret: secret, kind: "liveness", bytes: try Self.frames(challenge))
            #expect(have == ["document_front", "liveness", "selfie"])
            #expect(try await idv.submit(tenantID: t, id: id, secret: secret, documentType: "passport") == .verified)
            // Decided: no more evidence, no second decision.
            await #expect(throws: IDVService.Refused.self) { _ = try await idv.submit(tenantID: t, id: id, secret: secret, documentType: "passport") }
            // The evidence is sealed at rest: no image byte pattern or MRZ text in the stored rows.
            for r in try await h.store.idv.evidence(tenantID: t, sessionID: id) {
                #expect(!r.sealed.contains("ERIKSSON") && !r.sealed.hasPrefix("/9j/"))
            }
            // The answer: a code, once.
            let (session, identity, request) = try await idv.answer(tenantID: t, id: id, secret: secret)
            #expect(request == f.request.encodedRequest)
            // What Okta sent about the person is not in the stored row in clear.
            let stored = String(decoding: try JSONEncoder().encode(try await h.row(id).flow), as: UTF8.self)
            #expect(!stored.contains("Eriksson") && !stored.contains("Anna") && !stored.contains("ERIKSSON"), "\(stored)")
            await #expect(throws: IDVService.Refused.self) { _ = try await idv.answer(tenantID: t, id: id, secret: secret) }
            let delivery = try await h.services.oauth.answerVerification(
                tenantID: t, issuer: Self.issuer, sessionID: id, encodedRequest: f.request.encodedRequest, subjectID: f.subject, identity: identity)
            guard case .redirect(let location) = delivery, let code = URLComponents(string: location)?.queryItems?.first(where: { $0.name == "code" })?.value
            else {
                Issue.record("no code: \(delivery)")
                return
            }
            #expect(session.decision == .verified && location.hasPrefix(Self.callback) && location.contains("state=okta-state"))
            let tokens = try await h.services.oauth.token(
                tenantID: t, issuer: Self.issuer, client: f.client,
                parameters: ["grant_type": "authorization_code", "code": code, "redirect_uri": Self.callback, "code_verifier": Self.verifier])
            #expect(tokens.refreshToken == nil)
            let claims = try decode(try #require(tokens.idToken))
            #expect(claims["sub"]?.string == f.subject && claims["nonce"]?.string == "okta-nonce" && claims["amr"] == nil)
            let entry = try #require(claims["verified_claims"]?.array?.first?.object)
            #expect(entry["verification"]?.object?["trust_framework"]?.string == "IDV-DELEGATED")
            #expect(entry["verification"]?.object?["assurance_level"]?.string == "VERIFIED")
            #expect(entry["claims"]?.object?["family_name"]?.object?["value"]?.string == "ERIKSSON")
            // The code is one-time.
            await #expect(throws: OAuthError.self) {
                _ = try await h.services.oauth.token(
                    tenantID: t, issuer: Self.issuer, client: f.client,
                    parameters: ["grant_type": "authorization_code", "code": code, "redirect_uri": Self.callback, "code_verifier": Self.verifier])
            }
            // The same Okta user is the same subject next time.
            let again = try await idv.subject(tenantID: t, clientID: f.request.clientID, externalID: "00u1okta")
            #expect(again.id == f.subject && again.status == "VERIFIED")
            // The audit log says what happened, without the person's data.
            let actions = try await h.auditActions()
            #expect(actions.contains("idv.session_started") && actions.contains("idv.decided") && actions.contains("oauth.code_issued"))
        }
    }

    @Test(arguments: Backend.enabled)
    func failuresAreDecidedWithReasons(_ backend: Backend) async throws {
        try await withServices(backend) { h in
            let idv = IDVService(context: h.context, engine: ScriptedEngine())
            let t = h.tenant.id
            func run(selfie: UInt8, liveness skip: LivenessChallenge.Step? = nil, livenessFace: UInt8? = nil, family: String = "Eriksson") async throws
                -> IDVService.Status
            {
                let f = try await Self.start(h, idv: idv, loginHint: "u\(selfie)\(skip?.rawValue ?? "")\(livenessFace ?? 0)\(family)", family: family)
                let (id, secret) = (f.session.id, f.session.secret)
                _ = try await idv.addEvidence(tenantID: t, id: id, secret: secret, kind: "document_front", bytes: ScriptedEngine.image(1, mrz: true))
                _ = try await idv.addEvidence(tenantID: t, id: id, secret: secret, kind: "selfie", bytes: ScriptedEngine.image(selfie))
                let c = try await idv.livenessChallenge(tenantID: t, id: id, secret: secret)
                _ = try await idv.addEvidence(tenantID: t, id: id, secret: secret, kind: "liveness", bytes: try Self.frames(c, skip: skip, face: livenessFace))
                _ = try await idv.submit(tenantID: t, id: id, secret: secret, documentType: "passport")
                return try await idv.status(tenantID: t, id: id, secret: secret)
            }
            let wrongFace = try await run(selfie: 3)
            #expect(wrongFace.decision == .failed && wrongFace.reasons.contains("face_mismatch"))
            let twoPeople = try await run(selfie: 4)
            #expect(twoPeople.reasons.contains("multiple_faces_in_selfie"))
            let noBlink = try await run(selfie: 2, liveness: .blink)
            #expect(noBlink.decision == .failed && noBlink.reasons.contains("liveness_blink_not_seen"))
            let swapped = try await run(selfie: 2, livenessFace: 0x14)
            #expect(swapped.reasons.contains("liveness_not_the_selfie"))
            let otherName = try await run(selfie: 2, family: "Smith")
            #expect(otherName.decision == .failed && otherName.reasons == ["family_name_mismatch"])
        }
    }

    /// A VERIFIED identity keeps the matched portrait's template (sealed, in the subject's
    /// identity only) for later step-ups' face re-match; a FAILED one keeps none.
    @Test(arguments: Backend.enabled)
    func aVerifiedIdentityKeepsThePortraitTemplate(_ backend: Backend) async throws {
        try await withServices(backend) { h in
            let idv = IDVService(context: h.context, engine: ScriptedEngine())
            let t = h.tenant.id
            func run(selfie: UInt8, hint: String) async throws -> (IDVService.Status, VerifiedIdentity?, String) {
                let f = try await Self.start(h, idv: idv, loginHint: hint)
                let (id, secret) = (f.session.id, f.session.secret)
                _ = try await idv.addEvidence(tenantID: t, id: id, secret: secret, kind: "document_front", bytes: ScriptedEngine.image(1, mrz: true))
                _ = try await idv.addEvidence(tenantID: t, id: id, secret: secret, kind: "selfie", bytes: ScriptedEngine.image(selfie))
                let c = try await idv.livenessChallenge(tenantID: t, id: id, secret: secret)
                _ = try await idv.addEvidence(tenantID: t, id: id, secret: secret, kind: "liveness", bytes: try Self.frames(c))
                _ = try await idv.submit(tenantID: t, id: id, secret: secret, documentType: "passport")
                let subject = try #require(try await h.store.idv.subject(tenantID: t, id: f.subject))
                let sealed = try #require(subject.sealedIdentity)
                #expect(!sealed.contains("0.1"))
                let identity = try IDVService.openIdentity(h.context.masterKey, tenantID: t, sealed: sealed, reference: f.subject)
                return (try await idv.status(tenantID: t, id: id, secret: secret), identity, id)
            }
            let (verified, identity, process) = try await run(selfie: 2, hint: "kept")
            #expect(verified.decision == .verified)
            // The document's face (image 1), not the selfie's.
            #expect(identity?.portraitTemplate == ScriptedEngine.person && identity?.process == process)
            let (failed, none, _) = try await run(selfie: 3, hint: "mismatch")
            #expect(failed.decision == .failed && none?.portraitTemplate == nil)
        }
    }

    /// The app's path: it claims the session with the hand-off, asks for its own liveness
    /// challenge, sends the frames and submits; another device is refused at every step.
    @Test(arguments: Backend.enabled)
    func theAppDoesTheLivenessChallenge(_ backend: Backend) async throws {
        try await withServices(backend) { h in
            let idv = IDVService(context: h.context, engine: ScriptedEngine())
            let t = h.tenant.id
            let f = try await Self.start(h, idv: idv)
            let id = f.session.id
            await #expect(throws: IDVService.Refused("not_this_device", "Scan the code on the verification page first.")) {
                _ = try await idv.livenessChallengeForDevice(tenantID: t, id: id, deviceID: "dev_phone")
            }
            try await idv.claimForDevice(tenantID: t, id: id, handoffSecret: f.session.handoffSecret, deviceID: "dev_phone", userID: "usr_any")
            await #expect(throws: IDVService.Refused.self) { _ = try await idv.livenessChallengeForDevice(tenantID: t, id: id, deviceID: "dev_other") }
            _ = try await idv.addEvidenceFromDevice(
                tenantID: t, id: id, deviceID: "dev_phone", kind: "document_front", bytes: ScriptedEngine.image(1, mrz: true))
            _ = try await idv.addEvidenceFromDevice(tenantID: t, id: id, deviceID: "dev_phone", kind: "selfie", bytes: ScriptedEngine.image(2))
            let challenge = try await idv.livenessChallengeForDevice(tenantID: t, id: id, deviceID: "dev_phone")
            #expect(challenge.steps.first == .neutral && challenge.steps.count == 4)
            let have = try await idv.addEvidenceFromDevice(tenantID: t, id: id, deviceID: "dev_phone", kind: "liveness", bytes: try Self.frames(challenge))
            #expect(have == ["document_front", "liveness", "selfie"])
            #expect(try await idv.submitFromDevice(tenantID: t, id: id, deviceID: "dev_phone", documentType: "passport") == .verified)
            let status = try await idv.status(tenantID: t, id: id, secret: f.session.secret)
            #expect(status.checks.contains(IDVCheck(name: "liveness", passed: true, reasons: [])))
        }
    }

    @Test(arguments: Backend.enabled)
    func withoutAnEngineTheChecksSaySo(_ backend: Backend) async throws {
        try await withServices(backend) { h in
            let idv = IDVService(context: h.context, engine: UnavailableIDVEngine())
            _ = try await idv.saveSettings(tenantID: h.tenant.id, IDVSettings(policy: IDVPolicy(requireLiveness: false)), by: .cli)
            let f = try await Self.start(h, idv: idv)
            let (t, id, secret) = (h.tenant.id, f.session.id, f.session.secret)
            _ = try await idv.addEvidence(tenantID: t, id: id, secret: secret, kind: "document_front", bytes: ScriptedEngine.image(1, mrz: true))
            _ = try await idv.addEvidence(tenantID: t, id: id, secret: secret, kind: "selfie", bytes: ScriptedEngine.image(2))
            #expect(try await idv.submit(tenantID: t, id: id, secret: secret, documentType: "passport") == .failed)
            let s = try await idv.status(tenantID: t, id: id, secret: secret)
            #expect(s.reasons.contains("engine_unavailable"), "\(s.reasons)")
        }
    }

    @Test(arguments: Backend.enabled)
    func cancelHandOffAndExpiry(_ backend: Backend) async throws {
        try await withServices(backend) { h in
            let idv = IDVService(context: h.context, engine: ScriptedEngine())
            let t = h.tenant.id
            // The phone: the hand-off link works once and gives the phone its own secret.
            let f = try await Self.start(h, idv: idv)
            let phone = try await idv.useHandoff(tenantID: t, id: f.session.id, handoffSecret: f.session.handoffSecret) { "phone-secret" }
            await #expect(throws: IDVService.Refused("handoff_used", "This code was already used on another device.")) {
                _ = try await idv.useHandoff(tenantID: t, id: f.session.id, handoffSecret: f.session.handoffSecret) { "again" }
            }
            await #expect(throws: IDVService.Refused.self) {
                _ = try await idv.useHandoff(tenantID: t, id: f.session.id, handoffSecret: "guess") { "guess" }
            }
            _ = try await idv.addEvidence(tenantID: t, id: f.session.id, secret: phone, kind: "selfie", bytes: ScriptedEngine.image(2))
            #expect(try await idv.status(tenantID: t, id: f.session.id, secret: phone).onPhone)
            #expect(try await !idv.status(tenantID: t, id: f.session.id, secret: f.session.secret).onPhone)
            // Cancelled from the phone; only the starting browser answers the client: access_denied.
            try await idv.cancel(tenantID: t, id: f.session.id, secret: phone)
            await #expect(throws: IDVService.Refused("continue_on_computer", "Done here. Go back to your computer to continue.")) {
                _ = try await idv.answer(tenantID: t, id: f.session.id, secret: phone)
            }
            let (_, identity, _) = try await idv.answer(tenantID: t, id: f.session.id, secret: f.session.secret)
            #expect(identity == nil)
            let delivery = try await h.services.oauth.answerVerification(
                tenantID: t, issuer: Self.issuer, sessionID: f.session.id, encodedRequest: f.request.encodedRequest, subjectID: f.subject, identity: nil)
            guard case .redirect(let location) = delivery else { Issue.record("\(delivery)"); return }
            #expect(location.contains("error=access_denied") && location.contains("state=okta-state"))
            #expect(try await h.store.idv.evidence(tenantID: t, sessionID: f.session.id).isEmpty)

            // Arriving late: the activity window passes, the session refuses evidence.
            let late = try await Self.start(h, idv: idv, loginHint: "late")
            h.clock.advance(by: IDVSessionStateMachine.activityWindow + 1)
            await #expect(throws: IDVService.Refused("session_expired", "This verification has expired. Start again from the application.")) {
                _ = try await idv.addEvidence(tenantID: t, id: late.session.id, secret: late.session.secret, kind: "selfie", bytes: ScriptedEngine.image(2))
            }
        }
    }

    @Test(arguments: Backend.enabled)
    func aSignedInUsersOwnVerificationExportAndDelete(_ backend: Backend) async throws {
        try await withServices(backend) { h in
            let idv = IDVService(context: h.context, engine: ScriptedEngine())
            _ = try await idv.saveSettings(tenantID: h.tenant.id, IDVSettings(policy: IDVPolicy(requireLiveness: false)), by: .cli)
            let user = try await h.user("anna@example.com", given: "Anna Maria", family: "Eriksson")
            let subject = try await idv.userSubject(tenantID: h.tenant.id, userID: user.id)
            #expect(try await idv.userSubject(tenantID: h.tenant.id, userID: user.id).id == subject.id)
            let started = try await idv.start(
                tenantID: h.tenant.id, origin: .account, expected: ["given_name": user.givenName, "family_name": user.familyName],
                subjectID: subject.id, by: .user(user.id))
            let (t, id, secret) = (h.tenant.id, started.id, started.secret)
            _ = try await idv.addEvidence(tenantID: t, id: id, secret: secret, kind: "document_front", bytes: ScriptedEngine.image(1, mrz: true))
            _ = try await idv.addEvidence(tenantID: t, id: id, secret: secret, kind: "selfie", bytes: ScriptedEngine.image(2))
            #expect(try await idv.submit(tenantID: t, id: id, secret: secret, documentType: "passport") == .verified)
            let latest = try #require(try await idv.latestIdentity(tenantID: t, userID: user.id))
            #expect(latest.status == .verified && latest.claims["family_name"] == "ERIKSSON")
            // Export and delete by the user's id (the privacy calls), both audited.
            let (exported, identity) = try #require(try await idv.export(tenantID: t, subjectID: user.id, by: .cli))
            #expect(exported.id == subject.id && identity?.claims["given_name"] == "ANNA MARIA")
            try await idv.deleteSubject(tenantID: t, subjectID: user.id, by: .cli)
            #expect(try await idv.latestIdentity(tenantID: t, userID: user.id) == nil)
            await #expect(throws: StoreError.self) { try await idv.deleteSubject(tenantID: t, subjectID: user.id, by: .cli) }
            let actions = try await h.auditActions()
            #expect(actions.contains("idv.subject_exported") && actions.contains("idv.subject_deleted"))
        }
    }
}
