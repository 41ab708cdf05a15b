import Foundation
import SigilCore
import SigilSAML
import SigilXML
import Testing
import X509
import _CryptoExtras

/// Sigil as SAML service provider: the ACS's checks, each with a response that fails exactly it.
/// Responses come from Sigil's own IdP builder signing as the "upstream" IdP (real XML-DSig and
/// XML-Enc); the interop suite repeats the battery with pysaml2/xmlsec1-made responses.
@Suite("SAML response validation (Sigil as SP)")
struct SAMLResponseValidatorTests {
    static let idpEntity = "https://okta.example/exk1"
    static let sp = "https://id.example.com/saml/sp/okta/metadata"
    static let acs = "https://id.example.com/saml/sp/okta/acs"

    let idp: TestKey

    init() throws { idp = try TestKey() }

    func content(inResponseTo: String? = "_req1", acs: String = Self.acs, audience: String = Self.sp, nameID: String = "ada@example.org")
        -> SAMLAssertionContent
    {
        SAMLAssertionContent(
            issuer: Self.idpEntity, acsURL: acs, audience: audience, inResponseTo: inResponseTo, nameID: nameID,
            nameIDFormat: .emailAddress, sessionIndex: "_s1", authnInstant: now.addingTimeInterval(-5),
            authnContextClassRef: "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport",
            attributes: [
                SAMLAttribute(name: "email", values: ["ada@example.org"]), SAMLAttribute(name: "firstName", values: ["Ada"]),
                SAMLAttribute(name: "lastName", values: ["Lovelace"]),
            ])
    }

    func response(
        _ c: SAMLAssertionContent? = nil, signing: SAMLSigningChoice = .both, signer: XMLSigner? = nil, encryptTo: Certificate? = nil,
        content algorithm: XMLContentEncryption = .aes256GCM, encryptNameIDTo: Certificate? = nil
    ) throws -> [UInt8] {
        let builder = SAMLResponseBuilder(signer: signer ?? idp.signer, random: InsecureSeededRandom(seed: "upstream"))
        return try builder.response(
            c ?? content(), now: now, signing: signing,
            encryptor: try encryptTo.map { try XMLEncryptor(recipientCertificate: $0, content: algorithm) },
            nameIDEncryptor: try encryptNameIDTo.map { try XMLEncryptor(recipientCertificate: $0, content: algorithm) })
    }

    func error(_ body: () throws -> Void) -> SAMLError? {
        do { try body() } catch let error as SAMLError { return error } catch { return nil }
        return nil
    }

    func validator(inResponseTo: String? = "_req1", decryptor: XMLDecryptor? = nil, certificates: [Certificate]? = nil) -> SAMLResponseValidator {
        SAMLResponseValidator(
            idpEntityID: Self.idpEntity, trustedCertificates: certificates ?? [idp.certificate], spEntityID: Self.sp, acsURL: Self.acs,
            inResponseTo: inResponseTo, decryptor: decryptor)
    }

    func code(_ body: () throws -> Void) -> String? {
        do { try body() } catch let error as SAMLError { return error.code.description } catch { return "other: \(error)" }
        return nil
    }

    @Test func acceptsOktaShapedResponsesSignedEitherWay() throws {
        for signing in SAMLSigningChoice.allCases {
            let a = try validator().validate(try response(signing: signing), now: now)
            #expect(a.nameID == "ada@example.org" && a.issuer == Self.idpEntity && a.inResponseTo == "_req1")
            #expect(a.attributes["firstName"] == ["Ada"] && a.attributes["lastName"] == ["Lovelace"])
            #expect(a.signedBy == (signing == .both ? "both" : signing.rawValue))
            #expect(a.sessionIndex == "_s1" && a.usableUntil > now)
        }
    }

    @Test func unsignedOrForeignSignaturesAreRefused() throws {
        // Signed by another key than the connection trusts.
        let other = try TestKey()
        #expect(code { _ = try validator().validate(try response(signer: other.signer), now: now) } == "signatureInvalid")
        // Both signatures removed.
        let text = String(decoding: try response(signing: .response), as: UTF8.self)
        let unsigned = try Self.removingSignatures(text)
        #expect(code { _ = try validator().validate(Array(unsigned.utf8), now: now) } == "signatureRequired")
        // A certificate rollover: the new key verifies once its certificate is trusted beside the old.
        let rolled = try validator(certificates: [idp.certificate, other.certificate]).validate(try response(signer: other.signer), now: now)
        #expect(rolled.certificateIndex == 1)
    }

    @Test func eachConditionFailsOnItsOwn() throws {
        // Audience: another SP's assertion.
        #expect(code { _ = try validator().validate(try response(content(audience: "https://other.example/sp")), now: now) } == "wrongAudience")
        // Destination and Recipient: a response for another ACS.
        #expect(code { _ = try validator().validate(try response(content(acs: "https://other.example/acs")), now: now) } == "wrongDestination")
        // Recipient alone: only the assertion is signed, and the (unsigned) Destination is edited to ours.
        let assertionOnly = String(decoding: try response(content(acs: "https://other.example/acs"), signing: .assertion), as: UTF8.self)
        let edited = assertionOnly.replacingOccurrences(of: "Destination=\"https://other.example/acs\"", with: "Destination=\"\(Self.acs)\"")
        #expect(edited != assertionOnly)
        #expect(code { _ = try validator().validate(Array(edited.utf8), now: now) } == "wrongRecipient")
        // Time: after the confirmation's NotOnOrAfter plus skew; before Conditions' NotBefore minus skew.
        #expect(code { _ = try validator().validate(try response(), now: now.addingTimeInterval(300 + 121)) } == "expired")
        #expect(code { _ = try validator().validate(try response(), now: now.addingTimeInterval(-60 - 121)) } == "notYetValid")
        // Within the skew both still pass.
        _ = try validator().validate(try response(), now: now.addingTimeInterval(300 + 100))
        // InResponseTo: another request, or a response to a request when none was made (unsolicited only).
        #expect(code { _ = try validator(inResponseTo: "_other").validate(try response(), now: now) } == "unexpectedResponse")
        #expect(code { _ = try validator(inResponseTo: nil).validate(try response(), now: now) } == "unexpectedResponse")
        #expect(code { _ = try validator().validate(try response(content(inResponseTo: nil)), now: now) } == "unexpectedResponse")
        _ = try validator(inResponseTo: nil).validate(try response(content(inResponseTo: nil)), now: now)
        // Another IdP's entity ID (signed by the trusted key: a second connection's IdP reusing it).
        var foreign = content()
        foreign.issuer = "https://evil.example/idp"
        #expect(code { _ = try validator().validate(try response(foreign), now: now) } == "wrongIssuer")
    }

    @Test func statusOtherThanSuccessIsAClearError() throws {
        let builder = SAMLResponseBuilder(signer: idp.signer, random: InsecureSeededRandom(seed: "s"))
        let bytes = try builder.statusResponse(
            issuer: Self.idpEntity, destination: Self.acs, inResponseTo: "_req1", status: .responder("AuthnFailed", "user cancelled"), now: now)
        do {
            _ = try validator().validate(bytes, now: now)
            Issue.record("accepted a failed status")
        } catch {
            #expect(error.code == .failedStatus)
            #expect(error.message.contains("Responder/AuthnFailed") && error.message.contains("user cancelled"))
        }
    }

    @Test func encryptedAssertionsAreDecryptedWithTheConnectionsKey() throws {
        let spKey = try SPEncryptionKey()
        let decryptor = XMLDecryptor(privateKey: try _RSA.Encryption.PrivateKey(derRepresentation: spKey.key.derRepresentation))
        for signing in SAMLSigningChoice.allCases {
            let bytes = try response(signing: signing, encryptTo: spKey.certificate)
            #expect(!String(decoding: bytes, as: UTF8.self).contains("ada@example.org"))
            let a = try validator(decryptor: decryptor).validate(bytes, now: now)
            #expect(a.encrypted && a.nameID == "ada@example.org")
        }
        // Without the key, or with another SP's key: refused, nothing read.
        #expect(code { _ = try validator().validate(try response(encryptTo: spKey.certificate), now: now) } == "unsupported")
        let other = try SPEncryptionKey()
        let wrong = XMLDecryptor(privateKey: try _RSA.Encryption.PrivateKey(derRepresentation: other.key.derRepresentation))
        #expect(code { _ = try validator(decryptor: wrong).validate(try response(encryptTo: spKey.certificate), now: now) } == "decryptionFailed")
    }

    /// AES-CBC (Okta's and SimpleSAMLphp 1.x's default) is unauthenticated: decrypted only when the
    /// Response's signature, verified first, covers the ciphertext. Refused otherwise, with a
    /// message the IdP's admin can act on.
    @Test func cbcEncryptedAssertionsOnlyInsideASignedResponse() throws {
        let spKey = try SPEncryptionKey()
        let decryptor = XMLDecryptor(privateKey: try _RSA.Encryption.PrivateKey(derRepresentation: spKey.key.derRepresentation))
        for algorithm in [XMLContentEncryption.aes128CBC, .aes192CBC, .aes256CBC] {
            for signing in [SAMLSigningChoice.response, .both] {
                let bytes = try response(signing: signing, encryptTo: spKey.certificate, content: algorithm)
                #expect(String(decoding: bytes, as: UTF8.self).contains(algorithm.uri))
                let a = try validator(decryptor: decryptor).validate(bytes, now: now)
                #expect(a.encrypted && a.nameID == "ada@example.org")
            }
            let unsigned = try response(signing: .assertion, encryptTo: spKey.certificate, content: algorithm)
            let refused = error { _ = try validator(decryptor: decryptor).validate(unsigned, now: now) }
            #expect(refused?.code == .unsupported)
            #expect(refused?.message.contains("AES-CBC") == true && refused?.message.contains("sign the Response") == true)
        }
        // AES-GCM needs no Response signature (the assertion inside is signed).
        let gcm = try response(signing: .assertion, encryptTo: spKey.certificate, content: .aes128GCM)
        #expect(try validator(decryptor: decryptor).validate(gcm, now: now).nameID == "ada@example.org")
        // A CBC ciphertext under a signed Response but altered is refused by the signature, before decryption.
        var text = String(decoding: try response(signing: .response, encryptTo: spKey.certificate, content: .aes256CBC), as: UTF8.self)
        let marker = "<xenc:CipherValue>"
        let starts = text.ranges(of: marker).map(\.upperBound)
        let at = text.index(starts[starts.count - 1], offsetBy: 30)
        text.replaceSubrange(at...at, with: text[at] == "A" ? "B" : "A")
        #expect(code { _ = try validator(decryptor: decryptor).validate(Array(text.utf8), now: now) } == "signatureInvalid")
    }

    /// Encrypted NameIDs (core §2.2.4): decrypted with the connection's key inside signed content,
    /// AES-CBC included (the signature over the assertion or Response covers it).
    @Test func encryptedNameIDsAreDecrypted() throws {
        let spKey = try SPEncryptionKey()
        let decryptor = XMLDecryptor(privateKey: try _RSA.Encryption.PrivateKey(derRepresentation: spKey.key.derRepresentation))
        for algorithm in [XMLContentEncryption.aes256GCM, .aes128CBC] {
            for signing in SAMLSigningChoice.allCases {
                let bytes = try response(signing: signing, content: algorithm, encryptNameIDTo: spKey.certificate)
                let xml = String(decoding: bytes, as: UTF8.self)
                #expect(xml.contains("EncryptedID") && !xml.contains(">ada@example.org</saml:NameID>"))
                let a = try validator(decryptor: decryptor).validate(bytes, now: now)
                #expect(a.nameID == "ada@example.org" && a.nameIDFormat == NameIDFormat.emailAddress.rawValue && !a.encrypted)
            }
        }
        // Both encrypted: the assertion and the NameID inside it.
        let both = try response(signing: .both, encryptTo: spKey.certificate, encryptNameIDTo: spKey.certificate)
        #expect(try validator(decryptor: decryptor).validate(both, now: now).nameID == "ada@example.org")
        // No key, or another SP's key: refused.
        let bytes = try response(encryptNameIDTo: spKey.certificate)
        #expect(code { _ = try validator().validate(bytes, now: now) } == "unsupported")
        let other = try SPEncryptionKey()
        let wrong = XMLDecryptor(privateKey: try _RSA.Encryption.PrivateKey(derRepresentation: other.key.derRepresentation))
        #expect(code { _ = try validator(decryptor: wrong).validate(bytes, now: now) } == "decryptionFailed")
    }

    /// Signature wrapping: the signed assertion kept where the verifier finds it, an attacker's
    /// assertion where a naive SP reads. Every arrangement is refused.
    @Test func signatureWrappingIsRefused() throws {
        let signed = String(decoding: try response(signing: .assertion), as: UTF8.self)
        guard let start = signed.range(of: "<saml:Assertion"), let end = signed.range(of: "</saml:Assertion>") else {
            Issue.record("no assertion")
            return
        }
        let original = String(signed[start.lowerBound..<end.upperBound])
        let evil = try Self.removingSignatures(original)
            .replacingOccurrences(of: "ada@example.org", with: "admin@example.org")
            .replacingOccurrences(of: " ID=\"_", with: " ID=\"_evil")
        // XSW: the evil assertion first, the signed one after it.
        let twoAssertions = signed.replacingOccurrences(of: original, with: evil + original)
        #expect(code { _ = try validator().validate(Array(twoAssertions.utf8), now: now) } != nil)
        // XSW: the signed assertion hidden in Extensions, the evil one in its place.
        let hidden = signed.replacingOccurrences(
            of: original, with: evil
        )
        .replacingOccurrences(of: "<samlp:Status>", with: "<samlp:Extensions>\(original)</samlp:Extensions><samlp:Status>")
        #expect(code { _ = try validator().validate(Array(hidden.utf8), now: now) } != nil)
        // XSW: the evil assertion with the original's ID, the signed one nested inside it.
        let sameID = signed.replacingOccurrences(
            of: original,
            with: evil.replacingOccurrences(of: " ID=\"_evil", with: " ID=\"_").replacingOccurrences(
                of: "</saml:Assertion>", with: original + "</saml:Assertion>"))
        #expect(code { _ = try validator().validate(Array(sameID.utf8), now: now) } != nil)
        // And a changed NameID under the real signature fails the digest.
        let tampered = signed.replacingOccurrences(of: ">ada@example.org<", with: ">admin@example.org<")
        #expect(code { _ = try validator().validate(Array(tampered.utf8), now: now) } == "signatureInvalid")
    }

    @Test func commentsNeverTruncateTheNameID() throws {
        // A NameID with a comment in it, signed by the IdP: read whole, never up to the comment.
        var doc = try XMLDocumentParser.parse(try response(signing: .response))
        var path: [Int]?
        doc.root.forEachElement { e, p in if e.localName == "NameID" { path = p } }
        let at = try #require(path)
        var nameID = try #require(doc.root.element(at: at))
        nameID.children = [.text("ada@example.org"), .comment(""), .text(".evil.test")]
        doc.root.replaceElement(at: at, with: nameID)
        doc.root.children.removeAll { $0.element?.localName == "Signature" }
        let id = try #require(doc.root.attribute("ID"))
        let resigned = try idp.signer.signEnveloped(doc, elementID: id).serialized()
        #expect(String(decoding: resigned, as: UTF8.self).contains("ada@example.org<!---->.evil.test"))
        let a = try validator().validate(resigned, now: now)
        #expect(a.nameID == "ada@example.org.evil.test")
    }

    @Test func doctypesAndSHA1AreRefused() throws {
        let text = String(decoding: try response(), as: UTF8.self)
        let dtd = "<!DOCTYPE r [<!ENTITY x \"y\">]>" + text
        #expect(code { _ = try validator().validate(Array(dtd.utf8), now: now) } == "malformed")
    }

    static func removingSignatures(_ xml: String) throws -> String {
        var out = xml
        while let start = out.range(of: "<ds:Signature"), let end = out.range(of: "</ds:Signature>", range: start.upperBound..<out.endIndex) {
            out.removeSubrange(start.lowerBound..<end.upperBound)
        }
        return out
    }
}

@Suite("Upstream IdP metadata")
struct UpstreamIdPMetadataTests {
    @Test func importsAnIdPsMetadataAndChecksAPinnedSignature() throws {
        let idp = try TestKey(), next = try TestKey()
        let metadata = IdPMetadata(
            entityID: "https://okta.example/exk1", ssoURL: "https://okta.example/app/sso/saml", sloURL: "https://okta.example/slo",
            signingCertificatesBase64: [PEMText.base64Body(idp.pem), PEMText.base64Body(next.pem)])
        let plain = try metadata.document(id: "_m1", validUntil: now.addingTimeInterval(86_400))
        let parsed = try UpstreamIdPMetadata.parse(plain)
        #expect(parsed.entityID == "https://okta.example/exk1")
        #expect(parsed.preferredSSO == .init(binding: SAMLBinding.httpRedirect.rawValue, location: "https://okta.example/app/sso/saml"))
        #expect(parsed.signingCertificatesPEM.count == 2 && parsed.validUntil == now.addingTimeInterval(86_400) && !parsed.signed)
        // Pinned: a signed copy passes, an unsigned one or one signed by another key does not.
        let signed = try metadata.document(id: "_m1", signer: idp.signer)
        #expect(try UpstreamIdPMetadata.parse(signed, pinnedCertificates: [idp.certificate]).signed)
        #expect(throws: SAMLError.self) { _ = try UpstreamIdPMetadata.parse(plain, pinnedCertificates: [idp.certificate]) }
        #expect(throws: SAMLError.self) { _ = try UpstreamIdPMetadata.parse(signed, pinnedCertificates: [next.certificate]) }
        // SP metadata is not IdP metadata.
        let spDoc = SPConnectionMetadata(entityID: "https://sp", acsURL: "https://sp/acs", sloURL: "https://sp/slo", certificatePEM: idp.pem, nameIDFormat: nil)
            .document()
        #expect(throws: SAMLError.self) { _ = try UpstreamIdPMetadata.parse(spDoc) }
        #expect(try SPMetadata.parse(spDoc).authnRequestsSigned)
    }

    @Test func durations() {
        #expect(XSDuration.seconds("PT6H") == 21_600)
        #expect(XSDuration.seconds("P1DT30M") == 88_200)
        #expect(XSDuration.seconds("PT0.5S") == 0.5)
        #expect(XSDuration.seconds("P") == nil && XSDuration.seconds("6H") == nil && XSDuration.seconds("PT") == nil)
    }

    @Test func authnRequestIsWhatIdPsExpect() throws {
        let request = SPAuthnRequest(
            id: "_r1", spEntityID: "https://id.example.com/saml/sp/okta/metadata", destination: "https://okta.example/sso",
            acsURL: "https://id.example.com/saml/sp/okta/acs", nameIDFormat: NameIDFormat.emailAddress.rawValue)
        let root = try XMLDocumentParser.parse(try request.document(now: now)).root
        let parsed = try AuthnRequest.parse(element: root)
        #expect(parsed.id == "_r1" && parsed.issuer == "https://id.example.com/saml/sp/okta/metadata")
        #expect(parsed.assertionConsumerServiceURL == "https://id.example.com/saml/sp/okta/acs")
        #expect(root.attribute("Destination") == "https://okta.example/sso")
    }
}
