import Crypto
import Foundation
import SigilCore
import SigilJOSE
import SigilSAML
import SigilXML
import X509
import _CryptoExtras

/// `sigil-bench saml [--rounds N]`: signed SSO responses per second — building the Response for
/// an SP with signing=both (the default), exclusive c14n and two RSA-SHA256 signatures (Assertion,
/// then Response), serialising, base64 for the POST form — against raw RS256 signatures per
/// second with the same key, measured in alternating rounds of the same run. Also signing=assertion
/// (one signature) and signing=both with the assertion encrypted (AES-256-GCM, RSA-OAEP to a
/// 2048-bit SP key). The figure to watch is the ratio per signature:
/// responses/s × signatures per response ÷ raw signatures/s (goal ≥ 0.70).
func runSAMLBench(arguments: [String]) throws {
    let rounds = arguments.firstIndex(of: "--rounds").flatMap { arguments.indices.contains($0 + 1) ? Int(arguments[$0 + 1]) : nil } ?? 20
    // The IdP key and certificate exactly as the service builds its signer, parsed once and reused
    // (as the service keeps them per tenant and kid); the raw baseline signs with the same key.
    let material = try SigningKeyMaterial.generate(.rs256)
    let key = try _RSA.Signing.PrivateKey(derRepresentation: material.privateKeyDER.value)
    let now = Date()
    let pem = try SigningCertificate.make(
        for: material, commonName: "bench", serialNumber: Array(repeating: 7, count: 16),
        notBefore: now.addingTimeInterval(-60), notAfter: now.addingTimeInterval(86_400))
    let certificate = try Certificate(pemEncoded: pem)
    let builder = SAMLResponseBuilder(signer: XMLSigner(key: .rsa(key), certificate: certificate), random: SystemRandom())
    // The SP's encryption certificate.
    let spKey = try _RSA.Signing.PrivateKey(keySize: .bits2048)
    let spName = try DistinguishedName { CommonName("bench SP") }
    let spCertificate = try Certificate(
        version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: Certificate.PrivateKey(spKey).publicKey,
        notValidBefore: now.addingTimeInterval(-60), notValidAfter: now.addingTimeInterval(86_400), issuer: spName, subject: spName,
        signatureAlgorithm: .sha256WithRSAEncryption, extensions: Certificate.Extensions {}, issuerPrivateKey: Certificate.PrivateKey(spKey))
    let encryptor = try XMLEncryptor(recipientCertificate: spCertificate)

    // What a real sign-in sends: Okta's default attributes and session.amr.
    let content = SAMLAssertionContent(
        issuer: "https://acme.sigil.example/saml/metadata", acsURL: "https://acme.okta.com/sso/saml2/0oa1b2c3d4e5f6g7h8i9",
        audience: "https://www.okta.com/saml2/service-provider/spabcdefghijklmnopqr", inResponseTo: "_" + String(repeating: "a1", count: 20),
        nameID: "ada.lovelace@acme.example", nameIDFormat: .emailAddress, sessionIndex: "_" + String(repeating: "5", count: 40),
        authnInstant: now.addingTimeInterval(-5), authnContextClassRef: SAML.AuthnContextClass.unspecified,
        attributes: [
            SAMLAttribute(name: "email", values: ["ada.lovelace@acme.example"]), SAMLAttribute(name: "firstName", values: ["Ada"]),
            SAMLAttribute(name: "lastName", values: ["Lovelace"]), SAMLAttribute(name: "session.amr", values: ["hwk", "user", "phr", "mfa"]),
        ],
        sessionNotOnOrAfter: now.addingTimeInterval(8 * 3600))
    // A SignedInfo-sized input for the raw signatures (what XMLSigner hands the key).
    let signedInfo = Array(String(repeating: "<ds:Reference URI=\"#_0123456789abcdef\">", count: 20).utf8)

    func response(_ signing: SAMLSigningChoice, encrypted: Bool) throws -> String {
        Data(try builder.response(content, now: now, signing: signing, encryptor: encrypted ? encryptor : nil)).base64EncodedString()
    }
    // Must verify once, or the numbers measure something else.
    let check = try XMLSignatureVerifier(trustedCertificates: [certificate])
    let sample = Array(Data(base64Encoded: try response(.both, encrypted: false))!)
    _ = try check.verifyEnveloped(check.verifyEnveloped(sample, signedElement: .root).canonicalBytes, signedElement: .samlAssertion)

    struct Tally { var time = Duration.zero; var count = 0 }
    var raw = Tally(), both = Tally(), assertionOnly = Tally(), encrypted = Tally()
    let clock = ContinuousClock()
    func timed(_ tally: inout Tally, _ n: Int, _ body: () throws -> Void) rethrows {
        let start = clock.now
        for _ in 0..<n { try body() }
        tally.time += clock.now - start
        tally.count += n
    }
    for _ in 0..<3 { _ = try response(.both, encrypted: true) } // warm up
    // Alternating short rounds: load that comes and goes hits every line alike.
    for _ in 0..<rounds {
        try timed(&raw, 40) { _ = try key.signature(for: SHA256.hash(data: signedInfo), padding: .insecurePKCS1v1_5) }
        try timed(&both, 20) { _ = try response(.both, encrypted: false) }
        try timed(&assertionOnly, 20) { _ = try response(.assertion, encrypted: false) }
        try timed(&encrypted, 20) { _ = try response(.both, encrypted: true) }
    }
    func rate(_ t: Tally) -> Double {
        Double(t.count) / (Double(t.time.components.seconds) + Double(t.time.components.attoseconds) / 1e18)
    }
    let rawRate = rate(raw), bothRate = rate(both), assertionRate = rate(assertionOnly), encryptedRate = rate(encrypted)
    func line(_ name: String, _ value: Double) { print(name.padding(toLength: 54, withPad: " ", startingAt: 0) + String(format: "%8.0f /s", value)) }
    print("SAML SSO response signing (\(ProcessInfo.processInfo.activeProcessorCount) cores, \(rounds) rounds)")
    line("raw RS256 signatures (swift-crypto, same key)", rawRate)
    line("SSO responses, signing=both (2 signatures)", bothRate)
    line("SSO responses, signing=assertion (1 signature)", assertionRate)
    line("SSO responses, signing=both + encrypted assertion", encryptedRate)
    print(String(format: "ratio responses/raw, signing=both: %.2f (at most 0.50: two signatures per response)", bothRate / rawRate))
    print(String(format: "ratio per signature, signing=both: %.2f (goal ≥ 0.70)", 2 * bothRate / rawRate))
    print(String(format: "ratio per signature, signing=assertion: %.2f (goal ≥ 0.70)", assertionRate / rawRate))
    print(
        String(
            format: "ratio per signature, signing=both + encryption: %.2f (encryption adds an RSA-OAEP public-key operation and AES-GCM)",
            2 * encryptedRate / rawRate))

    // Where the time goes, each alone (µs per call).
    let document = try XMLDocumentParser.parse(sample)
    func micro(_ name: String, _ n: Int = 2000, _ body: () throws -> Void) rethrows {
        let start = clock.now
        for _ in 0..<n { try body() }
        let t = clock.now - start
        let us = (Double(t.components.seconds) * 1e6 + Double(t.components.attoseconds) / 1e12) / Double(n)
        print("  " + name.padding(toLength: 52, withPad: " ", startingAt: 0) + String(format: "%8.1f µs", us))
    }
    print("where the time goes (each alone, per call):")
    try micro("RS256 signature", 200) { _ = try key.signature(for: SHA256.hash(data: signedInfo), padding: .insecurePKCS1v1_5) }
    micro("exclusive c14n of the signed Response (\(sample.count) bytes)") {
        _ = XMLCanonicalizer.canonicalize(document.root, inScopeNamespaces: [:], method: .exclusive)
    }
    try micro("parse the RSA key and certificate, make the signer (per response before keys were kept parsed)", 200) {
        _ = XMLSigner(
            key: .rsa(try _RSA.Signing.PrivateKey(derRepresentation: material.privateKeyDER.value)), certificate: try Certificate(pemEncoded: pem))
    }
    micro("serialise the Response") { _ = document.serialized() }
    micro("base64 of the Response") { _ = Data(sample).base64EncodedString() }
    micro("SAMLTime.format (one instant)") { _ = SAMLTime.format(now) }
    micro("SAMLResponseBuilder.newID()") { _ = builder.newID() }
    try micro("parse the Response (hardened parser)", 500) { _ = try XMLDocumentParser.parse(sample) }
    try micro("AES-256-GCM + RSA-OAEP encryption of the Assertion", 500) {
        let assertion = document.root.childElements(named: "Assertion", namespaceURI: SAML.assertionNamespace)[0]
        _ = try encryptor.encrypt(assertion, inScopeNamespaces: ["saml": SAML.assertionNamespace])
    }
}
