import Crypto
import Foundation
import SigilAuthenticatorProtocol
import SigilCore
import SigilSQLStore
import SigilServices
import SigilStore

/// Approval round trip (issue 3, DESIGN §9): the time from a device sending its approval (signature
/// check, the locked update, the audit row, the commit and the publish included) to the browser's watcher — the same signal-then-re-read loop the server-sent events handler runs —
/// seeing `approved`. Baseline in the same run: a bare change-signal round trip (publish → a waiter
/// wakes) on the same store, which is the floor the approval path cannot beat.
///
///     swift run -c release sigil-bench authenticator [--logins 200] [--postgres URL]
func runAuthenticatorBench(arguments: [String]) async throws {
    let logins = BenchStore.option("--logins", in: arguments).flatMap(Int.init) ?? 200
    let bench = try await BenchStore.open(arguments: arguments)
    let store = bench.store, services = bench.services, tenant = bench.tenant, slug = bench.slug
    let issuer = "https://id.example.com"
    let user = try await services.users.create(tenantID: tenant.id, .init(email: "\(slug)@example.com", givenName: "B", familyName: "B"), by: .cli)
    let key = P256.Signing.PrivateKey()
    let device = try await store.authenticatorDevices.create(
        AuthenticatorDevice(
            id: services.context.ids.make(.authenticatorDevice), tenantID: tenant.id, userID: user.id,
            publicKey: Base64URL.encode(Array(key.publicKey.x963Representation)), name: "bench", platform: "cli", createdAt: Date()))
    let auth = services.authenticator

    func authenticated() async throws -> AuthenticatedDevice {
        let ts = Int64(Date().timeIntervalSince1970), nonce = Base64URL.encode(SystemRandom().bytes(16)), target = issuer + "/authenticator/v1/pending"
        let message = try CanonicalMessage.request(method: "GET", target: target, deviceID: device.id, timestamp: ts, nonce: nonce, body: [])
        return try await services.deviceRequests.verify(
            .init(
                method: "GET", target: target, deviceID: device.id, timestamp: String(ts),
                nonce: nonce, signature: try DeviceSignature.sign(message, with: key), body: []),
            tenantID: tenant.id)
    }

    /// The browser side: wait for a signal, re-read, until the snapshot says approved.
    func watch(_ id: String) async throws -> ContinuousClock.Instant {
        while true {
            let t = try await store.loginTransactions.get(tenantID: tenant.id, id: id)
            if AuthenticatorService.snapshot(t, now: Date()).state == "approved" { return .now }
            _ = await store.signals.wait(for: id, timeout: .seconds(5))
        }
    }

    var approval: [Double] = [], baseline: [Double] = []
    for n in 0..<(logins + 10) {
        // Baseline: one bare signal round trip.
        let signalKey = "bench-\(n)"
        let waiter = Task { () -> ContinuousClock.Instant in
            _ = await store.signals.wait(for: signalKey, timeout: .seconds(10)); return .now
        }
        try await Task.sleep(for: .milliseconds(2))
        let sent = ContinuousClock.now
        await store.signals.publish(signalKey)
        let woke = await waiter.value

        // The approval round trip.
        let started = try await auth.startQR(
            tenant: tenant, issuer: issuer,
            start: LoginStart(origin: issuer, browserHash: tokenHash("b"), returnTo: "/account", clientIP: nil, userAgent: nil))
        let id = started.transaction.id
        _ = try await auth.claim(tenant: tenant, device: try await authenticated(), transactionID: id, secret: started.payload.secret)
        let t = try await store.loginTransactions.get(tenantID: tenant.id, id: id)
        let signature = try DeviceSignature.sign(
            try CanonicalMessage.approval(
                issuer: issuer, transactionID: id, challenge: t.challenge, origin: issuer, number: t.number!, decision: .approve,
                userVerification: .face), with: key)
        let browser = Task { try await watch(id) }
        try await Task.sleep(for: .milliseconds(2))
        let device = try await authenticated()
        let before = ContinuousClock.now
        _ = try await auth.answer(
            tenant: tenant, device: device, transactionID: id, answer: .approve(number: t.number!),
            userVerification: "face", signature: signature)
        let seen = try await browser.value
        if n >= 10 { // the first ten warm up connections and caches
            baseline.append(ms(woke - sent))
            approval.append(ms(seen - before))
        }
    }
    func percentile(_ values: [Double], _ p: Double) -> Double {
        let sorted = values.sorted()
        return sorted[min(sorted.count - 1, Int((Double(sorted.count) * p).rounded(.up)) - 1)]
    }
    print("Authenticator approval round trip, \(logins) logins, storage \(store.backendName)")
    print(String(format: "  signal round trip (baseline)      p50 %7.2f ms   p99 %7.2f ms", percentile(baseline, 0.5), percentile(baseline, 0.99)))
    print(String(format: "  approve sent → browser sees it    p50 %7.2f ms   p99 %7.2f ms", percentile(approval, 0.5), percentile(approval, 0.99)))
    print(
        String(
            format: "  ratio approval/baseline           p50 %7.1f      p99 %7.1f",
            percentile(approval, 0.5) / max(percentile(baseline, 0.5), 0.001), percentile(approval, 0.99) / max(percentile(baseline, 0.99), 0.001)))
    try await bench.close()
}

private func ms(_ d: Duration) -> Double {
    Double(d.components.seconds) * 1000 + Double(d.components.attoseconds) / 1e15
}
