import CLibFuzzer
import SigilSAML

/// SAML protocol messages as XML (what the HTTP-POST binding hands over after base64):
/// AuthnRequest, LogoutRequest and LogoutResponse validation of hostile documents.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    _ = try? AuthnRequest.parse(bytes)
    _ = try? LogoutRequest.parse(bytes)
    _ = try? LogoutResponse.parse(bytes)
    return 0
}

/// SwiftPM's entry point for this executable (it links `main` to `<module>_main`): libFuzzer's driver.
@_cdecl("fuzz_saml_messages_main")
public func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    var argc = argc
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = argv
    return LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzz(data!, size) }
}
