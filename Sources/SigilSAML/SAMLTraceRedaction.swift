import Crypto
import Foundation
import SigilCore
import SigilXML

/// What the SAML trace keeps of a protocol message: the decoded XML with personal data and key
/// material replaced (DESIGN §7: PII and secrets never reach logs). NameID and attribute values
/// become a short hash (so two traces of one person can be compared), signature, digest and
/// cipher values their length, certificates their SHA-256.
public enum SAMLTraceRedaction {
    static let personal: Set<String> = ["NameID", "AttributeValue", "SessionIndex", "SubjectLocality"]
    static let opaque: Set<String> = ["SignatureValue", "DigestValue", "CipherValue"]

    /// The redacted document, or why the bytes are not XML the hardened parser accepts.
    public static func redact(_ xml: [UInt8]) -> String {
        let document: DOMDocument
        do { document = try XMLDocumentParser.parse(xml) } catch {
            return "<!-- not acceptable XML (\(error.code)); \(xml.count) bytes not kept -->"
        }
        var redacted = document
        redacted.root = redact(document.root)
        redacted.beforeRoot = []
        redacted.afterRoot = []
        return String(decoding: redacted.serialized(xmlDeclaration: false), as: UTF8.self)
    }

    static func redact(_ element: DOMElement) -> DOMElement {
        var e = element
        if personal.contains(e.localName) {
            let text = e.textContent.trimmed
            e.children = [.text("[redacted: \(text.count) characters, sha256 \(hexEncoded(SHA256.hash(data: Array(text.utf8))).prefix(12))]")]
        } else if opaque.contains(e.localName) {
            let text = e.textContent.filter { !$0.isWhitespace }
            e.children = [.text("[\(text.count) base64 characters]")]
        } else if e.localName == "X509Certificate" {
            let der = Data(base64Encoded: e.textContent.filter { !$0.isWhitespace }).map { Array($0) } ?? []
            e.children = [.text("[certificate, SHA-256 \(hexEncoded(SHA256.hash(data: der)))]")]
        } else {
            e.children = e.children.map { node in
                switch node {
                case .element(let child): .element(redact(child))
                case .comment: .comment("[comment]")
                default: node
                }
            }
        }
        if e.localName == "SubjectConfirmationData" || e.localName == "AuthnStatement" {
            e.attributes = e.attributes.map { a in
                a.localName == "Address" ? DOMAttribute(prefix: a.prefix, localName: a.localName, namespaceURI: a.namespaceURI, value: "[redacted]") : a
            }
        }
        return e
    }
}
