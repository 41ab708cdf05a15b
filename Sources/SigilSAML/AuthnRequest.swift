import Foundation
import SigilXML
import X509

/// A parsed, not yet validated `samlp:AuthnRequest` (SAML core §3.4.1).
public struct AuthnRequest: Sendable, Equatable {
    public var id: String
    public var version: String
    public var issueInstant: Date?
    public var destination: String?
    public var issuer: String?
    public var assertionConsumerServiceURL: String?
    public var assertionConsumerServiceIndex: Int?
    public var protocolBinding: String?
    public var forceAuthn: Bool
    public var isPassive: Bool
    public var nameIDPolicyFormat: String?
    public var nameIDPolicyAllowCreate: Bool?
    public var requestedAuthnContextClassRefs: [String]
    /// Whether the document element carries an enveloped `ds:Signature`.
    public var hasEnvelopedSignature: Bool

    /// Parses with SigilXML's hardened parser (no DTDs, no entities, size limits).
    public static func parse(_ xml: [UInt8]) throws(SAMLError) -> AuthnRequest {
        let document: DOMDocument
        do { document = try XMLDocumentParser.parse(xml) } catch {
            throw SAMLError(.malformed, "the request is not acceptable XML", detail: "\(error)")
        }
        return try parse(element: document.root)
    }

    public static func parse(element root: DOMElement) throws(SAMLError) -> AuthnRequest {
        guard root.localName == "AuthnRequest", root.namespaceURI == SAML.protocolNamespace else {
            throw SAMLError(.unsupported, "the message is not an AuthnRequest", detail: root.qualifiedName)
        }
        guard let id = root.attribute("ID"), !id.isEmpty, id.utf8.count <= 256 else {
            throw SAMLError(.malformed, "the AuthnRequest has no ID")
        }
        let version = root.attribute("Version") ?? ""
        guard version == "2.0" else { throw SAMLError(.unsupported, "only SAML 2.0 is supported", detail: version) }
        func bool(_ name: String) throws(SAMLError) -> Bool {
            switch root.attribute(name) {
            case nil, "false", "0": return false
            case "true", "1": return true
            case let other?: throw SAMLError(.malformed, "\(name) is not a boolean", detail: other)
            }
        }
        var index: Int?
        if let text = root.attribute("AssertionConsumerServiceIndex") {
            guard let i = Int(text), i >= 0 else { throw SAMLError(.malformed, "AssertionConsumerServiceIndex is not a number") }
            index = i
        }
        let issuers = root.childElements(named: "Issuer", namespaceURI: SAML.assertionNamespace)
        guard issuers.count <= 1 else { throw SAMLError(.malformed, "the AuthnRequest has several Issuers") }
        let policy = root.firstChild(named: "NameIDPolicy", namespaceURI: SAML.protocolNamespace)
        let allowCreate = policy?.attribute("AllowCreate").map { $0 == "true" || $0 == "1" }
        let requested =
            root.firstChild(named: "RequestedAuthnContext", namespaceURI: SAML.protocolNamespace)?
            .childElements(named: "AuthnContextClassRef", namespaceURI: SAML.assertionNamespace).map { $0.textContent.trimmed } ?? []
        guard let issueInstantText = root.attribute("IssueInstant") else {
            throw SAMLError(.malformed, "the AuthnRequest has no IssueInstant")
        }
        guard let issueInstant = SAMLTime.parse(issueInstantText) else {
            throw SAMLError(.malformed, "IssueInstant is not a date", detail: issueInstantText)
        }
        return AuthnRequest(
            id: id, version: version, issueInstant: issueInstant, destination: root.attribute("Destination"),
            issuer: issuers.first.map { $0.textContent.trimmed },
            assertionConsumerServiceURL: root.attribute("AssertionConsumerServiceURL"), assertionConsumerServiceIndex: index,
            protocolBinding: root.attribute("ProtocolBinding"), forceAuthn: try bool("ForceAuthn"), isPassive: try bool("IsPassive"),
            nameIDPolicyFormat: policy?.attribute("Format"), nameIDPolicyAllowCreate: allowCreate,
            requestedAuthnContextClassRefs: requested,
            hasEnvelopedSignature: !root.childElements(named: "Signature", namespaceURI: SAML.dsigNamespace).isEmpty)
    }
}

extension String {
    var trimmed: String { trimmingCharacters(in: .whitespacesAndNewlines) }
}

/// What the IdP knows about a service provider, as the protocol core needs it.
public struct SAMLServiceProvider: Sendable, Equatable {
    public struct ACS: Sendable, Equatable {
        public var url: String
        /// Nil: a binding Sigil does not know (never answered at).
        public var binding: SAMLBinding?
        public var index: Int
        public var isDefault: Bool
        public init(url: String, binding: SAMLBinding?, index: Int, isDefault: Bool) {
            self.url = url; self.binding = binding; self.index = index; self.isDefault = isDefault
        }
    }

    public var entityID: String
    public var acs: [ACS]
    public var nameIDFormat: NameIDFormat
    /// PEM; verifies signed requests.
    public var certificatePEM: String?
    public var requireSignedRequests: Bool

    public init(entityID: String, acs: [ACS], nameIDFormat: NameIDFormat, certificatePEM: String?, requireSignedRequests: Bool) {
        self.entityID = entityID; self.acs = acs; self.nameIDFormat = nameIDFormat
        self.certificatePEM = certificatePEM; self.requireSignedRequests = requireSignedRequests
    }

    /// The default ACS: the one marked default, else the lowest index, POST binding only.
    public var defaultACS: ACS? {
        let post = acs.filter { $0.binding == .httpPOST }
        return post.first(where: \.isDefault) ?? post.min { $0.index < $1.index }
    }
}

/// An AuthnRequest that passed every check; only `AuthnRequestValidator` makes one.
public struct ValidatedAuthnRequest: Sendable, Equatable {
    public let request: AuthnRequest
    public let serviceProvider: SAMLServiceProvider
    /// Where the Response goes (Destination and Recipient), exactly as registered/requested.
    public let acsURL: String
    public let nameIDFormat: NameIDFormat
    /// The request's signature was verified with the SP's registered certificate.
    public let signed: Bool
    public let relayState: String?
    /// The request carried a signature (either binding) that could not be checked because the SP
    /// has no certificate registered; it was handled exactly as an unsigned request.
    public var signatureUnchecked: Bool = false
}

/// A rejected request, with whether the requester is trustworthy enough to receive a SAML
/// status response at a registered ACS (otherwise the browser sees an error page).
public struct AuthnRequestRejection: Error, Sendable {
    public var error: SAMLError
    public var request: AuthnRequest?
    /// Set when a status response may go to the service provider: the issuer is known and the
    /// ACS is registered.
    public var respondTo: (serviceProvider: SAMLServiceProvider, acsURL: String)?
}

/// The checks on an inbound AuthnRequest (SAML core §3.4.1, profiles §4.1.4.1), in order:
/// decode → parse (hardened) → known issuer → signature (required or present) → ACS registered
/// → Destination → IssueInstant window → NameIDPolicy. The replay check is the caller's (it needs
/// storage): `ValidatedAuthnRequest.request.id`.
public struct AuthnRequestValidator: Sendable {
    /// This IdP's SSO endpoint URLs (one per binding, often the same).
    public var ssoURLs: Set<String>
    /// Allowed distance between IssueInstant and now, both ways.
    public var clockSkew: TimeInterval

    public init(ssoURLs: Set<String>, clockSkew: TimeInterval = 300) {
        self.ssoURLs = ssoURLs; self.clockSkew = clockSkew
    }

    public func validate(
        _ message: SAMLInboundMessage, now: Date,
        serviceProvider lookup: (String) -> SAMLServiceProvider?
    ) -> Result<ValidatedAuthnRequest, AuthnRequestRejection> {
        // Parse, just to learn the issuer: nothing but the issuer is read before the signature check.
        let unverified: AuthnRequest
        do { unverified = try AuthnRequest.parse(message.xml) } catch {
            return .failure(AuthnRequestRejection(error: error, request: nil, respondTo: nil))
        }
        return validate(message, unverified: unverified, now: now, serviceProvider: lookup)
    }

    /// The same, for a caller that already parsed the message to find its issuer (and must not
    /// trust anything else in `unverified` until this returns).
    public func validate(
        _ message: SAMLInboundMessage, unverified: AuthnRequest, now: Date,
        serviceProvider lookup: (String) -> SAMLServiceProvider?
    ) -> Result<ValidatedAuthnRequest, AuthnRequestRejection> {
        func reject(_ e: SAMLError, _ r: AuthnRequest? = nil, _ to: (serviceProvider: SAMLServiceProvider, acsURL: String)? = nil) -> Result<
            ValidatedAuthnRequest, AuthnRequestRejection
        > {
            .failure(AuthnRequestRejection(error: e, request: r, respondTo: to))
        }
        guard let issuer = unverified.issuer, let sp = lookup(issuer) else {
            return reject(SAMLError(.unknownIssuer, "the service provider is not registered", detail: unverified.issuer ?? "(no Issuer)"), unverified)
        }
        // Signature, the same rule for both bindings (docs/saml.md "Signed requests"):
        // - the SP has a certificate: a signature that is present must verify (a POST-signed
        //   request is then re-read from the signed bytes only); "require signed requests" refuses
        //   an unsigned one;
        // - no certificate: a signature cannot be checked, so the request is handled exactly as
        //   an unsigned one (it gains nothing from being signed) and the caller audits that.
        //   Okta and many SPs sign AuthnRequests by default; refusing them would break sign-in
        //   for an SP whose unsigned requests are accepted anyway.
        var request = unverified
        var signed = false
        var unchecked = false
        let certificate = sp.certificatePEM.flatMap { try? Certificate(pemEncoded: $0) }
        let carriesSignature = message.redirectSignature != nil || (message.binding == .post && unverified.hasEnvelopedSignature)
        if carriesSignature && certificate == nil {
            unchecked = true
        } else if let redirectSignature = message.redirectSignature, let certificate {
            do { try SAMLRedirectBinding.verify(redirectSignature, certificate: certificate) } catch { return reject(error, unverified) }
            signed = true
        } else if message.binding == .post, unverified.hasEnvelopedSignature, let certificate {
            do {
                let verifier = try XMLSignatureVerifier(trustedCertificates: [certificate])
                let verified = try verifier.verifyEnveloped(message.xml, signedElement: .root)
                request = try AuthnRequest.parse(element: verified.element)
                request.hasEnvelopedSignature = true
            } catch let e as SAMLError {
                return reject(e, unverified)
            } catch {
                return reject(SAMLError(.signatureInvalid, "the request signature does not verify", detail: "\(error)"), unverified)
            }
            signed = true
        }
        if sp.requireSignedRequests && !signed {
            return reject(SAMLError(.signatureRequired, "this service provider must sign its requests"), unverified)
        }
        // ACS: by URL (exact string) or by index; the SP's default otherwise. Only HTTP-POST responses.
        let acs: SAMLServiceProvider.ACS?
        if let url = request.assertionConsumerServiceURL {
            acs = sp.acs.first { $0.url == url && $0.binding == .httpPOST }
        } else if let index = request.assertionConsumerServiceIndex {
            acs = sp.acs.first { $0.index == index && $0.binding == .httpPOST }
        } else {
            acs = sp.defaultACS
        }
        guard let acs else {
            return reject(
                SAMLError(
                    .unregisteredACS, "the assertion consumer service is not registered for this service provider",
                    detail: request.assertionConsumerServiceURL ?? "index \(request.assertionConsumerServiceIndex.map(String.init) ?? "-")"), request)
        }
        if let binding = request.protocolBinding, SAMLBinding(rawValue: binding) != .httpPOST {
            return reject(SAMLError(.unsupported, "only the HTTP-POST response binding is supported", detail: binding), request, (sp, acs.url))
        }
        // From here the SP can get a status response at a registered ACS.
        if let destination = request.destination {
            guard ssoURLs.contains(destination) else {
                return reject(SAMLError(.wrongDestination, "the request was meant for another endpoint", detail: destination), request, (sp, acs.url))
            }
        } else if signed {
            return reject(SAMLError(.wrongDestination, "a signed request must carry a Destination"), request, (sp, acs.url))
        }
        if let instant = request.issueInstant, abs(instant.timeIntervalSince(now)) > clockSkew {
            return reject(
                SAMLError(
                    .staleRequest, "the request is too old or from the future",
                    detail: "IssueInstant \(SAMLTime.format(instant)), now \(SAMLTime.format(now))"), request, (sp, acs.url))
        }
        var format = sp.nameIDFormat
        if let wanted = request.nameIDPolicyFormat, wanted != NameIDFormat.unspecified.rawValue, wanted != sp.nameIDFormat.rawValue {
            guard let known = NameIDFormat(rawValue: wanted), known != .unspecified else {
                return reject(SAMLError(.invalidNameIDPolicy, "the requested NameID format is not supported", detail: wanted), request, (sp, acs.url))
            }
            format = known
        }
        return .success(
            ValidatedAuthnRequest(
                request: request, serviceProvider: sp, acsURL: acs.url, nameIDFormat: format,
                signed: signed, relayState: message.relayState, signatureUnchecked: unchecked))
    }

    /// For IdP-initiated SSO: a response to the SP's default ACS without a request.
    public static func unsolicited(_ sp: SAMLServiceProvider, relayState: String?) -> ValidatedAuthnRequest? {
        guard let acs = sp.defaultACS else { return nil }
        let r = AuthnRequest(
            id: "", version: "2.0", issueInstant: nil, destination: nil, issuer: sp.entityID,
            assertionConsumerServiceURL: acs.url, assertionConsumerServiceIndex: nil, protocolBinding: nil,
            forceAuthn: false, isPassive: false, nameIDPolicyFormat: nil, nameIDPolicyAllowCreate: nil,
            requestedAuthnContextClassRefs: [], hasEnvelopedSignature: false)
        return ValidatedAuthnRequest(
            request: r, serviceProvider: sp, acsURL: acs.url, nameIDFormat: sp.nameIDFormat, signed: false,
            relayState: relayState)
    }
}
