import Foundation
import SigilXML

/// What Sigil reads from a service provider's metadata (`md:EntityDescriptor` with an
/// `md:SPSSODescriptor`) to register it.
public struct SPMetadata: Sendable, Equatable {
    public struct Endpoint: Sendable, Equatable {
        public var binding: String
        public var location: String
        public var index: Int?
        public var isDefault: Bool
    }

    public var entityID: String
    public var assertionConsumerServices: [Endpoint]
    public var singleLogoutServices: [Endpoint]
    /// PEM, from the first KeyDescriptor usable for signing (use="signing" or no use).
    public var signingCertificatePEM: String?
    public var nameIDFormats: [String]
    public var authnRequestsSigned: Bool
    public var wantAssertionsSigned: Bool
    /// PEM, from the first KeyDescriptor usable for encryption (use="encryption" or no use).
    public var encryptionCertificatePEM: String? = nil

    /// Parses with the hardened parser. The metadata's own signature, if any, is not checked:
    /// the administrator vouches for the file they register.
    public static func parse(_ xml: [UInt8]) throws(SAMLError) -> SPMetadata {
        let root: DOMElement
        do { root = try XMLDocumentParser.parse(xml).root } catch {
            throw SAMLError(.malformed, "the metadata is not acceptable XML", detail: "\(error)")
        }
        let md = SAML.metadataNamespace
        let entity: DOMElement
        if root.localName == "EntityDescriptor", root.namespaceURI == md {
            entity = root
        } else if root.localName == "EntitiesDescriptor", root.namespaceURI == md,
            let first = root.childElements(named: "EntityDescriptor", namespaceURI: md).first(where: {
                $0.firstChild(named: "SPSSODescriptor", namespaceURI: md) != nil
            })
        {
            entity = first
        } else {
            throw SAMLError(.unsupported, "the metadata has no EntityDescriptor")
        }
        guard let entityID = entity.attribute("entityID"), !entityID.isEmpty else {
            throw SAMLError(.malformed, "the EntityDescriptor has no entityID")
        }
        guard let sp = entity.firstChild(named: "SPSSODescriptor", namespaceURI: md) else {
            throw SAMLError(.unsupported, "the metadata describes no service provider (SPSSODescriptor)")
        }
        func endpoints(_ name: String) -> [Endpoint] {
            sp.childElements(named: name, namespaceURI: md).compactMap { e in
                guard let binding = e.attribute("Binding"), let location = e.attribute("Location") else { return nil }
                return Endpoint(
                    binding: binding, location: location, index: e.attribute("index").flatMap { Int($0) },
                    isDefault: e.attribute("isDefault") == "true" || e.attribute("isDefault") == "1")
            }
        }
        func certificate(skippingUse skipped: String) throws(SAMLError) -> String? {
            for key in sp.childElements(named: "KeyDescriptor", namespaceURI: md) where key.attribute("use") != skipped {
                let cert = key.firstChild(named: "KeyInfo", namespaceURI: SAML.dsigNamespace)?
                    .firstChild(named: "X509Data", namespaceURI: SAML.dsigNamespace)?
                    .firstChild(named: "X509Certificate", namespaceURI: SAML.dsigNamespace)?.textContent
                if let cert {
                    let body = cert.filter { !$0.isWhitespace }
                    guard Data(base64Encoded: body) != nil else { throw SAMLError(.malformed, "a certificate in the metadata is not base64") }
                    var lines: [String] = []
                    var rest = Substring(body)
                    while !rest.isEmpty { lines.append(String(rest.prefix(64))); rest = rest.dropFirst(64) }
                    return "-----BEGIN CERTIFICATE-----\n" + lines.joined(separator: "\n") + "\n-----END CERTIFICATE-----\n"
                }
            }
            return nil
        }
        let pem = try certificate(skippingUse: "encryption")
        let encryptionPEM = try certificate(skippingUse: "signing")
        func flag(_ name: String) -> Bool { sp.attribute(name) == "true" || sp.attribute(name) == "1" }
        return SPMetadata(
            entityID: entityID, assertionConsumerServices: endpoints("AssertionConsumerService"),
            singleLogoutServices: endpoints("SingleLogoutService"), signingCertificatePEM: pem,
            nameIDFormats: sp.childElements(named: "NameIDFormat", namespaceURI: md).map { $0.textContent.trimmed },
            authnRequestsSigned: flag("AuthnRequestsSigned"), wantAssertionsSigned: flag("WantAssertionsSigned"),
            encryptionCertificatePEM: encryptionPEM)
    }
}
