import Foundation
import OpenAPIRuntime
import SigilAdminAPI
import SigilCore
import SigilServices
import SigilStore

/// `/api/admin/v1/integrations…`: one-click Auth0 and Okta setups and their doctor
/// (docs/integrations.md). The vendor credential in a request body is used for that call only:
/// never stored, logged or echoed.
extension AdminAPI {
    package func listIntegrations(_ input: Operations.ListIntegrations.Input) async throws -> Operations.ListIntegrations.Output {
        let call = try AdminCall.get()
        let all = try await services.integrations.integrations(tenantID: try call.tenantID(), by: call.principal)
        return .ok(.init(body: .json(.init(items: all.map(Self.integration)))))
    }

    package func getIntegration(_ input: Operations.GetIntegration.Input) async throws -> Operations.GetIntegration.Output {
        let call = try AdminCall.get()
        let tenantID = try call.tenantID()
        return .ok(.init(body: .json(Self.integration(try await services.integrations.integration(tenantID: tenantID, id: input.path.id, by: call.principal)))))
    }

    package func createIntegration(_ input: Operations.CreateIntegration.Input) async throws -> Operations.CreateIntegration.Output {
        let call = try AdminCall.get()
        guard case .json(let body) = input.body else { throw Problem.unsupportedBody }
        let tenantID = try call.tenantID()
        let issuer = call.context.issuer
        let secret = Secret(body.secret)
        let integrations = services.integrations
        func auth0ClientID() throws -> String {
            guard let id = body.clientId else {
                throw ServiceError.invalid([FieldError(field: "client_id", message: "client_id is required for Auth0 (the Machine-to-Machine application)")])
            }
            return id
        }
        let result: IntegrationResult
        switch body.kind.rawValue {
        case "auth0-saml":
            result = try await integrations.auth0SAML(
                tenantID: tenantID, issuer: issuer, domain: body.domain, clientID: try auth0ClientID(), clientSecret: secret,
                connectionName: body.connectionName ?? "sigil", displayName: body.displayName, auth0Tenant: body.auth0Tenant,
                enableFor: body.enableFor ?? [], by: call.principal)
        case "auth0-social":
            result = try await integrations.auth0Social(
                tenantID: tenantID, issuer: issuer, domain: body.domain, clientID: try auth0ClientID(), clientSecret: secret,
                connectionName: body.connectionName ?? "sigil", displayName: body.displayName, enableFor: body.enableFor ?? [], by: call.principal)
        case "okta-saml":
            var route: IntegrationService.OktaRoute?
            if let r = body.route { route = r == "all" ? .allUsers : .domain(String(r.dropFirst("domain:".count)).lowercased()) }
            result = try await integrations.oktaSAML(
                tenantID: tenantID, issuer: issuer, orgURL: body.domain, apiToken: secret, idpName: body.idpName ?? "Sigil", route: route,
                by: call.principal)
        default:
            result = try await integrations.oktaIDV(
                tenantID: tenantID, issuer: issuer, orgURL: body.domain, apiToken: secret, idpName: body.idpName ?? "Sigil identity verification",
                by: call.principal)
        }
        let record = try await services.integrations.integration(tenantID: tenantID, id: result.id, by: call.principal)
        return .created(
            .init(
                body: .json(
                    .init(
                        integration: Self.integration(record), applicationName: result.applicationName, nextStep: result.nextStep,
                        rotateCredentials: result.rotateCredentials))))
    }

    package func checkIntegration(_ input: Operations.CheckIntegration.Input) async throws -> Operations.CheckIntegration.Output {
        let call = try AdminCall.get()
        guard case .json(let body) = input.body else { throw Problem.unsupportedBody }
        let tenantID = try call.tenantID()
        var credentials: IntegrationService.PartnerCredentials?
        if let secret = body.secret {
            let record = try await services.integrations.integration(tenantID: tenantID, id: input.path.id, by: call.principal)
            if record.kind.hasPrefix("auth0") {
                guard let clientID = body.clientId else {
                    throw ServiceError.invalid([FieldError(field: "client_id", message: "client_id is required to read Auth0's side")])
                }
                credentials = .auth0(clientID: clientID, clientSecret: Secret(secret))
            } else {
                credentials = .okta(apiToken: Secret(secret))
            }
        }
        let report = try await services.integrations.doctor(
            tenantID: tenantID, id: input.path.id, issuer: call.context.issuer, credentials: credentials, repair: body.repair ?? false,
            by: call.principal)
        return .ok(
            .init(body: .json(.init(integration: Self.integration(report.integration), repaired: report.repaired, rotateCredentials: report.rotateCredentials)))
        )
    }

    static func integration(_ r: IntegrationRecord) -> Schemas.Integration {
        .init(
            id: r.id, kind: .init(rawValue: r.kind) ?? .init(rawValue: "auth0-saml")!, partnerDomain: r.partnerDomain,
            partnerObjects: r.partnerObjects.map { .init(kind: $0.kind, id: $0.id, name: $0.name) }, applicationId: r.applicationID,
            enabledClients: r.enabledClients, values: .init(additionalProperties: r.values), createdAt: r.createdAt,
            lastCheck: r.lastCheck.map { c in
                .init(
                    status: .init(rawValue: c.status) ?? .init(rawValue: "unchecked")!, checkedAt: c.checkedAt, partnerRead: c.partnerRead,
                    findings: c.findings.map {
                        .init(code: $0.code, side: .init(rawValue: $0.side) ?? .init(rawValue: "sigil")!, message: $0.message, repairable: $0.repairable)
                    })
            })
    }
}
