import Foundation
import SigilCore
import SigilSQLStore
import SigilStore
import SigilTestSupport
import Testing

/// Conformance for the authenticator additions (migration 3): devices' key protection and push
/// tokens, request nonces, per-user push state.
@Suite("Store conformance: authenticator")
struct AuthenticatorStoreConformanceTests {
    let f = Fixtures()

    func device(_ store: SQLStore, _ tenant: Tenant, _ user: User, key: String = "BPk") async throws -> AuthenticatorDevice {
        try await store.authenticatorDevices.create(
            AuthenticatorDevice(
                id: f.ids.make(.authenticatorDevice), tenantID: tenant.id, userID: user.id, publicKey: key, name: "Pixel",
                platform: "android", createdAt: f.clock.now(), keyProtection: "strongbox"))
    }

    @Test(arguments: Backend.enabled)
    func devicesKeepKeyProtectionAndPushTokens(_ backend: Backend) async throws {
        try await withFreshStore(backend) { (store: SQLStore) async throws in
            let acme = try await store.tenants.create(f.tenant("acme"))
            let ada = try await store.users.create(f.user(acme, "ada@example.com"))
            let d = try await device(store, acme, ada)
            #expect(try await store.authenticatorDevices.get(tenantID: acme.id, id: d.id).keyProtection == "strongbox")
            try await store.authenticatorDevices.setPushToken(tenantID: acme.id, id: d.id, sealed: "v1.sealed-token")
            #expect(try await store.authenticatorDevices.get(tenantID: acme.id, id: d.id).sealedPushToken == "v1.sealed-token")
            try await store.authenticatorDevices.setPushToken(tenantID: acme.id, id: d.id, sealed: nil)
            #expect(try await store.authenticatorDevices.get(tenantID: acme.id, id: d.id).sealedPushToken == nil)
            await #expect(throws: StoreError.notFound("authenticator device")) {
                try await store.authenticatorDevices.setPushToken(tenantID: "ten_other", id: d.id, sealed: "x")
            }
        }
    }

    @Test(arguments: Backend.enabled)
    func aNonceIsAcceptedOncePerDevice(_ backend: Backend) async throws {
        try await withFreshStore(backend) { (store: SQLStore) async throws in
            let acme = try await store.tenants.create(f.tenant("acme"))
            let ada = try await store.users.create(f.user(acme, "ada@example.com"))
            let phone = try await device(store, acme, ada, key: "K1")
            let tablet = try await device(store, acme, ada, key: "K2")
            let later = f.clock.now().addingTimeInterval(600)
            try await store.deviceNonces.use(deviceID: phone.id, nonce: "n1", expiresAt: later)
            await #expect(throws: StoreError.alreadyExists("device nonce")) {
                try await store.deviceNonces.use(deviceID: phone.id, nonce: "n1", expiresAt: later)
            }
            try await store.deviceNonces.use(deviceID: tablet.id, nonce: "n1", expiresAt: later) // another device's nonce space
            // Racing replays: exactly one wins.
            let accepted = await withTaskGroup(of: Bool.self) { group in
                for _ in 0..<8 {
                    group.addTask { (try? await store.deviceNonces.use(deviceID: phone.id, nonce: "race", expiresAt: later)) != nil }
                }
                return await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(accepted == 1)
            #expect(try await store.deviceNonces.deleteExpired(now: later) == 3)
            try await store.deviceNonces.use(deviceID: phone.id, nonce: "n1", expiresAt: later.addingTimeInterval(600))
            // Deleting the device deletes its nonces.
            try await store.authenticatorDevices.delete(tenantID: acme.id, userID: ada.id, id: phone.id)
            #expect(try await store.deviceNonces.deleteExpired(now: later.addingTimeInterval(10_000)) == 0)
        }
    }

    @Test(arguments: Backend.enabled)
    func userStateUpdatesAreSerialised(_ backend: Backend) async throws {
        try await withFreshStore(backend) { (store: SQLStore) async throws in
            let acme = try await store.tenants.create(f.tenant("acme"))
            let ada = try await store.users.create(f.user(acme, "ada@example.com"))
            let now = f.clock.now()
            let first = try await store.authenticatorUserState.update(tenantID: acme.id, userID: ada.id, now: now) { _ in }
            #expect(first.windowCount == 0 && first.windowStartedAt == now && first.blockedUntil == nil)
            let pushes = 20
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<pushes {
                    group.addTask {
                        _ = try await store.authenticatorUserState.update(tenantID: acme.id, userID: ada.id, now: now) { state in
                            state.windowCount += 1
                            state.lastPushAt = now
                        }
                    }
                }
                try await group.waitForAll()
            }
            let counted = try await store.authenticatorUserState.update(tenantID: acme.id, userID: ada.id, now: now) { _ in }
            #expect(counted.windowCount == pushes)
            _ = try await store.authenticatorUserState.update(tenantID: acme.id, userID: ada.id, now: now) { $0.blockedUntil = now.addingTimeInterval(900) }
            // Idle cleanup keeps a row that still blocks, then removes it once the block passed.
            #expect(try await store.authenticatorUserState.deleteIdle(windowOlderThan: now.addingTimeInterval(1), now: now) == 0)
            #expect(try await store.authenticatorUserState.deleteIdle(windowOlderThan: now.addingTimeInterval(1), now: now.addingTimeInterval(901)) == 1)
            let fresh = try await store.authenticatorUserState.update(tenantID: acme.id, userID: ada.id, now: now.addingTimeInterval(1000)) { _ in }
            #expect(fresh.windowCount == 0)
        }
    }
}
