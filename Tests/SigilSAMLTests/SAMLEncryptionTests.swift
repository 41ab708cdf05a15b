import Crypto
import Foundation
import SigilCore
import SigilSAML
import SigilXML
import Testing
import X509
import _CryptoExtras

/// An SP key pair whose self-signed certificate has no KeyUsage (so it may encrypt keys); the
/// IdP's own certificates say digitalSignature only and are refused as encryption certificates.
struct SPEncryptionKey {
    let key: _RSA.Signing.PrivateKey
    let certificate: Certificate
    var pem: String { try! certificate.serializeAsPEM().pemString }

    init() throws {
        key = try _RSA.Signing.PrivateKey(keySize: .bits2048)
        let name = try DistinguishedName { CommonName("test SP") }
        certificate = try Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: Certificate.PrivateKey(key).publicKey,
            notValidBefore: now.addingTimeInterval(-3600), notValidAfter: now.addingTimeInterval(86_400), issuer: name, subject: name,
            signatureAlgorithm: .sha256WithRSAEncryption, extensions: Certificate.Extensions {}, issuerPrivateKey: Certificate.PrivateKey(key))
    }
}

@Suite("SAML encrypted assertions")
struct SAMLEncryptionTests {
    func content() -> SAMLAssertionContent {
        SAMLAssertionContent(
            issuer: "https://id.example.com/saml/metadata", acsURL: "https://sp.example.com/acs",
            audience: "https://sp.example.com/metadata", inResponseTo: "_req1", nameID: "ada@example.com",
            nameIDFormat: .emailAddress, sessionIndex: "_s1", authnInstant: now.addingTimeInterval(-10),
            authnContextClassRef: SAML.AuthnContextClass.unspecified,
            attributes: [SAMLAttribute(name: "email", values: ["ada@example.com"])])
    }

    func decryptor(_ sp: SPEncryptionKey) throws -> XMLDecryptor {
        XMLDecryptor(privateKey: try _RSA.Encryption.PrivateKey(derRepresentation: sp.key.derRepresentation))
    }

    @Test func signThenEncryptThenSignTheResponse() throws {
        let idp = try TestKey(), sp = try SPEncryptionKey()
        let builder = SAMLResponseBuilder(signer: idp.signer, random: InsecureSeededRandom(seed: "e"))
        let bytes = try builder.response(content(), now: now, signing: .both, encryptor: try XMLEncryptor(recipientCertificate: sp.certificate))
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(!text.contains("ada@example.com"))
        #expect(!text.contains("<saml:Assertion"))
        #expect(text.contains("<saml:EncryptedAssertion><xenc:EncryptedData"))
        // The Response signature covers the EncryptedAssertion.
        let verifier = try XMLSignatureVerifier(trustedCertificates: [idp.certificate])
        let response = try verifier.verifyEnveloped(bytes, signedElement: .root)
        let decrypted = try SAMLEncryptedAssertion.decrypt(try XMLDocumentParser.parse(response.canonicalBytes), with: try decryptor(sp))
        // The Assertion was signed before encryption, and its signature holds after decryption.
        let assertion = try verifier.verifyEnveloped(decrypted.serialized(), signedElement: .samlAssertion).element
        let nameID = assertion.firstChild(named: "Subject", namespaceURI: SAML.assertionNamespace)?
            .firstChild(named: "NameID", namespaceURI: SAML.assertionNamespace)?.text
        #expect(nameID == "ada@example.com")
        // Another SP's key cannot read it.
        #expect(throws: SAMLError.self) {
            _ = try SAMLEncryptedAssertion.decrypt(try XMLDocumentParser.parse(bytes), with: try decryptor(try SPEncryptionKey()))
        }
    }

    @Test func responseOnlySigningEncryptsAnUnsignedAssertion() throws {
        let idp = try TestKey(), sp = try SPEncryptionKey()
        let builder = SAMLResponseBuilder(signer: idp.signer, random: InsecureSeededRandom(seed: "e"))
        let bytes = try builder.response(content(), now: now, signing: .response, encryptor: try XMLEncryptor(recipientCertificate: sp.certificate))
        let verifier = try XMLSignatureVerifier(trustedCertificates: [idp.certificate])
        _ = try verifier.verifyEnveloped(bytes, signedElement: .root)
        let decrypted = try SAMLEncryptedAssertion.decrypt(try XMLDocumentParser.parse(bytes), with: try decryptor(sp))
        #expect(throws: XMLSecurityError(.signatureMissing, "")) {
            _ = try verifier.verifyEnveloped(decrypted.serialized(), signedElement: .samlAssertion)
        }
    }

    @Test func decryptRefusesPlainBesideEncrypted() throws {
        let idp = try TestKey(), sp = try SPEncryptionKey()
        let builder = SAMLResponseBuilder(signer: idp.signer, random: InsecureSeededRandom(seed: "e"))
        let encrypted = try XMLDocumentParser.parse(
            try builder.response(
                content(), now: now, signing: .assertion,
                encryptor: try XMLEncryptor(recipientCertificate: sp.certificate)))
        let plain = try XMLDocumentParser.parse(try builder.response(content(), now: now, signing: .assertion))
        var both = encrypted
        both.root.children.append(plain.root.children.first { $0.element?.localName == "Assertion" }!)
        #expect(throws: SAMLError(.unsupported, "")) { _ = try SAMLEncryptedAssertion.decrypt(both, with: try decryptor(sp)) }
        #expect(throws: SAMLError(.unsupported, "")) { _ = try SAMLEncryptedAssertion.decrypt(plain, with: try decryptor(sp)) }
    }

    @Test func theIdPsSigningOnlyCertificateCannotReceiveKeys() throws {
        // SigningCertificate says KeyUsage digitalSignature: not for key transport (RFC 5280 §4.2.1.3).
        #expect(throws: XMLSecurityError(.unsupportedKey, "")) { _ = try XMLEncryptor(recipientCertificate: try TestKey().certificate) }
    }

    @Test func metadataEncryptionCertificate() throws {
        let signing = try TestKey(), encryption = try TestKey()
        func body(_ pem: String) -> String {
            pem.split(separator: "\n").filter { !$0.hasPrefix("-----") }.joined()
        }
        func descriptor(_ use: String?, _ pem: String) -> String {
            let u = use.map { " use=\"\($0)\"" } ?? ""
            return
                "<md:KeyDescriptor\(u)><ds:KeyInfo><ds:X509Data><ds:X509Certificate>\(body(pem))</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>"
        }
        func metadata(_ descriptors: String) -> [UInt8] {
            Array(
                """
                <md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="https://sp.example.com/metadata">\
                <md:SPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">\(descriptors)\
                <md:AssertionConsumerService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="https://sp.example.com/acs" index="0"/>\
                </md:SPSSODescriptor></md:EntityDescriptor>
                """.utf8)
        }
        let separate = try SPMetadata.parse(metadata(descriptor("encryption", encryption.pem) + descriptor("signing", signing.pem)))
        #expect(separate.signingCertificatePEM.map(body) == body(signing.pem))
        #expect(separate.encryptionCertificatePEM.map(body) == body(encryption.pem))
        let shared = try SPMetadata.parse(metadata(descriptor(nil, signing.pem)))
        #expect(shared.signingCertificatePEM == shared.encryptionCertificatePEM)
        let signingOnly = try SPMetadata.parse(metadata(descriptor("signing", signing.pem)))
        #expect(signingOnly.encryptionCertificatePEM == nil)
    }

    /// Differential: xmlsec1 checks the Response signature over the EncryptedAssertion, decrypts
    /// it with the SP's key, then checks the Assertion signature inside.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/xmlsec1") || ProcessInfo.processInfo.environment["CI"] != nil))
    func xmlsec1DecryptsAndVerifies() throws {
        let idp = try TestKey(), sp = try SPEncryptionKey()
        let builder = SAMLResponseBuilder(signer: idp.signer, random: InsecureSeededRandom(seed: "x"))
        let bytes = try builder.response(content(), now: now, signing: .both, encryptor: try XMLEncryptor(recipientCertificate: sp.certificate))
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sigil-samlenc-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        func path(_ name: String) -> String { dir.appendingPathComponent(name).path }
        try Data(bytes).write(to: URL(fileURLWithPath: path("r.xml")))
        try Data(idp.pem.utf8).write(to: URL(fileURLWithPath: path("idp.pem")))
        try Data(try _RSA.Encryption.PrivateKey(derRepresentation: sp.key.derRepresentation).pemRepresentation.utf8)
            .write(to: URL(fileURLWithPath: path("sp.key")))
        func xmlsec(_ arguments: [String]) throws -> (Int32, Data) {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/xmlsec1")
            p.arguments = arguments
            let out = Pipe()
            p.standardOutput = out
            p.standardError = FileHandle.nullDevice
            try p.run()
            let data = out.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            return (p.terminationStatus, data)
        }
        let ids = ["--id-attr:ID", "urn:oasis:names:tc:SAML:2.0:protocol:Response", "--id-attr:ID", "urn:oasis:names:tc:SAML:2.0:assertion:Assertion"]
        let (verifyResponse, _) = try xmlsec(
            ["--verify", "--pubkey-cert-pem", path("idp.pem")] + ids + ["--node-name", "urn:oasis:names:tc:SAML:2.0:protocol:Response", path("r.xml")])
        #expect(verifyResponse == 0, "xmlsec1 refused the Response signature over the EncryptedAssertion")
        let (decrypt, plain) = try xmlsec(["--decrypt", "--privkey-pem", path("sp.key"), path("r.xml")])
        #expect(decrypt == 0, "xmlsec1 could not decrypt the assertion")
        #expect(String(decoding: plain, as: UTF8.self).contains("ada@example.com"))
        try plain.write(to: URL(fileURLWithPath: path("d.xml")))
        let (verifyAssertion, _) = try xmlsec(
            ["--verify", "--pubkey-cert-pem", path("idp.pem")] + ids + ["--node-name", "urn:oasis:names:tc:SAML:2.0:assertion:Assertion", path("d.xml")])
        #expect(verifyAssertion == 0, "xmlsec1 refused the decrypted Assertion's signature")
    }
}
