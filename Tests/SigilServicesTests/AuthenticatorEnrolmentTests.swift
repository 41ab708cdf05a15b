import Crypto
import Foundation
import SigilAuthenticatorProtocol
import SigilCore
import SigilSQLStore
import SigilServices
import SigilStore
import SigilTestSupport
import Testing

@Suite struct AuthenticatorEnrolmentTests {
    let issuer = "https://id.example.com"

    func registration(
        _ started: AuthenticatorEnrolment.Started, challenge: String, key: P256.Signing.PrivateKey = P256.Signing.PrivateKey(),
        proofKey: P256.Signing.PrivateKey? = nil
    ) throws -> AuthenticatorEnrolment.Registration {
        let publicKey = Base64URL.encode(Array(key.publicKey.x963Representation))
        let message = try CanonicalMessage.enrolment(
            issuer: started.payload.issuer, transactionID: started.transaction.id,
            challenge: challenge, publicKey: publicKey)
        return .init(
            transactionID: started.transaction.id, secret: started.payload.secret, publicKey: publicKey, name: "Ada's phone",
            platform: "cli", keyProtection: "software", proof: try DeviceSignature.sign(message, with: proofKey ?? key))
    }

    @Test(arguments: Backend.enabled) func aDeviceEnrolsOnceWithProofOfPossession(_ backend: Backend) async throws {
        try await withServices(backend) { h in
            let store = h.store
            let services = h.services
            let tenant = h.tenant
            let user = try await h.user("ada@example.com", given: "Ada", family: "L")
            let enrolment = services.authenticatorEnrolment
            let started = try await enrolment.start(user: user, issuer: issuer, origin: issuer, browserHash: tokenHash("browser"))
            #expect(started.payload.url.hasPrefix("\(issuer)/authenticator/v1/enroll#\(started.transaction.id)."))
            #expect(try AuthenticatorPayload.parse(started.payload.deepLink) == started.payload)
            #expect(started.transaction.secretHash == tokenHash(started.payload.secret))

            // The browser waits on the transaction; the device's preview and registration wake it.
            async let woken = store.signals.wait(for: started.transaction.id, timeout: .seconds(10))
            try await Task.sleep(for: .milliseconds(50))
            let preview = try await enrolment.preview(tenant: tenant, transactionID: started.transaction.id, secret: started.payload.secret)
            #expect(await woken)
            #expect(preview.email == "ada@example.com" && preview.issuer == issuer && preview.challenge == started.transaction.challenge)

            let reg = try registration(started, challenge: preview.challenge)
            let (device, owner) = try await enrolment.register(tenant: tenant, reg)
            #expect(owner.id == user.id && device.userID == user.id && device.keyProtection == "software")
            let finished = try await store.loginTransactions.get(tenantID: tenant.id, id: started.transaction.id)
            #expect(finished.state == .completed && finished.deviceID == device.id)
            // The same code cannot enrol another key.
            await expectAuthenticatorError(.enrolmentLinkInvalid) {
                _ = try await enrolment.register(tenant: tenant, try registration(started, challenge: preview.challenge))
            }
            let events = try await store.audit.list(tenantID: tenant.id, page: PageRequest(limit: 20)).items
            #expect(events.contains { $0.action == "authenticator.device_registered" && $0.targetID == device.id })
        }
    }

    @Test(arguments: Backend.enabled) func badSecretsProofsAndKeysAreRefused(_ backend: Backend) async throws {
        try await withServices(backend) { h in
            let store = h.store
            let services = h.services
            let clock = h.clock
            let tenant = h.tenant
            let user = try await h.user("ada@example.com", given: "Ada", family: "L")
            let enrolment = services.authenticatorEnrolment
            let started = try await enrolment.start(user: user, issuer: issuer, origin: issuer, browserHash: "h")
            let challenge = started.transaction.challenge
            await expectAuthenticatorError(.enrolmentLinkInvalid) {
                _ = try await enrolment.preview(tenant: tenant, transactionID: "ltx_01jbz6w2c7f3m9q4v8x1r5t0ka", secret: "x")
            }
            await expectAuthenticatorError(.transactionSecretInvalid) {
                _ = try await enrolment.preview(tenant: tenant, transactionID: started.transaction.id, secret: "wrong")
            }
            var badKey = try registration(started, challenge: challenge)
            badKey.publicKey = Base64URL.encode(Array(repeating: 4, count: 65))
            await expectAuthenticatorError(.invalidPublicKey) { _ = try await enrolment.register(tenant: tenant, badKey) }
            var badName = try registration(started, challenge: challenge)
            badName.name = ""
            await expectAuthenticatorError(.invalidInput) { _ = try await enrolment.register(tenant: tenant, badName) }
            // A proof from another key is refused; with the wrong secret earlier, that is the third
            // failure and the enrolment is dead.
            await expectAuthenticatorError(.enrolmentProofInvalid) {
                _ = try await enrolment.register(tenant: tenant, try registration(started, challenge: challenge, proofKey: P256.Signing.PrivateKey()))
            }
            await expectAuthenticatorError(.transactionSecretInvalid) {
                _ = try await enrolment.preview(tenant: tenant, transactionID: started.transaction.id, secret: "again")
            }
            #expect(try await store.loginTransactions.get(tenantID: tenant.id, id: started.transaction.id).state == .denied)
            await expectAuthenticatorError(.enrolmentLinkInvalid) {
                _ = try await enrolment.register(tenant: tenant, try registration(started, challenge: challenge))
            }

            // Expiry.
            let late = try await enrolment.start(user: user, issuer: issuer, origin: issuer, browserHash: "h")
            clock.advance(by: AuthenticatorEnrolment.lifetime + 1)
            await expectAuthenticatorError(.enrolmentLinkInvalid) {
                _ = try await enrolment.register(tenant: tenant, try registration(late, challenge: late.transaction.challenge))
            }

            // The same key cannot be registered twice, and a user has at most five devices.
            let key = P256.Signing.PrivateKey()
            let first = try await enrolment.start(user: user, issuer: issuer, origin: issuer, browserHash: "h")
            _ = try await enrolment.register(tenant: tenant, try registration(first, challenge: first.transaction.challenge, key: key))
            let second = try await enrolment.start(user: user, issuer: issuer, origin: issuer, browserHash: "h")
            await expectAuthenticatorError(.deviceKeyRegistered) {
                _ = try await enrolment.register(tenant: tenant, try registration(second, challenge: second.transaction.challenge, key: key))
            }
            for _ in 0..<4 {
                let next = try await enrolment.start(user: user, issuer: issuer, origin: issuer, browserHash: "h")
                _ = try await enrolment.register(tenant: tenant, try registration(next, challenge: next.transaction.challenge))
            }
            await expectAuthenticatorError(.deviceLimit) { _ = try await enrolment.start(user: user, issuer: issuer, origin: issuer, browserHash: "h") }
            #expect(try await store.authenticatorDevices.list(tenantID: tenant.id, userID: user.id).count == 5)
        }
    }
}
