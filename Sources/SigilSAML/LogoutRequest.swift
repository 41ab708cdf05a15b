import Foundation
import SigilXML

/// A parsed `samlp:LogoutRequest` (SAML core §3.7.1). Basic SLO: the IdP ends its own session.
public struct LogoutRequest: Sendable, Equatable {
    public var id: String
    public var issuer: String?
    public var destination: String?
    public var issueInstant: Date?
    public var nameID: String?
    public var sessionIndexes: [String]

    public static func parse(_ xml: [UInt8]) throws(SAMLError) -> LogoutRequest {
        let root: DOMElement
        do { root = try XMLDocumentParser.parse(xml).root } catch {
            throw SAMLError(.malformed, "the request is not acceptable XML", detail: "\(error)")
        }
        guard root.localName == "LogoutRequest", root.namespaceURI == SAML.protocolNamespace else {
            throw SAMLError(.unsupported, "the message is not a LogoutRequest", detail: root.qualifiedName)
        }
        guard let id = root.attribute("ID"), !id.isEmpty, root.attribute("Version") == "2.0" else {
            throw SAMLError(.malformed, "the LogoutRequest has no ID or is not SAML 2.0")
        }
        return LogoutRequest(
            id: id, issuer: root.firstChild(named: "Issuer", namespaceURI: SAML.assertionNamespace)?.textContent.trimmed,
            destination: root.attribute("Destination"), issueInstant: root.attribute("IssueInstant").flatMap(SAMLTime.parse),
            nameID: root.firstChild(named: "NameID", namespaceURI: SAML.assertionNamespace)?.textContent.trimmed,
            sessionIndexes: root.childElements(named: "SessionIndex", namespaceURI: SAML.protocolNamespace).map { $0.textContent.trimmed })
    }
}
