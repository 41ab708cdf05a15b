import Foundation
import SigilJOSE

/// `private_key_jwt` (RFC 7523 §3, OIDC Core §9): checks the claims of a client assertion whose
/// signature was verified against the client's registered keys.
public enum ClientAssertion {
    public static let type = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    /// Assertions may live at most this long: an hour (authlib's default lifetime) plus skew. Their
    /// `jti` is remembered until they expire, so each is usable once.
    public static let maxLifetime: TimeInterval = 3660

    public struct Checked: Sendable, Equatable {
        public let jti: String
        public let expiresAt: Date
    }

    /// `iss` = `sub` = client_id, `aud` names one of `audiences`, `exp` in the future (with 60 s
    /// of skew) and not too far out, `jti` present.
    public static func check(_ payload: [String: JSONValue], clientID: String, audiences: Set<String>, now: Date) throws(OAuthError) -> Checked {
        func fail(_ why: String) -> OAuthError { OAuthError(.invalidClient, "client authentication failed", detail: why) }
        guard payload["iss"]?.string == clientID, payload["sub"]?.string == clientID else { throw fail("iss/sub is not the client_id") }
        guard let aud = payload["aud"]?.strings, aud.contains(where: audiences.contains) else { throw fail("aud does not name this server") }
        guard let exp = payload["exp"]?.int else { throw fail("exp missing") }
        let expiresAt = Date(timeIntervalSince1970: TimeInterval(exp))
        guard expiresAt.addingTimeInterval(60) > now else { throw fail("assertion expired") }
        guard expiresAt.timeIntervalSince(now) <= maxLifetime else { throw fail("assertion lives too long") }
        if let nbf = payload["nbf"]?.int, Date(timeIntervalSince1970: TimeInterval(nbf)) > now.addingTimeInterval(60) { throw fail("not yet valid") }
        guard let jti = payload["jti"]?.string, !jti.isEmpty, jti.utf8.count <= 256 else { throw fail("jti missing") }
        return Checked(jti: jti, expiresAt: max(expiresAt, now.addingTimeInterval(60)))
    }
}
