import Foundation
import HTTPTypes
import Hummingbird
import SigilCore
import SigilJOSE
import SigilServices
import SigilStore

/// One admin API operation: what the route table registers and the OpenAPI document describes.
public struct AdminEndpoint: Sendable {
    public let method: HTTPRequest.Method
    /// OpenAPI-style path, e.g. `/api/admin/v1/users/{id}`.
    public let path: String
    public let operationID: String
    let handler: @Sendable (Request, SigilRequestContext, Principal) async throws -> Response
}

/// The admin REST API under `/api/admin/v1`. Every operation acts on the request's tenant (host
/// or `/t/{tenant}/` prefix) except the tenant collection, which needs a global token.
public struct AdminAPI: Sendable {
    public static let base = "/api/admin/v1"
    let services: ServiceSet
    let limiter: RateLimiter

    public init(services: ServiceSet) { self.init(services: services, limiter: RateLimiter()) }

    init(services: ServiceSet, limiter: RateLimiter) {
        self.services = services
        self.limiter = limiter
    }

    /// Failed bearer tokens per client address, across tenants: while spent, every request from
    /// that address answers 429, valid token or not.
    static let failedTokensPerAddress = RateLimiter.Rule(capacity: 20, refillPerSecond: 0.2)

    public var endpoints: [AdminEndpoint] {
        let s = services
        return [
            AdminEndpoint(method: .get, path: "\(Self.base)/tenants", operationID: "listTenants") { _, context, principal in
                guard principal.isGlobal else { throw ServiceError(.forbidden, "listing tenants needs a global admin token") }
                let tenants = try await s.tenants.list()
                return try JSONResponse.make(ListBody(items: tenants.map { Self.tenantBody($0, context: context) }, nextCursor: nil))
            },
            AdminEndpoint(method: .post, path: "\(Self.base)/tenants", operationID: "createTenant") { request, context, principal in
                let body = try await JSONBody.decode(CreateTenantRequest.self, from: request, context: context, allowed: CreateTenantRequest.fields)
                let tenant = try await s.tenants.create(slug: body.name, displayName: body.displayName, host: body.host, by: principal)
                return try JSONResponse.make(Self.tenantBody(tenant, context: context), status: .created)
            },
            AdminEndpoint(method: .get, path: "\(Self.base)/users", operationID: "listUsers") { request, context, principal in
                let page = try await s.users.list(tenantID: try context.requireTenant().id, page: try Self.page(request), by: principal)
                return try JSONResponse.make(ListBody(items: page.items.map(UserBody.init), nextCursor: page.nextCursor))
            },
            AdminEndpoint(method: .post, path: "\(Self.base)/users", operationID: "createUser") { request, context, principal in
                let tenant = try context.requireTenant()
                let body = try await JSONBody.decode(CreateUserRequest.self, from: request, context: context, allowed: CreateUserRequest.fields)
                let user = try await s.users.create(
                    tenantID: tenant.id,
                    .init(email: body.email, givenName: body.givenName, familyName: body.familyName, status: body.status ?? .active),
                    by: principal)
                return try JSONResponse.make(UserBody(user), status: .created, headers: Self.created(context, "users/\(user.id)", user.version))
            },
            AdminEndpoint(method: .get, path: "\(Self.base)/users/{id}", operationID: "getUser") { _, context, principal in
                let user = try await s.users.get(tenantID: try context.requireTenant().id, id: try Self.id(context), by: principal)
                return try JSONResponse.make(UserBody(user), headers: [.eTag: Self.etag(user.version)])
            },
            AdminEndpoint(method: .patch, path: "\(Self.base)/users/{id}", operationID: "updateUser") { request, context, principal in
                let tenant = try context.requireTenant()
                let body = try await JSONBody.decode(PatchUserRequest.self, from: request, context: context, allowed: PatchUserRequest.fields)
                let user = try await s.users.update(
                    tenantID: tenant.id, id: try Self.id(context),
                    .init(email: body.email, givenName: body.givenName, familyName: body.familyName, status: body.status),
                    expectedVersion: try Self.ifMatch(request), by: principal)
                // A disabled user is signed out everywhere (grants revoked, back-channel logout).
                if body.status == .disabled {
                    try await s.logout.endAllSessions(tenantID: tenant.id, userID: user.id, issuer: context.issuer, by: principal)
                }
                return try JSONResponse.make(UserBody(user), headers: [.eTag: Self.etag(user.version)])
            },
            AdminEndpoint(method: .delete, path: "\(Self.base)/users/{id}", operationID: "deleteUser") { request, context, principal in
                // Sign the user out everywhere first (the session rows go with the user).
                let tenant = try context.requireTenant()
                let user = try await s.users.get(tenantID: tenant.id, id: try Self.id(context), by: principal)
                let expected = try Self.ifMatch(request)
                if expected == nil || expected == user.version {
                    try await s.logout.endAllSessions(tenantID: tenant.id, userID: user.id, issuer: context.issuer, by: principal)
                }
                try await s.users.delete(tenantID: try context.requireTenant().id, id: try Self.id(context),
                                         expectedVersion: try Self.ifMatch(request), by: principal)
                return Response(status: .noContent)
            },
            AdminEndpoint(method: .get, path: "\(Self.base)/users/{id}/consents", operationID: "listUserConsents") { _, context, principal in
                let tenant = try context.requireTenant()
                let user = try await s.users.get(tenantID: tenant.id, id: try Self.id(context), by: principal)
                let entries = try await s.oauth.consents(tenantID: tenant.id, userID: user.id)
                return try JSONResponse.make(ListBody(items: entries.map(ConsentBody.init), nextCursor: nil))
            },
            AdminEndpoint(method: .delete, path: "\(Self.base)/users/{id}/consents/{client_id}", operationID: "revokeUserConsent") { _, context, principal in
                let tenant = try context.requireTenant()
                let user = try await s.users.get(tenantID: tenant.id, id: try Self.id(context), by: principal)
                guard let clientID = context.parameters.get("client_id"),
                      try await s.oauth.revokeConsent(tenantID: tenant.id, userID: user.id, clientID: clientID, by: principal) else {
                    throw Problem.notFound()
                }
                return Response(status: .noContent)
            },
            AdminEndpoint(method: .get, path: "\(Self.base)/users/{id}/passkeys", operationID: "listUserPasskeys") { _, context, principal in
                let passkeys = try await s.users.passkeys(tenantID: try context.requireTenant().id, userID: try Self.id(context), by: principal)
                return try JSONResponse.make(ListBody(items: passkeys.map(PasskeyBody.init), nextCursor: nil))
            },
            AdminEndpoint(method: .post, path: "\(Self.base)/users/{id}/passkeys/{credential_id}/clear-clone-warning",
                          operationID: "clearPasskeyCloneWarning") { _, context, principal in
                guard let credentialID = context.parameters.get("credential_id") else { throw Problem.notFound() }
                let passkey = try await s.users.clearCloneWarning(tenantID: try context.requireTenant().id, userID: try Self.id(context),
                                                                  credentialID: credentialID, by: principal)
                return try JSONResponse.make(PasskeyBody(passkey))
            },
            AdminEndpoint(method: .delete, path: "\(Self.base)/users/{id}/sessions", operationID: "revokeUserSessions") { _, context, principal in
                let tenant = try context.requireTenant()
                let user = try await s.users.get(tenantID: tenant.id, id: try Self.id(context), by: principal)
                let revoked = try await s.logout.endAllSessions(tenantID: tenant.id, userID: user.id, issuer: context.issuer, by: principal)
                return try JSONResponse.make(RevokedSessionsBody(revoked: revoked))
            },
            AdminEndpoint(method: .get, path: "\(Self.base)/applications", operationID: "listApplications") { request, context, principal in
                let page = try await s.applications.list(tenantID: try context.requireTenant().id, page: try Self.page(request), by: principal)
                return try JSONResponse.make(ListBody(items: page.items.map { ApplicationBody($0) }, nextCursor: page.nextCursor))
            },
            AdminEndpoint(method: .post, path: "\(Self.base)/applications", operationID: "createApplication") { request, context, principal in
                let tenant = try context.requireTenant()
                let body = try await JSONBody.decode(ApplicationRequest.self, from: request, context: context,
                                                     allowed: ApplicationRequest.createFields)
                let (app, secret) = try await Self.createApplication(body, tenantID: tenant.id, services: s, principal: principal)
                return try JSONResponse.make(ApplicationBody(app, clientSecret: secret?.value), status: .created,
                                             headers: Self.created(context, "applications/\(app.id)", app.version).merging([.cacheControl: "no-store"]))
            },
            AdminEndpoint(method: .get, path: "\(Self.base)/applications/{id}", operationID: "getApplication") { _, context, principal in
                let app = try await s.applications.get(tenantID: try context.requireTenant().id, id: try Self.id(context), by: principal)
                return try JSONResponse.make(ApplicationBody(app), headers: [.eTag: Self.etag(app.version)])
            },
            AdminEndpoint(method: .patch, path: "\(Self.base)/applications/{id}", operationID: "updateApplication") { request, context, principal in
                let tenant = try context.requireTenant()
                let body = try await JSONBody.decode(ApplicationRequest.self, from: request, context: context,
                                                     allowed: ApplicationRequest.patchFields)
                let app = try await s.applications.update(tenantID: tenant.id, id: try Self.id(context),
                                                          expectedVersion: try Self.ifMatch(request), by: principal) { app in
                    try Self.apply(body, to: &app)
                }
                return try JSONResponse.make(ApplicationBody(app), headers: [.eTag: Self.etag(app.version)])
            },
            AdminEndpoint(method: .post, path: "\(Self.base)/applications/{id}/client-secret", operationID: "rotateClientSecret") { request, context, principal in
                let tenant = try context.requireTenant()
                let body = try await JSONBody.decode(RotateSecretRequest.self, from: request, context: context,
                                                     allowed: RotateSecretRequest.fields)
                let (app, secret) = try await s.applications.rotateSecret(
                    tenantID: tenant.id, id: try Self.id(context), expectedVersion: try Self.ifMatch(request),
                    grace: TimeInterval(body.gracePeriod ?? 0), by: principal)
                let expires: Date? = if case .oidc(let o) = app.settings, o.previousClientSecretHash != nil { o.previousClientSecretExpiresAt } else { nil }
                return try JSONResponse.make(RotatedSecretBody(application: ApplicationBody(app), clientSecret: secret.value,
                                                               previousSecretExpiresAt: expires),
                                             headers: [.eTag: Self.etag(app.version), .cacheControl: "no-store"])
            },
            AdminEndpoint(method: .delete, path: "\(Self.base)/applications/{id}", operationID: "deleteApplication") { request, context, principal in
                try await s.applications.delete(tenantID: try context.requireTenant().id, id: try Self.id(context),
                                                expectedVersion: try Self.ifMatch(request), by: principal)
                return Response(status: .noContent)
            },
            AdminEndpoint(method: .get, path: "\(Self.base)/keys", operationID: "listKeys") { _, context, principal in
                let tenant = try context.requireTenant()
                guard principal.canAccess(tenantID: tenant.id) else { throw ServiceError(.forbidden, "this admin token belongs to another tenant") }
                let keys = try await s.keys.list(tenantID: tenant.id)
                return try JSONResponse.make(ListBody(items: keys.map(KeyBody.init), nextCursor: nil))
            },
            AdminEndpoint(method: .post, path: "\(Self.base)/keys/rotate", operationID: "rotateKeys") { _, context, principal in
                let tenant = try context.requireTenant()
                guard principal.canAccess(tenantID: tenant.id) else { throw ServiceError(.forbidden, "this admin token belongs to another tenant") }
                _ = try await s.keys.rotate(tenantID: tenant.id, by: principal)
                let keys = try await s.keys.list(tenantID: tenant.id)
                return try JSONResponse.make(ListBody(items: keys.map(KeyBody.init), nextCursor: nil))
            },
            AdminEndpoint(method: .get, path: "\(Self.base)/audit-events", operationID: "listAuditEvents") { request, context, principal in
                let tenant = try context.requireTenant()
                guard principal.canAccess(tenantID: tenant.id) else { throw ServiceError(.forbidden, "this admin token belongs to another tenant") }
                let page = try await s.context.store.audit.list(tenantID: tenant.id, page: try Self.page(request))
                return try JSONResponse.make(ListBody(items: page.items.map(AuditEventBody.init), nextCursor: page.nextCursor))
            },
        ]
    }

    /// Registers the OpenAPI document and every endpoint behind bearer authentication.
    public func register(on router: Router<SigilRequestContext>) {
        router.get("\(Self.base)/openapi.json") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json"],
                     body: .init(byteBuffer: ByteBuffer(string: OpenAPIDocument.json)))
        }
        // Methods a path does not declare answer 405 with Allow (RFC 9110 §15.5.6), not 404.
        let declared = Dictionary(grouping: endpoints, by: \.path).mapValues { Set($0.map(\.method)) }
        for (path, methods) in declared {
            let hbPath = path.replacingOccurrences(of: "{", with: ":").replacingOccurrences(of: "}", with: "")
            let allow = methods.map(\.rawValue).sorted().joined(separator: ", ")
            for method in [HTTPRequest.Method.get, .post, .put, .patch, .delete, .trace, .connect, .options, HTTPRequest.Method("QUERY")!]
                where !methods.contains(method) {
                router.on(RouterPath(hbPath), method: method) { _, _ -> Response in
                    var problem = Problem(status: .methodNotAllowed, type: "method-not-allowed", title: "This method is not allowed here",
                                          detail: "allowed: \(allow)")
                    problem.extraHeaders[.allow] = allow
                    throw problem
                }
            }
        }
        for endpoint in endpoints {
            let hbPath = endpoint.path.replacingOccurrences(of: "{", with: ":").replacingOccurrences(of: "}", with: "")
            let services = self.services
            let limiter = self.limiter
            router.on(RouterPath(hbPath), method: endpoint.method) { request, context -> Response in
                let key = "admin-token-failure|addr|\(context.clientAddress)"
                if let retryAfter = limiter.peek(key, rule: Self.failedTokensPerAddress) {
                    throw await RateLimitMiddleware.refusal(retryAfter: retryAfter, group: "admin-authentication", context: context, services: services)
                }
                let principal: Principal
                do {
                    principal = try await Self.authenticate(request, context: context, services: services)
                } catch let error as ServiceError where error.code == .unauthenticated {
                    _ = limiter.take(key, rule: Self.failedTokensPerAddress)
                    throw error
                } catch let problem as Problem where problem.status == .unauthorized {
                    _ = limiter.take(key, rule: Self.failedTokensPerAddress)
                    throw problem
                }
                return try await endpoint.handler(request, context, principal)
            }
        }
    }

    // MARK: steps

    static func authenticate(_ request: Request, context: SigilRequestContext, services: ServiceSet) async throws -> Principal {
        let tenantID = context.tenant?.id
        guard let header = request.headers[.authorization] else {
            throw Problem.unauthenticated("send Authorization: Bearer <admin token>")
        }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            throw Problem.unauthenticated("the Authorization header must use the Bearer scheme")
        }
        let principal: Principal
        do {
            principal = try await services.adminTokens.authenticate(String(parts[1]).trimmingCharacters(in: .whitespaces))
        } catch let error as ServiceError {
            await services.context.recordFailure("admin.authentication_failed", by: .system, tenantID: tenantID, reason: error.message)
            throw error
        }
        if let tenantID, !principal.canAccess(tenantID: tenantID), !request.uri.path.hasSuffix("/tenants") {
            await services.context.recordFailure("admin.access_denied", by: principal, tenantID: tenantID,
                                                 reason: "token scoped to another tenant")
            throw ServiceError(.forbidden, "this admin token belongs to another tenant")
        }
        return principal
    }

    static func id(_ context: SigilRequestContext) throws -> String {
        guard let id = context.parameters.get("id") else { throw Problem.notFound() }
        return id
    }

    static func page(_ request: Request) throws -> PageRequest {
        let query = request.uri.queryParameters
        var limit = 50
        if let raw = query.get("limit") {
            guard let value = Int(raw), (1...PageRequest.maximumLimit).contains(value) else {
                throw Problem(status: .badRequest, type: "invalid-query", title: "Invalid query parameter",
                              detail: "limit must be 1–\(PageRequest.maximumLimit)")
            }
            limit = value
        }
        let cursor: String? = query.get("cursor").map { String($0) }
        return PageRequest(limit: limit, after: cursor)
    }

    static func etag(_ version: Int) -> String { "\"\(version)\"" }

    /// `If-Match: "3"` → 3. Absent → nil (unconditional).
    /// The version `If-Match` asks for (RFC 9110 §13.1.1), as the OpenAPI document states it
    /// (`^(|\*|(W/)?"[0-9]+")$`): nil without the header, empty, or `*` (any current version); an
    /// entity tag this API issued is that version (412 if stale); anything else is a malformed
    /// header, 400.
    static func ifMatch(_ request: Request) throws -> Int? {
        guard let raw = request.headers[.ifMatch] else { return nil }
        let value = raw.trimmingCharacters(in: .whitespaces)
        // An empty field value is an empty list (RFC 9110 §5.6.1): no precondition, as if absent.
        if value == "*" || value.isEmpty { return nil }
        let strong = value.hasPrefix("W/") ? String(value.dropFirst(2)) : value
        guard strong.count >= 3, strong.hasPrefix("\""), strong.hasSuffix("\""),
              strong.dropFirst().dropLast().allSatisfy({ $0.isASCII && $0.isNumber }), let version = Int(strong.dropFirst().dropLast()) else {
            throw Problem(status: .badRequest, type: "invalid-header", title: "If-Match must be * or an ETag this API returned")
        }
        return version
    }

    static func created(_ context: SigilRequestContext, _ relative: String, _ version: Int) -> HTTPFields {
        [.location: "\(context.issuer)\(base)/\(relative)", .eTag: etag(version)]
    }

    static func tenantBody(_ tenant: Tenant, context: SigilRequestContext) -> TenantBody {
        TenantBody(id: tenant.id, name: tenant.slug, displayName: tenant.displayName, host: tenant.host,
                   issuer: TenantService.issuer(of: tenant, publicURL: Self.rootIssuer(context)), createdAt: tenant.createdAt)
    }

    /// The deployment's public URL, recovered from the request's issuer.
    static func rootIssuer(_ context: SigilRequestContext) -> String {
        if let slug = context.tenant?.slug, context.issuer.hasSuffix("/t/\(slug)") {
            return String(context.issuer.dropLast("/t/\(slug)".count))
        }
        return context.issuer
    }

    /// Fields the API knows but that belong to the other protocol: a validation error naming each
    /// (422), not "unknown field" (they are in the document).
    static func refuseOtherProtocol(_ fields: [String], protocol kind: String) throws {
        guard !fields.isEmpty else { return }
        let errors = fields.map { FieldError(field: $0, message: "\($0) applies to \(kind) applications only") }
        throw Problem(status: .unprocessableContent, type: "validation-failed", title: "The request has invalid values",
                      detail: errors.count == 1 ? errors[0].message : "\(errors.count) fields apply to \(kind) applications only",
                      errors: errors)
    }

    static func createApplication(_ body: ApplicationRequest, tenantID: String, services: ServiceSet,
                                  principal: Principal) async throws -> (SigilStore.Application, SigilCoreSecret?) {
        guard let name = body.name else { throw Problem.invalidType("name", "name is required") }
        guard let kind = body.protocol else { throw Problem.invalidType("protocol", "protocol is required") }
        switch kind {
        case "oidc":
            try Self.refuseOtherProtocol(body.present(ApplicationRequest.samlFields), protocol: "saml")
            var input = ApplicationService.NewOIDCClient(name: name, redirectURIs: body.redirectUris ?? [])
            input.postLogoutRedirectURIs = body.postLogoutRedirectUris ?? []
            input.isPublic = body.public ?? false
            input.tokenEndpointAuthMethod = body.tokenEndpointAuthMethod
            input.grantTypes = body.grantTypes
            input.requirePKCE = body.requirePkce
            input.requirePAR = body.requirePar ?? false
            input.allowedScopes = body.allowedScopes
            input.idTokenSigningAlg = body.idTokenSignedResponseAlg
            input.accessTokenLifetimeSeconds = body.accessTokenLifetime
            input.idTokenLifetimeSeconds = body.idTokenLifetime
            input.refreshTokenLifetimeSeconds = body.refreshTokenLifetime
            input.jwks = try body.jwks.map(Self.jwksText)
            input.jwksURI = body.jwksUri
            input.consent = body.consent
            input.defaultACRValues = body.defaultAcrValues
            input.backchannelLogoutURI = body.backchannelLogoutUri
            input.backchannelLogoutSessionRequired = body.backchannelLogoutSessionRequired
            return try await services.applications.createOIDC(tenantID: tenantID, input, by: principal)
        case "saml":
            try Self.refuseOtherProtocol(body.present(ApplicationRequest.oidcFields), protocol: "oidc")
            var settings: SAMLServiceProviderSettings
            switch (body.metadataUrl, body.metadata) {
            case (.some, .some):
                throw Problem.invalidType("metadata", "send metadata_url or metadata, not both")
            case (.some(let url), nil):
                settings = try await services.applications.samlSettings(fromMetadataURL: url)
            case (nil, .some(let xml)):
                do { settings = try SAMLIdentityProviderService.settings(fromMetadata: Array(xml.utf8)) } catch {
                    throw ServiceError.invalid([FieldError(field: "metadata", message: "the document is not usable SP metadata: \(error)")])
                }
            case (nil, nil):
                guard let entityID = body.entityId else { throw Problem.invalidType("entity_id", "entity_id (or metadata_url, or metadata) is required") }
                settings = SAMLServiceProviderSettings(entityID: entityID, assertionConsumerServices: [])
            }
            // Fields sent with metadata override what it says (an SP's metadata may list an ACS
            // for another environment, or no certificate).
            var app = SigilStore.Application(id: "", tenantID: tenantID, name: name, settings: .saml(settings),
                                             createdAt: Date(), updatedAt: Date())
            var overrides = body
            overrides.name = nil
            try Self.apply(overrides, to: &app)
            guard case .saml(let final) = app.settings else { throw Problem.invalidType("protocol", "not a SAML application") }
            return (try await services.applications.createSAML(tenantID: tenantID, .init(name: name, settings: final), by: principal), nil)
        default:
            throw Problem(status: .unprocessableContent, type: "validation-failed", title: "The request has invalid values",
                          detail: "protocol must be oidc or saml", errors: [FieldError(field: "protocol", message: "must be oidc or saml")])
        }
    }

    /// A JWKS object as the JSON text the settings keep.
    static func jwksText(_ value: JSONValue) throws -> String {
        guard case .object = value else { throw Problem.invalidType("jwks", "jwks must be a JSON object ({\"keys\": [...]})") }
        return String(decoding: try JSONEncoder().encode(value), as: UTF8.self)
    }

    static func apply(_ body: ApplicationRequest, to app: inout SigilStore.Application) throws {
        if let name = body.name { app.name = name }
        switch app.settings {
        case .oidc(var s):
            try Self.refuseOtherProtocol(body.present(ApplicationRequest.samlFields), protocol: "saml")
            if let v = body.redirectUris { s.redirectURIs = v }
            if let v = body.postLogoutRedirectUris { s.postLogoutRedirectURIs = v }
            if let v = body.tokenEndpointAuthMethod { s.tokenEndpointAuthMethod = v }
            if let v = body.grantTypes { s.grantTypes = v }
            if let v = body.requirePkce { s.requirePKCE = v }
            if let v = body.requirePar { s.requirePAR = v }
            if let v = body.allowedScopes { s.allowedScopes = v }
            if let v = body.idTokenSignedResponseAlg { s.idTokenSigningAlg = v }
            if let v = body.accessTokenLifetime { s.accessTokenLifetimeSeconds = v }
            if let v = body.idTokenLifetime { s.idTokenLifetimeSeconds = v }
            if let v = body.refreshTokenLifetime { s.refreshTokenLifetimeSeconds = v }
            // A client has one key source; naming one replaces the other, and leaving
            // private_key_jwt drops both.
            if let v = body.jwks { s.jwks = try Self.jwksText(v); s.jwksURI = nil }
            if let v = body.jwksUri { s.jwksURI = v; s.jwks = nil }
            if s.tokenEndpointAuthMethod != "private_key_jwt", body.tokenEndpointAuthMethod != nil { s.jwks = nil; s.jwksURI = nil }
            if let v = body.consent { s.consent = v }
            if let v = body.defaultAcrValues { s.defaultACRValues = v.isEmpty ? nil : v }
            // An empty string removes the back-channel logout URI.
            if let v = body.backchannelLogoutUri { s.backchannelLogoutURI = v.isEmpty ? nil : v }
            if let v = body.backchannelLogoutSessionRequired { s.backchannelLogoutSessionRequired = v }
            app.settings = .oidc(s)
        case .saml(var s):
            try Self.refuseOtherProtocol(body.present(ApplicationRequest.oidcFields), protocol: "oidc")
            if let v = body.entityId { s.entityID = v }
            if let v = body.acs { s.assertionConsumerServices = v.settings() }
            if let v = body.sloUrl { s.singleLogoutURL = v }
            if let v = body.sloBinding { s.singleLogoutBinding = v }
            if let v = body.nameIdFormat { s.nameIDFormat = v }
            if let v = body.attributeMappings { s.attributeMappings = v.settings() }
            if let v = body.signing { s.signing = v }
            if let v = body.encryptAssertions { s.encryptAssertions = v }
            if let v = body.certificate { s.certificatePEM = v }
            if let v = body.encryptionCertificate { s.encryptionCertificatePEM = v.isEmpty ? nil : v }
            if let v = body.authnContextClassRef { s.authnContextClassRef = v }
            if let v = body.wantAuthnRequestsSigned { s.wantAuthnRequestsSigned = v }
            app.settings = .saml(s)
        }
    }
}

typealias SigilCoreSecret = SigilCore.Secret<String>

extension HTTPFields {
    func merging(_ other: HTTPFields) -> HTTPFields {
        var copy = self
        copy.append(contentsOf: other)
        return copy
    }
}
