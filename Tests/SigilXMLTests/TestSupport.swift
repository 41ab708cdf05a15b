import Crypto
import Foundation
import SwiftASN1
import Testing
import X509
import _CryptoExtras

@testable import SigilXML

/// The reference tools of the differential tests. Under `CI` a missing tool is a test failure
/// with a clear message; elsewhere the tests that need it are skipped.
enum ReferenceTool {
    static func path(_ name: String) -> String? {
        let dirs = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":")
        for d in dirs + ["/usr/bin", "/usr/local/bin"] {
            let p = "\(d)/\(name)"
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        return nil
    }

    static var isCI: Bool { ProcessInfo.processInfo.environment["CI"].map { !$0.isEmpty } ?? false }

    /// For `.enabled(if:)`: run when the tool is here, or always under CI (where its absence fails).
    static func shouldRun(_ name: String) -> Bool { isCI || path(name) != nil }

    /// The tool's path; records a failure (CI) when it is missing.
    static func require(_ name: String, sourceLocation: SourceLocation = #_sourceLocation) -> String? {
        if let p = path(name) { return p }
        Issue.record("\(name) is required when CI is set: install it with scripts/install-xml-tools.sh", sourceLocation: sourceLocation)
        return nil
    }

    struct Result {
        var status: Int32
        var stdout: Data
        var stderr: String
    }

    static func run(_ executable: String, _ arguments: [String], in directory: URL? = nil) throws -> Result {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments
        if let directory { p.currentDirectoryURL = directory }
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return Result(status: p.terminationStatus, stdout: o, stderr: String(decoding: e, as: UTF8.self))
    }
}

/// A temporary directory removed when the test ends.
final class TemporaryDirectory {
    let url: URL
    init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("sigilxml-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(at: url) }

    @discardableResult
    func write(_ name: String, _ contents: some DataProtocol) throws -> String {
        let u = url.appendingPathComponent(name)
        try Data(contents).write(to: u)
        return u.path
    }
}

enum Vectors {
    static var c14nDirectory: URL {
        Bundle.module.resourceURL!.appendingPathComponent("Vectors/c14n")
    }
}

/// Test keys and self-signed certificates (generated once per process).
enum TestKeys {
    static let rsa: _RSA.Signing.PrivateKey = try! _RSA.Signing.PrivateKey(keySize: .bits2048)
    static let otherRSA: _RSA.Signing.PrivateKey = try! _RSA.Signing.PrivateKey(keySize: .bits2048)
    static let p256 = P256.Signing.PrivateKey()

    static let rsaCertificate: Certificate = selfSigned(Certificate.PrivateKey(rsa), name: "Sigil XML test RSA", algorithm: .sha256WithRSAEncryption)
    static let otherRSACertificate: Certificate = selfSigned(Certificate.PrivateKey(otherRSA), name: "Sigil XML other RSA", algorithm: .sha256WithRSAEncryption)
    static let p256Certificate: Certificate = selfSigned(Certificate.PrivateKey(p256), name: "Sigil XML test P-256", algorithm: .ecdsaWithSHA256)

    static func selfSigned(_ key: Certificate.PrivateKey, name: String, algorithm: Certificate.SignatureAlgorithm) -> Certificate {
        let subject = try! DistinguishedName { CommonName(name) }
        let now = Date()
        return try! Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(),
            publicKey: key.publicKey, notValidBefore: now.addingTimeInterval(-3600), notValidAfter: now.addingTimeInterval(86400 * 365),
            issuer: subject, subject: subject,
            signatureAlgorithm: algorithm,
            extensions: try! Certificate.Extensions { Critical(BasicConstraints.notCertificateAuthority) },
            issuerPrivateKey: key)
    }

    static func pem(_ certificate: Certificate) -> String {
        try! certificate.serializeAsPEM().pemString
    }
}

enum SAMLFixture {
    static let assertionNS = "urn:oasis:names:tc:SAML:2.0:assertion"

    /// A SAML Response with one Assertion, namespaces declared on the Response (so the
    /// assertion's exclusive c14n must pull `saml` down from its ancestor).
    static func response(nameID: String = "alice@acme.com", assertionID: String = "_a1", responseID: String = "_r1") -> String {
        """
        <samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="\(responseID)" Version="2.0" IssueInstant="2026-01-01T00:00:00Z" Destination="https://sp.example/acs">
          <saml:Issuer>https://idp.example/saml/metadata</saml:Issuer>
          <samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status>
          <saml:Assertion xmlns:xs="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" ID="\(assertionID)" Version="2.0" IssueInstant="2026-01-01T00:00:00Z">
            <saml:Issuer>https://idp.example/saml/metadata</saml:Issuer>
            <saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">\(nameID)</saml:NameID></saml:Subject>
            <saml:AttributeStatement><saml:Attribute Name="session.amr"><saml:AttributeValue xsi:type="xs:string">hwk</saml:AttributeValue></saml:Attribute></saml:AttributeStatement>
          </saml:Assertion>
        </samlp:Response>
        """
    }

    static func parse(_ s: String) throws -> DOMDocument {
        try XMLDocumentParser.parse(Data(s.utf8))
    }

    /// The fixture with its assertion signed by `key` (RSA test key by default).
    static func signedAssertion(
        key: XMLSigningKey = .rsa(TestKeys.rsa), certificate: Certificate? = TestKeys.rsaCertificate, nameID: String = "alice@acme.com",
        inclusivePrefixes: [String] = []
    ) throws -> String {
        let doc = try parse(response(nameID: nameID))
        let signed = try XMLSigner(key: key, certificate: certificate, inclusivePrefixes: inclusivePrefixes).signEnveloped(doc, elementID: "_a1")
        return String(decoding: signed.serialized(), as: UTF8.self)
    }

    static var rsaVerifier: XMLSignatureVerifier { XMLSignatureVerifier(trustedKeys: [.rsa(TestKeys.rsa.publicKey)]) }
}

/// Expects `body` to throw an `XMLSecurityError` with `code`.
func expectXMLError(_ code: XMLSecurityError.Code, sourceLocation: SourceLocation = #_sourceLocation, _ body: () throws -> Void) {
    do {
        try body()
        Issue.record("expected XMLSecurityError.\(code), but nothing was thrown", sourceLocation: sourceLocation)
    } catch let error as XMLSecurityError {
        #expect(error.code == code, "got \(error)", sourceLocation: sourceLocation)
    } catch {
        Issue.record("expected XMLSecurityError.\(code), got \(error)", sourceLocation: sourceLocation)
    }
}
