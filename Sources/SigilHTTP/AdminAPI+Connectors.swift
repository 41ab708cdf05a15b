import Foundation
import OpenAPIRuntime
import SigilAdminAPI
import SigilCore
import SigilServices
import SigilStore

/// `/api/admin/v1/connector-keys…`: the tenant's keys for the connector API (docs/connectors.md).
/// A key appears only in the answer that issued it.
extension AdminAPI {
    package func listConnectorKeys(_ input: Operations.ListConnectorKeys.Input) async throws -> Operations.ListConnectorKeys.Output {
        let call = try AdminCall.get()
        let keys = try await services.connectors.keys(tenantID: try call.tenantID(), by: call.principal)
        return .ok(.init(body: .json(.init(items: keys.map(Self.connectorKey)))))
    }

    package func createConnectorKey(_ input: Operations.CreateConnectorKey.Input) async throws -> Operations.CreateConnectorKey.Output {
        let call = try AdminCall.get()
        guard case .json(let body) = input.body else { throw Problem.unsupportedBody }
        let issued = try await services.connectors.createKey(
            tenantID: try call.tenantID(), name: body.name, scopes: body.scopes.map(\.rawValue), redirectOrigins: body.redirectOrigins ?? [],
            by: call.principal)
        return .created(.init(body: .json(.init(connectorKey: Self.connectorKey(issued.key), key: issued.secret.value))))
    }

    package func revokeConnectorKey(_ input: Operations.RevokeConnectorKey.Input) async throws -> Operations.RevokeConnectorKey.Output {
        let call = try AdminCall.get()
        try await services.connectors.revokeKey(tenantID: try call.tenantID(), id: input.path.id, by: call.principal)
        return .noContent(.init())
    }

    package func rotateConnectorKey(_ input: Operations.RotateConnectorKey.Input) async throws -> Operations.RotateConnectorKey.Output {
        let call = try AdminCall.get()
        guard case .json(let body) = input.body else { throw Problem.unsupportedBody }
        let issued = try await services.connectors.rotateKey(
            tenantID: try call.tenantID(), id: input.path.id, overlap: TimeInterval(body.overlapSeconds ?? 0), by: call.principal)
        return .ok(.init(body: .json(.init(connectorKey: Self.connectorKey(issued.key), key: issued.secret.value))))
    }

    static func connectorKey(_ k: ConnectorKey) -> Schemas.ConnectorKey {
        Schemas.ConnectorKey(
            id: k.id, name: k.name, prefix: k.displayPrefix, scopes: k.scopes.compactMap { .init(rawValue: $0) }, redirectOrigins: k.redirectOrigins,
            createdAt: k.createdAt, expiresAt: k.expiresAt, revokedAt: k.revokedAt, lastUsedAt: k.lastUsedAt)
    }
}

/// `/api/admin/v1/hook-sources…`: where flow builders post signed events (docs/connectors.md
/// "Inbound hooks"). A source's secret appears only in the answer that created it.
extension AdminAPI {
    package func listHookSources(_ input: Operations.ListHookSources.Input) async throws -> Operations.ListHookSources.Output {
        let call = try AdminCall.get()
        let sources = try await services.connectors.hookSources(tenantID: try call.tenantID(), by: call.principal)
        return .ok(.init(body: .json(.init(items: sources.map { Self.hookSource($0, issuer: call.context.issuer) }))))
    }

    package func createHookSource(_ input: Operations.CreateHookSource.Input) async throws -> Operations.CreateHookSource.Output {
        let call = try AdminCall.get()
        guard case .json(let body) = input.body else { throw Problem.unsupportedBody }
        let config = ConnectorService.HookConfig(
            actions: body.actions?.additionalProperties.mapValues(\.rawValue),
            idv: body.idv.map {
                ConnectorService.IDVStart(
                    documentTypes: $0.documentTypes?.map(\.rawValue), livenessMode: $0.livenessMode?.rawValue, redirectURL: $0.redirectUrl)
            },
            stepUp: body.stepup.map {
                ConnectorService.StepUpDefaults(bindingMessage: $0.bindingMessage, redirectURL: $0.redirectUrl, userVerification: $0.userVerification?.rawValue)
            },
            minimumRiskScore: body.minimumRiskScore)
        let issued = try await services.connectors.createHookSource(
            tenantID: try call.tenantID(),
            .init(name: body.name, connectorKeyID: body.connectorKeyId, signature: body.signature.rawValue, config: config), by: call.principal)
        return .created(.init(body: .json(.init(hookSource: Self.hookSource(issued.view, issuer: call.context.issuer), secret: issued.secret.value))))
    }

    package func getHookSource(_ input: Operations.GetHookSource.Input) async throws -> Operations.GetHookSource.Output {
        let call = try AdminCall.get()
        let view = try await services.connectors.hookSource(tenantID: try call.tenantID(), name: input.path.name, by: call.principal)
        return .ok(.init(body: .json(Self.hookSource(view, issuer: call.context.issuer))))
    }

    package func deleteHookSource(_ input: Operations.DeleteHookSource.Input) async throws -> Operations.DeleteHookSource.Output {
        let call = try AdminCall.get()
        try await services.connectors.deleteHookSource(tenantID: try call.tenantID(), name: input.path.name, by: call.principal)
        return .noContent(.init())
    }

    static func hookSource(_ v: ConnectorService.HookSourceView, issuer: String) -> Schemas.HookSource {
        let effective = ConnectorService.defaultHookActions.merging(v.config.actions ?? [:]) { _, own in own }
        return Schemas.HookSource(
            id: v.source.id, name: v.source.name, url: issuer + "/api/v1/hooks/" + v.source.name, connectorKeyId: v.source.connectorKeyID,
            signature: .init(rawValue: v.source.signature) ?? .rfc9421,
            actions: .init(additionalProperties: effective.compactMapValues { .init(rawValue: $0) }),
            idv: v.config.idv.map {
                .init(
                    documentTypes: $0.documentTypes?.compactMap { .init(rawValue: $0) }, livenessMode: $0.livenessMode.flatMap { .init(rawValue: $0) },
                    redirectUrl: $0.redirectURL)
            },
            stepup: v.config.stepUp.map {
                .init(bindingMessage: $0.bindingMessage, redirectUrl: $0.redirectURL, userVerification: $0.userVerification.flatMap { .init(rawValue: $0) })
            },
            minimumRiskScore: v.config.minimumRiskScore, createdAt: v.source.createdAt)
    }
}
