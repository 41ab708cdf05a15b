import ArgumentParser
import Foundation
import SigilCore
import SigilServices
import SigilStore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `sigil integration …`: one-click Auth0 and Okta setups (issue 14). The vendor credential is
/// read from standard input (`--client-secret-stdin`, `--api-token-stdin`), from
/// `SIGIL_PARTNER_SECRET`, or from a prompt that does not echo; never from the command line, which
/// other users of the machine can read. It is used for this one call and kept nowhere.
struct IntegrationCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "integration", abstract: "Configure Auth0 or Okta and Sigil together, from credentials used once and never stored.",
        subcommands: [Auth0SAML.self, Auth0Social.self, OktaSAML.self, OktaIDV.self, List.self, Doctor.self, Guide.self])

    struct Auth0Options: ParsableArguments {
        @Option(help: "The Auth0 tenant's domain, e.g. acme.us.auth0.com (not a custom domain).") var domain: String
        @Option(name: .customLong("client-id"), help: "Client ID of a Machine-to-Machine application authorised for the Management API.")
        var clientID: String
        @Flag(
            name: .customLong("client-secret-stdin"),
            help: "Read the client secret from standard input (else SIGIL_PARTNER_SECRET, else a prompt).")
        var secretFromStdin = false
        @Option(name: .customLong("connection-name"), help: "The Auth0 connection's name: letters, digits and single hyphens.")
        var connectionName: String = "sigil"
        @Option(name: .customLong("display-name"), help: "What Auth0's login button says (default: Sigil).") var displayName: String?
        @Option(name: .customLong("enable-for"), help: "Auth0 client ID to enable the connection for; repeat, or separate with commas.")
        var enableFor: [String] = []

        var clients: [String] {
            enableFor.flatMap { $0.split(separator: ",") }.map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        }
    }

    struct OktaOptions: ParsableArguments {
        @Option(name: .customLong("domain"), help: "The Okta org, e.g. acme.okta.com or https://acme.okta.com.") var org: String
        @Flag(name: .customLong("api-token-stdin"), help: "Read the API token from standard input (else SIGIL_PARTNER_SECRET, else a prompt).")
        var tokenFromStdin = false
        @Option(name: .customLong("idp-name"), help: "The identity provider's name in Okta.") var idpName: String?
    }

    struct Common: ParsableArguments {
        @Option(help: "Tenant name.") var tenant: String
        @Flag(help: "Print one JSON line.") var json = false
    }

    struct Auth0SAML: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "auth0-saml", abstract: "Create an Auth0 SAML connection whose identity provider is Sigil, and its Sigil application.")
        @OptionGroup var common: Common
        @OptionGroup var auth0: Auth0Options
        @Option(name: .customLong("auth0-tenant"), help: "The Auth0 tenant's name, when the domain does not show it.") var auth0Tenant: String?
        @OptionGroup var location: UpstreamCommand.Location
        @OptionGroup var store: StoreOptions

        func run() async throws {
            let secret = try readPartnerSecret(fromStdin: auth0.secretFromStdin, prompt: "Auth0 client secret: ")
            try await runIntegration(store, common) { runtime, t in
                try await runtime.services.integrations.auth0SAML(
                    tenantID: t.id, issuer: location.issuer(t), domain: auth0.domain, clientID: auth0.clientID, clientSecret: secret,
                    connectionName: auth0.connectionName, displayName: auth0.displayName, auth0Tenant: auth0Tenant, enableFor: auth0.clients,
                    by: .cli)
            }
        }
    }

    struct Auth0Social: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "auth0-social", abstract: "Create a Sigil OIDC application and an Auth0 custom social connection (oauth2) that signs in with it.")
        @OptionGroup var common: Common
        @OptionGroup var auth0: Auth0Options
        @OptionGroup var location: UpstreamCommand.Location
        @OptionGroup var store: StoreOptions

        func run() async throws {
            let secret = try readPartnerSecret(fromStdin: auth0.secretFromStdin, prompt: "Auth0 client secret: ")
            try await runIntegration(store, common) { runtime, t in
                try await runtime.services.integrations.auth0Social(
                    tenantID: t.id, issuer: location.issuer(t), domain: auth0.domain, clientID: auth0.clientID, clientSecret: secret,
                    connectionName: auth0.connectionName, displayName: auth0.displayName, enableFor: auth0.clients, by: .cli)
            }
        }
    }

    struct OktaSAML: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "okta-saml", abstract: "Create an Okta SAML identity provider that is Sigil (JIT users), its Sigil application, and a routing rule.")
        @OptionGroup var common: Common
        @OptionGroup var okta: OktaOptions
        @Option(help: "Route users to Sigil: all, or domain:example.com (default: no routing rule).") var route: String?
        @OptionGroup var location: UpstreamCommand.Location
        @OptionGroup var store: StoreOptions

        func validate() throws { _ = try parsedRoute() }

        func parsedRoute() throws -> IntegrationService.OktaRoute? {
            guard let route else { return nil }
            if route == "all" { return .allUsers }
            if route.hasPrefix("domain:"), route.count > 7 { return .domain(String(route.dropFirst(7)).lowercased()) }
            throw ValidationError("--route takes all or domain:example.com")
        }

        func run() async throws {
            let route = try parsedRoute()
            let token = try readPartnerSecret(fromStdin: okta.tokenFromStdin, prompt: "Okta API token: ")
            try await runIntegration(store, common) { runtime, t in
                try await runtime.services.integrations.oktaSAML(
                    tenantID: t.id, issuer: location.issuer(t), orgURL: okta.org, apiToken: token, idpName: okta.idpName ?? "Sigil", route: route,
                    by: .cli)
            }
        }
    }

    struct OktaIDV: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "okta-idv",
            abstract: "Make Sigil an Okta identity verification vendor: a Sigil OIDC application and an Okta IDV_STANDARD identity provider.")
        @OptionGroup var common: Common
        @OptionGroup var okta: OktaOptions
        @Option(name: .customLong("vendor-name"), help: "The vendor name Okta shows users (default: Sigil).") var vendorName: String = "Sigil"
        @Option(name: .customLong("terms-url"), help: "Terms of use URL Okta shows users.") var termsURL: String?
        @Option(name: .customLong("privacy-url"), help: "Privacy policy URL Okta shows users.") var privacyURL: String?
        @OptionGroup var location: UpstreamCommand.Location
        @OptionGroup var store: StoreOptions

        func run() async throws {
            let token = try readPartnerSecret(fromStdin: okta.tokenFromStdin, prompt: "Okta API token: ")
            try await runIntegration(store, common) { runtime, t in
                try await runtime.services.integrations.oktaIDV(
                    tenantID: t.id, issuer: location.issuer(t), orgURL: okta.org, apiToken: token,
                    idpName: okta.idpName ?? "Sigil identity verification", vendorDisplayName: vendorName, termsOfUseURL: termsURL,
                    privacyPolicyURL: privacyURL, by: .cli)
            }
        }
    }
}

extension IntegrationCommand {
    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The tenant's one-click integrations and their last check.")
        @OptionGroup var common: Common
        @OptionGroup var store: StoreOptions

        func run() async throws {
            try await withRuntime(store) { runtime in
                let t = try await tenant(runtime, common.tenant)
                let records = try await runtime.services.integrations.integrations(tenantID: t.id, by: .cli)
                if common.json {
                    try printJSONLine(["integrations": records.map(integrationRecordJSON)])
                    return
                }
                if records.isEmpty { print("No integrations.") }
                for r in records {
                    let check = r.lastCheck.map { "\($0.status) at \(iso($0.checkedAt))" } ?? "not checked"
                    print("\(r.id)  \(r.kind)  \(r.partnerDomain)  application \(r.applicationID)  \(check)")
                }
            }
        }
    }

    struct Doctor: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract:
                "Compare an integration's two sides and say what drifted; with one-time vendor credentials also the vendor's side, and --repair puts back what Sigil set up there."
        )
        @OptionGroup var common: Common
        @Argument(help: "The integration's id (sigil integration list).") var id: String
        @Option(name: .customLong("client-id"), help: "Auth0: a Machine-to-Machine application's client ID, to read the vendor's side.")
        var clientID: String?
        @Flag(name: .customLong("secret-stdin"), help: "Read the Auth0 client secret or Okta API token from standard input.")
        var secretFromStdin = false
        @Flag(help: "Read the vendor's side (needs the one-time credential: Auth0 with --client-id).") var partner = false
        @Flag(help: "Put back what Sigil configured at the vendor (implies --partner).") var repair = false
        @OptionGroup var location: UpstreamCommand.Location
        @OptionGroup var store: StoreOptions

        func run() async throws {
            let readPartner = partner || repair || clientID != nil || secretFromStdin
            try await withRuntime(store) { runtime in
                let t = try await tenant(runtime, common.tenant)
                do {
                    var credentials: IntegrationService.PartnerCredentials?
                    if readPartner {
                        let record = try await runtime.services.integrations.integration(tenantID: t.id, id: id, by: .cli)
                        if record.kind.hasPrefix("auth0") {
                            guard let clientID else { throw CLIError("reading Auth0's side needs --client-id (and the secret)") }
                            credentials = .auth0(
                                clientID: clientID, clientSecret: try readPartnerSecret(fromStdin: secretFromStdin, prompt: "Auth0 client secret: "))
                        } else {
                            credentials = .okta(apiToken: try readPartnerSecret(fromStdin: secretFromStdin, prompt: "Okta API token: "))
                        }
                    }
                    let report = try await runtime.services.integrations.doctor(
                        tenantID: t.id, id: id, issuer: location.issuer(t), credentials: credentials, repair: repair, by: .cli)
                    if common.json {
                        var object = integrationRecordJSON(report.integration)
                        object["repaired"] = report.repaired
                        object["rotate_credentials"] = report.rotateCredentials as Any? ?? NSNull()
                        try printJSONLine(object)
                    } else {
                        let c = report.check
                        print(
                            "\(report.integration.kind) with \(report.integration.partnerDomain): \(c.status)\(c.partnerRead ? "" : " (Sigil's side only: give vendor credentials to read theirs)")"
                        )
                        for f in c.findings { print("  [\(f.side)] \(f.code): \(f.message)\(f.repairable ? " (--repair fixes it)" : "")") }
                        for r in report.repaired { print("  repaired: \(r)") }
                        if let rotate = report.rotateCredentials { print("Now: \(rotate)") }
                    }
                    if report.check.status != "ok" { throw ExitCode(2) }
                } catch let error as IntegrationError {
                    if common.json {
                        try printJSONLine(["error": error.code.name, "message": error.message] as [String: Any])
                        throw ExitCode(1)
                    }
                    throw CLIError("[\(error.code)] \(error.message)")
                }
            }
        }
    }
}

extension IntegrationCommand {
    struct Guide: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Print the manual path of a one-click setup, step by step with this Sigil's exact values (no vendor credential needed).")
        @Argument(help: "auth0-saml, auth0-social, okta-saml or okta-idv.") var kind: String
        @Option(help: "Tenant name.") var tenant: String
        @Option(help: "The Auth0 domain or Okta org, if known (else placeholders).") var domain: String?
        @Option(name: .customLong("connection-name"), help: "The Auth0 connection's name.") var connectionName: String = "sigil"
        @OptionGroup var location: UpstreamCommand.Location
        @OptionGroup var store: StoreOptions

        func validate() throws {
            guard IntegrationResult.Kind(rawValue: kind) != nil else { throw ValidationError("kind is auth0-saml, auth0-social, okta-saml or okta-idv") }
        }

        func run() async throws {
            try await withRuntime(store) { runtime in
                let t = try await sigil.tenant(runtime, self.tenant)
                let steps = try await runtime.services.integrations.guide(
                    IntegrationResult.Kind(rawValue: kind) ?? .auth0Social, tenantID: t.id, tenantName: t.slug, issuer: location.issuer(t), domain: domain,
                    connectionName: connectionName)
                for (i, step) in steps.enumerated() {
                    print("\(i + 1). \(step.title)")
                    for line in step.lines { print("   \(line)") }
                    print("")
                }
            }
        }
    }
}

func partnerObjectsJSON(_ objects: [IntegrationRecord.PartnerObject]) -> [[String: Any]] {
    objects.map { ["kind": $0.kind, "id": $0.id, "name": $0.name as Any? ?? NSNull()] as [String: Any] }
}

func integrationRecordJSON(_ r: IntegrationRecord) -> [String: Any] {
    var object: [String: Any] = [
        "id": r.id, "kind": r.kind, "partner_domain": r.partnerDomain,
        "partner_objects": partnerObjectsJSON(r.partnerObjects),
        "application_id": r.applicationID, "enabled_clients": r.enabledClients, "values": r.values, "created_at": iso(r.createdAt),
    ]
    if let c = r.lastCheck {
        object["last_check"] =
            [
                "status": c.status, "checked_at": iso(c.checkedAt), "partner_read": c.partnerRead,
                "findings": c.findings.map { ["code": $0.code, "side": $0.side, "message": $0.message, "repairable": $0.repairable] as [String: Any] },
            ] as [String: Any]
    }
    return object
}

/// Runs one setup and prints what it made (or its error, as one JSON line with `--json`).
func runIntegration(
    _ store: StoreOptions, _ common: IntegrationCommand.Common, _ body: (Runtime, Tenant) async throws -> IntegrationResult
) async throws {
    try await withRuntime(store) { runtime in
        let t = try await tenant(runtime, common.tenant)
        do {
            let result = try await body(runtime, t)
            if common.json {
                try printJSONLine(integrationJSON(result))
            } else {
                printIntegration(result)
            }
        } catch let error as IntegrationError {
            if common.json {
                try printJSONLine(["error": error.code.name, "message": error.message, "retry_after": error.retryAfter as Any? ?? NSNull()] as [String: Any])
                throw ExitCode(1)
            }
            throw CLIError("[\(error.code)] \(error.message)")
        }
    }
}

func integrationJSON(_ r: IntegrationResult) -> [String: Any] {
    [
        "id": r.id, "kind": r.kind.rawValue, "partner_domain": r.partnerDomain,
        "partner_objects": partnerObjectsJSON(r.partnerObjects),
        "application_id": r.applicationID, "application_name": r.applicationName, "enabled_clients": r.enabledClients, "values": r.values,
        "next_step": r.nextStep, "rotate_credentials": r.rotateCredentials, "created_at": iso(r.createdAt),
    ]
}

func printIntegration(_ r: IntegrationResult) {
    let vendor = r.kind == .auth0SAML || r.kind == .auth0Social ? "Auth0" : "Okta"
    print("Configured \(r.kind.rawValue) with \(vendor) at \(r.partnerDomain) (integration \(r.id)):")
    for o in r.partnerObjects { print("  \(vendor) \(o.kind.replacingOccurrences(of: "_", with: " ")): \(o.name.map { "\($0) " } ?? "")(\(o.id))") }
    print("  Sigil application: \(r.applicationName) (\(r.applicationID))")
    if !r.enabledClients.isEmpty { print("  Enabled for Auth0 applications: \(r.enabledClients.joined(separator: ", "))") }
    for (name, value) in r.values.sorted(by: { $0.key < $1.key }) { print("  \(name): \(value)") }
    print("Next: \(r.nextStep)")
    print("Now: \(r.rotateCredentials)")
}

/// One line of JSON on standard output.
func printJSONLine(_ object: Any) throws {
    let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
    FileHandle.standardOutput.write(data + Data("\n".utf8))
}

/// The vendor credential: one line of standard input (`fromStdin`), else `SIGIL_PARTNER_SECRET`,
/// else a prompt on the terminal with echo off. Never an argument: `ps` shows arguments to everyone.
func readPartnerSecret(fromStdin: Bool, prompt: String) throws -> Secret<String> {
    if fromStdin {
        guard let line = readLine(strippingNewline: true)?.trimmingCharacters(in: .whitespacesAndNewlines), !line.isEmpty else {
            throw CLIError("expected the secret on one line of standard input")
        }
        return Secret(line)
    }
    if let value = env("SIGIL_PARTNER_SECRET") { return Secret(value.trimmingCharacters(in: .whitespacesAndNewlines)) }
    guard isatty(0) == 1 else {
        throw CLIError("give the secret on standard input (--client-secret-stdin or --api-token-stdin) or in SIGIL_PARTNER_SECRET")
    }
    FileHandle.standardError.write(Data(prompt.utf8))
    var saved = termios()
    let canSilence = tcgetattr(0, &saved) == 0
    if canSilence {
        var silent = saved
        silent.c_lflag &= ~tcflag_t(ECHO)
        _ = tcsetattr(0, TCSANOW, &silent)
    }
    defer {
        if canSilence { _ = tcsetattr(0, TCSANOW, &saved) }
        FileHandle.standardError.write(Data("\n".utf8))
    }
    guard let line = readLine(strippingNewline: true)?.trimmingCharacters(in: .whitespacesAndNewlines), !line.isEmpty else {
        throw CLIError("no secret entered")
    }
    return Secret(line)
}
