import ArgumentParser
import Foundation
import SigilServices
import SigilStore

/// `sigil upstream …`: a tenant's upstream identity providers (Sigil as SAML service provider).
struct UpstreamCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "upstream", abstract: "Manage upstream identity providers (Sigil as SAML service provider or OpenID Connect relying party).",
        subcommands: [CreateSAML.self, CreateOIDC.self, List.self, Traces.self, Trace.self, Refresh.self, Enable.self, Disable.self, Delete.self])

    /// Shared by the subcommands that print SP values.
    struct Location: ParsableArguments {
        @Option(help: "The URL users reach Sigil at (as for serve). [env: SIGIL_PUBLIC_URL] (default: http://127.0.0.1:8080)")
        var publicURL: String?

        func issuer(_ t: Tenant) -> String {
            TenantService.issuer(of: t, publicURL: publicURL ?? env("SIGIL_PUBLIC_URL") ?? "http://127.0.0.1:8080")
        }
    }

    struct CreateSAML: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "create-saml",
            abstract: "Import a SAML identity provider from its metadata (URL or file), or from an entity ID, SSO URL and certificate.")
        @Option(help: "Tenant name.") var tenant: String
        @Option(help: "Connection name: a-z, 0-9 and -; used in /saml/sp/NAME/… and /login/upstream/NAME.") var name: String
        @Option(name: .customLong("display-name"), help: "What the login page's button says (\"Sign in with …\"). Default: the name.")
        var displayName: String?
        @Option(help: "The IdP's metadata: an http(s) URL (refreshed on schedule) or a file.") var metadata: String?
        @Option(name: .customLong("idp-entity-id"), help: "The IdP's entity ID (by hand, or to pick one IdP out of aggregate metadata).")
        var idpEntityID: String?
        @Option(name: .customLong("sso-url"), help: "By hand: the IdP's single sign-on URL.") var ssoURL: String?
        @Option(name: .customLong("sso-binding"), help: "By hand: redirect (default) or post.") var ssoBinding: String = "redirect"
        @Option(name: .customLong("certificate"), help: "By hand: the IdP's signing certificate (PEM file); repeat for a rollover.")
        var certificates: [String] = []
        @Option(name: .customLong("metadata-certificate"), help: "The metadata must be signed by this certificate (PEM file).")
        var metadataCertificate: String?
        @Option(name: .customLong("email-domain"), help: "Route users with an email in this domain here from the login page; repeat.")
        var emailDomains: [String] = []
        @Option(
            name: .customLong("link-domain"),
            help: "Link an existing user whose email is in this domain on their first sign-in here; repeat. Others are never linked silently.")
        var linkDomains: [String] = []
        @Option(
            name: .customLong("attribute"),
            help: "Attribute mapping FIELD=NAME (FIELD: email, given_name, family_name); repeat. Default: Okta's email, firstName, lastName.")
        var attributes: [String] = []
        @Option(name: .customLong("name-id-format"), help: "The NameID format to ask for (default: emailAddress when offered).")
        var nameIDFormat: String?
        @Flag(name: .customLong("no-provisioning"), help: "Do not create users on first sign-in.") var noProvisioning = false
        @Flag(name: .customLong("allow-unsolicited"), help: "Accept IdP-initiated (unsolicited) responses. Off by default: login CSRF.")
        var allowUnsolicited = false
        @Flag(name: .customLong("allow-insecure-sha1"), help: "Accept RSA-SHA1 signatures. Insecure.") var allowInsecureSHA1 = false
        @Flag(name: .customLong("step-up"), help: "After the IdP's sign-in, also ask for the user's Sigil passkey or authenticator (push).") var stepUp = false
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var location: Location
        @OptionGroup var store: StoreOptions

        func validate() throws {
            if metadata == nil && (ssoURL == nil || idpEntityID == nil || certificates.isEmpty) {
                throw ValidationError("give --metadata URL|FILE, or --idp-entity-id, --sso-url and --certificate")
            }
        }

        func run() async throws {
            var mapping = UpstreamAttributeMapping()
            for pair in attributes {
                let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
                guard parts.count == 2 else { throw ValidationError("--attribute takes FIELD=NAME") }
                switch parts[0] {
                case "email": mapping.email = parts[1]
                case "given_name": mapping.givenName = parts[1]
                case "family_name": mapping.familyName = parts[1]
                default: throw ValidationError("--attribute FIELD must be email, given_name or family_name")
                }
            }
            let source: UpstreamService.MetadataSource
            if let metadata, metadata.lowercased().hasPrefix("https://") || metadata.lowercased().hasPrefix("http://") {
                source = .url(metadata)
            } else if let metadata {
                source = .document(try [UInt8](Data(contentsOf: URL(fileURLWithPath: metadata))))
            } else {
                source = .manual(
                    entityID: idpEntityID ?? "", ssoURL: ssoURL ?? "", ssoBinding: ssoBinding, sloURL: nil,
                    certificatesPEM: try certificates.map { try String(contentsOfFile: $0, encoding: .utf8) })
            }
            var input = UpstreamService.NewSAMLConnection(
                name: name, displayName: displayName, metadata: source, idpEntityID: metadata == nil ? nil : idpEntityID,
                metadataSigningCertificatePEM: try metadataCertificate.map { try String(contentsOfFile: $0, encoding: .utf8) },
                attributes: mapping, emailDomains: emailDomains, linkDomains: linkDomains, provisionUsers: !noProvisioning,
                allowUnsolicited: allowUnsolicited, allowInsecureSHA1: allowInsecureSHA1, nameIDFormat: nameIDFormat)
            input.stepUp = stepUp
            let saml = input
            try await withRuntime(store) { runtime in
                let t = try await sigil.tenant(runtime, tenant)
                let c = try await runtime.services.upstreams.createSAML(tenantID: t.id, saml, by: .cli)
                try show(c, issuer: location.issuer(t), json: json)
            }
        }
    }

    static func describe(_ c: UpstreamConnection, issuer: String) -> [String: Any] {
        var out: [String: Any] = [
            "id": c.id, "name": c.name, "display_name": c.displayName, "enabled": c.enabled, "protocol": c.protocolName,
            "email_domains": c.policy.emailDomains, "link_domains": c.policy.linkDomains, "provision_users": c.policy.provisionUsers,
            "step_up": c.policy.stepUp,
            "attributes": ["email": c.policy.attributes.email, "given_name": c.policy.attributes.givenName, "family_name": c.policy.attributes.familyName],
        ]
        switch c.settings {
        case .saml(let saml):
            let sp = UpstreamService.spValues(issuer: issuer, name: c.name)
            out.merge([
                "sp_entity_id": sp.entityID, "acs_url": sp.acsURL, "sp_metadata_url": sp.metadataURL, "idp_entity_id": saml.idpEntityID,
                "sso_url": saml.ssoURL, "sso_binding": saml.ssoBinding, "slo_url": saml.sloURL ?? NSNull(),
                "signing_certificates": saml.signingCertificatesPEM.map(UpstreamService.fingerprint),
                "metadata_url": saml.metadataURL ?? NSNull(), "metadata_valid_until": saml.metadataValidUntil.map(iso) ?? NSNull(),
                "metadata_fetched_at": saml.metadataFetchedAt.map(iso) ?? NSNull(),
                "metadata_refresh_error": saml.metadataRefreshError ?? NSNull(), "allow_unsolicited": saml.allowUnsolicited,
            ]) { a, _ in a }
        case .oidc(let oidc):
            let rp = UpstreamService.rpValues(issuer: issuer, name: c.name)
            out.merge([
                "issuer": oidc.issuer, "client_id": oidc.clientID, "auth_method": oidc.authMethod, "redirect_uri": rp.redirectURI,
                "jwks_uri": rp.jwksURI, "scopes": oidc.scopes, "use_par": oidc.usePAR, "authorization_endpoint": oidc.authorizationEndpoint,
                "token_endpoint": oidc.tokenEndpoint, "discovery_fetched_at": oidc.discoveryFetchedAt.map(iso) ?? NSNull(),
                "discovery_refresh_error": oidc.discoveryRefreshError ?? NSNull(),
                "post_logout_redirect_uri": rp.postLogoutRedirectURI, "backchannel_logout_uri": rp.backchannelLogoutURI,
                "end_session_endpoint": oidc.endSessionEndpoint ?? NSNull(),
                "backchannel_logout_supported": oidc.backchannelLogoutSupported ?? false,
            ]) { a, _ in a }
        }
        return out
    }

    static func show(_ c: UpstreamConnection, issuer: String, json: Bool) throws {
        if json {
            try printJSON(describe(c, issuer: issuer))
            return
        }
        switch c.settings {
        case .saml(let saml):
            let sp = UpstreamService.spValues(issuer: issuer, name: c.name)
            print("SAML connection \(c.name) (\(c.id))\(c.enabled ? "" : " [disabled]")")
            print("IdP entity ID:   \(saml.idpEntityID)")
            print("IdP SSO URL:     \(saml.ssoURL) (\(saml.ssoBinding))")
            print("IdP certificates: \(saml.signingCertificatesPEM.map { String(UpstreamService.fingerprint($0).prefix(16)) }.joined(separator: " "))")
            print("Give the IdP these values (or the metadata URL):")
            print("  SP entity ID:  \(sp.entityID)")
            print("  ACS URL:       \(sp.acsURL) (HTTP-POST)")
            print("  SP metadata:   \(sp.metadataURL)")
        case .oidc(let oidc):
            let rp = UpstreamService.rpValues(issuer: issuer, name: c.name)
            print("OIDC connection \(c.name) (\(c.id))\(c.enabled ? "" : " [disabled]")")
            print("Issuer:          \(oidc.issuer)")
            print("Client ID:       \(oidc.clientID) (\(oidc.authMethod))")
            print("Register at the provider:")
            print("  Redirect URI:  \(rp.redirectURI)")
            if oidc.authMethod == "private_key_jwt" { print("  JWKS URI:      \(rp.jwksURI)") }
            print(
                "  Post-logout redirect URI: \(rp.postLogoutRedirectURI)\(oidc.endSessionEndpoint == nil ? " (the provider has no end_session_endpoint)" : "")")
            print("  Back-channel logout URI:  \(rp.backchannelLogoutURI) (with sid required)")
        }
    }

    struct CreateOIDC: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "create-oidc", abstract: "Add an OpenID Provider (from its issuer's discovery document) that users may sign in with.")
        @Option(help: "Tenant name.") var tenant: String
        @Option(help: "Connection name: a-z, 0-9 and -; used in /oidc/rp/NAME/… and /login/upstream/NAME.") var name: String
        @Option(name: .customLong("display-name"), help: "What the login page's button says. Default: the name.") var displayName: String?
        @Option(help: "The provider's issuer (its discovery document is read from ISSUER/.well-known/openid-configuration).") var issuer: String
        @Option(name: .customLong("client-id"), help: "The client ID the provider gave Sigil.") var clientID: String
        @Option(name: .customLong("client-secret"), help: "The client secret (not with private_key_jwt). [env: SIGIL_UPSTREAM_CLIENT_SECRET]")
        var clientSecret: String?
        @Option(name: .customLong("auth-method"), help: "client_secret_basic (default with a secret), client_secret_post or private_key_jwt.")
        var authMethod: String?
        @Option(help: "Scopes, space-separated (default: openid email profile).") var scope: String = "openid email profile"
        @Flag(help: "Push the authorization request (RFC 9126).") var par = false
        @Option(name: .customLong("email-domain"), help: "Route users with an email in this domain here from the login page; repeat.")
        var emailDomains: [String] = []
        @Option(name: .customLong("link-domain"), help: "Link an existing user whose email is in this domain on first sign-in; repeat.")
        var linkDomains: [String] = []
        @Option(name: .customLong("claim"), help: "Claim mapping FIELD=CLAIM (FIELD: email, given_name, family_name); repeat.")
        var claims: [String] = []
        @Flag(name: .customLong("no-provisioning"), help: "Do not create users on first sign-in.") var noProvisioning = false
        @Flag(name: .customLong("step-up"), help: "After the provider's sign-in, also ask for the user's Sigil passkey or authenticator (push).") var stepUp =
            false
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var location: Location
        @OptionGroup var store: StoreOptions

        func run() async throws {
            var mapping = UpstreamAttributeMapping(email: "email", givenName: "given_name", familyName: "family_name")
            for pair in claims {
                let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
                guard parts.count == 2 else { throw ValidationError("--claim takes FIELD=CLAIM") }
                switch parts[0] {
                case "email": mapping.email = parts[1]
                case "given_name": mapping.givenName = parts[1]
                case "family_name": mapping.familyName = parts[1]
                default: throw ValidationError("--claim FIELD must be email, given_name or family_name")
                }
            }
            let input = UpstreamService.NewOIDCConnection(
                name: name, displayName: displayName, issuer: issuer, clientID: clientID,
                clientSecret: clientSecret ?? env("SIGIL_UPSTREAM_CLIENT_SECRET"), authMethod: authMethod,
                scopes: scope.split(separator: " ").map(String.init), usePAR: par,
                policy: UpstreamPolicy(
                    attributes: mapping, emailDomains: emailDomains, linkDomains: linkDomains, provisionUsers: !noProvisioning, stepUp: stepUp))
            try await withRuntime(store) { runtime in
                let t = try await sigil.tenant(runtime, tenant)
                let c = try await runtime.services.upstreams.createOIDC(tenantID: t.id, input, by: .cli)
                try show(c, issuer: location.issuer(t), json: json)
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List a tenant's upstream identity providers.")
        @Option(help: "Tenant name.") var tenant: String
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var location: Location
        @OptionGroup var store: StoreOptions

        func run() async throws {
            try await withRuntime(store) { runtime in
                let t = try await sigil.tenant(runtime, tenant)
                let all = try await runtime.services.upstreams.list(tenantID: t.id, by: .cli)
                if json {
                    try printJSON(all.map { UpstreamCommand.describe($0, issuer: location.issuer(t)) })
                } else {
                    for c in all {
                        let idp = c.saml?.idpEntityID ?? c.oidc?.issuer ?? ""
                        print("\(c.name)\t\(c.protocolName)\t\(c.enabled ? "enabled" : "disabled")\t\(idp)\t\(c.refreshURL ?? "-")")
                    }
                }
            }
        }
    }

    struct Refresh: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Fetch a connection's metadata URL now and print what changed.")
        @Option(help: "Tenant name.") var tenant: String
        @Option(help: "Connection name.") var name: String
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var store: StoreOptions

        func run() async throws {
            try await withRuntime(store) { runtime in
                let t = try await sigil.tenant(runtime, tenant)
                let result = try await runtime.services.upstreams.refresh(tenantID: t.id, name: name, by: .cli)
                if json {
                    try printJSON(["changes": result.changes, "failure": result.failure ?? NSNull()] as [String: Any])
                } else if let failure = result.failure {
                    print("refresh failed (the last good metadata stays in use): \(failure)")
                } else if result.changes.isEmpty {
                    print("no change")
                } else {
                    for line in result.changes { print(line) }
                }
                if result.failure != nil { throw ExitCode(1) }
            }
        }
    }

    struct Enable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Offer a connection on the login page and accept its responses.")
        @Option(help: "Tenant name.") var tenant: String
        @Option(help: "Connection name.") var name: String
        @OptionGroup var store: StoreOptions

        func run() async throws { try await UpstreamCommand.setEnabled(true, tenant: tenant, name: name, store: store) }
    }

    struct Disable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Stop offering a connection and refuse its responses.")
        @Option(help: "Tenant name.") var tenant: String
        @Option(help: "Connection name.") var name: String
        @OptionGroup var store: StoreOptions

        func run() async throws { try await UpstreamCommand.setEnabled(false, tenant: tenant, name: name, store: store) }
    }

    static func setEnabled(_ enabled: Bool, tenant: String, name: String, store: StoreOptions) async throws {
        try await withRuntime(store) { runtime in
            let t = try await sigil.tenant(runtime, tenant)
            _ = try await runtime.services.upstreams.setEnabled(tenantID: t.id, name: name, enabled: enabled, by: .cli)
            print("\(enabled ? "enabled" : "disabled") \(name)")
        }
    }

    struct Delete: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Delete a connection and its links to users (the users stay).")
        @Option(help: "Tenant name.") var tenant: String
        @Option(help: "Connection name.") var name: String
        @OptionGroup var store: StoreOptions

        func run() async throws {
            try await withRuntime(store) { runtime in
                let t = try await sigil.tenant(runtime, tenant)
                try await runtime.services.upstreams.delete(tenantID: t.id, name: name, by: .cli)
                print("deleted \(name)")
            }
        }
    }

    static func traceJSON(_ t: UpstreamTrace, name: String) -> [String: Any] {
        [
            "id": t.id, "connection": name, "flow_id": t.flowID ?? NSNull(), "outcome": t.outcome, "reason": t.reason ?? NSNull(),
            "created_at": iso(t.createdAt), "expires_at": iso(t.expiresAt),
            "messages": t.data.messages.map { ["kind": $0.kind, "direction": $0.direction, "binding": $0.binding, "xml": $0.xml] },
            "checks": t.data.checks.map { ["name": $0.name, "passed": $0.passed, "detail": $0.detail] as [String: Any] },
        ]
    }

    struct Traces: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "A connection's recent sign-in traces: each check's verdict (messages redacted; kept 7 days).")
        @Option(help: "Tenant name.") var tenant: String
        @Option(help: "Connection name.") var name: String
        @Option(help: "How many, newest first (at most 200).") var limit: Int = 20
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var store: StoreOptions

        func run() async throws {
            try await withRuntime(store) { runtime in
                let t = try await sigil.tenant(runtime, tenant)
                let traces = try await runtime.services.upstreams.traces(tenantID: t.id, name: name, limit: limit, by: .cli)
                if json {
                    try printJSON(traces.map { UpstreamCommand.traceJSON($0, name: name) })
                    return
                }
                for trace in traces {
                    print("\(trace.id)\t\(iso(trace.createdAt))\t\(trace.outcome)\(trace.reason.map { " (\($0))" } ?? "")")
                    for check in trace.data.checks { print("  \(check.passed ? "ok  " : "FAIL") \(check.name): \(check.detail)") }
                }
            }
        }
    }

    struct Trace: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Export one sign-in trace as a JSON file (to share with the IdP's administrator).")
        @Option(help: "Tenant name.") var tenant: String
        @Option(help: "Trace ID (from `sigil upstream traces`).") var id: String
        @Option(name: .shortAndLong, help: "Write to this file (default: standard output).") var output: String?
        @OptionGroup var store: StoreOptions

        func run() async throws {
            try await withRuntime(store) { runtime in
                let t = try await sigil.tenant(runtime, tenant)
                let trace = try await runtime.services.upstreams.trace(tenantID: t.id, id: id, by: .cli)
                let name = try await runtime.services.upstreams.list(tenantID: t.id, by: .cli).first { $0.id == trace.connectionID }?.name ?? ""
                let data = try JSONSerialization.data(
                    withJSONObject: UpstreamCommand.traceJSON(trace, name: name), options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
                if let output {
                    try data.write(to: URL(fileURLWithPath: output))
                    print("wrote \(output)")
                } else {
                    print(String(decoding: data, as: UTF8.self))
                }
            }
        }
    }
}
