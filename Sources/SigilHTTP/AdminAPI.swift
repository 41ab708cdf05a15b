import Foundation
import HTTPTypes
import Hummingbird
import SigilCore
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

    public init(services: ServiceSet) { self.services = services }

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
                return try JSONResponse.make(UserBody(user), headers: [.eTag: Self.etag(user.version)])
            },
            AdminEndpoint(method: .delete, path: "\(Self.base)/users/{id}", operationID: "deleteUser") { request, context, principal in
                try await s.users.delete(tenantID: try context.requireTenant().id, id: try Self.id(context),
                                         expectedVersion: try Self.ifMatch(request), by: principal)
                return Response(status: .noContent)
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
        for endpoint in endpoints {
            let hbPath = endpoint.path.replacingOccurrences(of: "{", with: ":").replacingOccurrences(of: "}", with: "")
            let services = self.services
            router.on(RouterPath(hbPath), method: endpoint.method) { request, context -> Response in
                let principal = try await Self.authenticate(request, context: context, services: services)
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
    static func ifMatch(_ request: Request) throws -> Int? {
        guard let raw = request.headers[.ifMatch] else { return nil }
        let trimmed = raw.trimmingCharacters(in: .whitespaces).replacingOccurrences(of: "W/", with: "")
        guard trimmed.hasPrefix("\""), trimmed.hasSuffix("\""), let version = Int(trimmed.dropFirst().dropLast()) else {
            throw Problem(status: .badRequest, type: "invalid-header", title: "If-Match must be an ETag this API returned")
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

    static func createApplication(_ body: ApplicationRequest, tenantID: String, services: ServiceSet,
                                  principal: Principal) async throws -> (SigilStore.Application, SigilCoreSecret?) {
        guard let name = body.name else { throw Problem.invalidType("name", "name is required") }
        guard let kind = body.protocol else { throw Problem.invalidType("protocol", "protocol is required") }
        switch kind {
        case "oidc":
            let stray = body.present(ApplicationRequest.samlFields)
            guard stray.isEmpty else { throw Problem.unknownFields(stray) }
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
            return try await services.applications.createOIDC(tenantID: tenantID, input, by: principal)
        case "saml":
            let stray = body.present(ApplicationRequest.oidcFields)
            guard stray.isEmpty else { throw Problem.unknownFields(stray) }
            guard let entityID = body.entityId else { throw Problem.invalidType("entity_id", "entity_id is required") }
            let settings = SAMLServiceProviderSettings(
                entityID: entityID, assertionConsumerServices: (body.acs ?? []).settings(), singleLogoutURL: body.sloUrl,
                nameIDFormat: body.nameIdFormat ?? SAMLServiceProviderSettings.emailNameIDFormat,
                attributeMappings: body.attributeMappings?.settings() ?? SAMLServiceProviderSettings.oktaDefaultAttributes,
                signing: body.signing ?? .both, encryptAssertions: body.encryptAssertions ?? false,
                certificatePEM: body.certificate, authnContextClassRef: body.authnContextClassRef,
                wantAuthnRequestsSigned: body.wantAuthnRequestsSigned, encryptionCertificatePEM: body.encryptionCertificate)
            return (try await services.applications.createSAML(tenantID: tenantID, .init(name: name, settings: settings), by: principal), nil)
        default:
            throw Problem(status: .unprocessableContent, type: "validation-failed", title: "The request has invalid values",
                          detail: "protocol must be oidc or saml", errors: [FieldError(field: "protocol", message: "must be oidc or saml")])
        }
    }

    static func apply(_ body: ApplicationRequest, to app: inout SigilStore.Application) throws {
        if let name = body.name { app.name = name }
        switch app.settings {
        case .oidc(var s):
            let stray = body.present(ApplicationRequest.samlFields)
            guard stray.isEmpty else { throw Problem.unknownFields(stray) }
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
            app.settings = .oidc(s)
        case .saml(var s):
            let stray = body.present(ApplicationRequest.oidcFields)
            guard stray.isEmpty else { throw Problem.unknownFields(stray) }
            if let v = body.entityId { s.entityID = v }
            if let v = body.acs { s.assertionConsumerServices = v.settings() }
            if let v = body.sloUrl { s.singleLogoutURL = v }
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
