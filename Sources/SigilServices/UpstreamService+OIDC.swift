import Foundation
import SigilCore
import SigilFlows
import SigilJOSE
import SigilOAuth
import SigilStore

/// Sign-in through an upstream OpenID Provider (Sigil as relying party: authorization code,
/// PKCE S256, state, nonce, optional PAR; `client_secret_basic`, `client_secret_post` or
/// `private_key_jwt`), in the same three steps as SAML: `beginOIDC` (the flow row, whose ID
/// derives from `state`), `callback` at the redirect URI (a cross-site GET: the code is redeemed
/// and the ID token checked, the flow moves to "asserted"), then the same-site `continueSignIn`.
extension UpstreamService {
    /// What the provider's admin registers for Sigil's client.
    public struct RPValues: Sendable, Equatable {
        public var redirectURI: String
        public var jwksURI: String
        /// RP-Initiated Logout: where the provider sends the browser back after Sigil's sign-out.
        public var postLogoutRedirectURI: String
        /// Back-Channel Logout: where the provider POSTs its logout tokens.
        public var backchannelLogoutURI: String
    }

    public static func rpValues(issuer: String, name: String) -> RPValues {
        let base = "\(issuer)/oidc/rp/\(name)"
        return RPValues(
            redirectURI: base + "/callback", jwksURI: base + "/jwks", postLogoutRedirectURI: base + "/logged-out",
            backchannelLogoutURI: base + "/backchannel-logout")
    }

    public struct NewOIDCConnection: Sendable {
        public var name: String
        public var displayName: String?
        public var issuer: String
        public var clientID: String
        public var clientSecret: String?
        /// `client_secret_basic` (default with a secret), `client_secret_post` or `private_key_jwt`.
        public var authMethod: String?
        public var scopes: [String]
        public var usePAR: Bool
        public var policy: UpstreamPolicy

        public init(
            name: String, displayName: String? = nil, issuer: String, clientID: String, clientSecret: String? = nil, authMethod: String? = nil,
            scopes: [String] = ["openid", "email", "profile"], usePAR: Bool = false,
            policy: UpstreamPolicy = UpstreamPolicy(attributes: UpstreamAttributeMapping(email: "email", givenName: "given_name", familyName: "family_name"))
        ) {
            self.name = name; self.displayName = displayName; self.issuer = issuer; self.clientID = clientID; self.clientSecret = clientSecret
            self.authMethod = authMethod; self.scopes = scopes; self.usePAR = usePAR; self.policy = policy
        }
    }

    static let authMethods = ["client_secret_basic", "client_secret_post", "private_key_jwt"]

    static func discoveryURL(_ issuer: String) -> String {
        (issuer.hasSuffix("/") ? String(issuer.dropLast()) : issuer) + "/.well-known/openid-configuration"
    }

    func discover(_ issuer: String) async throws -> UpstreamOIDC.ProviderMetadata {
        let url = Self.discoveryURL(issuer)
        if let why = context.remote.refusal(url) { throw ServiceError.invalid([FieldError(field: "issuer", message: why)]) }
        let bytes: [UInt8]
        do { bytes = try await context.remote.json(at: url) } catch let error as RemoteFetchError {
            throw ServiceError.invalid([FieldError(field: "issuer", message: "the discovery document \(error.publicDescription)")])
        }
        do { return try UpstreamOIDC.ProviderMetadata.parse(bytes, expectedIssuer: issuer) } catch {
            throw ServiceError.invalid([FieldError(field: "issuer", message: error.message)])
        }
    }

    static func sealContext(tenantID: String, connectionID: String, secret: String) -> String {
        "sigil/upstream-oidc-\(secret)/\(tenantID)/\(connectionID)"
    }

    public func createOIDC(tenantID: String, _ input: NewOIDCConnection, by principal: Principal) async throws -> UpstreamConnection {
        try authorize(principal, tenantID)
        guard UpstreamConnection.isValidName(input.name) else {
            throw ServiceError.invalid([FieldError(field: "name", message: "name must be 1–63 of a-z, 0-9 and -, not starting or ending with -")])
        }
        let display = (input.displayName ?? input.name).trimmingCharacters(in: .whitespaces)
        if let message = Validate.name(display, field: "display_name", max: 80) {
            throw ServiceError.invalid([FieldError(field: "display_name", message: message)])
        }
        guard !input.clientID.isEmpty, input.clientID.utf8.count <= 255 else {
            throw ServiceError.invalid([FieldError(field: "client_id", message: "client_id is required (at most 255 characters)")])
        }
        let method = input.authMethod ?? (input.clientSecret == nil ? "private_key_jwt" : "client_secret_basic")
        guard Self.authMethods.contains(method) else {
            throw ServiceError.invalid([FieldError(field: "auth_method", message: "auth_method must be one of \(Self.authMethods.joined(separator: ", "))")])
        }
        if method != "private_key_jwt", (input.clientSecret ?? "").isEmpty {
            throw ServiceError.invalid([FieldError(field: "client_secret", message: "\(method) needs the client secret")])
        }
        guard input.scopes.contains("openid") else {
            throw ServiceError.invalid([FieldError(field: "scopes", message: "the scopes must include openid")])
        }
        var policy = input.policy
        policy.emailDomains = try Self.normalizedDomains(policy.emailDomains, field: "email_domains")
        policy.linkDomains = try Self.normalizedDomains(policy.linkDomains, field: "link_domains")
        if let existing = try await context.store.upstreams.find(tenantID: tenantID, name: input.name) {
            throw StoreError.alreadyExists("upstream connection", existing.name)
        }
        let provider = try await discover(input.issuer)
        if !provider.codeChallengeMethods.isEmpty, !provider.codeChallengeMethods.contains("S256") {
            throw ServiceError.invalid([FieldError(field: "issuer", message: "the provider does not support PKCE with S256")])
        }
        guard provider.authMethods.contains(method) else {
            throw ServiceError.invalid([
                FieldError(field: "auth_method", message: "the provider accepts \(provider.authMethods.joined(separator: ", ")), not \(method)")
            ])
        }
        if input.usePAR, provider.parEndpoint == nil {
            throw ServiceError.invalid([FieldError(field: "par", message: "the provider has no pushed authorization request endpoint")])
        }
        let now = context.clock.now()
        let id = context.ids.make(.upstreamConnection)
        let key = try SigningKeyMaterial.generate(.rs256)
        let jwk = String(decoding: try JSONEncoder.sorted.encode(key.publicJWK), as: UTF8.self)
        var settings = UpstreamOIDCSettings(
            issuer: provider.issuer, authorizationEndpoint: provider.authorizationEndpoint, tokenEndpoint: provider.tokenEndpoint,
            userinfoEndpoint: provider.userinfoEndpoint, jwksURI: provider.jwksURI, parEndpoint: provider.parEndpoint,
            issParameterSupported: provider.issParameterSupported, clientID: input.clientID, authMethod: method,
            sealedClientSecret: try input.clientSecret.map {
                try self.context.masterKey.seal(Array($0.utf8), context: Self.sealContext(tenantID: tenantID, connectionID: id, secret: "secret"))
            },
            scopes: input.scopes, usePAR: input.usePAR, discoveryFetchedAt: now, clientKeyID: key.kid, clientPublicJWK: jwk,
            sealedClientKey: try context.masterKey.seal(key.privateKeyDER.value, context: Self.sealContext(tenantID: tenantID, connectionID: id, secret: "key"))
        )
        settings.endSessionEndpoint = provider.endSessionEndpoint
        settings.backchannelLogoutSupported = provider.backchannelLogoutSupported
        let connection = UpstreamConnection(
            id: id, tenantID: tenantID, name: input.name, displayName: display, policy: policy, settings: .oidc(settings), createdAt: now,
            updatedAt: now)
        let context = self.context
        return try await context.store.transaction { tx in
            let created = try await tx.upstreams.create(connection)
            try await tx.audit.append(
                context.auditEvent(
                    "upstream.created", by: principal, tenantID: tenantID, targetType: "upstream_connection", targetID: created.id,
                    after: Self.summary(created)))
            return created
        }
    }

    /// Re-reads the provider's discovery document (endpoints, PAR, `iss` support); a failure keeps the last good copy.
    func refreshDiscovery(_ c: UpstreamConnection, by principal: Principal) async throws -> RefreshResult {
        guard let oidc = c.oidc else { throw StoreError.notFound("OIDC connection", c.name) }
        let now = context.clock.now()
        var fetched: UpstreamOIDC.ProviderMetadata?
        var failure: String?
        do { fetched = try await discover(oidc.issuer) } catch let error as ServiceError { failure = error.message }
        let good = fetched, failed = failure
        return try await recordRefresh(c, failure: failed, by: principal, now: now) { conn in
            guard case .oidc(var o) = conn.settings else { return }
            if let p = good {
                o.authorizationEndpoint = p.authorizationEndpoint
                o.tokenEndpoint = p.tokenEndpoint
                o.userinfoEndpoint = p.userinfoEndpoint
                o.jwksURI = p.jwksURI
                o.parEndpoint = p.parEndpoint
                o.issParameterSupported = p.issParameterSupported
                o.endSessionEndpoint = p.endSessionEndpoint
                o.backchannelLogoutSupported = p.backchannelLogoutSupported
                o.discoveryRefreshError = nil
            } else {
                o.discoveryRefreshError = failed
            }
            o.discoveryFetchedAt = now
            conn.settings = .oidc(o)
        }
    }

    /// The connection's public key set (`/oidc/rp/{name}/jwks`), for `private_key_jwt`.
    public func clientJWKS(tenantID: String, name: String) async throws -> [UInt8] {
        guard let c = try await enabledConnection(tenantID: tenantID, name: name), let oidc = c.oidc else {
            throw StoreError.notFound("upstream connection", name)
        }
        return Array("{\"keys\":[\(oidc.clientPublicJWK)]}".utf8)
    }

    static func oidcLoginID(tenantID: String, connectionID: String, state: String) -> String {
        "upoidc_" + tokenHash("state\n\(tenantID)\n\(connectionID)\n\(state)").prefix(48)
    }

    // MARK: 1. the authorization request

    func beginOIDC(_ c: UpstreamConnection, _ oidc: UpstreamOIDCSettings, issuer: String, returnTo: String, browserHash: String) async throws -> Outbound {
        let now = context.clock.now()
        let state = Base64URL.encode(context.random.bytes(32))
        let nonce = Base64URL.encode(context.random.bytes(24))
        let verifier = Base64URL.encode(context.random.bytes(48))
        let rowID = Self.oidcLoginID(tenantID: c.tenantID, connectionID: c.id, state: state)
        let row = LoginTransaction(
            id: rowID, tenantID: c.tenantID,
            flow: .upstreamOIDC(
                UpstreamOIDCLogin(
                    login: UpstreamLogin(
                        connectionID: c.id, requestID: tokenHash(state), returnTo: returnTo, browserHash: browserHash, stepUpRequired: c.policy.stepUp),
                    nonce: nonce,
                    sealedVerifier: try context.masterKey.seal(Array(verifier.utf8), context: "sigil/upstream-oidc-verifier/\(rowID)"))),
            challenge: "-", createdAt: now, updatedAt: now, expiresAt: now.addingTimeInterval(Self.loginLifetime))
        _ = try await context.store.loginTransactions.create(row)
        let rp = Self.rpValues(issuer: issuer, name: c.name)
        let parameters = UpstreamOIDC.authorizationParameters(
            clientID: oidc.clientID, redirectURI: rp.redirectURI, scopes: oidc.scopes, state: state, nonce: nonce, codeVerifier: verifier)
        func url(_ pairs: [(String, String)]) -> String {
            oidc.authorizationEndpoint + (oidc.authorizationEndpoint.contains("?") ? "&" : "?") + UpstreamOIDC.formEncoded(pairs)
        }
        if oidc.usePAR, let par = oidc.parEndpoint {
            let response = try await post(c, oidc, to: par, parameters, assertionAudience: oidc.issuer)
            guard response.status == 201 || response.status == 200, let object = (try? JSONValue.parse(response.body))?.object,
                let requestURI = object["request_uri"]?.string
            else {
                context.logger.info("upstream PAR refused", metadata: ["connection": .string(c.name), "status": .stringConvertible(response.status)])
                throw Rejected(reason: "parRefused", message: "the identity provider refused the sign-in request; try again later")
            }
            return .redirect(url([("client_id", oidc.clientID), ("request_uri", requestURI)]))
        }
        return .redirect(url(parameters))
    }

    /// A form POST to the provider (PAR, token) with the connection's client authentication.
    func post(
        _ c: UpstreamConnection, _ oidc: UpstreamOIDCSettings, to endpoint: String, _ parameters: [(String, String)], assertionAudience: String
    ) async throws -> OutboundResponse {
        var pairs = parameters
        // client_id once: the authorization parameters pushed with PAR carry it already.
        let withClientID: [(String, String)] = pairs.contains { $0.0 == "client_id" } ? [] : [("client_id", oidc.clientID)]
        var headers: [(String, String)] = [("content-type", "application/x-www-form-urlencoded"), ("accept", "application/json")]
        switch oidc.authMethod {
        case "private_key_jwt":
            let der = try context.masterKey.open(
                oidc.sealedClientKey, context: Self.sealContext(tenantID: c.tenantID, connectionID: c.id, secret: "key"))
            let key = try SigningKeyMaterial(algorithm: .rs256, privateKeyDER: der)
            // The audience: the token endpoint's URL for the token request (OIDC Core §9), the issuer for
            // a pushed request (RFC 9126 §2).
            let assertion = try UpstreamOIDC.clientAssertion(
                clientID: oidc.clientID, audience: assertionAudience, key: key, now: context.clock.now(), jti: Base64URL.encode(context.random.bytes(16)))
            pairs += withClientID + [("client_assertion_type", ClientAssertion.type), ("client_assertion", assertion)]
        default:
            guard let sealed = oidc.sealedClientSecret else { throw Rejected(reason: "misconfigured", message: "this connection has no client secret") }
            let secret = String(
                decoding: try context.masterKey.open(sealed, context: Self.sealContext(tenantID: c.tenantID, connectionID: c.id, secret: "secret")),
                as: UTF8.self)
            if oidc.authMethod == "client_secret_post" {
                pairs += withClientID + [("client_secret", secret)]
            } else {
                // RFC 6749 §2.3.1: both parts form-encoded before base64.
                let credentials = UpstreamOIDC.formEncoded([("", oidc.clientID)]).dropFirst() + ":" + UpstreamOIDC.formEncoded([("", secret)]).dropFirst()
                headers.append(("authorization", "Basic " + Data(credentials.utf8).base64EncodedString()))
            }
        }
        guard let url = URL(string: endpoint) else { throw Rejected(reason: "misconfigured", message: "the provider's endpoint is not a URL") }
        do {
            return try await context.remote.send(
                OutboundRequest(method: "POST", url: url, headers: headers, body: Array(UpstreamOIDC.formEncoded(pairs).utf8)))
        } catch let error as RemoteFetchError {
            context.logger.info("upstream provider unreachable", metadata: ["connection": .string(c.name), "reason": .string("\(error)")])
            throw Rejected(reason: "providerUnreachable", message: "the identity provider could not be reached; try again later")
        }
    }

    /// `validate` with the provider's JWKS, fetched again once when the signature does not
    /// verify (an unknown key: a rotation); a refusal becomes `Rejected` with its reason.
    func withProviderKeys<T>(_ oidc: UpstreamOIDCSettings, _ validate: (JWKSet) throws(UpstreamOIDC.Refusal) -> T) async throws -> T {
        var keys: JWKSet
        do { keys = try await context.remote.keys(at: oidc.jwksURI) } catch {
            throw Rejected(reason: "providerUnreachable", message: "the identity provider's keys could not be fetched")
        }
        do { return try validate(keys) } catch  where error.reason == "signatureInvalid" {
            keys = (try? await context.remote.keys(at: oidc.jwksURI, refresh: true)) ?? keys
        } catch {
            throw Rejected(reason: error.reason, message: error.message)
        }
        do { return try validate(keys) } catch { throw Rejected(reason: error.reason, message: error.message) }
    }

    // MARK: 2. the callback

    /// The provider sent the browser back to `/oidc/rp/{name}/callback` with `query`. Every
    /// refusal is audited (`upstream.oidc.rejected`); nothing is provisioned here.
    public func callback(tenantID: String, issuer: String, name: String, query: [String: String]) async throws -> Accepted {
        do {
            return try await oidcCallback(tenantID: tenantID, issuer: issuer, name: name, query: query)
        } catch let rejected as Rejected {
            await context.recordFailure(
                "upstream.oidc.rejected", by: .system, tenantID: tenantID, reason: "\(rejected.reason): connection \(name): \(rejected.message)")
            throw rejected
        } catch let refusal as UpstreamOIDC.Refusal {
            await context.recordFailure(
                "upstream.oidc.rejected", by: .system, tenantID: tenantID, reason: "\(refusal.reason): connection \(name): \(refusal.message)")
            throw Rejected(reason: refusal.reason, message: refusal.message)
        }
    }

    private func oidcCallback(tenantID: String, issuer: String, name: String, query: [String: String]) async throws -> Accepted {
        guard let c = try await enabledConnection(tenantID: tenantID, name: name), let oidc = c.oidc else {
            throw Rejected(reason: "unknownConnection", message: "there is no such sign-in connection")
        }
        guard let state = query["state"], !state.isEmpty, state.utf8.count <= 128,
            let row = try? await context.store.loginTransactions.get(
                tenantID: tenantID, id: Self.oidcLoginID(tenantID: tenantID, connectionID: c.id, state: state)),
            case .upstreamOIDC(let login) = row.flow, login.login.connectionID == c.id
        else {
            throw Rejected(reason: "invalidState", message: "this sign-in is unknown (state); start again")
        }
        let now = context.clock.now()
        guard row.state == .pending else { throw Rejected(reason: "replayed", message: "this sign-in was already answered") }
        guard row.expiresAt > now else { throw Rejected(reason: "expired", message: "the sign-in took too long; start again") }
        let code = try UpstreamOIDC.checkAuthorizationResponse(query, issuer: oidc.issuer, issRequired: oidc.issParameterSupported)

        // Redeem the code.
        let verifier = String(
            decoding: try context.masterKey.open(login.sealedVerifier, context: "sigil/upstream-oidc-verifier/\(row.id)"), as: UTF8.self)
        let rp = Self.rpValues(issuer: issuer, name: c.name)
        let response = try await post(
            c, oidc, to: oidc.tokenEndpoint,
            [("grant_type", "authorization_code"), ("code", code), ("redirect_uri", rp.redirectURI), ("code_verifier", verifier)],
            assertionAudience: oidc.tokenEndpoint)
        guard let object = (try? JSONValue.parse(response.body))?.object else {
            throw Rejected(reason: "tokenRefused", message: "the identity provider's token endpoint did not answer with JSON")
        }
        guard response.status == 200 else {
            let error = object["error"]?.string.map { String($0.prefix(64)) } ?? "status \(response.status)"
            throw Rejected(reason: "tokenRefused", message: "the identity provider refused to complete the sign-in (\(error))")
        }
        guard let idToken = object["id_token"]?.string else {
            throw Rejected(reason: "tokenRefused", message: "the identity provider's token response has no ID token (is openid among the scopes?)")
        }

        // The ID token, with the provider's keys.
        let token = try await withProviderKeys(oidc) { keys throws(UpstreamOIDC.Refusal) in
            try UpstreamOIDC.validateIDToken(idToken, keys: keys, issuer: oidc.issuer, clientID: oidc.clientID, nonce: login.nonce, now: now)
        }

        // Claims: the ID token's, completed from userinfo when the mapped ones are missing.
        var claims = token.claims
        let mapping = c.policy.attributes
        if claims[mapping.email]?.string == nil, let userinfo = oidc.userinfoEndpoint, let access = object["access_token"]?.string,
            let url = URL(string: userinfo)
        {
            let info = try? await context.remote.send(
                OutboundRequest(method: "GET", url: url, headers: [("authorization", "Bearer \(access)"), ("accept", "application/json")]))
            if let info, info.status == 200, let extra = (try? JSONValue.parse(info.body))?.object {
                // OIDC Core §5.3.2: the userinfo sub must be the ID token's, or the response is not used.
                guard extra["sub"]?.string == token.subject else {
                    throw Rejected(reason: "wrongSubject", message: "the identity provider's userinfo names another user")
                }
                for (k, v) in extra where claims[k] == nil { claims[k] = v }
            }
        }
        if claims["email_verified"] == .bool(false) {
            throw Rejected(reason: "emailUnverified", message: "the identity provider has not verified your email address")
        }
        var asserted = UpstreamIdentity(
            subject: token.subject, subjectFormat: nil, email: claims[mapping.email]?.string, givenName: claims[mapping.givenName]?.string,
            familyName: claims[mapping.familyName]?.string, idpEntityID: oidc.issuer, sessionIndex: claims["sid"]?.string,
            authnInstant: token.authTime, authnContextClassRef: token.acr, assertionID: "oidc:" + tokenHash(idToken).prefix(32),
            upstreamAMR: token.amr)
        asserted.sealedIDToken = try context.masterKey.seal(
            Array(idToken.utf8), context: Self.sealContext(tenantID: tenantID, connectionID: c.id, secret: "id-token"))
        let identity = asserted

        let secret = OpaqueToken.make(prefix: "sigil_up_", random: context.random)
        let keyHash = tokenHash(secret)
        let context = self.context
        return try await context.store.transaction { tx in
            let (_, action) = try await tx.loginTransactions.update(tenantID: tenantID, id: row.id) { t -> UpstreamLoginStateMachine.Action in
                guard let login = t.upstreamLogin else { return .refuse(.unknown) }
                var machine = UpstreamLoginStateMachine(t.record(login))
                let action = machine.asserted(identity, continueKeyHash: keyHash, now: now)
                t.applyUpstream(machine.record)
                return action
            }
            if case .refuse(let refusal) = action {
                throw Rejected(
                    reason: refusal == .expired ? "expired" : "replayed",
                    message: refusal == .expired ? "the sign-in took too long; start again" : "this sign-in was already answered")
            }
            try await tx.audit.append(
                context.auditEvent(
                    "upstream.oidc.accepted", by: .system, tenantID: tenantID, targetType: "upstream_connection", targetID: c.id,
                    after: [
                        "connection": c.name, "subject_hash": String(tokenHash(identity.subject).prefix(16)),
                        "kid": (try? JWS.parse(idToken))?.keyID ?? "", "acr": token.acr ?? "",
                    ]))
            return Accepted(flowID: row.id, key: secret)
        }
    }
}
