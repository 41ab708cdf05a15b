import Foundation
import SigilCore
import SigilJOSE
import SigilOAuth
import SigilStore

/// OpenID Connect Client-Initiated Backchannel Authentication (CIBA Core 1.0), poll mode. The
/// approval is a Sigil authenticator push (number matching, biometric on the phone); the request
/// is a push login transaction bound to the client, and its scope waits in the pending-request
/// table (`oauth_par_requests`, keyed by the SHA-256 of `ciba:<transaction>`).
extension OAuthService {
    public static let cibaGrantType = Discovery.cibaGrantType
    /// Seconds between polls the client is asked to keep.
    public static let cibaInterval = 5

    static func cibaBinding(clientID: String, secret: String) -> String { tokenHash(clientID + ":" + secret) }
    static func cibaKey(_ transactionID: String) -> String { tokenHash("ciba:" + transactionID) }

    /// `/oauth2/bc-authorize`: starts a push to the user named by `login_hint` (an email). The
    /// answer is the same whoever that is (unknown users get a decoy that expires), so the endpoint
    /// does not reveal who has an account.
    public func backchannelAuthorize(
        tenant: Tenant, issuer: String, client: AuthenticatedClient, parameters p: [String: String],
        authenticator: AuthenticatorService, clientIP: String?
    ) async throws -> (authReqID: String, expiresIn: Int, interval: Int) {
        guard client.oauth.grantTypes.contains(.ciba), client.method != .none else {
            throw OAuthError(.unauthorizedClient, "this client may not use CIBA")
        }
        let scopes = (p["scope"] ?? "").split(separator: " ").map(String.init)
        guard scopes.contains("openid") else { throw OAuthError(.invalidScope, "scope must include openid") }
        for scope in scopes where !client.settings.allowedScopes.contains(scope) {
            throw OAuthError(.invalidScope, "scope \(scope.prefix(64)) is not allowed for this client")
        }
        if p["id_token_hint"] != nil || p["login_hint_token"] != nil {
            throw OAuthError.invalidRequest("only login_hint (the user's email) is supported")
        }
        if p["request"] != nil { throw OAuthError.invalidRequest("signed authentication requests are not supported") }
        if p["user_code"] != nil { throw OAuthError.invalidRequest("user_code is not supported") }
        guard let hint = p["login_hint"], !hint.isEmpty, hint.utf8.count <= 320 else { throw OAuthError.invalidRequest("login_hint is required") }
        if let message = p["binding_message"], message.count > 40 || message.unicodeScalars.contains(where: { $0.value < 0x20 }) {
            throw OAuthError(.invalidBindingMessage, "binding_message must be at most 40 printable characters")
        }
        let secret = Base64URL.encode(context.random.bytes(32))
        var shown = client.application.name
        if let message = p["binding_message"] { shown += " — " + message }
        let start = LoginStart(
            origin: issuer, browserHash: Self.cibaBinding(clientID: client.clientID, secret: secret), returnTo: "",
            clientIP: clientIP, userAgent: nil, application: shown)
        // `acr_values` naming LiveID: the phone is asked for a face or fingerprint (and, for a user
        // whose identity was verified, a live face re-match); the tokens report what it did.
        let liveID = (p["acr_values"] ?? "").split(separator: " ").contains { $0 == ACR.liveID }
        // No browser shows a number: the phone shows the binding message instead (CIBA Core §7.1).
        let transaction = try await authenticator.startPush(
            tenant: tenant, issuer: issuer, start: start, email: hint, requireBiometric: liveID, ciba: true,
            bindingMessage: p["binding_message"])
        var stored = ["client_id": client.clientID, "scope": scopes.joined(separator: " ")]
        if let acr = p["acr_values"] { stored["acr_values"] = acr }
        let now = context.clock.now()
        let record = PushedAuthorizationRequestRecord(
            requestURIHash: Self.cibaKey(transaction.id), tenantID: tenant.id, clientID: client.clientID,
            parameters: stored, createdAt: now, expiresAt: transaction.expiresAt)
        let context = self.context
        try await context.store.transaction { tx in
            try await tx.oauth.createPushedRequest(record)
            try await tx.audit.append(
                context.auditEvent(
                    "oauth.ciba_started", by: .client(client.clientID), tenantID: tenant.id,
                    targetType: "login_transaction", targetID: transaction.id))
        }
        return (transaction.id + "." + secret, max(1, Int(transaction.expiresAt.timeIntervalSince(now))), Self.cibaInterval)
    }

    /// The CIBA grant at the token endpoint (poll mode, CIBA Core §10.1, §11).
    public func cibaToken(
        tenant: Tenant, issuer: String, client: AuthenticatedClient, parameters p: [String: String],
        authenticator: AuthenticatorService
    ) async throws -> TokenResponse {
        guard client.oauth.grantTypes.contains(.ciba) else {
            throw OAuthError(.unauthorizedClient, "this client may not use CIBA")
        }
        guard let id = p["auth_req_id"], let dot = id.firstIndex(of: "."), id.utf8.count < 200 else {
            throw OAuthError(.invalidGrant, "auth_req_id is invalid")
        }
        let transactionID = String(id[..<dot]), secret = String(id[id.index(after: dot)...])
        let binding = Self.cibaBinding(clientID: client.clientID, secret: secret)
        let now = context.clock.now()
        let transaction: LoginTransaction
        do {
            transaction = try await authenticator.browserTransaction(tenant: tenant, transactionID: transactionID, browserHash: binding)
        } catch is AuthenticatorServiceError {
            throw OAuthError(.invalidGrant, "auth_req_id is invalid")
        }
        switch AuthenticatorService.machine(transaction)?.poll(now: now) {
        case .pending?: throw OAuthError(.authorizationPending, "the user has not answered yet")
        case .expired?: throw OAuthError(.expiredToken, "the authentication request has expired")
        case .denied?: throw OAuthError(.accessDenied, "the user declined")
        case .used?, nil: throw OAuthError(.invalidGrant, "auth_req_id was already used")
        case .ready?: break
        }
        guard let request = try await context.store.oauth.findPushedRequest(requestURIHash: Self.cibaKey(transactionID)),
            request.clientID == client.clientID,
            try await context.store.oauth.consumePushedRequest(requestURIHash: request.requestURIHash, at: now)
        else {
            throw OAuthError(.invalidGrant, "auth_req_id was already used")
        }
        let completed: AuthenticatorService.Completed
        do {
            completed = try await authenticator.complete(
                tenant: tenant, transactionID: transactionID, browserHash: binding,
                sessions: SessionService(context: context))
        } catch is AuthenticatorServiceError {
            throw OAuthError(.invalidGrant, "auth_req_id was already used")
        }
        let scopes = (request.parameters["scope"] ?? "openid").split(separator: " ").map(String.init)
        let session = completed.session
        let lifetime = TimeInterval(max(client.settings.refreshTokenLifetimeSeconds, client.settings.accessTokenLifetimeSeconds))
        let grant = OAuthGrant(
            id: context.ids.make(.oauthGrant), tenantID: tenant.id, clientID: client.clientID, userID: completed.user.id,
            sessionID: session.id, scopes: scopes, createdAt: now, expiresAt: now.addingTimeInterval(lifetime))
        let authentication = TokenClaims.Authentication(
            authTime: session.authTime, amr: session.amr, acr: session.acr, sessionID: session.id, verificationProcess: session.verificationProcess)
        let keys = try await issuanceKeys(tenantID: tenant.id, settings: client.settings)
        let issuance = try prepareIssuance(
            tenantID: tenant.id, issuer: issuer, client: client, grant: grant, user: completed.user, scopes: scopes,
            authentication: authentication, nonce: nil, claims: nil, refreshExpiresAt: grant.expiresAt, event: "ciba", keys: keys)
        // The grant with its tokens and audit event: never a grant row without them.
        try await context.store.transaction { tx in
            _ = try await tx.oauth.createGrant(grant)
            try await Self.record(issuance, in: tx)
        }
        return issuance.response
    }
}
