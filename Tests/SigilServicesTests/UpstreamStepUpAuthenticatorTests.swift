import Foundation
import SigilCore
import SigilOAuth
import SigilServices
import SigilStore
import SigilTestSupport
import Testing

/// Step-up after an upstream sign-in with the user's Sigil authenticator (a push with number
/// matching) instead of a passkey: only the flow's user's approval counts, only in the browser
/// that started the sign-in, once, and the push is not a sign-in of its own.
@Suite struct UpstreamStepUpAuthenticatorTests {
    /// The authenticator world (Ada with a phone, no passkey) with a SAML connection that asks for step-up.
    func withStepUpConnection(
        _ backend: Backend, seed: String = #function,
        _ body: (AuthenticatorServiceTests.World, UpstreamSAMLServiceTests.IdP, UpstreamSAMLServiceTests) async throws -> Void
    ) async throws {
        try await AuthenticatorServiceTests().withWorld(backend, seed: seed) { w in
            let idp = try UpstreamSAMLServiceTests.IdP()
            var input = UpstreamService.NewSAMLConnection(
                name: "okta", displayName: "Okta",
                metadata: .manual(
                    entityID: UpstreamSAMLServiceTests.idpEntity, ssoURL: "https://okta.example/sso", ssoBinding: "redirect", sloURL: nil,
                    certificatesPEM: [idp.pem]),
                linkDomains: ["example.com"])
            input.stepUp = true
            _ = try await w.h.services.upstreams.createSAML(tenantID: w.h.tenant.id, input, by: .cli)
            try await body(w, idp, UpstreamSAMLServiceTests())
        }
    }

    /// Ada signs in through the connection in browser "b" and reaches the step-up: its flow ID.
    func stepUpFlow(_ h: ServiceHarness, _ idp: UpstreamSAMLServiceTests.IdP, _ saml: UpstreamSAMLServiceTests) async throws -> String {
        let up = h.services.upstreams
        let id = try await saml.begin(h, browser: "b")
        let a = try await up.consumeResponse(
            tenantID: h.tenant.id, issuer: ServiceHarness.issuer, name: "okta",
            form: ["SAMLResponse": try idp.response(to: id, email: "ada@example.com", now: h.clock.now())])
        guard
            case .stepUp(let flow) = try await up.continueBrowserStep(
                tenantID: h.tenant.id, name: "okta", flowID: a.flowID, key: a.key, browserHash: tokenHash("b"))
        else { throw SigilError(.internalFailure, "no step-up") }
        return flow
    }

    @Test(arguments: Backend.enabled) func stepUpWithTheAuthenticator(_ backend: Backend) async throws {
        try await withStepUpConnection(backend) { w, idp, saml in
            let h = w.h
            let up = h.services.upstreams
            let mallory = try await h.user("mallory@example.com", given: "Mal", family: "Lory")
            let malloryPhone = try await w.addPhone(for: mallory, token: "apns-token-2")
            func reason(_ body: () async throws -> Void) async -> String? { await saml.reason(body) }

            // Ada (the world's user) has an authenticator and no passkey: the step-up offers the authenticator.
            let flow = try await stepUpFlow(h, idp, saml)
            let page = try await up.stepUpPage(tenantID: h.tenant.id, flowID: flow, browserHash: tokenHash("b"))
            #expect(page.connection == "Okta" && !page.passkey && page.authenticator)
            // Another browser can neither start the push nor see the page.
            #expect(await reason { _ = try await up.stepUpPage(tenantID: h.tenant.id, flowID: flow, browserHash: tokenHash("other")) } == "unknownFlow")
            #expect(
                await reason {
                    _ = try await up.startStepUpPush(
                        tenant: h.tenant, issuer: AuthenticatorServiceTests.issuer, flowID: flow, start: w.start("other"), authenticator: w.auth)
                } == "unknownFlow")

            // The push reaches Ada's phone only; Mallory's phone cannot answer it.
            let started = try await up.startStepUpPush(
                tenant: h.tenant, issuer: AuthenticatorServiceTests.issuer, flowID: flow, start: w.start("b"), authenticator: w.auth)
            await h.services.pushDispatcher.drain()
            let push = try await w.current(started)
            #expect(push.userID == w.user.id && push.authenticatorSignIn?.stepUpFor == flow)
            #expect((await w.push.sent).map(\.deviceID) == [w.phone.device.id])
            await #expect(throws: (any Error).self) { _ = try await w.approve(push, phone: malloryPhone) }
            // Not yet approved: nothing to redeem.
            #expect(
                await reason {
                    _ = try await up.finishStepUpWithAuthenticator(
                        tenant: h.tenant, flowID: flow, browserHash: tokenHash("b"), transactionID: push.id, authenticator: w.auth)
                } != nil)
            #expect(try await w.approve(push).state == "approved")
            // The approval is no sign-in of its own, and no other browser can redeem it.
            await #expect(throws: AuthenticatorServiceError.self) {
                _ = try await w.auth.complete(tenant: h.tenant, transactionID: push.id, browserHash: tokenHash("b"), sessions: h.services.sessions)
            }
            #expect(
                await reason {
                    _ = try await up.finishStepUpWithAuthenticator(
                        tenant: h.tenant, flowID: flow, browserHash: tokenHash("other"), transactionID: push.id, authenticator: w.auth)
                } == "unknownFlow")
            let signedIn = try await up.finishStepUpWithAuthenticator(
                tenant: h.tenant, flowID: flow, browserHash: tokenHash("b"), transactionID: push.id, authenticator: w.auth)
            #expect(signedIn.user.id == w.user.id && signedIn.returnTo == "/oauth2/authorize?x=1")
            #expect(Set(signedIn.session.amr).isSuperset(of: ["fed", "swk", "face", "user", "mfa"]))
            #expect(signedIn.session.acr == ACR.liveID)
            // Once.
            #expect(
                await reason {
                    _ = try await up.finishStepUpWithAuthenticator(
                        tenant: h.tenant, flowID: flow, browserHash: tokenHash("b"), transactionID: push.id, authenticator: w.auth)
                } != nil)
            let events = try await h.store.audit.list(tenantID: h.tenant.id, page: PageRequest(limit: 200)).items
            #expect(events.contains { $0.action == "upstream.signed_in" && $0.after?["step_up"] == "authenticator" })
        }
    }

    /// A push started for one upstream sign-in cannot finish another's step-up.
    @Test(arguments: Backend.enabled) func aPushStepsUpOnlyItsOwnSignIn(_ backend: Backend) async throws {
        try await withStepUpConnection(backend) { w, idp, saml in
            let h = w.h
            let up = h.services.upstreams
            let first = try await stepUpFlow(h, idp, saml), second = try await stepUpFlow(h, idp, saml)
            let started = try await up.startStepUpPush(
                tenant: h.tenant, issuer: AuthenticatorServiceTests.issuer, flowID: first, start: w.start("b"), authenticator: w.auth)
            await h.services.pushDispatcher.drain()
            #expect(try await w.approve(try await w.current(started)).state == "approved")
            #expect(
                await saml.reason {
                    _ = try await up.finishStepUpWithAuthenticator(
                        tenant: h.tenant, flowID: second, browserHash: tokenHash("b"), transactionID: started.id, authenticator: w.auth)
                } == "unknownFlow")
            _ = try await up.finishStepUpWithAuthenticator(
                tenant: h.tenant, flowID: first, browserHash: tokenHash("b"), transactionID: started.id, authenticator: w.auth)
        }
    }
}
