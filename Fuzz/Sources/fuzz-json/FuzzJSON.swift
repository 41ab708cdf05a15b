import CLibFuzzer
import SigilCore
import SigilJOSE

/// JSON bodies: StrictJSON's checks (duplicate keys, depth, surrogates) and JSONValue, the tree the
/// JOSE code reads headers and claims into. Both must return or throw cleanly. (StrictJSON accepts
/// numbers beyond a double's range, such as `-0.5e310`, which JSONDecoder then rejects: a clean
/// error, so not a failure here; docs/fuzzing.md.)
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: data, count: size)
    _ = StrictJSON.isValid(bytes)
    _ = try? JSONValue.parse(bytes)
    return 0
}

/// SwiftPM's entry point for this executable (it links `main` to `<module>_main`): libFuzzer's driver.
@_cdecl("fuzz_json_main")
public func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    var argc = argc
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = argv
    return LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzz(data!, size) }
}
