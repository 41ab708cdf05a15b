import Foundation
import Logging
import SigilCore
import SigilServices

/// A push configuration that cannot be used. The message names variables and files, never their
/// contents.
public struct PushConfigurationError: Error, CustomStringConvertible, Equatable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// Builds the push senders from the environment (docs/push.md). A provider whose variables are all
/// unset is off; one that is partly configured is an error.
public enum PushConfiguration {
    public static let apnsVariables = ["SIGIL_APNS_KEY_FILE", "SIGIL_APNS_KEY_ID", "SIGIL_APNS_TEAM_ID", "SIGIL_APNS_TOPIC"]
    public static let fcmVariables = ["SIGIL_FCM_SERVICE_ACCOUNT_FILE"]

    /// The APNs settings, nil when APNs is off.
    public static func apns(environment: [String: String]) throws -> APNsConfiguration? {
        let value = { (name: String) -> String? in
            guard let v = environment[name]?.trimmingCharacters(in: .whitespaces), !v.isEmpty else { return nil }
            return v
        }
        let set = apnsVariables.filter { value($0) != nil }
        if set.isEmpty {
            if value("SIGIL_APNS_URL") != nil {
                throw PushConfigurationError("SIGIL_APNS_URL is set but APNs is not configured: set \(apnsVariables.joined(separator: ", "))")
            }
            return nil
        }
        let missing = apnsVariables.filter { value($0) == nil }
        guard missing.isEmpty else {
            throw PushConfigurationError("APNs is partly configured: \(missing.joined(separator: ", ")) \(missing.count == 1 ? "is" : "are") not set")
        }
        let baseURL = try url(value("SIGIL_APNS_URL") ?? APNsConfiguration.productionURL, variable: "SIGIL_APNS_URL")
        let path = value("SIGIL_APNS_KEY_FILE")!
        guard let data = FileManager.default.contents(atPath: path), let pem = String(data: data, encoding: .utf8) else {
            throw PushConfigurationError("SIGIL_APNS_KEY_FILE cannot be read")
        }
        do {
            return try APNsConfiguration(
                baseURL: baseURL, keyID: value("SIGIL_APNS_KEY_ID")!, teamID: value("SIGIL_APNS_TEAM_ID")!,
                topic: value("SIGIL_APNS_TOPIC")!, keyPEM: pem)
        } catch let error as PushConfigurationError {
            throw PushConfigurationError("SIGIL_APNS_KEY_FILE: \(error.description)")
        }
    }

    /// The FCM settings, nil when FCM is off.
    public static func fcm(environment: [String: String]) throws -> FCMConfiguration? {
        let value = { (name: String) -> String? in
            guard let v = environment[name]?.trimmingCharacters(in: .whitespaces), !v.isEmpty else { return nil }
            return v
        }
        guard let path = value("SIGIL_FCM_SERVICE_ACCOUNT_FILE") else {
            if value("SIGIL_FCM_URL") != nil {
                throw PushConfigurationError("SIGIL_FCM_URL is set but SIGIL_FCM_SERVICE_ACCOUNT_FILE is not")
            }
            return nil
        }
        let baseURL = try url(value("SIGIL_FCM_URL") ?? FCMConfiguration.productionURL, variable: "SIGIL_FCM_URL")
        guard let data = FileManager.default.contents(atPath: path) else {
            throw PushConfigurationError("SIGIL_FCM_SERVICE_ACCOUNT_FILE cannot be read")
        }
        do {
            return FCMConfiguration(baseURL: baseURL, serviceAccount: try FCMServiceAccount(json: data))
        } catch let error as PushConfigurationError {
            throw PushConfigurationError("SIGIL_FCM_SERVICE_ACCOUNT_FILE: \(error.description)")
        }
    }

    /// A `PushRouter` over the configured providers, or nil when none is configured.
    ///
    /// - Parameter client: the HTTP client the senders share. Pass one you created
    ///   (`PushHTTPClient()`) and call its `shutdown()` on graceful shutdown, or leave the default,
    ///   async-http-client's process-wide client, which needs no shutdown.
    public static func make(
        environment: [String: String], logger: Logger,
        client: PushHTTPClient = .shared, clock: any SigilClock = SystemClock()
    ) throws -> (any PushSender)? {
        var senders: [PushProvider: any PushSender] = [:]
        if let apns = try apns(environment: environment) {
            senders[.apns] = APNsSender(configuration: apns, client: client, logger: logger, clock: clock)
            warnIfCleartext(apns.baseURL, provider: "apns", logger: logger)
        }
        if let fcm = try fcm(environment: environment) {
            senders[.fcm] = FCMSender(configuration: fcm, client: client, logger: logger, clock: clock)
            warnIfCleartext(fcm.baseURL, provider: "fcm", logger: logger)
            warnIfCleartext(fcm.serviceAccount.tokenURI, provider: "fcm", logger: logger)
        }
        guard !senders.isEmpty else {
            logger.info("push delivery off: no APNs or FCM configuration; devices receive requests on their stream")
            return nil
        }
        logger.info("push delivery on", metadata: ["providers": "\(senders.keys.map(\.rawValue).sorted().joined(separator: ","))"])
        return PushRouter(senders: senders)
    }

    private static func url(_ string: String, variable: String) throws -> String {
        guard let url = URL(string: string), let scheme = url.scheme?.lowercased(), scheme == "https" || scheme == "http",
            url.host != nil, url.query == nil, url.fragment == nil
        else {
            throw PushConfigurationError("\(variable) is not an http(s) URL")
        }
        return string
    }

    private static func warnIfCleartext(_ string: String, provider: String, logger: Logger) {
        if URL(string: string)?.scheme?.lowercased() == "http" {
            logger.warning("push provider URL is cleartext http (a local fake?)", metadata: ["provider": "\(provider)"])
        }
    }
}
