import Crypto
import Foundation
import SigilAuthenticatorProtocol
import SigilCore
import SigilFlows
import SigilSAML
import SigilServices
import SigilStore
import SigilTestSupport
import Testing

/// A flow service loads its row, feeds one event to the flow's state machine, and stores the
/// machine's record together with the action's effects (audit events, users, devices, passkeys,
/// sessions, participants) in ONE store transaction. Each test arms a write inside the step to
/// fail (`FaultInjectingStore`), checks that nothing of the step was committed, then heals the
/// store and shows the same step succeeding exactly once.
@Suite("Flow services: one transaction per step")
struct FlowTransactionTests {
    static let issuer = ServiceHarness.issuer

    // MARK: authenticator sign-in (AuthenticatorSignInStateMachine)

    @Test(arguments: Backend.enabled) func authenticatorApprovalIsStoredWithItsAuditEvent(_ backend: Backend) async throws {
        try await AuthenticatorServiceTests().withWorld(backend) { w in
            let started = try await w.auth.startQR(tenant: w.tenant, issuer: Self.issuer, start: w.start())
            _ = try await w.auth.claim(
                tenant: w.tenant, device: try await w.authenticated(), transactionID: started.transaction.id,
                secret: started.payload.secret)
            let claimed = try await w.current(started.transaction)
            w.h.faults.fail(.auditAppend("authenticator.approved"))
            await expectInjected { _ = try await w.approve(claimed) }
            w.h.faults.heal()
            let after = try await w.current(claimed)
            #expect(after.state == .pending && after.version == claimed.version)
            #expect(AuthenticatorService.snapshot(after, now: w.clock.now()).state == "scanned")
            #expect(!(try await w.h.auditActions()).contains("authenticator.approved"))

            #expect(try await w.approve(after).state == "approved")
            #expect(try await w.current(claimed).state == .approved)
            #expect(try await w.h.auditActions().filter { $0 == "authenticator.approved" }.count == 1)
        }
    }

    @Test(arguments: Backend.enabled) func aWrongNumberOrAReportIsStoredWithItsAuditEvent(_ backend: Backend) async throws {
        let suite = AuthenticatorServiceTests()
        try await suite.withWorld(backend) { w in
            // QR: a wrong number ends the transaction; without its audit event it stays claimed.
            let started = try await w.auth.startQR(tenant: w.tenant, issuer: Self.issuer, start: w.start())
            _ = try await w.auth.claim(
                tenant: w.tenant, device: try await w.authenticated(), transactionID: started.transaction.id,
                secret: started.payload.secret)
            let t = try await w.current(started.transaction)
            let wrong = t.number == "42" ? "43" : "42"
            w.h.faults.fail(.auditAppend("authenticator.wrong_number"))
            await expectInjected { _ = try await w.approve(t, number: wrong) }
            w.h.faults.heal()
            #expect(try await w.current(t).state == .pending)
            #expect(try await w.approve(t).state == "approved")

            // Push: "this wasn't me" denies and blocks the user's pushes; without its audit event,
            // neither the denial nor the block is stored.
            let push = try await suite.pushAndWait(w)
            #expect(push.userID == w.user.id)
            w.h.faults.fail(.auditAppend("authenticator.reported"))
            await expectInjected {
                _ = try await w.auth.answer(
                    tenant: w.tenant, device: try await w.authenticated(), transactionID: push.id, answer: .report,
                    userVerification: "none", signature: try w.signature(push, number: "", decision: .report, uv: .none))
            }
            w.h.faults.heal()
            #expect(try await w.current(push).state == .pending)
            #expect(!(try await w.h.auditActions()).contains("authenticator.reported"))
            w.clock.advance(by: 31)
            #expect(try await suite.pushAndWait(w).userID == w.user.id, "the report's block was stored without the report")
        }
    }

    @Test(arguments: Backend.enabled) func completingAnApprovedSignInStartsTheSessionInTheSameCommit(_ backend: Backend) async throws {
        try await AuthenticatorServiceTests().withWorld(backend) { w in
            let started = try await w.auth.startQR(tenant: w.tenant, issuer: Self.issuer, start: w.start())
            _ = try await w.auth.claim(
                tenant: w.tenant, device: try await w.authenticated(), transactionID: started.transaction.id,
                secret: started.payload.secret)
            _ = try await w.approve(try await w.current(started.transaction))
            w.h.faults.fail(.auditAppend("session.started"))
            await expectInjected {
                _ = try await w.auth.complete(
                    tenant: w.tenant, transactionID: started.transaction.id, browserHash: tokenHash("browser-1"),
                    sessions: w.services.sessions)
            }
            w.h.faults.heal()
            #expect(try await w.current(started.transaction).state == .approved)
            #expect(try await w.store.sessions.listActive(tenantID: w.tenant.id, userID: w.user.id, now: w.clock.now()).isEmpty)

            let done = try await w.auth.complete(
                tenant: w.tenant, transactionID: started.transaction.id, browserHash: tokenHash("browser-1"),
                sessions: w.services.sessions)
            #expect(done.user.id == w.user.id)
            #expect(try await w.current(started.transaction).state == .completed)
            #expect(try await w.store.sessions.listActive(tenantID: w.tenant.id, userID: w.user.id, now: w.clock.now()).map(\.id) == [done.session.id])
        }
    }

    // MARK: device enrolment (DeviceEnrolmentStateMachine)

    /// A first-administrator link and the enrolment started from it.
    func firstAdminLink(_ h: ServiceHarness) async throws -> (token: String, link: EnrolmentToken) {
        let (url, _) = try await h.services.enrolment.createFirstAdminLink(tenant: h.tenant, issuer: Self.issuer, by: .system)
        let token = String(url.value.split(separator: "/").last!)
        return (token, try #require(try await h.services.enrolment.usableLink(token: token, tenantID: h.tenant.id)))
    }

    static let grace = NewUser(email: "grace@example.com", givenName: "Grace", familyName: "Hopper")

    @Test(arguments: Backend.enabled) func deviceEnrolmentFromALinkConsumesItCreatesTheUserAndTheDeviceInOneCommit(_ backend: Backend) async throws {
        try await withServices(backend) { h in
            let (token, link) = try await firstAdminLink(h)
            let enrolment = h.services.authenticatorEnrolment
            let started = try await enrolment.start(
                enrolment: link, linkHash: tokenHash(token), newUser: Self.grace, issuer: Self.issuer,
                origin: Self.issuer, browserHash: tokenHash("browser"), returnTo: "/account")
            let userID = try #require(started.transaction.userID)
            let key = P256.Signing.PrivateKey()
            let publicKey = Base64URL.encode(Array(key.publicKey.x963Representation))
            let message = try CanonicalMessage.enrolment(
                issuer: Self.issuer, transactionID: started.transaction.id,
                challenge: started.transaction.challenge, publicKey: publicKey)
            let registration = AuthenticatorEnrolment.Registration(
                transactionID: started.transaction.id, secret: started.payload.secret, publicKey: publicKey, name: "Grace's phone",
                platform: "cli", keyProtection: "software", proof: try DeviceSignature.sign(message, with: key))

            // Either write failing undoes the others: the row, the link, the user, the device.
            for action in ["user.created", "authenticator.device_registered"] {
                h.faults.fail(.auditAppend(action))
                await expectInjected { _ = try await enrolment.register(tenant: h.tenant, registration) }
                h.faults.heal()
                #expect(try await h.row(started.transaction.id).state == .pending, "\(action)")
                #expect(try await h.services.enrolment.usableLink(token: token, tenantID: h.tenant.id) != nil, "\(action)")
                #expect(try await h.store.users.find(tenantID: h.tenant.id, email: Self.grace.email) == nil, "\(action)")
                #expect(try await h.store.authenticatorDevices.list(tenantID: h.tenant.id, userID: userID).isEmpty, "\(action)")
            }

            let (device, user) = try await enrolment.register(tenant: h.tenant, registration)
            #expect(user.id == userID && user.email == Self.grace.email && user.roles == [User.adminRole])
            let row = try await h.row(started.transaction.id)
            #expect(row.state == .completed && row.deviceID == device.id)
            #expect(try await h.services.enrolment.usableLink(token: token, tenantID: h.tenant.id) == nil)
            let actions = try await h.auditActions()
            #expect(actions.filter { $0 == "user.created" }.count == 1 && actions.filter { $0 == "authenticator.device_registered" }.count == 1)
            await expectAuthenticatorError(.enrolmentLinkInvalid) { _ = try await enrolment.register(tenant: h.tenant, registration) }
        }
    }

    // MARK: passkeys (PasskeyCeremonyStateMachine)

    @Test(arguments: Backend.enabled) func passkeyRegistrationFromALinkCommitsTheCeremonyLinkUserAndPasskeyTogether(_ backend: Backend) async throws {
        try await withServices(backend) { h in
            let (token, _) = try await firstAdminLink(h)
            let userID = h.context.ids.make(.user)
            let (ceremony, _) = try await h.services.passkeys.beginRegistration(
                tenantID: h.tenant.id, issuer: Self.issuer, owner: .init(userID: userID, email: Self.grace.email, displayName: "Grace Hopper"),
                excludeCredentialIDs: [], purpose: .enrolment(linkHash: tokenHash(token), newUser: Self.grace))
            let passkey = SoftwarePasskey()
            let response = passkey.registration(challenge: ceremony.challenge, origin: Self.issuer)
            func finish() async throws -> (User, Passkey) {
                try await h.services.enrolment.finishPasskeyEnrolment(
                    tenantID: h.tenant.id, issuer: Self.issuer, token: token,
                    transactionID: ceremony.id, response: response, name: "Laptop")
            }

            for action in ["user.created", "passkey.registered"] {
                h.faults.fail(.auditAppend(action))
                await expectInjected { _ = try await finish() }
                h.faults.heal()
                #expect(try await h.row(ceremony.id).state == .pending, "\(action)")
                #expect(try await h.services.enrolment.usableLink(token: token, tenantID: h.tenant.id) != nil, "\(action)")
                #expect(try await h.store.users.find(tenantID: h.tenant.id, email: Self.grace.email) == nil, "\(action)")
                await #expect(throws: StoreError.self, "\(action)") {
                    _ = try await h.store.passkeys.get(tenantID: h.tenant.id, credentialID: passkey.credentialIDText)
                }
            }

            let (user, stored) = try await finish()
            #expect(user.id == userID && user.roles == [User.adminRole] && stored.userID == userID)
            #expect(try await h.row(ceremony.id).state == .completed)
            #expect(try await h.services.enrolment.usableLink(token: token, tenantID: h.tenant.id) == nil)
            #expect(try await h.store.passkeys.get(tenantID: h.tenant.id, credentialID: passkey.credentialIDText).userID == userID)
            await #expect(throws: ServiceError.self) { _ = try await finish() }
        }
    }

    @Test(arguments: Backend.enabled) func passkeySignInCommitsTheCeremonyWithTheNewSignCount(_ backend: Backend) async throws {
        try await withServices(backend) { h in
            let user = try await h.user()
            let passkey = SoftwarePasskey()
            _ = try await h.store.passkeys.create(passkey.record(tenantID: h.tenant.id, userID: user.id, signCount: 5))
            let (ceremony, _) = try await h.services.passkeys.beginAuthentication(tenantID: h.tenant.id, issuer: Self.issuer, returnTo: "/account")
            let assertion = try passkey.assertion(challenge: ceremony.challenge, origin: Self.issuer, userID: user.id, signCount: 6)
            func finish() async throws -> PasskeyService.SignIn {
                try await h.services.passkeys.finishAuthentication(
                    tenantID: h.tenant.id, issuer: Self.issuer, transactionID: ceremony.id,
                    response: assertion)
            }

            h.faults.fail(.passkeyUse)
            await expectInjected { _ = try await finish() }
            h.faults.heal()
            #expect(try await h.row(ceremony.id).state == .pending)
            #expect(try await h.store.passkeys.get(tenantID: h.tenant.id, credentialID: passkey.credentialIDText).signCount == 5)

            let signIn = try await finish()
            #expect(signIn.user.id == user.id && signIn.returnTo == "/account" && !signIn.possibleClone)
            let row = try await h.row(ceremony.id)
            #expect(row.state == .completed && row.userID == user.id)
            #expect(try await h.store.passkeys.get(tenantID: h.tenant.id, credentialID: passkey.credentialIDText).signCount == 6)
            await #expect(throws: ServiceError.self) { _ = try await finish() }
        }
    }

    // MARK: SAML SSO (SAMLAuthnRequestStateMachine)

    static func registerSP(_ h: ServiceHarness, _ name: String) async throws -> Application {
        try await h.services.applications.createSAML(
            tenantID: h.tenant.id,
            .init(
                name: name,
                settings: SAMLServiceProviderSettings(
                    entityID: "https://\(name).example.net/metadata",
                    assertionConsumerServices: [.init(url: "https://\(name).example.net/acs", isDefault: true)],
                    singleLogoutURL: "https://\(name).example.net/slo")), by: .cli)
    }

    static func authnRequest(_ sp: Application, now: Date, id: String = "_r" + UUID().uuidString.prefix(8)) -> SAMLInboundMessage {
        SAMLInboundMessage(
            xml: Array(
                """
                <samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="\(id)" Version="2.0" IssueInstant="\(SAMLTime.format(now))" Destination="\(SAMLIdentityProviderService.ssoURL(issuer: issuer))"><saml:Issuer>\(sp.entityID ?? "")</saml:Issuer></samlp:AuthnRequest>
                """.utf8), relayState: nil, binding: .redirect)
    }

    @Test(arguments: Backend.enabled) func samlResumeAnswersWithTheRowParticipantAndAuditEventInOneCommit(_ backend: Backend) async throws {
        try await withServices(backend) { h in
            let user = try await h.user()
            let sp = try await Self.registerSP(h, "spa")
            let received = try await h.services.saml.receive(
                Self.authnRequest(sp, now: h.clock.now()), tenantID: h.tenant.id,
                issuer: Self.issuer, session: nil)
            guard case .login(.continueSSO(let t, let k), _) = received else {
                Issue.record("expected a trip through the login, got \(received)")
                return
            }
            let (session, _) = try await h.services.sessions.start(tenantID: h.tenant.id, userID: user.id, amr: ["hwk", "user"], acr: "phrh")
            func resume() async throws -> SAMLIdentityProviderService.Outcome {
                try await h.services.saml.resume(transactionID: t, key: k, tenantID: h.tenant.id, issuer: Self.issuer, session: (session, user))
            }

            h.faults.fail(.auditAppend("saml.sso.responded"))
            await expectInjected { _ = try await resume() }
            h.faults.heal()
            #expect(try await h.row(t).state == .pending)
            #expect(try await h.store.sessionParticipants.list(tenantID: h.tenant.id, sessionID: session.id).isEmpty)

            guard case .post(let form) = try await resume() else {
                Issue.record("the healed resume did not answer")
                return
            }
            #expect(form.action == "https://spa.example.net/acs" && form.field == "SAMLResponse")
            #expect(try await h.row(t).state == .completed)
            #expect(try await h.store.sessionParticipants.list(tenantID: h.tenant.id, sessionID: session.id).map(\.applicationID) == [sp.id])

            // The same browser again (a reload): the repeat event and the Response's event commit together.
            h.faults.fail(.auditAppend("saml.sso.responded"))
            await expectInjected { _ = try await resume() }
            h.faults.heal()
            var actions = try await h.auditActions()
            #expect(!actions.contains("saml.sso.repeated") && actions.filter { $0 == "saml.sso.responded" }.count == 1)
            guard case .post = try await resume() else {
                Issue.record("the repeated resume did not answer again")
                return
            }
            actions = try await h.auditActions()
            #expect(actions.filter { $0 == "saml.sso.repeated" }.count == 1 && actions.filter { $0 == "saml.sso.responded" }.count == 2)
        }
    }

    // MARK: SAML single logout (SAMLLogoutChainStateMachine)

    /// A session signed in to two SAML SPs (both with a logout URL).
    static func signedInToTwoSPs(_ h: ServiceHarness) async throws -> (User, Session, Application, Application) {
        let user = try await h.user()
        let (session, _) = try await h.services.sessions.start(tenantID: h.tenant.id, userID: user.id, amr: ["hwk", "user"], acr: "phrh")
        let a = try await registerSP(h, "spa"), b = try await registerSP(h, "spb")
        for sp in [a, b] {
            let outcome = try await h.services.saml.receive(
                authnRequest(sp, now: h.clock.now()), tenantID: h.tenant.id, issuer: issuer,
                session: (session, user))
            guard case .post = outcome else { throw SAMLError(.unsupported, "no Response for \(sp.name): \(outcome)") }
        }
        return (user, session, a, b)
    }

    /// The logout chains in progress for `user`: who is being waited for.
    static func hopsInFlight(_ h: ServiceHarness, _ user: User) async throws -> [String?] {
        try await h.store.loginTransactions.listPending(tenantID: h.tenant.id, userID: user.id, kind: .samlLogout, now: h.clock.now())
            .compactMap { row -> String?? in
                guard case .propagation(let chain)? = row.samlLogout else { return nil }
                return .some(chain.current?.app)
            }
    }

    /// Signing out ends the session, stores the chain and sends the first SP its LogoutRequest: the
    /// session's end, the hop recorded as sent and `saml.slo.propagated` belong in one commit.
    @Test(arguments: Backend.enabled) func logoutStepRecordsTheHopWithItsAuditEvent(_ backend: Backend) async throws {
        try await withServices(backend) { h in
            let (user, session, _, _) = try await Self.signedInToTwoSPs(h)
            h.faults.fail(.auditAppend("saml.slo.propagated"))
            await expectInjected {
                _ = try await h.services.saml.signOut(session, tenantID: h.tenant.id, issuer: Self.issuer, reason: "test", finish: nil)
            }
            h.faults.heal()
            let hops = try await Self.hopsInFlight(h, user)
            #expect(!(try await h.auditActions()).contains("saml.slo.propagated"))
            // The session's end, the chain and its first hop are one commit: nothing of it was stored,
            // and the session is still there to sign out of.
            #expect(hops.isEmpty, "a chain or hop was stored without its audit event: \(hops)")
            #expect(!(try await h.auditActions()).contains("session.ended"))
            // Healed, the same sign-out goes through once, with the hop and its event.
            guard
                case .post = try await h.services.saml.signOut(
                    session, tenantID: h.tenant.id, issuer: Self.issuer, reason: "test",
                    finish: nil)
            else {
                Issue.record("the healed sign-out did not send a LogoutRequest")
                return
            }
            #expect(try await Self.hopsInFlight(h, user).count == 1)
            #expect(try await h.auditActions().filter { $0 == "saml.slo.propagated" }.count == 1)
        }
    }

    /// `advance` closes the hop the chain waits for and sends the next: closing, sending and their
    /// audit events belong in one commit.
    @Test(arguments: Backend.enabled) func logoutAdvanceMovesOnWithItsAuditEvent(_ backend: Backend) async throws {
        try await withServices(backend) { h in
            let (user, session, a, b) = try await Self.signedInToTwoSPs(h)
            let first = try await h.services.saml.signOut(session, tenantID: h.tenant.id, issuer: Self.issuer, reason: "test", finish: nil)
            guard case .post(let form) = first, let stateID = form.relayState else {
                Issue.record("expected a LogoutRequest to the first SP, got \(first)")
                return
            }
            let waiting = try #require(try await Self.hopsInFlight(h, user).first ?? nil)
            #expect([a.id, b.id].contains(waiting))
            let sentBefore = try await h.auditActions().filter { $0 == "saml.slo.propagated" }.count

            h.faults.fail(.auditAppend("saml.slo.propagated"))
            await expectInjected { _ = try await h.services.saml.continueLogout(stateID: stateID, tenantID: h.tenant.id, issuer: Self.issuer) }
            h.faults.heal()
            #expect(try await h.auditActions().filter { $0 == "saml.slo.propagated" }.count == sentBefore)
            let hops = try await Self.hopsInFlight(h, user)
            #expect(hops == [waiting], "the chain moved on without its audit event: \(hops)")

            // The skip is one step: closing the hop and sending the next belong together. When only
            // the next hop's event fails, the closed hop must not be committed on its own either:
            // a chain with no hop in flight and an SP still queued is continued by nothing
            // (`continueLogout` answers "signed out", not partial, and the SP is never told).
            h.faults.fail(.auditAppend("saml.slo.propagated", outcome: .success))
            await expectInjected { _ = try await h.services.saml.continueLogout(stateID: stateID, tenantID: h.tenant.id, issuer: Self.issuer) }
            h.faults.heal()
            let stranded = try await Self.hopsInFlight(h, user)
            #expect(stranded == [waiting], "the hop was closed without the next one being sent: \(stranded)")
            if stranded == [waiting] {
                // Healed, the skip moves on to the other SP, once, with its event.
                guard case .post(let next) = try await h.services.saml.continueLogout(stateID: stateID, tenantID: h.tenant.id, issuer: Self.issuer) else {
                    Issue.record("the healed continue did not send the next LogoutRequest")
                    return
                }
                let other = waiting == a.id ? b : a
                #expect(next.action == "https://\(other.name).example.net/slo" && next.field == "SAMLRequest")
                #expect(try await Self.hopsInFlight(h, user) == [other.id])
            }
        }
    }
}
