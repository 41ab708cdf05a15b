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
