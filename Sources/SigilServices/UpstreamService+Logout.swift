import Crypto
import Foundation
import SigilCore
import SigilFlows
import SigilSAML
import SigilStore
import SigilXML
import X509
import _CryptoExtras

/// Single logout with an upstream SAML identity provider (SAML profiles §4.4), both ways:
/// - Sigil's own sign-out of a session that began upstream signs the session's service providers
///   out (the existing chain), then sends a signed LogoutRequest to the IdP, and finishes when its
///   LogoutResponse comes back.
/// - A signed LogoutRequest from the IdP ends the Sigil sessions of that subject (and, through the
///   browser, the first session's service providers), then is answered with a signed LogoutResponse.
extension UpstreamService {
    public static let logoutLifetime: TimeInterval = 600

    /// Where the browser goes next in an upstream logout step.
    public enum LogoutStep: Sendable {
        case redirect(String)
        case post(url: String, fields: [String: String])
        /// Sigil's sign-out (or the IdP's request) is finished: go to this path or validated URL; nil: the signed-out page.
        case finish(String?)
        /// Sign the ended session's service providers out through the browser first (the chain
        /// ends at the step that answers the IdP).
        case chain(SAMLIdentityProviderService.LogoutOutcome)
    }

    static func logoutAnswerID(tenantID: String, connectionID: String, requestID: String) -> String {
        "upslor_" + tokenHash("logout-request\n\(tenantID)\n\(connectionID)\n\(requestID)").prefix(48)
    }

    /// Sigil's sign-out of `session` (`/logout`, `/oauth2/logout`): when the session began at an
    /// upstream IdP that has a logout endpoint, the chain through the session's service providers
    /// finishes at `/saml/sp/{name}/slo/start` (SAML) or `/oidc/rp/{name}/logout/start` (OIDC,
    /// the provider's end_session_endpoint), which continues at the IdP.
    public func signOut(_ session: Session, tenantID: String, issuer: String, reason: String, finish: String?) async throws
        -> SAMLIdentityProviderService.LogoutOutcome
    {
        var next = finish
        let up = try await context.store.upstreams.session(tenantID: tenantID, sessionID: session.id)
        let connection: UpstreamConnection? =
            if let up { try? await context.store.upstreams.get(tenantID: tenantID, id: up.connectionID) } else { nil }
        if let up, let c = connection, c.enabled, let oidc = c.oidc, oidc.endSessionEndpoint != nil {
            let now = context.clock.now()
            let row = LoginTransaction(
                id: Self.endSessionPrefix + Base64URL.encode(context.random.bytes(32)), tenantID: tenantID,
                flow: .upstreamOIDCLogout(.endSession(UpstreamOIDCEndSession(connectionID: c.id, sealedIDToken: up.sealedIDToken, finish: finish))),
                challenge: "-", userID: session.userID, createdAt: now, updatedAt: now, expiresAt: now.addingTimeInterval(Self.logoutLifetime))
            _ = try await context.store.loginTransactions.create(row)
            next = "/oidc/rp/\(c.name)/logout/start?flow=\(row.id)"
        } else if let up, let c = connection, c.enabled, c.saml?.sloURL != nil {
            let now = context.clock.now()
            let row = LoginTransaction(
                id: "upslo_" + Base64URL.encode(context.random.bytes(24)), tenantID: tenantID,
                flow: .upstreamSAML(
                    .logout(
                        UpstreamSAMLLogout(
                            connectionID: c.id, subject: up.subject, subjectFormat: up.subjectFormat, sessionIndex: up.sessionIndex, finish: finish))),
                challenge: "-", userID: session.userID, createdAt: now, updatedAt: now, expiresAt: now.addingTimeInterval(Self.logoutLifetime))
            _ = try await context.store.loginTransactions.create(row)
            next = "/saml/sp/\(c.name)/slo/start?flow=\(row.id)"
        }
        let outcome = try await idp.signOut(session, tenantID: tenantID, issuer: issuer, reason: reason, finish: next)
        // No service provider to sign out: the chain ends at once, so go upstream now.
        if let next, next != finish, case .signedOut = outcome { return .redirect(next) }
        return outcome
    }

    func signedRedirect(_ xml: [UInt8], parameter: String, to url: String, relayState: String?, key: _RSA.Signing.PrivateKey) throws -> String {
        let query = try SAMLRedirectBinding.encode(xml, parameter: parameter, relayState: relayState, signingKey: key)
        return url + (url.contains("?") ? "&" : "?") + query
    }

    func builder(_ c: UpstreamConnection) throws -> (SAMLResponseBuilder, _RSA.Signing.PrivateKey) {
        guard let saml = c.saml else { throw StoreError.notFound("SAML connection", c.name) }
        let key = try spKey(c)
        let signer = XMLSigner(key: .rsa(key), certificate: try Certificate(pemEncoded: saml.spCertificatePEM))
        return (SAMLResponseBuilder(signer: signer, random: context.random), key)
    }

    /// `/saml/sp/{name}/slo/start?flow=…`: the LogoutRequest to the IdP, for the sign-out stored in `flowID`.
    public func startUpstreamLogout(tenantID: String, issuer: String, name: String, flowID: String) async throws -> LogoutStep {
        guard case (let c, let saml)? = try await enabledSAMLConnection(tenantID: tenantID, name: name), let slo = saml.sloURL,
            flowID.hasPrefix("upslo_"), let row = try? await context.store.loginTransactions.get(tenantID: tenantID, id: flowID),
            case .upstreamSAML(.logout(let logout)) = row.flow, logout.connectionID == c.id
        else {
            throw Rejected(reason: "unknownFlow", message: "this sign-out is unknown or has ended")
        }
        let now = context.clock.now()
        guard row.state == .pending, row.expiresAt > now, logout.requestID == nil else { return .finish(logout.finish) }
        let (builder, key) = try builder(c)
        let sp = Self.spValues(issuer: issuer, name: c.name)
        let post = saml.sloBinding == "post"
        let (requestID, xml) = try builder.logoutRequest(
            issuer: sp.entityID, destination: slo, nameID: logout.subject, nameIDFormat: logout.subjectFormat,
            sessionIndex: logout.sessionIndex, now: now, sign: post)
        _ = try await context.store.loginTransactions.update(tenantID: tenantID, id: row.id) { t in
            guard case .upstreamSAML(.logout(var l)) = t.flow else { return }
            l.requestID = requestID
            t.flow = .upstreamSAML(.logout(l))
            t.updatedAt = now
        }
        if post { return .post(url: slo, fields: ["SAMLRequest": Data(xml).base64EncodedString(), "RelayState": row.id]) }
        return .redirect(try signedRedirect(xml, parameter: "SAMLRequest", to: slo, relayState: row.id, key: key))
    }

    /// The connection's SLO endpoint: a LogoutResponse answering Sigil's request, or a
    /// LogoutRequest from the IdP. Signatures are required (query signature for HTTP-Redirect,
    /// enveloped for HTTP-POST) and checked with the IdP's certificates.
    public func upstreamLogoutMessage(tenantID: String, issuer: String, name: String, message: SAMLInboundMessage) async throws -> LogoutStep {
        do {
            return try await logoutMessage(tenantID: tenantID, issuer: issuer, name: name, message: message)
        } catch let rejected as Rejected {
            await context.recordFailure(
                "upstream.saml.logout_rejected", by: .system, tenantID: tenantID, reason: "\(rejected.reason): connection \(name): \(rejected.message)")
            throw rejected
        }
    }

    private func logoutMessage(tenantID: String, issuer: String, name: String, message: SAMLInboundMessage) async throws -> LogoutStep {
        guard case (let c, let saml)? = try await enabledSAMLConnection(tenantID: tenantID, name: name) else {
            throw Rejected(reason: "unknownConnection", message: "there is no such sign-in connection")
        }
        var root: DOMElement?
        var lastError: SAMLError?
        for pem in saml.signingCertificatesPEM {
            do {
                root = try SAMLSignedMessage.verify(message, certificatePEM: pem)
                break
            } catch { lastError = error }
        }
        guard let root else { throw Self.rejected(lastError ?? SAMLError(.signatureRequired, "the logout message is not signed")) }
        let now = context.clock.now()
        let sp = Self.spValues(issuer: issuer, name: c.name)
        if root.localName == "LogoutResponse" {
            let response: LogoutResponse
            do { response = try LogoutResponse.parse(element: root) } catch { throw Self.rejected(error) }
            guard response.issuer == nil || response.issuer == saml.idpEntityID else {
                throw Rejected(reason: "wrongIssuer", message: "the logout response comes from another identity provider")
            }
            guard let flowID = message.relayState, flowID.hasPrefix("upslo_"),
                let row = try? await context.store.loginTransactions.get(tenantID: tenantID, id: flowID),
                case .upstreamSAML(.logout(let logout)) = row.flow, logout.connectionID == c.id, let requestID = logout.requestID,
                response.inResponseTo == requestID
            else {
                throw Rejected(reason: "unexpectedResponse", message: "the logout response answers no sign-out started here")
            }
            guard row.state == .pending else { throw Rejected(reason: "replayed", message: "this sign-out was already finished") }
            _ = try await context.store.loginTransactions.update(tenantID: tenantID, id: row.id) { t in
                t.state = .completed
                t.updatedAt = now
            }
            try await context.store.audit.append(
                context.auditEvent(
                    "upstream.saml.logout_completed", by: .system, tenantID: tenantID, targetType: "upstream_connection", targetID: c.id,
                    outcome: response.isSuccess ? .success : .failure, reason: response.isSuccess ? nil : response.statusCode))
            return .finish(logout.finish)
        }

        // A LogoutRequest from the IdP.
        let request: LogoutRequest
        do { request = try LogoutRequest.parse(element: root) } catch { throw Self.rejected(error) }
        guard request.issuer == saml.idpEntityID else {
            throw Rejected(reason: "wrongIssuer", message: "the logout request comes from another identity provider")
        }
        if let destination = request.destination, destination != sp.sloURL {
            throw Rejected(reason: "wrongDestination", message: "the logout request is addressed to another endpoint")
        }
        if let until = request.notOnOrAfter, until.addingTimeInterval(Self.clockSkew) <= now {
            throw Rejected(reason: "expired", message: "the logout request has expired")
        }
        guard let subject = request.nameID else { throw Rejected(reason: "malformed", message: "the logout request names nobody") }
        let answer = LoginTransaction(
            id: Self.logoutAnswerID(tenantID: tenantID, connectionID: c.id, requestID: request.id), tenantID: tenantID,
            flow: .upstreamSAML(.logoutAnswer(connectionID: c.id, requestID: request.id, relayState: message.relayState)),
            challenge: "-", createdAt: now, updatedAt: now, expiresAt: now.addingTimeInterval(Self.logoutLifetime))
        do { _ = try await context.store.loginTransactions.create(answer) } catch let error as StoreError where error.code == .alreadyExists {
            throw Rejected(reason: "replayed", message: "this logout request was already received")
        }
        let held = try await context.store.upstreams.sessions(tenantID: tenantID, connectionID: c.id, subject: subject).filter {
            request.sessionIndexes.isEmpty || $0.sessionIndex.map(request.sessionIndexes.contains) == true
        }
        var first: SAMLIdentityProviderService.LogoutOutcome?
        var ended = 0
        if !held.isEmpty, let link = try await context.store.upstreams.link(tenantID: tenantID, connectionID: c.id, subject: subject) {
            let heldIDs = Set(held.map(\.sessionID))
            for session in try await context.store.sessions.listActive(tenantID: tenantID, userID: link.userID, now: now)
            where heldIDs.contains(session.id) {
                // The first session's service providers are signed out through this browser; the
                // chain ends at the step that answers the IdP. Other sessions end server-side.
                let outcome = try await idp.signOut(
                    session, tenantID: tenantID, issuer: issuer, reason: "upstream SAML single logout from \(c.name)",
                    finish: first == nil ? "/saml/sp/\(c.name)/slo/respond?flow=\(answer.id)" : nil)
                if first == nil { first = outcome }
                ended += 1
            }
        }
        try await context.store.audit.append(
            context.auditEvent(
                "upstream.saml.logout_received", by: .system, tenantID: tenantID, targetType: "upstream_connection", targetID: c.id,
                after: ["sessions_ended": String(ended), "request_id": request.id]))
        if let first {
            // Straight to the finish (no service provider to sign out): answer the IdP now.
            switch first {
            case .redirect, .signedOut: return try await answerIdP(tenantID: tenantID, issuer: issuer, name: name, flowID: answer.id)
            default: return .chain(first)
            }
        }
        return try await answerIdP(tenantID: tenantID, issuer: issuer, name: name, flowID: answer.id)
    }

    /// `/saml/sp/{name}/slo/respond?flow=…`: the signed LogoutResponse to the IdP's request.
    public func answerIdP(tenantID: String, issuer: String, name: String, flowID: String) async throws -> LogoutStep {
        guard case (let c, let saml)? = try await enabledSAMLConnection(tenantID: tenantID, name: name), flowID.hasPrefix("upslor_"),
            let row = try? await context.store.loginTransactions.get(tenantID: tenantID, id: flowID),
            case .upstreamSAML(.logoutAnswer(let connectionID, let requestID, let relayState)) = row.flow, connectionID == c.id
        else {
            throw Rejected(reason: "unknownFlow", message: "this sign-out is unknown or has ended")
        }
        let now = context.clock.now()
        guard row.state == .pending, row.expiresAt > now, let slo = saml.sloURL else { return .finish(nil) }
        _ = try await context.store.loginTransactions.update(tenantID: tenantID, id: row.id) { t in
            t.state = .completed
            t.updatedAt = now
        }
        let (builder, key) = try builder(c)
        let sp = Self.spValues(issuer: issuer, name: c.name)
        let post = saml.sloBinding == "post"
        let xml = try builder.logoutResponse(issuer: sp.entityID, destination: slo, inResponseTo: requestID, now: now, sign: post)
        if post {
            var fields = ["SAMLResponse": Data(xml).base64EncodedString()]
            if let relayState { fields["RelayState"] = relayState }
            return .post(url: slo, fields: fields)
        }
        return .redirect(try signedRedirect(xml, parameter: "SAMLResponse", to: slo, relayState: relayState, key: key))
    }
}
