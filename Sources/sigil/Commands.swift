import ArgumentParser
import Foundation
import SigilCore
import SigilServices
import SigilStore

struct TenantCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tenant", abstract: "Manage tenants.",
        subcommands: [Create.self, List.self])

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a tenant with its signing keys.")
        @Argument(help: "Tenant name: lowercase letters, digits and hyphens (used in /t/NAME/).") var name: String
        @Option(help: "A host name whose requests belong to this tenant, e.g. acme.example.com.") var host: String?
        @Option(help: "Display name.") var displayName: String?
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var store: StoreOptions

        func run() async throws {
            try await withRuntime(store) { runtime in
                let t = try await runtime.services.tenants.create(slug: name, displayName: displayName, host: host, by: .cli)
                if json {
                    try printJSON(["id": t.id, "name": t.slug, "display_name": t.displayName, "host": t.host as Any? ?? NSNull()] as [String: Any])
                } else {
                    print("Created tenant \(t.slug) (\(t.id))\(t.host.map { " on host \($0)" } ?? "")")
                }
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List tenants.")
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var store: StoreOptions

        func run() async throws {
            try await withRuntime(store) { runtime in
                let tenants = try await runtime.services.tenants.list()
                if json {
                    try printJSON(
                        tenants.map { ["id": $0.id, "name": $0.slug, "display_name": $0.displayName, "host": $0.host as Any? ?? NSNull()] as [String: Any] })
                } else {
                    for t in tenants { print("\(t.slug)\t\(t.id)\t\(t.host ?? "-")") }
                }
            }
        }
    }
}

struct UserCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "user", abstract: "Manage a tenant's users.",
        subcommands: [Create.self, List.self, Invite.self])

    struct Invite: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print a one-time link (7 days) with which a user registers a passkey; creates the user when names are given.")
        @Option(help: "Tenant name.") var tenant: String
        @Option var email: String
        @Option(help: "Create the user with this given name if they do not exist.") var givenName: String?
        @Option(help: "Create the user with this family name if they do not exist.") var familyName: String?
        @Option(help: "The URL users reach Sigil at (as for serve). [env: SIGIL_PUBLIC_URL] (default: http://127.0.0.1:8080)")
        var publicURL: String?
        @OptionGroup var store: StoreOptions

        func run() async throws {
            try await withRuntime(store) { runtime in
                let t = try await sigil.tenant(runtime, tenant)
                var user = try await runtime.store.users.find(tenantID: t.id, email: email)
                if user == nil {
                    guard let givenName, let familyName else {
                        throw CLIError("no user \(email) in \(tenant); pass --given-name and --family-name to create them")
                    }
                    user = try await runtime.services.users.create(tenantID: t.id, .init(email: email, givenName: givenName, familyName: familyName), by: .cli)
                }
                let issuer = TenantService.issuer(of: t, publicURL: publicURL ?? env("SIGIL_PUBLIC_URL") ?? "http://127.0.0.1:8080")
                let (url, expires) = try await runtime.services.enrolment.createUserInvite(tenant: t, user: user!, issuer: issuer, by: .cli)
                FileHandle.standardError.write(Data("One-time link for \(email), expires \(iso(expires)):\n".utf8))
                print(url.value)
            }
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a user.")
        @Option(help: "Tenant name.") var tenant: String
        @Option var email: String
        @Option var givenName: String
        @Option var familyName: String
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var store: StoreOptions

        func run() async throws {
            try await withRuntime(store) { runtime in
                let t = try await sigil.tenant(runtime, tenant)
                let user = try await runtime.services.users.create(
                    tenantID: t.id, .init(email: email, givenName: givenName, familyName: familyName), by: .cli)
                if json {
                    try printJSON(userJSON(user))
                } else {
                    print("Created user \(user.email) (\(user.id))")
                }
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List a tenant's users.")
        @Option(help: "Tenant name.") var tenant: String
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var store: StoreOptions

        func run() async throws {
            try await withRuntime(store) { runtime in
                let t = try await sigil.tenant(runtime, tenant)
                let users = try await collectAllPages { try await runtime.services.users.list(tenantID: t.id, page: $0, by: .cli) }
                if json {
                    try printJSON(users.map(userJSON))
                } else {
                    for u in users { print("\(u.id)\t\(u.email)\t\(u.givenName) \(u.familyName)\t\(u.status.rawValue)") }
                }
            }
        }
    }
}

func userJSON(_ u: User) -> [String: Any] {
    [
        "id": u.id, "email": u.email, "given_name": u.givenName, "family_name": u.familyName, "status": u.status.rawValue,
        "created_at": iso(u.createdAt), "updated_at": iso(u.updatedAt), "version": u.version,
    ]
}

struct AppCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "app", abstract: "Manage applications (OIDC clients, SAML service providers).",
        subcommands: [
            CreateOIDC.self, CreateSAML.self, List.self, Show.self, Update.self,
            RotateSecret.self, Delete.self,
        ])

    struct CreateOIDC: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "create-oidc",
            abstract: "Register an OIDC client; its secret is printed once.")
        @Option(help: "Tenant name.") var tenant: String
        @Option(help: "Application name.") var name: String
        @Option(name: .customLong("redirect-uri"), help: "Redirect URI (repeat for several).") var redirectURIs: [String] = []
        @Flag(name: .customLong("public"), help: "A public client (no secret; PKCE required).") var isPublic = false
        @Flag(help: "Require pushed authorization requests (RFC 9126).") var requirePar = false
        @Option(name: .customLong("post-logout-redirect-uri"), help: "Post-logout redirect URI (repeat for several).")
        var postLogoutRedirectURIs: [String] = []
        @Option(name: .customLong("grant-type"), help: "Grant type (repeat; default authorization_code and refresh_token).")
        var grantTypes: [String] = []
        @Option(name: .customLong("auth-method"), help: "client_secret_basic (default), client_secret_post, private_key_jwt or none.")
        var authMethod: String?
        @Option(name: .customLong("scope"), help: "Allowed scope (repeat; default openid email profile).") var scopes: [String] = []
        @Option(name: .customLong("jwks-file"), help: "For private_key_jwt: a file holding the client's public JWKS.") var jwksFile: String?
        @Option(name: .customLong("jwks-uri"), help: "For private_key_jwt: the URL the client publishes its JWKS at.") var jwksURI: String?
        @Option(help: "implicit (default: first-party, no consent page) or required (third-party: users approve it once).")
        var consent: String?
        @Option(
            name: .customLong("default-acr"),
            help: "acr value asked for when a request names none (repeat; phrh, phr, urn:sigil:acr:liveid, urn:sigil:acr:authenticator).")
        var defaultACRValues: [String] = []
        @Option(
            name: .customLong("backchannel-logout-uri"),
            help: "OpenID Connect Back-Channel Logout: where logout tokens are POSTed (https; http only on loopback).")
        var backchannelLogoutURI: String?
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var store: StoreOptions

        func run() async throws {
            try await withRuntime(store) { runtime in
                let t = try await sigil.tenant(runtime, tenant)
                var input = ApplicationService.NewOIDCClient(name: name, redirectURIs: redirectURIs)
                input.isPublic = isPublic
                input.requirePAR = requirePar
                input.postLogoutRedirectURIs = postLogoutRedirectURIs
                if !grantTypes.isEmpty { input.grantTypes = grantTypes }
                if !scopes.isEmpty { input.allowedScopes = scopes }
                input.tokenEndpointAuthMethod = authMethod
                if let jwksFile { input.jwks = try String(contentsOfFile: jwksFile, encoding: .utf8) }
                input.jwksURI = jwksURI
                if let consent {
                    guard let mode = OIDCClientSettings.ConsentMode(rawValue: consent) else {
                        throw ValidationError("--consent must be implicit or required")
                    }
                    input.consent = mode
                }
                if !defaultACRValues.isEmpty { input.defaultACRValues = defaultACRValues }
                input.backchannelLogoutURI = backchannelLogoutURI
                input.backchannelLogoutSessionRequired = backchannelLogoutURI == nil ? nil : true
                let (app, secret) = try await runtime.services.applications.createOIDC(tenantID: t.id, input, by: .cli)
                if json {
                    try printJSON(["id": app.id, "client_id": app.clientID ?? "", "client_secret": secret?.value as Any? ?? NSNull()] as [String: Any])
                } else {
                    print("Created OIDC client \(app.name) (\(app.id))")
                    print("client_id:     \(app.clientID ?? "")")
                    if let secret { print("client_secret: \(secret.value)   (shown once: store it now)") }
                }
            }
        }
    }

    struct CreateSAML: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "create-saml",
            abstract: "Register a SAML service provider from its metadata, or from an entity ID and an ACS URL.")
        @Option(help: "Tenant name.") var tenant: String
        @Option(help: "Application name (default: the entity ID).") var name: String?
        @Option(help: "The SP's metadata: a file, or an https URL to fetch it from (EntityDescriptor with an SPSSODescriptor).")
        var metadata: String?
        @Option(name: .customLong("entity-id"), help: "The SP's entity ID (the Audience).") var entityID: String?
        @Option(name: .customLong("acs-url"), help: "Assertion consumer service URL, HTTP-POST (repeat for several; the first is the default).")
        var acsURLs: [String] = []
        @Option(name: .customLong("slo-url"), help: "The SP's single logout URL.") var sloURL: String?
        @Option(
            name: .customLong("slo-binding"),
            help: "How logout messages go to --slo-url: post or redirect (default: what the metadata offers, POST preferred; else post).")
        var sloBinding: String?
        @Option(name: .customLong("name-id-format"), help: "emailAddress, persistent, transient or unspecified (or the full URN).")
        var nameIDFormat: String?
        @Option(help: "What to sign: assertion, response or both (default both).") var signing: String?
        @Option(
            name: .customLong("attribute"),
            help: "Attribute mapping NAME=FIELD (FIELD: email, given_name, family_name, id, amr); repeat. Default: email, firstName, lastName.")
        var attributes: [String] = []
        @Option(name: .customLong("authn-context-class-ref"), help: "A fixed AuthnContextClassRef for this SP.") var authnContextClassRef: String?
        @Option(help: "The SP's signing certificate (PEM file), to verify signed AuthnRequests.") var certificate: String?
        @Flag(name: .customLong("require-signed-requests"), help: "Refuse AuthnRequests not signed with the SP's certificate.")
        var requireSignedRequests = false
        @Flag(name: .customLong("encrypt-assertions"), help: "Sign, then encrypt the assertion to the SP's certificate (AES-256-GCM, RSA-OAEP).")
        var encryptAssertions = false
        @Option(
            name: .customLong("encryption-certificate"), help: "The SP's encryption certificate (PEM file), when not the --certificate (or the metadata's).")
        var encryptionCertificate: String?
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var store: StoreOptions

        func validate() throws {
            if (metadata == nil) == (entityID == nil) {
                throw ValidationError("give either --metadata FILE or --entity-id with --acs-url")
            }
            if entityID != nil && acsURLs.isEmpty { throw ValidationError("--entity-id needs at least one --acs-url") }
        }

        func run() async throws {
            try await withRuntime(store) { runtime in
                var settings: SAMLServiceProviderSettings
                if let metadata, metadata.lowercased().hasPrefix("https://") || metadata.lowercased().hasPrefix("http://") {
                    settings = try await runtime.services.applications.samlSettings(fromMetadataURL: metadata)
                } else if let metadata {
                    let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: metadata)))
                    settings = try SAMLIdentityProviderService.settings(fromMetadata: bytes)
                } else {
                    settings = SAMLServiceProviderSettings(entityID: entityID ?? "", assertionConsumerServices: [])
                }
                if !acsURLs.isEmpty {
                    settings.assertionConsumerServices = acsURLs.enumerated().map { .init(url: $1, index: $0, isDefault: $0 == 0) }
                }
                try await create(runtime, settings)
            }
        }

        func create(_ runtime: Runtime, _ fetched: SAMLServiceProviderSettings) async throws {
            var settings = fetched
            if let sloURL { settings.singleLogoutURL = sloURL }
            if let sloBinding {
                guard let binding = SAMLServiceProviderSettings.LogoutBinding(rawValue: sloBinding) else {
                    throw CLIError("--slo-binding must be post or redirect")
                }
                settings.singleLogoutBinding = binding
            }
            // The service accepts the short spellings too (NameIDFormat(spelling:)), as the admin API does.
            if let nameIDFormat { settings.nameIDFormat = nameIDFormat }
            if let signing {
                guard let s = SAMLServiceProviderSettings.Signing(rawValue: signing) else {
                    throw ValidationError("--signing must be assertion, response or both")
                }
                settings.signing = s
            }
            if !attributes.isEmpty {
                settings.attributeMappings = try attributes.map { pair in
                    let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
                    guard parts.count == 2 else { throw ValidationError("--attribute takes NAME=FIELD") }
                    return .init(name: parts[0], userField: parts[1])
                }
            }
            if let authnContextClassRef { settings.authnContextClassRef = authnContextClassRef }
            if let certificate { settings.certificatePEM = try String(contentsOfFile: certificate, encoding: .utf8) }
            if requireSignedRequests { settings.wantAuthnRequestsSigned = true }
            if let encryptionCertificate { settings.encryptionCertificatePEM = try String(contentsOfFile: encryptionCertificate, encoding: .utf8) }
            if encryptAssertions { settings.encryptAssertions = true }
            let finalSettings = settings
            do {
                let t = try await sigil.tenant(runtime, tenant)
                let app = try await runtime.services.applications.createSAML(
                    tenantID: t.id, .init(name: name ?? finalSettings.entityID, settings: finalSettings), by: .cli)
                if json {
                    try printJSON(
                        [
                            "id": app.id, "name": app.name, "entity_id": finalSettings.entityID,
                            "acs": finalSettings.assertionConsumerServices.map(\.url), "name_id_format": finalSettings.nameIDFormat,
                            "signing": finalSettings.signing.rawValue, "slo_url": finalSettings.singleLogoutURL ?? NSNull(),
                            "slo_binding": finalSettings.logoutBinding.rawValue,
                            "require_signed_requests": finalSettings.wantAuthnRequestsSigned ?? false,
                            "encrypt_assertions": finalSettings.encryptAssertions,
                        ] as [String: Any])
                } else {
                    print("Created SAML service provider \(app.name) (\(app.id))")
                    print("entity ID: \(finalSettings.entityID)")
                    print("ACS:       \(finalSettings.assertionConsumerServices.map(\.url).joined(separator: " "))")
                }
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List a tenant's applications.")
        @Option(help: "Tenant name.") var tenant: String
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var store: StoreOptions

        func run() async throws {
            try await withRuntime(store) { runtime in
                let t = try await sigil.tenant(runtime, tenant)
                let apps = try await collectAllPages { try await runtime.services.applications.list(tenantID: t.id, page: $0, by: .cli) }
                if json {
                    try printJSON(
                        apps.map { app -> [String: Any] in
                            var o: [String: Any] = ["id": app.id, "name": app.name, "protocol": app.kind]
                            if case .oidc(let s) = app.settings {
                                o["client_id"] = s.clientID; o["redirect_uris"] = s.redirectURIs; o["public"] = s.isPublic
                                o["require_par"] = s.requirePAR
                            }
                            if case .saml(let s) = app.settings { o["entity_id"] = s.entityID }
                            return o
                        })
                } else {
                    for app in apps { print("\(app.id)\t\(app.kind)\t\(app.name)\t\(app.clientID ?? app.entityID ?? "")") }
                }
            }
        }
    }
}

struct KeysCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys", abstract: "Manage a tenant's signing keys.",
        subcommands: [Rotate.self, List.self])

    struct Rotate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Rotate: next → current → previous, and a new next key.")
        @Option(help: "Tenant name.") var tenant: String
        @OptionGroup var store: StoreOptions

        func run() async throws {
            try await withRuntime(store) { runtime in
                let t = try await sigil.tenant(runtime, tenant)
                for r in try await runtime.services.keys.rotate(tenantID: t.id, by: .cli) {
                    print("\(r.algorithm): current \(r.current), next \(r.next), previous \(r.previous ?? "-")")
                }
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List signing keys (public data).")
        @Option(help: "Tenant name.") var tenant: String
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var store: StoreOptions

        func run() async throws {
            try await withRuntime(store) { runtime in
                let t = try await sigil.tenant(runtime, tenant)
                let keys = try await runtime.services.keys.list(tenantID: t.id)
                if json {
                    try printJSON(keys.map { ["kid": $0.kid, "alg": $0.algorithm, "state": $0.state.rawValue, "created_at": iso($0.createdAt)] })
                } else {
                    for k in keys { print("\(k.algorithm)\t\(k.state.rawValue)\t\(k.kid)") }
                }
            }
        }
    }
}

struct AdminCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "admin", abstract: "Administration credentials.",
        subcommands: [Token.self])

    struct Token: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Admin API tokens.", subcommands: [Create.self])

        struct Create: AsyncParsableCommand {
            static let configuration = CommandConfiguration(abstract: "Create an admin API token and print it (shown once).")
            @Option(help: "Limit the token to one tenant (default: global).") var tenant: String?
            @Option(help: "A name to recognise the token by.") var name: String = "cli"
            @OptionGroup var store: StoreOptions

            func run() async throws {
                try await withRuntime(store) { runtime in
                    var tenantID: String?
                    if let tenant { tenantID = try await sigil.tenant(runtime, tenant).id }
                    let (_, token) = try await runtime.services.adminTokens.create(tenantID: tenantID, name: name, by: .cli)
                    print(token.value)
                }
            }
        }
    }
}

/// Reads every page of a cursor-paginated list.
func collectAllPages<Item: Sendable>(_ fetch: (PageRequest) async throws -> Page<Item>) async throws -> [Item] {
    var items: [Item] = []
    var cursor: String?
    repeat {
        let page = try await fetch(PageRequest(limit: PageRequest.maximumLimit, after: cursor))
        items += page.items
        cursor = page.nextCursor
    } while cursor != nil
    return items
}
