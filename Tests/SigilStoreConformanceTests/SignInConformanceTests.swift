import Foundation
import SigilCore
import SigilFlows
import SigilSQLStore
import SigilStore
import SigilTestSupport
import Testing

/// Conformance for the sign-in aggregates: passkeys, authenticator devices, sessions, login transactions.
@Suite("Store conformance: sign-in")
struct SignInConformanceTests {
    let f = Fixtures()

    func passkey(_ user: User, _ id: String, signCount: Int = 0) -> Passkey {
        Passkey(
            credentialID: id, tenantID: user.tenantID, userID: user.id, publicKey: "pQECAyYgASFYIA", algorithm: -7,
            signCount: signCount, aaguid: "00000000000000000000000000000000", backupEligible: true, backupState: false,
            transports: ["internal", "hybrid"], attestationType: "none", name: "Laptop", createdAt: f.clock.now())
    }

    @Test(arguments: Backend.enabled)
    func usersCarryRoles(_ backend: Backend) async throws {
        try await withFreshStore(backend) { (store: SQLStore) async throws in
            let acme = try await store.tenants.create(f.tenant("acme"))
            var admin = f.user(acme, "root@example.com")
            admin.roles = [User.adminRole]
            _ = try await store.users.create(admin)
            #expect(try await store.users.get(tenantID: acme.id, id: admin.id).isAdmin)
            let (_, after) = try await store.users.update(tenantID: acme.id, id: admin.id, expectedVersion: nil) { $0.roles = [] }
            #expect(!after.isAdmin)
            #expect(try await store.users.get(tenantID: acme.id, id: admin.id).roles.isEmpty)
        }
    }

    @Test(arguments: Backend.enabled)
    func passkeysBelongToOneUserAndTrackSignCounts(_ backend: Backend) async throws {
        try await withFreshStore(backend) { (store: SQLStore) async throws in
            let acme = try await store.tenants.create(f.tenant("acme"))
            let ada = try await store.users.create(f.user(acme, "ada@example.com"))
            let bob = try await store.users.create(f.user(acme, "bob@example.com"))
            let key = try await store.passkeys.create(passkey(ada, "cred-1", signCount: 5))
            _ = try await store.passkeys.create(passkey(ada, "cred-2"))
            #expect(try await store.passkeys.get(tenantID: acme.id, credentialID: "cred-1") == key)
            #expect(try await store.passkeys.list(tenantID: acme.id, userID: ada.id).map(\.credentialID).sorted() == ["cred-1", "cred-2"])
            #expect(try await store.passkeys.list(tenantID: acme.id, userID: bob.id).isEmpty)
            await #expect(throws: StoreError.alreadyExists("passkey")) { _ = try await store.passkeys.create(passkey(bob, "cred-1")) }

            try await store.passkeys.recordUse(
                tenantID: acme.id, credentialID: "cred-1", expectedSignCount: 5, signCount: 6,
                backupState: true, cloneWarning: false, at: f.clock.now())
            let used = try await store.passkeys.get(tenantID: acme.id, credentialID: "cred-1")
            #expect(used.signCount == 6 && used.backupState && used.lastUsedAt == f.clock.now() && !used.cloneWarning)
            // A racing assertion that read the old count loses.
            await #expect(throws: StoreError.conflict("passkey")) {
                try await store.passkeys.recordUse(
                    tenantID: acme.id, credentialID: "cred-1", expectedSignCount: 5, signCount: 6,
                    backupState: true, cloneWarning: false, at: f.clock.now())
            }
            // A clone warning sticks.
            try await store.passkeys.recordUse(
                tenantID: acme.id, credentialID: "cred-1", expectedSignCount: 6, signCount: 6,
                backupState: true, cloneWarning: true, at: f.clock.now())
            try await store.passkeys.recordUse(
                tenantID: acme.id, credentialID: "cred-1", expectedSignCount: 6, signCount: 9,
                backupState: true, cloneWarning: false, at: f.clock.now())
            #expect(try await store.passkeys.get(tenantID: acme.id, credentialID: "cred-1").cloneWarning)

            await #expect(throws: StoreError.notFound("passkey")) { try await store.passkeys.delete(tenantID: acme.id, userID: bob.id, credentialID: "cred-1") }
            try await store.passkeys.delete(tenantID: acme.id, userID: ada.id, credentialID: "cred-2")
            // Deleting the user deletes their passkeys.
            _ = try await store.users.delete(tenantID: acme.id, id: ada.id, expectedVersion: nil)
            await #expect(throws: StoreError.notFound("passkey")) { _ = try await store.passkeys.get(tenantID: acme.id, credentialID: "cred-1") }
        }
    }

    @Test(arguments: Backend.enabled)
    func authenticatorDevices(_ backend: Backend) async throws {
        try await withFreshStore(backend) { (store: SQLStore) async throws in
            let acme = try await store.tenants.create(f.tenant("acme"))
            let ada = try await store.users.create(f.user(acme, "ada@example.com"))
            let device = AuthenticatorDevice(
                id: f.ids.make(.authenticatorDevice), tenantID: acme.id, userID: ada.id, publicKey: "BPk",
                name: "Pixel", platform: "android", createdAt: f.clock.now())
            _ = try await store.authenticatorDevices.create(device)
            #expect(try await store.authenticatorDevices.get(tenantID: acme.id, id: device.id) == device)
            var twin = device
            twin.id = f.ids.make(.authenticatorDevice)
            await #expect(throws: StoreError.alreadyExists("authenticator device")) { _ = try await store.authenticatorDevices.create(twin) }
            f.clock.advance(by: 5)
            try await store.authenticatorDevices.touch(tenantID: acme.id, id: device.id, at: f.clock.now())
            #expect(try await store.authenticatorDevices.list(tenantID: acme.id, userID: ada.id).first?.lastUsedAt == f.clock.now())
            try await store.authenticatorDevices.delete(tenantID: acme.id, userID: ada.id, id: device.id)
            #expect(try await store.authenticatorDevices.list(tenantID: acme.id, userID: ada.id).isEmpty)
        }
    }

    @Test(arguments: Backend.enabled)
    func sessionsExpireAndRevoke(_ backend: Backend) async throws {
        try await withFreshStore(backend) { (store: SQLStore) async throws in
            let acme = try await store.tenants.create(f.tenant("acme"))
            let ada = try await store.users.create(f.user(acme, "ada@example.com"))
            let now = f.clock.now()
            func session(_ token: String) -> Session {
                Session(
                    id: f.ids.make(.session), tenantID: acme.id, userID: ada.id, tokenHash: tokenHash(token), createdAt: now,
                    lastSeenAt: now, idleExpiresAt: now.addingTimeInterval(1800), absoluteExpiresAt: now.addingTimeInterval(3600),
                    authTime: now, amr: ["hwk", "user", "phr"], acr: "urn:sigil:acr:passkey")
            }
            let s1 = try await store.sessions.create(session("one"))
            let s2 = try await store.sessions.create(session("two"))
            #expect(try await store.sessions.find(tokenHash: tokenHash("one")) == s1)
            #expect(try await store.sessions.find(tokenHash: tokenHash("nope")) == nil)
            // Touch extends idle expiry but never past the absolute one.
            try await store.sessions.touch(id: s1.id, lastSeenAt: now.addingTimeInterval(1700), idleExpiresAt: now.addingTimeInterval(3500))
            try await store.sessions.touch(id: s2.id, lastSeenAt: now.addingTimeInterval(1700), idleExpiresAt: now.addingTimeInterval(9000))
            #expect(try await store.sessions.find(tokenHash: tokenHash("one"))?.idleExpiresAt == now.addingTimeInterval(3500))
            #expect(try await store.sessions.find(tokenHash: tokenHash("two"))?.idleExpiresAt == now.addingTimeInterval(3600))
            try await store.sessions.revoke(id: s1.id, at: now)
            #expect(try await store.sessions.find(tokenHash: tokenHash("one"))?.isActive(at: now) == false)
            await #expect(throws: StoreError.notFound("session")) { try await store.sessions.revoke(id: s1.id, at: now) }
            await #expect(throws: StoreError.notFound("session")) {
                try await store.sessions.touch(id: s1.id, lastSeenAt: now, idleExpiresAt: now.addingTimeInterval(10))
            }
            #expect(try await store.sessions.listActive(tenantID: acme.id, userID: ada.id, now: now).map(\.id) == [s2.id])
            #expect(try await store.sessions.listActive(tenantID: acme.id, userID: ada.id, now: now.addingTimeInterval(3600)).isEmpty)
            #expect(try await store.sessions.revokeAll(tenantID: acme.id, userID: ada.id, at: now) == 1)
            #expect(try await store.sessions.deleteExpired(now: now) == 2)
        }
    }

    @Test(arguments: Backend.enabled)
    func loginTransactionsUpdateUnderLock(_ backend: Backend) async throws {
        try await withFreshStore(backend) { (store: SQLStore) async throws in
            let acme = try await store.tenants.create(f.tenant("acme"))
            let ada = try await store.users.create(f.user(acme, "ada@example.com"))
            let now = f.clock.now()
            let flow = AuthenticatorSignIn(
                channel: .push, origin: "https://id.example.com", browserHash: "h", returnTo: "/account",
                issuer: "https://id.example.com", browser: "Chrome on Linux", application: "Acme account")
            let push = LoginTransaction(
                id: f.ids.make(.loginTransaction), tenantID: acme.id, flow: .authenticatorSignIn(flow), challenge: "c1",
                userID: ada.id, number: "42", createdAt: now, updatedAt: now,
                expiresAt: now.addingTimeInterval(120))
            _ = try await store.loginTransactions.create(push)
            #expect(try await store.loginTransactions.get(tenantID: acme.id, id: push.id) == push)
            #expect(try await store.loginTransactions.listPending(tenantID: acme.id, userID: ada.id, kind: .authenticatorPush, now: now).map(\.id) == [push.id])
            #expect(
                try await store.loginTransactions.listPending(
                    tenantID: acme.id, userID: ada.id, kind: .authenticatorPush,
                    now: now.addingTimeInterval(120)
                ).isEmpty)
            // Exactly one of many concurrent approvals moves pending → approved.
            let winners = try await withThrowingTaskGroup(of: Bool.self) { group in
                for i in 0..<10 {
                    group.addTask {
                        var won = false
                        _ = try await store.loginTransactions.update(tenantID: acme.id, id: push.id) { t in
                            guard t.state == .pending else { return }
                            t.state = .approved
                            t.deviceID = "dev_\(i)"
                        }
                        won = try await store.loginTransactions.get(tenantID: acme.id, id: push.id).deviceID == "dev_\(i)"
                        return won
                    }
                }
                return try await group.reduce(0) { $0 + ($1 ? 1 : 0) }
            }
            #expect(winners == 1)
            let approved = try await store.loginTransactions.get(tenantID: acme.id, id: push.id)
            #expect(approved.state == .approved && approved.version == 11 && approved.challenge == "c1")
            #expect(try await store.loginTransactions.listPending(tenantID: acme.id, userID: ada.id, kind: .authenticatorPush, now: now).isEmpty)
            await #expect(throws: StoreError.notFound("login transaction")) { _ = try await store.loginTransactions.get(tenantID: "ten_other", id: push.id) }
            #expect(try await store.loginTransactions.deleteExpired(now: now.addingTimeInterval(121)) == 1)
        }
    }
}
