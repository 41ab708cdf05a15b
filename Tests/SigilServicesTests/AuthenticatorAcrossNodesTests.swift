import Crypto
import Foundation
import SigilAuthenticatorProtocol
import SigilCore
import SigilSQLStore
import SigilServices
import SigilStore
import SigilTestSupport
import Testing

/// A QR sign-in started on one node and approved through another (two stores on one PostgreSQL
/// database stand for two nodes): the approval reaches the first node's waiter through
/// LISTEN/NOTIFY well before the 5 s safety poll, and the login completes there.
@Suite struct AuthenticatorAcrossNodesTests {
    @Test func qrApprovedOnAnotherNodeWakesTheFirst() async throws {
        guard Backend.postgresURL != nil else {
            print("note: SIGIL_TEST_POSTGRES_URL is not set; the cross-node authenticator test is skipped")
            return
        }
        // A database of its own, within the run's limit on PostgreSQL test databases.
        let (url, drop) = try await freshPostgresDatabase()
        defer { Task { try? await drop() } }
        let masterKey = try MasterKey(rawBytes: Array(repeating: 11, count: 32))
        let storeA = try await testPostgresStore(url: url)
        let storeB = try await testPostgresStore(url: url)
        try await storeA.migrate()
        let nodeA = ServiceSet(context: ServiceContext(store: storeA, masterKey: masterKey))
        let nodeB = ServiceSet(context: ServiceContext(store: storeB, masterKey: masterKey))
        let issuer = "https://id.example.com"
        let slug = "n" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(12)
        let tenant = try await nodeA.tenants.create(slug: String(slug), by: .cli)
        let user = try await nodeA.users.create(tenantID: tenant.id, .init(email: "ada-\(slug)@example.com", givenName: "Ada", familyName: "L"), by: .cli)
        let key = P256.Signing.PrivateKey()
        let device = try await storeA.authenticatorDevices.create(
            AuthenticatorDevice(
                id: nodeA.context.ids.make(.authenticatorDevice), tenantID: tenant.id, userID: user.id,
                publicKey: Base64URL.encode(Array(key.publicKey.x963Representation)), name: "phone", platform: "cli", createdAt: Date()))

        let browser = tokenHash("browser-" + slug)
        let started = try await nodeA.authenticator.startQR(
            tenant: tenant, issuer: issuer,
            start: LoginStart(origin: issuer, browserHash: browser, returnTo: "/account", clientIP: "192.0.2.1", userAgent: nil))
        let tx = started.transaction.id

        func authenticated() async throws -> AuthenticatedDevice {
            let ts = Int64(Date().timeIntervalSince1970), nonce = Base64URL.encode(SystemRandom().bytes(16))
            let target = issuer + "/authenticator/v1/transactions/\(tx)"
            let message = try CanonicalMessage.request(method: "GET", target: target, deviceID: device.id, timestamp: ts, nonce: nonce, body: [])
            return try await nodeB.deviceRequests.verify(
                .init(
                    method: "GET", target: target, deviceID: device.id, timestamp: String(ts), nonce: nonce,
                    signature: try DeviceSignature.sign(message, with: key), body: []),
                tenantID: tenant.id)
        }
        // Node B's listener up first (the first wait starts it), then node A waits.
        _ = await storeA.signals.wait(for: "warm-up-" + tx, timeout: .milliseconds(200))
        _ = await storeB.signals.wait(for: "warm-up-" + tx, timeout: .milliseconds(200))
        _ = try await nodeB.authenticator.claim(tenant: tenant, device: try await authenticated(), transactionID: tx, secret: started.payload.secret)
        let claimed = try await storeB.loginTransactions.get(tenantID: tenant.id, id: tx)
        let number = try #require(claimed.number)
        let signature = try DeviceSignature.sign(
            try CanonicalMessage.approval(
                issuer: issuer, transactionID: tx, challenge: claimed.challenge, origin: issuer, number: number, decision: .approve,
                userVerification: .face), with: key)

        let waiting = Task { await storeA.signals.wait(for: tx, timeout: .seconds(60)) }
        try await Task.sleep(for: .milliseconds(200))
        _ = try await nodeB.authenticator.answer(
            tenant: tenant, device: try await authenticated(), transactionID: tx,
            answer: .approve(number: number), userVerification: "face", signature: signature)
        // On a loaded run A's waiter can register after B's NOTIFY went by (a notification is an
        // edge, not a state: the product re-reads the row after every wake or timeout). So B
        // announces again every half second until A wakes; each announcement still has to cross
        // from B to A through LISTEN/NOTIFY.
        let reannounce = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(500))
                await storeB.signals.publish(tx)
            }
        }
        // A's wait has no polling fallback: it returns true only when a NOTIFY from B arrives
        // (false at the 60 s timeout). How fast is a question for the benchmark (sigil-bench
        // authenticator), not a test: a latency bound here failed under a loaded parallel run.
        let woken = await waiting.value
        reannounce.cancel()
        #expect(woken, "node A was not woken by node B's approval")
        let snapshot = AuthenticatorService.snapshot(try await storeA.loginTransactions.get(tenantID: tenant.id, id: tx), now: Date())
        #expect(snapshot.state == "approved")
        let done = try await nodeA.authenticator.complete(tenant: tenant, transactionID: tx, browserHash: browser, sessions: nodeA.sessions)
        #expect(done.user.id == user.id && done.session.amr.contains("face"))
        try await storeA.close()
        try await storeB.close()
    }
}
