import Crypto
import Foundation
import SigilAuthenticatorProtocol
import SigilCore
import SigilFlows
import SigilOAuth
import SigilSQLStore
import SigilServices
import SigilStore
import SigilTestSupport
import Testing

/// QR and push sign-in (docs/authenticator-protocol.md §3–§5, threats of §9), on the service with a
/// manual clock and a recording push sender, on every backend (`ServiceHarness`).
@Suite struct AuthenticatorServiceTests {
    static let issuer = "https://id.example.com"

    struct Phone {
        let device: AuthenticatorDevice
        let key: P256.Signing.PrivateKey
    }

    struct World {
        let h: ServiceHarness
        let user: User
        let phone: Phone
        var store: SQLStore { h.store }
        var services: ServiceSet { h.services }
        var clock: ManualClock { h.clock }
        var tenant: Tenant { h.tenant }
        var push: RecordingPushSender { h.push }
        var auth: AuthenticatorService { services.authenticator }

        func start(_ browser: String = "browser-1", ua: String = "Mozilla/5.0 (X11; Linux x86_64) Chrome/130.0") -> LoginStart {
            LoginStart(
                origin: AuthenticatorServiceTests.issuer, browserHash: tokenHash(browser), returnTo: "/account",
                clientIP: "203.0.113.7", userAgent: ua)
        }

        /// A device request that passed §1.4 (the only way to get an `AuthenticatedDevice`).
        func authenticated(_ phone: Phone? = nil) async throws -> AuthenticatedDevice {
            let p = phone ?? self.phone
            let ts = Int64(clock.now().timeIntervalSince1970)
            let nonce = Base64URL.encode(SystemRandom().bytes(16))
            let target = AuthenticatorServiceTests.issuer + "/authenticator/v1/pending"
            let message = try CanonicalMessage.request(method: "GET", target: target, deviceID: p.device.id, timestamp: ts, nonce: nonce, body: [])
            return try await services.deviceRequests.verify(
                .init(
                    method: "GET", target: target, deviceID: p.device.id, timestamp: String(ts),
                    nonce: nonce, signature: try DeviceSignature.sign(message, with: p.key), body: []),
                tenantID: tenant.id)
        }

        func signature(
            _ t: LoginTransaction, number: String, decision: CanonicalMessage.Decision, uv: CanonicalMessage.UserVerification = .face,
            origin: String? = nil, transactionID: String? = nil, phone: Phone? = nil
        ) throws -> String {
            let message = try CanonicalMessage.approval(
                issuer: AuthenticatorServiceTests.issuer, transactionID: transactionID ?? t.id,
                challenge: t.challenge, origin: origin ?? AuthenticatorServiceTests.issuer,
                number: number, decision: decision, userVerification: uv)
            return try DeviceSignature.sign(message, with: (phone ?? self.phone).key)
        }

        func approve(_ t: LoginTransaction, number: String? = nil, phone: Phone? = nil) async throws -> AnswerResult {
            let n = number ?? t.number!
            return try await auth.answer(
                tenant: tenant, device: try await authenticated(phone), transactionID: t.id, answer: .approve(number: n),
                userVerification: "face", signature: try signature(t, number: n, decision: .approve, phone: phone))
        }

        func current(_ t: LoginTransaction) async throws -> LoginTransaction {
            try await store.loginTransactions.get(tenantID: tenant.id, id: t.id)
        }

        func addPhone(for user: User, token: String? = "apns-token-1") async throws -> Phone {
            let key = P256.Signing.PrivateKey()
            let id = services.context.ids.make(.authenticatorDevice)
            let sealed = try token.map {
                try PushTokens.seal(PushRegistration(provider: "apns", token: $0), deviceID: id, masterKey: services.context.masterKey)
            }
            let device = try await store.authenticatorDevices.create(
                AuthenticatorDevice(
                    id: id, tenantID: tenant.id, userID: user.id, publicKey: Base64URL.encode(Array(key.publicKey.x963Representation)),
                    name: "phone", platform: "cli", sealedPushToken: sealed, createdAt: clock.now()))
            return Phone(device: device, key: key)
        }
    }

    func world(_ backend: Backend, seed: String = #function) async throws -> World {
        let h = try await ServiceHarness.open(backend, seed: seed, masterKeyByte: 4)
        let user = try await h.user("ada@example.com", given: "Ada", family: "L")
        let partial = World(
            h: h, user: user,
            phone: Phone(
                device: AuthenticatorDevice(id: "", tenantID: "", userID: "", publicKey: "", name: "", platform: "", createdAt: h.clock.now()),
                key: P256.Signing.PrivateKey()))
        let phone = try await partial.addPhone(for: user)
        return World(h: h, user: user, phone: phone)
    }

    /// A world on a fresh store, closed after `body` (also when it throws).
    func withWorld(_ backend: Backend, seed: String = #function, _ body: (World) async throws -> Void) async throws {
        let w = try await world(backend, seed: seed)
        do { try await body(w) } catch {
            try? await w.h.close()
            throw error
        }
        try await w.h.close()
    }

    // MARK: QR

    @Test(arguments: Backend.enabled) func qrSignInEndToEnd(_ backend: Backend) async throws {
        try await withWorld(backend) { w in
            let started = try await w.auth.startQR(tenant: w.tenant, issuer: Self.issuer, start: w.start())
            let t = started.transaction
            #expect(started.payload.url.hasPrefix("\(Self.issuer)/login/qr#\(t.id)."))
            #expect(!started.payload.url.contains("sigil_lb_")) // payloadHoldsNoBindingSecret
            #expect(w.auth.payload(of: t) == started.payload)
            // numberHiddenUntilClaimed
            #expect(AuthenticatorService.snapshot(t, now: w.clock.now()).number == nil)
            #expect(AuthenticatorService.snapshot(t, now: w.clock.now()).state == "waiting")
            let view = try await w.auth.claim(tenant: w.tenant, device: try await w.authenticated(), transactionID: t.id, secret: started.payload.secret)
            // requestViewShowsRequesterContext, numberNeverSentToDevice
            #expect(view.requester.ip == "203.0.113.7" && view.requester.browser == "Chrome on Linux" && view.origin == Self.issuer)
            #expect(view.application == "Default account" || view.application.hasSuffix(" account"))
            #expect(!String(decoding: Wire.encode(view), as: UTF8.self).contains("\"number\""))
            let claimed = try await w.current(t)
            #expect(AuthenticatorService.snapshot(claimed, now: w.clock.now()).state == "scanned")
            #expect(AuthenticatorService.snapshot(claimed, now: w.clock.now()).number == t.number)

            #expect(try await w.approve(claimed).state == "approved")
            let done = try await w.auth.complete(tenant: w.tenant, transactionID: t.id, browserHash: tokenHash("browser-1"), sessions: w.services.sessions)
            #expect(done.user.id == w.user.id && done.returnTo == "/account")
            #expect(done.session.amr == ["swk", "face", "user", "mca", "mfa"] && done.session.acr == ACR.liveID)
            // completeTwiceRejected, approveAfterCompletionRejected
            await expectAuthenticatorError(.loginAlreadyUsed) {
                _ = try await w.auth.complete(tenant: w.tenant, transactionID: t.id, browserHash: tokenHash("browser-1"), sessions: w.services.sessions)
            }
            await expectAuthenticatorError(.transactionAnswered) { _ = try await w.approve(claimed) }
            let actions = try await w.store.audit.list(tenantID: w.tenant.id, page: PageRequest(limit: 50)).items.map(\.action)
            #expect(actions.contains("authenticator.approved") && actions.contains("session.started"))
        }
    }

    @Test(arguments: Backend.enabled) func otherBrowserCannotWatchOrComplete(_ backend: Backend) async throws {
        try await withWorld(backend) { w in
            let started = try await w.auth.startQR(tenant: w.tenant, issuer: Self.issuer, start: w.start())
            _ = try await w.auth.claim(
                tenant: w.tenant, device: try await w.authenticated(), transactionID: started.transaction.id, secret: started.payload.secret)
            _ = try await w.approve(try await w.current(started.transaction))
            await expectAuthenticatorError(.loginTransactionUnknown) {
                _ = try await w.auth.browserTransaction(tenant: w.tenant, transactionID: started.transaction.id, browserHash: tokenHash("browser-2"))
            }
            await expectAuthenticatorError(.loginTransactionUnknown) {
                _ = try await w.auth.complete(
                    tenant: w.tenant, transactionID: started.transaction.id, browserHash: tokenHash("browser-2"),
                    sessions: w.services.sessions)
            }
        }
    }

    @Test(arguments: Backend.enabled) func claimChecks(_ backend: Backend) async throws {
        try await withWorld(backend) { w in
            let started = try await w.auth.startQR(tenant: w.tenant, issuer: Self.issuer, start: w.start())
            let id = started.transaction.id
            // wrongSecretCountsFailures: three wrong secrets end it.
            for _ in 0..<2 {
                await expectAuthenticatorError(.transactionSecretInvalid) {
                    _ = try await w.auth.claim(tenant: w.tenant, device: try await w.authenticated(), transactionID: id, secret: "AAAAAAAAAAAAAAAAAAAAAA")
                }
            }
            #expect(try await w.current(started.transaction).failures == 2)
            // claimedByAnotherDeviceRejected
            _ = try await w.auth.claim(tenant: w.tenant, device: try await w.authenticated(), transactionID: id, secret: started.payload.secret)
            _ = try await w.auth.claim(tenant: w.tenant, device: try await w.authenticated(), transactionID: id, secret: started.payload.secret) // idempotent
            let other = try await w.addPhone(for: w.user)
            await expectAuthenticatorError(.transactionClaimed) {
                _ = try await w.auth.claim(tenant: w.tenant, device: try await w.authenticated(other), transactionID: id, secret: started.payload.secret)
            }
            // A second device cannot answer a QR it did not claim.
            await expectAuthenticatorError(.loginTransactionUnknown) { _ = try await w.approve(started.transaction, phone: other) }
            // expiredClaimRejected
            let late = try await w.auth.startQR(tenant: w.tenant, issuer: Self.issuer, start: w.start())
            w.clock.advance(by: 121)
            await expectAuthenticatorError(.loginTransactionExpired) {
                _ = try await w.auth.claim(
                    tenant: w.tenant, device: try await w.authenticated(), transactionID: late.transaction.id, secret: late.payload.secret)
            }
            #expect(AuthenticatorService.snapshot(try await w.current(late.transaction), now: w.clock.now()).state == "expired")
        }
    }

    @Test(arguments: Backend.enabled) func approvalSignatureIsBoundToEverything(_ backend: Backend) async throws {
        try await withWorld(backend) { w in
            let started = try await w.auth.startQR(tenant: w.tenant, issuer: Self.issuer, start: w.start())
            let device = try await w.authenticated()
            _ = try await w.auth.claim(tenant: w.tenant, device: device, transactionID: started.transaction.id, secret: started.payload.secret)
            let t = try await w.current(started.transaction)
            let n = t.number!
            // approvalWithOtherOriginRejected
            await expectAuthenticatorError(.approvalSignatureInvalid) {
                _ = try await w.auth.answer(
                    tenant: w.tenant, device: try await w.authenticated(), transactionID: t.id, answer: .approve(number: n),
                    userVerification: "face", signature: try w.signature(t, number: n, decision: .approve, origin: "https://evil.example"))
            }
            // approvalForOtherTransactionRejected
            await expectAuthenticatorError(.approvalSignatureInvalid) {
                _ = try await w.auth.answer(
                    tenant: w.tenant, device: try await w.authenticated(), transactionID: t.id, answer: .approve(number: n),
                    userVerification: "face", signature: try w.signature(t, number: n, decision: .approve, transactionID: "ltx_other"))
            }
            // decisionFieldIsSigned: a signed deny cannot be posted as an approval. Third failure ends it.
            await expectAuthenticatorError(.approvalSignatureInvalid) {
                _ = try await w.auth.answer(
                    tenant: w.tenant, device: try await w.authenticated(), transactionID: t.id, answer: .approve(number: n),
                    userVerification: "face", signature: try w.signature(t, number: "", decision: .deny))
            }
            let ended = try await w.current(t)
            #expect(ended.state == .denied && ended.authenticatorSignIn?.endReason == .tooManyFailures)
            #expect(AuthenticatorService.snapshot(ended, now: w.clock.now()).reason == "failed")
        }
    }

    @Test(arguments: Backend.enabled) func wrongNumberDeniesTransaction(_ backend: Backend) async throws {
        try await withWorld(backend) { w in
            let started = try await w.auth.startQR(tenant: w.tenant, issuer: Self.issuer, start: w.start())
            _ = try await w.auth.claim(
                tenant: w.tenant, device: try await w.authenticated(), transactionID: started.transaction.id, secret: started.payload.secret)
            let t = try await w.current(started.transaction)
            let wrong = t.number == "42" ? "43" : "42"
            await expectAuthenticatorError(.wrongNumber) { _ = try await w.approve(t, number: wrong) }
            let ended = try await w.current(t)
            #expect(ended.state == .denied && ended.authenticatorSignIn?.endReason == .wrongNumber)
            await expectAuthenticatorError(.transactionAnswered) { _ = try await w.approve(t) }
            await expectAuthenticatorError(.loginDenied) {
                _ = try await w.auth.complete(tenant: w.tenant, transactionID: t.id, browserHash: tokenHash("browser-1"), sessions: w.services.sessions)
            }
        }
    }

    @Test(arguments: Backend.enabled) func approvedMustBeCompletedQuickly(_ backend: Backend) async throws {
        try await withWorld(backend) { w in
            let started = try await w.auth.startQR(tenant: w.tenant, issuer: Self.issuer, start: w.start())
            _ = try await w.auth.claim(
                tenant: w.tenant, device: try await w.authenticated(), transactionID: started.transaction.id, secret: started.payload.secret)
            await expectAuthenticatorError(.loginNotApproved) {
                _ = try await w.auth.complete(
                    tenant: w.tenant, transactionID: started.transaction.id, browserHash: tokenHash("browser-1"), sessions: w.services.sessions)
            }
            _ = try await w.approve(try await w.current(started.transaction))
            w.clock.advance(by: 61)
            await expectAuthenticatorError(.loginTransactionExpired) {
                _ = try await w.auth.complete(
                    tenant: w.tenant, transactionID: started.transaction.id, browserHash: tokenHash("browser-1"), sessions: w.services.sessions)
            }
        }
    }

    @Test func amrFollowsUserVerification() {
        #expect(AuthenticatorService.methods(userVerification: "fingerprint").amr == ["swk", "fpt", "user", "mca", "mfa"])
        #expect(AuthenticatorService.methods(userVerification: "presence").amr == ["swk", "user", "mca"])
        #expect(AuthenticatorService.methods(userVerification: "none").amr == ["swk", "mca"])
        #expect(!AuthenticatorService.methods(userVerification: "face").amr.contains("hwk"))
        #expect(AuthenticatorService.browserSummary("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Safari/604.1") == "Safari on iOS")
    }

    // MARK: push

    func pushAndWait(_ w: World, email: String = "ada@example.com", browser: String = "browser-1") async throws -> LoginTransaction {
        let t = try await w.auth.startPush(tenant: w.tenant, issuer: Self.issuer, start: w.start(browser), email: email)
        await w.services.pushDispatcher.drain()
        return try await w.current(t)
    }

    @Test(arguments: Backend.enabled) func pushSignInWithNumberMatching(_ backend: Backend) async throws {
        try await withWorld(backend) { w in
            let t = try await pushAndWait(w, email: " ADA@example.com ")
            #expect(t.userID == w.user.id)
            let snapshot = AuthenticatorService.snapshot(t, now: w.clock.now())
            #expect(snapshot.state == "waiting" && snapshot.number == t.number)
            // pushBodyHasOnlyIds: the notification carries the request and device ids, nothing else.
            let sent = await w.push.sent
            #expect(sent.count == 1 && sent[0].requestID == t.id && sent[0].deviceID == w.phone.device.id && sent[0].deviceToken.value == "apns-token-1")
            let pending = try await w.auth.pending(tenant: w.tenant, device: try await w.authenticated())
            #expect(pending.map(\.transaction) == [t.id] && pending[0].kind == "push")
            #expect(try await w.approve(t).state == "approved")
            let done = try await w.auth.complete(tenant: w.tenant, transactionID: t.id, browserHash: tokenHash("browser-1"), sessions: w.services.sessions)
            #expect(done.user.id == w.user.id)
        }
    }

    @Test(arguments: Backend.enabled) func pushStartIdenticalForUnknownUserAndUserWithoutDevice(_ backend: Backend) async throws {
        try await withWorld(backend) { w in
            _ = try await w.services.users.create(tenantID: w.tenant.id, .init(email: "bob@example.com", givenName: "Bob", familyName: "B"), by: .cli)
            for email in ["nobody@example.com", "bob@example.com"] {
                let t = try await pushAndWait(w, email: email)
                // A decoy: still pending, a number, no user, nothing delivered.
                #expect(t.state == .pending && t.userID == nil && t.number != nil)
                #expect(AuthenticatorService.snapshot(t, now: w.clock.now()).state == "waiting")
            }
            #expect(await w.push.sent.isEmpty)
            let events = try await w.store.audit.list(tenantID: w.tenant.id, page: PageRequest(limit: 50)).items
            let suppressed = events.filter { $0.action == "authenticator.push_suppressed" }
            #expect(Set(suppressed.compactMap(\.reason)) == ["unknown_user", "no_devices"])
            // suppressionAuditHasNoEmail
            let encoded = String(decoding: try JSONEncoder().encode(events), as: UTF8.self)
            #expect(!encoded.contains("nobody@example.com"))
        }
    }

    @Test(arguments: Backend.enabled) func pushLimitsSupersedeAndSpacing(_ backend: Backend) async throws {
        try await withWorld(backend) { w in
            let first = try await pushAndWait(w)
            // pushSpacingEnforced: a second push within 30 s is a decoy.
            w.clock.advance(by: 10)
            let early = try await pushAndWait(w)
            let firstNow = try await w.current(first)
            #expect(early.userID == nil && firstNow.state == .pending)
            // newPushSupersedesPending
            w.clock.advance(by: 25)
            let second = try await pushAndWait(w)
            #expect(second.userID == w.user.id)
            let old = try await w.current(first)
            #expect(old.state == .denied && AuthenticatorService.snapshot(old, now: w.clock.now()).reason == "superseded")
            // pushLimitPerUser: 5 per 15 minutes.
            for _ in 0..<3 {
                w.clock.advance(by: 31)
                #expect(try await pushAndWait(w).userID == w.user.id)
            }
            w.clock.advance(by: 31)
            #expect(try await pushAndWait(w).userID == nil)
            w.clock.advance(by: 15 * 60)
            #expect(try await pushAndWait(w).userID == w.user.id)
            #expect(await w.push.sent.count == 6)
        }
    }

    @Test(arguments: Backend.enabled) func reportBlocksPushes(_ backend: Backend) async throws {
        try await withWorld(backend) { w in
            let t = try await pushAndWait(w)
            let device = try await w.authenticated()
            let result = try await w.auth.answer(
                tenant: w.tenant, device: device, transactionID: t.id, answer: .report, userVerification: "none",
                signature: try w.signature(t, number: "", decision: .report, uv: .none))
            #expect(result.state == "denied")
            let reported = try await w.current(t)
            #expect(reported.authenticatorSignIn?.endReason == .reported && AuthenticatorService.snapshot(reported, now: w.clock.now()).reason == "declined")
            w.clock.advance(by: 60)
            #expect(try await pushAndWait(w).userID == nil) // blocked for 15 minutes
            w.clock.advance(by: 15 * 60)
            #expect(try await pushAndWait(w).userID == w.user.id)
            let events = try await w.store.audit.list(tenantID: w.tenant.id, page: PageRequest(limit: 50)).items
            #expect(events.contains { $0.action == "authenticator.reported" && $0.after?["client_ip"] == "203.0.113.7" })
            #expect(events.contains { $0.action == "authenticator.push_suppressed" && $0.reason == "reported_block" })
        }
    }

    @Test(arguments: Backend.enabled) func unregisteredTokenIsCleared(_ backend: Backend) async throws {
        try await withWorld(backend) { w in
            await w.push.setOutcome(.unregistered)
            _ = try await pushAndWait(w)
            #expect(try await w.store.authenticatorDevices.get(tenantID: w.tenant.id, id: w.phone.device.id).sealedPushToken == nil)
            let events = try await w.store.audit.list(tenantID: w.tenant.id, page: PageRequest(limit: 50)).items
            #expect(events.contains { $0.action == "authenticator.push_delivery_failed" })
        }
    }

    @Test(arguments: Backend.enabled) func cancelEndsAPendingRequest(_ backend: Backend) async throws {
        try await withWorld(backend) { w in
            let t = try await pushAndWait(w)
            try await w.auth.cancel(tenant: w.tenant, transactionID: t.id, browserHash: tokenHash("browser-1"))
            let cancelled = try await w.current(t)
            #expect(AuthenticatorService.snapshot(cancelled, now: w.clock.now()).reason == "cancelled")
            #expect(try await w.auth.pending(tenant: w.tenant, device: try await w.authenticated()).isEmpty)
        }
    }
}
