import ArgumentParser
import Foundation
import SigilServices
import SigilStore

/// `sigil app show|update|rotate-secret|delete`: an application named by its id, OIDC
/// `client_id` or SAML entity ID.
extension AppCommand {
    struct Show: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show an application's settings (never its secret).")
        @Option(help: "Tenant name.") var tenant: String
        @Argument(help: "The application's id, client_id or entity ID.") var application: String
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var store: StoreOptions

        func run() async throws {
            try await withRuntime(store) { runtime in
                let t = try await sigil.tenant(runtime, tenant)
                let app = try await findApplication(runtime, tenantID: t.id, application)
                try printApplication(app, json: json)
            }
        }
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Change an OIDC client's settings; options not given are left as they are.",
            discussion: """
                Lists given with --redirect-uri (and the other repeatable options) replace the stored list;
                --add-redirect-uri and --remove-redirect-uri edit it (Auth0's setup registers a placeholder
                callback first and the real one later).
                """)
        @Option(help: "Tenant name.") var tenant: String
        @Argument(help: "The application's id or client_id.") var application: String
        @Option(help: "New name.") var name: String?
        @Option(name: .customLong("redirect-uri"), help: "Replace the redirect URIs (repeat).") var redirectURIs: [String] = []
        @Option(name: .customLong("add-redirect-uri"), help: "Add a redirect URI (repeat).") var addRedirectURIs: [String] = []
        @Option(name: .customLong("remove-redirect-uri"), help: "Remove a redirect URI (repeat).") var removeRedirectURIs: [String] = []
        @Option(name: .customLong("post-logout-redirect-uri"), help: "Replace the post-logout redirect URIs (repeat).")
        var postLogoutRedirectURIs: [String] = []
        @Option(name: .customLong("grant-type"), help: "Replace the grant types (repeat).") var grantTypes: [String] = []
        @Option(name: .customLong("auth-method"), help: "client_secret_basic, client_secret_post or private_key_jwt.") var authMethod: String?
        @Option(name: .customLong("scope"), help: "Replace the allowed scopes (repeat).") var scopes: [String] = []
        @Option(name: .customLong("require-par"), help: "true or false.") var requirePAR: Bool?
        @Option(name: .customLong("require-pkce"), help: "true or false (public clients always use PKCE).") var requirePKCE: Bool?
        @Option(name: .customLong("id-token-alg"), help: "RS256 or ES256.") var idTokenAlg: String?
        @Option(name: .customLong("access-token-lifetime"), help: "Seconds (30–86400).") var accessTokenLifetime: Int?
        @Option(name: .customLong("id-token-lifetime"), help: "Seconds (30–86400).") var idTokenLifetime: Int?
        @Option(name: .customLong("refresh-token-lifetime"), help: "Seconds (60–31536000).") var refreshTokenLifetime: Int?
        @Option(name: .customLong("jwks-file"), help: "For private_key_jwt: a file holding the client's public JWKS.") var jwksFile: String?
        @Option(name: .customLong("jwks-uri"), help: "For private_key_jwt: the URL the client publishes its JWKS at.") var jwksURI: String?
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var store: StoreOptions

        func validate() throws {
            if !redirectURIs.isEmpty && !(addRedirectURIs.isEmpty && removeRedirectURIs.isEmpty) {
                throw ValidationError("--redirect-uri replaces the list: do not combine it with --add-redirect-uri/--remove-redirect-uri")
            }
            if jwksFile != nil && jwksURI != nil { throw ValidationError("give --jwks-file or --jwks-uri, not both") }
        }

        func run() async throws {
            let jwks = try jwksFile.map { try String(contentsOfFile: $0, encoding: .utf8) }
            let options = self
            try await withRuntime(store) { runtime in
                let t = try await sigil.tenant(runtime, tenant)
                let found = try await findApplication(runtime, tenantID: t.id, application)
                guard case .oidc = found.settings else {
                    throw CLIError("\(application) is a SAML service provider; update it with the admin API (PATCH /applications/{id})")
                }
                let missing = options.removeRedirectURIs.filter { uri in
                    if case .oidc(let s) = found.settings { return !s.redirectURIs.contains(uri) }
                    return false
                }
                if !missing.isEmpty { throw CLIError("not registered, so not removed: \(missing.joined(separator: " "))") }
                var change = ApplicationService.Change()
                change.name = options.name
                if !options.redirectURIs.isEmpty { change.redirectURIs = options.redirectURIs }
                change.addRedirectURIs = options.addRedirectURIs
                change.removeRedirectURIs = options.removeRedirectURIs
                if !options.postLogoutRedirectURIs.isEmpty { change.postLogoutRedirectURIs = options.postLogoutRedirectURIs }
                if !options.grantTypes.isEmpty { change.grantTypes = options.grantTypes }
                change.tokenEndpointAuthMethod = options.authMethod
                if !options.scopes.isEmpty { change.allowedScopes = options.scopes }
                change.requirePAR = options.requirePAR
                change.requirePKCE = options.requirePKCE
                change.idTokenSigningAlg = options.idTokenAlg
                change.accessTokenLifetimeSeconds = options.accessTokenLifetime
                change.idTokenLifetimeSeconds = options.idTokenLifetime
                change.refreshTokenLifetimeSeconds = options.refreshTokenLifetime
                change.jwks = jwks
                change.jwksURI = options.jwksURI
                let app = try await runtime.services.applications.update(
                    tenantID: t.id, id: found.id, expectedVersion: found.version,
                    change, by: .cli)
                try printApplication(app, json: options.json)
            }
        }
    }

    struct RotateSecret: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "rotate-secret",
            abstract: "Give an OIDC client a new secret, printed once.",
            discussion: """
                Without --grace the old secret stops working at once (for a leaked secret). With --grace
                SECONDS it keeps working that long (at most 7 days), so the client can be redeployed
                with the new one first.
                """)
        @Option(help: "Tenant name.") var tenant: String
        @Argument(help: "The application's id or client_id.") var application: String
        @Option(help: "Seconds the old secret stays valid (0–604800).") var grace: Int = 0
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var store: StoreOptions

        func run() async throws {
            try await withRuntime(store) { runtime in
                let t = try await sigil.tenant(runtime, tenant)
                let found = try await findApplication(runtime, tenantID: t.id, application)
                let (app, secret) = try await runtime.services.applications.rotateSecret(
                    tenantID: t.id, id: found.id, expectedVersion: found.version, grace: TimeInterval(grace), by: .cli)
                var until: Date?
                if case .oidc(let s) = app.settings, s.previousClientSecretHash != nil { until = s.previousClientSecretExpiresAt }
                if json {
                    try printJSON(
                        [
                            "id": app.id, "client_id": app.clientID ?? "", "client_secret": secret.value,
                            "previous_secret_expires_at": until.map(iso) as Any? ?? NSNull(),
                        ] as [String: Any])
                } else {
                    print("client_secret: \(secret.value)   (shown once: store it now)")
                    if let until { print("The previous secret works until \(iso(until)).") } else { print("The previous secret no longer works.") }
                }
            }
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete an application.")
        @Option(help: "Tenant name.") var tenant: String
        @Argument(help: "The application's id, client_id or entity ID.") var application: String
        @OptionGroup var store: StoreOptions

        func run() async throws {
            try await withRuntime(store) { runtime in
                let t = try await sigil.tenant(runtime, tenant)
                let found = try await findApplication(runtime, tenantID: t.id, application)
                try await runtime.services.applications.delete(tenantID: t.id, id: found.id, expectedVersion: found.version, by: .cli)
                print("Deleted \(found.kind) application \(found.name) (\(found.id))")
            }
        }
    }
}

/// An application by id, then by client_id, then by entity ID.
func findApplication(_ runtime: Runtime, tenantID: String, _ reference: String) async throws -> Application {
    if let app = try? await runtime.services.applications.get(tenantID: tenantID, id: reference, by: .cli) { return app }
    if let app = try await runtime.store.applications.find(tenantID: tenantID, clientID: reference) { return app }
    if let app = try await runtime.store.applications.find(tenantID: tenantID, entityID: reference) { return app }
    throw CLIError("no application \(reference) in this tenant (see: sigil app list)")
}

/// Everything but secrets and secret hashes.
func applicationJSON(_ app: Application) -> [String: Any] {
    var o: [String: Any] = [
        "id": app.id, "name": app.name, "protocol": app.kind, "version": app.version,
        "created_at": iso(app.createdAt), "updated_at": iso(app.updatedAt),
    ]
    switch app.settings {
    case .oidc(let s):
        o["client_id"] = s.clientID; o["redirect_uris"] = s.redirectURIs; o["public"] = s.isPublic
        o["post_logout_redirect_uris"] = s.postLogoutRedirectURIs; o["grant_types"] = s.grantTypes
        o["token_endpoint_auth_method"] = s.tokenEndpointAuthMethod; o["require_pkce"] = s.requirePKCE
        o["require_par"] = s.requirePAR; o["allowed_scopes"] = s.allowedScopes; o["id_token_signed_response_alg"] = s.idTokenSigningAlg
        o["access_token_lifetime"] = s.accessTokenLifetimeSeconds; o["id_token_lifetime"] = s.idTokenLifetimeSeconds
        o["refresh_token_lifetime"] = s.refreshTokenLifetimeSeconds
        if let uri = s.jwksURI { o["jwks_uri"] = uri }
        if let jwks = s.jwks, let object = try? JSONSerialization.jsonObject(with: Data(jwks.utf8)) { o["jwks"] = object }
        if s.previousClientSecretHash != nil, let until = s.previousClientSecretExpiresAt { o["previous_secret_expires_at"] = iso(until) }
    case .saml(let s):
        o["entity_id"] = s.entityID; o["acs"] = s.assertionConsumerServices.map(\.url); o["name_id_format"] = s.nameIDFormat
        o["signing"] = s.signing.rawValue; o["encrypt_assertions"] = s.encryptAssertions
        o["require_signed_requests"] = s.wantAuthnRequestsSigned ?? false
        if let slo = s.singleLogoutURL { o["slo_url"] = slo; o["slo_binding"] = s.logoutBinding.rawValue }
        o["attributes"] = s.attributeMappings.map { "\($0.name)=\($0.userField)" }
    }
    return o
}

func printApplication(_ app: Application, json: Bool) throws {
    if json { return try printJSON(applicationJSON(app)) }
    let o = applicationJSON(app)
    for key in o.keys.sorted() {
        let value = o[key]!
        let text = (value as? [String]).map { $0.joined(separator: " ") } ?? "\(value)"
        print("\(key.padding(toLength: 28, withPad: " ", startingAt: 0)) \(text)")
    }
}
