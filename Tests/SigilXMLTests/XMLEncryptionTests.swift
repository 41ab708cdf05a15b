import Crypto
import Foundation
import SwiftASN1
import Testing
import X509
import _CryptoExtras

@testable import SigilXML

/// Keys for the encryption tests: the RSA test key as an encryption key.
enum EncryptionKeys {
    static var privateKey: _RSA.Encryption.PrivateKey { try! _RSA.Encryption.PrivateKey(derRepresentation: TestKeys.rsa.derRepresentation) }
    static var otherPrivateKey: _RSA.Encryption.PrivateKey { try! _RSA.Encryption.PrivateKey(derRepresentation: TestKeys.otherRSA.derRepresentation) }
    static var encryptor: XMLEncryptor { try! XMLEncryptor(recipientCertificate: TestKeys.rsaCertificate) }
    static var decryptor: XMLDecryptor { XMLDecryptor(privateKey: privateKey) }

    /// The fixture's Assertion (namespaces from the Response) and its scope.
    static func assertion() throws -> (DOMElement, [String: String]) {
        let doc = try SAMLFixture.parse(SAMLFixture.response())
        var path: [Int] = []
        doc.root.forEachElement { e, p in if e.localName == "Assertion" { path = p } }
        return (doc.root.element(at: path)!, doc.root.namespacesInScope(above: path, inherited: ["xml": XMLNamespace.xml]))
    }

    /// An EncryptedData built by hand around arbitrary plaintext and algorithm URIs.
    static func craft(
        plaintext: [UInt8], content: String = XMLContentEncryption.aes256GCM.uri,
        transport: String = XMLKeyTransport.rsaOAEPMGF1P.rawValue, keyBytes: Int = 32,
        transportChildren: String = "<ds:DigestMethod Algorithm=\"http://www.w3.org/2000/09/xmldsig#sha1\"/>",
        extraKeyInfo: String = "", type: String = XMLEncryptedDataType.element
    ) throws -> DOMElement {
        let key = SymmetricKey(size: SymmetricKeySize(bitCount: keyBytes * 8))
        let sealed = try AES.GCM.seal(plaintext, using: key).combined!
        let wrapped = try key.withUnsafeBytes { try EncryptionKeys.privateKey.publicKey.encrypt(Data($0), padding: .PKCS1_OAEP) }
        let xml = """
            <xenc:EncryptedData xmlns:xenc="http://www.w3.org/2001/04/xmlenc#" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" Type="\(type)">\
            <xenc:EncryptionMethod Algorithm="\(content)"/><ds:KeyInfo><xenc:EncryptedKey>\
            <xenc:EncryptionMethod Algorithm="\(transport)">\(transportChildren)</xenc:EncryptionMethod>\
            <xenc:CipherData><xenc:CipherValue>\(wrapped.base64EncodedString())</xenc:CipherValue></xenc:CipherData></xenc:EncryptedKey>\(extraKeyInfo)</ds:KeyInfo>\
            <xenc:CipherData><xenc:CipherValue>\(sealed.base64EncodedString())</xenc:CipherValue></xenc:CipherData></xenc:EncryptedData>
            """
        return try XMLDocumentParser.parse(Data(xml.utf8)).root
    }
}

@Suite("XML Encryption")
struct XMLEncryptionTests {
    @Test(arguments: [XMLContentEncryption.aes128GCM, .aes192GCM, .aes256GCM], [XMLKeyTransport.rsaOAEPMGF1P, .rsaOAEPSHA256])
    func roundTrip(content: XMLContentEncryption, transport: XMLKeyTransport) throws {
        let (assertion, scope) = try EncryptionKeys.assertion()
        var encryptor = EncryptionKeys.encryptor
        encryptor.content = content
        encryptor.keyTransport = transport
        let encrypted = try encryptor.encrypt(assertion, inScopeNamespaces: scope, id: "_e1")
        // Serialised and parsed again, on its own: it declares what it uses.
        let reparsed = try XMLDocumentParser.parse(DOMDocument(root: encrypted).serialized()).root
        let decrypted = try EncryptionKeys.decryptor.decrypt(reparsed)
        #expect(decrypted.localName == "Assertion")
        #expect(decrypted.attribute("ID") == "_a1")
        #expect(decrypted.textContent == assertion.textContent)
        // Its exclusive canonical form (what a signature covers) is unchanged by the trip.
        #expect(
            XMLCanonicalizer.canonicalize(decrypted, inScopeNamespaces: [:], method: .exclusive)
                == XMLCanonicalizer.canonicalize(assertion, inScopeNamespaces: scope, method: .exclusive))
    }

    @Test func shapeIsXMLEnc11GCMWithOAEPAndTheCertificate() throws {
        let (assertion, scope) = try EncryptionKeys.assertion()
        let encrypted = try EncryptionKeys.encryptor.encrypt(assertion, inScopeNamespaces: scope)
        let xenc = XMLNamespace.xenc, ds = XMLNamespace.dsig
        #expect(encrypted.attribute("Type") == "http://www.w3.org/2001/04/xmlenc#Element")
        #expect(encrypted.firstChild(named: "EncryptionMethod", namespaceURI: xenc)?.attribute("Algorithm") == "http://www.w3.org/2009/xmlenc11#aes256-gcm")
        let key = try #require(encrypted.firstChild(named: "KeyInfo", namespaceURI: ds)?.firstChild(named: "EncryptedKey", namespaceURI: xenc))
        let method = try #require(key.firstChild(named: "EncryptionMethod", namespaceURI: xenc))
        #expect(method.attribute("Algorithm") == "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p")
        #expect(method.firstChild(named: "DigestMethod", namespaceURI: ds)?.attribute("Algorithm") == "http://www.w3.org/2000/09/xmldsig#sha1")
        let certificate = key.firstChild(named: "KeyInfo", namespaceURI: ds)?.firstChild(named: "X509Data", namespaceURI: ds)?
            .firstChild(named: "X509Certificate", namespaceURI: ds)?.text
        var serializer = DER.Serializer()
        try serializer.serialize(TestKeys.rsaCertificate)
        #expect(certificate == Data(serializer.serializedBytes).base64EncodedString())
        // IV (12) + ciphertext + tag (16); no plaintext leaks.
        let cipher = try #require(
            Data(
                base64Encoded: encrypted.firstChild(named: "CipherData", namespaceURI: xenc)?
                    .firstChild(named: "CipherValue", namespaceURI: xenc)?.text ?? ""))
        #expect(cipher.count == 12 + XMLEncryptor.selfContained(assertion, inScopeNamespaces: scope).serialized().count + 16)
        #expect(!String(decoding: DOMDocument(root: encrypted).serialized(), as: UTF8.self).contains("alice@acme.com"))
    }

    @Test func twoEncryptionsDiffer() throws {
        let (assertion, scope) = try EncryptionKeys.assertion()
        let a = try EncryptionKeys.encryptor.encrypt(assertion, inScopeNamespaces: scope)
        let b = try EncryptionKeys.encryptor.encrypt(assertion, inScopeNamespaces: scope)
        #expect(a != b)
    }

    @Test func encryptorRefusesKeysThatCannotEncrypt() throws {
        expectXMLError(.unsupportedKey) { _ = try XMLEncryptor(recipientCertificate: TestKeys.p256Certificate) }
        // KeyUsage present without keyEncipherment.
        let signOnly = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: Certificate.PrivateKey(TestKeys.rsa).publicKey,
            notValidBefore: Date().addingTimeInterval(-60), notValidAfter: Date().addingTimeInterval(3600),
            issuer: DistinguishedName { CommonName("sign only") }, subject: DistinguishedName { CommonName("sign only") },
            signatureAlgorithm: .sha256WithRSAEncryption,
            extensions: Certificate.Extensions { KeyUsage(digitalSignature: true) },
            issuerPrivateKey: Certificate.PrivateKey(TestKeys.rsa))
        expectXMLError(.unsupportedKey) { _ = try XMLEncryptor(recipientCertificate: signOnly) }
        let both = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: Certificate.PrivateKey(TestKeys.rsa).publicKey,
            notValidBefore: Date().addingTimeInterval(-60), notValidAfter: Date().addingTimeInterval(3600),
            issuer: DistinguishedName { CommonName("both") }, subject: DistinguishedName { CommonName("both") },
            signatureAlgorithm: .sha256WithRSAEncryption,
            extensions: Certificate.Extensions { KeyUsage(digitalSignature: true, keyEncipherment: true) },
            issuerPrivateKey: Certificate.PrivateKey(TestKeys.rsa))
        _ = try XMLEncryptor(recipientCertificate: both)
    }
}

@Suite("XML Encryption: what the decryptor refuses")
struct XMLDecryptionRefusalTests {
    let plaintext = Array("<a:x xmlns:a=\"urn:a\">secret</a:x>".utf8)

    @Test func craftedControlDecrypts() throws {
        let e = try EncryptionKeys.craft(plaintext: plaintext)
        #expect(try EncryptionKeys.decryptor.decrypt(e).textContent == "secret")
    }

    @Test func cbcAndOtherContentAlgorithms() throws {
        for uri in [
            "http://www.w3.org/2001/04/xmlenc#aes256-cbc", "http://www.w3.org/2001/04/xmlenc#aes128-cbc",
            "http://www.w3.org/2001/04/xmlenc#tripledes-cbc", "http://www.w3.org/2009/xmlenc11#aes256-gcm ",
        ] {
            let e = try EncryptionKeys.craft(plaintext: plaintext, content: uri)
            expectXMLError(.algorithmNotAllowed) { _ = try EncryptionKeys.decryptor.decrypt(e) }
        }
        // The allow-list can be narrowed: AES-256-GCM only.
        let e = try EncryptionKeys.craft(plaintext: plaintext, content: XMLContentEncryption.aes128GCM.uri, keyBytes: 16)
        var strict = EncryptionKeys.decryptor
        #expect(try strict.decrypt(e).textContent == "secret")
        strict.allowedContent = [.aes256GCM]
        expectXMLError(.algorithmNotAllowed) { _ = try strict.decrypt(e) }
    }

    @Test(arguments: [XMLContentEncryption.aes128CBC, .aes192CBC, .aes256CBC])
    func cbcOnlyWhenTheCallerAllowsIt(content: XMLContentEncryption) throws {
        let (assertion, scope) = try EncryptionKeys.assertion()
        var encryptor = EncryptionKeys.encryptor
        encryptor.content = content
        let encrypted = try XMLDocumentParser.parse(DOMDocument(root: try encryptor.encrypt(assertion, inScopeNamespaces: scope)).serialized()).root
        expectXMLError(.algorithmNotAllowed) { _ = try EncryptionKeys.decryptor.decrypt(encrypted) }
        var allowing = EncryptionKeys.decryptor
        allowing.allowedContent.insert(content)
        #expect(try allowing.decrypt(encrypted).attribute("ID") == "_a1")
    }

    /// xmlenc 1.0 §5.2.1: only the last padding byte (the length) counts; ISO 10126 random bytes
    /// before it are fine, a length of 0 or over 16 is the one `decryptionFailed`.
    @Test func cbcPaddingIsReadTheXMLEncWay() throws {
        let key = [UInt8](repeating: 7, count: 16)
        let iv = try AES._CBC.IV(ivBytes: [UInt8](repeating: 1, count: 16))
        func sealed(_ plaintext: [UInt8]) throws -> Data {
            Data(iv) + (try AES._CBC.encrypt(plaintext, using: SymmetricKey(data: key), iv: iv, noPadding: true))
        }
        let body = Array("<x>secret</x>".utf8) // 13 bytes
        #expect(Array(try XMLDecryptor.openCBC(try sealed(body + [0xAA, 0x55, 3]), key: key)) == body)
        #expect(Array(try XMLDecryptor.openCBC(try sealed(body + [0, 0, 3]), key: key)) == body)
        #expect(Array(try XMLDecryptor.openCBC(try sealed(body + [9, 9, 9] + [UInt8](repeating: 16, count: 16)), key: key)) == body + [9, 9, 9])
        for bad in [body + [1, 2, 0], body + [1, 2, 17]] {
            expectXMLError(.decryptionFailed) { _ = try XMLDecryptor.openCBC(try sealed(bad), key: key) }
        }
        // Not a whole number of blocks, or no block after the IV.
        expectXMLError(.decryptionFailed) { _ = try XMLDecryptor.openCBC(Data(iv) + Data([1, 2, 3]), key: key) }
        expectXMLError(.decryptionFailed) { _ = try XMLDecryptor.openCBC(Data(iv), key: key) }
    }

    @Test func rsaPKCS1v15AndUnknownKeyTransport() throws {
        for uri in ["http://www.w3.org/2001/04/xmlenc#rsa-1_5", "http://www.w3.org/2001/04/xmlenc#kw-aes256"] {
            let e = try EncryptionKeys.craft(plaintext: plaintext, transport: uri)
            expectXMLError(.algorithmNotAllowed) { _ = try EncryptionKeys.decryptor.decrypt(e) }
        }
    }

    @Test func oaepDigestAndLabelChecks() throws {
        // mgf1p with a SHA-256 digest: swift-crypto has no SHA-256/MGF1-SHA1 mix, so refused.
        let sha256 = try EncryptionKeys.craft(
            plaintext: plaintext, transportChildren: "<ds:DigestMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"/>")
        expectXMLError(.algorithmNotAllowed) { _ = try EncryptionKeys.decryptor.decrypt(sha256) }
        let label = try EncryptionKeys.craft(plaintext: plaintext, transportChildren: "<xenc:OAEPparams>AAAA</xenc:OAEPparams>")
        expectXMLError(.algorithmNotAllowed) { _ = try EncryptionKeys.decryptor.decrypt(label) }
        // No DigestMethod: SHA-1 is the default and decrypts.
        let bare = try EncryptionKeys.craft(plaintext: plaintext, transportChildren: "")
        #expect(try EncryptionKeys.decryptor.decrypt(bare).textContent == "secret")
    }

    @Test func wrongKeyTamperingAndKeyLengthAreOneError() throws {
        let e = try EncryptionKeys.craft(plaintext: plaintext)
        let other = XMLDecryptor(privateKey: EncryptionKeys.otherPrivateKey)
        var errors: [XMLSecurityError] = []
        func capture(_ body: () throws -> Void) {
            do { try body(); Issue.record("expected a failure") } catch let error as XMLSecurityError { errors.append(error) } catch {
                Issue.record("\(error)")
            }
        }
        capture { _ = try other.decrypt(e) }
        // Flip one byte of the content ciphertext (GCM tag fails).
        var tampered = DOMDocument(root: e).serialized()
        let text = String(decoding: tampered, as: UTF8.self)
        let last = try #require(text.range(of: "<xenc:CipherValue>", options: .backwards))
        let index = text.utf8.distance(from: text.startIndex, to: last.upperBound) + 20
        tampered[index] = tampered[index] == UInt8(ascii: "A") ? UInt8(ascii: "B") : UInt8(ascii: "A")
        capture { _ = try EncryptionKeys.decryptor.decrypt(try XMLDocumentParser.parse(tampered).root) }
        // A 128-bit key where the method says AES-256.
        let short = try EncryptionKeys.craft(plaintext: plaintext, keyBytes: 16)
        capture { _ = try EncryptionKeys.decryptor.decrypt(short) }
        #expect(errors.count == 3)
        #expect(errors.allSatisfy { $0.code == .decryptionFailed && $0.detail == errors[0].detail })
    }

    @Test func structure() throws {
        let twoKeys = try EncryptionKeys.craft(plaintext: plaintext, extraKeyInfo: "<xenc:EncryptedKey/>")
        expectXMLError(.encryptionStructure) { _ = try EncryptionKeys.decryptor.decrypt(twoKeys) }
        let retrieval = try EncryptionKeys.craft(plaintext: plaintext, extraKeyInfo: "<ds:RetrievalMethod URI=\"#k\"/>")
        expectXMLError(.encryptionStructure) { _ = try EncryptionKeys.decryptor.decrypt(retrieval) }
        let content = try EncryptionKeys.craft(plaintext: plaintext, type: "http://www.w3.org/2001/04/xmlenc#Content")
        expectXMLError(.encryptionStructure) { _ = try EncryptionKeys.decryptor.decrypt(content) }
        var reference = try EncryptionKeys.craft(plaintext: plaintext)
        let last = reference.children.count - 1
        reference.children[last] = .element(
            DOMElement(
                prefix: "xenc", localName: "CipherData", namespaceURI: XMLNamespace.xenc,
                children: [
                    .element(
                        DOMElement(
                            prefix: "xenc", localName: "CipherReference", namespaceURI: XMLNamespace.xenc,
                            attributes: [DOMAttribute(localName: "URI", value: "http://evil.example/x")]))
                ]))
        expectXMLError(.encryptionStructure) { _ = try EncryptionKeys.decryptor.decrypt(reference) }
        // No key in KeyInfo: a sibling key is used (SAML allows it), but only exactly one.
        var noKey = try EncryptionKeys.craft(plaintext: plaintext)
        let keyInfoIndex = noKey.children.firstIndex { $0.element?.localName == "KeyInfo" }!
        let key = noKey.children[keyInfoIndex].element!.childElements[0]
        noKey.children[keyInfoIndex] = .element(DOMElement(prefix: "ds", localName: "KeyInfo", namespaceURI: XMLNamespace.dsig))
        expectXMLError(.encryptionStructure) { _ = try EncryptionKeys.decryptor.decrypt(noKey) }
        #expect(try EncryptionKeys.decryptor.decrypt(noKey, siblingKeys: [key]).textContent == "secret")
        expectXMLError(.encryptionStructure) { _ = try EncryptionKeys.decryptor.decrypt(noKey, siblingKeys: [key, key]) }
    }

    @Test func plaintextGoesThroughTheHardenedParser() throws {
        let dtd = try EncryptionKeys.craft(plaintext: Array("<!DOCTYPE x [<!ENTITY e \"boom\">]><x>&e;</x>".utf8))
        #expect(throws: XMLSecurityError.self) { _ = try EncryptionKeys.decryptor.decrypt(dtd) }
        let entity = try EncryptionKeys.craft(plaintext: Array("<x>&e;</x>".utf8))
        expectXMLError(.entityForbidden) { _ = try EncryptionKeys.decryptor.decrypt(entity) }
        let two = try EncryptionKeys.craft(plaintext: Array("<x/><y/>".utf8))
        expectXMLError(.encryptionStructure) { _ = try EncryptionKeys.decryptor.decrypt(two) }
        let text = try EncryptionKeys.craft(plaintext: Array("just text".utf8))
        expectXMLError(.encryptionStructure) { _ = try EncryptionKeys.decryptor.decrypt(text) }
        // A prefix from the surrounding document resolves only when the caller gives the scope.
        let scoped = try EncryptionKeys.craft(plaintext: Array("<a:x>in scope</a:x>".utf8))
        expectXMLError(.undeclaredPrefix) { _ = try EncryptionKeys.decryptor.decrypt(scoped) }
        let element = try EncryptionKeys.decryptor.decrypt(scoped, inScopeNamespaces: ["a": "urn:a"])
        #expect(element.namespaceURI == "urn:a")
    }
}

/// Differential: what we encrypt, xmlsec1 decrypts; what xmlsec1 encrypts, we decrypt.
@Suite("XML Encryption against xmlsec1", .enabled(if: ReferenceTool.shouldRun("xmlsec1")))
struct XMLEncryptionDifferentialTests {
    static var keyPEM: String { EncryptionKeys.privateKey.pemRepresentation }

    @Test func xmlsecDecryptsOurEncryptedAssertion() throws {
        guard let xmlsec = ReferenceTool.require("xmlsec1") else { return }
        let (assertion, scope) = try EncryptionKeys.assertion()
        let encrypted = try EncryptionKeys.encryptor.encrypt(assertion, inScopeNamespaces: scope, id: "_e1")
        var doc = try SAMLFixture.parse(SAMLFixture.response())
        let index = doc.root.children.firstIndex { $0.element?.localName == "Assertion" }!
        doc.root.children[index] = .element(
            DOMElement(
                prefix: "saml", localName: "EncryptedAssertion", namespaceURI: SAMLFixture.assertionNS,
                children: [.element(encrypted)]))
        let dir = try TemporaryDirectory()
        let key = try dir.write("key.pem", Data(Self.keyPEM.utf8))
        let file = try dir.write("doc.xml", doc.serialized())
        let r = try ReferenceTool.run(xmlsec, ["--decrypt", "--privkey-pem", key, file])
        #expect(r.status == 0, "xmlsec1: \(r.stderr)")
        let out = try XMLDocumentParser.parse(r.stdout).root
        let decrypted = try #require(out.firstDescendantOrSelf { $0.localName == "Assertion" })
        #expect(
            XMLCanonicalizer.canonicalize(decrypted, inScopeNamespaces: [:], method: .exclusive)
                == XMLCanonicalizer.canonicalize(assertion, inScopeNamespaces: scope, method: .exclusive))
        // Control: with another key xmlsec1 fails.
        let other = try dir.write("other.pem", Data(EncryptionKeys.otherPrivateKey.pemRepresentation.utf8))
        let bad = try ReferenceTool.run(xmlsec, ["--decrypt", "--privkey-pem", other, file])
        #expect(bad.status != 0, "xmlsec1 must fail with the wrong key, or this test proves nothing")
    }

    /// xmlsec1 (libxmlsec1 over OpenSSL) encrypts; Sigil decrypts. AES-CBC included: xmlsec1 pads
    /// CBC with random bytes before the length byte, which Sigil must read the xmlenc way.
    @Test(arguments: [("aes-256", "gcm"), ("aes-128", "gcm"), ("aes-256", "cbc"), ("aes-128", "cbc"), ("aes-192", "cbc")])
    func weDecryptXmlsecEncryptedData(sessionKey: String, mode: String) throws {
        guard let xmlsec = ReferenceTool.require("xmlsec1") else { return }
        let bits = String(sessionKey.dropFirst(4))
        let uri = mode == "gcm" ? "http://www.w3.org/2009/xmlenc11#aes\(bits)-gcm" : "http://www.w3.org/2001/04/xmlenc#aes\(bits)-cbc"
        let template = """
            <xenc:EncryptedData xmlns:xenc="http://www.w3.org/2001/04/xmlenc#" Type="http://www.w3.org/2001/04/xmlenc#Element">\
            <xenc:EncryptionMethod Algorithm="\(uri)"/>\
            <ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><xenc:EncryptedKey>\
            <xenc:EncryptionMethod Algorithm="http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p"><ds:DigestMethod Algorithm="http://www.w3.org/2000/09/xmldsig#sha1"/></xenc:EncryptionMethod>\
            <xenc:CipherData><xenc:CipherValue/></xenc:CipherData></xenc:EncryptedKey></ds:KeyInfo>\
            <xenc:CipherData><xenc:CipherValue/></xenc:CipherData></xenc:EncryptedData>
            """
        let dir = try TemporaryDirectory()
        let cert = try dir.write("cert.pem", Data(TestKeys.pem(TestKeys.rsaCertificate).utf8))
        let data = try dir.write("data.xml", Data(SAMLFixture.response().utf8))
        let tmpl = try dir.write("tmpl.xml", Data(template.utf8))
        let r = try ReferenceTool.run(
            xmlsec,
            [
                "--encrypt", "--pubkey-cert-pem", cert, "--session-key", sessionKey, "--xml-data", data,
                "--node-name", "urn:oasis:names:tc:SAML:2.0:assertion:Assertion", tmpl,
            ])
        #expect(r.status == 0, "xmlsec1: \(r.stderr)")
        let doc = try XMLDocumentParser.parse(r.stdout)
        #expect(!String(decoding: r.stdout, as: UTF8.self).contains("alice@acme.com"))
        var path: [Int] = []
        doc.root.forEachElement { e, p in if e.localName == "EncryptedData" { path = p } }
        let encrypted = try #require(doc.root.element(at: path))
        let scope = doc.root.namespacesInScope(above: path, inherited: ["xml": XMLNamespace.xml])
        let decryptor = EncryptionKeys.decryptor.allowing(cbc: mode == "cbc")
        let decrypted = try decryptor.decrypt(encrypted, inScopeNamespaces: scope)
        let (assertion, assertionScope) = try EncryptionKeys.assertion()
        #expect(
            XMLCanonicalizer.canonicalize(decrypted, inScopeNamespaces: scope, method: .exclusive)
                == XMLCanonicalizer.canonicalize(assertion, inScopeNamespaces: assertionScope, method: .exclusive))
        // And not with another key.
        #expect(throws: XMLSecurityError(.decryptionFailed, "")) {
            _ = try XMLDecryptor(privateKey: EncryptionKeys.otherPrivateKey).allowing(cbc: true).decrypt(encrypted, inScopeNamespaces: scope)
        }
    }
}
