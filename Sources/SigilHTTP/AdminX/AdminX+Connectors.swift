import Foundation
import HTTPTypes
import Hummingbird
import SigilAdminAPI
import SigilServices

/// Connectors (Descope and other flow builders): connector keys (shown once, rotation with an
/// overlap, revocation), inbound hook sources (their signing secret shown once), and the Shared
/// Signals streams receivers created; and the identity verification trust anchors (CSCAs).
extension AdminXRoutes {
    func registerConnectors(on router: Router<SigilRequestContext>) {
        get(router, "/adminx/connectors") { r, c, a in try await self.connectors(r, c, a, issued: nil, flash: nil) }
        post(router, "/adminx/connectors/keys") { r, c, a, f in try await self.createConnectorKey(r, c, a, f) }
        post(router, "/adminx/connectors/keys/:id/rotate") { r, c, a, f in try await self.rotateConnectorKey(r, c, a, f, id: try c.parameters.require("id")) }
        get(router, "/adminx/connectors/keys/:id/revoke") { _, c, a in self.confirmRevokeConnectorKey(c, a, id: try c.parameters.require("id")) }
        post(router, "/adminx/connectors/keys/:id/revoke") { _, c, a, _ in try await self.revokeConnectorKey(c, a, id: try c.parameters.require("id")) }
        post(router, "/adminx/connectors/hooks") { r, c, a, f in try await self.createHookSource(r, c, a, f) }
        post(router, "/adminx/connectors/hooks/:name/delete") { _, c, a, _ in try await self.deleteHookSource(c, a, name: try c.parameters.require("name")) }
        post(router, "/adminx/connectors/streams/:id/status") { r, c, a, _ in
            try await self.setStreamStatus(c, a, to: r.uri.queryParameters.get("to").map { String($0) } ?? "enabled", id: try c.parameters.require("id"))
        }
        post(router, "/adminx/idv/cscas") { _, c, a, f in try await self.importCSCAs(c, a, f) }
        post(router, "/adminx/idv/cscas/:id/delete") { _, c, a, _ in try await self.deleteCSCA(c, a, id: try c.parameters.require("id")) }
    }

    /// What a form on the connectors page gave back: the secret to show once, or the form's values and error.
    struct ConnectorsOutcome {
        var secretTitle: String
        var secretValue: String
        var secretHint: String
    }

    func connectors(
        _ request: Request, _ context: SigilRequestContext, _ a: AdminXCaller, issued: ConnectorsOutcome?, flash: String?,
        keyForm: [String: String]? = nil, hookForm: [String: String]? = nil, error: (any Error)? = nil, errorForm: String? = nil
    ) async throws -> Response {
        let keys = try await api.listConnectorKeys(.init()).ok.body.json.items
        let hooks = try await api.listHookSources(.init()).ok.body.json.items
        let streams = try await api.listSsfStreams(.init()).ok.body.json.items
        var view = a.view(context, title: "Connectors", current: .connectors)
        view.intro =
            "Descope and other flow builders call Sigil's connector API (identity verification, biometric step-up) with a connector key, "
            + "and may send their events to a hook source. Shared Signals receivers manage their own streams (docs/connectors.md, docs/ssf.md)."
        view.flash = flash ?? (request.uri.queryParameters.get("done") == "revoked" ? "Key revoked." : nil)
        if let issued {
            view.blocks.append(
                AdminXBlock(
                    "issued", heading: issued.secretTitle, paragraphs: [issued.secretHint],
                    fields: [AdminXField("issued-secret", issued.secretTitle, issued.secretValue, copy: true)], secret: true))
        }
        view.blocks.append(
            AdminXBlock(
                "connector-api", heading: "Connector API",
                fields: [
                    AdminXField("connector-base", "Base URL", "\(context.issuer)/api/v1/connectors", copy: true),
                    AdminXField("connector-openapi", "OpenAPI document", "\(context.issuer)/api/v1/connectors/openapi.json", copy: true),
                ]))
        view.blocks.append(
            AdminXBlock(
                "keys",
                table: AdminXTable(
                    "connector-keys", caption: "Connector keys", columns: ["Name", "Prefix", "Scopes", "Last used", "Status", ""],
                    rows: keys.map { k in
                        let revoked = k.revokedAt != nil
                        return AdminXRow(cells: [
                            AdminXCell(k.name, header: true), AdminXCell(k.prefix, mono: true),
                            AdminXCell(k.scopes.map(\.rawValue).joined(separator: " "), mono: true),
                            AdminXCell(Self.date(k.lastUsedAt)),
                            AdminXCell(revoked ? "revoked" : k.expiresAt.map { "expires \(Self.date($0))" } ?? "active", badge: revoked ? "muted" : "ok"),
                            revoked ? AdminXCell("") : AdminXCell("Revoke…", href: "\(a.root)/connectors/keys/\(Self.segment(k.id))/revoke"),
                        ])
                    }, empty: "No connector keys."),
                buttons: keys.filter { $0.revokedAt == nil }.prefix(10).map { k in
                    AdminXButton(
                        buttonID: "rotate-\(k.id)", buttonAction: "\(a.root)/connectors/keys/\(Self.segment(k.id))/rotate",
                        buttonLabel: "Rotate \(k.name) (old key works 1 more day)")
                }))
        let kv = keyForm ?? [:]
        view.blocks.append(
            AdminXBlock(
                "new-key", heading: "Create a connector key",
                form: AdminXForm(
                    "key-form", action: "\(a.root)/connectors/keys", submit: "Create key",
                    inputs: [
                        AdminXInput(
                            .text("text"), name: "name", label: "Name", value: kv["name"] ?? "", hint: "Who uses it, such as Descope production.",
                            required: true),
                        AdminXInput(
                            .checkboxes, name: "scopes", label: "Scopes",
                            choices: [
                                ("idv:write", "idv:write: start identity verifications", nil), ("idv:read", "idv:read: read their results", nil),
                                ("stepup:write", "stepup:write: start biometric step-ups", nil), ("stepup:read", "stepup:read: read their results", nil),
                            ], selected: keyForm.map { Set(Self.checked($0, "scopes")) } ?? ["idv:write", "idv:read", "stepup:write", "stepup:read"]),
                        AdminXInput(
                            .textarea(rows: 2), name: "redirect_origins", label: "Redirect origins", value: kv["redirect_origins"] ?? "",
                            hint: "One per line (https://host): where a session may send the person back."),
                    ])))
        view.blocks.append(
            AdminXBlock(
                "hooks",
                table: AdminXTable(
                    "hook-sources", caption: "Hook sources (inbound events)", columns: ["Name", "URL", "Signature", "Connector key"],
                    rows: hooks.map { s in
                        AdminXRow(cells: [
                            AdminXCell(s.name, header: true), AdminXCell(s.url, mono: true), AdminXCell(s.signature.rawValue),
                            AdminXCell(s.connectorKeyId, mono: true),
                        ])
                    }, empty: "No hook sources."),
                buttons: hooks.prefix(10).map { s in
                    AdminXButton(
                        buttonID: "delete-hook-\(s.name)", buttonAction: "\(a.root)/connectors/hooks/\(Self.segment(s.name))/delete",
                        buttonLabel: "Delete hook source \(s.name)", buttonDanger: true)
                }))
        let hv = hookForm ?? [:]
        let activeKeys = keys.filter { $0.revokedAt == nil }
        view.blocks.append(
            AdminXBlock(
                "new-hook", heading: "Add a hook source",
                paragraphs: activeKeys.isEmpty ? ["A hook source acts as a connector key: create one first."] : [],
                form: activeKeys.isEmpty
                    ? nil
                    : AdminXForm(
                        "hook-form", action: "\(a.root)/connectors/hooks", submit: "Add hook source",
                        inputs: [
                            AdminXInput(.text("text"), name: "name", label: "Name", value: hv["name"] ?? "", hint: "The URL's last segment.", required: true),
                            AdminXInput(
                                .select, name: "connector_key_id", label: "Acts as connector key",
                                choices: activeKeys.map { ($0.id, "\($0.name) (\($0.prefix)…)", nil) }, selected: [hv["connector_key_id"] ?? activeKeys[0].id]),
                            AdminXInput(
                                .radios, name: "signature", label: "Signature",
                                choices: [
                                    ("rfc9421", "HTTP Message Signatures (RFC 9421, recommended)", nil),
                                    ("descope_hmac", "Descope's x-descope-webhook-s256", nil),
                                ], selected: [hv["signature"] ?? "rfc9421"]),
                        ])))
        view.blocks.append(
            AdminXBlock(
                "streams",
                table: AdminXTable(
                    "ssf-streams", caption: "Shared Signals streams", columns: ["Receiver", "Delivery", "Events", "Status"],
                    rows: streams.map { s in
                        AdminXRow(cells: [
                            AdminXCell(s.clientId, mono: true, header: true),
                            AdminXCell(s.deliveryMethod.components(separatedBy: ":").last ?? s.deliveryMethod),
                            AdminXCell("\(s.eventsDelivered.count) of \(s.eventsRequested.count) requested"),
                            AdminXCell(s.status.rawValue, badge: s.status == .enabled ? "ok" : "muted"),
                        ])
                    }, empty: "No receiver has created a stream."),
                buttons: streams.prefix(10).flatMap { s in
                    ["enabled", "paused", "disabled"].filter { $0 != s.status.rawValue }.map { status in
                        AdminXButton(
                            buttonID: "stream-\(s.id)-\(status)", buttonAction: "\(a.root)/connectors/streams/\(Self.segment(s.id))/status?to=\(status)",
                            buttonLabel: "\(status == "enabled" ? "Enable" : status == "paused" ? "Pause" : "Disable") \(s.clientId)'s stream")
                    }
                }))
        var status = HTTPResponse.Status.ok
        if let error, let errorForm, let index = view.blocks.firstIndex(where: { $0.form?.formID == errorForm }) {
            status = Self.show(error, on: &view, formBlock: index)
        }
        return render(view, status: status)
    }

    func createConnectorKey(_ request: Request, _ context: SigilRequestContext, _ a: AdminXCaller, _ form: [String: String]) async throws -> Response {
        do {
            var object: [String: Any] = ["name": Self.trimmed(form, "name") ?? "", "scopes": Self.checked(form, "scopes")]
            let origins = Self.lines(form["redirect_origins"])
            if !origins.isEmpty { object["redirect_origins"] = origins }
            let issued = try await api.createConnectorKey(.init(body: .json(try Self.body(Components.Schemas.CreateConnectorKey.self, object)))).created.body
                .json
            return try await connectors(
                request, context, a,
                issued: ConnectorsOutcome(
                    secretTitle: "Connector key", secretValue: issued.key,
                    secretHint: "Copy it now into the flow builder's connector (Authorization: Bearer): it is shown once."),
                flash: "Connector key \(issued.connectorKey.name) created.")
        } catch {
            return try await connectors(request, context, a, issued: nil, flash: nil, keyForm: form, error: error, errorForm: "key-form")
        }
    }

    func rotateConnectorKey(_ request: Request, _ context: SigilRequestContext, _ a: AdminXCaller, _ form: [String: String], id: String) async throws
        -> Response
    {
        let issued = try await api.rotateConnectorKey(
            .init(path: .init(id: id), body: .json(try Self.body(Components.Schemas.RotateConnectorKey.self, ["overlap_seconds": 86_400])))
        ).ok.body.json
        return try await connectors(
            request, context, a,
            issued: ConnectorsOutcome(
                secretTitle: "New connector key", secretValue: issued.key, secretHint: "Shown once. The old key keeps working for one day."),
            flash: "Key rotated.")
    }

    func confirmRevokeConnectorKey(_ context: SigilRequestContext, _ a: AdminXCaller, id: String) -> Response {
        var view = a.view(context, title: "Revoke this connector key?", current: .connectors, breadcrumbs: [AdminXLink("Connectors", a.root + "/connectors")])
        view.blocks = [
            AdminXBlock(
                "confirm", paragraphs: ["Calls with it are refused from now on; flows that use it stop working until they get a new key."], danger: true,
                form: AdminXForm(
                    "revoke-form", action: "\(a.root)/connectors/keys/\(Self.segment(id))/revoke", submit: "Revoke key", danger: true,
                    cancel: "\(a.root)/connectors", inputs: []))
        ]
        return render(view)
    }

    func revokeConnectorKey(_ context: SigilRequestContext, _ a: AdminXCaller, id: String) async throws -> Response {
        _ = try await api.revokeConnectorKey(.init(path: .init(id: id)))
        return Web.redirect("\(a.root)/connectors?done=revoked")
    }

    func createHookSource(_ request: Request, _ context: SigilRequestContext, _ a: AdminXCaller, _ form: [String: String]) async throws -> Response {
        do {
            let object: [String: Any] = [
                "name": Self.trimmed(form, "name") ?? "", "connector_key_id": form["connector_key_id"] ?? "", "signature": form["signature"] ?? "rfc9421",
            ]
            let issued = try await api.createHookSource(.init(body: .json(try Self.body(Components.Schemas.CreateHookSource.self, object)))).created.body.json
            return try await connectors(
                request, context, a,
                issued: ConnectorsOutcome(
                    secretTitle: "Hook signing secret", secretValue: issued.secret,
                    secretHint: "Give it to the sender with the URL \(issued.hookSource.url): it is shown once."),
                flash: "Hook source \(issued.hookSource.name) added.")
        } catch {
            return try await connectors(request, context, a, issued: nil, flash: nil, hookForm: form, error: error, errorForm: "hook-form")
        }
    }

    func deleteHookSource(_ context: SigilRequestContext, _ a: AdminXCaller, name: String) async throws -> Response {
        _ = try await api.deleteHookSource(.init(path: .init(name: name)))
        return Web.redirect("\(a.root)/connectors")
    }

    func setStreamStatus(_ context: SigilRequestContext, _ a: AdminXCaller, to status: String, id: String) async throws -> Response {
        _ = try await api.setSsfStreamStatus(
            .init(
                path: .init(id: id),
                body: .json(try Self.body(Components.Schemas.SSFStreamStatus.self, ["status": status, "reason": "changed in AdminX by \(a.user.email)"]))))
        return Web.redirect("\(a.root)/connectors")
    }

    // MARK: CSCAs

    func importCSCAs(_ context: SigilRequestContext, _ a: AdminXCaller, _ form: [String: String]) async throws -> Response {
        do {
            let pem = Self.trimmed(form, "pem") ?? ""
            _ = try await api.importIdvCscas(.init(body: .json(try Self.body(Components.Schemas.ImportIdvCscas.self, ["pem": pem]))))
        } catch {
            return try await idvPolicy(context, a, nil, nil, flash: nil, cscaForm: form, cscaError: error)
        }
        return try await idvPolicy(context, a, nil, nil, flash: "Certificates imported.")
    }

    func deleteCSCA(_ context: SigilRequestContext, _ a: AdminXCaller, id: String) async throws -> Response {
        _ = try await api.deleteIdvCsca(.init(path: .init(id: id)))
        return try await idvPolicy(context, a, nil, nil, flash: "Certificate removed.")
    }
}
