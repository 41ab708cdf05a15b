import Crypto
import Foundation
import SigilAuthenticatorProtocol
import SigilCore
import Testing

/// Vectors from docs/authenticator-protocol.md §1.2–1.4 (made with Python `cryptography` 48,
/// RFC 6979 signing, independently of this code).
enum Vector {
    static let privateScalarHex = "684b650b053754d91596d869bce7d62a22830852ded7136c0a4bf0eac65e9900"
    static let publicKey = "BJW-F5ACGv4U-KaN9SwEr-k4vPNzSQ1569zN8VnDN9hf2x99_-ouqb8pkUuTYDNBXLHpVNHWHLUYEoJuURG7BIM"
    static let issuer = "https://acme.sigil.example"
    static let transaction = "ltx_01jbz6w2c7f3m9q4v8x1r5t0ka"
    static let challenge = "rDL2UP41KBQ-HUXX9YTMuS-hROOYPGkfC1WlGW-gu1I"
    static let approvalSHA256 = "1f12a6b494950cad19dc35839f7e3a9beeb368a1c1089c253a43df506bc4f3bf"
    static let approvalSignature = "MEQCIDOrRspZIF0ldsXrIn4V_AtumwQB2OpMmuWx-FweAsUcAiBUeBlw5RJLUf12KArQRqcmff6ANtquQto_v3cDcLtiNQ"
    static let secret = "VIXLXQOYHMO9mJKQpr4zyg"
    static let secretHash = "90db799d6468cf1d2c6dcd9d4b2f5df51abb6e6e7b29dd0a3d388874e44c41bf"
    static let device = "dev_01jbz6vq0e7h2k5n8r1t4w7y0a"
    static let nonce = "q2Fb9xLm0PzR4tVw7YcK1g"
    static let requestBodyHash = "P5opLeZ5EsovlhUBwlfyAoI92CVaeCxdHvX73c_SD0c"
    static let requestSignature = "MEQCIBCzoG0vakc0x0s-dICPofJFvZERlqown5UCquExLfkEAiAxErnaswVJ7noKtxoO500WRMe6rT6yXfyesAFb4SZsUg"

    static func hex(_ bytes: some Sequence<UInt8>) -> String { bytes.map { String(format: "%02x", $0) }.joined() }
}

@Suite struct AuthenticatorProtocolTests {
    @Test func theVectorKeyIsTheOneTheSpecNames() throws {
        let scalar = stride(from: 0, to: 64, by: 2).map { i -> UInt8 in
            let start = Vector.privateScalarHex.index(Vector.privateScalarHex.startIndex, offsetBy: i)
            return UInt8(Vector.privateScalarHex[start..<Vector.privateScalarHex.index(start, offsetBy: 2)], radix: 16)!
        }
        let key = try P256.Signing.PrivateKey(rawRepresentation: scalar)
        #expect(Base64URL.encode(Array(key.publicKey.x963Representation)) == Vector.publicKey)
        #expect(tokenHash(Vector.secret) == Vector.secretHash)
    }

    @Test func approvalVectorVerifies() throws {
        let message = try CanonicalMessage.approval(
            issuer: Vector.issuer, transactionID: Vector.transaction, challenge: Vector.challenge,
            origin: Vector.issuer, number: "42", decision: .approve, userVerification: .face)
        #expect(message.count == 176)
        #expect(Vector.hex(SHA256.hash(data: message)) == Vector.approvalSHA256)
        #expect(DeviceSignature.verify(Vector.approvalSignature, message: message, publicKey: Vector.publicKey))
        // Any other number, decision, origin or method is another message.
        for other in [
            try CanonicalMessage.approval(
                issuer: Vector.issuer, transactionID: Vector.transaction, challenge: Vector.challenge,
                origin: Vector.issuer, number: "43", decision: .approve, userVerification: .face),
            try CanonicalMessage.approval(
                issuer: Vector.issuer, transactionID: Vector.transaction, challenge: Vector.challenge,
                origin: Vector.issuer, number: "42", decision: .deny, userVerification: .face),
            try CanonicalMessage.approval(
                issuer: Vector.issuer, transactionID: Vector.transaction, challenge: Vector.challenge,
                origin: "https://evil.example", number: "42", decision: .approve, userVerification: .face),
            try CanonicalMessage.approval(
                issuer: Vector.issuer, transactionID: Vector.transaction, challenge: Vector.challenge,
                origin: Vector.issuer, number: "42", decision: .approve, userVerification: .none),
        ] {
            #expect(!DeviceSignature.verify(Vector.approvalSignature, message: other, publicKey: Vector.publicKey))
        }
    }

    @Test func requestVectorVerifies() throws {
        let body = Array(#"{"number":"42","signature":"\#(Vector.approvalSignature)","user_verification":"face"}"#.utf8)
        #expect(CanonicalMessage.bodyHash(body) == Vector.requestBodyHash)
        #expect(CanonicalMessage.bodyHash([]) == "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU")
        let message = try CanonicalMessage.request(
            method: "post", target: "\(Vector.issuer)/authenticator/v1/transactions/\(Vector.transaction)/approve",
            deviceID: Vector.device, timestamp: 1_767_225_600, nonce: Vector.nonce, body: body)
        #expect(DeviceSignature.verify(Vector.requestSignature, message: message, publicKey: Vector.publicKey))
        var tampered = body
        tampered[12] = UInt8(ascii: "3")
        let other = try CanonicalMessage.request(
            method: "POST", target: "\(Vector.issuer)/authenticator/v1/transactions/\(Vector.transaction)/approve",
            deviceID: Vector.device, timestamp: 1_767_225_600, nonce: Vector.nonce, body: tampered)
        #expect(!DeviceSignature.verify(Vector.requestSignature, message: other, publicKey: Vector.publicKey))
    }

    @Test func signaturesRoundTripAndRejectGarbage() throws {
        let key = P256.Signing.PrivateKey()
        let publicKey = Base64URL.encode(Array(key.publicKey.x963Representation))
        let message = try CanonicalMessage.enrolment(
            issuer: Vector.issuer, transactionID: Vector.transaction,
            challenge: Vector.challenge, publicKey: publicKey)
        let signature = try DeviceSignature.sign(message, with: key)
        #expect(DeviceSignature.verify(signature, message: message, publicKey: publicKey))
        #expect(!DeviceSignature.verify(signature, message: message, publicKey: Vector.publicKey))
        #expect(!DeviceSignature.verify("not-base64!", message: message, publicKey: publicKey))
        #expect(!DeviceSignature.verify(signature, message: message, publicKey: "AAAA"))
        // A raw r‖s signature is not the DER the protocol specifies.
        let raw = Base64URL.encode(Array(try key.signature(for: message).rawRepresentation))
        #expect(!DeviceSignature.verify(raw, message: message, publicKey: publicKey))
        // Fields cannot smuggle line breaks into the signed text.
        #expect(throws: AuthenticatorProtocolError.self) {
            _ = try CanonicalMessage.approval(
                issuer: Vector.issuer + "\napprove", transactionID: Vector.transaction, challenge: "c",
                origin: "o", number: "1", decision: .approve, userVerification: .face)
        }
    }

    @Test func payloadsRoundTripInBothForms() throws {
        let login = AuthenticatorPayload(purpose: .login, issuer: "http://localhost:8080", transactionID: Vector.transaction, secret: Vector.secret)
        #expect(login.url == "http://localhost:8080/login/qr#\(Vector.transaction).\(Vector.secret)")
        #expect(login.url.utf8.count == 84) // §1.1: version 5 at level M
        #expect(login.deepLink.hasPrefix("sigil://login?u=http%3A%2F%2Flocalhost%3A8080%2Flogin%2Fqr%23ltx_"))
        #expect(try AuthenticatorPayload.parse(login.url) == login)
        #expect(try AuthenticatorPayload.parse(login.deepLink) == login)
        #expect(try AuthenticatorPayload.parse("  \(login.url)\n") == login)
        let enrol = AuthenticatorPayload(
            purpose: .enrolment, issuer: "https://id.example.com/t/acme", transactionID: Vector.transaction,
            secret: Vector.secret)
        #expect(enrol.url.utf8.count == 107)
        #expect(try AuthenticatorPayload.parse(enrol.deepLink) == enrol)
    }

    @Test(arguments: [
        "https://acme.example/login/qr", "https://acme.example/login/qr#ltx_x.abc",
        "ftp://acme.example/login/qr#ltx_01jbz6w2c7f3m9q4v8x1r5t0ka.VIXLXQOYHMO9mJKQpr4zyg",
        "https://acme.example/login/qr#ltx_01jbz6w2c7f3m9q4v8x1r5t0ka.VIXLXQOY", "https://acme.example/login/qr#ltx_01jbz6w2c7f3m9q4v8x1r5t0ka",
        "sigil://login?u=%ZZ", "hello", "",
    ])
    func malformedPayloadsAreRefused(_ text: String) {
        #expect(throws: AuthenticatorProtocolError.self) { _ = try AuthenticatorPayload.parse(text) }
    }
}
