import Foundation
import SigilCore
import SigilJOSE
import SigilServices
import SigilStore
import SigilTestSupport
import Synchronization
import Testing

/// One-click Auth0 and Okta setups (issue 14) through the service on both backends, against a
/// scripted Auth0 tenant and Okta org behind the outbound fetcher that answer with the vendors'
/// documented bodies (protocols.md §4, §5, §1.7; interop/README-vendor-fakes.md): the requests
/// each setup sends, each documented refusal's `IntegrationError.code`, the undoing of a half-made
/// setup, and that no credential or token reaches an error message, the audit log or the store.
/// The interop suite runs the same setups against the vendor fakes (interop/fake_auth0.py, fake_okta.py).
@Suite struct IntegrationServiceTests {
    static let auth0Domain = "acme.eu.auth0.com"
    static let auth0Secret = "auth0-client-secret-7f3a9c11"
    static let accessToken = "eyJhbGciOiJSUzI1NiJ9.auth0-access-token-55d1.c2ln"
    static let oktaOrg = "acme.okta.example"
    static let oktaToken = "00okta-api-token-abc123xyz"
    static let oktaACS = "https://acme.okta.example/sso/saml2/0oa1"
    static let oktaAudience = "https://www.okta.com/saml2/service-provider/spabcdefghijklmnopq"

    /// One request as the vendor received it.
    struct Sent: Sendable {
        var method: String
        var host: String
        var path: String
        var headers: [(String, String)]
        var body: [UInt8]

        var line: String { "\(method) \(path)" }
        var json: JSONValue? { try? JSONValue.parse(body) }
        var form: [String: String] {
            Dictionary(
                (URLComponents(string: "?" + String(decoding: body, as: UTF8.self))?.queryItems ?? []).map { ($0.name, $0.value ?? "") },
                uniquingKeysWith: { a, _ in a })
        }
        func header(_ name: String) -> String? { headers.first { $0.0.lowercased() == name }?.1 }
    }

    /// Auth0's and Okta's management APIs as documented, with canned answers a test may put in
    /// front of a route (`METHOD path`).
    final class ScriptedVendors: RemoteDocumentFetcher, Sendable {
        let sent = Mutex<[Sent]>([])
        let overrides = Mutex<[String: OutboundResponse]>([:])
        /// The scopes the Auth0 token answer grants.
        let scopes = Mutex("create:connections read:connections update:connections delete:connections read:clients")

        var requests: [Sent] { sent.withLock { $0 } }
        var lines: [String] { requests.map(\.line) }

        func answer(_ route: String, _ status: Int, _ body: JSONValue?, headers: [(String, String)] = []) {
            let bytes = body.flatMap { try? $0.serialized() } ?? []
            overrides.withLock { $0[route] = OutboundResponse(status: status, body: bytes, headers: headers) }
        }

        func fetch(_ url: URL, accept: String, maxBytes: Int, policy: OutboundPolicy) async throws -> RemoteDocument {
            throw RemoteFetchError.status(404)
        }

        func send(_ request: OutboundRequest, maxBytes: Int, policy: OutboundPolicy) async throws -> OutboundResponse {
            let sent = Sent(
                method: request.method, host: request.url.host ?? "", path: request.url.path, headers: request.headers, body: request.body ?? [])
            self.sent.withLock { $0.append(sent) }
            if let canned = overrides.withLock({ $0[sent.line] }) { return canned }
            return sent.host == IntegrationServiceTests.auth0Domain ? auth0(sent) : okta(sent)
        }

        static func reply(_ status: Int, _ body: JSONValue? = nil) -> OutboundResponse {
            OutboundResponse(status: status, body: body.flatMap { try? $0.serialized() } ?? [])
        }

        func auth0(_ sent: Sent) -> OutboundResponse {
            if sent.line == "POST /oauth/token" {
                guard sent.form["client_secret"] == IntegrationServiceTests.auth0Secret else {
                    return Self.reply(401, .object(["error": "access_denied", "error_description": "Unauthorized"]))
                }
                return Self.reply(
                    200,
                    .object([
                        "access_token": .string(IntegrationServiceTests.accessToken), "expires_in": 86400,
                        "scope": .string(scopes.withLock { $0 }), "token_type": "Bearer",
                    ]))
            }
            guard sent.header("authorization") == "Bearer " + IntegrationServiceTests.accessToken else {
                return Self.reply(401, .object(["statusCode": 401, "error": "Unauthorized", "message": "Invalid token"]))
            }
            switch sent.line {
            case "GET /api/v2/clients":
                return Self.reply(
                    200,
                    .array([
                        .object(["client_id": "portal1", "name": "Acme portal", "app_type": "regular_web", "tenant": "acme"]),
                        .object(["client_id": "spa1", "name": "Acme SPA", "app_type": "spa", "tenant": "acme"]),
                    ]))
            case "POST /api/v2/connections":
                var connection = sent.json?.object ?? [:]
                connection["id"] = "con_123"
                return Self.reply(201, .object(connection))
            case "GET /api/v2/connections/con_123":
                let created = requests.last { $0.line == "POST /api/v2/connections" }
                var connection = created?.json?.object ?? [:]
                connection["id"] = "con_123"
                return Self.reply(200, .object(connection))
            case "PATCH /api/v2/connections/con_123/clients", "DELETE /api/v2/connections/con_123":
                return Self.reply(204)
            default:
                return Self.reply(404, .object(["statusCode": 404, "error": "Not Found", "message": "Not Found"]))
            }
        }

        func okta(_ sent: Sent) -> OutboundResponse {
            guard sent.header("authorization") == "SSWS " + IntegrationServiceTests.oktaToken else {
                return Self.reply(401, IntegrationServiceTests.oktaError("E0000011", "Invalid token provided"))
            }
            switch sent.line {
            case "GET /api/v1/idps":
                return Self.reply(200, .array([]))
            case "POST /api/v1/idps/credentials/keys":
                return Self.reply(
                    200, .object(["kid": "kid-1", "kty": "RSA", "use": "sig", "x5c": sent.json?.object?["x5c"] ?? .array([])]))
            case "POST /api/v1/idps":
                var idp = sent.json?.object ?? [:]
                idp["id"] = "0oa1"
                idp["status"] = "ACTIVE"
                if idp["type"]?.string == "SAML2" {
                    var proto = idp["protocol"]?.object ?? [:]
                    var credentials = proto["credentials"]?.object ?? [:]
                    var trust = credentials["trust"]?.object ?? [:]
                    trust["audience"] = .string(IntegrationServiceTests.oktaAudience)
                    credentials["trust"] = .object(trust)
                    proto["credentials"] = .object(credentials)
                    idp["protocol"] = .object(proto)
                    idp["_links"] = .object(["acs": .object(["href": .string(IntegrationServiceTests.oktaACS)])])
                }
                return Self.reply(200, .object(idp))
            case "GET /api/v1/policies":
                return Self.reply(200, .array([.object(["id": "00p1", "type": "IDP_DISCOVERY", "name": "Idp Discovery Policy"])]))
            case "POST /api/v1/policies/00p1/rules":
                var rule = sent.json?.object ?? [:]
                rule["id"] = "0pr1"
                return Self.reply(200, .object(rule))
            case "DELETE /api/v1/idps/0oa1", "DELETE /api/v1/idps/credentials/keys/kid-1":
                return Self.reply(204)
            default:
                return Self.reply(404, IntegrationServiceTests.oktaError("E0000007", "Not found: Resource not found"))
            }
        }
    }

    static func oktaError(_ code: String, _ summary: String, causes: [String] = []) -> JSONValue {
        .object([
            "errorCode": .string(code), "errorSummary": .string(summary), "errorLink": .string(code), "errorId": "oae1",
            "errorCauses": .array(causes.map { .object(["errorSummary": .string($0)]) }),
        ])
    }

    func withVendors(_ backend: Backend, seed: String = #function, _ body: (ServiceHarness, ScriptedVendors) async throws -> Void) async throws {
        let vendors = ScriptedVendors()
        let h = try await ServiceHarness.open(backend, seed: seed, fetcher: vendors)
        do { try await body(h, vendors) } catch {
            try? await h.close()
            throw error
        }
        try await h.close()
    }

    /// Neither a credential nor a token is anywhere in the audit log or the applications.
    func expectNothingStored(_ h: ServiceHarness, _ secrets: [String], sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let events = try await h.store.audit.list(tenantID: nil, page: PageRequest(limit: 500)).items
        let apps = try await h.store.applications.list(tenantID: h.tenant.id, page: PageRequest(limit: 500)).items
        let dump = String(decoding: try JSONEncoder().encode(events), as: UTF8.self) + String(decoding: try JSONEncoder().encode(apps), as: UTF8.self)
        for secret in secrets { #expect(!dump.contains(secret), "a secret is stored", sourceLocation: sourceLocation) }
    }

    func integrationError(_ body: () async throws -> Void) async -> IntegrationError? {
        do { try await body() } catch let error as IntegrationError { return error } catch {
            Issue.record("not an IntegrationError: \(error)")
            return nil
        }
        Issue.record("no error")
        return nil
    }

    func auth0SAML(_ h: ServiceHarness, name: String = "sigil-saml", enableFor: [String] = ["portal1"]) async throws -> IntegrationResult {
        try await h.services.integrations.auth0SAML(
            tenantID: h.tenant.id, issuer: ServiceHarness.issuer, domain: Self.auth0Domain, clientID: "m2m-client",
            clientSecret: Secret(Self.auth0Secret), connectionName: name, enableFor: enableFor, by: .cli)
    }

    // MARK: the setups

    @Test(arguments: Backend.enabled) func auth0SAMLConfiguresBothSides(_ backend: Backend) async throws {
        try await withVendors(backend) { h, vendors in
            let result = try await auth0SAML(h)
            #expect(
                vendors.lines == [
                    "POST /oauth/token", "GET /api/v2/clients", "POST /api/v2/connections", "GET /api/v2/connections/con_123",
                    "PATCH /api/v2/connections/con_123/clients",
                ])
            let sent = vendors.requests
            let token = sent[0].form
            #expect(token["grant_type"] == "client_credentials" && token["client_id"] == "m2m-client")
            #expect(token["audience"] == "https://acme.eu.auth0.com/api/v2/")
            #expect(sent[0].header("content-type") == "application/x-www-form-urlencoded")
            #expect(sent[1].header("authorization") == "Bearer " + Self.accessToken)

            let connection = sent[2].json?.object ?? [:]
            let options = connection["options"]?.object ?? [:]
            #expect(connection["strategy"] == "samlp" && connection["name"] == "sigil-saml")
            #expect(options["signInEndpoint"] == "https://id.example.com/saml/sso")
            #expect(options["signOutEndpoint"] == "https://id.example.com/saml/slo")
            #expect(options["signatureAlgorithm"] == "rsa-sha256" && options["digestAlgorithm"] == "sha256")
            #expect(options["protocolBinding"] == "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST")
            #expect(options["fieldsMap"] == .object(["email": "email", "given_name": "given_name", "family_name": "family_name"]))
            let pem = try await h.services.keys.currentCertificatePEM(tenantID: h.tenant.id)
            #expect(options["signingCert"]?.string.flatMap { Data(base64Encoded: $0) } == Data(pem.utf8))
            #expect(sent[4].json == .array([.object(["client_id": "portal1", "status": true])]))

            let app = try await h.store.applications.get(tenantID: h.tenant.id, id: result.applicationID)
            guard case .saml(let sp) = app.settings else {
                Issue.record("not a SAML application")
                return
            }
            #expect(sp.entityID == "urn:auth0:acme:sigil-saml")
            #expect(sp.assertionConsumerServices.map(\.url) == ["https://acme.eu.auth0.com/login/callback?connection=sigil-saml"])
            #expect(sp.attributeMappings.map(\.name) == ["email", "given_name", "family_name"])
            #expect(sp.attributeMappings.map(\.userField) == ["email", "given_name", "family_name"])
            #expect(result.partnerObjects == [.init(kind: "connection", id: "con_123", name: "sigil-saml")])
            #expect(result.enabledClients == ["portal1"] && result.kind == .auth0SAML && result.partnerDomain == Self.auth0Domain)
            #expect(result.rotateCredentials.contains("Rotate") && result.rotateCredentials.contains("m2m-client"))
            #expect(try await h.auditActions().contains("integration.created"))
            try await expectNothingStored(h, [Self.auth0Secret, Self.accessToken])
        }
    }

    /// A tenant name given by the administrator wins over the domain's, and needs no application list.
    @Test(arguments: Backend.enabled) func auth0TenantCanBeNamed(_ backend: Backend) async throws {
        try await withVendors(backend) { h, vendors in
            let result = try await h.services.integrations.auth0SAML(
                tenantID: h.tenant.id, issuer: ServiceHarness.issuer, domain: "https://acme.eu.auth0.com/", clientID: "m2m-client",
                clientSecret: Secret(Self.auth0Secret), connectionName: "sigil-saml", auth0Tenant: "acme-prod", by: .cli)
            #expect(vendors.lines == ["POST /oauth/token", "POST /api/v2/connections", "GET /api/v2/connections/con_123"])
            let app = try await h.store.applications.get(tenantID: h.tenant.id, id: result.applicationID)
            #expect(app.entityID == "urn:auth0:acme-prod:sigil-saml")
        }
    }

    @Test(arguments: Backend.enabled) func auth0SocialConfiguresBothSides(_ backend: Backend) async throws {
        try await withVendors(backend) { h, vendors in
            let result = try await h.services.integrations.auth0Social(
                tenantID: h.tenant.id, issuer: ServiceHarness.issuer, domain: Self.auth0Domain, clientID: "m2m-client",
                clientSecret: Secret(Self.auth0Secret), connectionName: "sigil", by: .cli)
            #expect(vendors.lines == ["POST /oauth/token", "POST /api/v2/connections"])
            let connection = vendors.requests[1].json?.object ?? [:]
            let options = connection["options"]?.object ?? [:]
            #expect(connection["strategy"] == "oauth2" && connection["name"] == "sigil")
            #expect(options["authorizationURL"] == "https://id.example.com/oauth2/authorize")
            #expect(options["tokenURL"] == "https://id.example.com/oauth2/token")
            #expect(options["scope"] == "openid email profile" && options["pkce_enabled"] == .bool(true))
            let script = options["scripts"]?.object?["fetchUserProfile"]?.string ?? ""
            #expect(script.hasPrefix("function fetchUserProfile(accessToken, context, callback)") && script.contains("user_id: claims.sub"))
            #expect(script.contains("\"https://id.example.com/oauth2/userinfo\""))

            let app = try await h.store.applications.get(tenantID: h.tenant.id, id: result.applicationID)
            guard case .oidc(let client) = app.settings else {
                Issue.record("not an OIDC application")
                return
            }
            #expect(options["client_id"]?.string == client.clientID)
            let sentSecret = options["client_secret"]?.string ?? ""
            #expect(!sentSecret.isEmpty && client.clientSecretHash == tokenHash(sentSecret))
            #expect(client.redirectURIs == ["https://acme.eu.auth0.com/login/callback"])
            #expect(client.tokenEndpointAuthMethod == "client_secret_post" && client.requirePKCE && client.grantTypes == ["authorization_code"])
            #expect(client.allowedScopes == ["openid", "email", "profile"] && client.idTokenSigningAlg == "RS256")
            #expect(result.values["redirect_uri"] == "https://acme.eu.auth0.com/login/callback")
            // The Sigil client secret went to Auth0 only: not in the result, not stored in clear.
            #expect(!result.values.values.contains(sentSecret))
            try await expectNothingStored(h, [Self.auth0Secret, Self.accessToken, sentSecret])
        }
    }

    @Test(arguments: Backend.enabled) func oktaSAMLConfiguresBothSidesAndARoutingRule(_ backend: Backend) async throws {
        try await withVendors(backend) { h, vendors in
            let result = try await h.services.integrations.oktaSAML(
                tenantID: h.tenant.id, issuer: ServiceHarness.issuer, orgURL: "https://" + Self.oktaOrg, apiToken: Secret(Self.oktaToken),
                route: .domain("example.com"), by: .cli)
            #expect(
                vendors.lines == ["POST /api/v1/idps/credentials/keys", "POST /api/v1/idps", "GET /api/v1/policies", "POST /api/v1/policies/00p1/rules"])
            let sent = vendors.requests
            #expect(sent.allSatisfy { $0.header("authorization") == "SSWS " + Self.oktaToken })
            let pem = try await h.services.keys.currentCertificatePEM(tenantID: h.tenant.id)
            let x5c = try SigningCertificate.x5cValue(pem: pem)
            #expect(sent[0].json == .object(["x5c": .strings([x5c])]))

            let idp = sent[1].json?.object ?? [:]
            let proto = idp["protocol"]?.object ?? [:]
            let policy = idp["policy"]?.object ?? [:]
            #expect(idp["type"] == "SAML2" && proto["type"] == "SAML2")
            #expect(proto["endpoints"]?.object?["sso"]?.object?["url"] == "https://id.example.com/saml/sso")
            #expect(proto["credentials"]?.object?["trust"] == .object(["issuer": "https://id.example.com/saml/metadata", "kid": "kid-1"]))
            #expect(policy["trustClaims"] == .bool(true))
            #expect(policy["subject"] == .object(["userNameTemplate": .object(["template": "idpuser.subjectNameId"]), "matchType": "USERNAME"]))
            #expect(policy["provisioning"]?.object?["action"] == "AUTO")

            let rule = sent[3].json?.object ?? [:]
            #expect(rule["type"] == "IDP_DISCOVERY")
            #expect(
                rule["conditions"]?.object?["userIdentifier"]
                    == .object(["type": "IDENTIFIER", "patterns": .array([.object(["matchType": "SUFFIX", "value": "example.com"])])]))
            #expect(rule["actions"]?.object?["idp"]?.object?["providers"] == .array([.object(["type": "SAML2", "id": "0oa1"])]))

            let app = try await h.store.applications.get(tenantID: h.tenant.id, id: result.applicationID)
            guard case .saml(let sp) = app.settings else {
                Issue.record("not a SAML application")
                return
            }
            #expect(sp.entityID == Self.oktaAudience && sp.assertionConsumerServices.map(\.url) == [Self.oktaACS])
            #expect(sp.attributeMappings.map(\.name) == ["email", "firstName", "lastName"])
            #expect(sp.nameIDFormat == SAMLServiceProviderSettings.emailNameIDFormat)
            #expect(result.partnerObjects.map(\.kind) == ["key", "identity_provider", "routing_rule"])
            #expect(result.rotateCredentials.contains("Revoke"))
            try await expectNothingStored(h, [Self.oktaToken])
        }
    }

    @Test(arguments: Backend.enabled) func oktaIDVConfiguresBothSides(_ backend: Backend) async throws {
        try await withVendors(backend) { h, vendors in
            let result = try await h.services.integrations.oktaIDV(
                tenantID: h.tenant.id, issuer: ServiceHarness.issuer, orgURL: Self.oktaOrg, apiToken: Secret(Self.oktaToken), by: .cli)
            #expect(vendors.lines == ["GET /api/v1/idps", "POST /api/v1/idps"])
            let idp = vendors.requests[1].json?.object ?? [:]
            let proto = idp["protocol"]?.object ?? [:]
            let endpoints = proto["endpoints"]?.object ?? [:]
            #expect(idp["type"] == "IDV_STANDARD" && proto["type"] == "ID_PROOFING")
            #expect(endpoints["par"] == .object(["url": "https://id.example.com/oauth2/par", "binding": "HTTP-POST"]))
            #expect(endpoints["authorization"]?.object?["url"] == "https://id.example.com/oauth2/idv-authorize")
            #expect(endpoints["token"]?.object?["url"] == "https://id.example.com/oauth2/token")
            #expect(endpoints["jwks"]?.object?["url"] == "https://id.example.com/oauth2/jwks")
            #expect(proto["issuer"] == .object(["url": "https://id.example.com"]))
            #expect(proto["scopes"] == .strings(["openid", "profile", "identity_assurance"]))
            #expect(idp["policy"]?.object?["provisioning"]?.object?["action"] == "DISABLED")

            let app = try await h.store.applications.get(tenantID: h.tenant.id, id: result.applicationID)
            guard case .oidc(let client) = app.settings else {
                Issue.record("not an OIDC application")
                return
            }
            let credentials = proto["credentials"]?.object?["client"]?.object ?? [:]
            #expect(credentials["client_id"]?.string == client.clientID)
            let sentSecret = credentials["client_secret"]?.string ?? ""
            #expect(!sentSecret.isEmpty && client.clientSecretHash == tokenHash(sentSecret))
            #expect(client.isIdentityVerification && client.requirePAR && client.requirePKCE)
            #expect(client.tokenEndpointAuthMethod == "client_secret_post")
            #expect(client.allowedScopes == ["openid", "profile", "identity_assurance"])
            #expect(client.redirectURIs == ["https://acme.okta.example/idp/identity-verification/callback"])
            try await expectNothingStored(h, [Self.oktaToken, sentSecret])
        }
    }

    // MARK: refusals

    struct Refusal: Sendable, CustomTestStringConvertible {
        var name: String
        var route: String
        var status: Int
        var body: JSONValue
        var headers: [(String, String)] = []
        var code: IntegrationError.Code
        var testDescription: String { name }
    }

    static let auth0Refusals: [Refusal] = [
        Refusal(
            name: "wrong secret", route: "POST /oauth/token", status: 401,
            body: .object(["error": "access_denied", "error_description": "Unauthorized"]), code: .auth0SecretWrong),
        Refusal(
            name: "grant disabled", route: "POST /oauth/token", status: 403,
            body: .object([
                "error": "unauthorized_client", "error_description": "Grant type 'client_credentials' not allowed for the client.",
                "error_uri": "https://auth0.com/docs/clients/client-grant-types",
            ]), code: .auth0GrantDisabled),
        Refusal(
            name: "not authorised for the API", route: "POST /oauth/token", status: 403,
            body: .object([
                "error": "access_denied",
                "error_description":
                    "Client is not authorized to access \"https://acme.eu.auth0.com/api/v2/\". You need to create a \"client-grant\" associated to this API.",
            ]), code: .auth0APINotAuthorized),
        Refusal(
            name: "custom domain", route: "POST /oauth/token", status: 403,
            body: .object(["error": "access_denied", "error_description": "Service not found: https://login.acme.com/api/v2/"]),
            code: .auth0DomainWrong),
        Refusal(
            name: "scope missing", route: "POST /api/v2/connections", status: 403,
            body: .object([
                "statusCode": 403, "error": "Forbidden", "message": "Insufficient scope, expected any of: create:connections",
                "errorCode": "insufficient_scope",
            ]), code: .auth0ScopeMissing),
        Refusal(
            name: "name taken", route: "POST /api/v2/connections", status: 409,
            body: .object([
                "statusCode": 409, "error": "Conflict", "message": "A connection with the same name already exists", "errorCode": "connection_conflict",
            ]), code: .auth0ConnectionNameTaken),
        Refusal(
            name: "name invalid", route: "POST /api/v2/connections", status: 400,
            body: .object([
                "statusCode": 400, "error": "Bad Request",
                "message": "Payload validation error: 'String does not match pattern ^[a-zA-Z0-9](-[a-zA-Z0-9]|[a-zA-Z0-9])*$' on property name.",
                "errorCode": "invalid_body",
            ]), code: .auth0ConnectionNameInvalid),
        Refusal(
            name: "rate limited", route: "POST /api/v2/connections", status: 429,
            body: .object([
                "statusCode": 429, "error": "Too Many Requests", "message": "Global limit has been reached", "errorCode": "too_many_requests",
            ]), headers: [("retry-after", "7"), ("x-ratelimit-remaining", "0")], code: .auth0RateLimited),
        // A vendor that echoes the token and the secret: they must not reach the message.
        Refusal(
            name: "echoing vendor", route: "POST /api/v2/connections", status: 400,
            body: .object([
                "statusCode": 400, "error": "Bad Request",
                "message": .string("Payload validation error: 'Bearer \(accessToken)' and \(auth0Secret) on property options."),
                "errorCode": "invalid_body",
            ]), code: .partnerRefused),
    ]

    @Test(arguments: Backend.enabled, IntegrationServiceTests.auth0Refusals) func auth0RefusalsSayWhatToChange(_ backend: Backend, _ refusal: Refusal)
        async throws
    {
        try await withVendors(backend, seed: "auth0-\(refusal.name)") { h, vendors in
            vendors.answer(refusal.route, refusal.status, refusal.body, headers: refusal.headers)
            let error = await integrationError { _ = try await auth0SAML(h) }
            #expect(error?.code == refusal.code)
            let message = error?.message ?? ""
            #expect(!message.isEmpty && !message.contains(Self.auth0Secret) && !message.contains(Self.accessToken))
            if refusal.code == .auth0RateLimited { #expect(error?.retryAfter == 7 && message.contains("7 seconds")) }
            if refusal.code == .auth0ScopeMissing { #expect(message.contains("create:connections") && message.contains("Machine to Machine Applications")) }
            // Nothing was created on Sigil's side, and nothing was enabled at Auth0.
            #expect(try await h.store.applications.list(tenantID: h.tenant.id, page: PageRequest(limit: 10)).items.isEmpty)
            #expect(!vendors.lines.contains { $0.hasSuffix("/clients") && $0.hasPrefix("PATCH") })
            #expect(try await h.auditActions().contains("integration.failed"))
            try await expectNothingStored(h, [Self.auth0Secret, Self.accessToken])
        }
    }

    @Test(arguments: Backend.enabled) func auth0ScopesAreCheckedBeforeAnythingIsCreated(_ backend: Backend) async throws {
        try await withVendors(backend) { h, vendors in
            vendors.scopes.withLock { $0 = "read:connections" }
            let error = await integrationError { _ = try await auth0SAML(h) }
            #expect(error?.code == .auth0ScopeMissing)
            #expect(error?.message.contains("create:connections, update:connections") == true)
            #expect(vendors.lines == ["POST /oauth/token"])
        }
    }

    @Test(arguments: Backend.enabled) func auth0NamesAndClientsAreCheckedBeforeAnythingIsCreated(_ backend: Backend) async throws {
        try await withVendors(backend) { h, vendors in
            for name in ["sigil_saml", "-sigil", "sigil-", "si--gil", "", String(repeating: "a", count: 129)] {
                let refused = await integrationError { _ = try await auth0SAML(h, name: name) }
                #expect(refused?.code == .auth0ConnectionNameInvalid, "\(name)")
            }
            #expect(vendors.lines.isEmpty)
            let error = await integrationError { _ = try await auth0SAML(h, enableFor: ["portal1", "nosuchapp"]) }
            #expect(error?.code == .auth0ClientUnknown && error?.message.contains("nosuchapp") == true)
            #expect(error?.message.contains("Acme portal (portal1)") == true)
            #expect(!vendors.lines.contains("POST /api/v2/connections"))
        }
    }

    /// The Sigil application cannot be created (an SP with Auth0's entity ID exists): the connection
    /// Sigil had just created is deleted again, and the message says so.
    @Test(arguments: Backend.enabled) func auth0ConnectionIsDeletedWhenSigilsApplicationFails(_ backend: Backend) async throws {
        try await withVendors(backend) { h, vendors in
            _ = try await h.services.applications.createSAML(
                tenantID: h.tenant.id,
                .init(
                    name: "earlier",
                    settings: SAMLServiceProviderSettings(
                        entityID: "urn:auth0:acme:sigil-saml", assertionConsumerServices: [.init(url: "https://sp.example/acs", isDefault: true)])),
                by: .cli)
            let error = await integrationError { _ = try await auth0SAML(h) }
            #expect(error?.code == .sigilApplicationFailed)
            #expect(error?.message.contains("deleted again") == true)
            #expect(vendors.lines.last == "DELETE /api/v2/connections/con_123")
            #expect(!vendors.lines.contains("PATCH /api/v2/connections/con_123/clients"))
        }
    }

    /// Enabling fails after both sides exist: the error names both, and the setup is audited.
    @Test(arguments: Backend.enabled) func auth0EnablingFailureNamesWhatExists(_ backend: Backend) async throws {
        try await withVendors(backend) { h, vendors in
            vendors.answer(
                "PATCH /api/v2/connections/con_123/clients", 404,
                .object(["statusCode": 404, "error": "Not Found", "message": "The client does not exist", "errorCode": "inexistent_client"]))
            let error = await integrationError { _ = try await auth0SAML(h) }
            #expect(error?.code == .incomplete)
            #expect(error?.message.contains("con_123") == true && error?.message.contains("Applications") == true)
            let apps = try await h.store.applications.list(tenantID: h.tenant.id, page: PageRequest(limit: 10)).items
            #expect(apps.count == 1)
            let actions = try await h.auditActions()
            #expect(actions.contains("integration.created"))
            #expect(!vendors.lines.contains("DELETE /api/v2/connections/con_123"))
        }
    }

    /// The Auth0 connection is refused after Sigil made its OIDC application: that application is deleted again.
    @Test(arguments: Backend.enabled) func auth0SocialDeletesSigilsApplicationWhenAuth0Refuses(_ backend: Backend) async throws {
        try await withVendors(backend) { h, vendors in
            vendors.answer(
                "POST /api/v2/connections", 409,
                .object([
                    "statusCode": 409, "error": "Conflict", "message": "A connection with the same name already exists", "errorCode": "connection_conflict",
                ]))
            let error = await integrationError {
                _ = try await h.services.integrations.auth0Social(
                    tenantID: h.tenant.id, issuer: ServiceHarness.issuer, domain: Self.auth0Domain, clientID: "m2m-client",
                    clientSecret: Secret(Self.auth0Secret), connectionName: "sigil", by: .cli)
            }
            #expect(error?.code == .auth0ConnectionNameTaken && error?.message.contains("deleted again") == true)
            #expect(try await h.store.applications.list(tenantID: h.tenant.id, page: PageRequest(limit: 10)).items.isEmpty)
            let sentSecret = vendors.requests.last?.json?.object?["options"]?.object?["client_secret"]?.string ?? ""
            #expect(!sentSecret.isEmpty && error?.message.contains(sentSecret) == false)
            try await expectNothingStored(h, [Self.auth0Secret, Self.accessToken, sentSecret])
        }
    }

    static let oktaRefusals: [Refusal] = [
        Refusal(
            name: "invalid token", route: "POST /api/v1/idps/credentials/keys", status: 401, body: oktaError("E0000011", "Invalid token provided"),
            code: .oktaTokenInvalid),
        Refusal(
            name: "not an admin", route: "POST /api/v1/idps/credentials/keys", status: 403,
            body: oktaError("E0000006", "You do not have permission to perform the requested action"), code: .oktaNotAdmin),
        Refusal(
            name: "rate limited", route: "POST /api/v1/idps/credentials/keys", status: 429,
            body: oktaError("E0000047", "API call exceeded rate limit due to too many requests."),
            headers: [("retry-after", "3"), ("x-rate-limit-remaining", "0")], code: .oktaRateLimited),
    ]

    @Test(arguments: Backend.enabled, IntegrationServiceTests.oktaRefusals) func oktaRefusalsSayWhatToChange(_ backend: Backend, _ refusal: Refusal)
        async throws
    {
        try await withVendors(backend, seed: "okta-\(refusal.name)") { h, vendors in
            vendors.answer(refusal.route, refusal.status, refusal.body, headers: refusal.headers)
            let error = await integrationError {
                _ = try await h.services.integrations.oktaSAML(
                    tenantID: h.tenant.id, issuer: ServiceHarness.issuer, orgURL: Self.oktaOrg, apiToken: Secret(Self.oktaToken), by: .cli)
            }
            #expect(error?.code == refusal.code)
            #expect(error?.message.contains(Self.oktaToken) == false)
            if refusal.code == .oktaRateLimited { #expect(error?.retryAfter == 3) }
            if refusal.code == .oktaNotAdmin { #expect(error?.message.contains("Super Administrator") == true) }
            #expect(vendors.lines == ["POST /api/v1/idps/credentials/keys"])
            #expect(try await h.store.applications.list(tenantID: h.tenant.id, page: PageRequest(limit: 10)).items.isEmpty)
            try await expectNothingStored(h, [Self.oktaToken])
        }
    }

    /// A token that may read but not write (Okta's read-only administrator) fails at the IdP after
    /// the key went in: the key Sigil uploaded is deleted again.
    @Test(arguments: Backend.enabled) func oktaKeyIsDeletedWhenTheIdPIsRefused(_ backend: Backend) async throws {
        try await withVendors(backend) { h, vendors in
            vendors.answer("POST /api/v1/idps", 403, Self.oktaError("E0000006", "You do not have permission to perform the requested action"))
            let error = await integrationError {
                _ = try await h.services.integrations.oktaSAML(
                    tenantID: h.tenant.id, issuer: ServiceHarness.issuer, orgURL: Self.oktaOrg, apiToken: Secret(Self.oktaToken), by: .cli)
            }
            #expect(error?.code == .oktaNotAdmin && error?.message.contains("kid-1") == true)
            #expect(vendors.lines == ["POST /api/v1/idps/credentials/keys", "POST /api/v1/idps", "DELETE /api/v1/idps/credentials/keys/kid-1"])
        }
    }

    /// The IDV_STANDARD IdP is refused after Sigil made its OIDC application: that application is deleted again.
    @Test(arguments: Backend.enabled) func oktaIDVDeletesSigilsApplicationWhenOktaRefuses(_ backend: Backend) async throws {
        try await withVendors(backend) { h, vendors in
            vendors.answer(
                "POST /api/v1/idps", 400,
                Self.oktaError(
                    "E0000001", "Api validation failed: name", causes: ["name: An object with this field already exists in the current organization"]))
            let error = await integrationError {
                _ = try await h.services.integrations.oktaIDV(
                    tenantID: h.tenant.id, issuer: ServiceHarness.issuer, orgURL: Self.oktaOrg, apiToken: Secret(Self.oktaToken), by: .cli)
            }
            #expect(error?.code == .oktaNameTaken && error?.message.contains("deleted again") == true)
            #expect(try await h.store.applications.list(tenantID: h.tenant.id, page: PageRequest(limit: 10)).items.isEmpty)
            let sentSecret = vendors.requests.last?.json?.object?["protocol"]?.object?["credentials"]?.object?["client"]?.object?["client_secret"]?.string ?? ""
            #expect(!sentSecret.isEmpty)
            try await expectNothingStored(h, [Self.oktaToken, sentSecret])
        }
    }

    /// Plain http only to hosts the operator allows; no path.
    @Test func partnerURLsFollowTheOutboundPolicy() async throws {
        try await withVendors(.sqlite) { h, vendors in
            for url in ["http://acme.okta.example", "https://acme.okta.example/admin", "ftp://acme.okta.example", "https://user@acme.okta.example"] {
                let error = await integrationError {
                    _ = try await h.services.integrations.oktaSAML(
                        tenantID: h.tenant.id, issuer: ServiceHarness.issuer, orgURL: url, apiToken: Secret(Self.oktaToken), by: .cli)
                }
                #expect(error?.code == .partnerURLInvalid, "\(url)")
            }
            #expect(vendors.lines.isEmpty)
        }
    }

    // MARK: the doctor

    /// The record a setup leaves (no credential), the doctor on Sigil's side alone, then with
    /// one-time credentials after Auth0's side was changed behind Sigil's back, the repair, and
    /// the scheduled check after a key rotation.
    @Test(arguments: Backend.enabled) func theDoctorFindsDriftAndRepairsIt(_ backend: Backend) async throws {
        try await withVendors(backend) { h, vendors in
            let t = h.tenant.id
            let result = try await auth0SAML(h)
            let records = try await h.services.integrations.integrations(tenantID: t, by: .cli)
            #expect(records.map(\.id) == [result.id] && records.first?.object("connection")?.id == "con_123")
            #expect(records.first?.enabledClients == ["portal1"] && records.first?.values["certificate_sha256"]?.count == 64)

            // Sigil's side only: nothing drifted.
            var report = try await h.services.integrations.doctor(tenantID: t, id: result.id, issuer: ServiceHarness.issuer, by: .cli)
            #expect(report.check.status == "ok" && !report.check.partnerRead && report.check.findings.isEmpty)

            // Behind Sigil's back: another SSO URL and certificate, the mapping gone, the application disabled.
            let changed: JSONValue = .object([
                "id": "con_123", "name": "sigil-saml", "strategy": "samlp", "display_name": "Sigil",
                "options": .object(["signInEndpoint": "https://evil.example/sso", "signingCert": .string(Data("not a cert".utf8).base64EncodedString())]),
            ])
            vendors.answer("GET /api/v2/connections/con_123", 200, changed)
            vendors.answer("GET /api/v2/connections/con_123/clients", 200, .object(["clients": .array([])]))
            vendors.answer("PATCH /api/v2/connections/con_123", 200, changed)
            let credentials = IntegrationService.PartnerCredentials.auth0(clientID: "m2m-client", clientSecret: Secret(Self.auth0Secret))
            report = try await h.services.integrations.doctor(
                tenantID: t, id: result.id, issuer: ServiceHarness.issuer, credentials: credentials, by: .cli)
            #expect(report.check.status == "drift" && report.check.partnerRead)
            #expect(
                report.check.findings.map(\.code) == ["sso_url_changed", "partner_certificate_differs", "attribute_mapping_changed", "connection_not_enabled"])
            #expect(report.check.findings.allSatisfy { $0.side == "partner" && $0.repairable && !$0.message.contains(Self.auth0Secret) })
            #expect(!vendors.lines.contains("PATCH /api/v2/connections/con_123"), "no repair without --repair")
            #expect(report.rotateCredentials?.contains("m2m-client") == true)

            // The repair puts Sigil's values back: the options merged (GET, PATCH), the client enabled again.
            await #expect(throws: IntegrationError.self) {
                _ = try await h.services.integrations.doctor(tenantID: t, id: result.id, issuer: ServiceHarness.issuer, repair: true, by: .cli)
            }
            report = try await h.services.integrations.doctor(
                tenantID: t, id: result.id, issuer: ServiceHarness.issuer, credentials: credentials, repair: true, by: .cli)
            #expect(report.check.status == "ok" && report.repaired.count == 2, "\(report)")
            let patch = try #require(vendors.requests.last { $0.line == "PATCH /api/v2/connections/con_123" }?.json?.object)
            let options = patch["options"]?.object ?? [:]
            let pem = try await h.services.keys.currentCertificatePEM(tenantID: t)
            #expect(options["signInEndpoint"]?.string == ServiceHarness.issuer + "/saml/sso")
            #expect(options["signingCert"]?.string == Data(pem.utf8).base64EncodedString() && patch["display_name"] == "Sigil")
            #expect(options["fieldsMap"]?.object?["email"] == "email")
            #expect(
                vendors.requests.last { $0.line == "PATCH /api/v2/connections/con_123/clients" }?.json
                    == .array([.object(["client_id": "portal1", "status": true])]))
            let actions = try await h.auditActions()
            #expect(actions.contains("integration.checked") && actions.contains("integration.repaired"))
            try await expectNothingStored(h, [Self.auth0Secret, Self.accessToken])

            // The scheduled check: a key rotation leaves Auth0 with the old certificate.
            #expect(await h.services.integrations.checkAll() == (1, 0))
            h.clock.advance(by: 60)
            _ = try await h.services.keys.rotate(tenantID: t, by: .cli)
            h.clock.advance(by: 60)
            _ = try await h.services.keys.rotate(tenantID: t, by: .cli)
            let checked = await h.services.integrations.checkAll()
            let after = try #require(try await h.store.integrationRecords.get(tenantID: t, id: result.id))
            #expect(try await h.services.keys.currentCertificatePEM(tenantID: t) != pem, "two rotations make another key current")
            #expect(checked == (1, 1) && after.lastCheck?.findings.map(\.code) == ["certificate_changed"])
            #expect(try await h.auditActions().contains("integration.drift"))
            // Noticed once: the next check keeps the finding without auditing it again.
            #expect(await h.services.integrations.checkAll() == (1, 1))
            #expect(try await h.auditActions().filter { $0 == "integration.drift" }.count == 1)
            // An unknown id says so.
            let unknown = await integrationError {
                _ = try await h.services.integrations.doctor(tenantID: t, id: "int_none", issuer: ServiceHarness.issuer, by: .cli)
            }
            #expect(unknown?.code == .unknownIntegration)
        }
    }

    /// The manual path with this Sigil's values: the placeholder callback and its replacement,
    /// the PKCE switch, Sigil's endpoints and certificate.
    @Test(arguments: Backend.enabled) func theManualPathNamesExactValues(_ backend: Backend) async throws {
        try await withVendors(backend) { h, vendors in
            let issuer = ServiceHarness.issuer
            func text(_ kind: IntegrationResult.Kind, domain: String?) async throws -> String {
                try await h.services.integrations.guide(kind, tenantID: h.tenant.id, tenantName: "acme", issuer: issuer, domain: domain)
                    .map { ([$0.title] + $0.lines).joined(separator: "\n") }.joined(separator: "\n")
            }
            let placeholder = try await text(.auth0Social, domain: nil)
            #expect(placeholder.contains("--redirect-uri " + IntegrationService.placeholderCallback))
            #expect(placeholder.contains("--remove-redirect-uri " + IntegrationService.placeholderCallback))
            #expect(placeholder.contains("Authorization URL: \(issuer)/oauth2/authorize") && placeholder.contains("Token URL: \(issuer)/oauth2/token"))
            #expect(placeholder.contains("pkce_enabled: true") && placeholder.contains("code_challenge is required"))
            let known = try await text(.auth0Social, domain: "acme.us.auth0.com")
            #expect(known.contains("--redirect-uri https://acme.us.auth0.com/login/callback") && !known.contains(IntegrationService.placeholderCallback))
            let saml = try await text(.auth0SAML, domain: "acme.us.auth0.com")
            let pem = try await h.services.keys.currentCertificatePEM(tenantID: h.tenant.id)
            #expect(saml.contains("Sign In URL: \(issuer)/saml/sso") && saml.contains(String(pem.split(separator: "\n")[1])))
            #expect(saml.contains("--acs-url 'https://acme.us.auth0.com/login/callback?connection=sigil'"))
            let okta = try await text(.oktaSAML, domain: "acme.okta.com")
            #expect(okta.contains("IdP Issuer URI: \(issuer)/saml/metadata") && okta.contains("idpuser.subjectNameId"))
            let idv = try await text(.oktaIDV, domain: "https://acme.okta.com/")
            #expect(
                idv.contains("Authorization endpoint: \(issuer)/oauth2/idv-authorize")
                    && idv.contains("https://acme.okta.com/idp/identity-verification/callback"))
            #expect(vendors.lines.isEmpty, "the guide calls no vendor")
        }
    }
}
