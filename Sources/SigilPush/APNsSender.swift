import Crypto
import Foundation
import Logging
import SigilCore
import SigilServices

/// What the APNs adapter needs: the provider API's base URL, the token-signing key (.p8) with its
/// key id, the team id and the app's bundle id (the topic).
public struct APNsConfiguration: Sendable {
    /// `https://api.push.apple.com` (production) or `https://api.sandbox.push.apple.com`.
    public var baseURL: String
    public var keyID: String
    public var teamID: String
    /// The app's bundle id.
    public var topic: String
    public var privateKey: P256.Signing.PrivateKey

    public static let productionURL = "https://api.push.apple.com"

    public init(baseURL: String = APNsConfiguration.productionURL, keyID: String, teamID: String, topic: String, privateKey: P256.Signing.PrivateKey) {
        self.baseURL = baseURL; self.keyID = keyID; self.teamID = teamID; self.topic = topic; self.privateKey = privateKey
    }

    /// - Parameter keyPEM: the contents of Apple's `AuthKey_<kid>.p8` (PKCS#8 P-256, PEM).
    public init(baseURL: String = APNsConfiguration.productionURL, keyID: String, teamID: String, topic: String, keyPEM: String) throws {
        let key: P256.Signing.PrivateKey
        do { key = try P256.Signing.PrivateKey(pemRepresentation: keyPEM) } catch {
            throw PushConfigurationError("the APNs key is not a PEM PKCS#8 P-256 private key")
        }
        self.init(baseURL: baseURL, keyID: keyID, teamID: teamID, topic: topic, privateKey: key)
    }
}

/// Apple Push Notification service, token-based provider API (docs/push.md):
/// `POST {baseURL}/3/device/{token}` with an ES256 provider JWT reused for at most 50 minutes.
public struct APNsSender: PushSender {
    /// APNs refuses provider tokens older than one hour; Sigil renews them after 50 minutes.
    public static let tokenLifetime: TimeInterval = 50 * 60
    public static let alertTitle = "Sign-in request"
    public static let alertBody = "Open Sigil to review it"

    private let configuration: APNsConfiguration
    private let client: PushHTTPClient
    private let logger: Logger
    private let clock: any SigilClock
    private let maxRetryWait: TimeInterval
    private let tokens: CredentialCache

    /// - Parameters:
    ///   - maxRetryWait: the longest `Retry-After` honoured before the one retry (longer answers
    ///     are shortened to this).
    public init(
        configuration: APNsConfiguration, client: PushHTTPClient, logger: Logger,
        clock: any SigilClock = SystemClock(), maxRetryWait: TimeInterval = 5
    ) {
        self.configuration = configuration
        self.client = client
        self.logger = logger
        self.clock = clock
        self.maxRetryWait = maxRetryWait
        self.tokens = CredentialCache(clock: clock) { [configuration, clock] in
            let now = clock.now()
            let jwt = try APNsSender.providerToken(configuration: configuration, issuedAt: now)
            return .init(value: jwt, validUntil: now.addingTimeInterval(APNsSender.tokenLifetime))
        }
    }

    /// The provider authentication token: `{"alg":"ES256","kid":…}.{"iss":team,"iat":…}`.
    static func providerToken(configuration: APNsConfiguration, issuedAt: Date) throws -> String {
        let header = "{\"alg\":\"ES256\",\"kid\":\(PushHTTP.jsonString(configuration.keyID))}"
        let claims = "{\"iss\":\(PushHTTP.jsonString(configuration.teamID)),\"iat\":\(Int64(issuedAt.timeIntervalSince1970))}"
        let input = CompactJWT.signingInput(header: header, claims: claims)
        let signature = try configuration.privateKey.signature(for: Data(input.utf8))
        return CompactJWT.assemble(signingInput: input, signature: signature.rawRepresentation)
    }

    /// The whole payload: a fixed alert and the two ids, nothing else.
    static func body(for notification: PushNotification) -> String {
        "{\"aps\":{\"alert\":{\"title\":\(PushHTTP.jsonString(alertTitle)),\"body\":\(PushHTTP.jsonString(alertBody))},\"sound\":\"default\"},"
            + "\"sigil\":{\"v\":1,\"request\":\(PushHTTP.jsonString(notification.requestID)),\"device\":\(PushHTTP.jsonString(notification.deviceID))}}"
    }

    public func send(_ notification: PushNotification) async -> PushOutcome {
        let outcome = await deliver(notification)
        switch outcome {
        case .delivered:
            logger.debug("push delivered", metadata: ["provider": "apns", "request": "\(notification.requestID)"])
        default:
            logger.notice("push not delivered", metadata: ["provider": "apns", "request": "\(notification.requestID)", "outcome": "\(outcome)"])
        }
        return outcome
    }

    private func deliver(_ notification: PushNotification) async -> PushOutcome {
        guard notification.provider == .apns else { return .rejected("not an APNs token") }
        let now = clock.now()
        guard notification.expiresAt > now else { return .rejected("request expired") }
        let url = PushHTTP.trimmingSlash(configuration.baseURL) + "/3/device/" + PushHTTP.pathSegment(notification.deviceToken.value)
        let body = Array(APNsSender.body(for: notification).utf8)
        var renewedToken = false
        var retried = false
        while true {
            let jwt: String
            do { jwt = try await tokens.current() } catch {
                logger.error("APNs provider token could not be signed", metadata: ["provider": "apns"])
                return .rejected("provider token could not be signed")
            }
            let headers: [(String, String)] = [
                ("authorization", "bearer " + jwt),
                ("apns-topic", configuration.topic),
                ("apns-push-type", "alert"),
                ("apns-priority", "10"),
                ("apns-expiration", String(Int64(notification.expiresAt.timeIntervalSince1970))),
                ("apns-collapse-id", notification.requestID),
                ("content-type", "application/json"),
            ]
            let response: PushHTTPResponse
            do {
                response = try await client.post(url: url, headers: headers, body: body)
            } catch {
                // Unreachable, reset or timed out: like a 5xx.
                logger.debug("APNs request failed", metadata: ["provider": "apns", "error": "\(type(of: error))"])
                if retried { return .unavailable(retryAfter: nil) }
                retried = true
                await PushHTTP.sleep(seconds: PushHTTP.retryDelay(nil, cap: maxRetryWait))
                continue
            }
            let reason = APNsSender.reason(in: response.body)
            switch response.status {
            case 200:
                return .delivered
            case 410:
                return .unregistered
            case 400 where reason == "BadDeviceToken":
                return .unregistered
            case 403 where reason == "ExpiredProviderToken" && !renewedToken:
                renewedToken = true
                await tokens.invalidate(jwt)
                continue
            case 429, 500...599:
                let retryAfter = PushHTTP.retryAfter(response.headers["retry-after"], now: clock.now())
                if retried { return .unavailable(retryAfter: retryAfter) }
                retried = true
                await PushHTTP.sleep(seconds: PushHTTP.retryDelay(retryAfter, cap: maxRetryWait))
                continue
            default:
                return .rejected(PushHTTP.reason(reason, status: response.status))
            }
        }
    }

    /// APNs error bodies are `{"reason":"…"}` (410 adds `timestamp`).
    static func reason(in body: [UInt8]) -> String? {
        guard !body.isEmpty,
            let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any]
        else { return nil }
        return object["reason"] as? String
    }
}
