import Foundation
import OpenAPIRuntime
import SigilAdminAPI
import SigilCore
import SigilServices
import SigilStore

/// `/api/admin/v1/webhooks…`: the tenant's outbound webhook endpoints, their delivery log and
/// replays (docs/webhooks.md). A secret appears only in the answer that created it.
extension AdminAPI {
    package func listWebhooks(_ input: Operations.ListWebhooks.Input) async throws -> Operations.ListWebhooks.Output {
        let call = try AdminCall.get()
        let all = try await services.webhooks.endpoints(tenantID: try call.tenantID(), by: call.principal)
        return .ok(.init(body: .json(.init(items: all.map(Self.webhook)))))
    }

    package func createWebhook(_ input: Operations.CreateWebhook.Input) async throws -> Operations.CreateWebhook.Output {
        let call = try AdminCall.get()
        guard case .json(let body) = input.body else { throw Problem.unsupportedBody }
        let created = try await services.webhooks.create(
            tenantID: try call.tenantID(), url: body.url, description: body.description, eventTypes: body.eventTypes,
            enabled: body.enabled ?? true, by: call.principal)
        return .created(.init(body: .json(.init(endpoint: Self.webhook(created.endpoint), secret: created.secret.value))))
    }

    package func getWebhook(_ input: Operations.GetWebhook.Input) async throws -> Operations.GetWebhook.Output {
        let call = try AdminCall.get()
        let endpoint = try await services.webhooks.endpoint(tenantID: try call.tenantID(), id: input.path.id, by: call.principal)
        return .ok(.init(body: .json(Self.webhook(endpoint))))
    }

    package func updateWebhook(_ input: Operations.UpdateWebhook.Input) async throws -> Operations.UpdateWebhook.Output {
        let call = try AdminCall.get()
        guard case .json(let body) = input.body else { throw Problem.unsupportedBody }
        let endpoint = try await services.webhooks.update(
            tenantID: try call.tenantID(), id: input.path.id,
            .init(url: body.url, description: body.description, eventTypes: body.eventTypes, enabled: body.enabled), by: call.principal)
        return .ok(.init(body: .json(Self.webhook(endpoint))))
    }

    package func deleteWebhook(_ input: Operations.DeleteWebhook.Input) async throws -> Operations.DeleteWebhook.Output {
        let call = try AdminCall.get()
        try await services.webhooks.delete(tenantID: try call.tenantID(), id: input.path.id, by: call.principal)
        return .noContent(.init())
    }

    package func rotateWebhookSecret(_ input: Operations.RotateWebhookSecret.Input) async throws -> Operations.RotateWebhookSecret.Output {
        let call = try AdminCall.get()
        guard case .json(let body) = input.body else { throw Problem.unsupportedBody }
        let rotated = try await services.webhooks.rotateSecret(
            tenantID: try call.tenantID(), id: input.path.id, overlap: TimeInterval(body.overlapSeconds ?? 0), by: call.principal)
        return .ok(.init(body: .json(.init(endpoint: Self.webhook(rotated.endpoint), secret: rotated.secret.value))))
    }

    package func listWebhookDeliveries(_ input: Operations.ListWebhookDeliveries.Input) async throws -> Operations.ListWebhookDeliveries.Output {
        let call = try AdminCall.get()
        let state = input.query.state.flatMap { WebhookDelivery.State(rawValue: $0.rawValue) }
        let page = try await services.webhooks.deliveries(
            tenantID: try call.tenantID(), endpointID: input.path.id, state: state, page: try Self.page(input.query.limit, input.query.cursor),
            by: call.principal)
        return .ok(.init(body: .json(.init(items: page.items.map(Self.webhookDelivery), nextCursor: page.nextCursor))))
    }

    package func replayWebhookDelivery(_ input: Operations.ReplayWebhookDelivery.Input) async throws -> Operations.ReplayWebhookDelivery.Output {
        let call = try AdminCall.get()
        let delivery = try await services.webhooks.replay(
            tenantID: try call.tenantID(), endpointID: input.path.id, eventID: input.path.eventId, by: call.principal)
        return .ok(.init(body: .json(Self.webhookDelivery(delivery))))
    }

    static func webhook(_ e: WebhookEndpoint) -> Schemas.WebhookEndpoint {
        Schemas.WebhookEndpoint(
            id: e.id, url: e.url, description: e.description, eventTypes: e.eventTypes, enabled: e.enabled,
            previousSecretExpiresAt: e.previousSealedSecret == nil ? nil : e.previousSecretExpiresAt, createdAt: e.createdAt,
            updatedAt: e.updatedAt)
    }

    static func webhookDelivery(_ d: WebhookDelivery) -> Schemas.WebhookDelivery {
        Schemas.WebhookDelivery(
            webhookId: d.eventID, eventType: d.eventType, state: .init(rawValue: d.state.rawValue) ?? .pending, attempts: d.attempts,
            nextAttemptAt: d.nextAttemptAt, lastAttemptAt: d.lastAttemptAt, lastStatus: d.lastStatus, lastError: d.lastError,
            createdAt: d.createdAt, deliveredAt: d.deliveredAt)
    }
}
