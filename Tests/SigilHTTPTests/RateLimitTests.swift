import Foundation
import HTTPTypes
import SigilStore
import Synchronization
import Testing

@testable import SigilHTTP

@Suite struct RateLimitTests {
    @Test func bucketsRefillOverTime() {
        let clock = Mutex<TimeInterval>(1000)
        let limiter = RateLimiter(now: { clock.withLock { $0 } })
        let rule = RateLimiter.Rule(capacity: 3, refillPerSecond: 0.5)
        #expect(limiter.take("a", rule: rule) == nil)
        #expect(limiter.take("a", rule: rule) == nil)
        #expect(limiter.take("a", rule: rule) == nil)
        #expect(limiter.take("a", rule: rule) == 2)
        #expect(limiter.take("b", rule: rule) == nil) // other keys are independent
        clock.withLock { $0 += 2 }
        #expect(limiter.take("a", rule: rule) == nil)
        #expect(limiter.take("a", rule: rule) == 2)
    }

    @Test func signInAttemptsAreLimitedWith429AndAudited() async throws {
        try await Harness.run { h in
            let origin = HTTPField.Name("Origin")!
            var statuses: [HTTPResponse.Status] = []
            for _ in 0..<32 {
                statuses.append(try await h.request(.post, "/login/passkey/options", json: "{}", headers: [origin: "https://id.example.com"]).status)
            }
            #expect(statuses.prefix(30).allSatisfy { $0 == .ok })
            let limited = try await h.request(.post, "/login/passkey/options", json: "{}", headers: [origin: "https://id.example.com"])
            try limited.expectProblem(.tooManyRequests, "rate-limited")
            #expect(Int(limited.headers[.retryAfter] ?? "") ?? 0 >= 1)
            // Other groups and reads are not affected.
            #expect(try await h.request(.get, "/login").status == .ok)
            let events = try await h.store.audit.list(tenantID: nil, page: PageRequest(limit: 100)).items
            #expect(events.contains { $0.action == "rate_limit.exceeded" })
        }
    }
}

@Suite struct CeremonyBodyTests {
    func body(_ name: String?) throws -> CeremonyBody {
        var json: [String: Any] = [
            "transaction": "ltx_x",
            "credential": [
                "id": "AA", "rawId": "AA", "type": "public-key",
                "response": ["clientDataJSON": "e30"],
            ],
        ]
        if let name { json["name"] = name }
        return try JSONDecoder().decode(CeremonyBody.self, from: JSONSerialization.data(withJSONObject: json))
    }

    @Test func passkeyNamesAreBoundedAndPrintable() throws {
        #expect(try body(nil).passkeyName == "Passkey")
        #expect(try body("  ").passkeyName == "Passkey")
        #expect(try body("MacBook Touch ID").passkeyName == "MacBook Touch ID")
        #expect(try body("evil\u{202E}name\n\t<b>").passkeyName == "evilname<b>")
        #expect(try body(String(repeating: "x", count: 5000)).passkeyName.count == 64)
    }
}
