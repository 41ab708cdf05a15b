import CLibFuzzer
import SigilCore

/// Form bodies and query strings (`FormURLEncoding`, behind every hosted page's POST, the OAuth
/// endpoints and the SAML bindings): the parser returns or throws `Invalid` cleanly, and what it
/// accepts survives a round trip — encoding the parsed pairs and parsing them again gives the same
/// pairs, so one body cannot mean two things.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    guard let parsed = try? FormURLEncoding.parse(text[...]) else { return 0 }
    let unreserved = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~".utf8)
    func encode(_ value: String) -> String {
        var out = ""
        for byte in value.utf8 {
            if unreserved.contains(byte) {
                out.unicodeScalars.append(Unicode.Scalar(byte))
            } else {
                out += "%" + String(byte >> 4, radix: 16, uppercase: true) + String(byte & 0x0F, radix: 16, uppercase: true)
            }
        }
        return out
    }
    let again = parsed.map { "\(encode($0.key))=\(encode($0.value))" }.joined(separator: "&")
    guard let reparsed = try? FormURLEncoding.parse(again[...]), reparsed == parsed else {
        fatalError("form round trip changed the pairs")
    }
    return 0
}

/// SwiftPM's entry point for this executable (it links `main` to `<module>_main`): libFuzzer's driver.
@_cdecl("fuzz_form_main")
public func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    var argc = argc
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = argv
    return LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzz(data!, size) }
}
