import Crypto
import Foundation
import SigilCore
import SigilStore
import SigilWebAuthn

/// A P-256 passkey held in memory: registrations (`none` attestation) and assertions with a
/// chosen counter, as a browser would hand them to the services.
struct SoftwarePasskey {
    let key = P256.Signing.PrivateKey()
    let credentialID: [UInt8]

    init(id seed: UInt8 = 1) { credentialID = (0..<16).map { UInt8($0) &* 7 &+ seed } }

    var credentialIDText: String { Base64URL.encode(credentialID) }

    /// COSE_Key {1: 2 (EC2), 3: -7 (ES256), -1: 1 (P-256), -2: x, -3: y}.
    var cose: [UInt8] {
        let point = Array(key.publicKey.x963Representation) // 04 ‖ x ‖ y
        return [0xA5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21, 0x58, 0x20] + point[1..<33] + [0x22, 0x58, 0x20] + point[33..<65]
    }

    /// The stored form, for tests that skip registration.
    func record(tenantID: String, userID: String, signCount: Int) -> Passkey {
        Passkey(
            credentialID: credentialIDText, tenantID: tenantID, userID: userID, publicKey: Base64URL.encode(cose), algorithm: -7,
            signCount: signCount, aaguid: String(repeating: "0", count: 32), backupEligible: false, backupState: false,
            transports: ["internal"], attestationType: "none", name: "test", createdAt: Date())
    }

    static func rpIDHash(_ origin: String) -> [UInt8] { Array(SHA256.hash(data: Array(URLComponents(string: origin)!.host!.utf8))) }

    /// `navigator.credentials.create` with attestation `none`: UP, UV and AT set, counter 0.
    func registration(challenge: String, origin: String) -> RegistrationResponse {
        var authenticatorData = Self.rpIDHash(origin)
        authenticatorData.append(0x45) // UP, UV, AT
        authenticatorData += [0, 0, 0, 0]
        authenticatorData += [UInt8](repeating: 0, count: 16) // AAGUID
        authenticatorData += [0, UInt8(credentialID.count)] + credentialID + cose
        // {"fmt": "none", "attStmt": {}, "authData": bytes}
        let attestation: [UInt8] =
            [0xA3, 0x63] + Array("fmt".utf8) + [0x64] + Array("none".utf8)
            + [0x67] + Array("attStmt".utf8) + [0xA0]
            + [0x68] + Array("authData".utf8) + [0x58, UInt8(authenticatorData.count)] + authenticatorData
        let clientData = Array(#"{"type":"webauthn.create","challenge":"\#(challenge)","origin":"\#(origin)","crossOrigin":false}"#.utf8)
        return RegistrationResponse(
            credentialID: credentialID, clientDataJSON: clientData, attestationObject: attestation,
            transports: ["internal"])
    }

    /// `navigator.credentials.get` for the ceremony's `challenge` (base64url, as stored).
    func assertion(challenge: String, origin: String, userID: String, signCount: UInt32) throws -> AssertionResponse {
        var authenticatorData = Self.rpIDHash(origin)
        authenticatorData.append(0x05) // UP, UV
        authenticatorData += withUnsafeBytes(of: signCount.bigEndian, Array.init)
        let clientData = Array(#"{"type":"webauthn.get","challenge":"\#(challenge)","origin":"\#(origin)","crossOrigin":false}"#.utf8)
        let signed = authenticatorData + Array(SHA256.hash(data: clientData))
        let signature = try key.signature(for: signed).derRepresentation
        return AssertionResponse(
            credentialID: credentialID, clientDataJSON: clientData, authenticatorData: authenticatorData,
            signature: Array(signature), userHandle: Array(userID.utf8))
    }
}
