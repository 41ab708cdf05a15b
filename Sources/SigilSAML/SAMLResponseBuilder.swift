import Foundation
import SigilCore
import SigilXML

/// Small constructors for SAML elements (prefixes `samlp`, `saml`, `md`).
enum Node {
    static func saml(_ name: String, _ attributes: [(String, String?)] = [], _ children: [DOMNode] = []) -> DOMElement {
        DOMElement(
            prefix: "saml", localName: name, namespaceURI: SAML.assertionNamespace,
            attributes: attributes.compactMap { k, v in v.map { DOMAttribute(localName: k, value: $0) } }, children: children)
    }
    static func samlp(_ name: String, _ attributes: [(String, String?)] = [], _ children: [DOMNode] = []) -> DOMElement {
        DOMElement(
            prefix: "samlp", localName: name, namespaceURI: SAML.protocolNamespace,
            attributes: attributes.compactMap { k, v in v.map { DOMAttribute(localName: k, value: $0) } }, children: children)
    }
    static func md(_ name: String, _ attributes: [(String, String?)] = [], _ children: [DOMNode] = []) -> DOMElement {
        DOMElement(
            prefix: "md", localName: name, namespaceURI: SAML.metadataNamespace,
            attributes: attributes.compactMap { k, v in v.map { DOMAttribute(localName: k, value: $0) } }, children: children)
    }
    static func text(_ element: DOMElement, _ text: String) -> DOMElement {
        var e = element; e.children = [.text(text)]; return e
    }
}

extension Array where Element == DOMElement {
    var nodes: [DOMNode] { map { .element($0) } }
}

/// One SAML attribute: name, name format, and its values (several for `session.amr`).
public struct SAMLAttribute: Sendable, Equatable {
    public var name: String
    public var nameFormat: String
    public var values: [String]
    public init(name: String, nameFormat: String = SAML.attributeNameFormatUnspecified, values: [String]) {
        self.name = name; self.nameFormat = nameFormat; self.values = values
    }
}

/// Everything an assertion says. Built by the service from the session, the user and the SP.
public struct SAMLAssertionContent: Sendable {
    public var issuer: String
    /// The ACS URL: Response Destination and SubjectConfirmationData Recipient.
    public var acsURL: String
    /// The SP entity ID (the one Audience).
    public var audience: String
    /// The AuthnRequest ID; nil for IdP-initiated.
    public var inResponseTo: String?
    public var nameID: String
    public var nameIDFormat: NameIDFormat
    public var sessionIndex: String
    public var authnInstant: Date
    public var authnContextClassRef: String
    public var attributes: [SAMLAttribute]
    /// Ends the session at the SP (AuthnStatement SessionNotOnOrAfter), if set.
    public var sessionNotOnOrAfter: Date?

    public init(
        issuer: String, acsURL: String, audience: String, inResponseTo: String?, nameID: String, nameIDFormat: NameIDFormat,
        sessionIndex: String, authnInstant: Date, authnContextClassRef: String, attributes: [SAMLAttribute],
        sessionNotOnOrAfter: Date? = nil
    ) {
        self.issuer = issuer; self.acsURL = acsURL; self.audience = audience; self.inResponseTo = inResponseTo
        self.nameID = nameID; self.nameIDFormat = nameIDFormat; self.sessionIndex = sessionIndex; self.authnInstant = authnInstant
        self.authnContextClassRef = authnContextClassRef; self.attributes = attributes; self.sessionNotOnOrAfter = sessionNotOnOrAfter
    }
}

/// What to sign in a successful Response.
public enum SAMLSigningChoice: String, Sendable, CaseIterable {
    case assertion, response, both
}

/// Builds and signs Responses, status responses and logout responses. Clock values and
/// randomness come in; XML bytes come out.
public struct SAMLResponseBuilder: Sendable {
    public var signer: XMLSigner
    public var random: any RandomSource
    /// How long an assertion and its bearer confirmation stay usable.
    public var lifetime: TimeInterval
    /// How far in the past Conditions NotBefore is set, for SP clocks that run behind.
    public var notBeforeSkew: TimeInterval

    public init(signer: XMLSigner, random: any RandomSource, lifetime: TimeInterval = 300, notBeforeSkew: TimeInterval = 60) {
        self.signer = signer; self.random = random; self.lifetime = lifetime; self.notBeforeSkew = notBeforeSkew
    }

    /// A fresh xs:ID: underscore and 160 random bits in hex.
    public func newID() -> String {
        let hex = Array("0123456789abcdef".utf8)
        var out: [UInt8] = [UInt8(ascii: "_")]
        out.reserveCapacity(41)
        for b in random.bytes(20) { out.append(hex[Int(b >> 4)]); out.append(hex[Int(b & 0x0F)]) }
        return String(decoding: out, as: UTF8.self)
    }

    /// A successful Response with exactly one Assertion. With `encryptor`, the Assertion is
    /// signed first (unless `signing` is `.response`), then encrypted into a
    /// `saml:EncryptedAssertion`; a Response signature then covers the EncryptedAssertion.
    /// With `nameIDEncryptor`, the Subject carries a `saml:EncryptedID` instead of its NameID
    /// (core §2.2.4), inside whatever is signed.
    public func response(
        _ c: SAMLAssertionContent, now: Date, signing: SAMLSigningChoice = .both,
        encryptor: XMLEncryptor? = nil, nameIDEncryptor: XMLEncryptor? = nil
    ) throws -> [UInt8] {
        let responseID = newID(), assertionID = newID()
        let instant = SAMLTime.format(now)
        let expires = SAMLTime.format(now.addingTimeInterval(lifetime))
        var nameID = Node.saml("NameID", [("Format", c.nameIDFormat.rawValue)])
        nameID.children = [.text(c.nameID)]
        if let nameIDEncryptor {
            let encrypted = try nameIDEncryptor.encrypt(nameID, inScopeNamespaces: ["saml": SAML.assertionNamespace], id: newID())
            nameID = Node.saml("EncryptedID", [], [.element(encrypted)])
        }
        let subject = Node.saml(
            "Subject", [],
            [
                .element(nameID),
                .element(
                    Node.saml(
                        "SubjectConfirmation", [("Method", SAML.bearer)],
                        [
                            // Never NotBefore here (profiles §4.1.4.2).
                            .element(
                                Node.saml(
                                    "SubjectConfirmationData",
                                    [
                                        ("InResponseTo", c.inResponseTo), ("NotOnOrAfter", expires),
                                        ("Recipient", c.acsURL),
                                    ]))
                        ])),
            ])
        let conditions = Node.saml(
            "Conditions",
            [
                ("NotBefore", SAMLTime.format(now.addingTimeInterval(-notBeforeSkew))),
                ("NotOnOrAfter", expires),
            ],
            [
                .element(Node.saml("AudienceRestriction", [], [.element(Node.text(Node.saml("Audience"), c.audience))]))
            ])
        let authn = Node.saml(
            "AuthnStatement",
            [
                ("AuthnInstant", SAMLTime.format(c.authnInstant)), ("SessionIndex", c.sessionIndex),
                ("SessionNotOnOrAfter", c.sessionNotOnOrAfter.map(SAMLTime.format)),
            ],
            [
                .element(Node.saml("AuthnContext", [], [.element(Node.text(Node.saml("AuthnContextClassRef"), c.authnContextClassRef))]))
            ])
        var assertionChildren: [DOMNode] = [.element(Node.text(Node.saml("Issuer"), c.issuer)), .element(subject), .element(conditions), .element(authn)]
        let attributes = c.attributes.filter { !$0.values.isEmpty }
        if !attributes.isEmpty {
            assertionChildren.append(
                .element(
                    Node.saml(
                        "AttributeStatement", [],
                        attributes.map { a in
                            .element(
                                Node.saml(
                                    "Attribute", [("Name", a.name), ("NameFormat", a.nameFormat)],
                                    a.values.map { .element(Node.text(Node.saml("AttributeValue"), $0)) }))
                        })))
        }
        var assertion = Node.saml("Assertion", [("ID", assertionID), ("IssueInstant", instant), ("Version", "2.0")], assertionChildren)
        assertion.namespaceDeclarations = [DOMNamespaceDeclaration(prefix: "saml", uri: SAML.assertionNamespace)]

        var response = Node.samlp(
            "Response",
            [
                ("Destination", c.acsURL), ("ID", responseID), ("InResponseTo", c.inResponseTo),
                ("IssueInstant", instant), ("Version", "2.0"),
            ],
            [
                .element(Node.text(Node.saml("Issuer"), c.issuer)),
                .element(Self.statusElement(.success)),
                .element(assertion),
            ])
        response.namespaceDeclarations = [
            DOMNamespaceDeclaration(prefix: "samlp", uri: SAML.protocolNamespace),
            DOMNamespaceDeclaration(prefix: "saml", uri: SAML.assertionNamespace),
        ]
        var document = DOMDocument(root: response)
        if signing != .response { document = try signer.signEnveloped(document, elementID: assertionID) }
        if let encryptor { document = try Self.encryptAssertion(document, with: encryptor, id: newID()) }
        if signing != .assertion { document = try signer.signEnveloped(document, elementID: responseID) }
        return document.serialized()
    }

    /// Replaces the Response's one (signed) Assertion with a `saml:EncryptedAssertion`.
    static func encryptAssertion(_ document: DOMDocument, with encryptor: XMLEncryptor, id: String) throws -> DOMDocument {
        guard
            let index = document.root.children.firstIndex(where: {
                $0.element.map { $0.localName == "Assertion" && $0.namespaceURI == SAML.assertionNamespace } ?? false
            }), let assertion = document.root.children[index].element
        else {
            throw XMLSecurityError(.elementNotFound, "the Response has no Assertion to encrypt")
        }
        let scope = document.root.namespacesInScope(above: [index], inherited: ["xml": XMLNamespace.xml])
        let encrypted = try encryptor.encrypt(assertion, inScopeNamespaces: scope, id: id)
        var result = document
        result.root.children[index] = .element(Node.saml("EncryptedAssertion", [], [.element(encrypted)]))
        return result
    }

    /// A signed Response carrying only a non-success status.
    public func statusResponse(issuer: String, destination: String, inResponseTo: String?, status: SAMLStatus, now: Date) throws -> [UInt8] {
        try statusMessage("Response", issuer: issuer, destination: destination, inResponseTo: inResponseTo, status: status, now: now)
    }

    /// A LogoutResponse, signed with an enveloped signature unless `sign` is false (HTTP-Redirect
    /// signs the query instead).
    public func logoutResponse(
        issuer: String, destination: String, inResponseTo: String?, status: SAMLStatus = .success, now: Date,
        sign: Bool = true
    ) throws -> [UInt8] {
        try statusMessage(
            "LogoutResponse", issuer: issuer, destination: destination, inResponseTo: inResponseTo, status: status, now: now,
            sign: sign)
    }

    /// A LogoutRequest to a service provider (IdP-side propagation, SAML profiles §4.4.3.4), signed
    /// with an enveloped signature unless `sign` is false (the HTTP-Redirect binding signs the
    /// query instead, and an XML signature must then be absent).
    public func logoutRequest(
        issuer: String, destination: String, nameID: String, nameIDFormat: String?, sessionIndex: String?,
        now: Date, lifetime: TimeInterval = 300, sign: Bool = true
    ) throws -> (id: String, xml: [UInt8]) {
        let id = newID()
        var children: [DOMNode] = [
            .element(Node.text(Node.saml("Issuer"), issuer)),
            .element(Node.text(Node.saml("NameID", [("Format", nameIDFormat)]), nameID)),
        ]
        if let sessionIndex { children.append(.element(Node.text(Node.samlp("SessionIndex"), sessionIndex))) }
        var root = Node.samlp(
            "LogoutRequest",
            [
                ("Destination", destination), ("ID", id), ("IssueInstant", SAMLTime.format(now)),
                ("NotOnOrAfter", SAMLTime.format(now.addingTimeInterval(lifetime))),
                ("Reason", "urn:oasis:names:tc:SAML:2.0:logout:user"), ("Version", "2.0"),
            ], children)
        root.namespaceDeclarations = [
            DOMNamespaceDeclaration(prefix: "samlp", uri: SAML.protocolNamespace),
            DOMNamespaceDeclaration(prefix: "saml", uri: SAML.assertionNamespace),
        ]
        let document = DOMDocument(root: root)
        return (id, sign ? try signer.signEnveloped(document, elementID: id).serialized() : document.serialized())
    }

    func statusMessage(
        _ name: String, issuer: String, destination: String, inResponseTo: String?, status: SAMLStatus, now: Date,
        sign: Bool = true
    ) throws -> [UInt8] {
        let id = newID()
        var root = Node.samlp(
            name,
            [
                ("Destination", destination), ("ID", id), ("InResponseTo", inResponseTo),
                ("IssueInstant", SAMLTime.format(now)), ("Version", "2.0"),
            ],
            [
                .element(Node.text(Node.saml("Issuer"), issuer)),
                .element(Self.statusElement(status)),
            ])
        root.namespaceDeclarations = [
            DOMNamespaceDeclaration(prefix: "samlp", uri: SAML.protocolNamespace),
            DOMNamespaceDeclaration(prefix: "saml", uri: SAML.assertionNamespace),
        ]
        let document = DOMDocument(root: root)
        return sign ? try signer.signEnveloped(document, elementID: id).serialized() : document.serialized()
    }

    static func statusElement(_ status: SAMLStatus) -> DOMElement {
        var code = Node.samlp("StatusCode", [("Value", status.code)])
        if let sub = status.subcode { code.children = [.element(Node.samlp("StatusCode", [("Value", sub)]))] }
        var children: [DOMNode] = [.element(code)]
        if let message = status.message { children.append(.element(Node.text(Node.samlp("StatusMessage"), message))) }
        return Node.samlp("Status", [], children)
    }
}
