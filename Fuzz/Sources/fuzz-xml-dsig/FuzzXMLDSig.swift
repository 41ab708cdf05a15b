import CLibFuzzer
import SigilXML
import X509

/// A test certificate made for this target only (P-256, CN=sigil-fuzz-test); its private key was
/// thrown away, so no input can carry a valid signature by it.
private let certificatePEM = """
    -----BEGIN CERTIFICATE-----
    MIIBizCCATGgAwIBAgIUc48cJ9cov/CSzAwM7O9delG0KAUwCgYIKoZIzj0EAwIw
    GjEYMBYGA1UEAwwPc2lnaWwtZnV6ei10ZXN0MCAXDTI2MTIwNjAzNTcwOFoYDzIx
    MjYxMTEyMDM1NzA4WjAaMRgwFgYDVQQDDA9zaWdpbC1mdXp6LXRlc3QwWTATBgcq
    hkjOPQIBBggqhkjOPQMBBwNCAARfQATN0MoP8amxk4xlkEi11uDKIR7xgO+0nm2n
    i32JSG9QUWankf4K8XKKzWgrcGlUgy4+Y+jdpNEolE/jMCGKo1MwUTAdBgNVHQ4E
    FgQUiH/DXMflX34XlsnMm6M1jvrWbRIwHwYDVR0jBBgwFoAUiH/DXMflX34XlsnM
    m6M1jvrWbRIwDwYDVR0TAQH/BAUwAwEB/zAKBggqhkjOPQQDAgNIADBFAiEA31zD
    8KFIlNImpBwjZQb2eDYOTp4CXSVqIj1Vr54gruMCIHEIVCY86IMnpiX+btSwWyJa
    5WNU6FWvxEWEnfMqUSqK
    -----END CERTIFICATE-----
    """

/// A fresh verifier per input: with one held in a global, LeakSanitizer reported its key as leaked
/// (the key sits in an enum payload, `XMLVerificationKey.p256`, which its scan apparently misses).
private func makeVerifier() -> XMLSignatureVerifier {
    do {
        return try XMLSignatureVerifier(trustedCertificates: [Certificate(pemEncoded: certificatePEM)])
    } catch {
        fatalError("the fixed test certificate does not load: \(error)")
    }
}

/// XML-DSig enveloped-signature verification of hostile documents, of the root and of a SAML
/// assertion: every input must fail cleanly (a thrown XMLSecurityError), never verify.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: data, count: size)
    let verifier = makeVerifier()
    if (try? verifier.verifyEnveloped(bytes)) != nil { fatalError("a document verified against a key nobody holds") }
    if (try? verifier.verifyEnveloped(bytes, signedElement: .samlAssertion)) != nil { fatalError("an assertion verified against a key nobody holds") }
    return 0
}

/// SwiftPM's entry point for this executable (it links `main` to `<module>_main`): libFuzzer's driver.
@_cdecl("fuzz_xml_dsig_main")
public func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    var argc = argc
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = argv
    return LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzz(data!, size) }
}
