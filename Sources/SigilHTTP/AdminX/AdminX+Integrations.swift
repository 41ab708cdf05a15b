import Foundation
import HTTPTypes
import Hummingbird
import SigilAdminAPI
import SigilServices

/// Pre-built integrations (Auth0 SAML / social, Okta SAML / IDV): the partner's admin credentials
/// are asked for once, used for that one call and never stored; and the identity verification
/// policy.
extension AdminXRoutes {
    typealias Integration = Components.Schemas.Integration

    func registerIntegrations(on router: Router<SigilRequestContext>) {
        get(router, "/adminx/integrations") { _, c, a in try await self.integrations(c, a) }
        get(router, "/adminx/integrations/new") { r, c, a in
            self.integrationForm(c, a, ["kind": r.uri.queryParameters.get("kind").map { String($0) } ?? "auth0-saml"], nil)
        }
        post(router, "/adminx/integrations/new") { _, c, a, f in try await self.createIntegration(c, a, f) }
        get(router, "/adminx/integrations/:id") { _, c, a in try await self.integration(c, a, id: try c.parameters.require("id")) }
        post(router, "/adminx/integrations/:id/doctor") { _, c, a, f in try await self.checkIntegration(c, a, f, id: try c.parameters.require("id")) }
        get(router, "/adminx/idv/policy") { _, c, a in try await self.idvPolicy(c, a, nil, nil, flash: nil) }
        post(router, "/adminx/idv/policy") { _, c, a, f in try await self.saveIDVPolicy(c, a, f) }
    }

    static let integrationKinds: [(value: String, label: String, hint: String?)] = [
        ("auth0-saml", "Auth0: Sigil as a SAML enterprise connection", "Needs a Machine-to-Machine application's client ID and secret."),
        ("auth0-social", "Auth0: Sigil as a custom social (OIDC) connection", "Needs a Machine-to-Machine application's client ID and secret."),
        ("okta-saml", "Okta: Sigil as a SAML identity provider", "Needs an API token."),
        ("okta-idv", "Okta: Sigil as the identity verification vendor", "Needs an API token."),
    ]

    func integrationCrumbs(_ a: AdminXCaller) -> [AdminXLink] { [AdminXLink("Integrations", a.root + "/integrations")] }

    func integrations(_ context: SigilRequestContext, _ a: AdminXCaller) async throws -> Response {
        let items = try await api.listIntegrations(.init()).ok.body.json.items
        var view = a.view(context, title: "Integrations", current: .integrations)
        view.intro =
            "Give Sigil a partner's admin credentials once: it creates the federation on their side and here. The credentials are used for that call only and never stored: rotate them afterwards."
        view.blocks = [
            AdminXBlock(
                "kinds", heading: "Add an integration",
                links: Self.integrationKinds.map { kind in
                    AdminXLink(kind.label, "\(a.root)/integrations/new?kind=\(kind.value)", id: "add-\(kind.value)", text: kind.hint)
                }),
            AdminXBlock(
                "list",
                table: AdminXTable(
                    "integrations-table", caption: "Integrations", columns: ["Kind", "Partner", "Last check", "Created"],
                    rows: items.map { (i: Integration) -> AdminXRow in
                        let status = i.lastCheck?.status.rawValue ?? "not checked"
                        return AdminXRow(cells: [
                            AdminXCell(i.kind.rawValue, href: "\(a.root)/integrations/\(Self.segment(i.id))", header: true),
                            AdminXCell(i.partnerDomain, mono: true),
                            AdminXCell(status, badge: status == "ok" ? "ok" : status == "not checked" ? "muted" : "bad"),
                            AdminXCell(Self.date(i.createdAt)),
                        ])
                    }, empty: "No integrations yet.")),
        ]
        return render(view)
    }

    func integrationForm(_ context: SigilRequestContext, _ a: AdminXCaller, _ v: [String: String], _ error: (any Error)?) -> Response {
        let kind = v["kind"] ?? "auth0-saml"
        let auth0 = kind.hasPrefix("auth0")
        var view = a.view(context, title: "Add an integration", current: .integrations, breadcrumbs: integrationCrumbs(a))
        var inputs = [
            AdminXInput(.radios, name: "kind", label: "Integration", choices: Self.integrationKinds, selected: [kind]),
            AdminXInput(
                .text("text"), name: "domain", label: auth0 ? "Auth0 domain" : "Okta org", value: v["domain"] ?? "",
                hint: auth0 ? "acme.us.auth0.com" : "acme.okta.com", required: true),
        ]
        if auth0 {
            inputs.append(AdminXInput(.text("text"), name: "client_id", label: "Machine-to-Machine client ID", value: v["client_id"] ?? ""))
        }
        inputs += [
            AdminXInput(
                .text("password"), name: "secret", label: auth0 ? "Machine-to-Machine client secret" : "Okta API token", value: "",
                hint: "Used for this call only, never stored or logged.", required: true),
            AdminXInput(.text("text"), name: "connection_name", label: "Connection name", value: v["connection_name"] ?? "", hint: "Optional."),
            AdminXInput(.text("text"), name: "display_name", label: "Display name", value: v["display_name"] ?? "", hint: "Optional."),
        ]
        if auth0 {
            inputs.append(
                AdminXInput(
                    .textarea(rows: 2), name: "enable_for", label: "Enable for Auth0 applications", value: v["enable_for"] ?? "",
                    hint: "One client ID per line; optional."))
        }
        if kind == "okta-saml" {
            inputs.append(
                AdminXInput(
                    .text("text"), name: "route", label: "Routing rule", value: v["route"] ?? "", hint: "all, or domain:example.com; optional."))
        }
        view.blocks = [
            AdminXBlock(
                "settings",
                form: AdminXForm(
                    "integration-form", action: "\(a.root)/integrations/new", submit: "Create integration", cancel: "\(a.root)/integrations",
                    inputs: inputs))
        ]
        let status = error.map { Self.show($0, on: &view, formBlock: 0) } ?? .ok
        return render(view, status: status)
    }

    func createIntegration(_ context: SigilRequestContext, _ a: AdminXCaller, _ form: [String: String]) async throws -> Response {
        let created: Components.Schemas.IntegrationCreated
        do {
            var object: [String: Any] = ["kind": form["kind"] ?? "", "domain": Self.trimmed(form, "domain") ?? "", "secret": form["secret"] ?? ""]
            for name in ["client_id", "connection_name", "display_name", "route"] { if let value = Self.trimmed(form, name) { object[name] = value } }
            let clients = Self.lines(form["enable_for"])
            if !clients.isEmpty { object["enable_for"] = clients }
            created = try await api.createIntegration(.init(body: .json(try Self.body(Components.Schemas.CreateIntegration.self, object)))).created.body.json
        } catch {
            var values = form
            values["secret"] = nil
            return integrationForm(context, a, values, error)
        }
        return try await integrationPage(
            context, a, created.integration,
            flash: "Integration created: \(created.applicationName). \(created.nextStep)", warning: created.rotateCredentials)
    }

    func integration(_ context: SigilRequestContext, _ a: AdminXCaller, id: String) async throws -> Response {
        try await integrationPage(context, a, try await api.getIntegration(.init(path: .init(id: id))).ok.body.json, flash: nil, warning: nil)
    }

    func integrationPage(_ context: SigilRequestContext, _ a: AdminXCaller, _ i: Integration, flash: String?, warning: String?) async throws -> Response {
        let path = "\(a.root)/integrations/\(Self.segment(i.id))"
        var view = a.view(context, title: "\(i.kind.rawValue) · \(i.partnerDomain)", current: .integrations, breadcrumbs: integrationCrumbs(a))
        view.flash = flash
        if let warning { view.blocks.append(AdminXBlock("rotate-credentials", heading: "Now rotate the credentials", paragraphs: [warning], secret: true)) }
        var fields = [
            AdminXField("integration-id", "Integration ID", i.id, copy: true), AdminXField("partner", "Partner", i.partnerDomain),
            AdminXField("application", "Sigil application", i.applicationId, href: "\(a.root)/applications/\(Self.segment(i.applicationId))"),
        ]
        for key in i.values.additionalProperties.keys.sorted() {
            fields.append(AdminXField("value-\(key)", key, i.values.additionalProperties[key] ?? "", copy: true))
        }
        for object in i.partnerObjects {
            fields.append(AdminXField("partner-\(object.id)", "Partner \(object.kind)", "\(object.name ?? object.id) (\(object.id))"))
        }
        view.blocks.append(AdminXBlock("facts", heading: "Details", fields: fields))
        if let check = i.lastCheck {
            view.blocks.append(
                AdminXBlock(
                    "last-check",
                    table: AdminXTable(
                        "findings-table", caption: "Last check: \(check.status.rawValue), \(Self.date(check.checkedAt))",
                        columns: ["Side", "Finding", "Repairable"],
                        rows: check.findings.map { f in
                            AdminXRow(cells: [AdminXCell(f.side.rawValue), AdminXCell(f.message), AdminXCell(f.repairable ? "yes" : "no")])
                        }, empty: "Nothing wrong was found.")))
        }
        var inputs = [AdminXInput]()
        if i.kind.rawValue.hasPrefix("auth0") { inputs.append(AdminXInput(.text("text"), name: "client_id", label: "Machine-to-Machine client ID")) }
        inputs += [
            AdminXInput(
                .text("password"), name: "secret", label: i.kind.rawValue.hasPrefix("auth0") ? "Client secret" : "Okta API token",
                hint: "Used for this check only, never stored.", required: true),
            AdminXInput(.checkbox, name: "repair", label: "Repair", choices: [("on", "Repair what can be repaired", nil)]),
        ]
        view.blocks.append(
            AdminXBlock(
                "doctor", heading: "Check against the partner",
                paragraphs: ["Reads both sides and reports drift (a changed certificate, a disabled connection, a missing application)."],
                form: AdminXForm("doctor-form", action: "\(path)/doctor", submit: "Check now", inputs: inputs)))
        return render(view)
    }

    func checkIntegration(_ context: SigilRequestContext, _ a: AdminXCaller, _ form: [String: String], id: String) async throws -> Response {
        var object: [String: Any] = ["secret": form["secret"] ?? "", "repair": form["repair"] == "on"]
        if let clientID = Self.trimmed(form, "client_id") { object["client_id"] = clientID }
        let report = try await api.checkIntegration(
            .init(path: .init(id: id), body: .json(try Self.body(Components.Schemas.IntegrationDoctorRequest.self, object)))
        ).ok.body.json
        let repaired = report.repaired.isEmpty ? "" : " Repaired: \(report.repaired.joined(separator: ", "))."
        return try await integrationPage(context, a, report.integration, flash: "Checked.\(repaired)", warning: report.rotateCredentials)
    }

    // MARK: IDV policy

    func idvPolicy(
        _ context: SigilRequestContext, _ a: AdminXCaller, _ posted: [String: String]?, _ error: (any Error)?, flash: String?,
        cscaForm: [String: String]? = nil, cscaError: (any Error)? = nil
    ) async throws -> Response {
        let policy = try await api.getIdvPolicy(.init()).ok.body.json
        let v =
            posted ?? [
                "countries": (policy.countries ?? []).joined(separator: " "), "minimum_age": policy.minimumAge.map(String.init) ?? "",
                "require_chip": policy.requireChip == true ? "on" : "", "require_face_match": policy.requireFaceMatch == false ? "" : "on",
                "require_liveness": policy.requireLiveness == false ? "" : "on", "weakest_name_match": policy.weakestNameMatch?.rawValue ?? "fuzzy",
                "review_reasons": (policy.reviewReasons ?? []).joined(separator: "\n"),
                "face_match_threshold": policy.faceMatchThreshold.map { String($0) } ?? "0.6",
                "retention_days": policy.retentionDays.map(String.init) ?? "30",
            ]
        let documents = posted.map { Set(Self.checked($0, "document_types")) } ?? Set((policy.documentTypes ?? []).map(\.rawValue))
        var view = a.view(context, title: "Identity verification policy", current: .idv)
        view.intro = "What an identity verification accepts and how long Sigil keeps its evidence (docs/idv.md)."
        view.flash = flash
        view.blocks = [
            AdminXBlock(
                "policy",
                form: AdminXForm(
                    "idv-policy-form", action: "\(a.root)/idv/policy", submit: "Save policy",
                    inputs: [
                        AdminXInput(
                            .checkboxes, name: "document_types", label: "Accepted documents",
                            choices: [
                                ("passport", "Passport", nil), ("idcard", "Identity card", nil), ("driving_permit", "Driving licence", nil),
                                ("residence_permit", "Residence permit", nil),
                            ], selected: documents),
                        AdminXInput(
                            .text("text"), name: "countries", label: "Issuing countries", value: v["countries"] ?? "",
                            hint: "MRZ codes separated by spaces (D UTO USA); empty accepts any."),
                        AdminXInput(.text("text"), name: "minimum_age", label: "Minimum age", value: v["minimum_age"] ?? "", hint: "Empty: no minimum."),
                        AdminXInput(
                            .checkbox, name: "require_chip", label: "ePassport chip",
                            choices: [("on", "Require a chip whose passive authentication passes", nil)], selected: v["require_chip"] == "on" ? ["on"] : []),
                        AdminXInput(
                            .checkbox, name: "require_face_match", label: "Face match", choices: [("on", "Require the selfie to match the document", nil)],
                            selected: v["require_face_match"] == "on" ? ["on"] : []),
                        AdminXInput(
                            .checkbox, name: "require_liveness", label: "Liveness", choices: [("on", "Require the active liveness challenge", nil)],
                            selected: v["require_liveness"] == "on" ? ["on"] : []),
                        AdminXInput(
                            .select, name: "weakest_name_match", label: "Weakest name match accepted",
                            choices: ["exact", "normalised", "transliterated", "reordered", "partial", "fuzzy"].map { ($0, $0, nil) },
                            selected: [v["weakest_name_match"] ?? "fuzzy"]),
                        AdminXInput(
                            .textarea(rows: 2), name: "review_reasons", label: "Reasons for REVIEW instead of FAILED", value: v["review_reasons"] ?? "",
                            hint: "One failure reason per line; optional."),
                        AdminXInput(
                            .text("text"), name: "face_match_threshold", label: "Face match threshold", value: v["face_match_threshold"] ?? "",
                            hint: "Descriptor distance at or under which faces match (0.2 to 1.2; default 0.6)."),
                        AdminXInput(
                            .text("text"), name: "retention_days", label: "Retention (days)", value: v["retention_days"] ?? "",
                            hint: "Evidence and verified identities are deleted this many days after the decision; 0 deletes evidence at once."),
                    ]))
        ]
        let cscas = try await api.listIdvCscas(.init()).ok.body.json.items
        view.blocks.append(
            AdminXBlock(
                "cscas",
                table: AdminXTable(
                    "cscas-table", caption: "Trusted document signers (CSCAs) for ePassport chips",
                    columns: ["Subject", "SHA-256", "Imported"],
                    rows: cscas.map { c in
                        AdminXRow(cells: [
                            AdminXCell(c.subject, header: true), AdminXCell(String(c.id.prefix(16)) + "…", mono: true), AdminXCell(Self.date(c.createdAt)),
                        ])
                    }, empty: "None imported: chips cannot pass passive authentication until a country's CSCA is here."),
                buttons: cscas.prefix(20).map { c in
                    AdminXButton(
                        buttonID: "delete-csca-\(c.id.prefix(12))", buttonAction: "\(a.root)/idv/cscas/\(Self.segment(c.id))/delete",
                        buttonLabel: "Remove \(c.subject)", buttonDanger: true)
                }))
        view.blocks.append(
            AdminXBlock(
                "import-cscas", heading: "Import CSCA certificates",
                form: AdminXForm(
                    "csca-form", action: "\(a.root)/idv/cscas", submit: "Import",
                    inputs: [
                        AdminXInput(
                            .textarea(rows: 5), name: "pem", label: "Certificates (PEM)", value: cscaForm?["pem"] ?? "",
                            hint: "One or more CERTIFICATE blocks. A whole ICAO master list: sigil idv import-cscas on the server.")
                    ])))
        var status = error.map { Self.show($0, on: &view, formBlock: 0) } ?? .ok
        if let cscaError, let index = view.blocks.firstIndex(where: { $0.blockID == "import-cscas" }) {
            status = Self.show(cscaError, on: &view, formBlock: index)
        }
        return render(view, status: status)
    }

    func saveIDVPolicy(_ context: SigilRequestContext, _ a: AdminXCaller, _ form: [String: String]) async throws -> Response {
        do {
            var object: [String: Any] = [
                "document_types": Self.checked(form, "document_types"),
                "countries": (form["countries"] ?? "").split(whereSeparator: { $0 == " " || $0 == "," || $0.isNewline }).map { $0.uppercased() },
                "require_chip": form["require_chip"] == "on", "require_face_match": form["require_face_match"] == "on",
                "require_liveness": form["require_liveness"] == "on", "weakest_name_match": form["weakest_name_match"] ?? "fuzzy",
                "review_reasons": Self.lines(form["review_reasons"]),
            ]
            func number(_ name: String, _ parse: (String) -> Any?) throws {
                guard let text = Self.trimmed(form, name) else { return }
                guard let value = parse(text) else { throw Problem.invalidType(name, "\(name) must be a number") }
                object[name] = value
            }
            try number("minimum_age") { Int($0) }
            try number("face_match_threshold") { Double($0) }
            try number("retention_days") { Int($0) }
            _ = try await api.putIdvPolicy(.init(body: .json(try Self.body(Components.Schemas.IdvPolicy.self, object)))).ok
        } catch {
            return try await idvPolicy(context, a, form, error, flash: nil)
        }
        return try await idvPolicy(context, a, nil, nil, flash: "Policy saved.")
    }
}
