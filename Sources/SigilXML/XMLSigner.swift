import Foundation
import SwiftASN1
import X509

/// Where the `ds:Signature` goes inside the signed element.
public enum XMLSignaturePlacement: Sendable, Hashable {
    /// As the first child.
    case firstChild
    /// As the last child.
    case lastChild
    /// Right after the first child element with this name, else first. SAML wants the
    /// signature right after `Issuer` (`.afterSAMLIssuer`).
    case after(localName: String, namespaceURI: String?)

    public static let afterSAMLIssuer = XMLSignaturePlacement.after(localName: "Issuer", namespaceURI: "urn:oasis:names:tc:SAML:2.0:assertion")
}

/// Produces XML-DSig enveloped signatures: one `Reference` to the element's ID with the
/// transforms enveloped-signature and exclusive c14n, SHA-256 digest, `SignedInfo` canonicalized
/// with exclusive c14n, RSA-SHA256 or ECDSA-SHA256, and the certificate (if given) in
/// `KeyInfo/X509Data`.
public struct XMLSigner: Sendable {
    public var key: XMLSigningKey
    public var certificate: Certificate? {
        didSet { certificateBase64 = Self.base64DER(certificate) }
    }
    /// The certificate's DER in base64, encoded once rather than per signature.
    private var certificateBase64: String?
    /// Prefixes for the InclusiveNamespaces PrefixList of the reference's exclusive c14n
    /// transform (e.g. `["xs"]` when attribute values use `xsi:type="xs:string"`).
    public var inclusivePrefixes: [String]

    public init(key: XMLSigningKey, certificate: Certificate? = nil, inclusivePrefixes: [String] = []) {
        self.key = key
        self.certificate = certificate
        self.certificateBase64 = Self.base64DER(certificate)
        self.inclusivePrefixes = inclusivePrefixes
    }

    static func base64DER(_ certificate: Certificate?) -> String? {
        guard let certificate else { return nil }
        var serializer = DER.Serializer()
        guard (try? serializer.serialize(certificate)) != nil else { return nil }
        return Data(serializer.serializedBytes).base64EncodedString()
    }

    /// Signs the element whose `idAttribute` equals `elementID` and returns the document with
    /// the `ds:Signature` inserted. IDs must be unique in the document.
    public func signEnveloped(
        _ document: DOMDocument, elementID: String, idAttribute: String = "ID",
        placement: XMLSignaturePlacement = .afterSAMLIssuer
    ) throws(XMLSecurityError) -> DOMDocument {
        let index = try XMLIDIndex(document.root, idAttribute: idAttribute)
        guard let path = index.paths[elementID] else {
            throw XMLSecurityError(.elementNotFound, "no element with \(idAttribute)=\(elementID.debugDescription)")
        }
        let scope = document.root.namespacesInScope(above: path, inherited: ["xml": XMLNamespace.xml])
        let element = document.root.element(at: path)!
        var signed = document
        signed.root.replaceElement(at: path, with: try sign(element, id: elementID, inScopeNamespaces: scope, placement: placement))
        return signed
    }

    /// Signs a standalone element (its `idAttribute` must be set) that declares every namespace
    /// it uses; `inScopeNamespaces` supplies bindings from the ancestors it will be placed under.
    public func signEnveloped(
        _ element: DOMElement, idAttribute: String = "ID", inScopeNamespaces: [String: String] = [:],
        placement: XMLSignaturePlacement = .afterSAMLIssuer
    ) throws(XMLSecurityError) -> DOMElement {
        guard let id = element.attribute(idAttribute), !id.isEmpty else {
            throw XMLSecurityError(.elementNotFound, "the element has no \(idAttribute) attribute")
        }
        _ = try XMLIDIndex(element, idAttribute: idAttribute)
        return try sign(element, id: id, inScopeNamespaces: inScopeNamespaces, placement: placement)
    }

    private func sign(
        _ element: DOMElement, id: String, inScopeNamespaces: [String: String], placement: XMLSignaturePlacement
    ) throws(XMLSecurityError) -> DOMElement {
        if !element.childElements(named: "Signature", namespaceURI: XMLNamespace.dsig).isEmpty {
            throw XMLSecurityError(.signatureStructure, "the element already has a signature")
        }
        let transformMethod = XMLCanonicalizationMethod.exclusive(withComments: false, inclusivePrefixes: inclusivePrefixes)
        let digestAlgorithm = XMLDigestAlgorithm.sha256
        let canonical = XMLCanonicalizer.canonicalize(element, inScopeNamespaces: inScopeNamespaces, method: transformMethod)
        let digest = digestAlgorithm.digest(canonical)

        func ds(_ name: String, _ attributes: [DOMAttribute] = [], _ children: [DOMNode] = []) -> DOMElement {
            DOMElement(prefix: "ds", localName: name, namespaceURI: XMLNamespace.dsig, attributes: attributes, children: children)
        }
        func algorithm(_ uri: String) -> [DOMAttribute] { [DOMAttribute(localName: "Algorithm", value: uri)] }

        var excTransform = ds("Transform", algorithm(XMLCanonicalizationMethod.exclusiveURI))
        if !inclusivePrefixes.isEmpty {
            excTransform.children = [
                .element(
                    DOMElement(
                        prefix: "ec", localName: "InclusiveNamespaces", namespaceURI: XMLNamespace.excC14N,
                        namespaceDeclarations: [DOMNamespaceDeclaration(prefix: "ec", uri: XMLNamespace.excC14N)],
                        attributes: [DOMAttribute(localName: "PrefixList", value: inclusivePrefixes.joined(separator: " "))]))
            ]
        }
        let reference = ds(
            "Reference", [DOMAttribute(localName: "URI", value: "#" + id)],
            [
                .element(
                    ds(
                        "Transforms", [],
                        [
                            .element(ds("Transform", algorithm(XMLTransform.envelopedSignature))),
                            .element(excTransform),
                        ])),
                .element(ds("DigestMethod", algorithm(digestAlgorithm.uri))),
                .element(ds("DigestValue", [], [.text(Data(digest).base64EncodedString())])),
            ])
        let signedInfo = ds(
            "SignedInfo", [],
            [
                .element(ds("CanonicalizationMethod", algorithm(XMLCanonicalizationMethod.exclusiveURI))),
                .element(ds("SignatureMethod", algorithm(key.algorithm.uri))),
                .element(reference),
            ])
        // SignedInfo is canonicalized in its final context: under Signature (which declares ds),
        // under the signed element.
        var signatureScope = element.applyingDeclarations(to: inScopeNamespaces)
        signatureScope["ds"] = XMLNamespace.dsig
        let signedInfoBytes = XMLCanonicalizer.canonicalize(signedInfo, inScopeNamespaces: signatureScope, method: .exclusive)
        let signatureValue = try key.sign(signedInfoBytes)

        var signature = ds(
            "Signature", [],
            [
                .element(signedInfo),
                .element(ds("SignatureValue", [], [.text(Data(signatureValue).base64EncodedString())])),
            ])
        signature.namespaceDeclarations = [DOMNamespaceDeclaration(prefix: "ds", uri: XMLNamespace.dsig)]
        if certificate != nil {
            guard let certificateBase64 else { throw XMLSecurityError(.unsupportedKey, "cannot encode the certificate") }
            signature.children.append(
                .element(
                    ds(
                        "KeyInfo", [],
                        [
                            .element(
                                ds(
                                    "X509Data", [],
                                    [
                                        .element(ds("X509Certificate", [], [.text(certificateBase64)]))
                                    ]))
                        ])))
        }

        var result = element
        let position: Int
        switch placement {
        case .firstChild:
            position = 0
        case .lastChild:
            position = result.children.count
        case .after(let localName, let namespaceURI):
            if let i = result.children.firstIndex(where: { $0.element.map { $0.localName == localName && $0.namespaceURI == namespaceURI } ?? false }) {
                position = i + 1
            } else {
                position = 0
            }
        }
        result.children.insert(.element(signature), at: position)
        return result
    }
}

/// The elements of a tree by ID value; building it rejects duplicate IDs.
struct XMLIDIndex {
    var paths: [String: [Int]] = [:]

    init(_ root: DOMElement, idAttribute: String) throws(XMLSecurityError) {
        var duplicate: String?
        var paths: [String: [Int]] = [:]
        root.forEachElement { element, path in
            guard let id = element.attribute(idAttribute) else { return }
            if paths[id] != nil { duplicate = id }
            paths[id] = path
        }
        if let duplicate {
            throw XMLSecurityError(.duplicateID, "\(idAttribute)=\(duplicate.debugDescription) appears more than once")
        }
        self.paths = paths
    }
}
