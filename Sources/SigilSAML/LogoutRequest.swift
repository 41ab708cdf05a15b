import Foundation
import SigilXML
import X509

/// A parsed, not yet validated `samlp:LogoutRequest` (SAML core §3.7.1).
public struct LogoutRequest: Sendable, Equatable {
    public var id: String
    public var issuer: String?
    public var destination: String?
    public var issueInstant: Date?
    public var notOnOrAfter: Date?
    public var nameID: String?
    public var nameIDFormat: String?
    public var sessionIndexes: [String]
    /// Whether the document element carries an enveloped `ds:Signature`.
    public var hasEnvelopedSignature: Bool

    public init(
        id: String, issuer: String?, destination: String?, issueInstant: Date?, notOnOrAfter: Date?, nameID: String?,
        nameIDFormat: String?, sessionIndexes: [String], hasEnvelopedSignature: Bool
    ) {
        self.id = id; self.issuer = issuer; self.destination = destination; self.issueInstant = issueInstant
        self.notOnOrAfter = notOnOrAfter; self.nameID = nameID; self.nameIDFormat = nameIDFormat
        self.sessionIndexes = sessionIndexes; self.hasEnvelopedSignature = hasEnvelopedSignature
    }

    public static func parse(_ xml: [UInt8]) throws(SAMLError) -> LogoutRequest {
        let root: DOMElement
        do { root = try XMLDocumentParser.parse(xml).root } catch {
            throw SAMLError(.malformed, "the request is not acceptable XML", detail: "\(error)")
        }
        return try parse(element: root)
    }

    public static func parse(element root: DOMElement) throws(SAMLError) -> LogoutRequest {
        guard root.localName == "LogoutRequest", root.namespaceURI == SAML.protocolNamespace else {
            throw SAMLError(.unsupported, "the message is not a LogoutRequest", detail: root.qualifiedName)
        }
        guard let id = root.attribute("ID"), !id.isEmpty, id.utf8.count <= 256, root.attribute("Version") == "2.0" else {
            throw SAMLError(.malformed, "the LogoutRequest has no ID or is not SAML 2.0")
        }
        let issuers = root.childElements(named: "Issuer", namespaceURI: SAML.assertionNamespace)
        let nameIDs = root.childElements(named: "NameID", namespaceURI: SAML.assertionNamespace)
        guard issuers.count <= 1, nameIDs.count <= 1 else {
            throw SAMLError(.malformed, "the LogoutRequest has several Issuers or NameIDs")
        }
        if !root.childElements(named: "EncryptedID", namespaceURI: SAML.assertionNamespace).isEmpty {
            throw SAMLError(.unsupported, "encrypted NameIDs are not supported")
        }
        var instant: Date?
        if let text = root.attribute("IssueInstant") {
            guard let parsed = SAMLTime.parse(text) else { throw SAMLError(.malformed, "IssueInstant is not a date", detail: text) }
            instant = parsed
        }
        return LogoutRequest(
            id: id, issuer: issuers.first?.textContent.trimmed, destination: root.attribute("Destination"), issueInstant: instant,
            notOnOrAfter: root.attribute("NotOnOrAfter").flatMap(SAMLTime.parse),
            nameID: nameIDs.first?.textContent.trimmed, nameIDFormat: nameIDs.first?.attribute("Format"),
            sessionIndexes: root.childElements(named: "SessionIndex", namespaceURI: SAML.protocolNamespace).map { $0.textContent.trimmed },
            hasEnvelopedSignature: !root.childElements(named: "Signature", namespaceURI: SAML.dsigNamespace).isEmpty)
    }

    /// Whether this request names the principal and session the IdP gave the service provider:
    /// the same NameID value (and format, when the request states one other than unspecified),
    /// and, when the request lists SessionIndex values, one of them is the session's.
    public func names(nameID expected: String?, format expectedFormat: String?, sessionIndex expectedIndex: String?) -> Bool {
        guard let nameID, let expected, nameID == expected else { return false }
        if let format = nameIDFormat, format != NameIDFormat.unspecified.rawValue, let expectedFormat, format != expectedFormat { return false }
        if !sessionIndexes.isEmpty {
            guard let expectedIndex, sessionIndexes.contains(expectedIndex) else { return false }
        }
        return true
    }
}

/// A parsed `samlp:LogoutResponse` (SAML core §3.7.2, a StatusResponseType).
public struct LogoutResponse: Sendable, Equatable {
    public var id: String
    public var issuer: String?
    public var destination: String?
    public var inResponseTo: String?
    public var issueInstant: Date?
    public var statusCode: String
    public var statusSubcode: String?
    public var hasEnvelopedSignature: Bool

    public var isSuccess: Bool { statusCode == SAMLStatus.successCode }

    public static func parse(_ xml: [UInt8]) throws(SAMLError) -> LogoutResponse {
        let root: DOMElement
        do { root = try XMLDocumentParser.parse(xml).root } catch {
            throw SAMLError(.malformed, "the response is not acceptable XML", detail: "\(error)")
        }
        return try parse(element: root)
    }

    public static func parse(element root: DOMElement) throws(SAMLError) -> LogoutResponse {
        guard root.localName == "LogoutResponse", root.namespaceURI == SAML.protocolNamespace else {
            throw SAMLError(.unsupported, "the message is not a LogoutResponse", detail: root.qualifiedName)
        }
        guard let id = root.attribute("ID"), !id.isEmpty, id.utf8.count <= 256, root.attribute("Version") == "2.0" else {
            throw SAMLError(.malformed, "the LogoutResponse has no ID or is not SAML 2.0")
        }
        let issuers = root.childElements(named: "Issuer", namespaceURI: SAML.assertionNamespace)
        guard issuers.count <= 1 else { throw SAMLError(.malformed, "the LogoutResponse has several Issuers") }
        guard
            let code = root.firstChild(named: "Status", namespaceURI: SAML.protocolNamespace)?
                .firstChild(named: "StatusCode", namespaceURI: SAML.protocolNamespace),
            let value = code.attribute("Value")
        else {
            throw SAMLError(.malformed, "the LogoutResponse has no StatusCode")
        }
        return LogoutResponse(
            id: id, issuer: issuers.first?.textContent.trimmed, destination: root.attribute("Destination"),
            inResponseTo: root.attribute("InResponseTo"), issueInstant: root.attribute("IssueInstant").flatMap(SAMLTime.parse),
            statusCode: value, statusSubcode: code.firstChild(named: "StatusCode", namespaceURI: SAML.protocolNamespace)?.attribute("Value"),
            hasEnvelopedSignature: !root.childElements(named: "Signature", namespaceURI: SAML.dsigNamespace).isEmpty)
    }
}

/// Signatures on messages a service provider sends about logout: required, made with the SP's
/// registered certificate — the detached query signature for HTTP-Redirect, an enveloped
/// XML-DSig over the document element for HTTP-POST. Returns the element to read: for POST the
/// one rebuilt from the signed bytes (never the unsigned document), for Redirect the parsed XML
/// (the query signature covers the whole encoded message).
public enum SAMLSignedMessage {
    public static func verify(_ message: SAMLInboundMessage, certificatePEM: String?) throws(SAMLError) -> DOMElement {
        guard let certificatePEM, let certificate = try? Certificate(pemEncoded: certificatePEM) else {
            throw SAMLError(.signatureRequired, "logout messages must be signed, and no certificate is registered for the service provider")
        }
        if let signature = message.redirectSignature {
            guard message.binding == .redirect else { throw SAMLError(.signatureInvalid, "a query signature on a POST message") }
            try SAMLRedirectBinding.verify(signature, certificate: certificate)
            do { return try XMLDocumentParser.parse(message.xml).root } catch {
                throw SAMLError(.malformed, "the message is not acceptable XML", detail: "\(error)")
            }
        }
        guard message.binding == .post else {
            throw SAMLError(.signatureRequired, "logout messages must be signed (SigAlg and Signature on the query)")
        }
        do {
            let verifier = try XMLSignatureVerifier(trustedCertificates: [certificate])
            return try verifier.verifyEnveloped(message.xml, signedElement: .root).element
        } catch  where error.code == .signatureMissing {
            throw SAMLError(.signatureRequired, "logout messages must be signed (an enveloped signature)")
        } catch {
            throw SAMLError(.signatureInvalid, "the message signature does not verify", detail: "\(error)")
        }
    }
}

/// A LogoutRequest that passed every check but the session match (the caller's: it needs the
/// session's participants). Only `LogoutRequestValidator` makes one.
public struct ValidatedLogoutRequest: Sendable, Equatable {
    public let request: LogoutRequest
    public let serviceProvider: SAMLServiceProvider
    public let relayState: String?
}

public struct LogoutRequestRejection: Error, Sendable {
    public var error: SAMLError
    public var request: LogoutRequest?
    /// Set once the issuer is known and the signature verified: a status LogoutResponse may go back.
    public var trusted: SAMLServiceProvider?
}

/// The checks on an inbound LogoutRequest, in order: parse (hardened) → the Issuer is a registered
/// SP → signature (required: query signature or enveloped, with the SP's certificate; a POST
/// request is re-read from the signed bytes) → Destination is this SLO endpoint → IssueInstant
/// present and within the window → NotOnOrAfter not passed → a NameID. The request-ID replay check
/// and the NameID/SessionIndex match against the session are the caller's.
public struct LogoutRequestValidator: Sendable {
    public var sloURLs: Set<String>
    public var clockSkew: TimeInterval

    public init(sloURLs: Set<String>, clockSkew: TimeInterval = 300) {
        self.sloURLs = sloURLs; self.clockSkew = clockSkew
    }

    public func validate(
        _ message: SAMLInboundMessage, now: Date,
        serviceProvider lookup: (String) -> SAMLServiceProvider?
    ) -> Result<ValidatedLogoutRequest, LogoutRequestRejection> {
        func reject(_ e: SAMLError, _ r: LogoutRequest?, _ sp: SAMLServiceProvider? = nil) -> Result<ValidatedLogoutRequest, LogoutRequestRejection> {
            .failure(LogoutRequestRejection(error: e, request: r, trusted: sp))
        }
        let unverified: LogoutRequest
        do { unverified = try LogoutRequest.parse(message.xml) } catch { return reject(error, nil) }
        guard let issuer = unverified.issuer, let sp = lookup(issuer) else {
            return reject(SAMLError(.unknownIssuer, "the service provider is not registered", detail: unverified.issuer ?? "(no Issuer)"), unverified)
        }
        let request: LogoutRequest
        do {
            request = try LogoutRequest.parse(element: try SAMLSignedMessage.verify(message, certificatePEM: sp.certificatePEM))
        } catch {
            return reject(error, unverified)
        }
        guard request.issuer == sp.entityID else {
            return reject(SAMLError(.unknownIssuer, "the signed request names another issuer"), request)
        }
        guard let destination = request.destination, sloURLs.contains(destination) else {
            return reject(
                SAMLError(.wrongDestination, "the request was meant for another endpoint", detail: request.destination ?? "(none)"),
                request, sp)
        }
        guard let instant = request.issueInstant, abs(instant.timeIntervalSince(now)) <= clockSkew else {
            return reject(
                SAMLError(
                    .staleRequest, "the request is too old or from the future",
                    detail: "IssueInstant \(request.issueInstant.map(SAMLTime.format) ?? "(none)"), now \(SAMLTime.format(now))"),
                request, sp)
        }
        if let notOnOrAfter = request.notOnOrAfter, now >= notOnOrAfter.addingTimeInterval(clockSkew) {
            return reject(SAMLError(.staleRequest, "the request has expired (NotOnOrAfter)"), request, sp)
        }
        guard request.nameID?.isEmpty == false else {
            return reject(SAMLError(.malformed, "the LogoutRequest has no NameID"), request, sp)
        }
        return .success(ValidatedLogoutRequest(request: request, serviceProvider: sp, relayState: message.relayState))
    }
}

/// The checks on a LogoutResponse to a LogoutRequest this IdP sent: signed by the SP it went to,
/// `InResponseTo` is that request's ID, `Destination` (when present) is this SLO endpoint.
public struct LogoutResponseValidator: Sendable {
    public var sloURLs: Set<String>

    public init(sloURLs: Set<String>) { self.sloURLs = sloURLs }

    public func validate(_ message: SAMLInboundMessage, from sp: SAMLServiceProvider, inResponseTo expected: String) -> Result<LogoutResponse, SAMLError> {
        let response: LogoutResponse
        do {
            response = try LogoutResponse.parse(element: try SAMLSignedMessage.verify(message, certificatePEM: sp.certificatePEM))
        } catch { return .failure(error) }
        guard response.issuer == sp.entityID else {
            return .failure(SAMLError(.unexpectedResponse, "the response comes from another service provider", detail: response.issuer ?? "(none)"))
        }
        guard response.inResponseTo == expected else {
            return .failure(SAMLError(.unexpectedResponse, "the response answers another request", detail: response.inResponseTo ?? "(none)"))
        }
        if let destination = response.destination, !sloURLs.contains(destination) {
            return .failure(SAMLError(.wrongDestination, "the response was meant for another endpoint", detail: destination))
        }
        return .success(response)
    }
}
