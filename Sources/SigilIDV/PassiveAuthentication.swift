import CSigilOpenSSL
import Foundation
import SwiftASN1

/// ePassport passive authentication (ICAO Doc 9303 part 11 §5.1): the document security object
/// (EF.SOD, a CMS SignedData over an LDS security object) is signed by a document signer (DS)
/// whose certificate a country signing CA (CSCA) issued, and lists a hash of every data group.
/// The chip's data is genuine when all three hold:
///
/// 1. the SOD's signature verifies with the DS certificate it carries (signed attributes, and
///    their message digest over the LDS security object);
/// 2. the DS certificate is signed by one of the configured CSCA certificates (and names it as
///    issuer);
/// 3. every data group read hashes to the value the SOD lists for it.
///
/// It proves the data was written by the issuing state and not altered; it does not prove the
/// chip is not a clone (that is active or chip authentication, not done here). Cryptography is
/// the system OpenSSL's (`CSigilOpenSSL`): passports use brainpool and explicit-parameter curves
/// and a content type swift-certificates refuses.
public enum PassiveAuthentication {
    public struct Report: Sendable, Equatable, Codable {
        public enum Chain: String, Sendable, Codable { case trusted, untrusted, noAnchors = "no_anchors" }

        public var signatureValid: Bool
        public var chain: Chain
        /// RFC 2253 subject and issuer of the document signer certificate.
        public var signer: String?
        public var signerIssuer: String?
        /// The CSCA that signed the DS certificate.
        public var anchor: String?
        public var hashAlgorithm: String?
        /// Data group number → whether its hash matches the SOD.
        public var dataGroups: [Int: Bool]
        /// Machine-readable reasons it did not pass (empty when it passed).
        public var reasons: [String]
        public var passed: Bool { reasons.isEmpty }
    }

    /// The LDS security object's hash algorithm (dotted OID) and data-group hashes.
    public struct LDSSecurityObject: Sendable, Equatable {
        public var hashAlgorithm: String
        public var hashes: [Int: [UInt8]]

        public static func parse(_ der: [UInt8]) throws -> LDSSecurityObject {
            let root = try DER.parse(der)
            return try DER.sequence(root, identifier: .sequence) { nodes in
                _ = try Int(derEncoded: &nodes)
                let algorithm = try DER.sequence(of: ASN1Any.self, identifier: .sequence, nodes: &nodes)
                guard let first = algorithm.first else { throw ASN1Error.invalidASN1Object(reason: "empty AlgorithmIdentifier") }
                let oid = try ASN1ObjectIdentifier(asn1Any: first)
                var hashes: [Int: [UInt8]] = [:]
                guard let list = nodes.next() else { throw ASN1Error.invalidASN1Object(reason: "no dataGroupHashValues") }
                try DER.sequence(list, identifier: .sequence) { groups in
                    while let group = groups.next() {
                        try DER.sequence(group, identifier: .sequence) { pair in
                            let number = try Int(derEncoded: &pair)
                            let value = try ASN1OctetString(derEncoded: &pair)
                            guard (1...16).contains(number), hashes[number] == nil else {
                                throw ASN1Error.invalidASN1Object(reason: "data group \(number) out of range or repeated")
                            }
                            hashes[number] = Array(value.bytes)
                        }
                    }
                }
                // ldsVersionInfo (LDS 1.8) may follow; nothing else is read.
                while nodes.next() != nil {}
                return LDSSecurityObject(hashAlgorithm: oid.description, hashes: hashes)
            }
        }
    }

    /// The SignedData inside EF.SOD: the file is an application-23 (`0x77`) wrapper around it.
    public static func unwrap(_ sod: [UInt8]) -> [UInt8]? {
        guard sod.first == 0x77 else { return sod.first == 0x30 ? sod : nil }
        guard let e = TLV.element(in: sod), e.tag == [0x77], e.end == sod.count else { return nil }
        return Array(sod[e.value])
    }

    /// Verifies `sod` and the data groups read from the chip against the CSCA certificates (DER).
    public static func verify(sod: [UInt8], dataGroups: [Int: [UInt8]], cscas: [[UInt8]]) -> Report {
        var report = Report(signatureValid: false, chain: .untrusted, dataGroups: [:], reasons: [])
        guard let signedData = unwrap(sod) else {
            report.reasons = ["sod_malformed"]
            return report
        }
        guard let (content, signer) = signedContent(signedData) else {
            report.reasons = ["sod_signature_invalid"]
            return report
        }
        report.signatureValid = true
        (report.signer, report.signerIssuer) = names(signer)

        // 2. The DS certificate chains to a configured CSCA.
        if cscas.isEmpty {
            report.chain = .noAnchors
            report.reasons.append("no_csca_configured")
        } else if let anchor = cscas.first(where: { signedBy(signer, $0) }) {
            report.chain = .trusted
            report.anchor = names(anchor).subject
        } else {
            report.reasons.append("ds_not_from_trusted_csca")
        }

        // 3. Every data group read hashes to the SOD's value; the SOD must list it.
        let lds: LDSSecurityObject
        do { lds = try LDSSecurityObject.parse(content) } catch {
            report.reasons.append("lds_security_object_malformed")
            return report
        }
        report.hashAlgorithm = lds.hashAlgorithm
        if dataGroups.isEmpty { report.reasons.append("no_data_groups") }
        for (number, bytes) in dataGroups.sorted(by: { $0.key < $1.key }) {
            guard let expected = lds.hashes[number] else {
                report.dataGroups[number] = false
                report.reasons.append("dg\(number)_not_in_sod")
                continue
            }
            guard let actual = digest(lds.hashAlgorithm, bytes) else {
                report.reasons.append("hash_algorithm_unsupported")
                return report
            }
            let match = actual == expected
            report.dataGroups[number] = match
            if !match { report.reasons.append("dg\(number)_hash_mismatch") }
        }
        return report
    }

    /// The content of a CMS SignedData whose signature verifies with the signer certificate it
    /// carries, and that certificate (DER); nil when it does not verify or is not SignedData.
    static func signedContent(_ der: [UInt8]) -> (content: [UInt8], signer: [UInt8])? {
        var contentPointer: UnsafeMutablePointer<UInt8>?
        var contentLength = 0
        var signerPointer: UnsafeMutablePointer<UInt8>?
        var signerLength = 0
        var error = [CChar](repeating: 0, count: 256)
        let verified = der.withUnsafeBufferPointer { buffer in
            sigil_cms_verify_embedded(
                buffer.baseAddress, buffer.count, &contentPointer, &contentLength, &signerPointer, &signerLength, &error, error.count)
        }
        defer {
            sigil_free(contentPointer)
            sigil_free(signerPointer)
        }
        guard verified == 1, let contentPointer, let signerPointer else { return nil }
        return (
            Array(UnsafeBufferPointer(start: contentPointer, count: contentLength)),
            Array(UnsafeBufferPointer(start: signerPointer, count: signerLength))
        )
    }

    static func signedBy(_ child: [UInt8], _ issuer: [UInt8]) -> Bool {
        child.withUnsafeBufferPointer { c in
            issuer.withUnsafeBufferPointer { i in sigil_x509_signed_by(c.baseAddress, c.count, i.baseAddress, i.count) == 1 }
        }
    }

    static func names(_ der: [UInt8]) -> (subject: String?, issuer: String?) {
        var subject = [CChar](repeating: 0, count: 512), issuer = [CChar](repeating: 0, count: 512)
        let ok = der.withUnsafeBufferPointer { sigil_x509_names($0.baseAddress, $0.count, &subject, subject.count, &issuer, issuer.count) }
        guard ok == 1 else { return (nil, nil) }
        return (string(subject), string(issuer))
    }

    /// A certificate's subject and issuer names (nil when it does not parse).
    public static func certificateNames(_ der: [UInt8]) -> (subject: String, issuer: String)? {
        let n = names(der)
        guard let subject = n.subject, let issuer = n.issuer else { return nil }
        return (subject, issuer)
    }

    static func string(_ chars: [CChar]) -> String {
        String(decoding: chars.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// A digest by dotted OID (SHA-1/224/256/384/512), through OpenSSL (swift-crypto has no SHA-224).
    public static func digest(_ oid: String, _ bytes: [UInt8]) -> [UInt8]? {
        var out = [UInt8](repeating: 0, count: 64)
        let n = oid.withCString { name in bytes.withUnsafeBufferPointer { sigil_digest_oid(name, $0.baseAddress, $0.count, &out) } }
        return n == 0 ? nil : Array(out.prefix(n))
    }
}

/// An ICAO CSCA master list (Doc 9303 part 12 §9): a CMS SignedData (content type
/// 2.23.136.1.1.2) over `CscaMasterList ::= SEQUENCE { version INTEGER, certList SET OF
/// Certificate }`, signed by a master list signer whose certificate a CSCA issued. Importing one
/// gives the CSCA certificates passive authentication trusts; the list's own signature is checked,
/// and its signer must chain to a CSCA in the list itself or in `trusted` (the importer's decision).
public enum CSCAMasterList {
    public struct Imported: Sendable, Equatable {
        /// The CSCA certificates (DER), in list order, duplicates removed.
        public var certificates: [[UInt8]]
        /// RFC 2253 subject of the master list signer and of the CSCA that issued its certificate.
        public var signer: String?
        public var signerIssuer: String?
    }

    public struct Refused: Error, Sendable, Equatable, CustomStringConvertible {
        public var reason: String
        public var description: String { reason }
    }

    public static func parse(_ der: [UInt8], trusted: [[UInt8]] = []) throws(Refused) -> Imported {
        guard let (content, signer) = PassiveAuthentication.signedContent(der) else { throw Refused(reason: "master_list_signature_invalid") }
        var certificates: [[UInt8]] = []
        do {
            let root = try DER.parse(content)
            try DER.sequence(root, identifier: .sequence) { nodes in
                _ = try Int(derEncoded: &nodes)
                guard let set = nodes.next(), set.identifier == .set, case .constructed(let members) = set.content else {
                    throw ASN1Error.invalidASN1Object(reason: "no certList")
                }
                for member in members {
                    let bytes = Array(member.encodedBytes)
                    if !certificates.contains(bytes) { certificates.append(bytes) }
                }
            }
        } catch {
            throw Refused(reason: "master_list_malformed")
        }
        guard !certificates.isEmpty else { throw Refused(reason: "master_list_empty") }
        guard (certificates + trusted).contains(where: { PassiveAuthentication.signedBy(signer, $0) }) else {
            throw Refused(reason: "master_list_signer_untrusted")
        }
        let names = PassiveAuthentication.names(signer)
        return Imported(certificates: certificates, signer: names.subject, signerIssuer: names.issuer)
    }
}
