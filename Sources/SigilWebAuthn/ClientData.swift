import Foundation
import SigilCore

/// The members of `clientDataJSON` (WebAuthn §5.8.1) the relying party checks. Other members
/// (extensions such as `extraData`, the obsolete `tokenBinding`) are ignored, as the spec requires.
public struct CollectedClientData: Sendable, Hashable {
    public let type: String
    /// base64url without padding, as the client encoded it.
    public let challenge: String
    public let origin: String
    public let crossOrigin: Bool?
    public let topOrigin: String?

    private struct JSON: Decodable {
        let type: String
        let challenge: String
        let origin: String
        let crossOrigin: Bool?
        let topOrigin: String?
    }

    /// Parses `clientDataJSON`: UTF-8 (a leading byte-order mark is stripped, as UTF-8 decode does)
    /// holding a JSON object with string `type`, `challenge` and `origin`, an optional boolean
    /// `crossOrigin` and an optional string `topOrigin`.
    public init(json bytes: [UInt8]) throws(WebAuthnError) {
        var body = bytes[...]
        if body.starts(with: [0xEF, 0xBB, 0xBF]) { body = body.dropFirst(3) }
        guard String(validating: body, as: UTF8.self) != nil else {
            throw WebAuthnError(.malformedClientData, "clientDataJSON is not UTF-8")
        }
        let decoded: JSON
        do {
            decoded = try JSONDecoder().decode(JSON.self, from: Data(body))
        } catch {
            throw WebAuthnError(.malformedClientData, "clientDataJSON is not a JSON object with type, challenge and origin")
        }
        type = decoded.type
        challenge = decoded.challenge
        origin = decoded.origin
        crossOrigin = decoded.crossOrigin
        topOrigin = decoded.topOrigin
    }

    /// WebAuthn §7.1 steps 7–11 and §7.2 steps 10–14.
    func verify(type expectedType: String, challenge expectedChallenge: [UInt8], relyingParty: RelyingParty) throws(WebAuthnError) {
        guard type == expectedType else {
            throw WebAuthnError(.typeMismatch, "client data type is not \(expectedType)")
        }
        let expected = Base64URL.encode(expectedChallenge)
        guard constantTimeEquals(Array(challenge.utf8), Array(expected.utf8)) else {
            throw WebAuthnError(.challengeMismatch, "the challenge does not match")
        }
        guard relyingParty.origins.contains(origin) else {
            throw WebAuthnError(.originMismatch, "the origin is not allowed")
        }
        if crossOrigin == true, !relyingParty.allowCrossOrigin {
            throw WebAuthnError(.crossOriginNotAllowed, "cross-origin use is not allowed")
        }
        if let topOrigin {
            guard relyingParty.allowCrossOrigin else {
                throw WebAuthnError(.crossOriginNotAllowed, "use inside a cross-origin frame is not allowed")
            }
            guard relyingParty.allowedTopOrigins.contains(topOrigin) else {
                throw WebAuthnError(.topOriginMismatch, "the top origin is not allowed")
            }
        }
    }
}
