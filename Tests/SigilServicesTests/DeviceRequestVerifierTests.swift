import Crypto
import Foundation
import SigilAuthenticatorProtocol
import SigilCore
import SigilSQLStore
import SigilServices
import SigilStore
import SigilTestSupport
import Testing

/// §1.4 of docs/authenticator-protocol.md: each check, in order, with its own error.
@Suite struct DeviceRequestVerifierTests {
    struct World {
        let h: ServiceHarness
        let user: User
        var store: SQLStore { h.store }
        var services: ServiceSet { h.services }
        var clock: ManualClock { h.clock }
        var tenant: Tenant { h.tenant }
        let device: AuthenticatorDevice
        let key: P256.Signing.PrivateKey
        var verifier: DeviceRequestVerifier { DeviceRequestVerifier(context: services.context) }
        let target = "https://id.example.com/authenticator/v1/requests"

        func signed(
            method: String = "POST", target: String? = nil, body: [UInt8] = Array(#"{"x":1}"#.utf8), nonce: String? = nil,
            timestamp: Int64? = nil, with signer: P256.Signing.PrivateKey? = nil
        ) throws -> DeviceRequestVerifier.SignedRequest {
            let ts = timestamp ?? Int64(clock.now().timeIntervalSince1970)
            let n = nonce ?? Base64URL.encode(SystemRandom().bytes(16))
            let url = target ?? self.target
            let message = try CanonicalMessage.request(method: method, target: url, deviceID: device.id, timestamp: ts, nonce: n, body: body)
            return .init(
                method: method, target: url, deviceID: device.id, timestamp: String(ts), nonce: n,
                signature: try DeviceSignature.sign(message, with: signer ?? key), body: body)
        }
    }

    /// A world on a fresh store with one enrolled device, closed after `body` (also when it throws).
    func withWorld(_ backend: Backend, seed: String = #function, _ body: (World) async throws -> Void) async throws {
        try await withServices(backend, seed: seed) { h in
            let user = try await h.user("ada@example.com", given: "Ada", family: "L")
            let key = P256.Signing.PrivateKey()
            let device = try await h.store.authenticatorDevices.create(
                AuthenticatorDevice(
                    id: h.context.ids.make(.authenticatorDevice), tenantID: h.tenant.id, userID: user.id,
                    publicKey: Base64URL.encode(Array(key.publicKey.x963Representation)), name: "CLI", platform: "cli", createdAt: h.clock.now()))
            try await body(World(h: h, user: user, device: device, key: key))
        }
    }

    @Test(arguments: Backend.enabled) func aSignedRequestIsAcceptedOnce(_ backend: Backend) async throws {
        try await withWorld(backend) { w in
            let request = try w.signed()
            let authenticated = try await w.verifier.verify(request, tenantID: w.tenant.id)
            #expect(authenticated.device.id == w.device.id && authenticated.user.id == w.user.id)
            #expect(try await w.store.authenticatorDevices.get(tenantID: w.tenant.id, id: w.device.id).lastUsedAt == w.clock.now())
            await expectAuthenticatorError(.deviceReplay) { _ = try await w.verifier.verify(request, tenantID: w.tenant.id) }
        }
    }

    @Test(arguments: Backend.enabled) func eachCheckHasItsOwnError(_ backend: Backend) async throws {
        try await withWorld(backend) { w in
            var missing = try w.signed()
            missing.signature = nil
            await expectAuthenticatorError(.deviceAuthRequired) { _ = try await w.verifier.verify(missing, tenantID: w.tenant.id) }
            var shortNonce = try w.signed()
            shortNonce.nonce = "abc"
            await expectAuthenticatorError(.deviceAuthRequired) { _ = try await w.verifier.verify(shortNonce, tenantID: w.tenant.id) }
            let now = Int64(w.clock.now().timeIntervalSince1970)
            await expectAuthenticatorError(.deviceClockSkew) { _ = try await w.verifier.verify(try w.signed(timestamp: now - 301), tenantID: w.tenant.id) }
            _ = try await w.verifier.verify(try w.signed(timestamp: now + 300), tenantID: w.tenant.id) // the window's edge is inside
            await expectAuthenticatorError(.payloadTooLarge) {
                _ = try await w.verifier.verify(try w.signed(body: Array(repeating: 0x20, count: 16 * 1024 + 1)), tenantID: w.tenant.id)
            }
            let other = try await w.services.tenants.create(slug: "other", by: .cli)
            await expectAuthenticatorError(.deviceRevoked) { _ = try await w.verifier.verify(try w.signed(), tenantID: other.id) }
            await expectAuthenticatorError(.deviceSignatureInvalid) {
                _ = try await w.verifier.verify(try w.signed(with: P256.Signing.PrivateKey()), tenantID: w.tenant.id)
            }
            // Any signed field changed after signing breaks the signature.
            var moved = try w.signed()
            moved.target = "https://id.example.com/authenticator/v1/devices"
            await expectAuthenticatorError(.deviceSignatureInvalid) { _ = try await w.verifier.verify(moved, tenantID: w.tenant.id) }
            var rebodied = try w.signed()
            rebodied.body = Array(#"{"x":2}"#.utf8)
            await expectAuthenticatorError(.deviceSignatureInvalid) { _ = try await w.verifier.verify(rebodied, tenantID: w.tenant.id) }
            var remethod = try w.signed()
            remethod.method = "DELETE"
            await expectAuthenticatorError(.deviceSignatureInvalid) { _ = try await w.verifier.verify(remethod, tenantID: w.tenant.id) }
            // A bad signature does not burn the nonce: the genuine request with it still passes.
            let nonce = Base64URL.encode(SystemRandom().bytes(16))
            await expectAuthenticatorError(.deviceSignatureInvalid) {
                _ = try await w.verifier.verify(try w.signed(nonce: nonce, with: P256.Signing.PrivateKey()), tenantID: w.tenant.id)
            }
            _ = try await w.verifier.verify(try w.signed(nonce: nonce), tenantID: w.tenant.id)
            _ = try await w.services.users.update(tenantID: w.tenant.id, id: w.user.id, .init(status: .disabled), expectedVersion: nil, by: .cli)
            await expectAuthenticatorError(.accountDisabled) { _ = try await w.verifier.verify(try w.signed(), tenantID: w.tenant.id) }
            let failures = try await w.store.audit.list(tenantID: w.tenant.id, page: PageRequest(limit: 100)).items
                .filter { $0.action == "authenticator.device_auth_failed" }
            #expect(failures.count == 10)
            // The request aimed at the other tenant is audited there.
            #expect(
                try await w.store.audit.list(tenantID: other.id, page: PageRequest(limit: 100)).items
                    .contains { $0.action == "authenticator.device_auth_failed" })
        }
    }
}
