import Foundation
import SigilCore
import SigilFlows
import SigilJOSE
import SigilOAuth
import SigilStore

/// Logout with an upstream OpenID Provider, both ways:
/// - RP-Initiated Logout 1.0: Sigil's own sign-out of a session that began at the provider ends
///   the session (and its downstream relying parties, as any sign-out does), then sends the
///   browser to the provider's `end_session_endpoint` with the ID token it issued as
///   `id_token_hint`, and finishes where the sign-out would have when the browser comes back to
///   `/oidc/rp/{name}/logged-out` with the `state` it left with.
/// - Back-Channel Logout 1.0: a logout token POSTed by the provider to
///   `/oidc/rp/{name}/backchannel-logout` ends the Sigil sessions begun with that provider
///   session (`sid`), or all of that user's (`sub`) from this connection, server-side; their
///   downstream OIDC clients get Sigil's own logout tokens. Each `jti` is acted on once.
extension UpstreamService {
    static let endSessionPrefix = "upolo_"

    static func logoutTokenSeenID(tenantID: String, connectionID: String, jti: String) -> String {
        "upolt_" + tokenHash("logout-token\n\(tenantID)\n\(connectionID)\n\(jti)").prefix(48)
    }

    func enabledOIDCConnection(tenantID: String, name: String) async throws -> (UpstreamConnection, UpstreamOIDCSettings)? {
        guard let c = try await enabledConnection(tenantID: tenantID, name: name), let oidc = c.oidc else { return nil }
        return (c, oidc)
    }

    /// `/oidc/rp/{name}/logout/start?flow=…`: the redirect to the provider's end_session_endpoint
    /// for the sign-out stored in `flowID` (reached once Sigil's session has ended).
    public func startOIDCLogout(tenantID: String, issuer: String, name: String, flowID: String) async throws -> LogoutStep {
        guard case (let c, let oidc)? = try await enabledOIDCConnection(tenantID: tenantID, name: name),
            flowID.hasPrefix(Self.endSessionPrefix), flowID.utf8.count <= 80,
            let row = try? await context.store.loginTransactions.get(tenantID: tenantID, id: flowID),
            case .upstreamOIDCLogout(.endSession(let end)) = row.flow, end.connectionID == c.id
        else {
            throw Rejected(reason: "unknownFlow", message: "this sign-out is unknown or has ended")
        }
        let now = context.clock.now()
        guard row.state == .pending, row.expiresAt > now, end.sentAt == nil, let endpoint = oidc.endSessionEndpoint else {
            return .finish(end.finish)
        }
        // The hint is best effort: a token that cannot be opened (another master key) is left out.
        let hint = end.sealedIDToken.flatMap {
            try? context.masterKey.open($0, context: Self.sealContext(tenantID: tenantID, connectionID: c.id, secret: "id-token"))
        }.map { String(decoding: $0, as: UTF8.self) }
        let (_, claimed) = try await context.store.loginTransactions.update(tenantID: tenantID, id: row.id) { t -> Bool in
            guard t.state == .pending, case .upstreamOIDCLogout(.endSession(var e)) = t.flow, e.sentAt == nil else { return false }
            e.sentAt = now
            t.flow = .upstreamOIDCLogout(.endSession(e))
            t.updatedAt = now
            return true
        }
        guard claimed else { return .finish(end.finish) }
        try await context.store.audit.append(
            context.auditEvent(
                "upstream.oidc.logout_started", by: row.userID.map { .user($0) } ?? .system, tenantID: tenantID,
                targetType: "upstream_connection", targetID: c.id, after: ["connection": c.name, "id_token_hint": hint == nil ? "no" : "yes"]))
        let rp = Self.rpValues(issuer: issuer, name: c.name)
        return .redirect(
            UpstreamOIDC.endSessionURL(
                endpoint: endpoint, idTokenHint: hint, clientID: oidc.clientID, postLogoutRedirectURI: rp.postLogoutRedirectURI, state: row.id))
    }

    /// `/oidc/rp/{name}/logged-out?state=…`: the provider sent the browser back; Sigil's sign-out
    /// finishes where it was going. Once per sign-out.
    public func finishOIDCLogout(tenantID: String, name: String, state: String?) async throws -> LogoutStep {
        guard case (let c, _)? = try await enabledOIDCConnection(tenantID: tenantID, name: name), let state,
            state.hasPrefix(Self.endSessionPrefix), state.utf8.count <= 80,
            let row = try? await context.store.loginTransactions.get(tenantID: tenantID, id: state),
            case .upstreamOIDCLogout(.endSession(let end)) = row.flow, end.connectionID == c.id, end.sentAt != nil
        else {
            throw Rejected(reason: "unknownFlow", message: "this sign-out is unknown or has ended")
        }
        let now = context.clock.now()
        let (_, finished) = try await context.store.loginTransactions.update(tenantID: tenantID, id: row.id) { t -> Bool in
            guard t.state == .pending, t.expiresAt > now else { return false }
            t.state = .completed
            t.updatedAt = now
            return true
        }
        guard finished else { throw Rejected(reason: "replayed", message: "this sign-out was already finished") }
        try await context.store.audit.append(
            context.auditEvent(
                "upstream.oidc.logout_completed", by: row.userID.map { .user($0) } ?? .system, tenantID: tenantID,
                targetType: "upstream_connection", targetID: c.id, after: ["connection": c.name]))
        return .finish(end.finish)
    }

    /// A logout token from the provider (`POST /oidc/rp/{name}/backchannel-logout`). Returns how
    /// many Sigil sessions ended. Refusals (`Rejected`) are audited as `upstream.oidc.logout_rejected`.
    public func backChannelLogout(tenantID: String, issuer: String, name: String, logoutToken: String?) async throws -> Int {
        do {
            return try await receiveLogoutToken(tenantID: tenantID, issuer: issuer, name: name, logoutToken: logoutToken)
        } catch let rejected as Rejected {
            await context.recordFailure(
                "upstream.oidc.logout_rejected", by: .system, tenantID: tenantID, reason: "\(rejected.reason): connection \(name): \(rejected.message)")
            throw rejected
        }
    }

    private func receiveLogoutToken(tenantID: String, issuer: String, name: String, logoutToken: String?) async throws -> Int {
        guard case (let c, let oidc)? = try await enabledOIDCConnection(tenantID: tenantID, name: name) else {
            throw Rejected(reason: "unknownConnection", message: "there is no such sign-in connection")
        }
        guard let logoutToken, !logoutToken.isEmpty else { throw Rejected(reason: "malformed", message: "logout_token is required") }
        let now = context.clock.now()
        let token = try await withProviderKeys(oidc) { keys throws(UpstreamOIDC.Refusal) in
            try UpstreamOIDC.validateLogoutToken(logoutToken, keys: keys, issuer: oidc.issuer, clientID: oidc.clientID, now: now)
        }
        // Each jti once (kept past the token's whole acceptance window).
        let seen = LoginTransaction(
            id: Self.logoutTokenSeenID(tenantID: tenantID, connectionID: c.id, jti: token.tokenID), tenantID: tenantID,
            flow: .upstreamOIDCLogout(.logoutTokenSeen(connectionID: c.id, tokenID: token.tokenID)), state: .completed, challenge: "-",
            createdAt: now, updatedAt: now, expiresAt: token.issuedAt.addingTimeInterval(900))
        do { _ = try await context.store.loginTransactions.create(seen) } catch let error as StoreError where error.code == .alreadyExists {
            throw Rejected(reason: "replayed", message: "this logout token was already received")
        }

        // The sessions begun with that provider session (sid), or all of that user's (sub).
        var held: [UpstreamSession]
        if let sid = token.sessionID {
            held = try await context.store.upstreams.sessions(tenantID: tenantID, connectionID: c.id, sessionIndex: sid)
            if let sub = token.subject { held = held.filter { $0.subject == sub } }
        } else {
            held = try await context.store.upstreams.sessions(tenantID: tenantID, connectionID: c.id, subject: token.subject ?? "")
        }
        var ended = 0
        for subject in Set(held.map(\.subject)).sorted() {
            guard let link = try await context.store.upstreams.link(tenantID: tenantID, connectionID: c.id, subject: subject) else { continue }
            let ids = Set(held.filter { $0.subject == subject }.map(\.sessionID))
            for session in try await context.store.sessions.listActive(tenantID: tenantID, userID: link.userID, now: now) where ids.contains(session.id) {
                // Server-side: the session, its grants, and back-channel logout to its OIDC
                // clients. Its SAML service providers would need the browser, which is not here.
                try await idp.logoutService.endSession(session, issuer: issuer, reason: "back-channel logout from the upstream provider \(c.name)")
                ended += 1
            }
        }
        try await context.store.audit.append(
            context.auditEvent(
                "upstream.oidc.logout_received", by: .system, tenantID: tenantID, targetType: "upstream_connection", targetID: c.id,
                after: [
                    "connection": c.name, "sessions_ended": String(ended), "by": token.sessionID == nil ? "sub" : "sid",
                ]))
        return ended
    }
}
