import Crypto
import SigilCore

/// Proof Key for Code Exchange (RFC 7636). Only `S256` is accepted: `plain` offers no protection
/// against an attacker who sees the authorization request (RFC 9700 §2.1.1).
public enum PKCE {
    public static let supportedMethods = ["S256"]

    /// Checks the challenge sent at the authorization endpoint: 43 base64url characters (a SHA-256).
    public static func validateChallenge(_ challenge: String, method: String?) throws(OAuthError) {
        guard (method ?? "plain") == "S256" else {
            throw .invalidRequest("code_challenge_method must be S256")
        }
        guard challenge.utf8.count == 43, challenge.utf8.allSatisfy(isUnreserved) else {
            throw .invalidRequest("code_challenge must be the base64url SHA-256 of the code verifier")
        }
    }

    /// Whether `verifier` (43–128 unreserved characters, RFC 7636 §4.1) hashes to `challenge`.
    public static func verify(verifier: String, challenge: String) -> Bool {
        guard (43...128).contains(verifier.utf8.count), verifier.utf8.allSatisfy(isUnreserved) else { return false }
        let computed = Base64URL.encode(Array(SHA256.hash(data: Array(verifier.utf8))))
        return constantTimeEquals(Array(computed.utf8), Array(challenge.utf8))
    }

    public static func challenge(for verifier: String) -> String {
        Base64URL.encode(Array(SHA256.hash(data: Array(verifier.utf8))))
    }

    static func isUnreserved(_ c: UInt8) -> Bool {
        (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || (c >= 0x30 && c <= 0x39) || c == 0x2D || c == 0x2E || c == 0x5F || c == 0x7E
    }
}
