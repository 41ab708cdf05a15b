import Crypto
import Foundation
import SigilCore
import SigilSAML
import SigilXML
import Testing
import X509
import _CryptoExtras

let sloURL = "https://id.example.com/saml/slo"

func logoutRequestXML(
    id: String = "_lo1", issuer: String = "https://sp.example.com/metadata", destination: String? = sloURL,
    instant: Date? = now, nameID: String? = "ada@example.com", sessionIndex: String? = "_si1", extra: String = ""
) -> [UInt8] {
    var attrs = "ID=\"\(id)\" Version=\"2.0\""
    if let instant { attrs += " IssueInstant=\"\(SAMLTime.format(instant))\"" }
    if let destination { attrs += " Destination=\"\(destination)\"" }
    let name = nameID.map { "<saml:NameID Format=\"\(NameIDFormat.emailAddress.rawValue)\">\($0)</saml:NameID>" } ?? ""
    let index = sessionIndex.map { "<samlp:SessionIndex>\($0)</samlp:SessionIndex>" } ?? ""
    return Array(
        """
        <samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" \(attrs)><saml:Issuer>\(issuer)</saml:Issuer>\(name)\(index)\(extra)</samlp:LogoutRequest>
        """.utf8)
}

func signedPOST(_ xml: [UInt8], _ key: TestKey, relayState: String? = nil) throws -> SAMLInboundMessage {
    let document = try XMLDocumentParser.parse(xml)
    let signed = try key.signer.signEnveloped(document, elementID: document.root.attribute("ID")!).serialized()
    return SAMLInboundMessage(xml: signed, relayState: relayState, binding: .post)
}

func signedRedirect(_ xml: [UInt8], _ key: TestKey?, parameter: String = "SAMLRequest") throws -> SAMLInboundMessage {
    try SAMLRedirectBinding.decode(
        rawQuery: try SAMLRedirectBinding.encode(xml, parameter: parameter, relayState: "rs", signingKey: key?.key),
        parameter: parameter)
}

@Suite("SAML single logout messages")
struct LogoutMessageTests {
    let validator = LogoutRequestValidator(sloURLs: [sloURL], clockSkew: 300)

    func validate(_ message: SAMLInboundMessage, sp: SAMLServiceProvider) -> Result<ValidatedLogoutRequest, LogoutRequestRejection> {
        validator.validate(message, now: now) { $0 == sp.entityID ? sp : nil }
    }

    func code(_ r: Result<ValidatedLogoutRequest, LogoutRequestRejection>) -> SAMLError.Code? {
        if case .failure(let f) = r { return f.error.code }
        return nil
    }

    @Test func signedRedirectAndPOSTAreAccepted() throws {
        let key = try TestKey()
        let sp = serviceProvider(cert: key.pem)
        let viaRedirect = try validate(signedRedirect(logoutRequestXML(), key), sp: sp).get()
        #expect(viaRedirect.request.nameID == "ada@example.com" && viaRedirect.request.sessionIndexes == ["_si1"])
        #expect(viaRedirect.relayState == "rs")
        let viaPOST = try validate(signedPOST(logoutRequestXML(), key), sp: sp).get()
        #expect(viaPOST.request.id == "_lo1" && viaPOST.request.nameIDFormat == NameIDFormat.emailAddress.rawValue)
    }

    @Test func everyRejection() throws {
        let key = try TestKey(), other = try TestKey()
        let sp = serviceProvider(cert: key.pem)
        // Unsigned (both bindings), and an SP with no certificate at all.
        #expect(code(validate(try signedRedirect(logoutRequestXML(), nil), sp: sp)) == .signatureRequired)
        #expect(code(validate(SAMLInboundMessage(xml: logoutRequestXML(), relayState: nil, binding: .post), sp: sp)) == .signatureRequired)
        #expect(code(validate(try signedRedirect(logoutRequestXML(), key), sp: serviceProvider())) == .signatureRequired)
        // Another key.
        #expect(code(validate(try signedRedirect(logoutRequestXML(), other), sp: sp)) == .signatureInvalid)
        #expect(code(validate(try signedPOST(logoutRequestXML(), other), sp: sp)) == .signatureInvalid)
        // Unknown issuer; a DTD.
        #expect(code(validate(try signedRedirect(logoutRequestXML(issuer: "https://evil.example"), key), sp: sp)) == .unknownIssuer)
        #expect(code(validate(try signedRedirect(Array("<!DOCTYPE x>".utf8) + logoutRequestXML(), key), sp: sp)) == .malformed)
        // Destination missing or wrong; IssueInstant missing, stale, future.
        #expect(code(validate(try signedRedirect(logoutRequestXML(destination: nil), key), sp: sp)) == .wrongDestination)
        #expect(code(validate(try signedRedirect(logoutRequestXML(destination: "https://other.example/slo"), key), sp: sp)) == .wrongDestination)
        #expect(code(validate(try signedRedirect(logoutRequestXML(instant: nil), key), sp: sp)) == .staleRequest)
        #expect(code(validate(try signedRedirect(logoutRequestXML(instant: now.addingTimeInterval(-301)), key), sp: sp)) == .staleRequest)
        #expect(code(validate(try signedRedirect(logoutRequestXML(instant: now.addingTimeInterval(301)), key), sp: sp)) == .staleRequest)
        // No NameID; an encrypted one.
        #expect(code(validate(try signedRedirect(logoutRequestXML(nameID: nil), key), sp: sp)) == .malformed)
        #expect(code(validate(try signedRedirect(logoutRequestXML(nameID: nil, extra: "<saml:EncryptedID/>"), key), sp: sp)) == .unsupported)
    }

    @Test func postContentIsReadFromTheSignedBytesOnly() throws {
        let key = try TestKey()
        let sp = serviceProvider(cert: key.pem)
        let message = try signedPOST(logoutRequestXML(), key)
        var text = String(decoding: message.xml, as: UTF8.self)
        text = text.replacingOccurrences(of: "ada@example.com", with: "eve@example.com")
        #expect(code(validate(SAMLInboundMessage(xml: Array(text.utf8), relayState: nil, binding: .post), sp: sp)) == .signatureInvalid)
    }

    @Test func namesTheSession() throws {
        let request = try LogoutRequest.parse(logoutRequestXML())
        #expect(request.names(nameID: "ada@example.com", format: NameIDFormat.emailAddress.rawValue, sessionIndex: "_si1"))
        #expect(!request.names(nameID: "eve@example.com", format: NameIDFormat.emailAddress.rawValue, sessionIndex: "_si1"))
        #expect(!request.names(nameID: "ada@example.com", format: NameIDFormat.persistent.rawValue, sessionIndex: "_si1"))
        #expect(!request.names(nameID: "ada@example.com", format: NameIDFormat.emailAddress.rawValue, sessionIndex: "_other"))
        #expect(!request.names(nameID: nil, format: nil, sessionIndex: nil))
        // No SessionIndex in the request: every session of that principal.
        #expect(try LogoutRequest.parse(logoutRequestXML(sessionIndex: nil)).names(nameID: "ada@example.com", format: nil, sessionIndex: "_x"))
    }

    @Test func builtLogoutRequestAndResponseRoundTrip() throws {
        let idp = try TestKey(), sp = try TestKey()
        let builder = SAMLResponseBuilder(signer: idp.signer, random: SystemRandom())
        let (id, xml) = try builder.logoutRequest(
            issuer: "https://id.example.com/saml/metadata", destination: "https://sp.example.com/slo",
            nameID: "ada@example.com", nameIDFormat: NameIDFormat.emailAddress.rawValue,
            sessionIndex: "_si1", now: now)
        let verified = try XMLSignatureVerifier(trustedCertificates: [idp.certificate]).verifyEnveloped(xml).element
        let parsed = try LogoutRequest.parse(element: verified)
        #expect(parsed.id == id && parsed.nameID == "ada@example.com" && parsed.sessionIndexes == ["_si1"])
        #expect(parsed.destination == "https://sp.example.com/slo" && parsed.notOnOrAfter == now.addingTimeInterval(300))
        // Unsigned form for the Redirect binding carries no ds:Signature.
        let (_, plain) = try builder.logoutRequest(issuer: "i", destination: "d", nameID: "n", nameIDFormat: nil, sessionIndex: nil, now: now, sign: false)
        #expect(!String(decoding: plain, as: UTF8.self).contains("Signature"))

        // The SP's answer: verified with its certificate, InResponseTo and issuer checked.
        let spProvider = serviceProvider(cert: sp.pem)
        func answer(inResponseTo: String, issuer: String? = nil, key: TestKey? = nil, status: String = SAMLStatus.successCode) throws -> SAMLInboundMessage {
            let issuer = issuer ?? spProvider.entityID
            return try signedPOST(
                Array(
                    """
                    <samlp:LogoutResponse xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r1" Version="2.0" IssueInstant="\(SAMLTime.format(now))" Destination="\(sloURL)" InResponseTo="\(inResponseTo)"><saml:Issuer>\(issuer)</saml:Issuer><samlp:Status><samlp:StatusCode Value="\(status)"/></samlp:Status></samlp:LogoutResponse>
                    """.utf8), key ?? sp)
        }
        let responses = LogoutResponseValidator(sloURLs: [sloURL])
        #expect(try responses.validate(try answer(inResponseTo: id), from: spProvider, inResponseTo: id).get().isSuccess)
        #expect(try !responses.validate(try answer(inResponseTo: id, status: SAMLStatus.responderCode), from: spProvider, inResponseTo: id).get().isSuccess)
        for (message, expected) in [
            (try answer(inResponseTo: "_other"), SAMLError.Code.unexpectedResponse),
            (try answer(inResponseTo: id, issuer: "https://evil.example"), .unexpectedResponse),
            (try answer(inResponseTo: id, key: try TestKey()), .signatureInvalid),
        ] {
            guard case .failure(let error) = responses.validate(message, from: spProvider, inResponseTo: id) else {
                Issue.record("accepted a bad LogoutResponse"); continue
            }
            #expect(error.code == expected)
        }
        // Redirect-signed answers verify too.
        let redirect = try signedRedirect(
            Array(
                """
                <samlp:LogoutResponse xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r2" Version="2.0" InResponseTo="\(id)"><saml:Issuer>\(spProvider.entityID)</saml:Issuer><samlp:Status><samlp:StatusCode Value="\(SAMLStatus.successCode)"/></samlp:Status></samlp:LogoutResponse>
                """.utf8), sp, parameter: "SAMLResponse")
        #expect(try responses.validate(redirect, from: spProvider, inResponseTo: id).get().id == "_r2")
    }
}
