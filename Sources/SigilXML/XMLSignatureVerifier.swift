import Foundation
import SigilCore
import X509

/// Which element of the document must carry the enveloped signature.
public enum XMLSignedElement: Sendable, Hashable {
    /// The document element (a SAML `Response`, `AuthnRequest`, `LogoutRequest`, metadata).
    case root
    /// The one element with this name; the document is refused if there is not exactly one
    /// (a SAML `Assertion`).
    case unique(localName: String, namespaceURI: String?)

    public static let samlAssertion = XMLSignedElement.unique(localName: "Assertion", namespaceURI: "urn:oasis:names:tc:SAML:2.0:assertion")
}

/// The result of a successful verification: the signed element rebuilt by parsing the very bytes
/// that were digested. Read only `element` (never the document you passed in): anything outside
/// it, or any node the signature did not cover, is not here.
public struct VerifiedXMLElement: Sendable {
    /// The signed element, parsed from `canonicalBytes` (the enveloped signature is not in it).
    public let element: DOMElement
    /// The canonical bytes whose digest the signature covers.
    public let canonicalBytes: [UInt8]
    /// The ID value the signature references.
    public let id: String
    public let signatureAlgorithm: XMLSignatureAlgorithm
    public let digestAlgorithm: XMLDigestAlgorithm
    /// Index in the verifier's `trustedKeys` of the key that verified.
    public let keyIndex: Int
}

/// Verifies XML-DSig enveloped signatures against keys the caller configured.
///
/// The rules: the chosen element carries exactly one `ds:Signature` child; `SignedInfo` has one
/// `CanonicalizationMethod` (c14n or exc-c14n), one `SignatureMethod` and exactly one
/// `Reference`, whose `URI` is `#` + that element's ID; IDs are unique in the whole document;
/// transforms are enveloped-signature followed by at most one c14n/exc-c14n; algorithms are on
/// the allow-list (SHA-1 only with `allowInsecureSHA1`) and are checked before any cryptography;
/// `KeyInfo` is ignored — only `trustedKeys` are tried. The result is rebuilt from the digested
/// bytes so that wrapping cannot make a caller read unsigned content.
public struct XMLSignatureVerifier: Sendable {
    public struct Options: Sendable {
        /// The unqualified attribute holding IDs (SAML: `ID`).
        public var idAttribute: String = "ID"
        /// Accept RSA-SHA1 signatures and SHA-1 digests. Insecure; off by default.
        public var allowInsecureSHA1: Bool = false
        public var parser: XMLParserOptions = .default

        public init(idAttribute: String = "ID", allowInsecureSHA1: Bool = false, parser: XMLParserOptions = .default) {
            self.idAttribute = idAttribute
            self.allowInsecureSHA1 = allowInsecureSHA1
            self.parser = parser
        }
    }

    public var trustedKeys: [XMLVerificationKey]
    public var options: Options

    public init(trustedKeys: [XMLVerificationKey], options: Options = Options()) {
        self.trustedKeys = trustedKeys
        self.options = options
    }

    /// Trusts the public keys of these configured certificates.
    public init(trustedCertificates: [Certificate], options: Options = Options()) throws(XMLSecurityError) {
        var keys: [XMLVerificationKey] = []
        for c in trustedCertificates { keys.append(try XMLVerificationKey(certificate: c)) }
        self.init(trustedKeys: keys, options: options)
    }

    /// Parses `document` with the hardened parser and verifies the enveloped signature of
    /// `signedElement`. To check a second, inner signature (an `Assertion` inside a verified
    /// `Response`), verify `result.canonicalBytes` again with `.samlAssertion`.
    public func verifyEnveloped(_ document: some DataProtocol, signedElement: XMLSignedElement = .root) throws(XMLSecurityError) -> VerifiedXMLElement {
        let doc = try XMLDocumentParser.parse(document, options: options.parser)
        return try verifyEnveloped(doc, signedElement: signedElement)
    }

    /// Verifies a document already parsed by `XMLDocumentParser`.
    public func verifyEnveloped(_ doc: DOMDocument, signedElement: XMLSignedElement = .root) throws(XMLSecurityError) -> VerifiedXMLElement {
        guard !trustedKeys.isEmpty else { throw XMLSecurityError(.unsupportedKey, "no trusted keys configured") }
        let ids = try XMLIDIndex(doc.root, idAttribute: options.idAttribute)

        // 1. The element, its ID, its one enveloped signature.
        let targetPath: [Int]
        switch signedElement {
        case .root:
            targetPath = []
        case .unique(let localName, let namespaceURI):
            var found: [[Int]] = []
            doc.root.forEachElement { e, path in
                if e.localName == localName && e.namespaceURI == namespaceURI { found.append(path) }
            }
            guard found.count == 1 else {
                throw XMLSecurityError(found.isEmpty ? .elementNotFound : .signatureStructure, "\(found.count) \(localName) elements; exactly one is accepted")
            }
            targetPath = found[0]
        }
        let target = doc.root.element(at: targetPath)!
        guard let id = target.attribute(options.idAttribute), !id.isEmpty, ids.paths[id] == targetPath else {
            throw XMLSecurityError(.signatureStructure, "the signed element has no \(options.idAttribute)")
        }
        let signatureIndices = target.children.indices.filter {
            target.children[$0].element.map { $0.localName == "Signature" && $0.namespaceURI == XMLNamespace.dsig } ?? false
        }
        guard !signatureIndices.isEmpty else { throw XMLSecurityError(.signatureMissing, "\(target.localName) is not signed") }
        guard signatureIndices.count == 1 else {
            throw XMLSecurityError(.signatureStructure, "\(target.localName) has \(signatureIndices.count) signatures")
        }
        let signatureIndex = signatureIndices[0]
        let signature = target.children[signatureIndex].element!

        // 2. The signature's shape and algorithms, before any cryptography.
        let parsed = try ParsedSignature(signature, allowSHA1: options.allowInsecureSHA1)
        guard parsed.referenceURI == "#" + id else {
            throw XMLSecurityError(.signatureStructure, "the reference \(parsed.referenceURI.debugDescription) does not point to the signed element")
        }

        // 3. SignatureValue over the canonical SignedInfo, in its document context.
        let signaturePath = targetPath + [signatureIndex]
        var signedInfoScope = doc.root.namespacesInScope(above: signaturePath, inherited: ["xml": XMLNamespace.xml])
        signedInfoScope = signature.applyingDeclarations(to: signedInfoScope)
        let signedInfoXMLAttributes = doc.root.xmlAttributesInherited(above: signaturePath + [parsed.signedInfoIndex])
        let signedInfoBytes = XMLCanonicalizer.canonicalize(
            parsed.signedInfo, inScopeNamespaces: signedInfoScope,
            inheritedXMLAttributes: signedInfoXMLAttributes, method: parsed.signedInfoMethod)
        guard let keyIndex = trustedKeys.firstIndex(where: { $0.isValid(parsed.signatureValue, over: signedInfoBytes, algorithm: parsed.signatureAlgorithm) })
        else {
            throw XMLSecurityError(.signatureInvalid, "the signature does not verify under any trusted key")
        }

        // 4. The reference: the element minus its signature, canonicalized, digested. A bare-name
        // `#id` reference selects the subtree without comments (XML-DSig §4.4.3.3).
        var referenced = target
        referenced.children.remove(at: signatureIndex)
        let referenceMethod: XMLCanonicalizationMethod
        switch parsed.referenceMethod {
        case .inclusive: referenceMethod = .inclusive(withComments: false)
        case .exclusive(_, let prefixes): referenceMethod = .exclusive(withComments: false, inclusivePrefixes: prefixes)
        }
        let canonical = XMLCanonicalizer.canonicalize(
            referenced, inScopeNamespaces: doc.root.namespacesInScope(above: targetPath, inherited: ["xml": XMLNamespace.xml]),
            inheritedXMLAttributes: doc.root.xmlAttributesInherited(above: targetPath), method: referenceMethod)
        guard constantTimeEquals(parsed.digestAlgorithm.digest(canonical), parsed.digestValue) else {
            throw XMLSecurityError(.digestMismatch, "the digest of \(target.localName) does not match")
        }

        // 5. What the caller may read: the digested bytes, parsed again.
        let element = try XMLDocumentParser.parseElement(canonical, options: options.parser)
        return VerifiedXMLElement(
            element: element, canonicalBytes: canonical, id: id,
            signatureAlgorithm: parsed.signatureAlgorithm, digestAlgorithm: parsed.digestAlgorithm, keyIndex: keyIndex)
    }
}

/// A `ds:Signature` checked against the accepted shape.
private struct ParsedSignature {
    var signedInfo: DOMElement
    var signedInfoIndex: Int
    var signedInfoMethod: XMLCanonicalizationMethod
    var signatureAlgorithm: XMLSignatureAlgorithm
    var referenceURI: String
    var referenceMethod: XMLCanonicalizationMethod
    var digestAlgorithm: XMLDigestAlgorithm
    var digestValue: [UInt8]
    var signatureValue: [UInt8]

    init(_ signature: DOMElement, allowSHA1: Bool) throws(XMLSecurityError) {
        func bad(_ why: String) -> XMLSecurityError { XMLSecurityError(.signatureStructure, why) }
        func isDS(_ e: DOMElement, _ name: String) -> Bool { e.localName == name && e.namespaceURI == XMLNamespace.dsig }
        func onlyWhitespaceText(_ e: DOMElement) -> Bool {
            e.children.allSatisfy {
                switch $0 {
                case .element: true
                case .text(let t): t.allSatisfy { $0 == " " || $0 == "\n" || $0 == "\t" || $0 == "\r" }
                case .comment, .processingInstruction: false
                }
            }
        }
        func algorithmAttribute(_ e: DOMElement) throws(XMLSecurityError) -> String {
            guard let a = e.attribute("Algorithm") else { throw bad("\(e.localName) without Algorithm") }
            return a
        }

        // Signature: SignedInfo, SignatureValue, optional KeyInfo — nothing else (no Object).
        guard onlyWhitespaceText(signature) else { throw bad("unexpected content in Signature") }
        let parts = signature.childElements
        guard parts.count >= 2, parts.count <= 3, isDS(parts[0], "SignedInfo"), isDS(parts[1], "SignatureValue"),
            parts.count == 2 || isDS(parts[2], "KeyInfo")
        else { throw bad("Signature must hold SignedInfo, SignatureValue and optionally KeyInfo") }
        signedInfo = parts[0]
        signedInfoIndex = signature.children.firstIndex { $0.element.map { isDS($0, "SignedInfo") } ?? false }!

        // SignedInfo: CanonicalizationMethod, SignatureMethod, exactly one Reference.
        guard onlyWhitespaceText(signedInfo) else { throw bad("unexpected content in SignedInfo") }
        let info = signedInfo.childElements
        guard info.count == 3, isDS(info[0], "CanonicalizationMethod"), isDS(info[1], "SignatureMethod"), isDS(info[2], "Reference") else {
            throw bad("SignedInfo must hold CanonicalizationMethod, SignatureMethod and exactly one Reference")
        }
        let c14nURI = try algorithmAttribute(info[0])
        guard let c14n = XMLCanonicalizationMethod(uri: c14nURI, inclusivePrefixes: try Self.prefixList(info[0])) else {
            throw XMLSecurityError(.algorithmNotAllowed, "canonicalization \(c14nURI)")
        }
        signedInfoMethod = c14n
        guard info[1].childElements.isEmpty else { throw bad("SignatureMethod parameters (HMACOutputLength) are refused") }
        let sigURI = try algorithmAttribute(info[1])
        guard let sigAlg = XMLSignatureAlgorithm(rawValue: sigURI), allowSHA1 || !sigAlg.isSHA1 else {
            throw XMLSecurityError(.algorithmNotAllowed, "signature algorithm \(sigURI)")
        }
        signatureAlgorithm = sigAlg

        // Reference: URI, Transforms (enveloped-signature, then at most one c14n), DigestMethod, DigestValue.
        let reference = info[2]
        guard onlyWhitespaceText(reference) else { throw bad("unexpected content in Reference") }
        guard let uri = reference.attribute("URI") else { throw bad("Reference without URI") }
        referenceURI = uri
        let ref = reference.childElements
        guard ref.count == 3, isDS(ref[0], "Transforms"), isDS(ref[1], "DigestMethod"), isDS(ref[2], "DigestValue") else {
            throw bad("Reference must hold Transforms, DigestMethod and DigestValue")
        }
        let transforms = ref[0].childElements
        guard transforms.allSatisfy({ isDS($0, "Transform") }), (1...2).contains(transforms.count) else {
            throw bad("one or two Transform elements are accepted")
        }
        let firstURI = try algorithmAttribute(transforms[0])
        guard firstURI == XMLTransform.envelopedSignature else {
            throw XMLSecurityError(.algorithmNotAllowed, "first transform \(firstURI) (enveloped-signature expected)")
        }
        if transforms.count == 2 {
            let uri = try algorithmAttribute(transforms[1])
            guard let m = XMLCanonicalizationMethod(uri: uri, inclusivePrefixes: try Self.prefixList(transforms[1])) else {
                throw XMLSecurityError(.algorithmNotAllowed, "transform \(uri)")
            }
            referenceMethod = m
        } else {
            referenceMethod = .inclusive(withComments: false) // XML-DSig's default node-set to octets conversion
        }
        let digestURI = try algorithmAttribute(ref[1])
        guard let digestAlg = XMLDigestAlgorithm(rawValue: digestURI), allowSHA1 || !digestAlg.isSHA1 else {
            throw XMLSecurityError(.algorithmNotAllowed, "digest algorithm \(digestURI)")
        }
        digestAlgorithm = digestAlg
        guard let digest = Self.base64(ref[2]) else { throw bad("DigestValue is not base64") }
        digestValue = digest
        guard let value = Self.base64(parts[1]) else { throw bad("SignatureValue is not base64") }
        signatureValue = value
    }

    /// The PrefixList of an `ec:InclusiveNamespaces` child (exclusive c14n only).
    static func prefixList(_ method: DOMElement) throws(XMLSecurityError) -> [String] {
        let children = method.childElements
        if children.isEmpty { return [] }
        guard children.count == 1, children[0].localName == "InclusiveNamespaces", children[0].namespaceURI == XMLNamespace.excC14N,
            method.attribute("Algorithm")?.hasPrefix(XMLCanonicalizationMethod.exclusiveURI) == true
        else { throw XMLSecurityError(.signatureStructure, "unexpected parameters in \(method.localName)") }
        return (children[0].attribute("PrefixList") ?? "").split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }).map(String.init)
    }

    static func base64(_ e: DOMElement) -> [UInt8]? {
        guard e.childElements.isEmpty else { return nil }
        let s = e.text.filter { $0 != " " && $0 != "\n" && $0 != "\t" && $0 != "\r" }
        guard !s.isEmpty, let d = Data(base64Encoded: s) else { return nil }
        return Array(d)
    }
}
