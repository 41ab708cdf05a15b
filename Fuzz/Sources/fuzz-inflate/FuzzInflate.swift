import CLibFuzzer
import SigilCore

/// Raw DEFLATE and zlib streams (the SAML HTTP-Redirect binding, PNG IDAT) under a small output
/// limit: any input must either inflate within the limit or throw.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    let limit = 64 * 1024
    if let out = try? Inflater.raw(bytes, limit: limit) { precondition(out.count <= limit) }
    if let out = try? Inflater.zlib(bytes, limit: limit) { precondition(out.count <= limit) }
    return 0
}

/// SwiftPM's entry point for this executable (it links `main` to `<module>_main`): libFuzzer's driver.
@_cdecl("fuzz_inflate_main")
public func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    var argc = argc
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = argv
    return LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzz(data!, size) }
}
