import Foundation
import HTTPTypes
import Hummingbird
import SigilAdminAPI
import SigilServices
import SigilStore

/// Settings → Authorization Server (the discovery metadata partners copy) and Federation → SAMLv2
/// (the IdP's entity ID, URLs and certificates, and key rotation with its overlap).
extension AdminXRoutes {
    func registerSettings(on router: Router<SigilRequestContext>) {
        get(router, "/adminx/settings/authorization-server") { _, c, a in try await self.authorizationServer(c, a) }
        get(router, "/adminx/federation/saml") { r, c, a in try await self.federation(r, c, a) }
        get(router, "/adminx/federation/saml/certificates/:kid") { _, c, a in try await self.certificate(c, a, kid: try c.parameters.require("kid")) }
        get(router, "/adminx/federation/keys/rotate") { _, c, a in self.confirmRotateKeys(c, a) }
        post(router, "/adminx/federation/keys/rotate") { _, c, a, _ in try await self.rotateKeys(c, a) }
    }

    func authorizationServer(_ context: SigilRequestContext, _ a: AdminXCaller) async throws -> Response {
        // The same authorization as the admin API's key listing (this page shows tenant configuration).
        _ = try await api.listKeys(.init()).ok
        let document = try await services.oauth.discoveryDocument(tenantID: a.tenant.id, issuer: context.issuer)
        let metadata = (try JSONSerialization.jsonObject(with: Data(document.bytes))) as? [String: Any] ?? [:]
        func url(_ key: String) -> String { metadata[key] as? String ?? "" }
        func list(_ key: String) -> String { (metadata[key] as? [Any])?.compactMap { $0 as? String }.joined(separator: " ") ?? "" }
        var view = a.view(
            context, title: "Authorization Server", current: .authorizationServer,
            breadcrumbs: [AdminXLink("Settings", a.root + "/settings/authorization-server")])
        view.intro = "The OpenID Provider metadata of this tenant: what an Auth0, Okta or Descope connection asks for."
        let issuer = url("issuer")
        view.blocks = [
            AdminXBlock(
                "metadata", heading: "Metadata",
                fields: [
                    AdminXField("metadata-uri", "Metadata URI", "\(issuer)/.well-known/openid-configuration", copy: true),
                    AdminXField("issuer", "Issuer", issuer, copy: true),
                    AdminXField("authorization-endpoint", "Authorization URL", url("authorization_endpoint"), copy: true),
                    AdminXField("token-endpoint", "Token URL", url("token_endpoint"), copy: true),
                    AdminXField("par-endpoint", "Pushed authorization request URL", url("pushed_authorization_request_endpoint"), copy: true),
                    AdminXField("userinfo-endpoint", "UserInfo URL", url("userinfo_endpoint"), copy: true),
                    AdminXField("jwks-uri", "JWKS URL", url("jwks_uri"), copy: true),
                    AdminXField("end-session-endpoint", "Logout URL", url("end_session_endpoint"), copy: true),
                ]),
            AdminXBlock(
                "capabilities", heading: "What it supports",
                fields: [
                    AdminXField("scopes", "Scopes", list("scopes_supported")),
                    AdminXField("grant-types", "Grant types", list("grant_types_supported")),
                    AdminXField("signing-algs", "ID token signing algorithms", list("id_token_signing_alg_values_supported")),
                    AdminXField("auth-methods", "Client authentication", list("token_endpoint_auth_methods_supported")),
                    AdminXField("pkce", "PKCE methods", list("code_challenge_methods_supported")),
                ]),
        ]
        return render(view)
    }

    func federation(_ request: Request, _ context: SigilRequestContext, _ a: AdminXCaller) async throws -> Response {
        let keys = try await api.listKeys(.init()).ok.body.json.items
        let records = try await services.keys.list(tenantID: a.tenant.id)
        let issuer = context.issuer
        var view = a.view(context, title: "SAMLv2", current: .federation, breadcrumbs: [AdminXLink("Federation", a.root + "/federation/saml")])
        view.intro = "Sigil as a SAML 2.0 identity provider: what a service provider (Okta, Auth0, any SP) is given."
        if request.uri.queryParameters.get("rotated") != nil {
            view.flash = "Keys rotated. The previous key stays published, so signatures made before the rotation still verify."
        }
        view.blocks.append(
            AdminXBlock(
                "idp", heading: "Identity provider",
                fields: [
                    AdminXField("entity-id", "Entity ID (issuer)", SAMLIdentityProviderService.entityID(issuer: issuer), copy: true),
                    AdminXField(
                        "sso-url", "SSO URL", SAMLIdentityProviderService.ssoURL(issuer: issuer), copy: true, hint: "HTTP-Redirect and HTTP-POST bindings."),
                    AdminXField("slo-url", "Single logout URL", SAMLIdentityProviderService.sloURL(issuer: issuer), copy: true),
                    AdminXField("metadata-url", "Metadata URL", "\(issuer)/saml/metadata", copy: true),
                    AdminXField(
                        "certificate", "Signing certificate", "Download certificate (PEM)", href: "\(a.base)/saml/certificate.pem",
                        download: "sigil-\(a.tenant.slug)-signing.pem", hint: "The certificate Sigil signs with now."),
                ]))
        let rows = keys.sorted { ($0.alg ?? "", Self.stateOrder($0.state)) < ($1.alg ?? "", Self.stateOrder($1.state)) }.map { key in
            let record = records.first { $0.kid == key.kid }
            let state = key.state?.rawValue ?? ""
            return AdminXRow(cells: [
                AdminXCell(key.alg ?? ""), AdminXCell(state, badge: state == "current" ? "ok" : state == "next" ? "info" : "muted"),
                AdminXCell(key.kid ?? "", mono: true), AdminXCell(Self.date(key.createdAt)),
                record?.certificatePEM == nil
                    ? AdminXCell("—")
                    : AdminXCell("certificate.pem", href: "\(a.root)/federation/saml/certificates/\(Self.segment(key.kid ?? ""))"),
            ])
        }
        view.blocks.append(
            AdminXBlock(
                "keys", heading: "Signing keys",
                paragraphs: [
                    "Each algorithm has a current key that signs, a next key already published so partners can trust it before it signs, "
                        + "and after a rotation the previous key, still published until the next rotation. A rotation makes next current "
                        + "and current previous: give SAML service providers the next certificate before you rotate."
                ],
                table: AdminXTable(
                    "keys-table", caption: "Keys by algorithm and state", columns: ["Algorithm", "State", "Key ID", "Created", "Certificate"], rows: rows,
                    empty: "No keys."),
                links: [AdminXLink("Rotate keys…", "\(a.root)/federation/keys/rotate", id: "rotate-keys")]))
        return render(view)
    }

    static func stateOrder(_ state: Components.Schemas.Key.StatePayload?) -> Int {
        switch state {
        case .next: 0
        case .current: 1
        case .previous: 2
        default: 3
        }
    }

    /// One key's certificate, for a service provider to trust ahead of a rotation (public data).
    func certificate(_ context: SigilRequestContext, _ a: AdminXCaller, kid: String) async throws -> Response {
        _ = try await api.listKeys(.init()).ok
        guard let pem = try await services.keys.list(tenantID: a.tenant.id).first(where: { $0.kid == kid })?.certificatePEM else {
            throw Problem.notFound("no certificate for that key")
        }
        return Response(
            status: .ok,
            headers: [
                .contentType: "application/x-pem-file", .cacheControl: "no-store",
                .contentDisposition: "attachment; filename=\"sigil-\(a.tenant.slug)-\(kid.prefix(8)).pem\"",
            ],
            body: .init(byteBuffer: ByteBuffer(string: pem)))
    }

    func confirmRotateKeys(_ context: SigilRequestContext, _ a: AdminXCaller) -> Response {
        var view = a.view(context, title: "Rotate the signing keys?", current: .federation, breadcrumbs: [AdminXLink("SAMLv2", a.root + "/federation/saml")])
        view.blocks = [
            AdminXBlock(
                "confirm",
                paragraphs: [
                    "The next key of each algorithm starts signing now. Relying parties that read the JWKS follow on their own; a SAML "
                        + "service provider configured with a certificate file needs the new one (the key that was next) before this, or its "
                        + "sign-ins fail until it has it."
                ], danger: true,
                form: AdminXForm(
                    "rotate-form", action: "\(a.root)/federation/keys/rotate", submit: "Rotate keys", danger: true, cancel: "\(a.root)/federation/saml",
                    inputs: []))
        ]
        return render(view)
    }

    func rotateKeys(_ context: SigilRequestContext, _ a: AdminXCaller) async throws -> Response {
        _ = try await api.rotateKeys(.init()).ok
        return Web.redirect("\(a.root)/federation/saml?rotated=1")
    }
}
