// swift-tools-version:6.1
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny")
]

let package = Package(
    name: "sigil",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "sigil", targets: ["sigil"]),
        .library(name: "SigilCore", targets: ["SigilCore"]),
        .executable(name: "sigil-authenticator", targets: ["sigil-authenticator"]),
        .library(name: "SigilXML", targets: ["SigilXML"]),
        // For the fuzz package (Fuzz/Package.swift, docs/fuzzing.md).
        .library(name: "SigilSAML", targets: ["SigilSAML"]),
        .library(name: "SigilJOSE", targets: ["SigilJOSE"]),
        .library(name: "SigilWebAuthn", targets: ["SigilWebAuthn"]),
        .library(name: "SigilQR", targets: ["SigilQR"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.1"),
        .package(url: "https://github.com/vapor/sql-kit.git", from: "3.36.0"),
        .package(url: "https://github.com/vapor/sqlite-kit.git", from: "4.5.2"),
        .package(url: "https://github.com/vapor/postgres-kit.git", from: "2.17.0"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-openapi-generator.git", from: "1.14.3"),
        .package(url: "https://github.com/apple/swift-openapi-runtime.git", from: "1.13.4"),
        .package(url: "https://github.com/hummingbird-project/swift-openapi-hummingbird.git", from: "2.1.0"),
    ],
    targets: [
        // Primitives: typed IDs, clock, randomness, secrets, encodings. No I/O.
        .target(
            name: "SigilCore",
            dependencies: [.product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strict
        ),
        // Keys, JWK/JWKS, X.509 signing certificates. No I/O.
        // RS256 signing with the system's OpenSSL 3 libcrypto (libssl-dev): a small C shim that
        // exposes opaque handles only.
        .target(
            name: "CSigilOpenSSL",
            linkerSettings: [.linkedLibrary("crypto")]
        ),
        // Prototypes for the SQLite that sqlite-nio links in (no second copy): Sigil's SQLite driver
        // with prepared statements kept per connection.
        .target(name: "CSigilSQLite"),
        .target(
            name: "SigilJOSE",
            dependencies: [
                "SigilCore", "CSigilOpenSSL",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ],
            swiftSettings: strict
        ),
        // Identity verification: MRZ parsing, name matching, the evidence and decision values,
        // OpenID Connect for Identity Assurance (`verified_claims`). No I/O; engines live elsewhere.
        .target(
            name: "SigilIDV",
            dependencies: ["SigilCore", "SigilJOSE", "CSigilOpenSSL", .product(name: "SwiftASN1", package: "swift-asn1")],
            swiftSettings: strict
        ),
        .testTarget(
            name: "SigilIDVTests",
            dependencies: ["SigilIDV", "SigilJOSE"],
            swiftSettings: strict
        ),
        // OAuth 2.0 / OpenID Connect: request validation, PKCE, PAR, claims, token contents. No I/O.
        .target(
            name: "SigilOAuth",
            dependencies: [
                "SigilCore", "SigilJOSE",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "SigilOAuthTests",
            dependencies: [
                "SigilOAuth", "SigilJOSE", "SigilCore", .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ],
            swiftSettings: strict
        ),
        // Flows as pure state machines (sign-in, enrolment, SAML SSO and logout, OIDC authorization)
        // and their typed, versioned stored state. No I/O.
        .target(
            name: "SigilFlows",
            dependencies: ["SigilOAuth", "SigilIDV"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "SigilFlowsTests",
            dependencies: ["SigilFlows", "SigilOAuth", "SigilIDV"],
            swiftSettings: strict
        ),
        // Domain records and the storage protocols. No I/O.
        .target(
            name: "SigilStore",
            dependencies: ["SigilCore", "SigilFlows", "SigilIDV", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strict
        ),
        // The one SQL implementation of SigilStore, for SQLite and PostgreSQL.
        .target(
            name: "SigilSQLStore",
            dependencies: [
                "SigilCore", "SigilStore", "SigilFlows", "CSigilSQLite",
                .product(name: "SQLKit", package: "sql-kit"),
                .product(name: "SQLiteKit", package: "sqlite-kit"),
                .product(name: "PostgresKit", package: "postgres-kit"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // Use cases over the store: tenants, users, applications, keys, admin tokens, audit.
        .target(
            name: "SigilServices",
            dependencies: [
                "SigilCore", "SigilStore", "SigilFlows", "SigilJOSE", "SigilOAuth", "SigilWebAuthn", "SigilAuthenticatorProtocol", "SigilSAML", "SigilXML",
                "SigilIDV",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // The admin API's OpenAPI document (openapi.json, the one source) and what the
        // swift-openapi-generator build plugin makes of it at every build: types and APIProtocol.
        .target(
            name: "SigilAdminAPI",
            dependencies: [.product(name: "OpenAPIRuntime", package: "swift-openapi-runtime")],
            resources: [.embedInCode("openapi.json"), .embedInCode("connectors-openapi.json")],
            swiftSettings: strict,
            plugins: [.plugin(name: "OpenAPIGenerator", package: "swift-openapi-generator")]
        ),
        // The HTTP edge: the one route table, admin API, operations endpoints.
        .target(
            name: "SigilHTTP",
            dependencies: [
                "SigilCore", "SigilStore", "SigilFlows", "SigilServices", "SigilJOSE", "SigilOAuth", "SigilWebAuthn", "SigilQR", "SigilAuthenticatorProtocol",
                "SigilIDV",
                "SigilSAML",
                "SigilAdminAPI",
                .product(name: "OpenAPIRuntime", package: "swift-openapi-runtime"),
                .product(name: "OpenAPIHummingbird", package: "swift-openapi-hummingbird"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            exclude: ["Templates"],
            swiftSettings: strict,
            plugins: ["EmbedTemplates"]
        ),
        // Build-time embedding of SigilHTTP's page templates (Sources/SigilHTTP/Templates/*.mustache)
        // as Swift string literals: the tool writes the source, the build plugin runs it.
        .executableTarget(
            name: "sigil-embed-templates",
            swiftSettings: strict
        ),
        .plugin(
            name: "EmbedTemplates",
            capability: .buildTool(),
            dependencies: ["sigil-embed-templates"]
        ),
        // Outbound HTTP edge adapters: APNs provider API and FCM HTTP v1 (docs/push.md), and OpenID
        // Connect back-channel logout delivery (docs/oidc.md).
        .target(
            name: "SigilPush",
            dependencies: [
                "SigilCore", "SigilServices", "SigilRemote",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "SigilPushTests",
            dependencies: [
                "SigilCore", "SigilServices", "SigilPush",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        // Outbound fetches of documents the services need: client JWKS (jwks_uri), SP metadata URLs.
        .target(
            name: "SigilRemote",
            dependencies: [
                "SigilServices",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "sigil",
            dependencies: [
                "SigilCore", "SigilStore", "SigilSQLStore", "SigilServices", "SigilHTTP", "SigilJOSE", "SigilPush", "SigilRemote", "SigilIDV",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        // ISO/IEC 18004 QR code encoder (byte mode), SVG and PNG rendering. No I/O, no dependencies.
        .target(
            name: "SigilQR",
            dependencies: ["SigilCore"],
            swiftSettings: strict
        ),
        // WebAuthn relying party: CBOR, COSE keys, attestation (none, packed), assertions. No I/O.
        .target(
            name: "SigilWebAuthn",
            dependencies: [
                "SigilCore",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ],
            swiftSettings: strict
        ),
        // Hardened XML: strict parsing (no DTDs), a namespace-preserving DOM, inclusive and
        // exclusive canonicalization, XML-DSig enveloped signatures (docs/xml-security.md). No I/O.
        .target(
            name: "SigilXML",
            dependencies: [
                "SigilCore",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ],
            swiftSettings: strict
        ),
        // SAML 2.0 protocol core: AuthnRequest validation, HTTP-Redirect and HTTP-POST bindings,
        // Response/Assertion building and signing, status and logout messages, IdP metadata. No I/O.
        .target(
            name: "SigilSAML",
            dependencies: [
                "SigilXML", "SigilCore",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "SigilSAMLTests",
            dependencies: [
                "SigilSAML", "SigilXML", "SigilCore", "SigilJOSE",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "SigilXMLTests",
            dependencies: [
                "SigilXML", "SigilCore",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ],
            resources: [.copy("Vectors")],
            swiftSettings: strict
        ),
        .testTarget(
            name: "SigilQRTests",
            dependencies: ["SigilQR", "SigilCore"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "SigilWebAuthnTests",
            dependencies: [
                "SigilCore", "SigilWebAuthn",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
            ],
            swiftSettings: strict
        ),
        // The Sigil authenticator protocol core shared by server and AuthenticatorKit: payloads,
        // canonical signed messages, device signatures (docs/authenticator-protocol.md). No I/O.
        .target(
            name: "SigilAuthenticatorProtocol",
            dependencies: ["SigilCore", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strict
        ),
        .testTarget(
            name: "SigilAuthenticatorProtocolTests",
            dependencies: ["SigilAuthenticatorProtocol", "SigilCore", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strict
        ),
        // The device side of the authenticator protocol (docs/authenticator-protocol.md §10): keys,
        // user verification, transport and enrolment storage are protocols; no HTTP library.
        .target(
            name: "AuthenticatorKit",
            dependencies: ["SigilAuthenticatorProtocol", "SigilCore", .product(name: "Crypto", package: "swift-crypto")],
            swiftSettings: strict
        ),
        // The command-line authenticator (§10.1): AuthenticatorKit over async-http-client, a 0600 state file.
        .executableTarget(
            name: "sigil-authenticator",
            dependencies: [
                "AuthenticatorKit", "SigilAuthenticatorProtocol", "SigilQR", "SigilCore",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "AuthenticatorKitTests",
            dependencies: [
                "AuthenticatorKit", "sigil-authenticator", "SigilAuthenticatorProtocol", "SigilQR", "SigilCore",
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: strict
        ),
        // Micro-benchmarks (ratios against raw crypto in the same run); never part of `swift test`.
        .executableTarget(
            name: "sigil-bench",
            dependencies: [
                "SigilCore", "SigilWebAuthn", "SigilServices", "SigilStore", "SigilSQLStore", "SigilAuthenticatorProtocol", "SigilJOSE",
                "SigilOAuth", "SigilSAML", "SigilXML", "SigilIDV",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
            ],
            path: "Benchmarks/sigil-bench",
            swiftSettings: strict
        ),
        .testTarget(
            name: "SigilCoreTests",
            dependencies: [
                "SigilCore", "SigilJOSE",
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ],
            swiftSettings: strict
        ),
        // What the store-backed test targets share: the backends and fresh stores (not shipped).
        .target(
            name: "SigilTestSupport",
            dependencies: [
                "SigilSQLStore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            path: "Tests/SigilTestSupport",
            swiftSettings: strict
        ),
        .testTarget(
            name: "SigilStoreConformanceTests",
            dependencies: [
                "SigilTestSupport",
                "SigilCore", "SigilStore", "SigilSQLStore",
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            swiftSettings: strict
        ),
        // Services over a fresh store (SQLite; PostgreSQL when SIGIL_TEST_POSTGRES_URL is set), no HTTP server.
        .testTarget(
            name: "SigilServicesTests",
            dependencies: [
                "SigilTestSupport",
                "SigilCore", "SigilStore", "SigilSQLStore", "SigilFlows", "SigilServices", "SigilJOSE", "SigilOAuth", "SigilWebAuthn",
                "SigilAuthenticatorProtocol", "SigilSAML", "SigilXML",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
            ],
            swiftSettings: strict
        ),
        .testTarget(
            name: "SigilHTTPTests",
            dependencies: [
                "SigilCore", "SigilStore", "SigilSQLStore", "SigilServices", "SigilHTTP", "SigilJOSE", "SigilOAuth", "SigilAuthenticatorProtocol",
                "SigilSAML", "SigilXML", "SigilRemote", "SigilIDV",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "_CryptoExtras", package: "swift-crypto"),
            ],
            swiftSettings: strict
        ),
    ],
    swiftLanguageModes: [.v6]
)
