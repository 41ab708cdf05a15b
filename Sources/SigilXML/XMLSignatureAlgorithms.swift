import Crypto
import X509
import _CryptoExtras

/// XML-DSig signature algorithms SigilXML knows. Which ones a verifier accepts is decided by
/// `XMLSignatureVerifier.Options`; RSA-SHA1 only under `allowInsecureSHA1`.
public enum XMLSignatureAlgorithm: String, Sendable, CaseIterable {
    case rsaSHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
    case rsaSHA384 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384"
    case rsaSHA512 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512"
    case ecdsaSHA256 = "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"
    /// Insecure: accepted only with `allowInsecureSHA1`; never produced.
    case insecureRSASHA1 = "http://www.w3.org/2000/09/xmldsig#rsa-sha1"

    public var uri: String { rawValue }
    var isSHA1: Bool { self == .insecureRSASHA1 }
}

/// XML-DSig digest algorithms. SHA-1 only under `allowInsecureSHA1`.
public enum XMLDigestAlgorithm: String, Sendable, CaseIterable {
    case sha256 = "http://www.w3.org/2001/04/xmlenc#sha256"
    case sha384 = "http://www.w3.org/2001/04/xmldsig-more#sha384"
    case sha512 = "http://www.w3.org/2001/04/xmlenc#sha512"
    /// Insecure: accepted only with `allowInsecureSHA1`; never produced.
    case insecureSHA1 = "http://www.w3.org/2000/09/xmldsig#sha1"

    public var uri: String { rawValue }
    var isSHA1: Bool { self == .insecureSHA1 }

    func digest(_ bytes: [UInt8]) -> [UInt8] {
        switch self {
        case .sha256: Array(SHA256.hash(data: bytes))
        case .sha384: Array(SHA384.hash(data: bytes))
        case .sha512: Array(SHA512.hash(data: bytes))
        case .insecureSHA1: Array(Insecure.SHA1.hash(data: bytes))
        }
    }
}

/// The URIs of the transforms an enveloped signature may use.
public enum XMLTransform {
    public static let envelopedSignature = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
}

/// A private key that signs XML: RSA (PKCS #1 v1.5 with SHA-256) or ECDSA P-256 with SHA-256.
public enum XMLSigningKey: Sendable {
    case rsa(_RSA.Signing.PrivateKey)
    case p256(P256.Signing.PrivateKey)

    var algorithm: XMLSignatureAlgorithm {
        switch self {
        case .rsa: .rsaSHA256
        case .p256: .ecdsaSHA256
        }
    }

    /// `SignatureValue` bytes: the RSA signature, or ECDSA's raw `r || s` (XML-DSig 1.1 §6.4.3).
    func sign(_ bytes: [UInt8]) throws(XMLSecurityError) -> [UInt8] {
        do {
            switch self {
            case .rsa(let key):
                return Array(try key.signature(for: SHA256.hash(data: bytes), padding: .insecurePKCS1v1_5).rawRepresentation)
            case .p256(let key):
                return Array(try key.signature(for: bytes).rawRepresentation)
            }
        } catch {
            throw XMLSecurityError(.unsupportedKey, "signing failed: \(error)")
        }
    }
}

/// A public key a verifier trusts. Build it from configuration (the SP's or IdP's registered
/// certificate), never from the `KeyInfo` of the message being verified.
public enum XMLVerificationKey: Sendable {
    case rsa(_RSA.Signing.PublicKey)
    case p256(P256.Signing.PublicKey)

    /// The certificate's public key (RSA or P-256). Only the key is used: validity dates and
    /// chains are the caller's policy.
    public init(certificate: Certificate) throws(XMLSecurityError) {
        if let rsa = _RSA.Signing.PublicKey(certificate.publicKey) {
            self = .rsa(rsa)
        } else if let ec = P256.Signing.PublicKey(certificate.publicKey) {
            self = .p256(ec)
        } else {
            throw XMLSecurityError(.unsupportedKey, "the certificate's key is neither RSA nor P-256")
        }
    }

    func isValid(_ signature: [UInt8], over bytes: [UInt8], algorithm: XMLSignatureAlgorithm) -> Bool {
        switch (self, algorithm) {
        case (.rsa(let key), .rsaSHA256):
            return key.isValidSignature(_RSA.Signing.RSASignature(rawRepresentation: signature), for: SHA256.hash(data: bytes), padding: .insecurePKCS1v1_5)
        case (.rsa(let key), .rsaSHA384):
            return key.isValidSignature(_RSA.Signing.RSASignature(rawRepresentation: signature), for: SHA384.hash(data: bytes), padding: .insecurePKCS1v1_5)
        case (.rsa(let key), .rsaSHA512):
            return key.isValidSignature(_RSA.Signing.RSASignature(rawRepresentation: signature), for: SHA512.hash(data: bytes), padding: .insecurePKCS1v1_5)
        case (.rsa(let key), .insecureRSASHA1):
            return key.isValidSignature(
                _RSA.Signing.RSASignature(rawRepresentation: signature), for: Insecure.SHA1.hash(data: bytes), padding: .insecurePKCS1v1_5)
        case (.p256(let key), .ecdsaSHA256):
            guard signature.count == 64, let sig = try? P256.Signing.ECDSASignature(rawRepresentation: signature) else { return false }
            return key.isValidSignature(sig, for: SHA256.hash(data: bytes))
        default:
            return false
        }
    }
}
