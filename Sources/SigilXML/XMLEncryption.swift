import Crypto
import Foundation
import SwiftASN1
import X509
import _CryptoExtras

// XML Encryption (W3C xmlenc-core1): one element encrypted into an `xenc:EncryptedData` of
// Type Element, its content key carried in an `xenc:EncryptedKey` inside `ds:KeyInfo`.
// Content: AES-GCM (xmlenc 1.1: the 12-byte IV prepended and the 16-byte tag appended to the
// ciphertext in CipherValue). Key transport: RSA-OAEP. No RSA PKCS #1 v1.5 in either direction,
// and AES-CBC only where the caller has already authenticated the ciphertext (padding oracles:
// Jager and Somorovsky, "How To Break XML Encryption", 2011): a decryptor refuses CBC unless its
// `allowedContent` names it, which the SAML service provider does only for an EncryptedAssertion
// inside a Response whose signature verified, or an EncryptedID inside signed content.

extension XMLNamespace {
    public static let xenc = "http://www.w3.org/2001/04/xmlenc#"
    public static let xenc11 = "http://www.w3.org/2009/xmlenc11#"
}

/// swift-crypto's `_RSA.Encryption` keys are not marked Sendable, though they are immutable values
/// over the same BoringSSL key objects as the `_RSA.Signing` keys, which are; only read here.
struct ImmutableKey<Key>: @unchecked Sendable {
    let key: Key
}

/// Content-encryption algorithms. AES-GCM is authenticated encryption; AES-CBC (xmlenc 1.0,
/// still what Okta and SimpleSAMLphp 1.x send by default) is not, so it is decrypted only when
/// the ciphertext was covered by a signature verified first.
public enum XMLContentEncryption: String, Sendable, CaseIterable, Hashable {
    case aes128GCM = "http://www.w3.org/2009/xmlenc11#aes128-gcm"
    case aes192GCM = "http://www.w3.org/2009/xmlenc11#aes192-gcm"
    case aes256GCM = "http://www.w3.org/2009/xmlenc11#aes256-gcm"
    case aes128CBC = "http://www.w3.org/2001/04/xmlenc#aes128-cbc"
    case aes192CBC = "http://www.w3.org/2001/04/xmlenc#aes192-cbc"
    case aes256CBC = "http://www.w3.org/2001/04/xmlenc#aes256-cbc"

    /// The authenticated (GCM) algorithms: what a decryptor accepts unless told otherwise.
    public static let authenticated: Set<XMLContentEncryption> = [.aes128GCM, .aes192GCM, .aes256GCM]
    public static let cbc: Set<XMLContentEncryption> = [.aes128CBC, .aes192CBC, .aes256CBC]

    public var uri: String { rawValue }
    public var isAuthenticated: Bool { Self.authenticated.contains(self) }
    var keyByteCount: Int {
        switch self {
        case .aes128GCM, .aes128CBC: 16
        case .aes192GCM, .aes192CBC: 24
        case .aes256GCM, .aes256CBC: 32
        }
    }
}

/// Key-transport algorithms: RSA-OAEP in the two spellings swift-crypto can compute.
public enum XMLKeyTransport: String, Sendable, CaseIterable, Hashable {
    /// `http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p` with a SHA-1 `DigestMethod` (and, as the
    /// name says, MGF1 with SHA-1). What Sigil produces: xmlsec1 1.2 (pysaml2 decrypts with it),
    /// python3-saml and every SAML SP read it. OAEP's security does not rest on SHA-1's collision
    /// resistance, so SHA-1 here is not the weakness it is in a signature.
    case rsaOAEPMGF1P = "http://www.w3.org/2001/04/xmlenc#rsa-oaep-mgf1p"
    /// `http://www.w3.org/2009/xmlenc11#rsa-oaep` with `DigestMethod` SHA-256 and
    /// `xenc11:MGF` `mgf1sha256` declared. Accepted when decrypting; produced only on request
    /// (xmlsec1 1.2.37, Debian 12's, does not know the URI).
    case rsaOAEPSHA256 = "http://www.w3.org/2009/xmlenc11#rsa-oaep"

    static let sha1 = "http://www.w3.org/2000/09/xmldsig#sha1"
    static let sha256 = "http://www.w3.org/2001/04/xmlenc#sha256"
    static let mgf1SHA1 = "http://www.w3.org/2009/xmlenc11#mgf1sha1"
    static let mgf1SHA256 = "http://www.w3.org/2009/xmlenc11#mgf1sha256"
}

/// Encrypts elements for one recipient (an SP's RSA certificate or key).
public struct XMLEncryptor: Sendable {
    public var recipientKey: _RSA.Encryption.PublicKey {
        get { recipientKeyBox.key }
        set { recipientKeyBox = ImmutableKey(key: newValue) }
    }
    private var recipientKeyBox: ImmutableKey<_RSA.Encryption.PublicKey>
    /// Sent in the EncryptedKey's `ds:KeyInfo/X509Data` so the recipient can pick its key.
    public var recipientCertificate: Certificate?
    public var content: XMLContentEncryption
    public var keyTransport: XMLKeyTransport

    public init(
        recipientKey: _RSA.Encryption.PublicKey, recipientCertificate: Certificate? = nil,
        content: XMLContentEncryption = .aes256GCM, keyTransport: XMLKeyTransport = .rsaOAEPMGF1P
    ) {
        self.recipientKeyBox = ImmutableKey(key: recipientKey)
        self.recipientCertificate = recipientCertificate
        self.content = content
        self.keyTransport = keyTransport
    }

    /// An encryptor for the certificate's key; refuses what cannot receive encrypted keys
    /// (`unsupportedKey`): not RSA, under 2048 bits, or a KeyUsage extension without
    /// keyEncipherment.
    public init(
        recipientCertificate certificate: Certificate, content: XMLContentEncryption = .aes256GCM,
        keyTransport: XMLKeyTransport = .rsaOAEPMGF1P
    ) throws(XMLSecurityError) {
        self.init(
            recipientKey: try Self.encryptionKey(of: certificate), recipientCertificate: certificate,
            content: content, keyTransport: keyTransport)
    }

    /// The RSA encryption key of a certificate, or why it cannot be used to encrypt keys.
    public static func encryptionKey(of certificate: Certificate) throws(XMLSecurityError) -> _RSA.Encryption.PublicKey {
        guard let rsa = _RSA.Signing.PublicKey(certificate.publicKey) else {
            throw XMLSecurityError(.unsupportedKey, "the certificate's key is not RSA; encrypted assertions need an RSA key")
        }
        let key: _RSA.Encryption.PublicKey
        do { key = try _RSA.Encryption.PublicKey(derRepresentation: rsa.derRepresentation) } catch {
            throw XMLSecurityError(.unsupportedKey, "the certificate's RSA key is shorter than 2048 bits")
        }
        let keyUsage: KeyUsage?
        do { keyUsage = try certificate.extensions.keyUsage } catch {
            throw XMLSecurityError(.unsupportedKey, "the certificate's KeyUsage extension cannot be read")
        }
        if let keyUsage, !keyUsage.keyEncipherment {
            throw XMLSecurityError(.unsupportedKey, "the certificate's KeyUsage does not allow keyEncipherment")
        }
        return key
    }

    /// `element` encrypted into an `xenc:EncryptedData` (Type Element) that declares its own
    /// namespaces. `inScopeNamespaces`: what the element's ancestors declare; the prefixes it
    /// uses from them are declared on the encrypted copy, so it parses on its own.
    public func encrypt(_ element: DOMElement, inScopeNamespaces: [String: String] = [:], id: String? = nil) throws(XMLSecurityError) -> DOMElement {
        let plaintext = Self.selfContained(element, inScopeNamespaces: inScopeNamespaces).serialized()
        let key = SymmetricKey(size: SymmetricKeySize(bitCount: content.keyByteCount * 8))
        let combined: Data
        if content.isAuthenticated {
            let sealed: AES.GCM.SealedBox
            do { sealed = try AES.GCM.seal(plaintext, using: key, nonce: AES.GCM.Nonce()) } catch {
                throw XMLSecurityError(.unsupportedKey, "AES-GCM failed: \(error)")
            }
            guard let bytes = sealed.combined else { throw XMLSecurityError(.unsupportedKey, "AES-GCM produced no combined form") }
            combined = bytes
        } else {
            // xmlenc 1.0 §5.2.1: the IV first; PKCS #7 padding is one of the paddings it allows
            // (only the last byte, the pad length, is read). Only for peers and tests: Sigil's
            // IdP encrypts with AES-GCM.
            let iv = AES._CBC.IV()
            do { combined = Data(iv) + (try AES._CBC.encrypt(plaintext, using: key, iv: iv)) } catch {
                throw XMLSecurityError(.unsupportedKey, "AES-CBC failed: \(error)")
            }
        }
        let wrappedKey: Data
        do {
            wrappedKey = try key.withUnsafeBytes { raw in
                try recipientKey.encrypt(Data(raw), padding: keyTransport == .rsaOAEPSHA256 ? .PKCS1_OAEP_SHA256 : .PKCS1_OAEP)
            }
        } catch {
            throw XMLSecurityError(.unsupportedKey, "RSA-OAEP failed: \(error)")
        }

        func xenc(_ name: String, _ attributes: [DOMAttribute] = [], _ children: [DOMNode] = []) -> DOMElement {
            DOMElement(prefix: "xenc", localName: name, namespaceURI: XMLNamespace.xenc, attributes: attributes, children: children)
        }
        func ds(_ name: String, _ attributes: [DOMAttribute] = [], _ children: [DOMNode] = []) -> DOMElement {
            DOMElement(prefix: "ds", localName: name, namespaceURI: XMLNamespace.dsig, attributes: attributes, children: children)
        }
        func algorithm(_ uri: String) -> [DOMAttribute] { [DOMAttribute(localName: "Algorithm", value: uri)] }
        func cipherData(_ bytes: some DataProtocol) -> DOMElement {
            xenc("CipherData", [], [.element(xenc("CipherValue", [], [.text(Data(bytes).base64EncodedString())]))])
        }

        var transportMethod = xenc("EncryptionMethod", algorithm(keyTransport.rawValue))
        switch keyTransport {
        case .rsaOAEPMGF1P:
            transportMethod.children = [.element(ds("DigestMethod", algorithm(XMLKeyTransport.sha1)))]
        case .rsaOAEPSHA256:
            transportMethod.children = [
                .element(ds("DigestMethod", algorithm(XMLKeyTransport.sha256))),
                .element(
                    DOMElement(
                        prefix: "xenc11", localName: "MGF", namespaceURI: XMLNamespace.xenc11,
                        namespaceDeclarations: [DOMNamespaceDeclaration(prefix: "xenc11", uri: XMLNamespace.xenc11)],
                        attributes: algorithm(XMLKeyTransport.mgf1SHA256))),
            ]
        }
        var encryptedKey = xenc("EncryptedKey", [], [.element(transportMethod)])
        if let recipientCertificate {
            var serializer = DER.Serializer()
            do { try serializer.serialize(recipientCertificate) } catch {
                throw XMLSecurityError(.unsupportedKey, "cannot encode the certificate: \(error)")
            }
            encryptedKey.children.append(
                .element(
                    ds(
                        "KeyInfo", [],
                        [
                            .element(ds("X509Data", [], [.element(ds("X509Certificate", [], [.text(Data(serializer.serializedBytes).base64EncodedString())]))]))
                        ])))
        }
        encryptedKey.children.append(.element(cipherData(wrappedKey)))

        var attributes: [DOMAttribute] = []
        if let id { attributes.append(DOMAttribute(localName: "Id", value: id)) }
        attributes.append(DOMAttribute(localName: "Type", value: XMLEncryptedDataType.element))
        var keyInfo = ds("KeyInfo", [], [.element(encryptedKey)])
        keyInfo.namespaceDeclarations = [DOMNamespaceDeclaration(prefix: "ds", uri: XMLNamespace.dsig)]
        var encryptedData = xenc(
            "EncryptedData", attributes,
            [
                .element(xenc("EncryptionMethod", algorithm(content.uri))),
                .element(keyInfo),
                .element(cipherData(combined)),
            ])
        encryptedData.namespaceDeclarations = [DOMNamespaceDeclaration(prefix: "xenc", uri: XMLNamespace.xenc)]
        return encryptedData
    }

    /// The element with declarations added on it for every prefix (and the default namespace)
    /// it takes from `inScopeNamespaces` and does not declare itself.
    static func selfContained(_ element: DOMElement, inScopeNamespaces: [String: String]) -> DOMElement {
        var used = Set<String>()
        element.forEachElement { e, _ in
            used.insert(e.prefix ?? "")
            for a in e.attributes { if let p = a.prefix { used.insert(p) } }
        }
        var result = element
        let declared = Set(element.namespaceDeclarations.map { $0.prefix ?? "" })
        for prefix in used.sorted() where !declared.contains(prefix) && prefix != "xml" {
            guard let uri = inScopeNamespaces[prefix], !uri.isEmpty else { continue }
            result.namespaceDeclarations.append(DOMNamespaceDeclaration(prefix: prefix.isEmpty ? nil : prefix, uri: uri))
        }
        return result
    }
}

public enum XMLEncryptedDataType {
    public static let element = "http://www.w3.org/2001/04/xmlenc#Element"
}

/// Decrypts `xenc:EncryptedData` elements with one RSA private key, under a strict allow-list:
/// AES-GCM content (AES-CBC only when `allowedContent` names it: the caller's promise that a
/// verified signature covered the ciphertext), RSA-OAEP key transport (mgf1p with SHA-1, or xmlenc 1.1 rsa-oaep with
/// SHA-1 or SHA-256 where the MGF uses the same digest), Type Element, the key in exactly one
/// `EncryptedKey` (inside `ds:KeyInfo`, or a sibling the caller hands in), `CipherValue` only
/// (no `CipherReference`, no `RetrievalMethod`). Every cryptographic failure is the same
/// `decryptionFailed`, whatever step failed. The plaintext goes through the hardened parser.
public struct XMLDecryptor: Sendable {
    public var privateKey: _RSA.Encryption.PrivateKey {
        get { privateKeyBox.key }
        set { privateKeyBox = ImmutableKey(key: newValue) }
    }
    private var privateKeyBox: ImmutableKey<_RSA.Encryption.PrivateKey>
    public var allowedContent: Set<XMLContentEncryption>
    public var allowedKeyTransport: Set<XMLKeyTransport>
    public var parserOptions: XMLParserOptions

    public init(
        privateKey: _RSA.Encryption.PrivateKey, allowedContent: Set<XMLContentEncryption> = XMLContentEncryption.authenticated,
        allowedKeyTransport: Set<XMLKeyTransport> = Set(XMLKeyTransport.allCases), parserOptions: XMLParserOptions = .default
    ) {
        self.privateKeyBox = ImmutableKey(key: privateKey)
        self.allowedContent = allowedContent
        self.allowedKeyTransport = allowedKeyTransport
        self.parserOptions = parserOptions
    }

    /// The element inside `encryptedData`. `inScopeNamespaces`: the bindings in scope where
    /// `encryptedData` sits (the plaintext is parsed in that context); `siblingKeys`:
    /// `xenc:EncryptedKey` elements next to it (SAML allows them in `EncryptedAssertion`),
    /// used only when `ds:KeyInfo` has none.
    public func decrypt(
        _ encryptedData: DOMElement, inScopeNamespaces: [String: String] = [:],
        siblingKeys: [DOMElement] = []
    ) throws(XMLSecurityError) -> DOMElement {
        guard encryptedData.localName == "EncryptedData", encryptedData.namespaceURI == XMLNamespace.xenc else {
            throw XMLSecurityError(.encryptionStructure, "not an xenc:EncryptedData")
        }
        guard encryptedData.attribute("Type") == XMLEncryptedDataType.element else {
            throw XMLSecurityError(.encryptionStructure, "EncryptedData Type must be \(XMLEncryptedDataType.element)")
        }
        if let mime = encryptedData.attribute("MimeType"), !mime.isEmpty {
            throw XMLSecurityError(.encryptionStructure, "EncryptedData MimeType is not accepted")
        }
        guard let method = try Self.only("EncryptionMethod", in: encryptedData),
            let uri = method.attribute("Algorithm")
        else {
            throw XMLSecurityError(.encryptionStructure, "EncryptedData needs one EncryptionMethod with an Algorithm")
        }
        guard let content = XMLContentEncryption(rawValue: uri), allowedContent.contains(content), method.childElements.isEmpty else {
            let cbc = XMLContentEncryption(rawValue: uri).map { XMLContentEncryption.cbc.contains($0) } ?? false
            throw XMLSecurityError(
                .algorithmNotAllowed,
                cbc
                    ? "content encryption \(uri.debugDescription) (AES-CBC, unauthenticated) is accepted only under a signature verified before decrypting"
                    : "content encryption \(uri.debugDescription) is not allowed (AES-GCM only)")
        }
        let keyInfo = encryptedData.childElements(named: "KeyInfo", namespaceURI: XMLNamespace.dsig)
        guard keyInfo.count <= 1 else { throw XMLSecurityError(.encryptionStructure, "more than one ds:KeyInfo") }
        var keys = keyInfo.first?.childElements(named: "EncryptedKey", namespaceURI: XMLNamespace.xenc) ?? []
        if let info = keyInfo.first, info.childElements.contains(where: { $0.localName == "RetrievalMethod" }) {
            throw XMLSecurityError(.encryptionStructure, "ds:RetrievalMethod is not followed")
        }
        if keys.isEmpty { keys = siblingKeys }
        guard keys.count == 1 else {
            throw XMLSecurityError(.encryptionStructure, "exactly one EncryptedKey is needed, found \(keys.count)")
        }
        let cipherValue = try Self.cipherValue(of: encryptedData)
        let contentKey = try unwrap(keys[0], expectedBytes: content.keyByteCount)

        let plaintext: Data
        if content.isAuthenticated {
            do {
                let box = try AES.GCM.SealedBox(combined: cipherValue)
                plaintext = try AES.GCM.open(box, using: SymmetricKey(data: contentKey))
            } catch {
                throw Self.failed
            }
        } else {
            plaintext = try Self.openCBC(cipherValue, key: contentKey)
        }
        return try parseFragment(plaintext, inScopeNamespaces: inScopeNamespaces)
    }

    /// xmlenc 1.0 §5.2.1 block encryption: IV ‖ ciphertext, padded so that the last plaintext
    /// byte is the pad length (1…16); the other pad bytes are arbitrary (ISO 10126), so they are
    /// not checked. Every failure is the one `decryptionFailed`.
    static func openCBC(_ combined: Data, key: [UInt8]) throws(XMLSecurityError) -> Data {
        let bytes = Array(combined)
        guard bytes.count >= 32, bytes.count % 16 == 0 else { throw failed }
        let padded: Data
        do {
            let iv = try AES._CBC.IV(ivBytes: bytes[0..<16])
            padded = try AES._CBC.decrypt(bytes[16...], using: SymmetricKey(data: key), iv: iv, noPadding: true)
        } catch {
            throw failed
        }
        guard let pad = padded.last, (1...16).contains(Int(pad)), Int(pad) <= padded.count else { throw failed }
        return padded.prefix(padded.count - Int(pad))
    }

    static let failed = XMLSecurityError(.decryptionFailed, "the encrypted data cannot be decrypted with this key")

    func unwrap(_ encryptedKey: DOMElement, expectedBytes: Int) throws(XMLSecurityError) -> [UInt8] {
        guard let method = try Self.only("EncryptionMethod", in: encryptedKey), let uri = method.attribute("Algorithm") else {
            throw XMLSecurityError(.encryptionStructure, "EncryptedKey needs one EncryptionMethod with an Algorithm")
        }
        guard let transport = XMLKeyTransport(rawValue: uri), allowedKeyTransport.contains(transport) else {
            throw XMLSecurityError(.algorithmNotAllowed, "key transport \(uri.debugDescription) is not allowed (RSA-OAEP only)")
        }
        var digest: String?
        var mgf: String?
        for child in method.childElements {
            switch (child.localName, child.namespaceURI) {
            case ("DigestMethod", XMLNamespace.dsig) where digest == nil: digest = child.attribute("Algorithm") ?? ""
            case ("MGF", XMLNamespace.xenc11) where mgf == nil && transport == .rsaOAEPSHA256: mgf = child.attribute("Algorithm") ?? ""
            default:
                // OAEPparams (a label) among others: swift-crypto cannot use one, so refuse it.
                throw XMLSecurityError(.algorithmNotAllowed, "EncryptionMethod child \(child.qualifiedName) is not accepted")
            }
        }
        let padding: _RSA.Encryption.Padding
        switch (transport, digest ?? XMLKeyTransport.sha1, mgf ?? XMLKeyTransport.mgf1SHA1) {
        case (.rsaOAEPMGF1P, XMLKeyTransport.sha1, _): padding = .PKCS1_OAEP
        case (.rsaOAEPSHA256, XMLKeyTransport.sha1, XMLKeyTransport.mgf1SHA1): padding = .PKCS1_OAEP
        case (.rsaOAEPSHA256, XMLKeyTransport.sha256, XMLKeyTransport.mgf1SHA256): padding = .PKCS1_OAEP_SHA256
        default:
            throw XMLSecurityError(.algorithmNotAllowed, "RSA-OAEP with digest \(digest ?? "sha1") and MGF \(mgf ?? "mgf1sha1") is not supported")
        }
        if encryptedKey.childElements.contains(where: { $0.localName == "CipherData" }) == false {
            throw XMLSecurityError(.encryptionStructure, "EncryptedKey has no CipherData")
        }
        let wrapped = try Self.cipherValue(of: encryptedKey)
        let key: Data
        do { key = try privateKey.decrypt(wrapped, padding: padding) } catch { throw Self.failed }
        // A key of the wrong length is the same failure as a wrong key: no oracle on which it was.
        guard key.count == expectedBytes else { throw Self.failed }
        return Array(key)
    }

    /// Parses the plaintext as one element in the context of `inScopeNamespaces`.
    func parseFragment(_ plaintext: Data, inScopeNamespaces: [String: String]) throws(XMLSecurityError) -> DOMElement {
        var wrapper: [UInt8] = Array("<sigil-decrypted".utf8)
        for (prefix, uri) in inScopeNamespaces.sorted(by: { $0.key < $1.key }) where prefix != "xml" && !uri.isEmpty {
            wrapper += Array((prefix.isEmpty ? " xmlns=\"" : " xmlns:\(prefix)=\"").utf8)
            XMLCanonicalizer.escapeAttribute(uri, to: &wrapper)
            wrapper.append(0x22)
        }
        wrapper.append(0x3E)
        // The plaintext must not carry its own XML declaration or DTD: the parser refuses both
        // inside an element.
        let document = try XMLDocumentParser.parse(wrapper + Array(plaintext) + Array("</sigil-decrypted>".utf8), options: parserOptions)
        let elements = document.root.childElements
        let strayText = document.root.children.contains { node in
            if case .text(let t) = node { return !t.allSatisfy(\.isWhitespace) }
            return false
        }
        guard elements.count == 1, !strayText else {
            throw XMLSecurityError(.encryptionStructure, "the decrypted content is not exactly one element")
        }
        return elements[0]
    }

    static func only(_ localName: String, in element: DOMElement) throws(XMLSecurityError) -> DOMElement? {
        let found = element.childElements(named: localName, namespaceURI: XMLNamespace.xenc)
        guard found.count <= 1 else { throw XMLSecurityError(.encryptionStructure, "more than one \(localName)") }
        return found.first
    }

    static func cipherValue(of element: DOMElement) throws(XMLSecurityError) -> Data {
        guard let data = try only("CipherData", in: element) else {
            throw XMLSecurityError(.encryptionStructure, "\(element.localName) has no CipherData")
        }
        guard data.childElements(named: "CipherReference", namespaceURI: XMLNamespace.xenc).isEmpty else {
            throw XMLSecurityError(.encryptionStructure, "CipherReference is not followed")
        }
        guard let value = try only("CipherValue", in: data),
            let bytes = Data(base64Encoded: value.textContent.filter { !$0.isWhitespace })
        else {
            throw XMLSecurityError(.encryptionStructure, "\(element.localName) needs one base64 CipherValue")
        }
        return bytes
    }
}

extension XMLDecryptor {
    /// This decryptor, also accepting AES-CBC when `cbc` (the caller verified a signature over the ciphertext).
    public func allowing(cbc: Bool) -> XMLDecryptor {
        var copy = self
        if cbc { copy.allowedContent.formUnion(XMLContentEncryption.cbc) }
        return copy
    }
}
