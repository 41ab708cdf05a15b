import CLibFuzzer
import SigilWebAuthn

/// WebAuthn's binary inputs: CBOR items, COSE public keys and authenticator data (with attested
/// credential data and extensions).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    _ = try? CBOR.decode(bytes)
    _ = try? CBOR.decodePrefix(bytes)
    _ = try? COSEKey(encoded: bytes)
    _ = try? AuthenticatorData(bytes: bytes)
    return 0
}

/// SwiftPM's entry point for this executable (it links `main` to `<module>_main`): libFuzzer's driver.
@_cdecl("fuzz_cbor_main")
public func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    var argc = argc
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = argv
    return LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzz(data!, size) }
}
