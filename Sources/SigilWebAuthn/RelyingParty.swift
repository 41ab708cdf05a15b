import Crypto
import SigilCore

/// Who the relying party is: its RP ID and the origins its pages are served from.
public struct RelyingParty: Sendable, Hashable {
    /// The RP ID (a registrable domain suffix of the origins' hosts), e.g. `example.org`.
    public var id: String
    /// The origins `clientDataJSON.origin` must equal exactly, e.g. `https://login.example.org`.
    public var origins: Set<String>
    /// Whether ceremonies inside a cross-origin iframe are expected (`crossOrigin: true` or a
    /// `topOrigin` in the client data). Off by default.
    public var allowCrossOrigin: Bool
    /// When cross-origin use is allowed, the top-level origins that may embed the relying party.
    /// A `topOrigin` must be one of them exactly.
    public var allowedTopOrigins: Set<String>

    public init(id: String, origins: Set<String>, allowCrossOrigin: Bool = false, allowedTopOrigins: Set<String> = []) {
        self.id = id
        self.origins = origins
        self.allowCrossOrigin = allowCrossOrigin
        self.allowedTopOrigins = allowedTopOrigins
    }

    /// SHA-256 of the RP ID, which `rpIdHash` in authenticator data must equal.
    public var idHash: [UInt8] { Array(SHA256.hash(data: Array(id.utf8))) }
}

/// Verifies WebAuthn registration and authentication ceremonies for one relying party. No I/O: the
/// caller supplies the expected challenge and, for assertions, the stored credential, and stores
/// what comes back.
public struct WebAuthnVerifier: Sendable {
    public let relyingParty: RelyingParty

    public init(relyingParty: RelyingParty) {
        self.relyingParty = relyingParty
    }

    /// WebAuthn §7.1 steps 14–17 and §7.2 steps 15–18: the rpIdHash, UP, UV and BE/BS checks.
    func verifyCommonFlags(_ authData: AuthenticatorData, requireUserPresence: Bool, requireUserVerification: Bool) throws(WebAuthnError) {
        guard constantTimeEquals(authData.rpIDHash, relyingParty.idHash) else {
            throw WebAuthnError(.rpIDHashMismatch, "the authenticator data is for another RP ID")
        }
        if requireUserPresence, !authData.flags.contains(.userPresent) {
            throw WebAuthnError(.userPresenceMissing, "the authenticator did not test user presence")
        }
        if requireUserVerification, !authData.flags.contains(.userVerified) {
            throw WebAuthnError(.userVerificationMissing, "the authenticator did not verify the user")
        }
        if authData.flags.contains(.backupState), !authData.flags.contains(.backupEligible) {
            throw WebAuthnError(.backupStateInconsistent, "the backup state flag is set without backup eligibility")
        }
    }
}
