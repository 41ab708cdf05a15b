import Foundation
import SigilCore

/// Push delivery to a device's notification service (docs/authenticator-protocol.md §4.2). The
/// notification carries ids only: the request id and the device id, never a name, email, number,
/// application or address. Adapters (APNs, FCM) live in the SigilPush target; tests use
/// `RecordingPushSender`.
public enum PushProvider: String, Sendable, Codable, CaseIterable {
    case apns, fcm
}

public struct PushNotification: Sendable {
    public var provider: PushProvider
    public var deviceToken: Secret<String>
    /// `ltx_…`: the only data about the request.
    public var requestID: String
    /// `dev_…`: tells a multi-account app which enrolment to use.
    public var deviceID: String
    public var expiresAt: Date

    public init(provider: PushProvider, deviceToken: Secret<String>, requestID: String, deviceID: String, expiresAt: Date) {
        self.provider = provider; self.deviceToken = deviceToken; self.requestID = requestID
        self.deviceID = deviceID; self.expiresAt = expiresAt
    }
}

public enum PushOutcome: Sendable, Equatable {
    case delivered
    /// The token is no longer valid (APNs 410 / BadDeviceToken, FCM UNREGISTERED): clear it.
    case unregistered
    /// The provider refused the request for another reason (the reason names it, no token).
    case rejected(String)
    /// Unreachable or overloaded after the one retry.
    case unavailable(retryAfter: TimeInterval?)
}

public protocol PushSender: Sendable {
    func send(_ notification: PushNotification) async -> PushOutcome
}

/// Sends nothing; the device's stream still delivers. Used when no provider is configured.
public struct NoPushSender: PushSender {
    public init() {}
    public func send(_ notification: PushNotification) async -> PushOutcome { .unavailable(retryAfter: nil) }
}

/// Routes each notification to the sender configured for its provider.
public struct PushRouter: PushSender {
    public let senders: [PushProvider: any PushSender]
    public init(senders: [PushProvider: any PushSender]) { self.senders = senders }
    public func send(_ notification: PushNotification) async -> PushOutcome {
        guard let sender = senders[notification.provider] else { return .rejected("provider \(notification.provider.rawValue) is not configured") }
        return await sender.send(notification)
    }
}

/// Records notifications instead of sending them (tests).
public actor RecordingPushSender: PushSender {
    public private(set) var sent: [PushNotification] = []
    public var outcome: PushOutcome
    public init(outcome: PushOutcome = .delivered) { self.outcome = outcome }
    public func setOutcome(_ outcome: PushOutcome) { self.outcome = outcome }
    public func send(_ notification: PushNotification) async -> PushOutcome {
        sent.append(notification)
        return outcome
    }
}
