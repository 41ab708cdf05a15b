import AsyncHTTPClient
import Foundation
import Logging
import SigilCore
import SigilRemote
import SigilServices

/// OpenID Connect Back-Channel Logout delivery over HTTP (§2.5): `POST` with
/// `Content-Type: application/x-www-form-urlencoded` and the body `logout_token=…`. Redirects
/// are not followed; the answer is only its status (a 2xx means logged out). The token and the
/// body are never logged. Shares the push adapters' client (short timeouts, no redirects).
public struct BackChannelLogoutHTTPSender: BackChannelLogoutSender {
    let client: PushHTTPClient
    let logger: Logger
    /// The client's `backchannel_logout_uri` is chosen by a tenant administrator: the same
    /// outbound rules as every such URL (public addresses only, resolved once and pinned).
    let policy: OutboundPolicy

    public init(
        client: PushHTTPClient, policy: OutboundPolicy = OutboundPolicy(),
        logger: Logger = Logger(label: "sigil.backchannel-logout")
    ) {
        self.client = client
        self.policy = policy
        self.logger = logger
    }

    public func send(uri: String, logoutToken: Secret<String>) async -> BackChannelLogoutOutcome {
        let body = Array("logout_token=\(PushHTTP.formValue(logoutToken.value))".utf8)
        do {
            if let why = policy.refusal(uri) { throw RemoteFetchError.notAllowed(why) }
            guard let host = URLComponents(string: uri)?.host else { throw RemoteFetchError.notAllowed("no host") }
            let address = try await OutboundResolver.checkedAddress(for: host, policy: policy)
            let response = try await client.post(
                url: uri,
                headers: [
                    ("content-type", "application/x-www-form-urlencoded"),
                    ("cache-control", "no-store"),
                ], body: body,
                pinning: host, to: address)
            if (200..<300).contains(response.status) { return .delivered(status: response.status) }
            logger.notice("back-channel logout refused", metadata: ["status": .stringConvertible(response.status)])
            return .rejected(status: response.status)
        } catch {
            // The error names the failure (refused, timeout, TLS), never the token.
            let reason = String(describing: type(of: error)) + ": " + String(String(describing: error).prefix(120))
            logger.notice("back-channel logout unreachable", metadata: ["error": .string(reason)])
            return .unreachable(reason)
        }
    }
}
