import AuthenticatorKit
import Foundation
import SigilAuthenticatorProtocol
import SigilCore
import Testing

struct Harness {
    let server: FakeServer
    let store: MemoryEnrolmentStore
    let keys: SoftwareKeyStore
    let clock: ManualClock
    let verifier: RecordingVerifier
    let authenticator: Authenticator

    init(verifier: UserVerificationMethod? = .face, serverTime: Int64 = 1_800_000_000) {
        server = FakeServer(serverTime: serverTime)
        store = MemoryEnrolmentStore()
        keys = SoftwareKeyStore()
        clock = ManualClock()
        self.verifier = RecordingVerifier(verifier)
        authenticator = Authenticator(keys: keys, verifier: self.verifier, transport: server, enrolments: store, clock: clock)
    }

    static let enrolmentLink = AuthenticatorPayload(
        purpose: .enrolment, issuer: FakeServer.issuer, transactionID: FakeServer.enrolTx,
        secret: FakeServer.secret)
    static let loginLink = AuthenticatorPayload(
        purpose: .login, issuer: FakeServer.issuer, transactionID: FakeServer.loginTx,
        secret: FakeServer.secret)

    @discardableResult
    func enrol() async throws -> Enrolment {
        guard case .enrolment(let code) = try Authenticator.parse(Self.enrolmentLink.url) else {
            Issue.record("not an enrolment code"); throw AuthenticatorError.invalidCode
        }
        return try await authenticator.enrol(code, name: "Test CLI", platform: "cli", push: nil)
    }

    func loginCode(_ payload: AuthenticatorPayload = Harness.loginLink) throws -> LoginCode {
        guard case .login(let code) = try Authenticator.parse(payload.deepLink) else { throw AuthenticatorError.invalidCode }
        return code
    }
}

@Suite struct AuthenticatorTests {
    @Test func enrolmentSendsAValidProofAndSavesTheEnrolment() async throws {
        let h = Harness()
        let enrolment = try await h.enrol()
        #expect(h.server.state.withLock { $0.proofValid } == true)
        #expect(enrolment.issuer == FakeServer.issuer)
        #expect(enrolment.deviceID == FakeServer.deviceID)
        #expect(enrolment.email == "ada@example.com")
        #expect(enrolment.keyProtection == .software)
        #expect(try await h.store.load() == [enrolment])
        // The registered key is the one the key store holds.
        let registration = try Wire.decode(DeviceRegistrationBody.self, from: h.server.log[1].body)
        #expect(registration.publicKey == Base64URL.encode(h.keys.publicKey(enrolment.key) ?? []))
        #expect(registration.platform == "cli" && registration.keyProtection == "software" && registration.push == nil)
        // The proof is over §1.3's string; it does not verify for another challenge.
        let other = try CanonicalMessage.enrolment(
            issuer: FakeServer.issuer, transactionID: FakeServer.enrolTx,
            challenge: FakeServer.challenge, publicKey: registration.publicKey)
        #expect(!DeviceSignature.verify(registration.proof, message: other, publicKey: registration.publicKey))
        #expect(
            h.server.log.map(\.url) == [
                FakeServer.issuer + "/authenticator/v1/enroll/preview",
                FakeServer.issuer + "/authenticator/v1/devices",
            ])
        #expect(h.server.log.allSatisfy { $0.header("Sigil-Signature") == nil })
    }

    @Test func everyDeviceRequestIsSignedWithAFreshNonce() async throws {
        let h = Harness()
        let enrolment = try await h.enrol()
        h.server.state.withLock { $0.pushes = [FakeServer.view(FakeServer.pushTx, kind: "push")] }
        let claimed = try await h.authenticator.claim(try h.loginCode())
        _ = try await h.authenticator.request(id: FakeServer.loginTx, deviceID: enrolment.deviceID)
        let pending = try await h.authenticator.pending(wait: .seconds(20))
        #expect(pending.map(\.transactionID) == [FakeServer.pushTx])
        try await h.authenticator.approve(claimed, number: "42")
        try await h.authenticator.setPushToken(PushRegistration(provider: "fcm", token: "t"), for: enrolment)
        try await h.authenticator.setPushToken(nil, for: enrolment)
        try await h.authenticator.remove(enrolment)

        let signed = Array(h.server.log.dropFirst(2))
        #expect(signed.count == 7)
        #expect(signed.allSatisfy { $0.signatureValid == true })
        #expect(Set(signed.compactMap(\.nonce)).count == signed.count)
        #expect(signed.allSatisfy { Base64URL.decode($0.nonce ?? "")?.count == 16 })
        #expect(signed.allSatisfy { $0.header("Sigil-Device") == FakeServer.deviceID && $0.header("Sigil-Timestamp") == "1800000000" })
        #expect(signed.map(\.method) == ["POST", "GET", "GET", "POST", "PUT", "PUT", "DELETE"])
        #expect(signed[2].url == FakeServer.issuer + "/authenticator/v1/pending?wait=20")
        #expect(String(decoding: signed[5].body, as: UTF8.self) == #"{"provider":null}"#)
        #expect(try await h.store.load().isEmpty)
        #expect(h.keys.exportScalar(enrolment.key) == nil)

        // The signature covers the body hash: the same headers over another body do not verify.
        let approve = signed[3]
        let tampered = try CanonicalMessage.request(
            method: "POST", target: approve.url, deviceID: FakeServer.deviceID,
            timestamp: 1_800_000_000, nonce: approve.nonce ?? "",
            body: Array(String(decoding: approve.body, as: UTF8.self).replacingOccurrences(of: "42", with: "43").utf8))
        let key = try #require(h.server.state.withLock { $0.devices[FakeServer.deviceID] })
        #expect(!DeviceSignature.verify(approve.header("Sigil-Signature") ?? "", message: tampered, publicKey: key))
    }

    @Test func approvalIsSignedOverTheCanonicalString() async throws {
        let h = Harness(verifier: .fingerprint)
        let enrolment = try await h.enrol()
        let request = try await h.authenticator.claim(try h.loginCode())
        #expect(request.view.challenge == FakeServer.challenge && request.deviceID == enrolment.deviceID)
        let result = try await h.authenticator.approve(request, number: "42")
        #expect(result == AnswerResult(transaction: FakeServer.loginTx, state: "approved"))
        #expect(h.server.answers == [.init(decision: "approve", number: "42", uv: "fingerprint", signatureValid: true)])
        #expect(h.verifier.prompts.withLock { $0 } == [.approve])

        let body = try Wire.decode(ApproveBody.self, from: try #require(h.server.log.last).body)
        let key = try #require(h.server.state.withLock { $0.devices[FakeServer.deviceID] })
        func verifies(
            origin: String = FakeServer.origin, number: String = "42", uv: CanonicalMessage.UserVerification = .fingerprint,
            issuer: String = FakeServer.issuer
        ) throws -> Bool {
            let message = try CanonicalMessage.approval(
                issuer: issuer, transactionID: FakeServer.loginTx, challenge: FakeServer.challenge,
                origin: origin, number: number, decision: .approve, userVerification: uv)
            return DeviceSignature.verify(body.signature, message: message, publicKey: key)
        }
        #expect(try verifies())
        #expect(try !verifies(origin: "https://evil.example"))
        #expect(try !verifies(number: "43"))
        #expect(try !verifies(uv: .face))
        #expect(try !verifies(issuer: "https://other.example"))
    }

    @Test func denySignsDenyAndNotMeSignsReport() async throws {
        let h = Harness(verifier: nil) // refusing never asks the verifier
        try await h.enrol()
        let request = try await h.authenticator.claim(try h.loginCode())
        #expect(try await h.authenticator.deny(request, notMe: false).state == "denied")
        #expect(try await h.authenticator.deny(request, notMe: true).state == "denied")
        #expect(
            h.server.answers == [
                .init(decision: "deny", number: "", uv: "none", signatureValid: true),
                .init(decision: "report", number: "", uv: "none", signatureValid: true),
            ])
        let reasons = try h.server.log.suffix(2).map { try Wire.decode(DenyBody.self, from: $0.body).reason }
        #expect(reasons == ["declined", "not_me"])
        #expect(h.verifier.prompts.withLock { $0 }.isEmpty)
    }

    @Test func aCancelledVerificationSendsNothing() async throws {
        let h = Harness(verifier: nil)
        try await h.enrol()
        let request = try await h.authenticator.claim(try h.loginCode())
        let before = h.server.log.count
        let error = await #expect(throws: AuthenticatorError.self) { try await h.authenticator.approve(request, number: "42") }
        #expect(error?.code == .cancelled)
        await #expect(throws: AuthenticatorError(.invalidNumber, "")) { try await h.authenticator.approve(request, number: "4") }
        #expect(h.server.log.count == before)
    }

    @Test func clockSkewIsLearnedFromTheServerAndRetriedOnce() async throws {
        let h = Harness(serverTime: 1_800_000_000)
        try await h.enrol()
        h.server.state.withLock { $0.now = 1_800_001_000 } // the server's clock is 1000 s ahead of ours
        let request = try await h.authenticator.claim(try h.loginCode())
        #expect(request.transactionID == FakeServer.loginTx)
        let claims = h.server.log.suffix(2)
        #expect(claims.map { $0.header("Sigil-Timestamp") } == ["1800000000", "1800001000"])
        #expect(claims.map(\.signatureValid) == [false, true])
        #expect(claims.first?.nonce != claims.last?.nonce)
        #expect(try await h.store.load().first?.clockOffset == 1000)
        // The learned offset is used from then on: no second refusal.
        let count = h.server.log.count
        _ = try await h.authenticator.pending()
        #expect(h.server.log.count == count + 1)
        #expect(h.server.log.last?.signatureValid == true)
    }

    @Test func aSkewWithoutServerTimeIsAClockSkewError() async throws {
        let h = Harness()
        try await h.enrol()
        h.server.state.withLock { $0.forcedProblem = (401, "device-clock-skew", "Clock skew") }
        let error = await #expect(throws: AuthenticatorError.self) { try await h.authenticator.claim(try h.loginCode()) }
        #expect(error?.code == .clockSkew)
    }

    @Test func aCodeForAnotherIssuerIsRefusedWithoutAnyRequest() async throws {
        let h = Harness()
        try await h.enrol()
        let before = h.server.log.count
        for issuer in ["https://evil.example", "https://acme.sigil.example/", "https://ACME.sigil.example", "http://acme.sigil.example"] {
            let code = try h.loginCode(
                AuthenticatorPayload(
                    purpose: .login, issuer: issuer, transactionID: FakeServer.loginTx,
                    secret: FakeServer.secret))
            let error = await #expect(throws: AuthenticatorError.self) { try await h.authenticator.claim(code) }
            #expect(error?.code == .notEnrolled)
            #expect(error?.issuer == issuer)
        }
        #expect(h.server.log.count == before)
    }

    @Test func problemsBecomeServerErrors() async throws {
        let h = Harness()
        try await h.enrol()
        let request = try await h.authenticator.claim(try h.loginCode())
        let wrong = await #expect(throws: AuthenticatorError.self) { try await h.authenticator.approve(request, number: "17") }
        #expect(wrong == .server(status: 422, type: "urn:sigil:problem:wrong-number", title: "Wrong number"))
        #expect(wrong?.problemName == "wrong-number")
        #expect(wrong?.title == "Wrong number")

        h.server.state.withLock { $0.forcedProblem = (403, "account-disabled", "Account disabled") }
        let disabled = await #expect(throws: AuthenticatorError.self) { try await h.authenticator.pending() }
        #expect(disabled?.code == .server && disabled?.status == 403 && disabled?.problemName == "account-disabled")

        let unknown = await #expect(throws: AuthenticatorError.self) {
            try await h.authenticator.request(id: "ltx_01jbz6w2c7f3m9q4v8x1r5t0kz", deviceID: FakeServer.deviceID)
        }
        #expect(unknown?.status == 404 && unknown?.problemName == "login-transaction-unknown")

        // An enrolment link with a wrong secret fails at preview.
        let bad = AuthenticatorPayload(
            purpose: .enrolment, issuer: FakeServer.issuer, transactionID: FakeServer.enrolTx,
            secret: "AAAAAAAAAAAAAAAAAAAAAA")
        guard case .enrolment(let code) = try Authenticator.parse(bad.url) else { Issue.record("parse"); return }
        let invalid = await #expect(throws: AuthenticatorError.self) { try await h.authenticator.preview(code) }
        #expect(invalid?.problemName == "enrolment-link-invalid" && invalid?.status == 404)
    }

    @Test func parseRefusesWhatIsNotACode() {
        #expect(throws: AuthenticatorError.invalidCode) { try Authenticator.parse("https://acme.sigil.example/login/qr#nope") }
        #expect(throws: AuthenticatorError.invalidCode) { try Authenticator.parse("hello") }
        #expect(throws: Never.self) { try Authenticator.parse(Harness.loginLink.deepLink) }
        #expect(LoginCode(Harness.loginLink).description.contains(FakeServer.secret) == false)
    }

    @Test func theStreamDeliversPushGoneAndRevoked() async throws {
        let h = Harness()
        let enrolment = try await h.enrol()
        let push = String(decoding: Wire.encode(FakeServer.view(FakeServer.pushTx, kind: "push")), as: UTF8.self)
        h.server.state.withLock {
            $0.streamEvents = [
                ": hb\n\n", ServerSentEvent(event: "push", data: push).encoded,
                "event: gone\ndata: {\"transaction\":\"\(FakeServer.loginTx)\"}\n\n",
                ServerSentEvent(event: "revoked", data: "{}").encoded,
            ]
        }
        var events: [DeviceEvent] = []
        for try await event in h.authenticator.events(for: enrolment) { events.append(event) }
        #expect(events.count == 3)
        if case .push(let request) = events.first {
            #expect(request.transactionID == FakeServer.pushTx && request.kind == "push")
        } else {
            Issue.record("first event is not a push")
        }
        #expect(events.dropFirst().first == .gone(transaction: FakeServer.loginTx))
        #expect(events.last == .revoked)
        let open = try #require(h.server.log.last)
        #expect(open.url == FakeServer.issuer + "/authenticator/v1/stream" && open.signatureValid == true)
    }

    @Test func theStreamReconnectsWithAFreshSignatureWhenTheServerClosesIt() async throws {
        let h = Harness()
        let enrolment = try await h.enrol()
        let push = String(decoding: Wire.encode(FakeServer.view(FakeServer.pushTx, kind: "push")), as: UTF8.self)
        h.server.state.withLock {
            $0.laterConnections = [[ServerSentEvent.retry(milliseconds: 100), ServerSentEvent(event: "push", data: push).encoded]]
            $0.streamEvents = ["event: revoked\ndata: {}\n\n"]
        }
        var events: [DeviceEvent] = []
        for try await event in h.authenticator.events(for: enrolment) { events.append(event) }
        #expect(events.count == 2)
        #expect(events.last == .revoked)
        let opens = h.server.log.filter { $0.url.hasSuffix("/authenticator/v1/stream") }
        #expect(opens.count == 2)
        #expect(opens.allSatisfy { $0.signatureValid == true })
        #expect(Set(opens.compactMap(\.nonce)).count == 2)
    }
}
