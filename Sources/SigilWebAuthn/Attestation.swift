import Crypto
import CryptoExtras
import Foundation
import SigilCore
import SwiftASN1
import X509

/// An attestation statement format identifier (WebAuthn §8.1), matched case-sensitively.
public struct AttestationFormat: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public var description: String { rawValue }

    public static let none = AttestationFormat(rawValue: "none")
    public static let packed = AttestationFormat(rawValue: "packed")
}

/// The attestation type the verification procedure established (WebAuthn §6.5.4).
public enum AttestationType: String, Sendable, Hashable {
    /// No attestation (`none`, or an unsupported format the options chose to treat as `none`).
    case none
    /// Self attestation: signed with the credential private key.
    case `self`
    /// An attestation certificate signed the statement. WebAuthn calls this Basic or AttCA; which of
    /// the two it is cannot be told without metadata, so it is reported as `basic`.
    case basic
}

/// Whether the relying party's trust policy accepted the attestation trust path. `none` and `self`
/// attestation are always `untrusted`: they carry no proof of the authenticator's make or model.
public enum AttestationTrust: String, Sendable, Hashable {
    case trusted
    case untrusted
}

/// What a trust policy is asked about: an attestation with an X.509 trust path.
public struct AttestationTrustContext: Sendable {
    public let format: AttestationFormat
    /// The authenticator's AAGUID from the attested credential data (16 bytes).
    public let aaguid: [UInt8]
    /// `x5c`, parsed: the attestation certificate first, then the chain the authenticator sent.
    public let certificates: [Certificate]
}

/// The hook that decides whether an attestation trust path chains to an acceptable root (WebAuthn
/// §7.1 steps 22–23). It is only consulted after the statement itself verified.
public protocol AttestationTrustPolicy: Sendable {
    func evaluate(_ context: AttestationTrustContext) -> AttestationTrust
}

/// The default: trust no attestation root, so every certificate attestation is reported as
/// `basic`, `untrusted` and still accepted (unless `RegistrationOptions.requireTrustedAttestation`).
/// Sigil authenticates users with passkeys and does not restrict authenticator models.
public struct UntrustedAttestationPolicy: AttestationTrustPolicy {
    public init() {}
    public func evaluate(_ context: AttestationTrustContext) -> AttestationTrust { .untrusted }
}

/// Trusts attestation paths that end in one of `roots`: walking from the attestation certificate,
/// each certificate must be valid at the clock's time and be signed by the next one in `x5c` (which
/// must be a CA) or by a root whose subject is its issuer; a path whose certificate is itself one of
/// the roots is trusted too. This is a plain path check for pinned attestation roots (for example
/// from FIDO metadata), not a full RFC 5280 validator: no revocation, name or policy constraints.
public struct PinnedRootsAttestationPolicy: AttestationTrustPolicy {
    public let roots: [Certificate]
    public let clock: any SigilClock

    public init(roots: [Certificate], clock: any SigilClock) {
        self.roots = roots
        self.clock = clock
    }

    public func evaluate(_ context: AttestationTrustContext) -> AttestationTrust {
        let now = clock.now()
        func isCurrent(_ certificate: Certificate) -> Bool {
            certificate.notValidBefore <= now && now <= certificate.notValidAfter
        }
        for (index, certificate) in context.certificates.enumerated() {
            guard isCurrent(certificate) else { return .untrusted }
            if roots.contains(certificate) { return .trusted }
            if roots.contains(where: { root in
                root.subject == certificate.issuer && isCurrent(root)
                    && root.publicKey.isValidSignature(certificate.signature, for: certificate)
            }) {
                return .trusted
            }
            guard index + 1 < context.certificates.count else { return .untrusted }
            let issuer = context.certificates[index + 1]
            guard issuer.subject == certificate.issuer,
                case .isCertificateAuthority = try? issuer.extensions.basicConstraints,
                issuer.publicKey.isValidSignature(certificate.signature, for: certificate)
            else { return .untrusted }
        }
        return .untrusted
    }
}

/// What to do with an attestation statement format other than `none` and `packed`.
public enum UnsupportedAttestationFormatHandling: Sendable, Hashable {
    /// Fail the registration with `.unsupportedAttestationFormat` (the default).
    case reject
    /// Ignore the statement and treat the registration as attestation type `none` (the note to WebAuthn
    /// §7.1 step 24 permits this). The credential public key still comes from the authenticator data;
    /// nothing is claimed about the authenticator. Only for relying parties that do not need attestation.
    case treatAsNone
}

/// The attestation object (WebAuthn §6.5): a CBOR map with `fmt`, `attStmt` and `authData`.
public struct AttestationObject: Sendable {
    public let format: AttestationFormat
    public let statement: CBORMap
    public let authenticatorData: AuthenticatorData

    /// Parses the attestation object; other top-level keys are ignored.
    public init(bytes: [UInt8]) throws(WebAuthnError) {
        guard let map = try CBOR.decode(bytes).mapValue else {
            throw WebAuthnError(.malformedAttestationObject, "the attestation object is not a CBOR map")
        }
        guard let fmt = map[text: "fmt"]?.textValue else {
            throw WebAuthnError(.malformedAttestationObject, "the attestation object has no fmt string")
        }
        guard let statement = map[text: "attStmt"]?.mapValue else {
            throw WebAuthnError(.malformedAttestationObject, "the attestation object has no attStmt map")
        }
        guard let authData = map[text: "authData"]?.bytesValue else {
            throw WebAuthnError(.malformedAttestationObject, "the attestation object has no authData bytes")
        }
        format = AttestationFormat(rawValue: fmt)
        self.statement = statement
        authenticatorData = try AuthenticatorData(bytes: authData)
    }
}

/// What an attestation statement's verification procedure returns.
struct AttestationResult {
    var type: AttestationType
    var certificates: [Certificate]
    var certificateBytes: [[UInt8]]
}

enum PackedAttestation {
    /// `id-fido-gen-ce-aaguid`.
    static let aaguidExtension: ASN1ObjectIdentifier = [1, 3, 6, 1, 4, 1, 45724, 1, 1, 4]

    /// The packed verification procedure (WebAuthn §8.2).
    static func verify(
        statement: CBORMap, authData: AuthenticatorData, credentialKey: COSEKey, clientDataHash: [UInt8]
    ) throws(WebAuthnError) -> AttestationResult {
        guard let credential = authData.attestedCredentialData else {
            throw WebAuthnError(.malformedAuthenticatorData, "attested credential data is missing")
        }
        guard let alg = statement[text: "alg"]?.intValue else {
            throw WebAuthnError(.attestationInvalid, "packed attestation needs an integer alg")
        }
        guard let signature = statement[text: "sig"]?.bytesValue else {
            throw WebAuthnError(.attestationInvalid, "packed attestation needs a sig byte string")
        }
        if statement[text: "ecdaaKeyId"] != nil {
            throw WebAuthnError(.attestationInvalid, "ECDAA attestation is not supported")
        }
        let signed = authData.bytes + clientDataHash

        guard let x5cValue = statement[text: "x5c"] else {
            // Self attestation.
            guard alg == credentialKey.algorithm.rawValue else {
                throw WebAuthnError(.attestationInvalid, "self attestation alg does not match the credential key")
            }
            guard credentialKey.isValidSignature(signature, for: signed) else {
                throw WebAuthnError(.badSignature, "the self attestation signature does not verify")
            }
            return AttestationResult(type: .self, certificates: [], certificateBytes: [])
        }

        guard let x5c = x5cValue.arrayValue, !x5c.isEmpty else {
            throw WebAuthnError(.attestationInvalid, "x5c must be a non-empty array")
        }
        var certificateBytes: [[UInt8]] = []
        var certificates: [Certificate] = []
        for element in x5c {
            guard let der = element.bytesValue else {
                throw WebAuthnError(.attestationInvalid, "x5c elements must be byte strings")
            }
            do {
                certificates.append(try Certificate(derEncoded: der))
            } catch {
                throw WebAuthnError(.attestationInvalid, "an x5c certificate is not valid DER")
            }
            certificateBytes.append(der)
        }
        let leaf = certificates[0]
        try verifySignature(signature, over: signed, alg: alg, key: leaf.publicKey)
        try checkRequirements(leaf, aaguid: credential.aaguid)
        return AttestationResult(type: .basic, certificates: certificates, certificateBytes: certificateBytes)
    }

    /// Verifies an attestation signature with a certificate key. Attestation keys may use ES256,
    /// ES384, ES512, RS256 or EdDSA; `alg` must match the key's type.
    static func verifySignature(_ signature: [UInt8], over data: [UInt8], alg: Int, key: Certificate.PublicKey) throws(WebAuthnError) {
        let algorithm: Certificate.SignatureAlgorithm
        let keyMatches: Bool
        switch alg {
        case -7:
            algorithm = .ecdsaWithSHA256
            keyMatches = P256.Signing.PublicKey(key) != nil
        case -35:
            algorithm = .ecdsaWithSHA384
            keyMatches = P384.Signing.PublicKey(key) != nil
        case -36:
            algorithm = .ecdsaWithSHA512
            keyMatches = P521.Signing.PublicKey(key) != nil
        case -257:
            algorithm = .sha256WithRSAEncryption
            keyMatches = (_RSA.Signing.PublicKey(key)?.keySizeInBits ?? 0) >= 2048
        case -8:
            algorithm = .ed25519
            keyMatches = Curve25519.Signing.PublicKey(key) != nil
        default:
            throw WebAuthnError(.unsupportedAlgorithm, "attestation algorithm \(alg) is not supported")
        }
        guard keyMatches else {
            throw WebAuthnError(.attestationInvalid, "the attestation certificate key does not fit alg \(alg)")
        }
        guard key.isValidSignature(signature, for: data, signatureAlgorithm: algorithm) else {
            throw WebAuthnError(.badSignature, "the attestation signature does not verify")
        }
    }

    /// WebAuthn §8.2.1: version 3; subject C, O, OU = "Authenticator Attestation" and CN; not a CA;
    /// a non-critical `id-fido-gen-ce-aaguid` extension, if present, equal to the AAGUID.
    static func checkRequirements(_ certificate: Certificate, aaguid: [UInt8]) throws(WebAuthnError) {
        guard certificate.version == .v3 else {
            throw WebAuthnError(.attestationInvalid, "the attestation certificate is not X.509 version 3")
        }
        func subjectValues(_ type: ASN1ObjectIdentifier) -> [String] {
            certificate.subject.flatMap { rdn in rdn.filter { $0.type == type }.compactMap { String($0.value) } }
        }
        let types = ASN1ObjectIdentifier.RDNAttributeType.self
        guard subjectValues(types.organizationalUnitName) == ["Authenticator Attestation"] else {
            throw WebAuthnError(.attestationInvalid, "the attestation certificate subject OU is not \"Authenticator Attestation\"")
        }
        for type in [types.countryName, types.organizationName, types.commonName] where subjectValues(type).isEmpty {
            throw WebAuthnError(.attestationInvalid, "the attestation certificate subject lacks C, O or CN")
        }
        let basicConstraints: BasicConstraints?
        do {
            basicConstraints = try certificate.extensions.basicConstraints
        } catch {
            throw WebAuthnError(.attestationInvalid, "the attestation certificate has malformed basic constraints")
        }
        if case .isCertificateAuthority = basicConstraints {
            throw WebAuthnError(.attestationInvalid, "the attestation certificate is a CA certificate")
        }
        if let ext = certificate.extensions[oid: aaguidExtension] {
            guard !ext.critical else {
                throw WebAuthnError(.attestationInvalid, "the AAGUID extension must not be critical")
            }
            let value: ASN1OctetString
            do {
                value = try ASN1OctetString(derEncoded: ext.value)
            } catch {
                throw WebAuthnError(.attestationInvalid, "the AAGUID extension is not an OCTET STRING")
            }
            guard Array(value.bytes) == aaguid else {
                throw WebAuthnError(.attestationInvalid, "the attestation certificate AAGUID does not match the authenticator data")
            }
        }
    }
}
