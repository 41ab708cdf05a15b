import Foundation
import HTTPTypes
import Hummingbird
import SigilAdminAPI
import SigilServices

/// Applications: the list, Add Application (OpenID Connect, SAML, pre-built integrations), an
/// application's settings, its client credentials (shown once) and secret rotation, deletion.
extension AdminXRoutes {
    typealias App = Components.Schemas.Application

    func registerApplications(on router: Router<SigilRequestContext>) {
        get(router, "/adminx/applications") { r, c, a in try await self.applications(r, c, a) }
        get(router, "/adminx/applications/new") { r, c, a in self.newApplication(c, a) }
        get(router, "/adminx/applications/new/oidc") { _, c, a in self.oidcForm(c, a, OIDCForm.defaults, nil) }
        post(router, "/adminx/applications/new/oidc") { _, c, a, f in try await self.createOIDC(c, a, f) }
        get(router, "/adminx/applications/new/saml") { _, c, a in self.samlForm(c, a, SAMLForm(), nil) }
        post(router, "/adminx/applications/new/saml") { _, c, a, f in try await self.createSAML(c, a, f) }
        get(router, "/adminx/applications/:id") { _, c, a in try await self.application(c, a, id: try c.parameters.require("id")) }
        post(router, "/adminx/applications/:id") { _, c, a, f in try await self.updateApplication(c, a, f, id: try c.parameters.require("id")) }
        post(router, "/adminx/applications/:id/secret") { _, c, a, f in try await self.rotateSecret(c, a, f, id: try c.parameters.require("id")) }
        get(router, "/adminx/applications/:id/delete") { _, c, a in try await self.confirmDeleteApplication(c, a, id: try c.parameters.require("id")) }
        post(router, "/adminx/applications/:id/delete") { _, c, a, f in try await self.deleteApplication(c, a, f, id: try c.parameters.require("id")) }
    }

    func applicationCrumbs(_ a: AdminXCaller) -> [AdminXLink] { [AdminXLink("Applications", a.root + "/applications")] }

    // MARK: list

    func applications(_ request: Request, _ context: SigilRequestContext, _ a: AdminXCaller) async throws -> Response {
        let cursor = request.uri.queryParameters.get("cursor").map { String($0) }
        let page = try await api.listApplications(.init(query: .init(limit: 25, cursor: cursor))).ok.body.json
        var view = a.view(context, title: "Applications", current: .applications)
        view.intro = "The OpenID Connect clients and SAML service providers that sign people in with Sigil."
        if request.uri.queryParameters.get("deleted") != nil { view.flash = "Application deleted." }
        let rows = page.items.map { (app: App) -> AdminXRow in
            AdminXRow(cells: [
                AdminXCell(app.name ?? "", href: "\(a.root)/applications/\(Self.segment(app.id ?? ""))", header: true),
                AdminXCell(app._protocol == .saml ? "SAML 2.0" : "OpenID Connect"),
                AdminXCell(app.oidc?.clientId ?? app.saml?.entityId ?? "", mono: true),
                AdminXCell(Self.date(app.createdAt)),
            ])
        }
        view.blocks = [
            AdminXBlock("actions", links: [AdminXLink("Add Application", "\(a.root)/applications/new", id: "add-application", primary: true)]),
            AdminXBlock(
                "list",
                table: AdminXTable(
                    "applications", caption: "Applications", columns: ["Name", "Protocol", "Client ID or entity ID", "Created"], rows: rows,
                    empty: "No applications yet. Add one to let people sign in to it with Sigil.",
                    first: cursor == nil ? nil : "\(a.root)/applications",
                    next: page.nextCursor.map { "\(a.root)/applications?cursor=\(Self.queryEncode($0))" })),
        ]
        return render(view)
    }

    func newApplication(_ context: SigilRequestContext, _ a: AdminXCaller) -> Response {
        var view = a.view(context, title: "Add Application", current: .applications, breadcrumbs: applicationCrumbs(a))
        view.blocks = [
            AdminXBlock(
                "kinds", heading: "What signs in with Sigil?",
                links: [
                    AdminXLink(
                        "OIDC", "\(a.root)/applications/new/oidc", id: "add-oidc",
                        text: "An OpenID Connect relying party: Auth0, Okta, Descope, or your own app. You get a client ID and secret."),
                    AdminXLink(
                        "SAML", "\(a.root)/applications/new/saml", id: "add-saml",
                        text: "A SAML 2.0 service provider: import its metadata URL or file, or enter its entity ID and ACS URL."),
                ]),
            AdminXBlock(
                "prebuilt", heading: "Pre-built integrations",
                paragraphs: [
                    "Sigil sets up the partner's side too, with one set of their admin credentials used once and never stored. "
                        + "Descope and other flow builders use the connector API (docs/connectors.md)."
                ],
                links: Self.integrationKinds.map { kind in
                    AdminXLink(kind.label, "\(a.root)/integrations/new?kind=\(kind.value)", id: "prebuilt-\(kind.value)", text: kind.hint)
                }),
        ]
        return render(view)
    }

    // MARK: OpenID Connect

    /// The OIDC form's values, from defaults, an application, or a posted form (so a refused form
    /// comes back as it was typed).
    struct OIDCForm {
        var name = ""
        var clientType = "confidential"
        var authMethod = "client_secret_basic"
        var grantTypes: Set<String> = ["authorization_code", "refresh_token"]
        var redirectURIs = ""
        var postLogoutRedirectURIs = ""
        var scopes: Set<String> = ["openid", "email", "profile"]
        var alg = "RS256"
        var requirePKCE = true
        var requirePAR = false
        var consent = "implicit"
        var backchannelLogoutURI = ""
        var jwksURI = ""
        var version: Int?

        static let defaults = OIDCForm()

        init() {}

        init(posted f: [String: String]) {
            name = f["name"] ?? ""
            clientType = f["client_type"] ?? "confidential"
            authMethod = f["token_endpoint_auth_method"] ?? "client_secret_basic"
            grantTypes = Set(AdminXRoutes.checked(f, "grant_types"))
            redirectURIs = f["redirect_uris"] ?? ""
            postLogoutRedirectURIs = f["post_logout_redirect_uris"] ?? ""
            scopes = Set(AdminXRoutes.checked(f, "allowed_scopes"))
            alg = f["id_token_signed_response_alg"] ?? "RS256"
            requirePKCE = f["require_pkce"] == "on"
            requirePAR = f["require_par"] == "on"
            consent = f["consent"] ?? "implicit"
            backchannelLogoutURI = f["backchannel_logout_uri"] ?? ""
            jwksURI = f["jwks_uri"] ?? ""
            version = f["version"].flatMap(Int.init)
        }

        init(app: App) {
            let o = app.oidc
            name = app.name ?? ""
            authMethod = o?.tokenEndpointAuthMethod?.rawValue ?? "client_secret_basic"
            clientType = authMethod == "none" ? "public" : "confidential"
            grantTypes = Set(o?.grantTypes ?? [])
            redirectURIs = (o?.redirectUris ?? []).joined(separator: "\n")
            postLogoutRedirectURIs = (o?.postLogoutRedirectUris ?? []).joined(separator: "\n")
            scopes = Set(o?.allowedScopes ?? [])
            alg = o?.idTokenSignedResponseAlg?.rawValue ?? "RS256"
            requirePKCE = o?.requirePkce ?? true
            requirePAR = o?.requirePar ?? false
            consent = o?.consent?.rawValue ?? "implicit"
            backchannelLogoutURI = o?.backchannelLogoutUri ?? ""
            jwksURI = o?.jwksUri ?? ""
            version = app.version
        }

        /// The admin API body: every field the form shows.
        func body(creating: Bool) -> [String: Any] {
            var b: [String: Any] = [
                "name": name.trimmingCharacters(in: .whitespaces),
                "grant_types": grantTypes.sorted(), "redirect_uris": AdminXRoutes.lines(redirectURIs),
                "post_logout_redirect_uris": AdminXRoutes.lines(postLogoutRedirectURIs), "allowed_scopes": scopes.sorted(),
                "id_token_signed_response_alg": alg, "require_pkce": requirePKCE, "require_par": requirePAR, "consent": consent,
                "backchannel_logout_uri": backchannelLogoutURI.trimmingCharacters(in: .whitespaces),
            ]
            if creating {
                b["protocol"] = "oidc"
                if clientType == "public" {
                    b["public"] = true
                    b["token_endpoint_auth_method"] = "none"
                } else {
                    b["token_endpoint_auth_method"] = authMethod
                }
                if b["backchannel_logout_uri"] as? String == "" { b["backchannel_logout_uri"] = nil }
            }
            let jwks = jwksURI.trimmingCharacters(in: .whitespaces)
            if !jwks.isEmpty { b["jwks_uri"] = jwks }
            return b
        }

        func inputs(creating: Bool) -> [AdminXInput] {
            var inputs: [AdminXInput] = [
                AdminXInput(.text("text"), name: "name", label: "Name", value: name, hint: "Shown to people when they sign in.", required: true)
            ]
            if creating {
                inputs.append(
                    AdminXInput(
                        .radios, name: "client_type", label: "Client type",
                        choices: [
                            ("confidential", "Confidential", "A server that keeps a client secret (Auth0, Okta, Descope, a web back end)."),
                            ("public", "Public", "A browser or mobile app that cannot keep a secret: no secret, PKCE required."),
                        ], selected: [clientType]))
                inputs.append(
                    AdminXInput(
                        .select, name: "token_endpoint_auth_method", label: "Client authentication (confidential clients)",
                        hint: "How the client proves itself at the token endpoint.",
                        choices: [
                            ("client_secret_basic", "client_secret_basic (HTTP Basic)", nil), ("client_secret_post", "client_secret_post (form)", nil),
                            ("private_key_jwt", "private_key_jwt (signed assertion; give the JWKS URL)", nil),
                        ], selected: [authMethod]))
            }
            inputs += [
                AdminXInput(
                    .checkboxes, name: "grant_types", label: "Grant types",
                    choices: [
                        ("authorization_code", "Authorization code", "People sign in through the browser."),
                        ("refresh_token", "Refresh token", nil), ("client_credentials", "Client credentials", "Machine-to-machine."),
                        ("urn:openid:params:grant-type:ciba", "CIBA", "Back-channel sign-in approved on the Sigil authenticator."),
                    ], selected: grantTypes),
                AdminXInput(
                    .textarea(rows: 3), name: "redirect_uris", label: "Redirect URIs", value: redirectURIs,
                    hint: "One per line. Not known yet? Enter a placeholder such as https://example.com/callback and replace it later."),
                AdminXInput(
                    .textarea(rows: 2), name: "post_logout_redirect_uris", label: "Post-logout redirect URIs", value: postLogoutRedirectURIs,
                    hint: "One per line; optional."),
                AdminXInput(
                    .checkboxes, name: "allowed_scopes", label: "Scopes",
                    choices: [
                        ("openid", "openid", nil), ("email", "email", nil), ("profile", "profile", nil),
                        ("identity_assurance", "identity_assurance", "Verified claims from identity verification."),
                        ("offline_access", "offline_access", nil),
                    ], selected: scopes),
                AdminXInput(
                    .select, name: "id_token_signed_response_alg", label: "Signing algorithm",
                    choices: [("RS256", "RS256 (default)", nil), ("ES256", "ES256", nil), ("EdDSA", "EdDSA", nil)], selected: [alg]),
                AdminXInput(
                    .checkbox, name: "require_pkce", label: "PKCE",
                    choices: [("on", "Require PKCE (S256)", "Recommended for every client (RFC 9700).")], selected: requirePKCE ? ["on"] : []),
                AdminXInput(
                    .checkbox, name: "require_par", label: "Pushed authorization requests",
                    choices: [("on", "Require PAR", "Authorization requests must be pushed first (RFC 9126).")], selected: requirePAR ? ["on"] : []),
                AdminXInput(
                    .radios, name: "consent", label: "Consent",
                    choices: [
                        ("implicit", "Implicit", "First-party: no consent page."),
                        ("required", "Required", "People approve the requested scopes once."),
                    ], selected: [consent]),
                AdminXInput(.text("url"), name: "backchannel_logout_uri", label: "Back-channel logout URI", value: backchannelLogoutURI, hint: "Optional."),
                AdminXInput(.text("url"), name: "jwks_uri", label: "JWKS URL", value: jwksURI, hint: "Only for private_key_jwt."),
            ]
            if let version { inputs.append(AdminXInput(.hidden, name: "version", label: "", value: String(version))) }
            return inputs
        }
    }

    func oidcForm(_ context: SigilRequestContext, _ a: AdminXCaller, _ values: OIDCForm, _ error: (any Error)?) -> Response {
        var view = a.view(context, title: "Add an OIDC application", current: .applications, breadcrumbs: applicationCrumbs(a))
        view.blocks = [
            AdminXBlock(
                "settings",
                form: AdminXForm(
                    "oidc-form", action: "\(a.root)/applications/new/oidc", submit: "Create application", cancel: "\(a.root)/applications/new",
                    inputs: values.inputs(creating: true)))
        ]
        let status = error.map { Self.show($0, on: &view, formBlock: 0) } ?? .ok
        return render(view, status: status)
    }

    func createOIDC(_ context: SigilRequestContext, _ a: AdminXCaller, _ form: [String: String]) async throws -> Response {
        let values = OIDCForm(posted: form)
        let app: App
        do {
            let body = try Self.body(Components.Schemas.CreateApplication.self, values.body(creating: true))
            app = try await api.createApplication(.init(body: .json(body))).created.body.json
        } catch {
            return oidcForm(context, a, values, error)
        }
        return try await applicationPage(context, a, app, flash: "Application created.", secret: app.clientSecret)
    }

    // MARK: SAML

    struct SAMLForm {
        var name = ""
        var source = "metadata_url"
        var metadataURL = ""
        var metadata = ""
        var entityID = ""
        var acsURL = ""
        var nameIDFormat = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
        var signing = "both"
        var mappings = "email=email\nfirstName=given_name\nlastName=family_name"
        var encrypt = false
        var wantSigned = false
        var certificate = ""
        var version: Int?

        init() {}

        init(posted f: [String: String]) {
            name = f["name"] ?? ""
            source = f["source"] ?? "metadata_url"
            metadataURL = f["metadata_url"] ?? ""
            metadata = f["metadata"] ?? ""
            entityID = f["entity_id"] ?? ""
            acsURL = f["acs"] ?? ""
            nameIDFormat = f["name_id_format"] ?? ""
            signing = f["signing"] ?? "both"
            mappings = f["attribute_mappings"] ?? ""
            encrypt = f["encrypt_assertions"] == "on"
            wantSigned = f["want_authn_requests_signed"] == "on"
            certificate = f["certificate"] ?? ""
            version = f["version"].flatMap(Int.init)
        }

        init(app: App) {
            let s = app.saml
            name = app.name ?? ""
            source = "manual"
            entityID = s?.entityId ?? ""
            acsURL = (s?.acs ?? []).map(\.url).joined(separator: "\n")
            nameIDFormat = s?.nameIdFormat ?? ""
            signing = s?.signing?.rawValue ?? "both"
            mappings = (s?.attributeMappings ?? []).map { "\($0.name)=\($0.userField.rawValue)" }.joined(separator: "\n")
            encrypt = s?.encryptAssertions ?? false
            wantSigned = s?.wantAuthnRequestsSigned ?? false
            certificate = s?.certificate ?? ""
            version = app.version
        }

        /// `name=user_field` lines; a line that is not one is a field error of its own.
        func attributeMappings() throws -> [[String: Any]] {
            try AdminXRoutes.lines(mappings).map { line in
                let parts = line.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
                guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
                    throw ServiceError.invalid([FieldError(field: "attribute_mappings", message: "write each mapping as attribute=user_field (\(line))")])
                }
                return ["name": parts[0], "user_field": parts[1]]
            }
        }

        func body(creating: Bool) throws -> [String: Any] {
            var b: [String: Any] = [
                "name": name.trimmingCharacters(in: .whitespaces), "signing": signing, "encrypt_assertions": encrypt,
                "want_authn_requests_signed": wantSigned, "attribute_mappings": try attributeMappings(),
            ]
            if !nameIDFormat.isEmpty { b["name_id_format"] = nameIDFormat }
            if creating {
                b["protocol"] = "saml"
                switch source {
                case "metadata_url": b["metadata_url"] = metadataURL.trimmingCharacters(in: .whitespaces)
                case "metadata": b["metadata"] = metadata
                default: break
                }
            }
            // By hand (and on every change) the entity ID and ACS URLs are the form's; with metadata
            // only what was typed overrides it.
            let manual = !creating || source == "manual"
            let entity = entityID.trimmingCharacters(in: .whitespaces)
            if manual || !entity.isEmpty { b["entity_id"] = entity }
            let acs = AdminXRoutes.lines(acsURL)
            if manual || !acs.isEmpty { b["acs"] = acs.enumerated().map { ["url": $1, "index": $0, "is_default": $0 == 0] } }
            let pem = certificate.trimmingCharacters(in: .whitespacesAndNewlines)
            if !pem.isEmpty { b["certificate"] = pem }
            return b
        }

        func inputs(creating: Bool) -> [AdminXInput] {
            var inputs = [AdminXInput(.text("text"), name: "name", label: "Name", value: name, required: true)]
            if creating {
                inputs += [
                    AdminXInput(
                        .radios, name: "source", label: "Service provider details",
                        choices: [
                            ("metadata_url", "Import its metadata URL", nil), ("metadata", "Paste its metadata XML", nil),
                            ("manual", "Enter them by hand", nil),
                        ], selected: [source]),
                    AdminXInput(.text("url"), name: "metadata_url", label: "Metadata URL", value: metadataURL, hint: "Fetched once now, over https."),
                    AdminXInput(.fileInto("f-metadata"), name: "metadata_file", label: "Metadata file", hint: "Fills the box below."),
                    AdminXInput(.textarea(rows: 4), name: "metadata", label: "Metadata XML", value: metadata),
                ]
            }
            inputs += [
                AdminXInput(
                    .text("text"), name: "entity_id", label: "Entity ID", value: entityID,
                    hint: creating ? "By hand, or to override the metadata." : nil),
                AdminXInput(
                    .textarea(rows: 2), name: "acs", label: "Assertion consumer service URLs", value: acsURL,
                    hint: "One per line; the first is the default."),
                AdminXInput(
                    .select, name: "name_id_format", label: "NameID format",
                    choices: [
                        ("urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress", "Email address", nil),
                        ("urn:oasis:names:tc:SAML:2.0:nameid-format:persistent", "Persistent", nil),
                        ("urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified", "Unspecified", nil),
                    ], selected: [nameIDFormat]),
                AdminXInput(
                    .textarea(rows: 4), name: "attribute_mappings", label: "Attribute mapping", value: mappings,
                    hint: "One per line, attribute=user field; user fields: id, email, given_name, family_name, amr."),
                AdminXInput(
                    .radios, name: "signing", label: "Signing",
                    choices: [("both", "Response and assertion", nil), ("assertion", "Assertion only", nil), ("response", "Response only", nil)],
                    selected: [signing]),
                AdminXInput(
                    .checkbox, name: "encrypt_assertions", label: "Encryption",
                    choices: [("on", "Encrypt assertions to the SP's certificate", nil)], selected: encrypt ? ["on"] : []),
                AdminXInput(
                    .checkbox, name: "want_authn_requests_signed", label: "Signed requests",
                    choices: [("on", "Refuse AuthnRequests not signed with the SP certificate", nil)], selected: wantSigned ? ["on"] : []),
                AdminXInput(
                    .textarea(rows: 4), name: "certificate", label: "SP certificate (PEM)", value: certificate,
                    hint: "Optional; from the metadata when imported."),
            ]
            if let version { inputs.append(AdminXInput(.hidden, name: "version", label: "", value: String(version))) }
            return inputs
        }
    }

    func samlForm(_ context: SigilRequestContext, _ a: AdminXCaller, _ values: SAMLForm, _ error: (any Error)?) -> Response {
        var view = a.view(context, title: "Add a SAML application", current: .applications, breadcrumbs: applicationCrumbs(a))
        view.blocks = [
            AdminXBlock(
                "settings",
                form: AdminXForm(
                    "saml-form", action: "\(a.root)/applications/new/saml", submit: "Create application", cancel: "\(a.root)/applications/new",
                    inputs: values.inputs(creating: true)))
        ]
        let status = error.map { Self.show($0, on: &view, formBlock: 0) } ?? .ok
        return render(view, status: status)
    }

    func createSAML(_ context: SigilRequestContext, _ a: AdminXCaller, _ form: [String: String]) async throws -> Response {
        let values = SAMLForm(posted: form)
        let app: App
        do {
            let body = try Self.body(Components.Schemas.CreateApplication.self, try values.body(creating: true))
            app = try await api.createApplication(.init(body: .json(body))).created.body.json
        } catch {
            return samlForm(context, a, values, error)
        }
        return try await applicationPage(context, a, app, flash: "Application created.", secret: nil)
    }

    // MARK: one application

    func application(_ context: SigilRequestContext, _ a: AdminXCaller, id: String) async throws -> Response {
        let app = try await api.getApplication(.init(path: .init(id: id))).ok.body.json
        return try await applicationPage(context, a, app, flash: nil, secret: nil)
    }

    /// An application's page: what partners copy, its settings form, the secret (once, right after
    /// it was made), rotation and deletion.
    func applicationPage(
        _ context: SigilRequestContext, _ a: AdminXCaller, _ app: App, flash: String?, secret: String?,
        form: (OIDCForm?, SAMLForm?) = (nil, nil), error: (any Error)? = nil
    ) async throws -> Response {
        let id = app.id ?? ""
        let path = "\(a.root)/applications/\(Self.segment(id))"
        var view = a.view(context, title: app.name ?? id, current: .applications, breadcrumbs: applicationCrumbs(a))
        view.flash = flash
        let issuer = context.issuer
        if let secret, let clientID = app.oidc?.clientId {
            view.blocks.append(
                AdminXBlock(
                    "credentials", heading: "Client credentials",
                    paragraphs: ["Copy the client secret now: it is shown once and Sigil keeps only its hash."],
                    fields: [
                        AdminXField("client-id", "Client ID", clientID, copy: true),
                        AdminXField("client-secret", "Client secret", secret, copy: true),
                    ], secret: true))
        }
        if let o = app.oidc {
            var fields = [AdminXField("client-id-value", "Client ID", o.clientId ?? "", copy: true)]
            fields.append(AdminXField("issuer", "Issuer", issuer, copy: true))
            fields.append(AdminXField("metadata-uri", "Metadata URI", "\(issuer)/.well-known/openid-configuration", copy: true))
            fields.append(AdminXField("client-auth", "Client authentication", o.tokenEndpointAuthMethod?.rawValue ?? "", mono: true))
            if let expires = o.previousSecretExpiresAt {
                fields.append(AdminXField("previous-secret", "Previous secret accepted until", Self.date(expires), mono: false))
            }
            view.blocks.append(AdminXBlock("connection", heading: "Connection details", fields: fields))
            let inputs = (form.0 ?? OIDCForm(app: app)).inputs(creating: false)
            view.blocks.append(
                AdminXBlock("settings", heading: "Settings", form: AdminXForm("app-form", action: path, submit: "Save changes", inputs: inputs)))
            if ["client_secret_basic", "client_secret_post"].contains(o.tokenEndpointAuthMethod?.rawValue ?? "") {
                view.blocks.append(
                    AdminXBlock(
                        "rotate", heading: "Rotate the client secret",
                        paragraphs: ["A new secret is shown once. The old one can keep working for a while, so the client can be updated without downtime."],
                        form: AdminXForm(
                            "rotate-form", action: "\(path)/secret", submit: "Rotate secret",
                            inputs: [
                                AdminXInput(
                                    .select, name: "grace_period", label: "Keep the old secret working for",
                                    choices: [
                                        ("0", "No time: it stops now", nil), ("3600", "1 hour", nil), ("86400", "1 day", nil), ("604800", "7 days", nil),
                                    ],
                                    selected: ["3600"]),
                                AdminXInput(.hidden, name: "version", label: "", value: String(app.version ?? 0)),
                            ])))
            }
        } else if let s = app.saml {
            view.blocks.append(
                AdminXBlock(
                    "connection", heading: "Identity provider details for this SP",
                    fields: [
                        AdminXField("sp-entity-id", "SP entity ID", s.entityId ?? "", copy: true),
                        AdminXField("idp-entity-id", "IdP entity ID (issuer)", "\(issuer)/saml/metadata", copy: true),
                        AdminXField("idp-sso-url", "IdP SSO URL", "\(issuer)/saml/sso", copy: true),
                        AdminXField("idp-metadata-url", "IdP metadata URL", "\(issuer)/saml/metadata", copy: true),
                        AdminXField(
                            "idp-certificate", "IdP signing certificate", "certificate.pem", href: "\(a.base)/saml/certificate.pem",
                            download: "sigil-\(a.tenant.slug).pem"),
                    ]))
            view.blocks.append(
                AdminXBlock(
                    "settings", heading: "Settings",
                    form: AdminXForm("app-form", action: path, submit: "Save changes", inputs: (form.1 ?? SAMLForm(app: app)).inputs(creating: false))))
        }
        view.blocks.append(
            AdminXBlock(
                "delete", heading: "Delete this application", paragraphs: ["People can no longer sign in to it; its tokens stop working."], danger: true,
                links: [AdminXLink("Delete application…", "\(path)/delete", id: "delete-application")]))
        var status = HTTPResponse.Status.ok
        if let error, let index = view.blocks.firstIndex(where: { $0.blockID == "settings" }) {
            status = Self.show(error, on: &view, formBlock: index)
        }
        return render(view, status: status)
    }

    func updateApplication(_ context: SigilRequestContext, _ a: AdminXCaller, _ form: [String: String], id: String) async throws -> Response {
        let current = try await api.getApplication(.init(path: .init(id: id))).ok.body.json
        let oidc = current.oidc != nil ? OIDCForm(posted: form) : nil
        let saml = current.saml != nil ? SAMLForm(posted: form) : nil
        let version = form["version"].flatMap(Int.init)
        do {
            let object = try oidc?.body(creating: false) ?? saml?.body(creating: false) ?? [:]
            let patch = try Self.body(Components.Schemas.PatchApplication.self, object)
            let updated = try await api.updateApplication(
                .init(path: .init(id: id), headers: .init(ifMatch: version.map(AdminAPI.etag)), body: .json(patch))
            ).ok.body.json
            return try await applicationPage(context, a, updated, flash: "Changes saved.", secret: nil)
        } catch {
            var oidcForm = oidc, samlForm = saml
            oidcForm?.version = current.version
            samlForm?.version = current.version
            if samlForm != nil { samlForm?.source = "manual" }
            return try await applicationPage(context, a, current, flash: nil, secret: nil, form: (oidcForm, samlForm), error: error)
        }
    }

    func rotateSecret(_ context: SigilRequestContext, _ a: AdminXCaller, _ form: [String: String], id: String) async throws -> Response {
        let grace = form["grace_period"].flatMap(Int.init) ?? 0
        let version = form["version"].flatMap(Int.init)
        let rotated = try await api.rotateClientSecret(
            .init(path: .init(id: id), headers: .init(ifMatch: version.map(AdminAPI.etag)), body: .json(.init(gracePeriod: grace)))
        ).ok.body.json
        let note =
            rotated.previousSecretExpiresAt.map { "Secret rotated. The previous secret keeps working until \(Self.date($0))." }
            ?? "Secret rotated. The previous secret no longer works."
        return try await applicationPage(context, a, rotated.application, flash: note, secret: rotated.clientSecret)
    }

    func confirmDeleteApplication(_ context: SigilRequestContext, _ a: AdminXCaller, id: String) async throws -> Response {
        let app = try await api.getApplication(.init(path: .init(id: id))).ok.body.json
        let path = "\(a.root)/applications/\(Self.segment(id))"
        var view = a.view(context, title: "Delete \(app.name ?? id)?", current: .applications, breadcrumbs: applicationCrumbs(a))
        view.blocks = [
            AdminXBlock(
                "confirm", paragraphs: ["This cannot be undone. People can no longer sign in to \(app.name ?? id), and its tokens and consents go with it."],
                danger: true,
                form: AdminXForm(
                    "delete-form", action: "\(path)/delete", submit: "Delete application", danger: true, cancel: path,
                    inputs: [AdminXInput(.hidden, name: "version", label: "", value: String(app.version ?? 0))]))
        ]
        return render(view)
    }

    func deleteApplication(_ context: SigilRequestContext, _ a: AdminXCaller, _ form: [String: String], id: String) async throws -> Response {
        let version = form["version"].flatMap(Int.init)
        _ = try await api.deleteApplication(.init(path: .init(id: id), headers: .init(ifMatch: version.map(AdminAPI.etag)))).noContent
        return Web.redirect("\(a.root)/applications?deleted=1")
    }
}
