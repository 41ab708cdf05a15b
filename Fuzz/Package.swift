// swift-tools-version:6.1
// libFuzzer targets over Sigil's parsers of hostile bytes (docs/fuzzing.md). A separate package so
// the main build and `swift test` never see the sanitizer flags: build and run with scripts/fuzz.sh,
// which passes `-Xswiftc -sanitize=fuzzer,address -Xswiftc -parse-as-library` (libFuzzer provides main).
import PackageDescription

/// One executable per target: Sources/<name>/<Name>.swift defines `LLVMFuzzerTestOneInput`.
func fuzzTarget(_ name: String, _ dependencies: [Target.Dependency]) -> Target {
    .executableTarget(name: name, dependencies: ["CLibFuzzer"] + dependencies, swiftSettings: [.enableUpcomingFeature("ExistentialAny")])
}

func sigil(_ product: String) -> Target.Dependency { .product(name: product, package: "sigil") }

let package = Package(
    name: "sigil-fuzz",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "sigil", path: ".."),
        // Only for the fixed test certificate of fuzz-xml-dsig; the same versions as the main package.
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
    ],
    targets: [
        // libFuzzer's driver declaration, for each target's `<module>_main` (see its header).
        .target(name: "CLibFuzzer"),
        fuzzTarget("fuzz-xml", [sigil("SigilXML")]),
        fuzzTarget("fuzz-xml-dsig", [sigil("SigilXML"), .product(name: "X509", package: "swift-certificates")]),
        fuzzTarget("fuzz-saml-redirect", [sigil("SigilSAML")]),
        fuzzTarget("fuzz-saml-messages", [sigil("SigilSAML"), .product(name: "X509", package: "swift-certificates")]),
        fuzzTarget("fuzz-inflate", [sigil("SigilCore")]),
        fuzzTarget("fuzz-json", [sigil("SigilCore"), sigil("SigilJOSE")]),
        fuzzTarget("fuzz-form", [sigil("SigilCore")]),
        fuzzTarget("fuzz-jws", [sigil("SigilJOSE")]),
        fuzzTarget("fuzz-cbor", [sigil("SigilWebAuthn")]),
        fuzzTarget("fuzz-png-qr", [sigil("SigilQR")]),
    ],
    swiftLanguageModes: [.v6]
)
