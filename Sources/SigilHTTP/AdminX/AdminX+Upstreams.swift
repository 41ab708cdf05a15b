import Foundation
import HTTPTypes
import Hummingbird
import SigilAdminAPI
import SigilServices

/// Upstream IdPs (Sigil as a SAML service provider or OIDC relying party): the list, adding one
/// ("Enter Metadata URL → Import" for SAML, the issuer and client for OIDC), a connection's page
/// with what to give the IdP, its settings, a metadata refresh, recent sign-in traces, deletion.
extension AdminXRoutes {
    typealias Upstream = Components.Schemas.Upstream

    func registerUpstreams(on router: Router<SigilRequestContext>) {
        get(router, "/adminx/upstreams") { r, c, a in try await self.upstreams(r, c, a) }
        get(router, "/adminx/upstreams/new") { _, c, a in self.upstreamForm(c, a, [:], nil) }
        post(router, "/adminx/upstreams/new") { _, c, a, f in try await self.createUpstream(c, a, f) }
        get(router, "/adminx/upstreams/:name") { r, c, a in try await self.upstream(r, c, a, name: try c.parameters.require("name")) }
        post(router, "/adminx/upstreams/:name") { _, c, a, f in try await self.updateUpstream(c, a, f, name: try c.parameters.require("name")) }
        post(router, "/adminx/upstreams/:name/refresh") { _, c, a, _ in try await self.refreshUpstream(c, a, name: try c.parameters.require("name")) }
        get(router, "/adminx/upstreams/:name/delete") { _, c, a in try await self.confirmDeleteUpstream(c, a, name: try c.parameters.require("name")) }
        post(router, "/adminx/upstreams/:name/delete") { _, c, a, _ in try await self.deleteUpstream(c, a, name: try c.parameters.require("name")) }
    }

    func upstreamCrumbs(_ a: AdminXCaller) -> [AdminXLink] { [AdminXLink("Upstream IdPs", a.root + "/upstreams")] }

    func upstreams(_ request: Request, _ context: SigilRequestContext, _ a: AdminXCaller) async throws -> Response {
        let items = try await api.listUpstreams(.init()).ok.body.json.items
        var view = a.view(context, title: "Upstream IdPs", current: .upstreams)
        view.intro =
            "Identity providers people can sign in with through Sigil (SAML 2.0 or OpenID Connect), offered on the login page or routed by email domain."
        if request.uri.queryParameters.get("deleted") != nil { view.flash = "Connection deleted." }
        view.blocks = [
            AdminXBlock("actions", links: [AdminXLink("Add an identity provider", "\(a.root)/upstreams/new", id: "add-upstream", primary: true)]),
            AdminXBlock(
                "list",
                table: AdminXTable(
                    "upstreams", caption: "Upstream identity providers", columns: ["Name", "Protocol", "Identity provider", "Status"],
                    rows: items.map { (u: Upstream) -> AdminXRow in
                        let problem = u.metadataRefreshError != nil
                        return AdminXRow(cells: [
                            AdminXCell(u.displayName, href: "\(a.root)/upstreams/\(Self.segment(u.name))", header: true),
                            AdminXCell(u._protocol == .oidc ? "OpenID Connect" : "SAML 2.0"),
                            AdminXCell(u.issuer ?? u.idpEntityId ?? "", mono: true),
                            AdminXCell(
                                u.enabled == false ? "disabled" : problem ? "metadata error" : "enabled",
                                badge: u.enabled == false ? "muted" : problem ? "bad" : "ok"),
                        ])
                    }, empty: "No upstream identity providers. Add one to let people sign in with their organisation's account.")),
        ]
        return render(view)
    }

    func upstreamInputs(_ v: [String: String]) -> [AdminXInput] {
        [
            AdminXInput(
                .text("text"), name: "name", label: "Name", value: v["name"] ?? "",
                hint: "Lowercase letters, digits and hyphens; part of the URLs the IdP is given.", required: true),
            AdminXInput(.text("text"), name: "display_name", label: "Button label", value: v["display_name"] ?? "", hint: "Shown on the login page."),
            AdminXInput(
                .radios, name: "protocol", label: "Protocol",
                choices: [("saml", "SAML 2.0", "Import the IdP's metadata URL."), ("oidc", "OpenID Connect", "Sigil discovers the issuer.")],
                selected: [v["protocol"] ?? "saml"]),
            AdminXInput(
                .text("url"), name: "metadata_url", label: "Metadata URL (SAML)", value: v["metadata_url"] ?? "",
                hint: "Enter the IdP's metadata URL: Sigil imports it now and refreshes it daily."),
            AdminXInput(.fileInto("f-metadata"), name: "metadata_file", label: "Or its metadata file (SAML)", hint: "Fills the box below."),
            AdminXInput(
                .textarea(rows: 3), name: "metadata", label: "Or its metadata XML (SAML)", value: v["metadata"] ?? "",
                hint: "Used when no metadata URL is given; not refreshed."),
            AdminXInput(.text("url"), name: "issuer", label: "Issuer (OpenID Connect)", value: v["issuer"] ?? ""),
            AdminXInput(.text("text"), name: "client_id", label: "Client ID (OpenID Connect)", value: v["client_id"] ?? ""),
            AdminXInput(
                .text("password"), name: "client_secret", label: "Client secret (OpenID Connect)", value: "",
                hint: "Stored encrypted; never shown again."),
            AdminXInput(
                .textarea(rows: 2), name: "email_domains", label: "Email domains", value: v["email_domains"] ?? "",
                hint: "One per line: people whose email is at these domains are sent to this IdP."),
            AdminXInput(
                .checkbox, name: "provision_users", label: "Provisioning",
                choices: [("on", "Create Sigil users on their first sign-in (just in time)", nil)],
                selected: (v["provision_users"] ?? (v.isEmpty ? "on" : "")) == "on" ? ["on"] : []),
            AdminXInput(
                .checkbox, name: "step_up", label: "Step-up",
                choices: [("on", "Also ask for the user's passkey or Sigil authenticator after the IdP", nil)],
                selected: v["step_up"] == "on" ? ["on"] : []),
        ]
    }

    func upstreamForm(_ context: SigilRequestContext, _ a: AdminXCaller, _ values: [String: String], _ error: (any Error)?) -> Response {
        var view = a.view(context, title: "Add an identity provider", current: .upstreams, breadcrumbs: upstreamCrumbs(a))
        view.blocks = [
            AdminXBlock(
                "settings",
                form: AdminXForm(
                    "upstream-form", action: "\(a.root)/upstreams/new", submit: "Add identity provider", cancel: "\(a.root)/upstreams",
                    inputs: upstreamInputs(values)))
        ]
        let status = error.map { Self.show($0, on: &view, formBlock: 0) } ?? .ok
        return render(view, status: status)
    }

    func createUpstream(_ context: SigilRequestContext, _ a: AdminXCaller, _ form: [String: String]) async throws -> Response {
        let created: Upstream
        do {
            let oidc = form["protocol"] == "oidc"
            var object: [String: Any] = [
                "name": Self.trimmed(form, "name") ?? "", "protocol": oidc ? "oidc" : "saml", "provision_users": form["provision_users"] == "on",
                "step_up": form["step_up"] == "on",
            ]
            if let display = Self.trimmed(form, "display_name") { object["display_name"] = display }
            let domains = Self.lines(form["email_domains"])
            if !domains.isEmpty { object["email_domains"] = domains }
            if oidc {
                for name in ["issuer", "client_id", "client_secret"] { if let value = Self.trimmed(form, name) { object[name] = value } }
            } else if let url = Self.trimmed(form, "metadata_url") {
                object["metadata_url"] = url
            } else if let xml = Self.trimmed(form, "metadata") {
                object["metadata"] = xml
            } else {
                object["metadata_url"] = ""
            }
            created = try await api.createUpstream(.init(body: .json(try Self.body(Components.Schemas.CreateUpstream.self, object)))).created.body.json
        } catch {
            var values = form
            values["client_secret"] = nil
            return upstreamForm(context, a, values, error)
        }
        return try await upstreamPage(context, a, created, flash: "Identity provider added.", form: nil, error: nil)
    }

    func upstream(_ request: Request, _ context: SigilRequestContext, _ a: AdminXCaller, name: String) async throws -> Response {
        let found = try await api.getUpstream(.init(path: .init(name: name))).ok.body.json
        let flash: String? = request.uri.queryParameters.get("refreshed") != nil ? "Metadata refreshed." : nil
        return try await upstreamPage(context, a, found, flash: flash, form: nil, error: nil)
    }

    func upstreamPage(
        _ context: SigilRequestContext, _ a: AdminXCaller, _ u: Upstream, flash: String?, form: [String: String]?, error: (any Error)?
    ) async throws -> Response {
        let name = u.name
        let path = "\(a.root)/upstreams/\(Self.segment(name))"
        var view = a.view(context, title: u.displayName, current: .upstreams, breadcrumbs: upstreamCrumbs(a))
        view.flash = flash
        if let problem = u.metadataRefreshError {
            view.problem = AdminXProblem(title: "The identity provider's metadata could not be refreshed", detail: problem)
        }
        if u._protocol == .oidc {
            view.blocks.append(
                AdminXBlock(
                    "give", heading: "Give the identity provider",
                    fields: [
                        AdminXField("redirect-uri", "Redirect URI", u.redirectUri ?? "", copy: true),
                        AdminXField("post-logout-redirect-uri", "Post-logout redirect URI", u.postLogoutRedirectUri ?? "", copy: true),
                        AdminXField("backchannel-logout-uri", "Back-channel logout URI", u.backchannelLogoutUri ?? "", copy: true),
                        AdminXField("rp-jwks-uri", "Sigil's JWKS URL (private_key_jwt)", u.jwksUri ?? "", copy: true),
                    ]))
            view.blocks.append(
                AdminXBlock(
                    "idp", heading: "Identity provider",
                    fields: [
                        AdminXField("idp-issuer", "Issuer", u.issuer ?? ""), AdminXField("idp-client-id", "Client ID", u.clientId ?? ""),
                        AdminXField("idp-auth-method", "Client authentication", u.authMethod?.rawValue ?? ""),
                        AdminXField("idp-fetched", "Discovery read", Self.date(u.metadataFetchedAt), mono: false),
                    ]))
        } else {
            view.blocks.append(
                AdminXBlock(
                    "give", heading: "Give the identity provider",
                    fields: [
                        AdminXField("sp-entity-id", "SP entity ID (audience)", u.spEntityId ?? "", copy: true),
                        AdminXField("acs-url", "ACS URL", u.acsUrl ?? "", copy: true),
                        AdminXField("sp-metadata-url", "SP metadata URL", u.spMetadataUrl ?? "", copy: true),
                    ]))
            var fields = [
                AdminXField("idp-entity-id", "Entity ID", u.idpEntityId ?? ""), AdminXField("idp-sso-url", "SSO URL", u.ssoUrl ?? ""),
                AdminXField("idp-metadata-url", "Metadata URL", u.metadataUrl ?? "—"),
                AdminXField("idp-fetched", "Metadata read", Self.date(u.metadataFetchedAt), mono: false),
                AdminXField("idp-valid-until", "Metadata valid until", Self.date(u.metadataValidUntil), mono: false),
            ]
            for (index, certificate) in (u.signingCertificates ?? []).enumerated() {
                fields.append(
                    AdminXField(
                        "idp-certificate-\(index)", "Signing certificate SHA-256", certificate.sha256, hint: "expires \(Self.date(certificate.notAfter))"))
            }
            view.blocks.append(
                AdminXBlock(
                    "idp", heading: "Identity provider", fields: fields,
                    buttons: u.metadataUrl == nil
                        ? [] : [AdminXButton(buttonID: "refresh-metadata", buttonAction: "\(path)/refresh", buttonLabel: "Refresh metadata now")]))
        }
        let v =
            form ?? [
                "display_name": u.displayName, "email_domains": u.emailDomains.joined(separator: "\n"),
                "provision_users": u.provisionUsers == true ? "on" : "", "step_up": u.stepUp == true ? "on" : "",
                "enabled": u.enabled == false ? "" : "on", "allow_unsolicited": u.allowUnsolicited == true ? "on" : "",
            ]
        var inputs = [
            AdminXInput(.text("text"), name: "display_name", label: "Button label", value: v["display_name"] ?? ""),
            AdminXInput(
                .checkbox, name: "enabled", label: "Status", choices: [("on", "Enabled: offered and accepted", nil)],
                selected: v["enabled"] == "on" ? ["on"] : []),
            AdminXInput(.textarea(rows: 2), name: "email_domains", label: "Email domains", value: v["email_domains"] ?? "", hint: "One per line."),
            AdminXInput(
                .checkbox, name: "provision_users", label: "Provisioning", choices: [("on", "Create Sigil users on their first sign-in", nil)],
                selected: v["provision_users"] == "on" ? ["on"] : []),
            AdminXInput(
                .checkbox, name: "step_up", label: "Step-up", choices: [("on", "Also ask for the user's passkey or Sigil authenticator", nil)],
                selected: v["step_up"] == "on" ? ["on"] : []),
        ]
        if u._protocol != .oidc {
            inputs.append(
                AdminXInput(
                    .checkbox, name: "allow_unsolicited", label: "IdP-initiated sign-in",
                    choices: [("on", "Accept unsolicited responses (IdP-initiated; weaker against replay and CSRF)", nil)],
                    selected: v["allow_unsolicited"] == "on" ? ["on"] : []))
        }
        view.blocks.append(
            AdminXBlock("settings", heading: "Settings", form: AdminXForm("upstream-settings", action: path, submit: "Save changes", inputs: inputs)))
        let traces = (try? await api.listUpstreamTraces(.init(path: .init(name: name), query: .init(limit: 10))).ok.body.json.items) ?? []
        view.blocks.append(
            AdminXBlock(
                "traces",
                table: AdminXTable(
                    "traces-table", caption: "Recent sign-ins through this IdP", columns: ["When", "Outcome", "Reason"],
                    rows: traces.map { t in
                        AdminXRow(cells: [
                            AdminXCell(Self.date(t.createdAt)), AdminXCell(t.outcome.rawValue, badge: t.outcome == .accepted ? "ok" : "bad"),
                            AdminXCell(t.reason ?? ""),
                        ])
                    }, empty: "No sign-ins yet.")))
        view.blocks.append(
            AdminXBlock(
                "delete", heading: "Delete this connection", paragraphs: ["People can no longer sign in through it."], danger: true,
                links: [AdminXLink("Delete connection…", "\(path)/delete", id: "delete-upstream")]))
        var status = HTTPResponse.Status.ok
        if let error, let index = view.blocks.firstIndex(where: { $0.blockID == "settings" }) { status = Self.show(error, on: &view, formBlock: index) }
        return render(view, status: status)
    }

    func updateUpstream(_ context: SigilRequestContext, _ a: AdminXCaller, _ form: [String: String], name: String) async throws -> Response {
        let current = try await api.getUpstream(.init(path: .init(name: name))).ok.body.json
        do {
            var object: [String: Any] = [
                "enabled": form["enabled"] == "on", "email_domains": Self.lines(form["email_domains"]), "provision_users": form["provision_users"] == "on",
                "step_up": form["step_up"] == "on",
            ]
            if let display = Self.trimmed(form, "display_name") { object["display_name"] = display }
            if current._protocol != .oidc { object["allow_unsolicited"] = form["allow_unsolicited"] == "on" }
            let patch = try Self.body(Components.Schemas.PatchUpstream.self, object)
            let updated = try await api.updateUpstream(.init(path: .init(name: name), body: .json(patch))).ok.body.json
            return try await upstreamPage(context, a, updated, flash: "Changes saved.", form: nil, error: nil)
        } catch {
            return try await upstreamPage(context, a, current, flash: nil, form: form, error: error)
        }
    }

    func refreshUpstream(_ context: SigilRequestContext, _ a: AdminXCaller, name: String) async throws -> Response {
        _ = try await api.refreshUpstream(.init(path: .init(name: name))).ok
        return Web.redirect("\(a.root)/upstreams/\(Self.segment(name))?refreshed=1")
    }

    func confirmDeleteUpstream(_ context: SigilRequestContext, _ a: AdminXCaller, name: String) async throws -> Response {
        let u = try await api.getUpstream(.init(path: .init(name: name))).ok.body.json
        let path = "\(a.root)/upstreams/\(Self.segment(name))"
        var view = a.view(context, title: "Delete \(u.displayName)?", current: .upstreams, breadcrumbs: upstreamCrumbs(a))
        view.blocks = [
            AdminXBlock(
                "confirm", paragraphs: ["People who sign in through \(u.displayName) can no longer do so. Their Sigil users stay."],
                danger: true,
                form: AdminXForm("delete-form", action: "\(path)/delete", submit: "Delete connection", danger: true, cancel: path, inputs: []))
        ]
        return render(view)
    }

    func deleteUpstream(_ context: SigilRequestContext, _ a: AdminXCaller, name: String) async throws -> Response {
        _ = try await api.deleteUpstream(.init(path: .init(name: name))).noContent
        return Web.redirect("\(a.root)/upstreams?deleted=1")
    }
}
