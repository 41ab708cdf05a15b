import Foundation
import HTTPTypes
import Hummingbird
import SigilAdminAPI
import SigilServices

/// Webhooks: endpoints (the signing secret shown once), their deliveries with replay, secret
/// rotation with an overlap, enable / disable, deletion.
extension AdminXRoutes {
    typealias Webhook = Components.Schemas.WebhookEndpoint

    func registerWebhooks(on router: Router<SigilRequestContext>) {
        get(router, "/adminx/webhooks") { r, c, a in try await self.webhooks(r, c, a) }
        get(router, "/adminx/webhooks/new") { _, c, a in self.webhookForm(c, a, [:], nil) }
        post(router, "/adminx/webhooks/new") { _, c, a, f in try await self.createWebhook(c, a, f) }
        get(router, "/adminx/webhooks/:id") { r, c, a in try await self.webhook(r, c, a, id: try c.parameters.require("id")) }
        post(router, "/adminx/webhooks/:id") { _, c, a, f in try await self.updateWebhook(c, a, f, id: try c.parameters.require("id")) }
        post(router, "/adminx/webhooks/:id/secret") { _, c, a, f in try await self.rotateWebhookSecret(c, a, f, id: try c.parameters.require("id")) }
        post(router, "/adminx/webhooks/:id/deliveries/:event/replay") { _, c, a, _ in
            try await self.replayDelivery(c, a, id: try c.parameters.require("id"), event: try c.parameters.require("event"))
        }
        get(router, "/adminx/webhooks/:id/delete") { _, c, a in try await self.confirmDeleteWebhook(c, a, id: try c.parameters.require("id")) }
        post(router, "/adminx/webhooks/:id/delete") { _, c, a, _ in try await self.deleteWebhook(c, a, id: try c.parameters.require("id")) }
    }

    func webhookCrumbs(_ a: AdminXCaller) -> [AdminXLink] { [AdminXLink("Webhooks", a.root + "/webhooks")] }

    func webhooks(_ request: Request, _ context: SigilRequestContext, _ a: AdminXCaller) async throws -> Response {
        let items = try await api.listWebhooks(.init()).ok.body.json.items
        var view = a.view(context, title: "Webhooks", current: .webhooks)
        view.intro = "Signed events (Standard Webhooks) sent to your endpoints when something happens in this tenant: docs/webhooks.md."
        if request.uri.queryParameters.get("deleted") != nil { view.flash = "Endpoint deleted." }
        view.blocks = [
            AdminXBlock("actions", links: [AdminXLink("Add an endpoint", "\(a.root)/webhooks/new", id: "add-webhook", primary: true)]),
            AdminXBlock(
                "list",
                table: AdminXTable(
                    "webhooks-table", caption: "Endpoints", columns: ["URL", "Events", "Status", "Created"],
                    rows: items.map { (w: Webhook) -> AdminXRow in
                        AdminXRow(cells: [
                            AdminXCell(w.url, href: "\(a.root)/webhooks/\(Self.segment(w.id))", header: true),
                            AdminXCell(w.eventTypes.joined(separator: " "), mono: true),
                            AdminXCell(w.enabled ? "enabled" : "disabled", badge: w.enabled ? "ok" : "muted"), AdminXCell(Self.date(w.createdAt)),
                        ])
                    }, empty: "No endpoints yet.")),
        ]
        return render(view)
    }

    func webhookInputs(_ v: [String: String], creating: Bool) -> [AdminXInput] {
        [
            AdminXInput(.text("url"), name: "url", label: "Endpoint URL", value: v["url"] ?? "", hint: "https.", required: true),
            AdminXInput(.text("text"), name: "description", label: "Description", value: v["description"] ?? ""),
            AdminXInput(
                .textarea(rows: 3), name: "event_types", label: "Event types", value: v["event_types"] ?? (creating ? "*" : ""),
                hint: "One per line: audit actions such as user.created or idv.decided (docs/events.md), or * for every event."),
            AdminXInput(
                .checkbox, name: "enabled", label: "Status", choices: [("on", "Enabled", nil)],
                selected: (v["enabled"] ?? (creating ? "on" : "")) == "on" ? ["on"] : []),
        ]
    }

    func webhookBody(_ form: [String: String]) -> [String: Any] {
        var object: [String: Any] = [
            "url": Self.trimmed(form, "url") ?? "", "event_types": Self.lines(form["event_types"]), "enabled": form["enabled"] == "on",
        ]
        if let description = Self.trimmed(form, "description") { object["description"] = description }
        return object
    }

    func webhookForm(_ context: SigilRequestContext, _ a: AdminXCaller, _ values: [String: String], _ error: (any Error)?) -> Response {
        var view = a.view(context, title: "Add a webhook endpoint", current: .webhooks, breadcrumbs: webhookCrumbs(a))
        view.blocks = [
            AdminXBlock(
                "settings",
                form: AdminXForm(
                    "webhook-form", action: "\(a.root)/webhooks/new", submit: "Add endpoint", cancel: "\(a.root)/webhooks",
                    inputs: webhookInputs(values, creating: true)))
        ]
        let status = error.map { Self.show($0, on: &view, formBlock: 0) } ?? .ok
        return render(view, status: status)
    }

    func createWebhook(_ context: SigilRequestContext, _ a: AdminXCaller, _ form: [String: String]) async throws -> Response {
        let created: Components.Schemas.WebhookEndpointCreated
        do {
            created = try await api.createWebhook(.init(body: .json(try Self.body(Components.Schemas.CreateWebhook.self, webhookBody(form))))).created.body.json
        } catch {
            return webhookForm(context, a, form, error)
        }
        return try await webhookPage(context, a, created.endpoint, flash: "Endpoint added.", secret: created.secret, form: nil, error: nil)
    }

    func webhook(_ request: Request, _ context: SigilRequestContext, _ a: AdminXCaller, id: String) async throws -> Response {
        let endpoint = try await api.getWebhook(.init(path: .init(id: id))).ok.body.json
        let flash: String? = request.uri.queryParameters.get("replayed") != nil ? "The delivery is queued again." : nil
        return try await webhookPage(context, a, endpoint, flash: flash, secret: nil, form: nil, error: nil)
    }

    func webhookPage(
        _ context: SigilRequestContext, _ a: AdminXCaller, _ w: Webhook, flash: String?, secret: String?, form: [String: String]?, error: (any Error)?
    ) async throws -> Response {
        let path = "\(a.root)/webhooks/\(Self.segment(w.id))"
        var view = a.view(context, title: w.url, current: .webhooks, breadcrumbs: webhookCrumbs(a))
        view.flash = flash
        if let secret {
            view.blocks.append(
                AdminXBlock(
                    "signing-secret", heading: "Signing secret",
                    paragraphs: ["Copy it now: it is shown once. Your endpoint verifies each delivery's webhook-signature with it."],
                    fields: [AdminXField("webhook-secret", "Signing secret", secret, copy: true)], secret: true))
        }
        var facts = [AdminXField("webhook-id", "Endpoint ID", w.id, copy: true)]
        if let until = w.previousSecretExpiresAt {
            facts.append(AdminXField("previous-secret", "Previous secret also signs until", Self.date(until), mono: false))
        }
        view.blocks.append(AdminXBlock("facts", fields: facts))
        let values =
            form ?? [
                "url": w.url, "description": w.description ?? "", "event_types": w.eventTypes.joined(separator: "\n"), "enabled": w.enabled ? "on" : "",
            ]
        view.blocks.append(
            AdminXBlock(
                "settings", heading: "Settings",
                form: AdminXForm("webhook-settings", action: path, submit: "Save changes", inputs: webhookInputs(values, creating: false))))
        let deliveries = try await api.listWebhookDeliveries(.init(path: .init(id: w.id), query: .init(limit: 20))).ok.body.json.items
        view.blocks.append(
            AdminXBlock(
                "deliveries",
                table: AdminXTable(
                    "deliveries-table", caption: "Recent deliveries", columns: ["Event", "Type", "State", "Attempts", "Last answer", "Created"],
                    rows: deliveries.map { d in
                        AdminXRow(cells: [
                            AdminXCell(d.webhookId, mono: true), AdminXCell(d.eventType, mono: true),
                            AdminXCell(d.state.rawValue, badge: d.state == .delivered ? "ok" : d.state == .failed ? "bad" : "info"),
                            AdminXCell(String(d.attempts)), AdminXCell(d.lastStatus.map(String.init) ?? d.lastError ?? "—"), AdminXCell(Self.date(d.createdAt)),
                        ])
                    }, empty: "Nothing sent yet."),
                buttons: deliveries.filter { $0.state == .failed }.prefix(5).map { d in
                    AdminXButton(
                        buttonID: "replay-\(d.webhookId)", buttonAction: "\(path)/deliveries/\(Self.segment(d.webhookId))/replay",
                        buttonLabel: "Send \(d.eventType) \(d.webhookId.suffix(6)) again")
                }))
        view.blocks.append(
            AdminXBlock(
                "rotate", heading: "Rotate the signing secret",
                paragraphs: ["During the overlap each delivery carries a signature with both secrets, so the endpoint can switch without dropping events."],
                form: AdminXForm(
                    "rotate-form", action: "\(path)/secret", submit: "Rotate secret",
                    inputs: [
                        AdminXInput(
                            .select, name: "overlap_seconds", label: "Keep signing with the old secret for",
                            choices: [("0", "No time", nil), ("3600", "1 hour", nil), ("86400", "1 day", nil)], selected: ["86400"])
                    ])))
        view.blocks.append(
            AdminXBlock(
                "delete", heading: "Delete this endpoint", paragraphs: ["Events are no longer sent to it."], danger: true,
                links: [AdminXLink("Delete endpoint…", "\(path)/delete", id: "delete-webhook")]))
        var status = HTTPResponse.Status.ok
        if let error, let index = view.blocks.firstIndex(where: { $0.blockID == "settings" }) { status = Self.show(error, on: &view, formBlock: index) }
        return render(view, status: status)
    }

    func updateWebhook(_ context: SigilRequestContext, _ a: AdminXCaller, _ form: [String: String], id: String) async throws -> Response {
        let current = try await api.getWebhook(.init(path: .init(id: id))).ok.body.json
        do {
            var object = webhookBody(form)
            if object["description"] == nil { object["description"] = "" }
            let updated = try await api.updateWebhook(.init(path: .init(id: id), body: .json(try Self.body(Components.Schemas.PatchWebhook.self, object)))).ok
                .body.json
            return try await webhookPage(context, a, updated, flash: "Changes saved.", secret: nil, form: nil, error: nil)
        } catch {
            return try await webhookPage(context, a, current, flash: nil, secret: nil, form: form, error: error)
        }
    }

    func rotateWebhookSecret(_ context: SigilRequestContext, _ a: AdminXCaller, _ form: [String: String], id: String) async throws -> Response {
        let overlap = form["overlap_seconds"].flatMap(Int.init) ?? 0
        let rotated = try await api.rotateWebhookSecret(
            .init(path: .init(id: id), body: .json(try Self.body(Components.Schemas.RotateWebhookSecret.self, ["overlap_seconds": overlap])))
        ).ok.body.json
        return try await webhookPage(context, a, rotated.endpoint, flash: "Secret rotated.", secret: rotated.secret, form: nil, error: nil)
    }

    func replayDelivery(_ context: SigilRequestContext, _ a: AdminXCaller, id: String, event: String) async throws -> Response {
        _ = try await api.replayWebhookDelivery(.init(path: .init(id: id, eventId: event)))
        return Web.redirect("\(a.root)/webhooks/\(Self.segment(id))?replayed=1")
    }

    func confirmDeleteWebhook(_ context: SigilRequestContext, _ a: AdminXCaller, id: String) async throws -> Response {
        let w = try await api.getWebhook(.init(path: .init(id: id))).ok.body.json
        let path = "\(a.root)/webhooks/\(Self.segment(id))"
        var view = a.view(context, title: "Delete this endpoint?", current: .webhooks, breadcrumbs: webhookCrumbs(a))
        view.blocks = [
            AdminXBlock(
                "confirm", paragraphs: ["Events are no longer sent to \(w.url); deliveries still queued for it are dropped."], danger: true,
                form: AdminXForm("delete-form", action: "\(path)/delete", submit: "Delete endpoint", danger: true, cancel: path, inputs: []))
        ]
        return render(view)
    }

    func deleteWebhook(_ context: SigilRequestContext, _ a: AdminXCaller, id: String) async throws -> Response {
        _ = try await api.deleteWebhook(.init(path: .init(id: id))).noContent
        return Web.redirect("\(a.root)/webhooks?deleted=1")
    }
}
