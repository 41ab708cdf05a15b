import CLibFuzzer
import Foundation
import SigilSAML

/// The SAML HTTP-Redirect binding (query string → base64 → raw DEFLATE → XML → AuthnRequest or
/// LogoutRequest). Each input is tried twice: as the raw query string, and as the DEFLATE payload
/// itself (base64- and URL-encoded into a SAMLRequest parameter) so mutations reach the inflater
/// and the XML behind it rather than dying in base64.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Data(UnsafeBufferPointer(start: data, count: size))
    decode(rawQuery: String(decoding: bytes, as: UTF8.self))
    let encoded = bytes.base64EncodedString().replacingOccurrences(of: "+", with: "%2B").replacingOccurrences(of: "/", with: "%2F")
        .replacingOccurrences(of: "=", with: "%3D")
    decode(rawQuery: "SAMLRequest=\(encoded)&RelayState=fuzz")
    return 0
}

private func decode(rawQuery: String) {
    guard let message = try? SAMLRedirectBinding.decode(rawQuery: rawQuery) else { return }
    _ = try? AuthnRequest.parse(message.xml)
    _ = try? LogoutRequest.parse(message.xml)
}

/// SwiftPM's entry point for this executable (it links `main` to `<module>_main`): libFuzzer's driver.
@_cdecl("fuzz_saml_redirect_main")
public func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    var argc = argc
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = argv
    return LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzz(data!, size) }
}
