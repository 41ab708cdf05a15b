import Crypto
import Foundation
import Logging
import SigilCore
import SigilJOSE
import SigilStore

/// What a one-click setup made, on both sides.
public struct IntegrationResult: Sendable, Equatable {
    public enum Kind: String, Sendable, Equatable, CaseIterable {
        case auth0SAML = "auth0-saml"
        case auth0Social = "auth0-social"
        case oktaSAML = "okta-saml"
        case oktaIDV = "okta-idv"
    }

    /// One object at the vendor: `connection`, `key`, `identity_provider`, `routing_rule` (as recorded).
    public typealias PartnerObject = IntegrationRecord.PartnerObject

    /// The integration's id in Sigil (`int_…`), for `sigil integration doctor`.
    public var id: String = ""
    public var kind: Kind
    /// `host[:port]` of the Auth0 tenant or the Okta org.
    public var partnerDomain: String
    /// In the order they were made. A key Okta already held is not listed (Sigil did not make it).
    public var partnerObjects: [PartnerObject]
    public var applicationID: String
    public var applicationName: String
    /// Auth0 applications the connection was enabled for.
    public var enabledClients: [String]
    /// Values the administrator may need, by name (`acs_url`, `sp_entity_id`, `redirect_uri`, `login_url`…).
    public var values: [String: String]
    /// The sentence that tells the administrator what to do next.
    public var nextStep: String
    /// The sentence that tells the administrator to rotate or revoke the credentials they gave.
    public var rotateCredentials: String
    public var createdAt: Date
}

/// One-click integrations (issue 14): an administrator gives Sigil their Auth0 client
/// credentials or Okta API token once, and Sigil configures both sides: the connection or
/// identity provider at the vendor (through `Auth0Management` / `OktaManagement`) and the matching
/// application in Sigil.
///
/// Credentials exist in memory for that one call only (DESIGN.md §7): they are never stored,
/// logged, audited or echoed in an error, and every result tells the administrator to rotate them.
/// Nothing at a vendor is transactional, so each step that follows a creation at the vendor says
/// precisely what exists where when it fails, and undoes what is safe to undo (a connection, IdP
/// or key Sigil had just made; a Sigil application it had just made).
///
/// Each setup writes `integration.created` (kind, vendor domain, object ids, application; never a
/// credential), or `integration.failed` with the error's code and message.
public struct IntegrationService: Sendable {
    public let context: ServiceContext
    public let applications: ApplicationService
    var keys: KeyService { KeyService(context: context) }

    public init(context: ServiceContext, applications: ApplicationService? = nil) {
        self.context = context
        self.applications = applications ?? ApplicationService(context: context)
    }

    /// How Okta routes users to the new identity provider (IdP discovery rule).
    public enum OktaRoute: Sendable, Equatable {
        case allUsers
        /// Users whose identifier ends with `@domain`.
        case domain(String)
    }

    static let persistentNameID = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
    /// What Sigil's SAML IdP sends Auth0 (`attributes(_:user:session:)` sends mapped fields by these
    /// names), and Auth0's `fieldsMap` reads them back into its profile.
    static let auth0Attributes: [SAMLServiceProviderSettings.AttributeMapping] = [
        .init(name: "email", userField: "email"),
        .init(name: "given_name", userField: "given_name"),
        .init(name: "family_name", userField: "family_name"),
    ]

    // MARK: Auth0, Sigil as SAML IdP

    /// Auth0 `samlp` connection whose IdP is Sigil, and the Sigil SAML application for Auth0's SP:
    /// token → create the connection (Sigil's SSO/SLO URLs and signing certificate) → read back
    /// Auth0's SP values (ACS `…/login/callback?connection={name}`, entity ID
    /// `urn:auth0:{tenant}:{name}` or `options.entityId`) → create the Sigil application → enable
    /// the connection for `enableFor` (Auth0 client IDs). `issuer` is the tenant's base URL.
    /// `auth0Tenant` names the tenant when the domain does not (a custom domain or a test server).
    public func auth0SAML(
        tenantID: String, issuer: String, domain: String, clientID: String, clientSecret: Secret<String>,
        connectionName: String, displayName: String? = nil, auth0Tenant: String? = nil, enableFor: [String] = [],
        by principal: Principal
    ) async throws -> IntegrationResult {
        try await attempt(.auth0SAML, tenantID: tenantID, by: principal) {
            guard Auth0Management.isValidConnectionName(connectionName) else { throw Auth0Management.nameInvalid(connectionName) }
            let certificatePEM = try await keys.currentCertificatePEM(tenantID: tenantID)
            let auth0 = try await Auth0Management.connect(
                domain: domain, clientID: clientID, clientSecret: clientSecret, remote: context.remote, logger: context.logger)

            // Before anything is created: the tenant name (the SP entity ID's middle) and the applications to enable.
            var tenantGuess = auth0Tenant ?? Auth0Management.tenantName(domain: auth0.domain)
            if tenantGuess == nil || !enableFor.isEmpty {
                let clients = try await Self.clientsIfReadable(auth0)
                if tenantGuess == nil { tenantGuess = clients?.compactMap { $0["tenant"]?.string }.first }
                if let clients { try Self.checkClients(enableFor, known: clients) }
            }
            guard let auth0TenantName = tenantGuess, !auth0TenantName.isEmpty else {
                throw IntegrationError(
                    .auth0TenantUnknown,
                    "Sigil cannot tell the Auth0 tenant's name from \(auth0.domain), and needs it for Auth0's SAML entity ID (urn:auth0:TENANT:\(connectionName)): give it (the name in the dashboard's tenant menu, e.g. acme for acme.us.auth0.com), or authorise the application for read:clients. Nothing was created."
                )
            }

            let options: [String: JSONValue] = [
                "signInEndpoint": .string(SAMLIdentityProviderService.ssoURL(issuer: issuer)),
                "signOutEndpoint": .string(SAMLIdentityProviderService.sloURL(issuer: issuer)),
                // Base64 of the whole PEM file, as Auth0 documents (`cat cert.pem | base64`).
                "signingCert": .string(Data(certificatePEM.utf8).base64EncodedString()),
                "signatureAlgorithm": "rsa-sha256",
                "digestAlgorithm": "sha256",
                "protocolBinding": .string(SAMLServiceProviderSettings.httpPOST),
                "fieldsMap": .object(["email": "email", "given_name": "given_name", "family_name": "family_name"]),
            ]
            let created = try await auth0.createConnection(
                .object([
                    "strategy": "samlp", "name": .string(connectionName), "display_name": .string(displayName ?? "Sigil"),
                    "options": .object(options),
                ]), name: connectionName)
            let connectionID = created["id"]?.string ?? ""
            let objects = [IntegrationResult.PartnerObject(kind: "connection", id: connectionID, name: connectionName)]

            // Auth0's SP values, from the connection as stored (the answer to the POST if the read fails).
            let stored = (try? await auth0.connection(id: connectionID)) ?? created
            let acs = "\(auth0.base)/login/callback?connection=\(connectionName)"
            let entityID = stored["options"]?.object?["entityId"]?.string ?? "urn:auth0:\(auth0TenantName):\(connectionName)"

            let settings = SAMLServiceProviderSettings(
                entityID: entityID, assertionConsumerServices: [.init(url: acs, index: 0, isDefault: true)],
                singleLogoutURL: "\(auth0.base)/logout", nameIDFormat: Self.persistentNameID,
                attributeMappings: Self.auth0Attributes, signing: .both)
            let app: Application
            do {
                app = try await applications.createSAML(
                    tenantID: tenantID, .init(name: "Auth0 \(auth0.domain) (\(connectionName))", settings: settings), by: principal)
            } catch {
                let undone: String
                do {
                    try await auth0.deleteConnection(id: connectionID)
                    undone = "The Auth0 connection \(connectionName) (\(connectionID)) that Sigil had just created was deleted again: nothing is left behind."
                } catch {
                    undone =
                        "Sigil had created the Auth0 connection \(connectionName) (\(connectionID)) and could not delete it (\(Self.reason(error))): delete it in Auth0 → Authentication → Enterprise → SAML."
                }
                throw IntegrationError(.sigilApplicationFailed, "Sigil could not create its SAML application for Auth0 (\(Self.reason(error))). \(undone)")
            }

            var result = IntegrationResult(
                kind: .auth0SAML, partnerDomain: auth0.domain, partnerObjects: objects, applicationID: app.id, applicationName: app.name,
                enabledClients: [],
                values: [
                    "partner_base": auth0.base,
                    "connection": connectionName, "connection_id": connectionID, "acs_url": acs, "sp_entity_id": entityID,
                    "idp_sso_url": SAMLIdentityProviderService.ssoURL(issuer: issuer),
                    "login_url": "\(auth0.base)/authorize?connection=\(connectionName)",
                ],
                nextStep:
                    "Users of the Auth0 applications the connection is enabled for can sign in with Sigil: add connection=\(connectionName) to their /authorize requests, or show its button (Auth0 → Authentication → Enterprise → SAML → \(connectionName) → Login Experience).",
                rotateCredentials: Self.auth0Rotate(clientID: clientID), createdAt: context.clock.now())
            try await enable(
                auth0, connectionID: connectionID, name: connectionName, console: "Enterprise → SAML", clients: enableFor, result: &result, tenantID: tenantID,
                by: principal)
            await audit(&result, tenantID: tenantID, by: principal)
            return result
        }
    }

    // MARK: Auth0, Sigil as OpenID provider (custom social connection)

    /// A Sigil OIDC application for Auth0 (authorization code, PKCE, RS256, `openid email profile`,
    /// redirect URI `https://{domain}/login/callback`), then an Auth0 `oauth2` connection with
    /// Sigil's authorization and token URLs, the new client's ID and secret (sent to Auth0 only,
    /// never shown), `pkce_enabled` and a `fetchUserProfile` script; enabled for `enableFor`.
    public func auth0Social(
        tenantID: String, issuer: String, domain: String, clientID: String, clientSecret: Secret<String>,
        connectionName: String, displayName: String? = nil, enableFor: [String] = [], by principal: Principal
    ) async throws -> IntegrationResult {
        try await attempt(.auth0Social, tenantID: tenantID, by: principal) {
            guard Auth0Management.isValidConnectionName(connectionName) else { throw Auth0Management.nameInvalid(connectionName) }
            var auth0 = try await Auth0Management.connect(
                domain: domain, clientID: clientID, clientSecret: clientSecret, remote: context.remote, logger: context.logger)
            if !enableFor.isEmpty, let clients = try await Self.clientsIfReadable(auth0) { try Self.checkClients(enableFor, known: clients) }

            let redirectURI = auth0.base + "/login/callback"
            var input = ApplicationService.NewOIDCClient(name: "Auth0 \(auth0.domain) (\(connectionName))", redirectURIs: [redirectURI])
            input.tokenEndpointAuthMethod = "client_secret_post"
            input.grantTypes = ["authorization_code"]
            input.requirePKCE = true
            input.allowedScopes = ["openid", "email", "profile"]
            input.idTokenSigningAlg = "RS256"
            let (app, secret) = try await createSigilClient(tenantID: tenantID, input, by: principal, partner: "Auth0")
            auth0 = auth0.redacting(secret)

            let script = try Self.fetchUserProfileScript(userinfoURL: issuer + "/oauth2/userinfo")
            let options: [String: JSONValue] = [
                "authorizationURL": .string(issuer + "/oauth2/authorize"),
                "tokenURL": .string(issuer + "/oauth2/token"),
                "client_id": .string(app.clientID ?? ""),
                "client_secret": .string(secret.value),
                "scope": "openid email profile",
                "pkce_enabled": true,
                "scripts": .object(["fetchUserProfile": .string(script)]),
            ]
            let created: [String: JSONValue]
            do {
                created = try await auth0.createConnection(
                    .object([
                        "strategy": "oauth2", "name": .string(connectionName), "display_name": .string(displayName ?? "Sigil"),
                        "options": .object(options),
                    ]), name: connectionName)
            } catch {
                let undone = await undoApplication(app, tenantID: tenantID, by: principal)
                throw Self.integrationError(error).adding(undone)
            }
            let connectionID = created["id"]?.string ?? ""
            var result = IntegrationResult(
                kind: .auth0Social, partnerDomain: auth0.domain,
                partnerObjects: [.init(kind: "connection", id: connectionID, name: connectionName)], applicationID: app.id, applicationName: app.name,
                enabledClients: [],
                values: [
                    "partner_base": auth0.base,
                    "connection": connectionName, "connection_id": connectionID, "client_id": app.clientID ?? "", "redirect_uri": redirectURI,
                    "login_url": "\(auth0.base)/authorize?connection=\(connectionName)",
                ],
                nextStep:
                    "Users of the Auth0 applications the connection is enabled for can sign in with Sigil: add connection=\(connectionName) to their /authorize requests, or show its button on Auth0's login page.",
                rotateCredentials: Self.auth0Rotate(clientID: clientID), createdAt: context.clock.now())
            try await enable(
                auth0, connectionID: connectionID, name: connectionName, console: "Social", clients: enableFor, result: &result, tenantID: tenantID,
                by: principal)
            await audit(&result, tenantID: tenantID, by: principal)
            return result
        }
    }

    /// Auth0's `fetchUserProfile(accessToken, context, callback)` for Sigil: the claims of the ID
    /// token Auth0 just received from Sigil's token endpoint over TLS (`context.id_token`), or
    /// Sigil's userinfo with the access token; the profile's `user_id` is the subject.
    static func fetchUserProfileScript(userinfoURL: String) throws -> String {
        let url = String(decoding: try JSONValue.string(userinfoURL).serialized(), as: UTF8.self)
        return """
            function fetchUserProfile(accessToken, context, callback) {
              function done(claims) {
                if (!claims || !claims.sub) return callback(new Error('Sigil returned no subject'));
                callback(null, {
                  user_id: claims.sub, email: claims.email, email_verified: claims.email_verified,
                  given_name: claims.given_name, family_name: claims.family_name,
                  name: [claims.given_name, claims.family_name].filter(Boolean).join(' ') || claims.email
                });
              }
              if (context && context.id_token) {
                try {
                  var part = context.id_token.split('.')[1].replace(/-/g, '+').replace(/_/g, '/');
                  return done(JSON.parse(Buffer.from(part, 'base64').toString('utf8')));
                } catch (e) { /* fall back to userinfo */ }
              }
              request.get({ url: \(url), headers: { Authorization: 'Bearer ' + accessToken }, json: true }, function (err, resp, body) {
                if (err) return callback(err);
                if (resp.statusCode !== 200) return callback(new Error('Sigil userinfo answered ' + resp.statusCode));
                done(body);
              });
            }
            """
    }

    // MARK: Okta, Sigil as SAML IdP

    /// Okta SAML 2.0 identity provider whose IdP is Sigil, and the Sigil SAML application for
    /// Okta's SP: upload Sigil's signing certificate → create the IdP (JIT provisioning, username =
    /// NameID, `trustClaims` so Okta reads `session.amr`) → read back the ACS (`_links.acs.href`)
    /// and audience (`protocol.credentials.trust.audience`) → create the Sigil application (email
    /// NameID; email, firstName, lastName) → optionally a routing rule.
    public func oktaSAML(
        tenantID: String, issuer: String, orgURL: String, apiToken: Secret<String>, idpName: String = "Sigil",
        route: OktaRoute? = nil, by principal: Principal
    ) async throws -> IntegrationResult {
        try await attempt(.oktaSAML, tenantID: tenantID, by: principal) {
            if let message = Validate.name(idpName, field: "identity provider name", max: 100) { throw IntegrationError(.invalidInput, message) }
            if case .domain(let d)? = route, !Self.isDomain(d) {
                throw IntegrationError(.invalidInput, "\"\(d.prefix(100))\" is not an email domain (e.g. example.com).")
            }
            let x5c = try SigningCertificate.x5cValue(pem: try await keys.currentCertificatePEM(tenantID: tenantID))
            let okta = try OktaManagement(orgURL: orgURL, apiToken: apiToken, remote: context.remote, logger: context.logger)

            let key = try await okta.uploadKey(x5c: x5c)
            var objects: [IntegrationResult.PartnerObject] = key.created ? [.init(kind: "key", id: key.kid)] : []
            let sso = SAMLIdentityProviderService.ssoURL(issuer: issuer)
            let body = Self.oktaSAMLBody(name: idpName, ssoURL: sso, idpEntityID: SAMLIdentityProviderService.entityID(issuer: issuer), kid: key.kid)
            let created: [String: JSONValue]
            do {
                created = try await okta.createIdP(body, name: idpName)
            } catch {
                let undone = await undoOkta(okta, idpID: nil, key: key)
                throw Self.integrationError(error).adding(undone)
            }
            let idpID = created["id"]?.string ?? ""
            objects.append(.init(kind: "identity_provider", id: idpID, name: idpName))

            // Okta's SP values: read them back, never construct them (protocols.md §5.3).
            var idp = created
            if Self.oktaSPValues(idp) == nil, let read = try? await okta.idp(id: idpID) { idp = read }
            guard let spValues = Self.oktaSPValues(idp) else {
                let undone = await undoOkta(okta, idpID: idpID, key: key)
                throw IntegrationError(
                    .partnerAnswerUnexpected, "Okta's identity provider \(idpID) names no ACS URL (_links.acs) or audience (trust.audience). \(undone)")
            }
            let (acs, audience) = spValues

            let settings = SAMLServiceProviderSettings(
                entityID: audience, assertionConsumerServices: [.init(url: acs, index: 0, isDefault: true)],
                nameIDFormat: SAMLServiceProviderSettings.emailNameIDFormat,
                attributeMappings: SAMLServiceProviderSettings.oktaDefaultAttributes, signing: .both)
            let app: Application
            do {
                app = try await applications.createSAML(tenantID: tenantID, .init(name: "Okta \(okta.domain) (\(idpName))", settings: settings), by: principal)
            } catch {
                let undone = await undoOkta(okta, idpID: idpID, key: key)
                throw IntegrationError(.sigilApplicationFailed, "Sigil could not create its SAML application for Okta (\(Self.reason(error))). \(undone)")
            }

            var result = IntegrationResult(
                kind: .oktaSAML, partnerDomain: okta.domain, partnerObjects: objects, applicationID: app.id, applicationName: app.name,
                enabledClients: [],
                values: [
                    "partner_base": okta.base,
                    "idp_id": idpID, "key_id": key.kid, "acs_url": acs, "sp_entity_id": audience,
                    "idp_entity_id": SAMLIdentityProviderService.entityID(issuer: issuer), "idp_sso_url": sso,
                ],
                nextStep: route == nil
                    ? "Send users to Sigil with a routing rule: Okta Admin Console → Security → Identity Providers → Routing rules → Add routing rule, identity provider \(idpName)."
                    : "Okta now routes the chosen users to Sigil at sign-in; they are created in Okta on their first sign-in (JIT).",
                rotateCredentials: Self.oktaRevoke, createdAt: context.clock.now())
            if let route {
                let (ruleName, rule) = Self.routingRule(route, idpID: idpID, idpName: idpName)
                do {
                    let policyID = try await okta.discoveryPolicyID()
                    let createdRule = try await okta.createRule(policyID: policyID, rule)
                    let ruleID = createdRule["id"]?.string ?? ""
                    result.partnerObjects.append(.init(kind: "routing_rule", id: ruleID, name: ruleName))
                    result.values["routing_rule_id"] = ruleID
                    result.values["routing_policy_id"] = policyID
                } catch {
                    await audit(&result, tenantID: tenantID, by: principal, reason: "the routing rule was not created")
                    throw IntegrationError(
                        .incomplete,
                        "Both sides exist: the Okta identity provider \(idpName) (\(idpID)) and the Sigil application \(app.name) (\(app.id)). The routing rule was not created (\(Self.reason(error))): add it in the Okta Admin Console → Security → Identity Providers → Routing rules.",
                        retryAfter: (error as? IntegrationError)?.retryAfter)
                }
            }
            await audit(&result, tenantID: tenantID, by: principal)
            return result
        }
    }

    /// `POST /api/v1/idps` for a SAML2 IdP (protocols.md §5.3): Okta sends unsigned AuthnRequests
    /// over HTTP-POST to Sigil's SSO URL and accepts a SHA-256 signature on the response or the
    /// assertion; JIT provisioning, username = NameID (an email), and `trustClaims` so that Okta
    /// policies see Sigil's `session.amr` (protocols.md §7.6).
    static func oktaSAMLBody(name: String, ssoURL: String, idpEntityID: String, kid: String) -> JSONValue {
        let endpoints: JSONValue = .object([
            "sso": .object(["url": .string(ssoURL), "binding": "HTTP-POST", "destination": .string(ssoURL)]),
            "acs": .object(["binding": "HTTP-POST", "type": "INSTANCE"]),
        ])
        let algorithms: JSONValue = .object([
            "request": .object(["signature": .object(["algorithm": "SHA-256", "scope": "NONE"])]),
            "response": .object(["signature": .object(["algorithm": "SHA-256", "scope": "ANY"])]),
        ])
        let credentials: JSONValue = .object(["trust": .object(["issuer": .string(idpEntityID), "kid": .string(kid)])])
        let settings: JSONValue = .object(["nameFormat": .string(SAMLServiceProviderSettings.emailNameIDFormat)])
        let provisioning: JSONValue = .object(["action": "AUTO", "profileMaster": false, "groups": .object(["action": "NONE"])])
        let subject: JSONValue = .object(["userNameTemplate": .object(["template": "idpuser.subjectNameId"]), "matchType": "USERNAME"])
        let policy: JSONValue = .object([
            "provisioning": provisioning, "accountLink": .object(["action": "AUTO"]), "subject": subject, "maxClockSkew": 120_000,
            "trustClaims": true,
        ])
        let proto: JSONValue = .object([
            "type": "SAML2", "endpoints": endpoints, "algorithms": algorithms, "credentials": credentials, "settings": settings,
        ])
        return .object(["type": "SAML2", "name": .string(name), "protocol": proto, "policy": policy])
    }

    /// `POST /api/v1/idps` for a custom IDV vendor (`IDV_STANDARD`, protocols.md §1.7): Sigil's PAR
    /// (binding HTTP-POST), `/oauth2/idv-authorize`, token and JWKS endpoints, its issuer (the
    /// schema lacks it, the console requires it: §1.7 DOC-CONFLICT) and the client credentials.
    static func oktaIDVBody(
        name: String, issuer: String, clientID: String, clientSecret: Secret<String>, vendorDisplayName: String,
        termsOfUseURL: String?, privacyPolicyURL: String?
    ) -> JSONValue {
        let endpoints: JSONValue = .object([
            "par": .object(["url": .string(issuer + "/oauth2/par"), "binding": "HTTP-POST"]),
            "authorization": .object(["url": .string(issuer + "/oauth2/idv-authorize"), "binding": "HTTP-REDIRECT"]),
            "token": .object(["url": .string(issuer + "/oauth2/token"), "binding": "HTTP-POST"]),
            "jwks": .object(["url": .string(issuer + "/oauth2/jwks"), "binding": "HTTP-REDIRECT"]),
        ])
        let client: JSONValue = .object(["client_id": .string(clientID), "client_secret": .string(clientSecret.value)])
        let proto: JSONValue = .object([
            "type": "ID_PROOFING", "endpoints": endpoints, "issuer": .object(["url": .string(issuer)]),
            "scopes": .strings(["openid", "profile", "identity_assurance"]), "credentials": .object(["client": client]),
        ])
        let subject: JSONValue = .object(["userNameTemplate": .object(["template": "source.userName"]), "matchType": "USERNAME"])
        let policy: JSONValue = .object([
            "provisioning": .object(["action": "DISABLED", "profileMaster": false]), "accountLink": .object(["action": "AUTO"]),
            "subject": subject, "maxClockSkew": 0,
        ])
        var metadata: [String: JSONValue] = ["vendorDisplayName": .string(vendorDisplayName)]
        if let termsOfUseURL { metadata["termsOfUse"] = .string(termsOfUseURL) }
        if let privacyPolicyURL { metadata["privacyPolicy"] = .string(privacyPolicyURL) }
        return .object([
            "type": "IDV_STANDARD", "name": .string(name), "protocol": proto, "policy": policy,
            "properties": .object(["idvMetadata": .object(metadata)]),
        ])
    }

    /// ACS URL and audience from an Okta SAML2 IdP object.
    static func oktaSPValues(_ idp: [String: JSONValue]) -> (String, String)? {
        guard let acs = idp["_links"]?.object?["acs"]?.object?["href"]?.string,
            let audience = idp["protocol"]?.object?["credentials"]?.object?["trust"]?.object?["audience"]?.string
        else { return nil }
        return (acs, audience)
    }

    /// An IdP discovery rule sending everyone, or users of one domain, to the IdP; with its name.
    static func routingRule(_ route: OktaRoute, idpID: String, idpName: String) -> (String, JSONValue) {
        var conditions: [String: JSONValue] = ["network": .object(["connection": "ANYWHERE"])]
        let name: String
        switch route {
        case .allUsers:
            name = "Everyone to \(idpName)"
        case .domain(let domain):
            name = "\(domain) to \(idpName)"
            conditions["userIdentifier"] = .object([
                "type": "IDENTIFIER", "patterns": .array([.object(["matchType": "SUFFIX", "value": .string(domain)])]),
            ])
        }
        let short = String(name.prefix(50))
        return (
            short,
            .object([
                "type": "IDP_DISCOVERY", "name": .string(short), "priority": 1, "status": "ACTIVE", "conditions": .object(conditions),
                "actions": .object([
                    "idp": .object(["idpSelectionType": "SPECIFIC", "providers": .array([.object(["type": "SAML2", "id": .string(idpID)])])])
                ]),
            ])
        )
    }

    static func isDomain(_ value: String) -> Bool {
        let labels = value.split(separator: ".", omittingEmptySubsequences: false)
        guard value.count <= 253, labels.count >= 2 else { return false }
        return labels.allSatisfy { label in
            !label.isEmpty && label.count <= 63 && !label.hasPrefix("-") && !label.hasSuffix("-")
                && label.unicodeScalars.allSatisfy { $0.isASCII && (CharacterSet.alphanumerics.contains($0) || $0 == "-") }
        }
    }

    // MARK: Okta, Sigil as identity verification vendor

    /// A Sigil OIDC application for Okta's "custom IDV vendor" (PAR required, PKCE,
    /// `client_secret_post`, scopes `openid profile identity_assurance`, identity verification),
    /// then an Okta `IDV_STANDARD` identity provider with Sigil's issuer and its PAR,
    /// `/oauth2/idv-authorize`, token and JWKS endpoints and the new client's credentials. The
    /// redirect URI is Okta's `{org}/idp/identity-verification/callback` (and the one Okta's answer
    /// names, if it names another).
    public func oktaIDV(
        tenantID: String, issuer: String, orgURL: String, apiToken: Secret<String>, idpName: String = "Sigil identity verification",
        vendorDisplayName: String = "Sigil", termsOfUseURL: String? = nil, privacyPolicyURL: String? = nil, by principal: Principal
    ) async throws -> IntegrationResult {
        try await attempt(.oktaIDV, tenantID: tenantID, by: principal) {
            if let message = Validate.name(idpName, field: "identity provider name", max: 100) { throw IntegrationError(.invalidInput, message) }
            var okta = try OktaManagement(orgURL: orgURL, apiToken: apiToken, remote: context.remote, logger: context.logger)
            try await okta.probe()

            let redirectURI = okta.base + "/idp/identity-verification/callback"
            var input = ApplicationService.NewOIDCClient(name: "Okta IDV \(okta.domain)", redirectURIs: [redirectURI])
            input.tokenEndpointAuthMethod = "client_secret_post"
            input.grantTypes = ["authorization_code"]
            input.requirePKCE = true
            input.requirePAR = true
            input.allowedScopes = ["openid", "profile", "identity_assurance"]
            input.idTokenSigningAlg = "RS256"
            input.identityVerification = true
            let (app, secret) = try await createSigilClient(tenantID: tenantID, input, by: principal, partner: "Okta")
            okta = okta.redacting(secret)

            let body = Self.oktaIDVBody(
                name: idpName, issuer: issuer, clientID: app.clientID ?? "", clientSecret: secret, vendorDisplayName: vendorDisplayName,
                termsOfUseURL: termsOfUseURL, privacyPolicyURL: privacyPolicyURL)
            let created: [String: JSONValue]
            do {
                created = try await okta.createIdP(body, name: idpName)
            } catch {
                let undone = await undoApplication(app, tenantID: tenantID, by: principal)
                throw Self.integrationError(error).adding(undone)
            }
            let idpID = created["id"]?.string ?? ""

            var redirectURIs = [redirectURI]
            if let named = created["_links"]?.object?["callback"]?.object?["href"]?.string, named != redirectURI {
                var change = ApplicationService.Change()
                change.addRedirectURIs = [named]
                do {
                    _ = try await applications.update(tenantID: tenantID, id: app.id, expectedVersion: nil, change, by: principal)
                    redirectURIs.append(named)
                } catch {
                    context.logger.warning(
                        "Okta named another IDV redirect URI; it could not be added",
                        metadata: ["application": .string(app.id), "error": .string(Self.reason(error))])
                }
            }
            var result = IntegrationResult(
                kind: .oktaIDV, partnerDomain: okta.domain, partnerObjects: [.init(kind: "identity_provider", id: idpID, name: idpName)],
                applicationID: app.id, applicationName: app.name, enabledClients: [],
                values: [
                    "partner_base": okta.base,
                    "idp_id": idpID, "client_id": app.clientID ?? "", "redirect_uri": redirectURIs.joined(separator: " "), "issuer": issuer,
                    "par_url": issuer + "/oauth2/par", "authorization_url": issuer + "/oauth2/idv-authorize",
                ],
                nextStep:
                    "Use it in Okta: Admin Console → Security → Authentication Policies → Okta account management policy, add or edit a rule and choose \(idpName) as the identity verification vendor. With an Okta custom domain, add https://{custom domain}/idp/identity-verification/callback to the Sigil application's redirect URIs.",
                rotateCredentials: Self.oktaRevoke, createdAt: context.clock.now())
            await audit(&result, tenantID: tenantID, by: principal)
            return result
        }
    }

    // MARK: steps shared by the setups

    /// Runs a setup after the tenant check; an `IntegrationError` is audited as `integration.failed`.
    func attempt(
        _ kind: IntegrationResult.Kind, tenantID: String, by principal: Principal, _ body: () async throws -> IntegrationResult
    ) async throws -> IntegrationResult {
        try authorize(principal, tenantID)
        do {
            return try await body()
        } catch let error as IntegrationError {
            await context.recordFailure("integration.failed", by: principal, tenantID: tenantID, reason: "\(kind.rawValue) \(error.code): \(error.message)")
            throw error
        }
    }

    /// Creates the Sigil OIDC client a vendor will use; nothing exists at the vendor yet, so a
    /// failure leaves nothing behind.
    func createSigilClient(
        tenantID: String, _ input: ApplicationService.NewOIDCClient, by principal: Principal, partner: String
    ) async throws -> (Application, Secret<String>) {
        let created: (Application, Secret<String>?)
        do {
            created = try await applications.createOIDC(tenantID: tenantID, input, by: principal)
        } catch {
            throw IntegrationError(
                .sigilApplicationFailed,
                "Sigil could not create its OIDC application for \(partner) (\(Self.reason(error))). Nothing was created at \(partner).")
        }
        guard let secret = created.1 else {
            throw IntegrationError(
                .sigilApplicationFailed, "Sigil's new OIDC application for \(partner) has no client secret. Nothing was created at \(partner).")
        }
        return (created.0, secret)
    }

    /// Deletes the Sigil application a failed setup had just made; the sentence saying so.
    func undoApplication(_ app: Application, tenantID: String, by principal: Principal) async -> String {
        do {
            try await applications.delete(tenantID: tenantID, id: app.id, expectedVersion: nil, by: principal)
            return "The Sigil application \(app.name) that Sigil had just created for it was deleted again: nothing is left behind."
        } catch {
            return
                "Sigil had created the application \(app.name) (\(app.id)) and could not delete it (\(Self.reason(error))): delete it with sigil app delete or the admin API."
        }
    }

    /// Deletes what a failed Okta setup had just made (the IdP, then the key if Sigil uploaded
    /// it); the sentence saying what was undone and what is left.
    func undoOkta(_ okta: OktaManagement, idpID: String?, key: (kid: String, created: Bool)) async -> String {
        var done: [String] = []
        var left: [String] = []
        if let idpID {
            do { try await okta.deleteIdP(id: idpID); done.append("the identity provider \(idpID)") } catch {
                left.append("the identity provider \(idpID) (Security → Identity Providers; \(Self.reason(error)))")
            }
        }
        if key.created {
            do { try await okta.deleteKey(kid: key.kid); done.append("the uploaded signing key \(key.kid)") } catch {
                left.append("the signing key \(key.kid) in the IdP key store (DELETE /api/v1/idps/credentials/keys/\(key.kid); \(Self.reason(error)))")
            }
        }
        var sentence = done.isEmpty ? "" : "Sigil deleted \(done.joined(separator: " and ")) again."
        if !left.isEmpty { sentence += (sentence.isEmpty ? "" : " ") + "Still in Okta, to delete by hand: \(left.joined(separator: "; "))." }
        return sentence.isEmpty ? "Nothing was left in Okta." : sentence
    }

    /// Enables an Auth0 connection for the chosen applications; when that fails both sides exist,
    /// which the error says (after auditing what was made).
    func enable(
        _ auth0: Auth0Management, connectionID: String, name: String, console: String, clients: [String],
        result: inout IntegrationResult, tenantID: String, by principal: Principal
    ) async throws {
        guard !clients.isEmpty else { return }
        do {
            try await auth0.enableClients(connectionID: connectionID, clientIDs: clients)
            result.enabledClients = clients
        } catch {
            await audit(&result, tenantID: tenantID, by: principal, reason: "the connection was not enabled for the chosen applications")
            throw IntegrationError(
                .incomplete,
                "Both sides exist: the Auth0 connection \(name) (\(connectionID)) and the Sigil application \(result.applicationName) (\(result.applicationID)). Enabling the connection for \(clients.joined(separator: ", ")) failed (\(Self.reason(error))): enable it in Auth0 → Authentication → \(console) → \(name) → Applications.",
                retryAfter: (error as? IntegrationError)?.retryAfter)
        }
    }

    /// The tenant's Auth0 applications, or nil when the token may not list them.
    static func clientsIfReadable(_ auth0: Auth0Management) async throws -> [[String: JSONValue]]? {
        do {
            return try await auth0.clients()
        } catch let error as IntegrationError where error.code == .auth0ScopeMissing {
            return nil
        }
    }

    /// Refuses client IDs the tenant does not have, before anything is created (when the list is complete).
    static func checkClients(_ wanted: [String], known: [[String: JSONValue]]) throws {
        guard known.count < Auth0Management.clientPages * 100 else { return }
        let ids = Set(known.compactMap { $0["client_id"]?.string })
        let unknown = wanted.filter { !ids.contains($0) }
        guard !unknown.isEmpty else { return }
        let listed = known.prefix(10).compactMap { c -> String? in
            guard let id = c["client_id"]?.string else { return nil }
            return "\(c["name"]?.string ?? "?") (\(id))"
        }
        throw IntegrationError(
            .auth0ClientUnknown,
            "Auth0 has no application with client ID \(unknown.joined(separator: ", ")). Nothing was created. The tenant's applications include: \(listed.joined(separator: ", ")); copy the Client ID from Applications → Applications → the application → Settings."
        )
    }

    static func auth0Rotate(clientID: String) -> String {
        "Sigil used the client secret of the Auth0 application \(clientID) for this setup only and kept no copy. Rotate it now (Auth0 → Applications → Applications → that application → Settings or Credentials → Rotate), or delete the application if it was made for this setup."
    }

    static let oktaRevoke =
        "Sigil used the Okta API token for this setup only and kept no copy. Revoke it now: Okta Admin Console → Security → API → Tokens → Revoke."

    /// Any error of a step as an `IntegrationError` (others keep only a credential-free reason).
    static func integrationError(_ error: any Error) -> IntegrationError {
        (error as? IntegrationError) ?? IntegrationError(.partnerAnswerUnexpected, reason(error))
    }

    /// A short, credential-free reason for an error from any step.
    static func reason(_ error: any Error) -> String {
        switch error {
        case let e as IntegrationError: e.message
        case let e as ServiceError: e.message
        case let e as StoreError: e.description
        case let e as SigilError: e.message
        default: String(describing: type(of: error))
        }
    }

    /// Writes `integration.created`: what exists on both sides, never a credential. A failed
    /// write is logged, not thrown: both sides exist by then and the result must reach the admin.
    /// SHA-256 of the certificate's DER, hex: which certificate a partner was given.
    static func fingerprint(pem: String) -> String? {
        guard let x5c = try? SigningCertificate.x5cValue(pem: pem), let der = Data(base64Encoded: x5c) else { return nil }
        return hexEncoded(SHA256.hash(data: Array(der)))
    }

    /// Records what exists on both sides (for the doctor; never a credential) and audits it.
    func audit(_ result: inout IntegrationResult, tenantID: String, by principal: Principal, reason: String? = nil) async {
        result.id = context.ids.make(.integration)
        var values = result.values
        if let pem = try? await keys.currentCertificatePEM(tenantID: tenantID) { values["certificate_sha256"] = Self.fingerprint(pem: pem) }
        let record = IntegrationRecord(
            tenantID: tenantID, id: result.id, kind: result.kind.rawValue, partnerDomain: result.partnerDomain,
            partnerObjects: result.partnerObjects, applicationID: result.applicationID,
            enabledClients: result.enabledClients, values: values, createdAt: result.createdAt)
        do {
            try await context.store.integrationRecords.create(record)
        } catch {
            context.logger.error("integration record not written", metadata: ["integration": .string(result.id), "error": .string("\(error)")])
        }
        let after: [String: String] = [
            "integration_id": result.id,
            "kind": result.kind.rawValue, "partner_domain": result.partnerDomain,
            "partner_objects": result.partnerObjects.map { "\($0.kind):\($0.id)" }.joined(separator: " "),
            "application_id": result.applicationID, "enabled_clients": result.enabledClients.joined(separator: " "),
        ]
        do {
            try await context.store.audit.append(
                context.auditEvent(
                    "integration.created", by: principal, tenantID: tenantID, targetType: "application", targetID: result.applicationID,
                    after: after, reason: reason))
        } catch {
            context.logger.error("audit write failed", metadata: ["action": "integration.created", "error": .string("\(error)")])
        }
    }
}

extension ServiceSet {
    /// One-click Auth0 and Okta setups (issue 14).
    public var integrations: IntegrationService { IntegrationService(context: context, applications: applications) }
}
