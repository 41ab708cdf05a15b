import CLibFuzzer
import SigilXML

/// The hardened XML parser, then both canonicalizations (exclusive is what XML-DSig references use)
/// of whatever parses, of the whole document and of the root's first child subtree.
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: data, count: size)
    guard let document = try? XMLDocumentParser.parse(bytes) else { return 0 }
    _ = XMLCanonicalizer.canonicalize(document, method: .exclusive)
    _ = XMLCanonicalizer.canonicalize(document, method: .exclusive(withComments: true, inclusivePrefixes: ["ds", "saml"]))
    _ = XMLCanonicalizer.canonicalize(document, method: .inclusive)
    _ = XMLCanonicalizer.canonicalize(subtreeAt: [0], of: document, method: .exclusive)
    _ = document.serialized()
    return 0
}

/// SwiftPM's entry point for this executable (it links `main` to `<module>_main`): libFuzzer's driver.
@_cdecl("fuzz_xml_main")
public func fuzzerMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>) -> CInt {
    var argc = argc
    var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = argv
    return LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzz(data!, size) }
}
