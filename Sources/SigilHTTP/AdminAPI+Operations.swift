import Foundation
import HTTPTypes
import OpenAPIRuntime
import SigilAdminAPI
import SigilCore
import SigilJOSE
import SigilServices
import SigilStore

/// One method per `operationId` of the document.
extension AdminAPI: APIProtocol {
    typealias Schemas = Components.Schemas

    // MARK: tenants

    package func listTenants(_ input: Operations.ListTenants.Input) async throws -> Operations.ListTenants.Output {
        let call = try AdminCall.get()
        guard call.principal.isGlobal else { throw ServiceError(.forbidden, "listing tenants needs a global admin token") }
        let tenants = try await services.tenants.list()
        return .ok(.init(body: .json(.init(items: tenants.map { Self.tenant($0, call: call) }, nextCursor: nil))))
    }

    package func createTenant(_ input: Operations.CreateTenant.Input) async throws -> Operations.CreateTenant.Output {
        let call = try AdminCall.get()
        guard case .json(let body) = input.body else { throw Problem.unsupportedBody }
        let tenant = try await services.tenants.create(slug: body.name, displayName: body.displayName, host: body.host, by: call.principal)
        return .created(.init(body: .json(Self.tenant(tenant, call: call))))
    }

    // MARK: users

    package func listUsers(_ input: Operations.ListUsers.Input) async throws -> Operations.ListUsers.Output {
        let call = try AdminCall.get()
        // The document's bounds on q (the generated decoder does not check lengths).
        if let q = input.query.q, !(1...254).contains(q.unicodeScalars.count) {
            throw Problem(status: .badRequest, type: "invalid-query", title: "Invalid query parameter", detail: "q must be 1–254 characters")
        }
        let page = try await services.users.list(
            tenantID: try call.tenantID(), page: try Self.page(input.query.limit, input.query.cursor), emailContaining: input.query.q,
            by: call.principal)
        return .ok(.init(body: .json(.init(items: page.items.map(Self.user), nextCursor: page.nextCursor))))
    }

    package func createUser(_ input: Operations.CreateUser.Input) async throws -> Operations.CreateUser.Output {
        let call = try AdminCall.get()
        guard case .json(let body) = input.body else { throw Problem.unsupportedBody }
        let user = try await services.users.create(
            tenantID: try call.tenantID(),
            .init(
                email: body.email, givenName: body.givenName, familyName: body.familyName,
                status: body.status.map(Self.userStatus) ?? .active, roles: body.roles?.map(\.rawValue) ?? []),
            by: call.principal)
        return .created(
            .init(
                headers: .init(eTag: Self.etag(user.version), location: call.url("users/\(user.id)")),
                body: .json(Self.user(user))))
    }

    package func getUser(_ input: Operations.GetUser.Input) async throws -> Operations.GetUser.Output {
        let call = try AdminCall.get()
        let user = try await services.users.get(tenantID: try call.tenantID(), id: input.path.id, by: call.principal)
        return .ok(.init(headers: .init(eTag: Self.etag(user.version)), body: .json(Self.user(user))))
    }

    package func updateUser(_ input: Operations.UpdateUser.Input) async throws -> Operations.UpdateUser.Output {
        let call = try AdminCall.get()
        let tenantID = try call.tenantID()
        guard case .json(let body) = input.body else { throw Problem.unsupportedBody }
        let status = body.status.map(Self.userStatus)
        let user = try await services.users.update(
            tenantID: tenantID, id: input.path.id,
            .init(email: body.email, givenName: body.givenName, familyName: body.familyName, status: status, roles: body.roles?.map(\.rawValue)),
            expectedVersion: try Self.ifMatch(input.headers.ifMatch), by: call.principal)
        // A disabled user is signed out everywhere (grants revoked, back-channel logout).
        if status == .disabled {
            try await services.logout.endAllSessions(tenantID: tenantID, userID: user.id, issuer: call.context.issuer, by: call.principal)
        }
        return .ok(.init(headers: .init(eTag: Self.etag(user.version)), body: .json(Self.user(user))))
    }

    package func deleteUser(_ input: Operations.DeleteUser.Input) async throws -> Operations.DeleteUser.Output {
        let call = try AdminCall.get()
        let tenantID = try call.tenantID()
        let expected = try Self.ifMatch(input.headers.ifMatch)
        // Sign the user out everywhere first (the session rows go with the user).
        let user = try await services.users.get(tenantID: tenantID, id: input.path.id, by: call.principal)
        if expected == nil || expected == user.version {
            try await services.logout.endAllSessions(tenantID: tenantID, userID: user.id, issuer: call.context.issuer, by: call.principal)
        }
        try await services.users.delete(tenantID: tenantID, id: input.path.id, expectedVersion: expected, by: call.principal)
        return .noContent(.init())
    }

    package func listUserConsents(_ input: Operations.ListUserConsents.Input) async throws -> Operations.ListUserConsents.Output {
        let call = try AdminCall.get()
        let tenantID = try call.tenantID()
        let user = try await services.users.get(tenantID: tenantID, id: input.path.id, by: call.principal)
        let entries = try await services.oauth.consents(tenantID: tenantID, userID: user.id)
        return .ok(.init(body: .json(.init(items: entries.map(Self.consent), nextCursor: nil))))
    }

    package func revokeUserConsent(_ input: Operations.RevokeUserConsent.Input) async throws -> Operations.RevokeUserConsent.Output {
        let call = try AdminCall.get()
        let tenantID = try call.tenantID()
        let user = try await services.users.get(tenantID: tenantID, id: input.path.id, by: call.principal)
        guard try await services.oauth.revokeConsent(tenantID: tenantID, userID: user.id, clientID: input.path.clientId, by: call.principal) else {
            throw Problem.notFound()
        }
        return .noContent(.init())
    }

    package func listUserPasskeys(_ input: Operations.ListUserPasskeys.Input) async throws -> Operations.ListUserPasskeys.Output {
        let call = try AdminCall.get()
        let passkeys = try await services.users.passkeys(tenantID: try call.tenantID(), userID: input.path.id, by: call.principal)
        return .ok(.init(body: .json(.init(items: passkeys.map(Self.passkey), nextCursor: nil))))
    }

    package func clearPasskeyCloneWarning(_ input: Operations.ClearPasskeyCloneWarning.Input) async throws
        -> Operations.ClearPasskeyCloneWarning.Output
    {
        let call = try AdminCall.get()
        let passkey = try await services.users.clearCloneWarning(
            tenantID: try call.tenantID(), userID: input.path.id,
            credentialID: input.path.credentialId, by: call.principal)
        return .ok(.init(body: .json(Self.passkey(passkey))))
    }

    package func revokeUserSessions(_ input: Operations.RevokeUserSessions.Input) async throws -> Operations.RevokeUserSessions.Output {
        let call = try AdminCall.get()
        let tenantID = try call.tenantID()
        let user = try await services.users.get(tenantID: tenantID, id: input.path.id, by: call.principal)
        let revoked = try await services.logout.endAllSessions(tenantID: tenantID, userID: user.id, issuer: call.context.issuer, by: call.principal)
        return .ok(.init(body: .json(.init(revoked: revoked))))
    }

    // MARK: applications

    package func listApplications(_ input: Operations.ListApplications.Input) async throws -> Operations.ListApplications.Output {
        let call = try AdminCall.get()
        let page = try await services.applications.list(
            tenantID: try call.tenantID(),
            page: try Self.page(input.query.limit, input.query.cursor), by: call.principal)
        return .ok(.init(body: .json(.init(items: page.items.map { Self.application($0) }, nextCursor: page.nextCursor))))
    }

    package func createApplication(_ input: Operations.CreateApplication.Input) async throws -> Operations.CreateApplication.Output {
        let call = try AdminCall.get()
        guard case .json(let body) = input.body else { throw Problem.unsupportedBody }
        let (app, secret) = try await createApplication(body, tenantID: try call.tenantID(), principal: call.principal)
        return .created(
            .init(
                headers: .init(cacheControl: .noStore, eTag: Self.etag(app.version), location: call.url("applications/\(app.id)")),
                body: .json(Self.application(app, clientSecret: secret?.value))))
    }

    package func getApplication(_ input: Operations.GetApplication.Input) async throws -> Operations.GetApplication.Output {
        let call = try AdminCall.get()
        let app = try await services.applications.get(tenantID: try call.tenantID(), id: input.path.id, by: call.principal)
        return .ok(.init(headers: .init(eTag: Self.etag(app.version)), body: .json(Self.application(app))))
    }

    package func updateApplication(_ input: Operations.UpdateApplication.Input) async throws -> Operations.UpdateApplication.Output {
        let call = try AdminCall.get()
        guard case .json(let body) = input.body else { throw Problem.unsupportedBody }
        let app = try await services.applications.update(
            tenantID: try call.tenantID(), id: input.path.id,
            expectedVersion: try Self.ifMatch(input.headers.ifMatch),
            try Self.change(body), by: call.principal)
        return .ok(.init(headers: .init(eTag: Self.etag(app.version)), body: .json(Self.application(app))))
    }

    package func rotateClientSecret(_ input: Operations.RotateClientSecret.Input) async throws -> Operations.RotateClientSecret.Output {
        let call = try AdminCall.get()
        guard case .json(let body) = input.body else { throw Problem.unsupportedBody }
        let (app, secret) = try await services.applications.rotateSecret(
            tenantID: try call.tenantID(), id: input.path.id, expectedVersion: try Self.ifMatch(input.headers.ifMatch),
            grace: TimeInterval(body.gracePeriod ?? 0), by: call.principal)
        let expires: Date? = if case .oidc(let o) = app.settings, o.previousClientSecretHash != nil { o.previousClientSecretExpiresAt } else { nil }
        return .ok(
            .init(
                headers: .init(cacheControl: .noStore, eTag: Self.etag(app.version)),
                body: .json(.init(application: Self.application(app), clientSecret: secret.value, previousSecretExpiresAt: expires))))
    }

    package func deleteApplication(_ input: Operations.DeleteApplication.Input) async throws -> Operations.DeleteApplication.Output {
        let call = try AdminCall.get()
        try await services.applications.delete(
            tenantID: try call.tenantID(), id: input.path.id,
            expectedVersion: try Self.ifMatch(input.headers.ifMatch), by: call.principal)
        return .noContent(.init())
    }

    // MARK: keys, audit, the document

    package func listKeys(_ input: Operations.ListKeys.Input) async throws -> Operations.ListKeys.Output {
        let call = try AdminCall.get()
        let tenantID = try call.tenantID()
        guard call.principal.canAccess(tenantID: tenantID) else { throw ServiceError(.forbidden, "this admin token belongs to another tenant") }
        let keys = try await services.keys.list(tenantID: tenantID)
        return .ok(.init(body: .json(.init(items: keys.map(Self.key), nextCursor: nil))))
    }

    package func rotateKeys(_ input: Operations.RotateKeys.Input) async throws -> Operations.RotateKeys.Output {
        let call = try AdminCall.get()
        let tenantID = try call.tenantID()
        guard call.principal.canAccess(tenantID: tenantID) else { throw ServiceError(.forbidden, "this admin token belongs to another tenant") }
        _ = try await services.keys.rotate(tenantID: tenantID, by: call.principal)
        let keys = try await services.keys.list(tenantID: tenantID)
        return .ok(.init(body: .json(.init(items: keys.map(Self.key), nextCursor: nil))))
    }

    package func listAuditEvents(_ input: Operations.ListAuditEvents.Input) async throws -> Operations.ListAuditEvents.Output {
        let call = try AdminCall.get()
        let page = try await services.audit.list(
            tenantID: try call.tenantID(), page: try Self.page(input.query.limit, input.query.cursor),
            by: call.principal)
        return .ok(.init(body: .json(.init(items: page.items.map(Self.auditEvent), nextCursor: page.nextCursor))))
    }

    package func verifyAuditLog(_ input: Operations.VerifyAuditLog.Input) async throws -> Operations.VerifyAuditLog.Output {
        let call = try AdminCall.get()
        let tenantID = try call.tenantID()
        let result = try await services.audit.verify(tenantID: tenantID, by: call.principal)
        let report = result.chains.first { $0.chain == tenantID }
        let findings = (report?.findings ?? []) + result.unchained
        return .ok(
            .init(
                body: .json(
                    .init(
                        intact: findings.isEmpty, events: report?.events ?? 0, lastSequence: report?.lastSequence ?? 0,
                        lastHash: report?.lastHash ?? AuditChain.genesis, checkpointsVerified: report?.checkpointsVerified ?? 0,
                        lastGoodCheckpoint: report?.lastGoodCheckpoint, findings: findings.map(Self.auditFinding)))))
    }

    package func listAuditCheckpoints(_ input: Operations.ListAuditCheckpoints.Input) async throws -> Operations.ListAuditCheckpoints.Output {
        let call = try AdminCall.get()
        let checkpoints = try await services.audit.checkpoints(tenantID: try call.tenantID(), by: call.principal)
        return .ok(
            .init(
                body: .json(
                    .init(
                        items: checkpoints.map { .init(seq: $0.sequence, hash: $0.hash, checkpoint: $0.signed, createdAt: $0.createdAt) }))))
    }

    /// Served by the plain route in `register` (the file's own bytes); this answers the same
    /// document, decoded, if the generated route is ever reached.
    package func getOpenAPIDocument(_ input: Operations.GetOpenAPIDocument.Input) async throws -> Operations.GetOpenAPIDocument.Output {
        .ok(.init(body: .json(try JSONDecoder().decode(OpenAPIObjectContainer.self, from: Data(AdminAPIDocument.bytes)))))
    }
}

extension AdminCall {
    func tenantID() throws -> String { try context.requireTenant().id }

    /// An absolute URL of this tenant's admin API (`Location`).
    func url(_ relative: String) -> String { "\(context.issuer)\(AdminAPI.base)/\(relative)" }
}

extension Problem {
    /// The generated decoder has only the JSON case; `AdminGate` already refused other media types.
    static var unsupportedBody: Problem {
        Problem(status: .unsupportedMediaType, type: "unsupported-media-type", title: "Send the body as application/json")
    }
}
