import Foundation
import HTTPTypes
import SigilCore
import SigilHTTP
import SigilServices
import SigilStore
import Testing

@Suite struct AdminAPITests {
    static let ada = #"{"email":"Ada@Example.com","given_name":"Ada","family_name":"Lovelace"}"#

    /// Everything a rejected request must leave untouched.
    struct Snapshot: Equatable {
        var users: [User]
        var applications: [SigilStore.Application]
        var tenants: [Tenant]
    }

    func snapshot(_ h: Harness) async throws -> Snapshot {
        var users: [User] = []
        var apps: [SigilStore.Application] = []
        for tenant in try await h.store.tenants.list() {
            users += try await h.store.users.list(tenantID: tenant.id, page: PageRequest(limit: 200)).items
            apps += try await h.store.applications.list(tenantID: tenant.id, page: PageRequest(limit: 200)).items
        }
        return Snapshot(users: users, applications: apps, tenants: try await h.store.tenants.list())
    }

    @Test func createReadUpdateDeleteUser() async throws {
        try await Harness.run { h in
            let created = try await h.admin(.post, "/users", json: Self.ada)
            #expect(created.status == .created)
            let body = try created.json()
            let id = try #require(body["id"] as? String)
            #expect(body["email"] as? String == "Ada@Example.com")
            #expect(created.headers[.location] == "https://id.example.com/api/admin/v1/users/\(id)")
            #expect(created.headers[.eTag] == "\"1\"")

            let read = try await h.admin(.get, "/users/\(id)")
            #expect(try read.json()["given_name"] as? String == "Ada")

            let patched = try await h.admin(
                .patch, "/users/\(id)", json: #"{"status":"disabled","given_name":"Augusta"}"#,
                headers: [.ifMatch: "\"1\""])
            #expect(patched.status == .ok, "\(patched.text)")
            #expect(try patched.json()["status"] as? String == "disabled")
            #expect(patched.headers[.eTag] == "\"2\"")

            // A stale ETag is refused and changes nothing.
            try await h.admin(.patch, "/users/\(id)", json: #"{"given_name":"Stale"}"#, headers: [.ifMatch: "\"1\""])
                .expectProblem(.preconditionFailed, "version-mismatch")
            #expect(try await h.admin(.get, "/users/\(id)").json()["given_name"] as? String == "Augusta")

            #expect(try await h.admin(.delete, "/users/\(id)").status == .noContent)
            try await h.admin(.get, "/users/\(id)").expectProblem(.notFound, "not-found")
            try await h.admin(.delete, "/users/\(id)").expectProblem(.notFound, "not-found")

            let actions = (try await h.admin(.get, "/audit-events").json()["items"] as? [[String: Any]] ?? []).compactMap { $0["action"] as? String }
            #expect(Array(actions.prefix(3)) == ["user.deleted", "user.updated", "user.created"])
        }
    }

    @Test func rejectedRequestsAnswerProblemJSONAndChangeNothing() async throws {
        try await Harness.run { h in
            _ = try await h.admin(.post, "/users", json: Self.ada)
            let before = try await snapshot(h)
            let userID = before.users[0].id
            let cases: [(String, () async throws -> Void)] = [
                ("malformed JSON", { try await h.admin(.post, "/users", json: #"{"email": "#).expectProblem(.badRequest, "invalid-json") }),
                ("not an object", { try await h.admin(.post, "/users", json: #"["x"]"#).expectProblem(.badRequest, "invalid-json") }),
                (
                    "unknown field",
                    {
                        let p = try await h.admin(.post, "/users", json: #"{"email":"b@example.com","given_name":"B","family_name":"C","role":"admin"}"#)
                            .expectProblem(.badRequest, "unknown-field")
                        #expect((p["errors"] as? [[String: String]])?.first?["field"] == "role")
                    }
                ),
                (
                    "missing field",
                    {
                        try await h.admin(.post, "/users", json: #"{"email":"b@example.com","given_name":"B"}"#).expectProblem(
                            .badRequest, "invalid-field-type")
                    }
                ),
                (
                    "wrong type",
                    {
                        try await h.admin(.post, "/users", json: #"{"email":7,"given_name":"B","family_name":"C"}"#).expectProblem(
                            .badRequest, "invalid-field-type")
                    }
                ),
                (
                    "invalid email",
                    {
                        let p = try await h.admin(.post, "/users", json: #"{"email":"not-an-email","given_name":"B","family_name":"C"}"#)
                            .expectProblem(.unprocessableContent, "validation-failed")
                        #expect((p["errors"] as? [[String: String]])?.first?["field"] == "email")
                    }
                ),
                (
                    "invalid status",
                    {
                        try await h.admin(.post, "/users", json: #"{"email":"b@example.com","given_name":"B","family_name":"C","status":"root"}"#)
                            .expectProblem(.badRequest, "invalid-field-type")
                    }
                ),
                (
                    "duplicate email, other case",
                    {
                        try await h.admin(.post, "/users", json: #"{"email":"ADA@example.COM","given_name":"A","family_name":"L"}"#).expectProblem(
                            .conflict, "already-exists")
                    }
                ),
                (
                    "patch to invalid email",
                    { try await h.admin(.patch, "/users/\(userID)", json: #"{"email":"nope"}"#).expectProblem(.unprocessableContent, "validation-failed") }
                ),
                (
                    "patch unknown field",
                    { try await h.admin(.patch, "/users/\(userID)", json: #"{"id":"usr_x"}"#).expectProblem(.badRequest, "unknown-field") }
                ),
                // The document says If-Match is * or one of our ETags; anything else is malformed.
                (
                    "bad If-Match",
                    {
                        try await h.admin(.patch, "/users/\(userID)", json: #"{"given_name":"X"}"#, headers: [.ifMatch: "*garbage"]).expectProblem(
                            .badRequest, "invalid-header")
                    }
                ),
                (
                    "If-Match list",
                    { try await h.admin(.delete, "/users/\(userID)", headers: [.ifMatch: "\"1\", \"2\""]).expectProblem(.badRequest, "invalid-header") }
                ),
                (
                    "stale If-Match",
                    { try await h.admin(.delete, "/users/\(userID)", headers: [.ifMatch: "\"99\""]).expectProblem(.preconditionFailed, "version-mismatch") }
                ),
                (
                    "explicit null",
                    {
                        try await h.admin(.post, "/users", json: #"{"email":"n@example.com","given_name":"N","family_name":"U","status":null}"#)
                            .expectProblem(.badRequest, "invalid-field-type")
                    }
                ),
                (
                    "undeclared method",
                    {
                        let r = try await h.admin(.trace, "/users")
                        try r.expectProblem(.methodNotAllowed, "method-not-allowed")
                        #expect(r.headers[.allow] == "GET, POST")
                    }
                ),
                (
                    "wrong media type",
                    { try await h.admin(.post, "/users", json: Self.ada, headers: [.contentType: "text/plain"]).expectProblem(.unsupportedMediaType) }
                ),
                (
                    "too large",
                    {
                        let big = #"{"email":"b@example.com","given_name":""# + String(repeating: "x", count: 70_000) + #"","family_name":"C"}"#
                        try await h.admin(.post, "/users", json: big).expectProblem(.contentTooLarge)
                    }
                ),
                ("bad limit", { try await h.admin(.get, "/users?limit=0").expectProblem(.badRequest) }),
                ("unknown user", { try await h.admin(.get, "/users/usr_nobody").expectProblem(.notFound, "not-found") }),
                (
                    "no token",
                    {
                        let r = try await h.request(.post, "/api/admin/v1/users", json: Self.ada)
                        try r.expectProblem(.unauthorized, "unauthenticated")
                        #expect(r.headers[.wwwAuthenticate] == #"Bearer realm="sigil-admin""#)
                    }
                ),
                (
                    "bad token",
                    {
                        try await h.request(.post, "/api/admin/v1/users", token: "sigil_at_forged", json: Self.ada).expectProblem(
                            .unauthorized, "unauthenticated")
                    }
                ),
                ("basic auth", { try await h.request(.get, "/api/admin/v1/users", headers: [.authorization: "Basic YTpi"]).expectProblem(.unauthorized) }),
                (
                    "oidc app with http redirect",
                    {
                        try await h.admin(.post, "/applications", json: #"{"name":"RP","protocol":"oidc","redirect_uris":["http://rp.example/cb"]}"#)
                            .expectProblem(.unprocessableContent, "validation-failed")
                    }
                ),
                (
                    "oidc app with a fragment",
                    {
                        try await h.admin(.post, "/applications", json: #"{"name":"RP","protocol":"oidc","redirect_uris":["https://rp.example/cb#x"]}"#)
                            .expectProblem(.unprocessableContent, "validation-failed")
                    }
                ),
                (
                    "oidc app with implicit grant",
                    {
                        try await h.admin(
                            .post, "/applications",
                            json: #"{"name":"RP","protocol":"oidc","redirect_uris":["https://rp.example/cb"],"grant_types":["implicit"]}"#
                        )
                        .expectProblem(.unprocessableContent, "validation-failed")
                    }
                ),
                (
                    "public client without PKCE",
                    {
                        try await h.admin(
                            .post, "/applications",
                            json: #"{"name":"RP","protocol":"oidc","public":true,"require_pkce":false,"redirect_uris":["https://rp.example/cb"]}"#
                        )
                        .expectProblem(.unprocessableContent, "validation-failed")
                    }
                ),
                (
                    "SAML fields on an OIDC app",
                    {
                        // Known fields of the other protocol: a validation error naming them, not "unknown".
                        let p = try await h.admin(
                            .post, "/applications", json: #"{"name":"RP","protocol":"oidc","redirect_uris":["https://rp.example/cb"],"entity_id":"x"}"#
                        )
                        .expectProblem(.unprocessableContent, "validation-failed")
                        #expect((p["errors"] as? [[String: String]])?.first?["message"] == "entity_id applies to saml applications only")
                    }
                ),
                (
                    "unknown protocol",
                    { try await h.admin(.post, "/applications", json: #"{"name":"RP","protocol":"ws-fed"}"#).expectProblem(.unprocessableContent) }
                ),
                (
                    "SAML SP without ACS",
                    {
                        try await h.admin(.post, "/applications", json: #"{"name":"SP","protocol":"saml","entity_id":"urn:sp"}"#).expectProblem(
                            .unprocessableContent)
                    }
                ),
            ]
            for (name, run) in cases {
                try await run()
                #expect(try await snapshot(h) == before, "\(name) changed stored data")
            }
        }
    }

    @Test func tenantScopedTokensStayInTheirTenant() async throws {
        try await Harness.run { h in
            let acme = try await h.services.tenants.create(slug: "acme", by: .cli)
            let (_, scoped) = try await h.services.adminTokens.create(tenantID: acme.id, name: "acme-ops", by: .cli)
            let ok = try await h.request(.post, "/t/acme/api/admin/v1/users", token: scoped.value, json: Self.ada)
            #expect(ok.status == .created)
            let before = try await snapshot(h)
            try await h.request(.post, "/api/admin/v1/users", token: scoped.value, json: Self.ada).expectProblem(.forbidden, "forbidden")
            try await h.request(.get, "/api/admin/v1/users", token: scoped.value).expectProblem(.forbidden, "forbidden")
            try await h.request(.post, "/api/admin/v1/keys/rotate", token: scoped.value).expectProblem(.forbidden)
            try await h.request(.post, "/t/acme/api/admin/v1/tenants", token: scoped.value, json: #"{"name":"evil"}"#).expectProblem(.forbidden)
            try await h.request(.get, "/t/acme/api/admin/v1/tenants", token: scoped.value).expectProblem(.forbidden)
            // Another tenant's user id is not found through this tenant.
            let acmeUser = try #require(before.users.first { $0.tenantID == acme.id })
            try await h.admin(.get, "/users/\(acmeUser.id)").expectProblem(.notFound)
            #expect(try await snapshot(h) == before)
            // Denials are audited.
            let events = try await h.store.audit.list(tenantID: nil, page: PageRequest(limit: 50)).items
            #expect(events.contains { $0.action == "admin.access_denied" && $0.outcome == .failure })
        }
    }

    @Test func failedAuthenticationIsAuditedWithoutTheToken() async throws {
        try await Harness.run { h in
            _ = try await h.request(.get, "/api/admin/v1/users", token: "sigil_at_forged-token-value")
            let events = try await h.store.audit.list(tenantID: nil, page: PageRequest(limit: 50)).items
            let failure = try #require(events.first { $0.action == "admin.authentication_failed" })
            #expect(failure.outcome == .failure)
            let encoded = String(decoding: try JSONEncoder().encode(events), as: UTF8.self)
            #expect(!encoded.contains("forged-token-value"))
            #expect(!encoded.contains(h.globalToken))
        }
    }

    @Test func usersPaginateWithCursors() async throws {
        try await Harness.run { h in
            for i in 0..<5 {
                _ = try await h.admin(.post, "/users", json: #"{"email":"u\#(i)@example.com","given_name":"U","family_name":"\#(i)"}"#)
            }
            var seen: [String] = []
            var cursor: String?
            repeat {
                let page = try await h.admin(.get, "/users?limit=2" + (cursor.map { "&cursor=\($0)" } ?? "")).json()
                seen += (page["items"] as? [[String: Any]] ?? []).compactMap { $0["email"] as? String }
                cursor = page["next_cursor"] as? String
            } while cursor != nil && seen.count < 20
            #expect(Set(seen) == Set((0..<5).map { "u\($0)@example.com" }))
            #expect(seen.count == 5)
        }
    }

    @Test func oidcClientSecretIsShownOnceAndStoredHashed() async throws {
        try await Harness.run { h in
            let created = try await h.admin(
                .post, "/applications",
                json: """
                    {"name":"Portal","protocol":"oidc","redirect_uris":["https://rp.example/cb"],"require_par":true,"allowed_scopes":["openid","email","identity_assurance"]}
                    """)
            #expect(created.status == .created, "\(created.text)")
            let body = try created.json()
            let secret = try #require(body["client_secret"] as? String)
            let id = try #require(body["id"] as? String)
            let oidc = try #require(body["oidc"] as? [String: Any])
            #expect(oidc["require_par"] as? Bool == true)
            #expect(oidc["token_endpoint_auth_method"] as? String == "client_secret_basic")
            let read = try await h.admin(.get, "/applications/\(id)")
            #expect(try read.json()["client_secret"] == nil)
            #expect(!read.text.contains(secret))
            let stored = try await h.store.applications.get(tenantID: try await h.defaultTenant().id, id: id)
            guard case .oidc(let settings) = stored.settings else { Issue.record("not oidc"); return }
            #expect(settings.clientSecretHash == tokenHash(secret))
            // Registering the real callback later (the Auth0 flow) is a PATCH.
            let patched = try await h.admin(.patch, "/applications/\(id)", json: #"{"redirect_uris":["https://tenant.auth0.com/login/callback"]}"#)
            #expect(patched.status == .ok, "\(patched.text)")
            #expect((try patched.json()["oidc"] as? [String: Any])?["redirect_uris"] as? [String] == ["https://tenant.auth0.com/login/callback"])
            let events = try await h.store.audit.list(tenantID: nil, page: PageRequest(limit: 50)).items
            #expect(!String(decoding: try JSONEncoder().encode(events), as: UTF8.self).contains(secret))
            // A public client gets no secret.
            let publicClient = try await h.admin(
                .post, "/applications", json: #"{"name":"SPA","protocol":"oidc","public":true,"redirect_uris":["http://localhost:3000/cb"]}"#)
            #expect(publicClient.status == .created)
            #expect(try publicClient.json()["client_secret"] == nil)
        }
    }

    @Test func samlServiceProviders() async throws {
        try await Harness.run { h in
            let created = try await h.admin(
                .post, "/applications",
                json: """
                    {"name":"Okta","protocol":"saml","entity_id":"https://www.okta.com/saml2/service-provider/spabc",
                     "acs":[{"url":"https://acme.okta.com/sso/saml2/0oa1"}],"signing":"response"}
                    """)
            #expect(created.status == .created, "\(created.text)")
            let saml = try #require(try created.json()["saml"] as? [String: Any])
            #expect((saml["attribute_mappings"] as? [[String: Any]])?.compactMap { $0["name"] as? String } == ["email", "firstName", "lastName"])
            #expect(saml["signing"] as? String == "response")
            try await h.admin(
                .post, "/applications",
                json: """
                    {"name":"Dup","protocol":"saml","entity_id":"https://www.okta.com/saml2/service-provider/spabc","acs":[{"url":"https://x.example/acs"}]}
                    """
            ).expectProblem(.conflict, "already-exists")
            let id = try #require(try created.json()["id"] as? String)
            try await h.admin(.patch, "/applications/\(id)", json: #"{"redirect_uris":["https://x.example"]}"#).expectProblem(
                .unprocessableContent, "validation-failed")
            let patched = try await h.admin(.patch, "/applications/\(id)", json: #"{"attribute_mappings":[{"name":"mail","user_field":"email"}]}"#)
            #expect(patched.status == .ok, "\(patched.text)")
        }
    }

    /// What the generated layer must not change: any Accept still gets JSON (and the change is
    /// made once), ETag and Location go out as plain values, and nested objects refuse members
    /// the document does not declare.
    @Test func generatedLayerKeepsTheWireFormat() async throws {
        try await Harness.run { h in
            let created = try await h.admin(.post, "/users", json: Self.ada, headers: [.accept: "text/html"])
            #expect(created.status == .created, "\(created.text)")
            #expect(created.headers[.contentType] == "application/json")
            #expect(created.headers[.eTag] == "\"1\"")
            let id = try #require(try created.json()["id"] as? String)
            #expect(created.headers[.location] == "https://id.example.com/api/admin/v1/users/\(id)")
            #expect(try await h.store.users.list(tenantID: try await h.defaultTenant().id, page: PageRequest(limit: 10)).items.count == 1)
            #expect(!created.text.contains("\n"), "compact JSON, as before")

            let p = try await h.admin(
                .post, "/applications",
                json: """
                    {"name":"SP","protocol":"saml","entity_id":"urn:sp","acs":[{"url":"https://sp.example/acs","role":"x"}]}
                    """
            ).expectProblem(.badRequest, "unknown-field")
            #expect((p["errors"] as? [[String: String]])?.first?["field"] == "acs[0].role")
            #expect(try await h.store.applications.list(tenantID: try await h.defaultTenant().id, page: PageRequest(limit: 10)).items.isEmpty)
        }
    }

    /// The operations themselves are generated from the document (`SigilAdminAPI`, build plugin), so
    /// a documented operation without an implementation does not compile. What is left to check
    /// here: the served document is the repository's file, byte for byte, every documented
    /// method and path is what the generated code registered, and each is served (not 404).
    @Test func openAPIDocumentListsExactlyTheRegisteredRoutes() async throws {
        try await Harness.run { h in
            let response = try await h.request(.get, "/api/admin/v1/openapi.json")
            #expect(response.status == .ok)
            let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
                .appendingPathComponent("Sources/SigilAdminAPI/openapi.json")
            #expect(response.text == (try String(contentsOf: file, encoding: .utf8)), "the served document is not the repository's file")
            let document = try response.json()
            #expect(document["openapi"] as? String == "3.1.0")
            let paths = try #require(document["paths"] as? [String: [String: Any]])
            var documented: Set<String> = []
            for (path, operations) in paths {
                for method in operations.keys { documented.insert("\(method.uppercased()) \(path)") }
            }
            let routes = AdminAPI(services: h.services).routes
            let registered = Set(routes.map { "\($0.method.rawValue) \($0.path)" })
            #expect(routes.count == registered.count, "a route is registered twice")
            #expect(documented == registered, "only documented: \(documented.subtracting(registered)); only routed: \(registered.subtracting(documented))")
            // Every operation in the document is really served (not 404) by the router.
            for route in routes where route.path != "/api/admin/v1/openapi.json" {
                let path = route.path.replacingOccurrences(of: "{id}", with: "x_missing").replacingOccurrences(of: "{client_id}", with: "c_missing")
                    .replacingOccurrences(of: "{credential_id}", with: "k_missing")
                let r = try await h.request(route.method, path)
                // 401, or 429 once this address has sent 20 requests without a valid token.
                #expect(r.status == .unauthorized || r.status == .tooManyRequests, "\(route.method) \(path) → \(r.status)")
            }
        }
    }
}
