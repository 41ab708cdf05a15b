import Foundation
import SigilXML
import X509

/// What Sigil, as a service provider, reads from an upstream identity provider's metadata
/// (`md:EntityDescriptor` with an `md:IDPSSODescriptor`, SAML metadata §2.4.3): the "Enter
/// Metadata URL → Import" values.
public struct UpstreamIdPMetadata: Sendable, Equatable, Codable {
    public struct Endpoint: Sendable, Equatable, Codable {
        public var binding: String
        public var location: String
        public init(binding: String, location: String) { self.binding = binding; self.location = location }
    }

    public var entityID: String
    public var singleSignOnServices: [Endpoint]
    public var singleLogoutServices: [Endpoint]
    /// Every certificate usable for signing (KeyDescriptor use="signing" or no use), as PEM: an
    /// IdP lists the next certificate beside the current one during a rollover.
    public var signingCertificatesPEM: [String]
    public var nameIDFormats: [String]
    public var wantAuthnRequestsSigned: Bool
    /// The metadata's `validUntil` (root or descriptor, the earlier), if any.
    public var validUntil: Date?
    /// The metadata's `cacheDuration` in seconds (root or descriptor, the shorter), if any.
    public var cacheDuration: TimeInterval?
    /// Whether the document element carries an enveloped signature.
    public var signed: Bool

    public init(
        entityID: String, singleSignOnServices: [Endpoint], singleLogoutServices: [Endpoint] = [], signingCertificatesPEM: [String],
        nameIDFormats: [String] = [], wantAuthnRequestsSigned: Bool = false, validUntil: Date? = nil, cacheDuration: TimeInterval? = nil,
        signed: Bool = false
    ) {
        self.entityID = entityID; self.singleSignOnServices = singleSignOnServices; self.singleLogoutServices = singleLogoutServices
        self.signingCertificatesPEM = signingCertificatesPEM; self.nameIDFormats = nameIDFormats
        self.wantAuthnRequestsSigned = wantAuthnRequestsSigned; self.validUntil = validUntil; self.cacheDuration = cacheDuration
        self.signed = signed
    }

    /// The SSO endpoint Sigil sends AuthnRequests to: HTTP-Redirect preferred, else HTTP-POST.
    public var preferredSSO: Endpoint? {
        singleSignOnServices.first { $0.binding == SAMLBinding.httpRedirect.rawValue }
            ?? singleSignOnServices.first { $0.binding == SAMLBinding.httpPOST.rawValue }
    }

    /// The SLO endpoint: HTTP-Redirect preferred, else HTTP-POST.
    public var preferredSLO: Endpoint? {
        singleLogoutServices.first { $0.binding == SAMLBinding.httpRedirect.rawValue }
            ?? singleLogoutServices.first { $0.binding == SAMLBinding.httpPOST.rawValue }
    }

    /// Parses with the hardened parser (no DTDs, no entities). With `pinnedCertificates`, the
    /// document must carry an enveloped signature by one of them, and only the signed element is
    /// read. `entityID` picks one entity out of an `EntitiesDescriptor` aggregate.
    public static func parse(_ xml: [UInt8], entityID wanted: String? = nil, pinnedCertificates: [Certificate] = []) throws(SAMLError)
        -> UpstreamIdPMetadata
    {
        let doc: DOMDocument
        do { doc = try XMLDocumentParser.parse(xml) } catch {
            throw SAMLError(.malformed, "the metadata is not acceptable XML", detail: "\(error)")
        }
        var root = doc.root
        let signed = !root.childElements(named: "Signature", namespaceURI: SAML.dsigNamespace).isEmpty
        if !pinnedCertificates.isEmpty {
            do {
                let verifier = try XMLSignatureVerifier(trustedCertificates: pinnedCertificates)
                root = try verifier.verifyEnveloped(doc, signedElement: .root).element
            } catch {
                throw SAMLError(.signatureInvalid, "the metadata is not signed by the pinned certificate", detail: "\(error)")
            }
        }
        let md = SAML.metadataNamespace
        var rootValidUntil = root.attribute("validUntil").flatMap(SAMLTime.parse)
        var rootCache = root.attribute("cacheDuration").flatMap(XSDuration.seconds)
        let entity: DOMElement
        if root.localName == "EntityDescriptor", root.namespaceURI == md {
            entity = root
        } else if root.localName == "EntitiesDescriptor", root.namespaceURI == md {
            let candidates = root.childElements(named: "EntityDescriptor", namespaceURI: md).filter {
                $0.firstChild(named: "IDPSSODescriptor", namespaceURI: md) != nil && (wanted == nil || $0.attribute("entityID") == wanted)
            }
            guard let first = candidates.first else {
                throw SAMLError(.unsupported, wanted.map { "the metadata has no identity provider \($0)" } ?? "the metadata lists no identity provider")
            }
            guard candidates.count == 1 else {
                throw SAMLError(.unsupported, "the metadata lists \(candidates.count) identity providers; name the entity ID to import")
            }
            entity = first
            rootValidUntil = earlier(rootValidUntil, entity.attribute("validUntil").flatMap(SAMLTime.parse))
            rootCache = shorter(rootCache, entity.attribute("cacheDuration").flatMap(XSDuration.seconds))
        } else {
            throw SAMLError(.unsupported, "the document is not SAML metadata (no EntityDescriptor)", detail: root.qualifiedName)
        }
        guard let entityID = entity.attribute("entityID"), !entityID.isEmpty else {
            throw SAMLError(.malformed, "the EntityDescriptor has no entityID")
        }
        if let wanted, wanted != entityID { throw SAMLError(.unsupported, "the metadata describes \(entityID), not \(wanted)") }
        guard let idp = entity.firstChild(named: "IDPSSODescriptor", namespaceURI: md) else {
            throw SAMLError(.unsupported, "the metadata describes no identity provider (IDPSSODescriptor)")
        }
        guard (idp.attribute("protocolSupportEnumeration") ?? "").split(separator: " ").contains(Substring(SAML.protocolNamespace)) else {
            throw SAMLError(.unsupported, "the identity provider does not support SAML 2.0 (protocolSupportEnumeration)")
        }
        func endpoints(_ name: String) -> [Endpoint] {
            idp.childElements(named: name, namespaceURI: md).compactMap { e in
                guard let binding = e.attribute("Binding"), let location = e.attribute("Location"), !location.isEmpty else { return nil }
                return Endpoint(binding: binding, location: location)
            }
        }
        var certificates: [String] = []
        for key in idp.childElements(named: "KeyDescriptor", namespaceURI: md) where key.attribute("use") != "encryption" {
            let data =
                key.firstChild(named: "KeyInfo", namespaceURI: SAML.dsigNamespace)?
                .childElements(named: "X509Data", namespaceURI: SAML.dsigNamespace) ?? []
            for x509 in data {
                for cert in x509.childElements(named: "X509Certificate", namespaceURI: SAML.dsigNamespace) {
                    let pem = try PEMText.certificate(base64: cert.textContent)
                    if !certificates.contains(pem) { certificates.append(pem) }
                }
            }
        }
        let sso = endpoints("SingleSignOnService")
        guard sso.contains(where: { $0.binding == SAMLBinding.httpRedirect.rawValue || $0.binding == SAMLBinding.httpPOST.rawValue }) else {
            throw SAMLError(.unsupported, "the identity provider has no SingleSignOnService for HTTP-Redirect or HTTP-POST")
        }
        guard !certificates.isEmpty else {
            throw SAMLError(.unsupported, "the identity provider's metadata has no signing certificate")
        }
        return UpstreamIdPMetadata(
            entityID: entityID, singleSignOnServices: sso, singleLogoutServices: endpoints("SingleLogoutService"),
            signingCertificatesPEM: certificates,
            nameIDFormats: idp.childElements(named: "NameIDFormat", namespaceURI: md).map { $0.textContent.trimmed },
            wantAuthnRequestsSigned: idp.attribute("WantAuthnRequestsSigned") == "true" || idp.attribute("WantAuthnRequestsSigned") == "1",
            validUntil: earlier(rootValidUntil, idp.attribute("validUntil").flatMap(SAMLTime.parse)),
            cacheDuration: shorter(rootCache, idp.attribute("cacheDuration").flatMap(XSDuration.seconds)), signed: signed)
    }

    static func earlier(_ a: Date?, _ b: Date?) -> Date? {
        switch (a, b) {
        case (let a?, let b?): min(a, b)
        default: a ?? b
        }
    }

    static func shorter(_ a: TimeInterval?, _ b: TimeInterval?) -> TimeInterval? {
        switch (a, b) {
        case (let a?, let b?): min(a, b)
        default: a ?? b
        }
    }
}

/// PEM text for certificates carried as base64 in XML.
public enum PEMText {
    public static func certificate(base64 text: String) throws(SAMLError) -> String {
        let body = text.filter { !$0.isWhitespace }
        guard let der = Data(base64Encoded: body), (try? Certificate(derEncoded: Array(der))) != nil else {
            throw SAMLError(.malformed, "a certificate in the metadata is not a valid X.509 certificate")
        }
        var lines: [String] = []
        var rest = Substring(body)
        while !rest.isEmpty { lines.append(String(rest.prefix(64))); rest = rest.dropFirst(64) }
        return "-----BEGIN CERTIFICATE-----\n" + lines.joined(separator: "\n") + "\n-----END CERTIFICATE-----\n"
    }

    /// The base64 body of a PEM certificate (for `ds:X509Certificate`).
    public static func base64Body(_ pem: String) -> String {
        pem.split(separator: "\n").filter { !$0.hasPrefix("-----") }.joined().filter { !$0.isWhitespace }
    }
}

/// `xs:duration` (ISO 8601 `PnYnMnDTnHnMnS`) as seconds, with months as 30 days and years as 365.
public enum XSDuration {
    public static func seconds(_ text: String) -> TimeInterval? {
        var s = Substring(text.trimmingCharacters(in: .whitespaces))
        guard s.first == "P" else { return nil }
        s = s.dropFirst()
        var total: TimeInterval = 0
        var inTime = false
        var number = ""
        var sawField = false
        for c in s {
            if c == "T" {
                guard number.isEmpty, !inTime else { return nil }
                inTime = true
                continue
            }
            if c.isNumber || c == "." { number.append(c); continue }
            guard let value = Double(number) else { return nil }
            number = ""
            sawField = true
            switch (c, inTime) {
            case ("Y", false): total += value * 365 * 86_400
            case ("M", false): total += value * 30 * 86_400
            case ("D", false): total += value * 86_400
            case ("H", true): total += value * 3600
            case ("M", true): total += value * 60
            case ("S", true): total += value
            default: return nil
            }
        }
        guard number.isEmpty, sawField else { return nil }
        return total
    }
}

/// An AuthnRequest Sigil sends to an upstream identity provider (SAML core §3.4.1), and the
/// metadata of Sigil's service-provider side for one connection.
public struct SPAuthnRequest: Sendable {
    public var id: String
    public var spEntityID: String
    public var destination: String
    public var acsURL: String
    public var nameIDFormat: String?
    public var forceAuthn: Bool

    public init(id: String, spEntityID: String, destination: String, acsURL: String, nameIDFormat: String?, forceAuthn: Bool = false) {
        self.id = id; self.spEntityID = spEntityID; self.destination = destination; self.acsURL = acsURL
        self.nameIDFormat = nameIDFormat; self.forceAuthn = forceAuthn
    }

    /// The request's XML. For the POST binding pass a `signer` (enveloped signature after the
    /// Issuer); the Redirect binding signs the query string instead.
    public func document(now: Date, signer: XMLSigner? = nil) throws -> [UInt8] {
        var children: [DOMNode] = [.element(Node.text(Node.saml("Issuer"), spEntityID))]
        children.append(
            .element(Node.samlp("NameIDPolicy", [("Format", nameIDFormat), ("AllowCreate", "true")])))
        var root = Node.samlp(
            "AuthnRequest",
            [
                ("ID", id), ("Version", "2.0"), ("IssueInstant", SAMLTime.format(now)), ("Destination", destination),
                ("AssertionConsumerServiceURL", acsURL), ("ProtocolBinding", SAMLBinding.httpPOST.rawValue),
                ("ForceAuthn", forceAuthn ? "true" : nil),
            ], children)
        root.namespaceDeclarations = [
            DOMNamespaceDeclaration(prefix: "samlp", uri: SAML.protocolNamespace),
            DOMNamespaceDeclaration(prefix: "saml", uri: SAML.assertionNamespace),
        ]
        var document = DOMDocument(root: root)
        if let signer { document = try signer.signEnveloped(document, elementID: id) }
        return document.serialized(xmlDeclaration: false)
    }
}

/// Sigil's SP metadata for one upstream connection: signing and encryption certificate, ACS
/// (HTTP-POST), SLO (Redirect and POST), AuthnRequestsSigned and WantAssertionsSigned.
public struct SPConnectionMetadata: Sendable {
    public var entityID: String
    public var acsURL: String
    public var sloURL: String
    public var certificatePEM: String
    public var nameIDFormat: String?

    public init(entityID: String, acsURL: String, sloURL: String, certificatePEM: String, nameIDFormat: String?) {
        self.entityID = entityID; self.acsURL = acsURL; self.sloURL = sloURL; self.certificatePEM = certificatePEM
        self.nameIDFormat = nameIDFormat
    }

    public func document() -> [UInt8] {
        func keyDescriptor(_ use: String) -> DOMNode {
            let x509 = DOMElement(
                prefix: "ds", localName: "X509Certificate", namespaceURI: SAML.dsigNamespace,
                children: [.text(PEMText.base64Body(certificatePEM))])
            var keyInfo = DOMElement(
                prefix: "ds", localName: "KeyInfo", namespaceURI: SAML.dsigNamespace,
                children: [.element(DOMElement(prefix: "ds", localName: "X509Data", namespaceURI: SAML.dsigNamespace, children: [.element(x509)]))])
            keyInfo.namespaceDeclarations = [DOMNamespaceDeclaration(prefix: "ds", uri: SAML.dsigNamespace)]
            var children: [DOMNode] = [.element(keyInfo)]
            if use == "encryption" {
                for method in [XMLContentEncryption.aes256GCM.uri, XMLContentEncryption.aes128GCM.uri] {
                    children.append(.element(Node.md("EncryptionMethod", [("Algorithm", method)])))
                }
            }
            return .element(Node.md("KeyDescriptor", [("use", use)], children))
        }
        var children: [DOMNode] = [keyDescriptor("signing"), keyDescriptor("encryption")]
        for binding in [SAMLBinding.httpRedirect.rawValue, SAMLBinding.httpPOST.rawValue] {
            children.append(.element(Node.md("SingleLogoutService", [("Binding", binding), ("Location", sloURL)])))
        }
        if let nameIDFormat { children.append(.element(Node.text(Node.md("NameIDFormat"), nameIDFormat))) }
        children.append(
            .element(
                Node.md(
                    "AssertionConsumerService",
                    [("Binding", SAMLBinding.httpPOST.rawValue), ("Location", acsURL), ("index", "0"), ("isDefault", "true")])))
        let sp = Node.md(
            "SPSSODescriptor",
            [("AuthnRequestsSigned", "true"), ("WantAssertionsSigned", "true"), ("protocolSupportEnumeration", SAML.protocolNamespace)],
            children)
        var root = Node.md("EntityDescriptor", [("entityID", entityID)], [.element(sp)])
        root.namespaceDeclarations = [DOMNamespaceDeclaration(prefix: "md", uri: SAML.metadataNamespace)]
        return DOMDocument(root: root).serialized()
    }
}
