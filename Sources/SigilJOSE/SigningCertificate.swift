import CryptoExtras
import Foundation
import SigilCore
import SwiftASN1
import X509

/// Builds the self-signed X.509 certificate that carries a tenant's RSA signing key for SAML
/// metadata (SAML peers pin a certificate, not a JWK).
public enum SigningCertificate {
    /// Returns the certificate in PEM form.
    public static func make(
        for material: SigningKeyMaterial,
        commonName: String,
        serialNumber: [UInt8],
        notBefore: Date,
        notAfter: Date,
        keyEncipherment: Bool = false
    ) throws -> String {
        guard material.algorithm == .rs256 else {
            throw SigilError(.invalidInput, "SAML signing certificates are made for RSA keys")
        }
        guard let rsa = material.rsaPrivateKey else {
            throw SigilError(.invalidInput, "SAML signing certificates are made for RSA keys")
        }
        let privateKey = Certificate.PrivateKey(rsa)
        let name = try DistinguishedName {
            CommonName(commonName)
            OrganizationName("Sigil")
        }
        var serial = serialNumber
        serial[0] &= 0x7F // positive
        if serial[0] == 0 { serial[0] = 0x01 } // minimal DER encoding
        let publicKey = privateKey.publicKey
        let extensions = try Certificate.Extensions {
            Critical(BasicConstraints.notCertificateAuthority)
            Critical(KeyUsage(digitalSignature: true, keyEncipherment: keyEncipherment))
            SubjectKeyIdentifier(hash: publicKey)
        }
        let certificate = try Certificate(
            version: .v3,
            serialNumber: Certificate.SerialNumber(bytes: serial),
            publicKey: publicKey,
            notValidBefore: notBefore,
            notValidAfter: notAfter,
            issuer: name,
            subject: name,
            signatureAlgorithm: .sha256WithRSAEncryption,
            extensions: extensions,
            issuerPrivateKey: privateKey
        )
        return try certificate.serializeAsPEM().pemString
    }

    /// The DER bytes of a PEM certificate, base64 (standard alphabet) as `x5c` wants them.
    public static func x5cValue(pem: String) throws -> String {
        let document = try PEMDocument(pemString: pem)
        return Data(document.derBytes).base64EncodedString()
    }
}
