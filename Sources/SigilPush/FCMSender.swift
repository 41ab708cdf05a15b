import Foundation
import Logging
import SigilCore
import SigilServices
import _CryptoExtras

/// The fields Sigil reads from a Google service-account key file (JSON).
public struct FCMServiceAccount: Sendable {
    public var clientEmail: String
    public var projectID: String
    /// The OAuth 2.0 token endpoint, normally `https://oauth2.googleapis.com/token`.
    public var tokenURI: String
    /// `private_key_id`, sent as the assertion's `kid` when present.
    public var privateKeyID: String?
    public var privateKey: _RSA.Signing.PrivateKey

    public init(clientEmail: String, projectID: String, tokenURI: String, privateKeyID: String? = nil, privateKey: _RSA.Signing.PrivateKey) {
        self.clientEmail = clientEmail; self.projectID = projectID; self.tokenURI = tokenURI
        self.privateKeyID = privateKeyID; self.privateKey = privateKey
    }

    /// Parses the key file Google issues (`type` `service_account`). Errors never quote the file.
    public init(json: Data) throws {
        struct File: Decodable {
            var client_email: String?
            var private_key: String?
            var private_key_id: String?
            var project_id: String?
            var token_uri: String?
        }
        guard let file = try? JSONDecoder().decode(File.self, from: json) else {
            throw PushConfigurationError("the FCM service-account file is not JSON")
        }
        var missing: [String] = []
        if (file.client_email ?? "").isEmpty { missing.append("client_email") }
        if (file.private_key ?? "").isEmpty { missing.append("private_key") }
        if (file.project_id ?? "").isEmpty { missing.append("project_id") }
        if (file.token_uri ?? "").isEmpty { missing.append("token_uri") }
        guard missing.isEmpty else {
            throw PushConfigurationError("the FCM service-account file lacks \(missing.joined(separator: ", "))")
        }
        guard let tokenURL = URL(string: file.token_uri!), let scheme = tokenURL.scheme?.lowercased(),
            scheme == "https" || scheme == "http", tokenURL.host != nil
        else {
            throw PushConfigurationError("the FCM service-account file's token_uri is not an http(s) URL")
        }
        let key: _RSA.Signing.PrivateKey
        do { key = try _RSA.Signing.PrivateKey(pemRepresentation: file.private_key!) } catch {
            throw PushConfigurationError("the FCM service-account file's private_key is not a PEM RSA private key")
        }
        self.init(
            clientEmail: file.client_email!, projectID: file.project_id!, tokenURI: file.token_uri!,
            privateKeyID: file.private_key_id.flatMap { $0.isEmpty ? nil : $0 }, privateKey: key)
    }
}

public struct FCMConfiguration: Sendable {
    /// `https://fcm.googleapis.com`.
    public var baseURL: String
    public var serviceAccount: FCMServiceAccount

    public static let productionURL = "https://fcm.googleapis.com"

    public init(baseURL: String = FCMConfiguration.productionURL, serviceAccount: FCMServiceAccount) {
        self.baseURL = baseURL; self.serviceAccount = serviceAccount
    }
}

/// Firebase Cloud Messaging HTTP v1 (docs/push.md): an OAuth 2.0 access token from the RFC 7523
/// JWT-bearer grant, cached until shortly before it expires, then
/// `POST {baseURL}/v1/projects/{project}/messages:send`.
public struct FCMSender: PushSender {
    public static let scope = "https://www.googleapis.com/auth/firebase.messaging"
    /// Lifetime asked for in the assertion (Google allows at most one hour).
    static let assertionLifetime: TimeInterval = 3600
    /// An access token is dropped this long before Google's `expires_in` runs out.
    static let tokenMargin: TimeInterval = 300

    private let configuration: FCMConfiguration
    private let client: PushHTTPClient
    private let logger: Logger
    private let clock: any SigilClock
    private let maxRetryWait: TimeInterval
    private let tokens: CredentialCache

    public init(
        configuration: FCMConfiguration, client: PushHTTPClient, logger: Logger,
        clock: any SigilClock = SystemClock(), maxRetryWait: TimeInterval = 5
    ) {
        self.configuration = configuration
        self.client = client
        self.logger = logger
        self.clock = clock
        self.maxRetryWait = maxRetryWait
        self.tokens = CredentialCache(clock: clock) { [account = configuration.serviceAccount, client, clock] in
            try await FCMSender.grantAccessToken(account: account, client: client, clock: clock)
        }
    }

    enum GrantError: Error {
        /// The endpoint was unreachable or overloaded.
        case unavailable(retryAfter: TimeInterval?)
        /// The endpoint refused the assertion (`error` from RFC 6749 §5.2).
        case refused(String)
    }

    /// The RS256 assertion: `{"alg":"RS256","typ":"JWT"[,"kid"]}.{iss, scope, aud, iat, exp}`.
    static func assertion(account: FCMServiceAccount, issuedAt: Date) throws -> String {
        var header = "{\"alg\":\"RS256\",\"typ\":\"JWT\""
        if let kid = account.privateKeyID { header += ",\"kid\":\(PushHTTP.jsonString(kid))" }
        header += "}"
        let iat = Int64(issuedAt.timeIntervalSince1970)
        let claims =
            "{\"iss\":\(PushHTTP.jsonString(account.clientEmail)),\"scope\":\(PushHTTP.jsonString(scope)),"
            + "\"aud\":\(PushHTTP.jsonString(account.tokenURI)),\"iat\":\(iat),\"exp\":\(iat + Int64(assertionLifetime))}"
        let input = CompactJWT.signingInput(header: header, claims: claims)
        let signature = try account.privateKey.signature(for: Data(input.utf8), padding: .insecurePKCS1v1_5)
        return CompactJWT.assemble(signingInput: input, signature: signature.rawRepresentation)
    }

    static func grantAccessToken(account: FCMServiceAccount, client: PushHTTPClient, clock: any SigilClock) async throws -> CredentialCache.Entry {
        let now = clock.now()
        let assertion = try assertion(account: account, issuedAt: now)
        let form =
            "grant_type=" + PushHTTP.formValue("urn:ietf:params:oauth:grant-type:jwt-bearer")
            + "&assertion=" + PushHTTP.formValue(assertion)
        let response: PushHTTPResponse
        do {
            response = try await client.post(
                url: account.tokenURI,
                headers: [("content-type", "application/x-www-form-urlencoded")],
                body: Array(form.utf8))
        } catch {
            throw GrantError.unavailable(retryAfter: nil)
        }
        struct TokenResponse: Decodable { var access_token: String?; var expires_in: Double?; var error: String? }
        let decoded = try? JSONDecoder().decode(TokenResponse.self, from: Data(response.body))
        switch response.status {
        case 200:
            guard let token = decoded?.access_token, !token.isEmpty else { throw GrantError.refused("no access_token") }
            let lifetime = decoded?.expires_in ?? 3600
            // Keep a margin, but never cache a short-lived token past half its life.
            let usable = lifetime > 2 * tokenMargin ? lifetime - tokenMargin : lifetime / 2
            return .init(value: token, validUntil: now.addingTimeInterval(usable))
        case 429, 500...599:
            throw GrantError.unavailable(retryAfter: PushHTTP.retryAfter(response.headers["retry-after"], now: clock.now()))
        default:
            throw GrantError.refused(PushHTTP.reason(decoded?.error, status: response.status))
        }
    }

    /// The whole message: the token, the two ids as data, and Android delivery options.
    static func body(for notification: PushNotification, now: Date) -> String {
        let ttl = max(0, Int64(notification.expiresAt.timeIntervalSince(now).rounded(.up)))
        return "{\"message\":{\"token\":\(PushHTTP.jsonString(notification.deviceToken.value)),"
            + "\"data\":{\"v\":\"1\",\"request\":\(PushHTTP.jsonString(notification.requestID)),\"device\":\(PushHTTP.jsonString(notification.deviceID))},"
            + "\"android\":{\"priority\":\"HIGH\",\"ttl\":\"\(ttl)s\",\"collapse_key\":\(PushHTTP.jsonString(notification.requestID))}}}"
    }

    public func send(_ notification: PushNotification) async -> PushOutcome {
        let outcome = await deliver(notification)
        switch outcome {
        case .delivered:
            logger.debug("push delivered", metadata: ["provider": "fcm", "request": "\(notification.requestID)"])
        default:
            logger.notice("push not delivered", metadata: ["provider": "fcm", "request": "\(notification.requestID)", "outcome": "\(outcome)"])
        }
        return outcome
    }

    private func deliver(_ notification: PushNotification) async -> PushOutcome {
        guard notification.provider == .fcm else { return .rejected("not an FCM token") }
        guard notification.expiresAt > clock.now() else { return .rejected("request expired") }
        let url =
            PushHTTP.trimmingSlash(configuration.baseURL) + "/v1/projects/"
            + PushHTTP.pathSegment(configuration.serviceAccount.projectID) + "/messages:send"
        var renewedToken = false
        var retried = false
        while true {
            let accessToken: String
            do {
                accessToken = try await tokens.current()
            } catch GrantError.unavailable(let retryAfter) {
                if retried { return .unavailable(retryAfter: retryAfter) }
                retried = true
                await PushHTTP.sleep(seconds: PushHTTP.retryDelay(retryAfter, cap: maxRetryWait))
                continue
            } catch GrantError.refused(let reason) {
                logger.error("FCM access token refused", metadata: ["provider": "fcm", "reason": "\(reason)"])
                return .rejected("token grant: " + reason)
            } catch {
                logger.error("FCM assertion could not be signed", metadata: ["provider": "fcm"])
                return .rejected("assertion could not be signed")
            }
            // ttl is computed per attempt so a retried message does not outlive the request.
            let now = clock.now()
            guard notification.expiresAt > now else { return .rejected("request expired") }
            let body = Array(FCMSender.body(for: notification, now: now).utf8)
            let response: PushHTTPResponse
            do {
                response = try await client.post(
                    url: url,
                    headers: [
                        ("authorization", "Bearer " + accessToken),
                        ("content-type", "application/json; charset=UTF-8"),
                    ], body: body)
            } catch {
                logger.debug("FCM request failed", metadata: ["provider": "fcm", "error": "\(type(of: error))"])
                if retried { return .unavailable(retryAfter: nil) }
                retried = true
                await PushHTTP.sleep(seconds: PushHTTP.retryDelay(nil, cap: maxRetryWait))
                continue
            }
            let error = FCMSender.errorCode(in: response.body)
            switch response.status {
            case 200:
                return .delivered
            case 404 where error.code == "UNREGISTERED" || error.status == "UNREGISTERED":
                return .unregistered
            case 400 where error.code == "INVALID_ARGUMENT" || error.status == "INVALID_ARGUMENT":
                return .unregistered
            case 401 where !renewedToken:
                renewedToken = true
                await tokens.invalidate(accessToken)
                continue
            case 429, 500...599:
                let retryAfter = PushHTTP.retryAfter(response.headers["retry-after"], now: clock.now())
                if retried { return .unavailable(retryAfter: retryAfter) }
                retried = true
                await PushHTTP.sleep(seconds: PushHTTP.retryDelay(retryAfter, cap: maxRetryWait))
                continue
            default:
                return .rejected(PushHTTP.reason(error.code ?? error.status, status: response.status))
            }
        }
    }

    /// Google's error body: `{"error":{"code":404,"status":"NOT_FOUND","details":[{"@type":
    /// "type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"UNREGISTERED"}]}}`.
    static func errorCode(in body: [UInt8]) -> (code: String?, status: String?) {
        guard !body.isEmpty,
            let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any],
            let error = object["error"] as? [String: Any]
        else { return (nil, nil) }
        let status = error["status"] as? String
        let details = error["details"] as? [[String: Any]] ?? []
        let code = details.lazy.compactMap { $0["errorCode"] as? String }.first
        return (code, status)
    }
}
