import Foundation
import SigilXML

/// The IdP's `md:EntityDescriptor` (SAML metadata §2.4.3).
public struct IdPMetadata: Sendable {
    public var entityID: String
    public var ssoURL: String
    public var sloURL: String
    /// DER certificates (base64), signing use; the next key's certificate can be listed too.
    public var signingCertificatesBase64: [String]
    public var nameIDFormats: [NameIDFormat]
    public var wantAuthnRequestsSigned: Bool

    public init(
        entityID: String, ssoURL: String, sloURL: String, signingCertificatesBase64: [String],
        nameIDFormats: [NameIDFormat] = NameIDFormat.allCases, wantAuthnRequestsSigned: Bool = false
    ) {
        self.entityID = entityID; self.ssoURL = ssoURL; self.sloURL = sloURL
        self.signingCertificatesBase64 = signingCertificatesBase64; self.nameIDFormats = nameIDFormats
        self.wantAuthnRequestsSigned = wantAuthnRequestsSigned
    }

    /// The metadata document, signed (enveloped, on the root) when a signer is given.
    public func document(id: String, validUntil: Date? = nil, signer: XMLSigner? = nil) throws -> [UInt8] {
        var children: [DOMNode] = []
        for cert in signingCertificatesBase64 {
            let x509 = DOMElement(prefix: "ds", localName: "X509Certificate", namespaceURI: SAML.dsigNamespace, children: [.text(cert)])
            var keyInfo = DOMElement(
                prefix: "ds", localName: "KeyInfo", namespaceURI: SAML.dsigNamespace,
                children: [
                    .element(DOMElement(prefix: "ds", localName: "X509Data", namespaceURI: SAML.dsigNamespace, children: [.element(x509)]))
                ])
            keyInfo.namespaceDeclarations = [DOMNamespaceDeclaration(prefix: "ds", uri: SAML.dsigNamespace)]
            children.append(.element(Node.md("KeyDescriptor", [("use", "signing")], [.element(keyInfo)])))
        }
        for binding in [SAMLBinding.httpRedirect.rawValue, SAMLBinding.httpPOST.rawValue] {
            children.append(.element(Node.md("SingleLogoutService", [("Binding", binding), ("Location", sloURL)])))
        }
        for format in nameIDFormats { children.append(.element(Node.text(Node.md("NameIDFormat"), format.rawValue))) }
        for binding in [SAMLBinding.httpRedirect.rawValue, SAMLBinding.httpPOST.rawValue] {
            children.append(.element(Node.md("SingleSignOnService", [("Binding", binding), ("Location", ssoURL)])))
        }
        let idp = Node.md(
            "IDPSSODescriptor",
            [
                ("WantAuthnRequestsSigned", wantAuthnRequestsSigned ? "true" : "false"),
                ("protocolSupportEnumeration", SAML.protocolNamespace),
            ], children)
        var root = Node.md(
            "EntityDescriptor", [("ID", id), ("entityID", entityID), ("validUntil", validUntil.map(SAMLTime.format))],
            [.element(idp)])
        root.namespaceDeclarations = [DOMNamespaceDeclaration(prefix: "md", uri: SAML.metadataNamespace)]
        var document = DOMDocument(root: root)
        if let signer {
            document = try signer.signEnveloped(document, elementID: id, placement: .firstChild)
        }
        return document.serialized()
    }
}
