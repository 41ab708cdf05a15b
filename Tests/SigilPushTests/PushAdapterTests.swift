import Foundation
import Logging
import SigilCore
import SigilServices
import Testing

@testable import SigilPush

/// Collects every log line (message and metadata) so tests can check that no secret is logged.
final class CapturedLogs: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    func append(_ line: String) { lock.lock(); lines.append(line); lock.unlock() }
    var all: [String] { lock.lock(); defer { lock.unlock() }; return lines }

    var logger: Logger {
        Logger(label: "push-test") { _ in CapturingHandler(sink: self) }
    }

    struct CapturingHandler: LogHandler {
        let sink: CapturedLogs
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }
        func log(event: LogEvent) {
            sink.append("\(event.level) \(event.message) \(self.metadata.merging(event.metadata ?? [:]) { $1 })")
        }
    }
}

private func notification(
    _ provider: PushProvider, token: String, request: String = "ltx_3kQ9vXw2", device: String = "dev_7Hn2pLq",
    expiresIn: TimeInterval = 120
) -> PushNotification {
    PushNotification(
        provider: provider, deviceToken: Secret(token), requestID: request, deviceID: device,
        expiresAt: Date().addingTimeInterval(expiresIn))
}

private func jwtParts(_ jwt: String) throws -> (header: [String: Any], claims: [String: Any]) {
    let parts = jwt.split(separator: ".").map(String.init)
    try #require(parts.count == 3)
    let header = try #require(Base64URL.decode(parts[0]).flatMap { try? JSONSerialization.jsonObject(with: $0) as? [String: Any] })
    let claims = try #require(Base64URL.decode(parts[1]).flatMap { try? JSONSerialization.jsonObject(with: $0) as? [String: Any] })
    return (header, claims)
}

/// Runs `body` against a fresh fake, then checks the fake recorded no violation.
private func withFake(_ body: (FakePushServer) async throws -> Void) async throws {
    let fake = try await FakePushServer.start()
    defer { fake.stop() }
    try await body(fake)
    let violations = try await fake.violations()
    #expect(violations.isEmpty, "the fake recorded violations: \(violations)")
}

@Suite(
    "Push adapters against interop/fake_push.py", .serialized, .timeLimit(.minutes(3)),
    .enabled(if: FakePushPrerequisites.shouldRun, "python3 with `cryptography` is not installed (set CI to make this a failure)"))
struct PushAdapterTests {
    let client = PushHTTPClient.shared

    // MARK: APNs

    @Test func apnsDeliversIdsOnlyWithTheRequiredHeaders() async throws {
        try await withFake { fake in
            let logs = CapturedLogs()
            let sender = APNsSender(configuration: try fake.apnsConfiguration(), client: client, logger: logs.logger)
            let note = notification(.apns, token: "a1b2c3d4e5f60718")
            #expect(await sender.send(note) == .delivered)

            let deliveries = try await fake.deliveries()
            try #require(deliveries.count == 1)
            let delivery = deliveries[0]
            #expect(delivery["api"] as? String == "apns")
            #expect(delivery["token"] as? String == "a1b2c3d4e5f60718")
            #expect(
                delivery["body"] as? String
                    == #"{"aps":{"alert":{"title":"Sign-in request","body":"Open Sigil to review it"},"sound":"default"},"sigil":{"v":1,"request":"ltx_3kQ9vXw2","device":"dev_7Hn2pLq"}}"#
            )
            let headers = try #require(delivery["headers"] as? [String: String])
            #expect(headers["apns-topic"] == FakePushServer.topic)
            #expect(headers["apns-push-type"] == "alert")
            #expect(headers["apns-priority"] == "10")
            #expect(headers["apns-expiration"] == String(Int64(note.expiresAt.timeIntervalSince1970)))
            #expect(headers["apns-collapse-id"] == "ltx_3kQ9vXw2")
            #expect(Set(headers.keys) == ["apns-topic", "apns-push-type", "apns-priority", "apns-expiration", "apns-collapse-id"])

            let jwt = try #require(delivery["jwt"] as? String)
            let (header, claims) = try jwtParts(jwt)
            #expect(header["alg"] as? String == "ES256")
            #expect(header["kid"] as? String == FakePushServer.keyID)
            #expect(Set(header.keys) == ["alg", "kid"])
            #expect(claims["iss"] as? String == FakePushServer.teamID)
            let iat = try #require(claims["iat"] as? Int)
            #expect(abs(Double(iat) - Date().timeIntervalSince1970) < 60)
            #expect(Set(claims.keys) == ["iss", "iat"])

            // Nothing secret in the logs: not the device token, not the JWT.
            for line in logs.all {
                #expect(!line.contains("a1b2c3d4e5f60718") && !line.contains(jwt.prefix(20)), "log line leaks a secret: \(line)")
            }
        }
    }

    @Test func apnsReusesTheProviderToken() async throws {
        try await withFake { fake in
            let sender = APNsSender(configuration: try fake.apnsConfiguration(), client: client, logger: Logger(label: "test"))
            #expect(await sender.send(notification(.apns, token: "aaaa01")) == .delivered)
            #expect(await sender.send(notification(.apns, token: "aaaa02")) == .delivered)
            let jwts = try await fake.deliveries().compactMap { $0["jwt"] as? String }
            #expect(jwts.count == 2 && jwts[0] == jwts[1])
        }
    }

    @Test func apnsUnregisteredAndBadTokens() async throws {
        try await withFake { fake in
            let sender = APNsSender(configuration: try fake.apnsConfiguration(), client: client, logger: Logger(label: "test"))
            #expect(await sender.send(notification(.apns, token: "unregistered-0001")) == .unregistered)
            #expect(await sender.send(notification(.apns, token: "badtoken-0001")) == .unregistered)
            #expect(try await fake.statuses(forToken: "unregistered-0001") == [410])
            #expect(try await fake.statuses(forToken: "badtoken-0001") == [400])
            #expect(try await fake.deliveries().isEmpty)
        }
    }

    @Test func apnsExpiredProviderTokenIsRenewedOnce() async throws {
        try await withFake { fake in
            let sender = APNsSender(configuration: try fake.apnsConfiguration(), client: client, logger: Logger(label: "test"))
            #expect(await sender.send(notification(.apns, token: "aaaa01")) == .delivered)
            // JWTs carry whole seconds: wait so the renewed one differs from the first.
            try await Task.sleep(for: .milliseconds(1100))
            #expect(await sender.send(notification(.apns, token: "expire-0001")) == .delivered)
            #expect(try await fake.statuses(forToken: "expire-0001") == [403, 200])
            #expect(await sender.send(notification(.apns, token: "aaaa02")) == .delivered)
            let jwts = try await fake.deliveries().compactMap { $0["jwt"] as? String }
            try #require(jwts.count == 3)
            #expect(jwts[0] != jwts[1], "a new provider token after ExpiredProviderToken")
            #expect(jwts[1] == jwts[2], "the renewed token is cached")
        }
    }

    @Test func apnsTooManyRequestsIsRetriedOnceAfterRetryAfter() async throws {
        try await withFake { fake in
            let sender = APNsSender(configuration: try fake.apnsConfiguration(), client: client, logger: Logger(label: "test"))
            let start = ContinuousClock.now
            #expect(await sender.send(notification(.apns, token: "busy-0001")) == .delivered)
            #expect(ContinuousClock.now - start >= .milliseconds(950), "Retry-After: 1 was honoured")
            #expect(try await fake.statuses(forToken: "busy-0001") == [429, 200])
        }
    }

    @Test func unreachableProviderIsUnavailableAfterOneRetry() async throws {
        // A port nothing listens on (bound, then closed).
        let closed = try await FakePushServer.start()
        let url = closed.baseURL
        let apns = try closed.apnsConfiguration()
        closed.stop()
        var configuration = apns
        configuration.baseURL = url
        // async-http-client keeps retrying a refused connection until the request's deadline.
        let shortClient = PushHTTPClient(connectTimeout: .milliseconds(500), requestTimeout: .seconds(1))
        let sender = APNsSender(configuration: configuration, client: shortClient, logger: Logger(label: "test"), maxRetryWait: 0.1)
        let start = ContinuousClock.now
        #expect(await sender.send(notification(.apns, token: "aaaa01")) == .unavailable(retryAfter: nil))
        // Bounded, not fast: without the request deadline it retries the refused connection for
        // ever. Normally about 2 s; 53 s was seen once in a full parallel `swift test` on 2 busy
        // cores, so the bound only separates "ends" from "hangs".
        #expect(ContinuousClock.now - start < .seconds(90))
        try await shortClient.shutdown()
    }

    @Test func expiredRequestIsNotSent() async throws {
        try await withFake { fake in
            let sender = APNsSender(configuration: try fake.apnsConfiguration(), client: client, logger: Logger(label: "test"))
            #expect(await sender.send(notification(.apns, token: "aaaa01", expiresIn: -1)) == .rejected("request expired"))
            #expect(try await fake.requests().isEmpty)
        }
    }

    // MARK: FCM

    @Test func fcmGrantsATokenDeliversAndCachesIt() async throws {
        try await withFake { fake in
            let logs = CapturedLogs()
            let sender = FCMSender(configuration: try fake.fcmConfiguration(), client: client, logger: logs.logger)
            #expect(await sender.send(notification(.fcm, token: "fcm-token-one:APA91b")) == .delivered)
            #expect(await sender.send(notification(.fcm, token: "fcm-token-two:APA91b", request: "ltx_second")) == .delivered)
            #expect(try await fake.tokenRequests() == 1, "the access token is cached across sends")

            let deliveries = try await fake.deliveries()
            try #require(deliveries.count == 2)
            let body = try #require(deliveries[0]["body"] as? String)
            let json = try #require(try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any])
            let message = try #require(json["message"] as? [String: Any])
            #expect(Set(json.keys) == ["message"])
            #expect(Set(message.keys) == ["token", "data", "android"])
            #expect(message["token"] as? String == "fcm-token-one:APA91b")
            #expect(message["data"] as? [String: String] == ["v": "1", "request": "ltx_3kQ9vXw2", "device": "dev_7Hn2pLq"])
            let android = try #require(message["android"] as? [String: String])
            #expect(android["priority"] == "HIGH")
            #expect(android["collapse_key"] == "ltx_3kQ9vXw2")
            // The request's remaining lifetime when sent, in whole seconds: 120 s from its creation, less
            // however long this test took to get here (seconds, on a loaded CI machine).
            let ttl = android["ttl"].flatMap { $0.hasSuffix("s") ? Int($0.dropLast()) : nil }
            #expect(ttl.map { (60...120).contains($0) } == true, "ttl \(android["ttl"] ?? "nil")")
            for line in logs.all {
                #expect(!line.contains("fcm-token-") && !line.contains("fake-at-"), "log line leaks a secret: \(line)")
            }
        }
    }

    @Test func fcmUnregisteredAndInvalidTokens() async throws {
        try await withFake { fake in
            let sender = FCMSender(configuration: try fake.fcmConfiguration(), client: client, logger: Logger(label: "test"))
            #expect(await sender.send(notification(.fcm, token: "unregistered-0001")) == .unregistered)
            #expect(await sender.send(notification(.fcm, token: "badtoken-0001")) == .unregistered)
            #expect(try await fake.statuses(forToken: "unregistered-0001") == [404])
            #expect(try await fake.statuses(forToken: "badtoken-0001") == [400])
        }
    }

    @Test func fcmUnauthorizedRenewsTheAccessTokenOnce() async throws {
        try await withFake { fake in
            let sender = FCMSender(configuration: try fake.fcmConfiguration(), client: client, logger: Logger(label: "test"))
            #expect(await sender.send(notification(.fcm, token: "expire-0001")) == .delivered)
            #expect(try await fake.statuses(forToken: "expire-0001") == [401, 200])
            #expect(try await fake.tokenRequests() == 2)
            #expect(await sender.send(notification(.fcm, token: "plain-0001")) == .delivered)
            #expect(try await fake.tokenRequests() == 2, "the renewed token is cached")
        }
    }

    @Test func fcmTooManyRequestsIsRetriedOnceAfterRetryAfter() async throws {
        try await withFake { fake in
            let sender = FCMSender(configuration: try fake.fcmConfiguration(), client: client, logger: Logger(label: "test"))
            let start = ContinuousClock.now
            #expect(await sender.send(notification(.fcm, token: "busy-0001")) == .delivered)
            #expect(ContinuousClock.now - start >= .milliseconds(950), "Retry-After: 1 was honoured")
            #expect(try await fake.statuses(forToken: "busy-0001") == [429, 200])
        }
    }

    // MARK: Configuration and routing

    @Test func configurationFromTheEnvironmentRoutesBothProviders() async throws {
        try await withFake { fake in
            let sender = try #require(try PushConfiguration.make(environment: fake.environment, logger: Logger(label: "test"), client: client))
            #expect(sender is PushRouter)
            #expect(await sender.send(notification(.apns, token: "aaaa01")) == .delivered)
            #expect(await sender.send(notification(.fcm, token: "fcm-0001")) == .delivered)
            #expect(try await fake.deliveries().compactMap { $0["api"] as? String } == ["apns", "fcm"])
        }
    }

    // MARK: The fake refuses what Sigil must never send

    @Test func fakeRefusesExtraKeysAndAddresses() async throws {
        let fake = try await FakePushServer.start()
        defer { fake.stop() }
        let jwt = try APNsSender.providerToken(configuration: try fake.apnsConfiguration(), issuedAt: Date())
        let headers = [
            ("authorization", "bearer " + jwt), ("apns-topic", FakePushServer.topic), ("apns-push-type", "alert"),
            ("apns-priority", "10"), ("apns-expiration", String(Int(Date().timeIntervalSince1970) + 120)),
            ("apns-collapse-id", "ltx_3kQ9vXw2"),
        ]
        let good =
            #"{"aps":{"alert":{"title":"Sign-in request","body":"Open Sigil to review it"},"sound":"default"},"sigil":{"v":1,"request":"ltx_3kQ9vXw2","device":"dev_7Hn2pLq"}}"#
        #expect(try await fake.post("/3/device/aaaa01", headers: headers, body: good).0 == 200)
        let extraKey = good.replacingOccurrences(of: #""v":1,"#, with: #""v":1,"user":"ada","#)
        #expect(try await fake.post("/3/device/aaaa01", headers: headers, body: extraKey).0 == 400)
        let address = good.replacingOccurrences(of: "Open Sigil to review it", with: "ada@example.com")
        #expect(try await fake.post("/3/device/aaaa01", headers: headers, body: address).0 == 400)
        let forged = try APNsSender.providerToken(
            configuration: APNsConfiguration(
                baseURL: fake.baseURL, keyID: FakePushServer.keyID, teamID: FakePushServer.teamID,
                topic: FakePushServer.topic, privateKey: .init()), issuedAt: Date())
        #expect(try await fake.post("/3/device/aaaa01", headers: [("authorization", "bearer " + forged)] + headers.dropFirst(), body: good).0 == 403)
        #expect(try await fake.violations().count == 3)
        #expect(try await fake.deliveries().count == 1)
    }
}

@Suite("Push configuration")
struct PushConfigurationTests {
    @Test func unsetMeansOff() throws {
        #expect(try PushConfiguration.make(environment: [:], logger: Logger(label: "test")) == nil)
    }

    @Test func partialConfigurationIsAnError() throws {
        #expect(throws: PushConfigurationError.self) {
            try PushConfiguration.make(environment: ["SIGIL_APNS_KEY_ID": "K", "SIGIL_APNS_TEAM_ID": "T"], logger: Logger(label: "test"))
        }
        #expect(throws: PushConfigurationError.self) {
            try PushConfiguration.make(environment: ["SIGIL_FCM_URL": "http://127.0.0.1:1"], logger: Logger(label: "test"))
        }
        do {
            _ = try PushConfiguration.apns(environment: ["SIGIL_APNS_KEY_ID": "K", "SIGIL_APNS_TOPIC": "t"])
            Issue.record("expected an error")
        } catch let error as PushConfigurationError {
            #expect(error.description.contains("SIGIL_APNS_KEY_FILE") && error.description.contains("SIGIL_APNS_TEAM_ID"))
        }
    }

    @Test func unreadableOrInvalidKeysAreErrorsThatQuoteNothing() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sigil-push-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let bad = directory.appendingPathComponent("bad.p8")
        try "-----BEGIN PRIVATE KEY-----\nc2VjcmV0\n-----END PRIVATE KEY-----\n".write(to: bad, atomically: true, encoding: .utf8)
        do {
            _ = try PushConfiguration.apns(environment: [
                "SIGIL_APNS_KEY_FILE": bad.path, "SIGIL_APNS_KEY_ID": "K",
                "SIGIL_APNS_TEAM_ID": "T", "SIGIL_APNS_TOPIC": "t",
            ])
            Issue.record("expected an error")
        } catch let error as PushConfigurationError {
            #expect(error.description.contains("SIGIL_APNS_KEY_FILE") && !error.description.contains("c2VjcmV0"))
        }
        let account = directory.appendingPathComponent("sa.json")
        try #"{"client_email":"a","private_key":"c2VjcmV0","project_id":"p","token_uri":"https://oauth2.googleapis.com/token"}"#
            .write(to: account, atomically: true, encoding: .utf8)
        do {
            _ = try PushConfiguration.fcm(environment: ["SIGIL_FCM_SERVICE_ACCOUNT_FILE": account.path])
            Issue.record("expected an error")
        } catch let error as PushConfigurationError {
            #expect(error.description.contains("private_key") && !error.description.contains("c2VjcmV0"))
        }
    }

    @Test func retryAfterParsing() {
        let now = Date(timeIntervalSince1970: 1_800_000_000)
        #expect(PushHTTP.retryAfter("3", now: now) == 3)
        #expect(PushHTTP.retryAfter(nil, now: now) == nil)
        #expect(PushHTTP.retryAfter("soon", now: now) == nil)
        #expect(PushHTTP.retryAfter("Fri, 15 Jan 2027 08:00:10 GMT", now: now) == 10)
        #expect(PushHTTP.retryDelay(60, cap: 5) == 5)
    }
}
