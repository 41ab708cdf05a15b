import Foundation
import SigilXML

/// `saml:EncryptedAssertion` (SAML core §2.3.4) on the receiving side: tests, and the SP role.
public enum SAMLEncryptedAssertion {
    /// The Response with its one `EncryptedAssertion` replaced by the decrypted `Assertion`.
    /// Check the Response's own signature (it covers the EncryptedAssertion) before calling
    /// this, and the Assertion's signature on the serialised result (`.samlAssertion`).
    /// Refuses a Response with a plain Assertion beside an encrypted one, or several of either.
    public static func decrypt(_ document: DOMDocument, with decryptor: XMLDecryptor) throws(SAMLError) -> DOMDocument {
        let root = document.root
        guard root.localName == "Response", root.namespaceURI == SAML.protocolNamespace else {
            throw SAMLError(.unsupported, "not a SAML Response")
        }
        let encrypted = root.children.indices.filter {
            root.children[$0].element.map { $0.localName == "EncryptedAssertion" && $0.namespaceURI == SAML.assertionNamespace } ?? false
        }
        let plain = root.childElements(named: "Assertion", namespaceURI: SAML.assertionNamespace)
        guard encrypted.count == 1, plain.isEmpty, let index = encrypted.first, let wrapper = root.children[index].element else {
            throw SAMLError(.unsupported, "the Response must hold exactly one EncryptedAssertion and no plain Assertion")
        }
        let data = wrapper.childElements(named: "EncryptedData", namespaceURI: XMLNamespace.xenc)
        let keys = wrapper.childElements(named: "EncryptedKey", namespaceURI: XMLNamespace.xenc)
        guard data.count == 1, wrapper.childElements.count == 1 + keys.count else {
            throw SAMLError(.malformed, "EncryptedAssertion must hold one EncryptedData and only EncryptedKey besides")
        }
        let dataIndex = wrapper.children.firstIndex { $0.element?.localName == "EncryptedData" }!
        let scope = root.namespacesInScope(above: [index, dataIndex], inherited: ["xml": XMLNamespace.xml])
        let assertion: DOMElement
        do { assertion = try decryptor.decrypt(data[0], inScopeNamespaces: scope, siblingKeys: keys) } catch {
            throw SAMLError(.malformed, "the encrypted assertion cannot be decrypted", detail: "\(error)")
        }
        guard assertion.localName == "Assertion", assertion.namespaceURI == SAML.assertionNamespace else {
            throw SAMLError(.malformed, "the encrypted content is not a saml:Assertion")
        }
        var result = document
        result.root.children[index] = .element(assertion)
        return result
    }
}
