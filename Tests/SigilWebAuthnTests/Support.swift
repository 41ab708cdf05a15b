import Crypto
import CryptoExtras
import Foundation
import SigilCore
import SigilWebAuthn
import SwiftASN1
import Testing
import X509

// MARK: Bytes

/// Decodes hex; traps on bad input (test data only).
func hex(_ string: String) -> [UInt8] {
    let chars = Array(string.utf8)
    precondition(chars.count % 2 == 0, "odd hex length")
    func nibble(_ c: UInt8) -> UInt8 {
        switch c {
        case 0x30...0x39: return c - 0x30
        case 0x61...0x66: return c - 0x61 + 10
        case 0x41...0x46: return c - 0x41 + 10
        default: preconditionFailure("bad hex digit")
        }
    }
    return stride(from: 0, to: chars.count, by: 2).map { nibble(chars[$0]) << 4 | nibble(chars[$0 + 1]) }
}

func toHex(_ bytes: [UInt8]) -> String {
    bytes.map { String(format: "%02x", $0) }.joined()
}

func sha256(_ bytes: [UInt8]) -> [UInt8] { Array(SHA256.hash(data: bytes)) }

// MARK: A CBOR encoder for building test inputs (shortest-form heads, maps in the given order)

func cborHead(_ major: UInt8, _ value: UInt64) -> [UInt8] {
    let m = major << 5
    switch value {
    case 0..<24: return [m | UInt8(value)]
    case 24...0xFF: return [m | 24, UInt8(value)]
    case 0x100...0xFFFF: return [m | 25] + withUnsafeBytes(of: UInt16(value).bigEndian, Array.init)
    case 0x1_0000...0xFFFF_FFFF: return [m | 26] + withUnsafeBytes(of: UInt32(value).bigEndian, Array.init)
    default: return [m | 27] + withUnsafeBytes(of: value.bigEndian, Array.init)
    }
}

func cbor(_ value: CBORValue) -> [UInt8] {
    switch value {
    case .unsigned(let n): return cborHead(0, n)
    case .negative(let n): return cborHead(1, n)
    case .bytes(let b): return cborHead(2, UInt64(b.count)) + b
    case .text(let s): return cborHead(3, UInt64(s.utf8.count)) + Array(s.utf8)
    case .array(let items): return cborHead(4, UInt64(items.count)) + items.flatMap(cbor)
    case .map(let map): return cborHead(5, UInt64(map.count)) + map.entries.flatMap { cbor($0.key) + cbor($0.value) }
    case .bool(let b): return [b ? 0xF5 : 0xF4]
    case .null: return [0xF6]
    }
}

extension CBORValue {
    static func int(_ i: Int) -> CBORValue { i >= 0 ? .unsigned(UInt64(i)) : .negative(UInt64(-1 - i)) }
}

func cborMap(_ entries: [(CBORValue, CBORValue)]) -> CBORValue {
    .map(CBORMap(entries.map { CBORMap.Entry(key: $0.0, value: $0.1) }))
}

// MARK: Software credential keys

/// Generated once: RSA key generation is slow in debug builds.
let sharedRSAKey: _RSA.Signing.PrivateKey = try! _RSA.Signing.PrivateKey(keySize: .bits2048)

enum TestKey: Sendable {
    case p256(P256.Signing.PrivateKey)
    case ed25519(Curve25519.Signing.PrivateKey)
    case rsa(_RSA.Signing.PrivateKey)

    static func freshP256() -> TestKey { .p256(P256.Signing.PrivateKey()) }
    static func freshEd25519() -> TestKey { .ed25519(Curve25519.Signing.PrivateKey()) }
    static var rsa2048: TestKey { .rsa(sharedRSAKey) }

    var alg: Int {
        switch self {
        case .p256: -7
        case .ed25519: -8
        case .rsa: -257
        }
    }

    /// The COSE_Key in CTAP2 canonical form.
    var coseKey: [UInt8] {
        switch self {
        case .p256(let key):
            let raw = Array(key.publicKey.rawRepresentation) // x ‖ y
            return cbor(
                cborMap([
                    (.int(1), .int(2)), (.int(3), .int(-7)), (.int(-1), .int(1)),
                    (.int(-2), .bytes(Array(raw[0..<32]))), (.int(-3), .bytes(Array(raw[32..<64]))),
                ]))
        case .ed25519(let key):
            return cbor(
                cborMap([
                    (.int(1), .int(1)), (.int(3), .int(-8)), (.int(-1), .int(6)),
                    (.int(-2), .bytes(Array(key.publicKey.rawRepresentation))),
                ]))
        case .rsa(let key):
            let primitives = try! key.publicKey.getKeyPrimitives()
            return cbor(
                cborMap([
                    (.int(1), .int(3)), (.int(3), .int(-257)),
                    (.int(-1), .bytes(Array(primitives.modulus))), (.int(-2), .bytes(Array(primitives.publicExponent))),
                ]))
        }
    }

    func sign(_ data: [UInt8]) -> [UInt8] {
        switch self {
        case .p256(let key): Array(try! key.signature(for: data).derRepresentation)
        case .ed25519(let key): Array(try! key.signature(for: data))
        case .rsa(let key): Array(try! key.signature(for: data, padding: .insecurePKCS1v1_5).rawRepresentation)
        }
    }
}

// MARK: Attestation certificates

struct TestCA {
    let key = P256.Signing.PrivateKey()
    let certificate: Certificate
    let name: DistinguishedName

    /// A self-signed root, or an intermediate issued by `parent` (marked CA unless `isCA` is false).
    init(parent: TestCA? = nil, isCA: Bool = true) {
        name = try! DistinguishedName {
            CountryName("AA")
            OrganizationName("Sigil Test")
            OrganizationalUnitName("Authenticator Attestation CA")
            CommonName(parent == nil ? "Sigil Test Attestation Root" : "Sigil Test Attestation Intermediate")
        }
        let caKey = Certificate.PrivateKey(key)
        certificate = try! Certificate(
            version: .v3, serialNumber: Certificate.SerialNumber(), publicKey: caKey.publicKey,
            notValidBefore: Date(timeIntervalSince1970: 1_700_000_000), notValidAfter: Date(timeIntervalSince1970: 2_000_000_000),
            issuer: parent?.name ?? name, subject: name, signatureAlgorithm: .ecdsaWithSHA256,
            extensions: try! Certificate.Extensions {
                Critical(isCA ? BasicConstraints.isCertificateAuthority(maxPathLength: nil) : BasicConstraints.notCertificateAuthority)
                Critical(KeyUsage(keyCertSign: true))
            },
            issuerPrivateKey: parent.map { Certificate.PrivateKey($0.key) } ?? caKey)
    }

    /// An attestation certificate for `leafKey`, by default meeting WebAuthn §8.2.1.
    func issue(
        leafKey: P256.Signing.PrivateKey, organizationalUnit: String = "Authenticator Attestation", isCA: Bool = false,
        aaguid: [UInt8]? = nil, aaguidCritical: Bool = false, version: Certificate.Version = .v3
    ) -> Certificate {
        let subject = try! DistinguishedName {
            CountryName("AA")
            OrganizationName("Sigil Test")
            OrganizationalUnitName(organizationalUnit)
            CommonName("Sigil Test Authenticator")
        }
        var extensions = try! Certificate.Extensions {
            Critical(isCA ? BasicConstraints.isCertificateAuthority(maxPathLength: nil) : BasicConstraints.notCertificateAuthority)
        }
        if let aaguid {
            var serializer = DER.Serializer()
            try! serializer.serialize(ASN1OctetString(contentBytes: ArraySlice(aaguid)))
            try! extensions.append(
                Certificate.Extension(
                    oid: [1, 3, 6, 1, 4, 1, 45724, 1, 1, 4], critical: aaguidCritical, value: ArraySlice(serializer.serializedBytes)))
        }
        return try! Certificate(
            version: version, serialNumber: Certificate.SerialNumber(), publicKey: Certificate.PublicKey(leafKey.publicKey),
            notValidBefore: Date(timeIntervalSince1970: 1_700_000_000), notValidAfter: Date(timeIntervalSince1970: 2_000_000_000),
            issuer: name, subject: subject, signatureAlgorithm: .ecdsaWithSHA256, extensions: extensions,
            issuerPrivateKey: Certificate.PrivateKey(key))
    }
}

func der(_ certificate: Certificate) -> [UInt8] {
    var serializer = DER.Serializer()
    try! serializer.serialize(certificate)
    return serializer.serializedBytes
}

// MARK: A software authenticator and client

let testRP = RelyingParty(id: "example.org", origins: ["https://example.org"])
let testVerifier = WebAuthnVerifier(relyingParty: testRP)

func clientDataJSON(type: String, challenge: [UInt8], origin: String = "https://example.org", crossOrigin: Bool? = false, topOrigin: String? = nil) -> [UInt8] {
    var json = "{\"type\":\"\(type)\",\"challenge\":\"\(Base64URL.encode(challenge))\",\"origin\":\"\(origin)\""
    if let crossOrigin { json += ",\"crossOrigin\":\(crossOrigin)" }
    if let topOrigin { json += ",\"topOrigin\":\"\(topOrigin)\"" }
    return Array((json + "}").utf8)
}

enum TestAttestation {
    case none
    /// Packed self attestation; `alg` overrides the statement's alg.
    case packedSelf(alg: Int? = nil)
    /// Packed with x5c, signed by `key` (the attestation certificate's key).
    case packedX5C(key: P256.Signing.PrivateKey, chain: [Certificate])
    /// Any format and statement, unsigned.
    case custom(format: String, statement: CBORValue)
}

struct RegistrationBuilder {
    var key: TestKey
    var challenge: [UInt8] = Array(repeating: 0x11, count: 32)
    var type = "webauthn.create"
    var origin = "https://example.org"
    var crossOrigin: Bool? = false
    var topOrigin: String?
    var rpID = "example.org"
    var flags: AuthenticatorFlags = [.userPresent, .userVerified, .attestedCredentialData]
    var signCount: UInt32 = 0
    var aaguid: [UInt8] = Array(repeating: 0, count: 16)
    var credentialID: [UInt8] = Array(repeating: 0xC1, count: 32)
    var coseKey: [UInt8]?
    var extensions: CBORValue?
    var attestation: TestAttestation = .none
    var transports = ["internal", "hybrid"]
    /// Changes the authenticator data after it was signed.
    var tamperAuthData: (([UInt8]) -> [UInt8])?
    var tamperSignature = false

    init(key: TestKey) { self.key = key }

    var clientData: [UInt8] {
        clientDataJSON(type: type, challenge: challenge, origin: origin, crossOrigin: crossOrigin, topOrigin: topOrigin)
    }

    var authData: [UInt8] {
        var flags = flags
        if extensions != nil { flags.insert(.extensionData) }
        var data = sha256(Array(rpID.utf8)) + [flags.rawValue] + withUnsafeBytes(of: signCount.bigEndian, Array.init)
        if flags.contains(.attestedCredentialData) {
            data += aaguid + [UInt8(credentialID.count >> 8), UInt8(credentialID.count & 0xFF)] + credentialID
            data += coseKey ?? key.coseKey
        }
        if let extensions { data += cbor(extensions) }
        return data
    }

    func attestationObject() -> [UInt8] {
        let authData = self.authData
        let signed = authData + sha256(clientData)
        func finish(_ sig: [UInt8]) -> [UInt8] {
            tamperSignature ? sig.enumerated().map { $0.offset == sig.count / 2 ? $0.element ^ 0x01 : $0.element } : sig
        }
        let format: String
        let statement: CBORValue
        switch attestation {
        case .none:
            format = "none"
            statement = cborMap([])
        case .packedSelf(let alg):
            format = "packed"
            statement = cborMap([(.text("alg"), .int(alg ?? key.alg)), (.text("sig"), .bytes(finish(key.sign(signed))))])
        case .packedX5C(let attestationKey, let chain):
            format = "packed"
            let sig = Array(try! attestationKey.signature(for: signed).derRepresentation)
            statement = cborMap([
                (.text("alg"), .int(-7)), (.text("sig"), .bytes(finish(sig))),
                (.text("x5c"), .array(chain.map { .bytes(der($0)) })),
            ])
        case .custom(let f, let s):
            format = f
            statement = s
        }
        let finalAuthData = tamperAuthData?(authData) ?? authData
        return cbor(cborMap([(.text("fmt"), .text(format)), (.text("attStmt"), statement), (.text("authData"), .bytes(finalAuthData))]))
    }

    func response() -> RegistrationResponse {
        RegistrationResponse(credentialID: credentialID, clientDataJSON: clientData, attestationObject: attestationObject(), transports: transports)
    }
}

struct AssertionBuilder {
    var key: TestKey
    var credentialID: [UInt8] = Array(repeating: 0xC1, count: 32)
    var challenge: [UInt8] = Array(repeating: 0x22, count: 32)
    var type = "webauthn.get"
    var origin = "https://example.org"
    var crossOrigin: Bool? = false
    var topOrigin: String?
    var rpID = "example.org"
    var flags: AuthenticatorFlags = [.userPresent, .userVerified]
    var signCount: UInt32 = 1
    var extensions: CBORValue?
    var userHandle: [UInt8]? = Array("user-1".utf8)
    var tamperAuthData: (([UInt8]) -> [UInt8])?
    var tamperSignature = false

    init(key: TestKey) { self.key = key }

    var clientData: [UInt8] {
        clientDataJSON(type: type, challenge: challenge, origin: origin, crossOrigin: crossOrigin, topOrigin: topOrigin)
    }

    var authData: [UInt8] {
        var flags = flags
        if extensions != nil { flags.insert(.extensionData) }
        var data = sha256(Array(rpID.utf8)) + [flags.rawValue] + withUnsafeBytes(of: signCount.bigEndian, Array.init)
        if let extensions { data += cbor(extensions) }
        return data
    }

    func response() -> AssertionResponse {
        let authData = self.authData
        var signature = key.sign(authData + sha256(clientData))
        if tamperSignature { signature[signature.count / 2] ^= 0x01 }
        return AssertionResponse(
            credentialID: credentialID, clientDataJSON: clientData, authenticatorData: tamperAuthData?(authData) ?? authData,
            signature: signature, userHandle: userHandle)
    }

    func storedCredential(signCount: UInt32 = 0, backupEligible: Bool? = nil) -> StoredCredential {
        StoredCredential(
            id: credentialID, publicKey: key.coseKey, signCount: signCount, backupEligible: backupEligible,
            userHandle: Array("user-1".utf8))
    }
}

/// Runs `body` and returns the `WebAuthnError` it threw, or nil.
func webAuthnError<T>(_ body: () throws -> T) -> WebAuthnError? {
    do {
        _ = try body()
        return nil
    } catch let error as WebAuthnError {
        return error
    } catch {
        Issue.record("unexpected error type: \(error)")
        return nil
    }
}
