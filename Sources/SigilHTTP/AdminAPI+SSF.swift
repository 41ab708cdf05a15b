import Foundation
import OpenAPIRuntime
import SigilAdminAPI
import SigilServices
import SigilStore

/// `/api/admin/v1/ssf/streams…`: the administrator's view of the Shared Signals receivers'
/// streams (docs/ssf.md): list, read, pause/disable/enable, delete. Receivers manage their own
/// streams with OAuth scopes at `/ssf/…`; this is the tenant's oversight of them. The
/// Authorization header a push stream sends is never shown.
extension AdminAPI {
    package func listSsfStreams(_ input: Operations.ListSsfStreams.Input) async throws -> Operations.ListSsfStreams.Output {
        let call = try AdminCall.get()
        let all = try await services.ssf.adminStreams(tenantID: try call.tenantID(), by: call.principal)
        return .ok(.init(body: .json(.init(items: all.map(Self.ssfStream)))))
    }

    package func getSsfStream(_ input: Operations.GetSsfStream.Input) async throws -> Operations.GetSsfStream.Output {
        let call = try AdminCall.get()
        return .ok(.init(body: .json(Self.ssfStream(try await services.ssf.adminStream(tenantID: try call.tenantID(), id: input.path.id, by: call.principal)))))
    }

    package func deleteSsfStream(_ input: Operations.DeleteSsfStream.Input) async throws -> Operations.DeleteSsfStream.Output {
        let call = try AdminCall.get()
        try await services.ssf.adminDelete(tenantID: try call.tenantID(), id: input.path.id, by: call.principal)
        return .noContent(.init())
    }

    package func setSsfStreamStatus(_ input: Operations.SetSsfStreamStatus.Input) async throws -> Operations.SetSsfStreamStatus.Output {
        let call = try AdminCall.get()
        guard case .json(let body) = input.body else { throw Problem.unsupportedBody }
        let s = try await services.ssf.adminSetStatus(
            tenantID: try call.tenantID(), id: input.path.id, status: body.status.rawValue, reason: body.reason, by: call.principal)
        return .ok(.init(body: .json(Self.ssfStream(s))))
    }

    static func ssfStream(_ s: SSFStream) -> Schemas.SSFStream {
        Schemas.SSFStream(
            id: s.id, clientId: s.clientID, description: s.description, deliveryMethod: s.deliveryMethod, endpointUrl: s.endpointURL,
            eventsRequested: s.eventsRequested, eventsDelivered: s.eventsDelivered, profile: .init(rawValue: s.profile) ?? .standard,
            status: .init(rawValue: s.status) ?? .disabled, statusReason: s.statusReason, createdAt: s.createdAt, updatedAt: s.updatedAt)
    }
}
