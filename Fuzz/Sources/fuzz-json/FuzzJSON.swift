import CLibFuzzer
import SigilCore
import SigilJOSE

/// JSON bodies: StrictJSON's checks (duplicate keys, depth, numbers) and JSONValue, the tree the
/// JOSE code reads headers and claims into. What StrictJSON accepts must also parse.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: data, count: size)
    let strictlyValid = StrictJSON.isValid(bytes)
    let value = try? JSONValue.parse(bytes)
    if strictlyValid && value == nil { fatalError("StrictJSON accepted what JSONValue cannot parse") }
    return 0
}

/// SwiftPM's entry point for this executable (it links `main` to `<module>_main`): libFuzzer's driver.
@_cdecl("fuzz_json_main")
public func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    var argc = argc
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = argv
    return LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzz(data!, size) }
}
