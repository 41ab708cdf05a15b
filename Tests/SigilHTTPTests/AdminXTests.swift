import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SigilCore
import SigilHTTP
import SigilJOSE
import SigilServices
import SigilStore
import Testing

/// AdminX over HTTP: who may use it, CSRF and origin checks on every form, and the pages doing
/// what the admin API does (the same validation, optimistic concurrency and audit).
@Suite struct AdminXTests {
    static let origin = HTTPField.Name("Origin")!
    static let issuerOrigin = "https://id.example.com"

    struct Admin {
        let h: Harness
        let tenant: Tenant
        let user: User
        let cookie: String
        /// The session cookie header, for a tenant whose cookie is named by `slug`.
        var headers: HTTPFields { [.cookie: "__Host-sigil_session_\(cookieTenant)=\(cookie)"] }
        var cookieTenant: String = "default"

        func get(_ path: String) async throws -> TestResponse {
            try await h.request(.get, path, headers: headers)
        }

        /// A page's CSRF token, as a browser reads it from the form.
        func csrf(_ path: String = "/adminx/") async throws -> String {
            let page = try await get(path)
            #expect(page.status == .ok, "\(page.text)")
            return try #require(AdminXTests.capture(#"name="csrf" value="([^"]+)""#, page.text))
        }

        func post(_ path: String, _ fields: [String: String], csrf: String? = nil, origin: String? = AdminXTests.issuerOrigin) async throws -> TestResponse {
            var all = fields
            if let csrf { all["csrf"] = csrf }
            var headers = self.headers
            headers[.contentType] = "application/x-www-form-urlencoded"
            if let origin { headers[AdminXTests.origin] = origin }
            let body = all.map { "\(AdminXTests.encode($0.key))=\(AdminXTests.encode($0.value))" }.joined(separator: "&")
            return try await h.request(.post, path, json: body, headers: headers)
        }
    }

    static func encode(_ value: String) -> String {
        value.addingPercentEncoding(withAllowedCharacters: CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~"))
            ?? ""
    }

    static func capture(_ pattern: String, _ text: String) -> String? {
        guard let regex = try? NSRegularExpression(pattern: pattern),
            let match = regex.firstMatch(in: text, range: NSRange(text.startIndex..., in: text)), match.numberOfRanges > 1,
            let range = Range(match.range(at: 1), in: text)
        else { return nil }
        return String(text[range]).replacingOccurrences(of: "&amp;", with: "&").replacingOccurrences(of: "&#39;", with: "'")
    }

    static func admin(_ h: Harness, roles: [String] = [User.adminRole], email: String = "root@example.com", tenant: Tenant? = nil) async throws -> Admin {
        let defaultTenant = try await h.defaultTenant()
        let tenant = tenant ?? defaultTenant
        let user = try await h.services.users.create(
            tenantID: tenant.id, .init(email: email, givenName: "Root", familyName: "Admin", roles: roles), by: .cli)
        let (_, cookie) = try await h.services.sessions.start(tenantID: tenant.id, userID: user.id, amr: ["hwk", "user"], acr: "phrh")
        var admin = Admin(h: h, tenant: tenant, user: user, cookie: cookie.value)
        admin.cookieTenant = tenant.slug
        return admin
    }

    // MARK: who may use it

    @Test func signedOutBrowsersAreSentToSignInAndComeBack() async throws {
        try await Harness.run { h in
            let response = try await h.request(.get, "/adminx/applications?cursor=x")
            #expect(response.status == .seeOther)
            #expect(response.headers[.location] == "/login?return_to=/adminx/applications%3Fcursor%3Dx")
            let bare = try await h.request(.get, "/adminx")
            #expect(bare.headers[.location] == "/login?return_to=/adminx")
        }
    }

    @Test func aUserWhoIsNotAnAdministratorIsRefusedAndAudited() async throws {
        try await Harness.run { h in
            let user = try await Self.admin(h, roles: [], email: "ada@example.com")
            let page = try await user.get("/adminx/")
            #expect(page.status == .forbidden)
            #expect(page.text.contains("only administrators of this tenant can use AdminX"))
            let posted = try await user.post("/adminx/applications/new/oidc", ["name": "x"], csrf: "anything")
            #expect(posted.status == .forbidden)
            let events = try await h.store.audit.list(tenantID: user.tenant.id, page: .init(limit: 10)).items
            #expect(events.contains { $0.action == "adminx.access_denied" && $0.actor == "user:\(user.user.id)" && $0.outcome == .failure })
            #expect(try await h.services.applications.list(tenantID: user.tenant.id, page: .init(), by: .cli).items.isEmpty)
        }
    }

    @Test func pagesAreNeverCachedNorFramedAndRunNoInlineCode() async throws {
        try await Harness.run { h in
            let admin = try await Self.admin(h)
            for path in [
                "/adminx/", "/adminx/applications", "/adminx/applications/new", "/adminx/applications/new/oidc", "/adminx/applications/new/saml",
                "/adminx/settings/authorization-server", "/adminx/federation/saml", "/adminx/users", "/adminx/users/invite", "/adminx/audit",
                "/adminx/tenants", "/adminx/upstreams", "/adminx/upstreams/new", "/adminx/webhooks", "/adminx/webhooks/new", "/adminx/integrations",
                "/adminx/integrations/new", "/adminx/idv/policy", "/adminx/connectors",
            ] {
                let page = try await admin.get(path)
                #expect(page.status == .ok, "\(path): \(page.text)")
                #expect(page.headers[.cacheControl] == "no-store", "\(path)")
                let csp = page.headers[.contentSecurityPolicy] ?? ""
                #expect(csp.contains("frame-ancestors 'none'") && csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"), "\(path)")
                #expect(!page.text.contains("<script>") && !page.text.contains(" style=") && !page.text.contains(" onclick"), "\(path)")
                // Every visible control has a label (or is inside a fieldset with a legend).
                for id in Self.all(#"<(?:input|select|textarea) (?:type="(?!hidden)[a-z]+" )?id="([^"]+)""#, page.text) {
                    #expect(page.text.contains("<label for=\"\(id)\""), "\(path): control \(id) has no label")
                }
                #expect(page.text.contains("aria-current=\"page\"") || path.hasSuffix("/new") || path.contains("/new/") || path.hasSuffix("/invite"), "\(path)")
            }
        }
    }

    static func all(_ pattern: String, _ text: String) -> [String] {
        guard let regex = try? NSRegularExpression(pattern: pattern) else { return [] }
        return regex.matches(in: text, range: NSRange(text.startIndex..., in: text)).compactMap { match in
            Range(match.range(at: 1), in: text).map { String(text[$0]) }
        }
    }

    @Test func everyFormNeedsTheSessionsCSRFTokenAndOurOrigin() async throws {
        try await Harness.run { h in
            let admin = try await Self.admin(h)
            let csrf = try await admin.csrf()
            let fields = [
                "name": "App", "client_type": "confidential", "token_endpoint_auth_method": "client_secret_basic",
                "grant_types.client_credentials": "on", "allowed_scopes.openid": "on", "consent": "implicit", "require_pkce": "on",
            ]
            for token in [nil, "wrong"] {
                let refused = try await admin.post("/adminx/applications/new/oidc", fields, csrf: token)
                #expect(refused.status == .forbidden && refused.text.contains("The form expired"))
            }
            try (try await admin.post("/adminx/applications/new/oidc", fields, csrf: csrf, origin: "https://evil.example")).expectProblem(
                .forbidden, "cross-origin")
            try (try await admin.post("/adminx/applications/new/oidc", fields, csrf: csrf, origin: nil)).expectProblem(.forbidden, "cross-origin")
            // Another session's token does not work either.
            let other = try await Self.admin(h, email: "second@example.com")
            let foreign = try await admin.post("/adminx/applications/new/oidc", fields, csrf: try await other.csrf())
            #expect(foreign.status == .forbidden && foreign.text.contains("The form expired"))
            #expect(try await h.services.applications.list(tenantID: admin.tenant.id, page: .init(), by: .cli).items.isEmpty)
            let created = try await admin.post("/adminx/applications/new/oidc", fields, csrf: csrf)
            #expect(created.status == .ok, "\(created.text)")
        }
    }

    // MARK: applications

    @Test func anOIDCApplicationIsCreatedWithItsSecretShownOnceThenEditedRotatedAndDeleted() async throws {
        try await Harness.run { h in
            let admin = try await Self.admin(h)
            let csrf = try await admin.csrf()
            // A placeholder redirect URI, as a partner's guide says to start with.
            let created = try await admin.post(
                "/adminx/applications/new/oidc",
                [
                    "name": "Auth0", "client_type": "confidential", "token_endpoint_auth_method": "client_secret_post",
                    "grant_types.authorization_code": "on", "grant_types.refresh_token": "on", "redirect_uris": "https://example.com/callback\n",
                    "allowed_scopes.openid": "on", "allowed_scopes.email": "on", "allowed_scopes.profile": "on",
                    "id_token_signed_response_alg": "RS256", "require_pkce": "on", "consent": "implicit",
                ], csrf: csrf)
            #expect(created.status == .ok, "\(created.text)")
            #expect(created.headers[.cacheControl] == "no-store")
            let clientID = try #require(Self.capture(#"<code id="client-id" class="mono">([^<]+)</code>"#, created.text))
            let secret = try #require(Self.capture(#"<code id="client-secret" class="mono">([^<]+)</code>"#, created.text))
            #expect(secret.hasPrefix("sigil_cs_"))
            #expect(created.text.contains("https://id.example.com/.well-known/openid-configuration"))
            let apps = try await h.services.applications.list(tenantID: admin.tenant.id, page: .init(), by: .cli).items
            let app = try #require(apps.first)
            guard case .oidc(let settings) = app.settings else { Issue.record("not OIDC"); return }
            #expect(settings.clientID == clientID && settings.tokenEndpointAuthMethod == "client_secret_post")
            #expect(settings.redirectURIs == ["https://example.com/callback"])
            // The application's page never shows the secret again.
            let page = try await admin.get("/adminx/applications/\(app.id)")
            #expect(!page.text.contains(secret) && !page.text.contains("client-secret"))
            // The audit names the administrator.
            let events = try await h.store.audit.list(tenantID: admin.tenant.id, page: .init(limit: 20)).items
            #expect(events.contains { $0.action == "application.created" && $0.actor == "user:\(admin.user.id)" })

            // Replace the placeholder.
            let version = try #require(Self.capture(#"name="version" value="(\d+)""#, page.text))
            var edit = [
                "name": "Auth0", "grant_types.authorization_code": "on", "grant_types.refresh_token": "on",
                "redirect_uris": "https://acme.eu.auth0.com/login/callback", "allowed_scopes.openid": "on", "allowed_scopes.email": "on",
                "id_token_signed_response_alg": "RS256", "require_pkce": "on", "consent": "implicit", "version": version,
            ]
            let saved = try await admin.post("/adminx/applications/\(app.id)", edit, csrf: csrf)
            #expect(saved.status == .ok, "\(saved.text)")
            #expect(saved.text.contains("Changes saved."))
            guard case .oidc(let after) = try await h.services.applications.get(tenantID: admin.tenant.id, id: app.id, by: .cli).settings else { return }
            #expect(after.redirectURIs == ["https://acme.eu.auth0.com/login/callback"] && after.allowedScopes == ["email", "openid"])
            // The same form again, from a page read before that change: refused, nothing lost.
            edit["redirect_uris"] = "https://stale.example/cb"
            let stale = try await admin.post("/adminx/applications/\(app.id)", edit, csrf: csrf)
            #expect(stale.status == .preconditionFailed, "\(stale.text)")
            #expect(stale.text.contains("The resource changed since you read it"))
            #expect(stale.text.contains("https://stale.example/cb"), "the typed values come back")

            // Rotation with an overlap: the new secret once, the old one still accepted.
            let current = try #require(Self.capture(#"name="version" value="(\d+)""#, try await admin.get("/adminx/applications/\(app.id)").text))
            let rotated = try await admin.post("/adminx/applications/\(app.id)/secret", ["grace_period": "3600", "version": current], csrf: csrf)
            #expect(rotated.status == .ok, "\(rotated.text)")
            let newSecret = try #require(Self.capture(#"<code id="client-secret" class="mono">([^<]+)</code>"#, rotated.text))
            #expect(newSecret != secret)
            #expect(rotated.text.contains("The previous secret keeps working until"))

            // Deletion asks first, then deletes.
            let confirm = try await admin.get("/adminx/applications/\(app.id)/delete")
            #expect(confirm.text.contains("This cannot be undone"))
            let deleteVersion = try #require(Self.capture(#"name="version" value="(\d+)""#, confirm.text))
            let deleted = try await admin.post("/adminx/applications/\(app.id)/delete", ["version": deleteVersion], csrf: csrf)
            #expect(deleted.status == .seeOther)
            #expect(try await h.services.applications.list(tenantID: admin.tenant.id, page: .init(), by: .cli).items.isEmpty)
        }
    }

    @Test func aRefusedFormComesBackWithEachErrorNextToItsFieldAndTheValuesTyped() async throws {
        try await Harness.run { h in
            let admin = try await Self.admin(h)
            let csrf = try await admin.csrf()
            let refused = try await admin.post(
                "/adminx/applications/new/oidc",
                [
                    "name": "Typed name", "client_type": "confidential", "token_endpoint_auth_method": "client_secret_basic",
                    "grant_types.authorization_code": "on", "redirect_uris": "http://evil.example/cb", "allowed_scopes.openid": "on",
                    "id_token_signed_response_alg": "RS256", "consent": "implicit",
                ], csrf: csrf)
            #expect(refused.status == .unprocessableContent, "\(refused.text)")
            #expect(refused.text.contains(#"id="problem""#) && refused.text.contains("The request has invalid values"))
            #expect(refused.text.contains(#"<p class="field-error" id="f-redirect_uris-error">"#))
            #expect(refused.text.contains(#"aria-invalid="true" aria-describedby="f-redirect_uris-hint f-redirect_uris-error""#))
            #expect(refused.text.contains(#"value="Typed name""#) && refused.text.contains("http://evil.example/cb"))
            #expect(refused.text.contains(##"href="#f-redirect_uris""##), "the summary links to the field")
            #expect(try await h.services.applications.list(tenantID: admin.tenant.id, page: .init(), by: .cli).items.isEmpty)
        }
    }

    @Test func aSAMLApplicationIsEnteredByHandWithItsAttributeMapping() async throws {
        try await Harness.run { h in
            let admin = try await Self.admin(h)
            let csrf = try await admin.csrf()
            let bad = try await admin.post(
                "/adminx/applications/new/saml",
                [
                    "name": "Okta", "source": "manual", "entity_id": "https://okta.example/sp", "acs": "https://okta.example/acs",
                    "attribute_mappings": "email", "signing": "both",
                ], csrf: csrf)
            #expect(bad.status == .unprocessableContent)
            #expect(bad.text.contains(#"id="f-attribute_mappings-error""#))
            let created = try await admin.post(
                "/adminx/applications/new/saml",
                [
                    "name": "Okta", "source": "manual", "entity_id": "https://okta.example/sp", "acs": "https://okta.example/acs",
                    "name_id_format": "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress", "attribute_mappings": "email=email\nfirstName=given_name",
                    "signing": "both",
                ], csrf: csrf)
            #expect(created.status == .ok, "\(created.text)")
            #expect(created.text.contains("https://id.example.com/saml/sso") && created.text.contains("/saml/certificate.pem"))
            let app = try #require(try await h.services.applications.list(tenantID: admin.tenant.id, page: .init(), by: .cli).items.first)
            guard case .saml(let sp) = app.settings else { Issue.record("not SAML"); return }
            #expect(sp.entityID == "https://okta.example/sp" && sp.assertionConsumerServices.first?.url == "https://okta.example/acs")
            #expect(sp.attributeMappings.map(\.name) == ["email", "firstName"])
        }
    }

    // MARK: settings and federation

    @Test func theAuthorizationServerAndSAMLPagesShowWhatPartnersCopy() async throws {
        try await Harness.run { h in
            let admin = try await Self.admin(h)
            let server = try await admin.get("/adminx/settings/authorization-server")
            for value in [
                "https://id.example.com/.well-known/openid-configuration", "https://id.example.com/oauth2/token", "https://id.example.com/oauth2/par",
                "https://id.example.com/oauth2/jwks",
            ] {
                #expect(server.text.contains(">\(value)</code>"), "\(value)")
            }
            #expect(server.text.contains(#"data-copy="token-endpoint""#))
            let saml = try await admin.get("/adminx/federation/saml")
            #expect(saml.text.contains(">https://id.example.com/saml/metadata</code>"))
            let kid = try #require(Self.capture(#"/adminx/federation/saml/certificates/([^"]+)""#, saml.text))
            let pem = try await admin.get("/adminx/federation/saml/certificates/\(kid)")
            #expect(pem.status == .ok && pem.text.hasPrefix("-----BEGIN CERTIFICATE-----"))
            #expect(pem.headers[.contentDisposition]?.hasPrefix("attachment;") == true)
            // Rotation asks first; then next becomes current.
            let keysBefore = try await h.services.keys.list(tenantID: admin.tenant.id)
            let confirm = try await admin.get("/adminx/federation/keys/rotate")
            #expect(confirm.text.contains("Rotate the signing keys?"))
            let rotated = try await admin.post("/adminx/federation/keys/rotate", [:], csrf: try await admin.csrf())
            #expect(rotated.status == .seeOther)
            let keysAfter = try await h.services.keys.list(tenantID: admin.tenant.id)
            let nextBefore = keysBefore.first { $0.state == .next && $0.algorithm == "RS256" }?.kid
            #expect(keysAfter.first { $0.state == .current && $0.algorithm == "RS256" }?.kid == nextBefore)
        }
    }

    // MARK: users

    @Test func usersAreInvitedFoundDisabledAndMadeAdministrators() async throws {
        try await Harness.run { h in
            let admin = try await Self.admin(h)
            let csrf = try await admin.csrf()
            let invited = try await admin.post(
                "/adminx/users/invite", ["email": "grace@example.com", "given_name": "Grace", "family_name": "Hopper"], csrf: csrf)
            #expect(invited.status == .ok, "\(invited.text)")
            let link = try #require(Self.capture(#"<code id="enrolment-link" class="mono">([^<]+)</code>"#, invited.text))
            #expect(link.hasPrefix("https://id.example.com/enroll/"))
            let grace = try #require(try await h.store.users.find(tenantID: admin.tenant.id, email: "grace@example.com"))
            let found = try await admin.get("/adminx/users?q=grace%40example.com")
            #expect(found.text.contains("/adminx/users/\(grace.id)"))
            let part = try await admin.get("/adminx/users?q=GRACE")
            #expect(part.text.contains("/adminx/users/\(grace.id)") && !part.text.contains("/adminx/users/\(admin.user.id)\""))
            let byID = try await admin.get("/adminx/users?q=\(grace.id)")
            #expect(byID.text.contains("/adminx/users/\(grace.id)"))
            let none = try await admin.get("/adminx/users?q=nobody%40example.com")
            #expect(none.text.contains("No user has an email address containing that"))
            let wildcard = try await admin.get("/adminx/users?q=%25")
            #expect(wildcard.text.contains("No user has an email address containing that"), "% is matched literally")
            // A duplicate is refused next to the email field.
            let duplicate = try await admin.post("/adminx/users/invite", ["email": "grace@example.com"], csrf: csrf)
            #expect(duplicate.status.code >= 400 && duplicate.text.contains(#"id="problem""#), "\(duplicate.text)")

            // Disable: her sessions end.
            _ = try await h.services.sessions.start(tenantID: admin.tenant.id, userID: grace.id, amr: ["hwk"], acr: "phrh")
            var page = try await admin.get("/adminx/users/\(grace.id)")
            var version = try #require(
                Self.capture(
                    #"name="status" value="disabled">\s*<input type="hidden" name="version" value="(\d+)""#, page.text.replacingOccurrences(of: "\n", with: ""))
            )
            let disabled = try await admin.post("/adminx/users/\(grace.id)/status", ["status": "disabled", "version": version], csrf: csrf)
            #expect(disabled.status == .seeOther)
            #expect(try await h.store.users.get(tenantID: admin.tenant.id, id: grace.id).status == .disabled)
            #expect(try await h.store.sessions.listActive(tenantID: admin.tenant.id, userID: grace.id, now: Date()).isEmpty)

            // Administrator role: given, and an administrator cannot take their own away.
            page = try await admin.get("/adminx/users/\(grace.id)")
            version = try #require(
                Self.capture(
                    #"name="admin" value="on">\s*<input type="hidden" name="version" value="(\d+)""#, page.text.replacingOccurrences(of: "\n", with: "")))
            let promoted = try await admin.post("/adminx/users/\(grace.id)/roles", ["admin": "on", "version": version], csrf: csrf)
            #expect(promoted.status == .seeOther)
            #expect(try await h.store.users.get(tenantID: admin.tenant.id, id: grace.id).roles == [User.adminRole])
            let own = try await admin.post("/adminx/users/\(admin.user.id)/roles", ["admin": "off"], csrf: csrf)
            #expect(own.status == .forbidden)
            #expect(try await h.store.users.get(tenantID: admin.tenant.id, id: admin.user.id).isAdmin)
        }
    }

    // MARK: tenants and roles

    @Test func tenantAdministratorsStayInTheirTenantAndGlobalOnesReachEvery() async throws {
        try await Harness.run { h in
            let root = try await Self.admin(h)
            let csrf = try await root.csrf()
            let created = try await root.post("/adminx/tenants", ["name": "acme", "display_name": "Acme"], csrf: csrf)
            #expect(created.status == .ok, "\(created.text)")
            let bad = try await root.post("/adminx/tenants", ["name": "Not A Slug"], csrf: csrf)
            #expect(bad.status.code >= 400 && bad.text.contains("field-error") || bad.text.contains("problem"))
            let acme = try await h.services.tenants.get(slug: "acme")
            // The default tenant's administrator opens acme's AdminX with their own session.
            let acmeAsRoot = try await root.get("/t/acme/adminx/")
            #expect(acmeAsRoot.status == .ok)
            #expect(acmeAsRoot.text.contains(">Acme</strong>"))
            let acmeCSRF = try #require(Self.capture(#"name="csrf" value="([^"]+)""#, acmeAsRoot.text))
            let app = try await root.post(
                "/t/acme/adminx/applications/new/oidc",
                [
                    "name": "M2M", "client_type": "confidential", "token_endpoint_auth_method": "client_secret_basic",
                    "grant_types.client_credentials": "on", "allowed_scopes.openid": "on", "consent": "implicit", "require_pkce": "on",
                ],
                csrf: acmeCSRF)
            #expect(app.status == .ok, "\(app.text)")
            #expect(try await h.services.applications.list(tenantID: acme.id, page: .init(), by: .cli).items.count == 1)

            // acme's own administrator: acme only, no tenant list.
            let local = try await Self.admin(h, email: "boss@acme.example", tenant: acme)
            #expect(try await local.get("/t/acme/adminx/").status == .ok)
            let tenants = try await local.get("/t/acme/adminx/tenants")
            #expect(tenants.status == .forbidden)
            #expect(!(try await local.get("/t/acme/adminx/")).text.contains("/adminx/tenants\""))
            // Their cookie is acme's: the default tenant's AdminX sends them to sign in there.
            let home = try await local.get("/adminx/")
            #expect(home.status == .seeOther)
        }
    }

    // MARK: audit

    @Test func theAuditLogFiltersPaginatesAndExports() async throws {
        try await Harness.run { h in
            let admin = try await Self.admin(h)
            for i in 0..<60 {
                _ = try await h.services.users.create(
                    tenantID: admin.tenant.id, .init(email: "u\(i)@example.com", givenName: "U", familyName: "\(i)"), by: .cli)
            }
            let first = try await admin.get("/adminx/audit?action=user.created")
            #expect(first.status == .ok)
            #expect(Self.all(#"<td class="primary"><code>(user\.created)</code>"#, first.text).count == 50)
            let next = try #require(Self.capture(#"href="([^"]+)" rel="next""#, first.text))
            let second = try await admin.get(next)
            #expect(Self.all(#"<td class="primary"><code>(user\.created)</code>"#, second.text).count == 11)
            let failures = try await admin.get("/adminx/audit?outcome=failure")
            #expect(failures.text.contains("No event matches this filter"))
            let export = try await admin.get("/adminx/audit/export?action=user.")
            #expect(export.headers[.contentType] == "application/x-ndjson")
            let lines = export.text.split(separator: "\n")
            #expect(lines.count == 61)
            let object = try JSONSerialization.jsonObject(with: Data(lines[0].utf8)) as? [String: Any]
            #expect((object?["action"] as? String)?.hasPrefix("user.") == true)
        }
    }

    // MARK: upstream IdPs

    @Test func upstreamIdPsAreAddedShownChangedAndDeleted() async throws {
        try await Harness.run { h in
            let admin = try await Self.admin(h)
            let csrf = try await admin.csrf()
            // Without a metadata URL: refused next to the field, nothing created.
            let refused = try await admin.post(
                "/adminx/upstreams/new", ["name": "okta", "protocol": "saml", "metadata_url": "", "client_secret": "s3cret-typed"], csrf: csrf)
            #expect(refused.status.code >= 400 && refused.text.contains(#"id="problem""#), "\(refused.text)")
            #expect(!refused.text.contains("s3cret-typed"), "a typed secret is never sent back")
            #expect(try await h.services.upstreams.list(tenantID: admin.tenant.id, by: .cli).isEmpty)

            let material = try SigningKeyMaterial.generate(.rs256)
            let pem = try SigningCertificate.make(
                for: material, commonName: "okta", serialNumber: Array(repeating: 9, count: 16), notBefore: Date().addingTimeInterval(-60),
                notAfter: Date().addingTimeInterval(86_400))
            _ = try await h.services.upstreams.createSAML(
                tenantID: admin.tenant.id,
                .init(
                    name: "okta", displayName: "Okta",
                    metadata: .manual(
                        entityID: "https://okta.example/exk1", ssoURL: "https://okta.example/sso", ssoBinding: "redirect", sloURL: nil, certificatesPEM: [pem]),
                    emailDomains: ["example.org"], linkDomains: [], allowUnsolicited: false),
                by: .cli)
            let list = try await admin.get("/adminx/upstreams")
            #expect(list.text.contains("/adminx/upstreams/okta"))
            let page = try await admin.get("/adminx/upstreams/okta")
            #expect(page.text.contains(">https://id.example.com/saml/sp/okta/acs</code>"), "\(page.text)")
            #expect(page.text.contains(#"id="sp-entity-id""#) && page.text.contains(#"id="sp-metadata-url""#))
            let saved = try await admin.post(
                "/adminx/upstreams/okta", ["display_name": "Okta Workforce", "enabled": "on", "email_domains": "example.org\nexample.net"], csrf: csrf)
            #expect(saved.status == .ok, "\(saved.text)")
            let changed = try await h.services.upstreams.get(tenantID: admin.tenant.id, name: "okta", by: .cli)
            #expect(changed.displayName == "Okta Workforce" && changed.policy.emailDomains == ["example.org", "example.net"])
            let deleted = try await admin.post("/adminx/upstreams/okta/delete", [:], csrf: csrf)
            #expect(deleted.status == .seeOther)
            #expect(try await h.services.upstreams.list(tenantID: admin.tenant.id, by: .cli).isEmpty)
        }
    }

    // MARK: webhooks, identity verification, integrations

    @Test func webhookEndpointsAreAddedWithTheirSecretShownOnceRotatedAndDeleted() async throws {
        try await Harness.run { h in
            let admin = try await Self.admin(h)
            let csrf = try await admin.csrf()
            let refused = try await admin.post("/adminx/webhooks/new", ["url": "https://hooks.example.com/in", "event_types": "not an event"], csrf: csrf)
            #expect(refused.status.code >= 400 && refused.text.contains(#"id="f-event_types-error""#), "\(refused.text)")
            let created = try await admin.post(
                "/adminx/webhooks/new", ["url": "https://hooks.example.com/in", "event_types": "user.created\nidv.decided", "enabled": "on"], csrf: csrf)
            #expect(created.status == .ok, "\(created.text)")
            let secret = try #require(Self.capture(#"<code id="webhook-secret" class="mono">([^<]+)</code>"#, created.text))
            let id = try #require(Self.capture(#"<code id="webhook-id" class="mono">([^<]+)</code>"#, created.text))
            let page = try await admin.get("/adminx/webhooks/\(id)")
            #expect(page.status == .ok && !page.text.contains(secret))
            let saved = try await admin.post("/adminx/webhooks/\(id)", ["url": "https://hooks.example.com/in", "event_types": "*"], csrf: csrf)
            #expect(saved.status == .ok && saved.text.contains("Changes saved."), "\(saved.text)")
            let rotated = try await admin.post("/adminx/webhooks/\(id)/secret", ["overlap_seconds": "3600"], csrf: csrf)
            let second = try #require(Self.capture(#"<code id="webhook-secret" class="mono">([^<]+)</code>"#, rotated.text))
            #expect(second != secret && rotated.text.contains("Previous secret also signs until"))
            #expect(try await admin.post("/adminx/webhooks/\(id)/delete", [:], csrf: csrf).status == .seeOther)
            #expect(try await admin.get("/adminx/webhooks").text.contains("No endpoints yet."))
        }
    }

    @Test func theIdentityVerificationPolicyIsSavedAndABadValueIsShownByItsField() async throws {
        try await Harness.run { h in
            let admin = try await Self.admin(h)
            let csrf = try await admin.csrf("/adminx/idv/policy")
            let fields = [
                "document_types.passport": "on", "countries": "D UTO", "minimum_age": "18", "require_face_match": "on", "require_liveness": "on",
                "weakest_name_match": "normalised", "face_match_threshold": "0.55", "retention_days": "7",
            ]
            let saved = try await admin.post("/adminx/idv/policy", fields, csrf: csrf)
            #expect(saved.status == .ok && saved.text.contains("Policy saved."), "\(saved.text)")
            let policy = try await h.admin(.get, "/idv/policy").json()
            #expect(policy["document_types"] as? [String] == ["passport"] && policy["countries"] as? [String] == ["D", "UTO"])
            #expect(policy["minimum_age"] as? Int == 18 && policy["retention_days"] as? Int == 7)
            var bad = fields
            bad["face_match_threshold"] = "2.5"
            let refused = try await admin.post("/adminx/idv/policy", bad, csrf: csrf)
            #expect(refused.status.code >= 400 && refused.text.contains(#"id="f-face_match_threshold-error""#), "\(refused.text)")
            #expect(try await h.admin(.get, "/idv/policy").json()["face_match_threshold"] as? Double == 0.55)
        }
    }

    @Test func anIntegrationFormNeverSendsTheTypedSecretBack() async throws {
        try await Harness.run { h in
            let admin = try await Self.admin(h)
            let form = try await admin.get("/adminx/integrations/new?kind=okta-saml")
            #expect(form.text.contains(#"id="f-secret""#) && form.text.contains(#"type="password""#))
            let refused = try await admin.post(
                "/adminx/integrations/new", ["kind": "okta-saml", "domain": "", "secret": "00very-secret-token"], csrf: try await admin.csrf())
            #expect(refused.status.code >= 400 && refused.text.contains(#"id="problem""#), "\(refused.text)")
            #expect(!refused.text.contains("00very-secret-token"))
        }
    }

    @Test func connectorKeysAndHookSourcesShowTheirSecretsOnce() async throws {
        try await Harness.run { h in
            let admin = try await Self.admin(h)
            let csrf = try await admin.csrf("/adminx/connectors")
            let noScopes = try await admin.post("/adminx/connectors/keys", ["name": "Descope"], csrf: csrf)
            #expect(noScopes.status.code >= 400 && noScopes.text.contains(#"id="f-scopes-error""#), "\(noScopes.text)")
            let created = try await admin.post(
                "/adminx/connectors/keys",
                [
                    "name": "Descope", "scopes.idv:write": "on", "scopes.idv:read": "on", "scopes.stepup:write": "on", "scopes.stepup:read": "on",
                    "redirect_origins": "https://app.example.com",
                ],
                csrf: csrf)
            #expect(created.status == .ok, "\(created.text)")
            let key = try #require(Self.capture(#"<code id="issued-secret" class="mono">([^<]+)</code>"#, created.text))
            #expect(key.hasPrefix("sck_"))
            // The key works on the connector API.
            let listed = try await h.request(.get, "/api/v1/connectors/idv/sessions/idv_00000000000000000000000000", headers: [.authorization: "Bearer \(key)"])
            #expect(listed.status == .notFound, "\(listed.text)")
            let page = try await admin.get("/adminx/connectors")
            #expect(!page.text.contains(key))
            let hook = try await admin.post(
                "/adminx/connectors/hooks",
                [
                    "name": "descope", "connector_key_id": try #require(Self.capture(#"<option value="(cnk_[0-9a-z]+)""#, page.text)),
                    "signature": "descope_hmac",
                ],
                csrf: csrf)
            #expect(hook.status == .ok, "\(hook.text)")
            #expect(hook.text.contains("https://id.example.com/api/v1/hooks/descope") && hook.text.contains(#"id="issued-secret""#))
            let keyID = try #require(Self.capture(#"/adminx/connectors/keys/(cnk_[0-9a-z]+)/revoke"#, page.text))
            #expect(try await admin.get("/adminx/connectors/keys/\(keyID)/revoke").text.contains("Revoke this connector key?"))
            #expect(try await admin.post("/adminx/connectors/keys/\(keyID)/revoke", [:], csrf: csrf).status == .seeOther)
            let refused = try await h.request(
                .get, "/api/v1/connectors/idv/sessions/idv_00000000000000000000000000", headers: [.authorization: "Bearer \(key)"])
            #expect(refused.status == .unauthorized)
            let bad = try await admin.post("/adminx/idv/cscas", ["pem": "not a certificate"], csrf: csrf)
            #expect(bad.status.code >= 400 && bad.text.contains(#"id="problem""#), "\(bad.text)")
        }
    }

    @Test func anAdministratorSignedInLongAgoSignsInAgainFirst() async throws {
        let clock = ManualClock(Date())
        try await Harness.run(clock: clock) { h in
            let admin = try await Self.admin(h)
            #expect(try await admin.get("/adminx/users").status == .ok)
            clock.advance(by: 50 * 60) // active: the idle timeout does not end the session
            _ = try await admin.get("/adminx/")
            clock.advance(by: 50 * 60)
            _ = try await admin.get("/adminx/")
            clock.advance(by: 50 * 60)
            _ = try await admin.get("/adminx/")
            clock.advance(by: 50 * 60)
            _ = try await admin.get("/adminx/")
            clock.advance(by: 50 * 60)
            let stale = try await admin.get("/adminx/users")
            #expect(stale.status == .seeOther)
            #expect(stale.headers[.location] == "/login?prompt=login&return_to=/adminx/users")
        }
    }
}
