import Crypto
import Foundation
import SigilCore
import SigilXML
import X509

/// The SAML trace's record of one validation: each check in order, passed or (the last) failed.
/// Details never carry a NameID or attribute value.
public final class SAMLCheckLog: @unchecked Sendable {
    public struct Check: Codable, Sendable, Equatable {
        public var name: String
        public var passed: Bool
        public var detail: String
    }

    public private(set) var checks: [Check] = []
    /// The check under way (named in a failure).
    public var step = "parse"

    public init() {}

    public func pass(_ name: String, _ detail: String) { checks.append(Check(name: name, passed: true, detail: detail)) }

    func fail(_ error: SAMLError) {
        checks.append(Check(name: step, passed: false, detail: "\(error.code): \(error.message)"))
    }
}

/// What an upstream identity provider asserted, read only from signed content.
public struct UpstreamAssertion: Sendable, Equatable, Codable {
    public var responseID: String
    public var assertionID: String
    public var issuer: String
    public var nameID: String
    public var nameIDFormat: String?
    public var sessionIndex: String?
    public var authnInstant: Date?
    public var authnContextClassRef: String?
    /// Attribute name → values, in document order.
    public var attributes: [String: [String]]
    public var inResponseTo: String?
    /// Until when the assertion could be presented (the earlier of the bearer confirmation's and
    /// the Conditions' NotOnOrAfter): how long its ID stays in the replay cache.
    public var usableUntil: Date
    public var sessionNotOnOrAfter: Date?
    /// Which signature the content was read under: `response`, `assertion` or `both`.
    public var signedBy: String
    /// Index, in the trusted certificates, of the certificate that verified.
    public var certificateIndex: Int
    public var encrypted: Bool

    public init(
        responseID: String, assertionID: String, issuer: String, nameID: String, nameIDFormat: String?, sessionIndex: String?,
        authnInstant: Date?, authnContextClassRef: String?, attributes: [String: [String]], inResponseTo: String?, usableUntil: Date,
        sessionNotOnOrAfter: Date?, signedBy: String, certificateIndex: Int, encrypted: Bool
    ) {
        self.responseID = responseID; self.assertionID = assertionID; self.issuer = issuer; self.nameID = nameID
        self.nameIDFormat = nameIDFormat; self.sessionIndex = sessionIndex; self.authnInstant = authnInstant
        self.authnContextClassRef = authnContextClassRef; self.attributes = attributes; self.inResponseTo = inResponseTo
        self.usableUntil = usableUntil; self.sessionNotOnOrAfter = sessionNotOnOrAfter; self.signedBy = signedBy
        self.certificateIndex = certificateIndex; self.encrypted = encrypted
    }
}

/// Validates a SAML Response from an upstream identity provider at Sigil's ACS (SAML core §3.3,
/// profiles §4.1.4.3, DESIGN §7): every value is read from the element a trusted certificate
/// signed (the verifier rebuilds it from the digested bytes, so signature wrapping cannot make
/// it read unsigned content), exactly one assertion, Destination, Issuer, status, InResponseTo
/// bound to the request, a bearer confirmation for this ACS within its time window, every
/// AudienceRestriction naming this SP, Conditions' window with bounded skew, an AuthnStatement.
/// A pure function: the clock, keys and expectations come in.
public struct SAMLResponseValidator: Sendable {
    public var idpEntityID: String
    public var trustedCertificates: [Certificate]
    public var spEntityID: String
    public var acsURL: String
    /// The ID of the AuthnRequest this browser started; nil accepts only unsolicited responses
    /// (no InResponseTo anywhere), which callers allow only when the connection opts in.
    public var inResponseTo: String?
    public var clockSkew: TimeInterval
    public var allowInsecureSHA1: Bool
    /// The connection's key, for encrypted assertions.
    public var decryptor: XMLDecryptor?

    public init(
        idpEntityID: String, trustedCertificates: [Certificate], spEntityID: String, acsURL: String, inResponseTo: String?,
        clockSkew: TimeInterval = 120, allowInsecureSHA1: Bool = false, decryptor: XMLDecryptor? = nil
    ) {
        self.idpEntityID = idpEntityID; self.trustedCertificates = trustedCertificates; self.spEntityID = spEntityID
        self.acsURL = acsURL; self.inResponseTo = inResponseTo; self.clockSkew = clockSkew
        self.allowInsecureSHA1 = allowInsecureSHA1; self.decryptor = decryptor
    }

    /// The Response's InResponseTo, read before anything is trusted: only to find the request
    /// it claims to answer (whose ID `validate` then requires in the signed content).
    public static func claimedInResponseTo(_ xml: [UInt8]) throws(SAMLError) -> String? {
        let root = try parse(xml).root
        try requireResponse(root)
        return root.attribute("InResponseTo")
    }

    static func parse(_ xml: [UInt8]) throws(SAMLError) -> DOMDocument {
        do { return try XMLDocumentParser.parse(xml) } catch {
            throw SAMLError(.malformed, "the response is not acceptable XML", detail: "\(error.code): \(error)")
        }
    }

    static func requireResponse(_ root: DOMElement) throws(SAMLError) {
        guard root.localName == "Response", root.namespaceURI == SAML.protocolNamespace else {
            throw SAMLError(.unsupported, "the message is not a SAML Response", detail: root.qualifiedName)
        }
        guard let id = root.attribute("ID"), !id.isEmpty, id.utf8.count <= 256, root.attribute("Version") == "2.0" else {
            throw SAMLError(.malformed, "the Response has no ID or is not SAML 2.0")
        }
    }

    public func validate(_ xml: [UInt8], now: Date) throws(SAMLError) -> UpstreamAssertion {
        try run(xml, now: now, log: nil)
    }

    /// `validate`, recording each check's verdict in plain language in `log` (the SAML trace):
    /// which certificate verified, which time window, which audience; the failed check last.
    public func validate(_ xml: [UInt8], now: Date, log: SAMLCheckLog) throws(SAMLError) -> UpstreamAssertion {
        do { return try run(xml, now: now, log: log) } catch {
            log.fail(error)
            throw error
        }
    }

    private func run(_ xml: [UInt8], now: Date, log: SAMLCheckLog?) throws(SAMLError) -> UpstreamAssertion {
        func fingerprint(_ index: Int) -> String {
            guard trustedCertificates.indices.contains(index), let der = (try? trustedCertificates[index].serializeAsPEM())?.derBytes else { return "?" }
            return "#\(index + 1) (SHA-256 \(hexEncoded(SHA256.hash(data: der)).prefix(16))…)"
        }
        log?.step = "parse"
        let original = try Self.parse(xml)
        try Self.requireResponse(original.root)
        log?.pass("parse", "a SAML 2.0 Response, \(xml.count) bytes, accepted by the hardened parser (no DTD, no entities)")
        let verifier: XMLSignatureVerifier
        do {
            verifier = try XMLSignatureVerifier(
                trustedCertificates: trustedCertificates, options: .init(allowInsecureSHA1: allowInsecureSHA1))
        } catch {
            throw SAMLError(.signatureInvalid, "the identity provider's certificate cannot be used", detail: "\(error)")
        }
        func signatureError(_ error: XMLSecurityError, _ what: String) -> SAMLError {
            switch error.code {
            case .signatureMissing: SAMLError(.signatureRequired, "the \(what) is not signed", detail: "\(error)")
            case .algorithmNotAllowed: SAMLError(.signatureInvalid, "the \(what) is signed with an algorithm that is not accepted", detail: "\(error)")
            case .malformed, .doctypeForbidden, .entityForbidden, .limitExceeded:
                SAMLError(.malformed, "the \(what) is not acceptable XML", detail: "\(error)")
            default:
                SAMLError(
                    .signatureInvalid, "the \(what)'s signature does not verify with the identity provider's certificate", detail: "\(error.code): \(error)")
            }
        }

        // 1. The Response: its own signature, if any, and from then on only the signed bytes.
        var response = original.root
        var working = original
        var responseSigned = false
        var keyIndex = -1
        if !original.root.childElements(named: "Signature", namespaceURI: SAML.dsigNamespace).isEmpty {
            let verified: VerifiedXMLElement
            do { verified = try verifier.verifyEnveloped(original, signedElement: .root) } catch { throw signatureError(error, "response") }
            responseSigned = true
            keyIndex = verified.keyIndex
            log?.pass(
                "response signature",
                "verified with the IdP certificate \(fingerprint(verified.keyIndex)), \(verified.signatureAlgorithm), digest \(verified.digestAlgorithm); only the signed bytes are read from here on"
            )
            working = try Self.parse(verified.canonicalBytes)
            response = verified.element
        }
        let responseID = response.attribute("ID") ?? ""
        if !responseSigned { log?.pass("response signature", "none on the Response; the assertion must be signed") }
        log?.step = "response issuer, destination, status"

        // 2. Who sent it, to where, with what status, answering what.
        let responseIssuers = response.childElements(named: "Issuer", namespaceURI: SAML.assertionNamespace)
        guard responseIssuers.count <= 1 else { throw SAMLError(.malformed, "the Response has several Issuers") }
        if let issuer = responseIssuers.first?.textContent.trimmed, issuer != idpEntityID {
            throw SAMLError(.wrongIssuer, "the response comes from \(issuer), not from this connection's identity provider", detail: issuer)
        }
        let encryptedAssertions = response.childElements(named: "EncryptedAssertion", namespaceURI: SAML.assertionNamespace)
        let plainAssertions = response.childElements(named: "Assertion", namespaceURI: SAML.assertionNamespace)
        if let destination = response.attribute("Destination") {
            guard destination == acsURL else {
                throw SAMLError(.wrongDestination, "the response is addressed to another endpoint", detail: destination)
            }
        } else if responseSigned || !encryptedAssertions.isEmpty {
            // Bindings §3.5.5.2: a signed Response, or one with an encrypted assertion, names its Destination.
            throw SAMLError(.wrongDestination, "the signed response does not name its Destination")
        }
        guard let status = response.firstChild(named: "Status", namespaceURI: SAML.protocolNamespace),
            let code = status.firstChild(named: "StatusCode", namespaceURI: SAML.protocolNamespace)?.attribute("Value")
        else {
            throw SAMLError(.malformed, "the Response has no StatusCode")
        }
        guard code == SAMLStatus.successCode else {
            let sub = status.firstChild(named: "StatusCode", namespaceURI: SAML.protocolNamespace)?
                .firstChild(named: "StatusCode", namespaceURI: SAML.protocolNamespace)?.attribute("Value")
            let message = status.firstChild(named: "StatusMessage", namespaceURI: SAML.protocolNamespace)?.textContent.trimmed
            let short = [code, sub].compactMap { $0?.split(separator: ":").last.map(String.init) }.joined(separator: "/")
            throw SAMLError(
                .failedStatus, "the identity provider did not sign you in (\(short))\(message.map { ": \(String($0.prefix(200)))" } ?? "")",
                detail: [code, sub ?? ""].joined(separator: " "))
        }
        log?.pass(
            "response issuer, destination, status",
            "Issuer \(responseIssuers.first?.textContent.trimmed ?? "(none)"), Destination \(response.attribute("Destination") ?? "(none)") (this ACS: \(acsURL)), status Success"
        )
        log?.step = "InResponseTo"
        let responseInResponseTo = response.attribute("InResponseTo")
        if let expected = inResponseTo {
            if let got = responseInResponseTo, got != expected {
                throw SAMLError(.unexpectedResponse, "the response answers another request", detail: got)
            }
        } else if responseInResponseTo != nil {
            throw SAMLError(.unexpectedResponse, "the response answers a request this service provider does not know")
        }

        log?.pass("InResponseTo", inResponseTo.map { "answers this browser's request \($0)" } ?? "unsolicited (allowed by this connection)")
        log?.step = "assertion"
        // 3. Exactly one assertion, read only from signed content.
        guard encryptedAssertions.count + plainAssertions.count == 1 else {
            throw SAMLError(.malformed, "the response must carry exactly one assertion (it has \(encryptedAssertions.count + plainAssertions.count))")
        }
        var assertion: DOMElement
        var assertionSigned = false
        var encrypted = false
        var encryptionName: String?
        if let plain = plainAssertions.first {
            if !plain.childElements(named: "Signature", namespaceURI: SAML.dsigNamespace).isEmpty {
                let verified: VerifiedXMLElement
                do { verified = try verifier.verifyEnveloped(working, signedElement: .samlAssertion) } catch { throw signatureError(error, "assertion") }
                assertion = verified.element
                assertionSigned = true
                keyIndex = verified.keyIndex
            } else {
                guard responseSigned else { throw SAMLError(.signatureRequired, "neither the response nor its assertion is signed") }
                assertion = plain
            }
        } else {
            guard let decryptor else {
                throw SAMLError(.unsupported, "the assertion is encrypted and this connection has no decryption key")
            }
            let container = encryptedAssertions[0]
            guard let index = response.children.firstIndex(where: { $0.element == container }),
                let dataIndex = container.children.firstIndex(where: {
                    $0.element.map { $0.localName == "EncryptedData" && $0.namespaceURI == XMLNamespace.xenc } ?? false
                })
            else {
                throw SAMLError(.malformed, "the EncryptedAssertion has no EncryptedData")
            }
            let data = container.children[dataIndex].element!
            let keys = container.childElements(named: "EncryptedKey", namespaceURI: XMLNamespace.xenc)
            let scope = response.namespacesInScope(above: [index, dataIndex], inherited: ["xml": XMLNamespace.xml])
            // AES-CBC is not authenticated: decrypted only when the Response's signature, verified
            // above, covers the ciphertext (otherwise a padding oracle). AES-GCM either way.
            let algorithm = Self.contentEncryption(of: data)
            if let algorithm, XMLContentEncryption.cbc.contains(algorithm), !responseSigned {
                throw SAMLError(
                    .unsupported,
                    "the assertion is encrypted with AES-CBC inside an unsigned Response; Sigil decrypts AES-CBC only when the Response is signed: sign the Response at the identity provider, or encrypt with AES-GCM",
                    detail: algorithm.uri)
            }
            let decrypted: DOMElement
            do { decrypted = try decryptor.allowing(cbc: responseSigned).decrypt(data, inScopeNamespaces: scope, siblingKeys: keys) } catch {
                throw Self.decryptionError(error, what: "assertion")
            }
            guard decrypted.localName == "Assertion", decrypted.namespaceURI == SAML.assertionNamespace else {
                throw SAMLError(.malformed, "the encrypted content is not an Assertion")
            }
            encrypted = true
            encryptionName = algorithm.map(Self.shortName)
            if !decrypted.childElements(named: "Signature", namespaceURI: SAML.dsigNamespace).isEmpty {
                var standalone = decrypted
                // The plaintext was parsed with the Response's bindings; declare them on it.
                for (prefix, uri) in scope where prefix != "xml" && !standalone.namespaceDeclarations.contains(where: { ($0.prefix ?? "") == prefix }) {
                    standalone.namespaceDeclarations.append(DOMNamespaceDeclaration(prefix: prefix.isEmpty ? nil : prefix, uri: uri))
                }
                let verified: VerifiedXMLElement
                do { verified = try verifier.verifyEnveloped(DOMDocument(root: standalone), signedElement: .root) } catch {
                    throw signatureError(error, "assertion")
                }
                assertion = verified.element
                assertionSigned = true
                keyIndex = verified.keyIndex
            } else {
                guard responseSigned else { throw SAMLError(.signatureRequired, "neither the response nor its assertion is signed") }
                assertion = decrypted
            }
        }

        log?.pass(
            "assertion",
            (encrypted
                ? "one EncryptedAssertion, decrypted with the connection's key (\(encryptionName ?? "?")); " : "one Assertion; ")
                + (assertionSigned ? "its own signature verified with the IdP certificate \(fingerprint(keyIndex))" : "covered by the Response signature"))
        log?.step = "assertion issuer and subject"
        // 4. The assertion itself.
        guard let assertionID = assertion.attribute("ID"), !assertionID.isEmpty, assertion.attribute("Version") == "2.0" else {
            throw SAMLError(.malformed, "the Assertion has no ID or is not SAML 2.0")
        }
        let issuers = assertion.childElements(named: "Issuer", namespaceURI: SAML.assertionNamespace)
        guard issuers.count == 1, let issuer = issuers.first?.textContent.trimmed else {
            throw SAMLError(.malformed, "the Assertion must have one Issuer")
        }
        guard issuer == idpEntityID else {
            throw SAMLError(.wrongIssuer, "the assertion comes from \(issuer), not from this connection's identity provider", detail: issuer)
        }
        let subjects = assertion.childElements(named: "Subject", namespaceURI: SAML.assertionNamespace)
        guard subjects.count == 1 else { throw SAMLError(.malformed, "the Assertion must have one Subject") }
        let subject = subjects[0]
        let encryptedIDs = subject.childElements(named: "EncryptedID", namespaceURI: SAML.assertionNamespace)
        let plainNameIDs = subject.childElements(named: "NameID", namespaceURI: SAML.assertionNamespace)
        guard plainNameIDs.count + encryptedIDs.count == 1 else { throw SAMLError(.malformed, "the Subject must have one NameID") }
        let nameIDElement: DOMElement
        var nameIDNote = ""
        if let container = encryptedIDs.first {
            // Core §2.2.4. The EncryptedID sits in signed content (the Response's or the
            // assertion's signature, both verified by now), so AES-CBC is authenticated here.
            nameIDElement = try decryptNameID(container, in: assertion, subject: subject)
            nameIDNote = " (an EncryptedID, decrypted with the connection's key)"
        } else {
            nameIDElement = plainNameIDs[0]
        }
        // `textContent` skips comments: `alice@x<!---->.evil` reads as the whole `alice@x.evil`.
        let nameID = nameIDElement.textContent.trimmed
        guard !nameID.isEmpty, nameID.utf8.count <= 512 else { throw SAMLError(.malformed, "the NameID is empty or too long") }

        log?.pass(
            "assertion issuer and subject",
            "Issuer \(issuer) (this connection's IdP); NameID\(nameIDNote) of \(nameID.count) characters, format \(nameIDElement.attribute("Format") ?? "unspecified"), read whole"
        )
        log?.step = "bearer confirmation"
        // Bearer confirmation: this ACS, in its window, for this request.
        var confirmationFailure: SAMLError?
        var confirmedUntil: Date?
        for confirmation in subject.childElements(named: "SubjectConfirmation", namespaceURI: SAML.assertionNamespace)
        where confirmation.attribute("Method") == SAML.bearer {
            guard let data = confirmation.firstChild(named: "SubjectConfirmationData", namespaceURI: SAML.assertionNamespace) else {
                confirmationFailure = confirmationFailure ?? SAMLError(.malformed, "the bearer confirmation has no SubjectConfirmationData")
                continue
            }
            guard data.attribute("Recipient") == acsURL else {
                confirmationFailure = SAMLError(
                    .wrongRecipient, "the assertion is for another recipient", detail: data.attribute("Recipient") ?? "(none)")
                continue
            }
            guard let until = data.attribute("NotOnOrAfter").flatMap(SAMLTime.parse) else {
                confirmationFailure = SAMLError(.malformed, "the bearer confirmation has no NotOnOrAfter")
                continue
            }
            guard now < until.addingTimeInterval(clockSkew) else {
                confirmationFailure = SAMLError(.expired, "the assertion has expired", detail: "confirmation NotOnOrAfter \(SAMLTime.format(until))")
                continue
            }
            if let notBefore = data.attribute("NotBefore").flatMap(SAMLTime.parse), now.addingTimeInterval(clockSkew) < notBefore {
                confirmationFailure = SAMLError(.notYetValid, "the assertion is not valid yet", detail: "confirmation NotBefore \(SAMLTime.format(notBefore))")
                continue
            }
            let answered = data.attribute("InResponseTo")
            guard answered == inResponseTo else {
                confirmationFailure = SAMLError(
                    inResponseTo == nil ? .unexpectedResponse : .unexpectedResponse,
                    inResponseTo == nil ? "the assertion answers a request this service provider does not know" : "the assertion answers another request",
                    detail: answered ?? "(none)")
                continue
            }
            confirmedUntil = until
            break
        }
        guard let confirmedUntil else {
            throw confirmationFailure ?? SAMLError(.malformed, "the assertion has no bearer SubjectConfirmation")
        }

        log?.pass(
            "bearer confirmation",
            "Recipient \(acsURL), NotOnOrAfter \(SAMLTime.format(confirmedUntil)) (now \(SAMLTime.format(now)), skew \(Int(clockSkew)) s)")
        log?.step = "conditions"
        // Conditions: window and audience.
        let conditionsList = assertion.childElements(named: "Conditions", namespaceURI: SAML.assertionNamespace)
        guard conditionsList.count <= 1 else { throw SAMLError(.malformed, "the Assertion has several Conditions") }
        var usableUntil = confirmedUntil
        guard let conditions = conditionsList.first else {
            throw SAMLError(.wrongAudience, "the assertion names no audience (AudienceRestriction)")
        }
        if let notBefore = conditions.attribute("NotBefore").flatMap(SAMLTime.parse), now.addingTimeInterval(clockSkew) < notBefore {
            throw SAMLError(.notYetValid, "the assertion is not valid yet", detail: "Conditions NotBefore \(SAMLTime.format(notBefore))")
        }
        if let notOnOrAfter = conditions.attribute("NotOnOrAfter").flatMap(SAMLTime.parse) {
            guard now < notOnOrAfter.addingTimeInterval(clockSkew) else {
                throw SAMLError(.expired, "the assertion has expired", detail: "Conditions NotOnOrAfter \(SAMLTime.format(notOnOrAfter))")
            }
            usableUntil = min(usableUntil, notOnOrAfter)
        }
        let restrictions = conditions.childElements(named: "AudienceRestriction", namespaceURI: SAML.assertionNamespace)
        guard !restrictions.isEmpty else { throw SAMLError(.wrongAudience, "the assertion names no audience (AudienceRestriction)") }
        for restriction in restrictions {
            let audiences = restriction.childElements(named: "Audience", namespaceURI: SAML.assertionNamespace).map { $0.textContent.trimmed }
            guard audiences.contains(spEntityID) else {
                throw SAMLError(.wrongAudience, "the assertion is for another audience", detail: audiences.joined(separator: " "))
            }
        }

        log?.pass(
            "conditions",
            "NotBefore \(conditions.attribute("NotBefore") ?? "(none)"), NotOnOrAfter \(conditions.attribute("NotOnOrAfter") ?? "(none)"), now \(SAMLTime.format(now)); every AudienceRestriction names \(spEntityID)"
        )
        log?.step = "authentication statement"
        // AuthnStatement (profiles §4.1.4.2: at least one).
        guard let authn = assertion.firstChild(named: "AuthnStatement", namespaceURI: SAML.assertionNamespace) else {
            throw SAMLError(.malformed, "the assertion has no AuthnStatement")
        }
        let sessionNotOnOrAfter = authn.attribute("SessionNotOnOrAfter").flatMap(SAMLTime.parse)
        if let sessionNotOnOrAfter, sessionNotOnOrAfter <= now {
            throw SAMLError(.expired, "the identity provider's session has ended", detail: "SessionNotOnOrAfter \(SAMLTime.format(sessionNotOnOrAfter))")
        }
        let classRef = authn.firstChild(named: "AuthnContext", namespaceURI: SAML.assertionNamespace)?
            .firstChild(named: "AuthnContextClassRef", namespaceURI: SAML.assertionNamespace)?.textContent.trimmed

        log?.pass(
            "authentication statement",
            "AuthnInstant \(authn.attribute("AuthnInstant") ?? "(none)"), AuthnContextClassRef \(classRef ?? "(none)")")
        var attributes: [String: [String]] = [:]
        for statement in assertion.childElements(named: "AttributeStatement", namespaceURI: SAML.assertionNamespace) {
            for attribute in statement.childElements(named: "Attribute", namespaceURI: SAML.assertionNamespace) {
                guard let name = attribute.attribute("Name"), !name.isEmpty else { continue }
                let values = attribute.childElements(named: "AttributeValue", namespaceURI: SAML.assertionNamespace).map { $0.textContent.trimmed }
                attributes[name, default: []] += values
            }
        }
        let names = attributes.keys.sorted().map { "\($0) (\(attributes[$0]!.count))" }.joined(separator: ", ")
        log?.pass("attributes", names.isEmpty ? "none" : names)
        return UpstreamAssertion(
            responseID: responseID, assertionID: assertionID, issuer: issuer, nameID: nameID, nameIDFormat: nameIDElement.attribute("Format"),
            sessionIndex: authn.attribute("SessionIndex"), authnInstant: authn.attribute("AuthnInstant").flatMap(SAMLTime.parse),
            authnContextClassRef: classRef, attributes: attributes, inResponseTo: inResponseTo, usableUntil: usableUntil,
            sessionNotOnOrAfter: sessionNotOnOrAfter,
            signedBy: responseSigned && assertionSigned ? "both" : (assertionSigned ? "assertion" : "response"),
            certificateIndex: keyIndex, encrypted: encrypted)
    }
}

extension SAMLResponseValidator {
    /// The content-encryption algorithm an `xenc:EncryptedData` names, if Sigil knows it.
    static func contentEncryption(of data: DOMElement) -> XMLContentEncryption? {
        data.firstChild(named: "EncryptionMethod", namespaceURI: XMLNamespace.xenc)?.attribute("Algorithm").flatMap(XMLContentEncryption.init)
    }

    static func shortName(_ algorithm: XMLContentEncryption) -> String {
        String(algorithm.uri.split(separator: "#").last ?? "")
    }

    /// One message per way decryption can fail: the algorithm lists are the IdP admin's to fix;
    /// everything cryptographic is the same "cannot be decrypted" (no oracle on which step failed).
    static func decryptionError(_ error: XMLSecurityError, what: String) -> SAMLError {
        switch error.code {
        case .algorithmNotAllowed:
            SAMLError(
                .unsupported,
                "the \(what) is encrypted with an algorithm Sigil does not accept (content: AES-GCM, or AES-CBC inside a signed Response; key transport: RSA-OAEP)",
                detail: "\(error)")
        default:
            SAMLError(.decryptionFailed, "the encrypted \(what) cannot be decrypted with this connection's key", detail: "\(error)")
        }
    }

    /// The NameID inside a Subject's `saml:EncryptedID` (core §2.2.4): one EncryptedData, its key in
    /// its KeyInfo or a sibling EncryptedKey, the plaintext exactly one `saml:NameID`.
    func decryptNameID(_ container: DOMElement, in assertion: DOMElement, subject: DOMElement) throws(SAMLError) -> DOMElement {
        guard let decryptor else {
            throw SAMLError(.unsupported, "the NameID is encrypted and this connection has no decryption key")
        }
        let data = container.childElements(named: "EncryptedData", namespaceURI: XMLNamespace.xenc)
        guard data.count == 1 else { throw SAMLError(.malformed, "the EncryptedID must hold one EncryptedData") }
        let keys = container.childElements(named: "EncryptedKey", namespaceURI: XMLNamespace.xenc)
        var scope = assertion.applyingDeclarations(to: ["xml": XMLNamespace.xml, "saml": SAML.assertionNamespace, "saml2": SAML.assertionNamespace])
        scope = subject.applyingDeclarations(to: scope)
        scope = container.applyingDeclarations(to: scope)
        let nameID: DOMElement
        // The EncryptedID is inside content whose signature was verified: AES-CBC is authenticated here.
        do { nameID = try decryptor.allowing(cbc: true).decrypt(data[0], inScopeNamespaces: scope, siblingKeys: keys) } catch {
            throw Self.decryptionError(error, what: "NameID")
        }
        guard nameID.localName == "NameID", nameID.namespaceURI == SAML.assertionNamespace else {
            throw SAMLError(.malformed, "the EncryptedID does not hold a NameID")
        }
        return nameID
    }
}
