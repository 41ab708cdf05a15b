import Foundation
import SigilCore
import SigilJOSE
import SigilSAML
import SigilServices
import SigilStore
import SigilTestSupport
import SigilXML
import Testing
import X509
import _CryptoExtras

/// Sign-in through an upstream SAML IdP, through the service on both backends: the request and
/// its flow row, the ACS, the browser step, JIT provisioning, linking, replay and login CSRF.
@Suite struct UpstreamSAMLServiceTests {
    static let idpEntity = "https://okta.example/exk1"

    /// The upstream IdP: a key, its certificate, and Sigil's own Response builder signing as it.
    struct IdP {
        let key: _RSA.Signing.PrivateKey
        let pem: String
        var signer: XMLSigner { XMLSigner(key: .rsa(key), certificate: try! Certificate(pemEncoded: pem)) }

        init() throws {
            let material = try SigningKeyMaterial.generate(.rs256)
            key = try _RSA.Signing.PrivateKey(derRepresentation: material.privateKeyDER.value)
            pem = try SigningCertificate.make(
                for: material, commonName: "okta", serialNumber: Array(repeating: 9, count: 16), notBefore: ServiceHarness.start.addingTimeInterval(-86_400),
                notAfter: ServiceHarness.start.addingTimeInterval(365 * 86_400))
        }

        func response(to requestID: String?, email: String, now: Date, nameID: String? = nil) throws -> String {
            let sp = UpstreamService.spValues(issuer: ServiceHarness.issuer, name: "okta")
            let builder = SAMLResponseBuilder(signer: signer, random: SystemRandom())
            let bytes = try builder.response(
                SAMLAssertionContent(
                    issuer: UpstreamSAMLServiceTests.idpEntity, acsURL: sp.acsURL, audience: sp.entityID, inResponseTo: requestID,
                    nameID: nameID ?? email, nameIDFormat: .emailAddress, sessionIndex: "_s", authnInstant: now,
                    authnContextClassRef: "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport",
                    attributes: [
                        SAMLAttribute(name: "email", values: [email]), SAMLAttribute(name: "firstName", values: ["Grace"]),
                        SAMLAttribute(name: "lastName", values: ["Hopper"]),
                    ]), now: now)
            return Data(bytes).base64EncodedString()
        }
    }

    func connect(_ h: ServiceHarness, _ idp: IdP, linkDomains: [String] = [], unsolicited: Bool = false, slo: String? = nil) async throws
        -> UpstreamConnection
    {
        try await h.services.upstreams.createSAML(
            tenantID: h.tenant.id,
            .init(
                name: "okta", displayName: "Okta",
                metadata: .manual(
                    entityID: Self.idpEntity, ssoURL: "https://okta.example/sso", ssoBinding: "redirect", sloURL: slo, certificatesPEM: [idp.pem]),
                emailDomains: ["example.org"], linkDomains: linkDomains, allowUnsolicited: unsolicited),
            by: .cli)
    }

    /// Starts a sign-in for `browser`; returns the AuthnRequest's ID.
    func begin(_ h: ServiceHarness, browser: String, returnTo: String = "/oauth2/authorize?x=1") async throws -> String {
        let out = try await h.services.upstreams.begin(
            tenantID: h.tenant.id, issuer: ServiceHarness.issuer, name: "okta", returnTo: returnTo, browserHash: tokenHash(browser))
        guard case .redirect(let url) = out else { throw SigilError(.internalFailure, "not a redirect") }
        #expect(url.hasPrefix("https://okta.example/sso?SAMLRequest="))
        let message = try SAMLRedirectBinding.decode(rawQuery: String(url.split(separator: "?", maxSplits: 1)[1]))
        // Signed with the connection's key (its certificate is in Sigil's SP metadata).
        let c = try #require(try await h.store.upstreams.find(tenantID: h.tenant.id, name: "okta"))
        try SAMLRedirectBinding.verify(try #require(message.redirectSignature), certificate: try Certificate(pemEncoded: c.saml!.spCertificatePEM))
        return try AuthnRequest.parse(message.xml).id
    }

    func reason(_ body: () async throws -> Void) async -> String? {
        do { try await body() } catch let r as UpstreamService.Rejected { return r.reason } catch { return "other: \(error)" }
        return nil
    }

    @Test(arguments: Backend.enabled) func signInProvisionsThenLinksAndRefusesReplay(_ backend: Backend) async throws {
        try await withServices(backend) { h in
            let idp = try IdP()
            _ = try await connect(h, idp)
            let up = h.services.upstreams
            let id = try await begin(h, browser: "browser-a")
            let form = ["SAMLResponse": try idp.response(to: id, email: "grace@example.org", now: h.clock.now()), "RelayState": "x"]
            let accepted = try await up.consumeResponse(tenantID: h.tenant.id, issuer: ServiceHarness.issuer, name: "okta", form: form)
            // The same Response again: the request is answered and the assertion ID is spent.
            #expect(
                await reason { _ = try await up.consumeResponse(tenantID: h.tenant.id, issuer: ServiceHarness.issuer, name: "okta", form: form) } == "replayed")
            let signedIn = try await up.continueSignIn(
                tenantID: h.tenant.id, name: "okta", flowID: accepted.flowID, key: accepted.key, browserHash: tokenHash("browser-a"))
            #expect(signedIn.user.email == "grace@example.org" && signedIn.user.givenName == "Grace" && signedIn.user.familyName == "Hopper")
            #expect(signedIn.returnTo == "/oauth2/authorize?x=1" && signedIn.session.amr == ["fed"])
            // The continue step is one-time too.
            #expect(
                await reason {
                    _ = try await up.continueSignIn(
                        tenantID: h.tenant.id, name: "okta", flowID: accepted.flowID, key: accepted.key, browserHash: tokenHash("browser-a"))
                } == "replayed")
            // A second sign-in of the same upstream subject reaches the same user, through the link.
            let id2 = try await begin(h, browser: "browser-a")
            let a2 = try await up.consumeResponse(
                tenantID: h.tenant.id, issuer: ServiceHarness.issuer, name: "okta",
                form: ["SAMLResponse": try idp.response(to: id2, email: "grace@example.org", now: h.clock.now())])
            let again = try await up.continueSignIn(tenantID: h.tenant.id, name: "okta", flowID: a2.flowID, key: a2.key, browserHash: tokenHash("browser-a"))
            #expect(again.user.id == signedIn.user.id)
            let users = try await h.store.users.list(tenantID: h.tenant.id, page: PageRequest(limit: 10)).items
            #expect(users.count == 1)
            let actions = try await h.auditActions()
            #expect(actions.filter { $0 == "upstream.saml.accepted" }.count == 2 && actions.contains("user.created"))
            #expect(actions.contains("upstream.saml.rejected"))
            // The SAML trace: every attempt, its checks in plain language, nothing personal.
            let traces = try await up.traces(tenantID: h.tenant.id, name: "okta", by: .cli)
            #expect(traces.map { $0.outcome }.sorted() == ["accepted", "accepted", "rejected"])
            let good = try #require(traces.first { $0.outcome == "accepted" })
            #expect(good.data.checks.allSatisfy { $0.passed })
            #expect(
                ["request", "parse", "response signature", "assertion", "bearer confirmation", "conditions"].allSatisfy { name in
                    good.data.checks.contains { $0.name == name }
                })
            let replay = try #require(traces.first { $0.outcome == "rejected" })
            #expect(replay.reason == "replayed" && replay.data.checks.last?.passed == false)
            for trace in traces {
                let text = trace.data.messages.map { $0.xml }.joined() + trace.data.checks.map { $0.detail }.joined()
                #expect(!text.contains("grace@example.org") && !text.contains("Grace") && text.contains("[redacted"))
            }
            #expect(try await up.trace(tenantID: h.tenant.id, id: good.id, by: .cli) == good)
        }
    }

    @Test(arguments: Backend.enabled) func anotherBrowserCannotFinishTheSignIn(_ backend: Backend) async throws {
        try await withServices(backend) { h in
            let idp = try IdP()
            _ = try await connect(h, idp)
            let up = h.services.upstreams
            let id = try await begin(h, browser: "attacker")
            let accepted = try await up.consumeResponse(
                tenantID: h.tenant.id, issuer: ServiceHarness.issuer, name: "okta",
                form: ["SAMLResponse": try idp.response(to: id, email: "mallory@example.org", now: h.clock.now())])
            // Login CSRF: the victim's browser submits the attacker's continue step.
            #expect(
                await reason {
                    _ = try await up.continueSignIn(
                        tenantID: h.tenant.id, name: "okta", flowID: accepted.flowID, key: accepted.key, browserHash: tokenHash("victim"))
                } == "otherBrowser")
            // The flow is over for everyone, and nobody was provisioned.
            #expect(
                await reason {
                    _ = try await up.continueSignIn(
                        tenantID: h.tenant.id, name: "okta", flowID: accepted.flowID, key: accepted.key, browserHash: tokenHash("attacker"))
                } == "replayed")
            #expect(try await h.store.users.list(tenantID: h.tenant.id, page: PageRequest(limit: 10)).items.isEmpty)
            // Its trace says so: accepted at the ACS, refused at the browser step.
            let trace = try #require(try await up.traces(tenantID: h.tenant.id, name: "okta", by: .cli).first { $0.flowID == accepted.flowID })
            #expect(trace.outcome == "rejected" && trace.reason == "otherBrowser" && trace.data.checks.last?.name == "browser step")
            // A response to no request started here, and an unsolicited one, are refused.
            #expect(
                await reason {
                    _ = try await up.consumeResponse(
                        tenantID: h.tenant.id, issuer: ServiceHarness.issuer, name: "okta",
                        form: ["SAMLResponse": try idp.response(to: "_unknown", email: "x@example.org", now: h.clock.now())])
                } == "unexpectedResponse")
            #expect(
                await reason {
                    _ = try await up.consumeResponse(
                        tenantID: h.tenant.id, issuer: ServiceHarness.issuer, name: "okta",
                        form: ["SAMLResponse": try idp.response(to: nil, email: "x@example.org", now: h.clock.now())])
                } == "unsolicited")
            // Late: past the sign-in's lifetime the response is refused.
            let late = try await begin(h, browser: "attacker")
            h.clock.advance(by: UpstreamService.loginLifetime + 1)
            #expect(
                await reason {
                    _ = try await up.consumeResponse(
                        tenantID: h.tenant.id, issuer: ServiceHarness.issuer, name: "okta",
                        form: ["SAMLResponse": try idp.response(to: late, email: "x@example.org", now: h.clock.now())])
                } == "expired")
        }
    }

    @Test(arguments: Backend.enabled) func existingUsersAreLinkedOnlyForTrustedDomains(_ backend: Backend) async throws {
        try await withServices(backend) { h in
            let idp = try IdP()
            _ = try await connect(h, idp)
            let existing = try await h.user("ada@example.org")
            let up = h.services.upstreams
            func signIn(_ email: String) async throws -> UpstreamService.SignedIn {
                let id = try await begin(h, browser: "b")
                let a = try await up.consumeResponse(
                    tenantID: h.tenant.id, issuer: ServiceHarness.issuer, name: "okta",
                    form: ["SAMLResponse": try idp.response(to: id, email: email, now: h.clock.now())])
                return try await up.continueSignIn(tenantID: h.tenant.id, name: "okta", flowID: a.flowID, key: a.key, browserHash: tokenHash("b"))
            }
            // Not trusted for example.org: the existing account is not claimed by email.
            #expect(await reason { _ = try await signIn("ada@example.org") } == "linkNotTrusted")
            // An owner with a passkey proves the account instead, and the link is made then.
            let grace = try await h.user("grace@example.org", given: "Grace", family: "Hopper")
            let key = SoftwarePasskey(id: 3)
            _ = try await h.store.passkeys.create(key.record(tenantID: h.tenant.id, userID: grace.id, signCount: 0))
            let id = try await begin(h, browser: "g")
            let a = try await up.consumeResponse(
                tenantID: h.tenant.id, issuer: ServiceHarness.issuer, name: "okta",
                form: ["SAMLResponse": try idp.response(to: id, email: "grace@example.org", now: h.clock.now())])
            guard
                case .stepUp(let flow) = try await up.continueBrowserStep(
                    tenantID: h.tenant.id, name: "okta", flowID: a.flowID, key: a.key, browserHash: tokenHash("g"))
            else {
                Issue.record("no proof asked for")
                return
            }
            let (ceremony, _) = try await up.stepUpOptions(tenantID: h.tenant.id, issuer: ServiceHarness.issuer, flowID: flow, browserHash: tokenHash("g"))
            let proved = try await up.finishStepUp(
                tenantID: h.tenant.id, issuer: ServiceHarness.issuer, flowID: flow, browserHash: tokenHash("g"), transactionID: ceremony.id,
                response: try key.assertion(challenge: ceremony.challenge, origin: ServiceHarness.issuer, userID: grace.id, signCount: 1))
            #expect(proved.user.id == grace.id)
            let connection = try #require(try await h.store.upstreams.find(tenantID: h.tenant.id, name: "okta"))
            #expect(try await h.store.upstreams.link(tenantID: h.tenant.id, connectionID: connection.id, subject: "grace@example.org")?.userID == grace.id)
            // Trusted: linked to the existing user.
            _ = try await h.services.upstreams.delete(tenantID: h.tenant.id, name: "okta", by: .cli)
            _ = try await connect(h, idp, linkDomains: ["example.org"])
            #expect(try await signIn("ada@example.org").user.id == existing.id)
            // A disabled user stays out, even linked.
            _ = try await h.services.users.update(tenantID: h.tenant.id, id: existing.id, .init(status: .disabled), expectedVersion: nil, by: .cli)
            #expect(await reason { _ = try await signIn("ada@example.org") } == "userDisabled")
        }
    }

    @Test(arguments: Backend.enabled) func spMetadataAndConnectionLifecycle(_ backend: Backend) async throws {
        try await withServices(backend) { h in
            let idp = try IdP()
            let c = try await connect(h, idp)
            let xml = try await h.services.upstreams.spMetadata(tenantID: h.tenant.id, issuer: ServiceHarness.issuer, name: "okta")
            let sp = try SPMetadata.parse(xml)
            #expect(sp.entityID == "https://id.example.com/saml/sp/okta/metadata" && sp.authnRequestsSigned && sp.wantAssertionsSigned)
            #expect(sp.assertionConsumerServices.map(\.location) == ["https://id.example.com/saml/sp/okta/acs"])
            #expect(sp.signingCertificatePEM != nil && sp.encryptionCertificatePEM != nil)
            // The SP key is sealed under the master key, never stored in the clear.
            #expect(!c.saml!.sealedSPKey.contains("PRIVATE KEY"))
            // Names are unique per tenant and URL-safe.
            await #expect(throws: StoreError.self) { _ = try await connect(h, idp) }
            await #expect(throws: ServiceError.self) {
                _ = try await h.services.upstreams.createSAML(
                    tenantID: h.tenant.id,
                    .init(
                        name: "Bad Name", metadata: .manual(entityID: "x", ssoURL: "https://x", ssoBinding: "redirect", sloURL: nil, certificatesPEM: [idp.pem])
                    ),
                    by: .cli)
            }
            // Disabled: no metadata, no sign-in.
            _ = try await h.services.upstreams.setEnabled(tenantID: h.tenant.id, name: "okta", enabled: false, by: .cli)
            await #expect(throws: StoreError.self) {
                _ = try await h.services.upstreams.spMetadata(tenantID: h.tenant.id, issuer: ServiceHarness.issuer, name: "okta")
            }
            #expect(try await h.services.upstreams.enabledConnections(tenantID: h.tenant.id).isEmpty)
        }
    }

    /// Signs `grace` in through the connection; returns the session.
    func signIn(_ h: ServiceHarness, _ idp: IdP, browser: String = "b") async throws -> UpstreamService.SignedIn {
        let id = try await begin(h, browser: browser)
        let a = try await h.services.upstreams.consumeResponse(
            tenantID: h.tenant.id, issuer: ServiceHarness.issuer, name: "okta",
            form: ["SAMLResponse": try idp.response(to: id, email: "grace@example.org", now: h.clock.now())])
        return try await h.services.upstreams.continueSignIn(tenantID: h.tenant.id, name: "okta", flowID: a.flowID, key: a.key, browserHash: tokenHash(browser))
    }

    /// Signing in again through the IdP in a browser that holds the user's session re-authenticates
    /// that session in place (same id, so the tokens' `sid` and single logout stay one session) and
    /// replaces its upstream row; without it, a second session would outlive a sign-out.
    @Test(arguments: Backend.enabled) func aSecondUpstreamSignInReauthenticatesTheSession(_ backend: Backend) async throws {
        try await withServices(backend) { h in
            let idp = try IdP()
            _ = try await connect(h, idp, slo: "https://okta.example/slo")
            let first = try await signIn(h, idp)
            h.clock.advance(by: 60)
            let id = try await begin(h, browser: "b")
            let a = try await h.services.upstreams.consumeResponse(
                tenantID: h.tenant.id, issuer: ServiceHarness.issuer, name: "okta",
                form: ["SAMLResponse": try idp.response(to: id, email: "grace@example.org", now: h.clock.now())])
            let second = try await h.services.upstreams.continueSignIn(
                tenantID: h.tenant.id, name: "okta", flowID: a.flowID, key: a.key, browserHash: tokenHash("b"), replacing: first.session)
            #expect(second.session.id == first.session.id && second.cookie.value != first.cookie.value)
            #expect(second.session.authTime > first.session.authTime)
            let upstream = try await h.store.upstreams.session(tenantID: h.tenant.id, sessionID: second.session.id)
            #expect(upstream?.createdAt == h.clock.now())
            // The old cookie no longer finds the session; the new one does.
            #expect(try await h.store.sessions.find(tokenHash: tokenHash(first.cookie.value)) == nil)
            #expect(try await h.store.sessions.find(tokenHash: tokenHash(second.cookie.value))?.id == first.session.id)
            let actions = try await h.auditActions()
            #expect(actions.contains("session.reauthenticated"))
        }
    }

    @Test(arguments: Backend.enabled) func singleLogoutBothWays(_ backend: Backend) async throws {
        try await withServices(backend) { h in
            let idp = try IdP()
            let c = try await connect(h, idp, slo: "https://okta.example/slo")
            let up = h.services.upstreams
            let spCertificate = try Certificate(pemEncoded: c.saml!.spCertificatePEM)
            let sp = UpstreamService.spValues(issuer: ServiceHarness.issuer, name: "okta")
            let idpBuilder = SAMLResponseBuilder(signer: idp.signer, random: SystemRandom())
            func query(_ url: String) -> String { String(url.split(separator: "?", maxSplits: 1)[1]) }

            // 1. The IdP signs the user out: Sigil's session ends, and the IdP gets a signed answer.
            let first = try await signIn(h, idp)
            let (requestID, request) = try idpBuilder.logoutRequest(
                issuer: Self.idpEntity, destination: sp.sloURL, nameID: "grace@example.org", nameIDFormat: NameIDFormat.emailAddress.rawValue,
                sessionIndex: "_s", now: h.clock.now(), sign: false)
            let signedQuery = try SAMLRedirectBinding.encode(request, relayState: "idp-relay", signingKey: idp.key)
            let inbound = try SAMLRedirectBinding.decode(rawQuery: signedQuery)
            let step = try await up.upstreamLogoutMessage(tenantID: h.tenant.id, issuer: ServiceHarness.issuer, name: "okta", message: inbound)
            guard case .redirect(let answer) = step else {
                Issue.record("no redirect to the IdP: \(step)")
                return
            }
            #expect(answer.hasPrefix("https://okta.example/slo?SAMLResponse="))
            let response = try SAMLRedirectBinding.decode(rawQuery: query(answer), parameter: "SAMLResponse")
            try SAMLRedirectBinding.verify(try #require(response.redirectSignature), certificate: spCertificate)
            let parsed = try LogoutResponse.parse(response.xml)
            #expect(parsed.inResponseTo == requestID && parsed.isSuccess && response.relayState == "idp-relay")
            #expect(try await h.store.sessions.listActive(tenantID: h.tenant.id, userID: first.user.id, now: h.clock.now()).isEmpty)
            // The same request again is a replay.
            #expect(
                await reason {
                    _ = try await up.upstreamLogoutMessage(tenantID: h.tenant.id, issuer: ServiceHarness.issuer, name: "okta", message: inbound)
                } == "replayed")
            // An unsigned one, or one signed by another key, is refused.
            let unsigned = try SAMLRedirectBinding.decode(rawQuery: try SAMLRedirectBinding.encode(request, relayState: nil))
            #expect(
                await reason {
                    _ = try await up.upstreamLogoutMessage(tenantID: h.tenant.id, issuer: ServiceHarness.issuer, name: "okta", message: unsigned)
                } == "signatureRequired")

            // 2. Sigil's own sign-out continues at the IdP and finishes when it answers.
            let second = try await signIn(h, idp)
            let outcome = try await up.signOut(second.session, tenantID: h.tenant.id, issuer: ServiceHarness.issuer, reason: "sign-out", finish: "/login")
            guard case .redirect(let start) = outcome, start.hasPrefix("/saml/sp/okta/slo/start?flow=") else {
                Issue.record("the sign-out does not continue upstream: \(outcome)")
                return
            }
            let flow = String(start.split(separator: "=", maxSplits: 1)[1])
            guard case .redirect(let toIdP) = try await up.startUpstreamLogout(tenantID: h.tenant.id, issuer: ServiceHarness.issuer, name: "okta", flowID: flow)
            else {
                Issue.record("no LogoutRequest")
                return
            }
            let sent = try SAMLRedirectBinding.decode(rawQuery: query(toIdP))
            try SAMLRedirectBinding.verify(try #require(sent.redirectSignature), certificate: spCertificate)
            let logoutRequest = try LogoutRequest.parse(sent.xml)
            #expect(logoutRequest.nameID == "grace@example.org" && logoutRequest.sessionIndexes == ["_s"] && sent.relayState == flow)
            let reply = try idpBuilder.logoutResponse(
                issuer: Self.idpEntity, destination: sp.sloURL, inResponseTo: logoutRequest.id, now: h.clock.now(), sign: false)
            let replyQuery = try SAMLRedirectBinding.encode(reply, parameter: "SAMLResponse", relayState: flow, signingKey: idp.key)
            let done = try await up.upstreamLogoutMessage(
                tenantID: h.tenant.id, issuer: ServiceHarness.issuer, name: "okta",
                message: try SAMLRedirectBinding.decode(rawQuery: replyQuery, parameter: "SAMLResponse"))
            guard case .finish(let target) = done else {
                Issue.record("not finished: \(done)")
                return
            }
            #expect(target == "/login")
            // Finished once.
            #expect(
                await reason {
                    _ = try await up.upstreamLogoutMessage(
                        tenantID: h.tenant.id, issuer: ServiceHarness.issuer, name: "okta",
                        message: try SAMLRedirectBinding.decode(rawQuery: replyQuery, parameter: "SAMLResponse"))
                } == "replayed")
            let actions = try await h.auditActions()
            #expect(actions.contains("upstream.saml.logout_received") && actions.contains("upstream.saml.logout_completed"))
        }
    }

    @Test(arguments: Backend.enabled) func stepUpAsksForTheUsersOwnPasskey(_ backend: Backend) async throws {
        try await withServices(backend) { h in
            let idp = try IdP()
            var input = UpstreamService.NewSAMLConnection(
                name: "okta", displayName: "Okta",
                metadata: .manual(
                    entityID: Self.idpEntity, ssoURL: "https://okta.example/sso", ssoBinding: "redirect", sloURL: nil, certificatesPEM: [idp.pem]),
                linkDomains: ["example.org"])
            input.stepUp = true
            _ = try await h.services.upstreams.createSAML(tenantID: h.tenant.id, input, by: .cli)
            let up = h.services.upstreams
            let ada = try await h.user("ada@example.org")
            let mallory = try await h.user("mallory@example.org", given: "Mal", family: "Lory")
            func browserStep(_ email: String, browser: String = "b") async throws -> UpstreamService.ContinueOutcome {
                let id = try await begin(h, browser: browser)
                let a = try await up.consumeResponse(
                    tenantID: h.tenant.id, issuer: ServiceHarness.issuer, name: "okta",
                    form: ["SAMLResponse": try idp.response(to: id, email: email, now: h.clock.now())])
                return try await up.continueBrowserStep(tenantID: h.tenant.id, name: "okta", flowID: a.flowID, key: a.key, browserHash: tokenHash(browser))
            }
            // No passkey yet: the sign-in is refused, and nothing was linked.
            #expect(await reason { _ = try await browserStep("ada@example.org") } == "stepUpUnavailable")
            #expect(
                try await h.store.upstreams.link(
                    tenantID: h.tenant.id, connectionID: try #require(try await h.store.upstreams.find(tenantID: h.tenant.id, name: "okta")).id,
                    subject: "ada@example.org") == nil)
            let adaKey = SoftwarePasskey(id: 1), malloryKey = SoftwarePasskey(id: 2)
            _ = try await h.store.passkeys.create(adaKey.record(tenantID: h.tenant.id, userID: ada.id, signCount: 0))
            _ = try await h.store.passkeys.create(malloryKey.record(tenantID: h.tenant.id, userID: mallory.id, signCount: 0))
            guard case .stepUp(let flow) = try await browserStep("ada@example.org") else {
                Issue.record("no step-up")
                return
            }
            // Another browser cannot use the step, and another account's passkey does not count.
            await #expect(throws: UpstreamService.Rejected.self) {
                _ = try await up.stepUpOptions(tenantID: h.tenant.id, issuer: ServiceHarness.issuer, flowID: flow, browserHash: tokenHash("other"))
            }
            var (ceremony, _) = try await up.stepUpOptions(tenantID: h.tenant.id, issuer: ServiceHarness.issuer, flowID: flow, browserHash: tokenHash("b"))
            #expect(
                await reason {
                    _ = try await up.finishStepUp(
                        tenantID: h.tenant.id, issuer: ServiceHarness.issuer, flowID: flow, browserHash: tokenHash("b"), transactionID: ceremony.id,
                        response: try malloryKey.assertion(challenge: ceremony.challenge, origin: ServiceHarness.issuer, userID: mallory.id, signCount: 1))
                } == "stepUpWrongUser")
            // Ada's own passkey finishes it: the session carries the upstream and the passkey.
            (ceremony, _) = try await up.stepUpOptions(tenantID: h.tenant.id, issuer: ServiceHarness.issuer, flowID: flow, browserHash: tokenHash("b"))
            let signedIn = try await up.finishStepUp(
                tenantID: h.tenant.id, issuer: ServiceHarness.issuer, flowID: flow, browserHash: tokenHash("b"), transactionID: ceremony.id,
                response: try adaKey.assertion(challenge: ceremony.challenge, origin: ServiceHarness.issuer, userID: ada.id, signCount: 1))
            #expect(signedIn.user.id == ada.id && signedIn.returnTo == "/oauth2/authorize?x=1")
            #expect(signedIn.session.amr.contains("fed") && signedIn.session.amr.contains("mfa") && signedIn.session.amr.contains("user"))
            #expect(["phr", "phrh"].contains(signedIn.session.acr))
            // Once.
            (ceremony, _) =
                (try? await up.stepUpOptions(tenantID: h.tenant.id, issuer: ServiceHarness.issuer, flowID: flow, browserHash: tokenHash("b"))) ?? (
                    ceremony, [:]
                )
            #expect(
                await reason {
                    _ = try await up.finishStepUp(
                        tenantID: h.tenant.id, issuer: ServiceHarness.issuer, flowID: flow, browserHash: tokenHash("b"), transactionID: ceremony.id,
                        response: try adaKey.assertion(challenge: ceremony.challenge, origin: ServiceHarness.issuer, userID: ada.id, signCount: 2))
                } != nil)
        }
    }
}
