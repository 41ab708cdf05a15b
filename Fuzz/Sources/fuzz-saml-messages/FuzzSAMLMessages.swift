import CLibFuzzer
import Foundation
import SigilSAML
import X509

/// A test certificate made for the fuzz targets only (P-256, CN=sigil-fuzz-test); its private key
/// was thrown away, so no input can carry a valid signature by it.
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

/// SAML protocol messages as XML (what the HTTP-POST binding hands over after base64):
/// AuthnRequest, LogoutRequest and LogoutResponse parsing; and, from Sigil's service-provider
/// side, a Response at the ACS (InResponseTo read before trust, the full validation against a key
/// nobody holds, which must never accept), IdP metadata import, and the trace's redaction.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    _ = try? AuthnRequest.parse(bytes)
    _ = try? LogoutRequest.parse(bytes)
    _ = try? LogoutResponse.parse(bytes)
    _ = try? SAMLResponseValidator.claimedInResponseTo(bytes)
    _ = try? UpstreamIdPMetadata.parse(bytes)
    _ = SAMLTraceRedaction.redact(bytes)
    guard let certificate = try? Certificate(pemEncoded: certificatePEM) else { fatalError("the fixed test certificate does not load") }
    let validator = SAMLResponseValidator(
        idpEntityID: "https://idp.example/metadata", trustedCertificates: [certificate], spEntityID: "https://sp.example/metadata",
        acsURL: "https://sp.example/acs", inResponseTo: "_r1")
    if (try? validator.validate(bytes, now: Date(timeIntervalSince1970: 1_800_000_000), log: SAMLCheckLog())) != nil {
        fatalError("a Response was accepted under a key nobody holds")
    }
    return 0
}

/// SwiftPM's entry point for this executable (it links `main` to `<module>_main`): libFuzzer's driver.
@_cdecl("fuzz_saml_messages_main")
public func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    var argc = argc
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = argv
    return LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzz(data!, size) }
}
