import Foundation
import Logging
import SigilCore
import SigilJOSE

/// Auth0's Management API as the one-click setups use it (protocols.md §4): a client-credentials
/// token for `https://{domain}/api/v2/`, then connections and the applications they are enabled
/// for. The client secret and the token live in this value only, for one setup; each of Auth0's
/// documented refusals becomes an `IntegrationError` that says what to change in the dashboard.
struct Auth0Management: Sendable {
    /// What the setups need: create the connection, read it back, enable it for applications.
    static let neededScopes = ["create:connections", "read:connections", "update:connections"]
    static let scopesPath =
        "in Auth0, Applications → APIs → Auth0 Management API → Machine to Machine Applications, open the application (the arrow beside its switch) and tick create:connections, read:connections and update:connections (read:clients to list your applications), then Update"

    var api: PartnerAPI
    /// `Bearer {access token}`.
    private let authorization: Secret<String>
    /// The scopes Auth0 said it granted, when it said.
    let grantedScopes: [String]?

    var domain: String { api.domain }
    var base: String { api.base }

    /// Gets a Management API token with the client credentials (`POST /oauth/token`, form body,
    /// audience `https://{domain}/api/v2/`) and checks the granted scopes before anything is created.
    static func connect(
        domain: String, clientID: String, clientSecret: Secret<String>, remote: RemoteDocuments, logger: Logger
    ) async throws -> Auth0Management {
        let api = try PartnerAPI(vendor: .auth0, baseURL: domain, remote: remote, logger: logger, secrets: [clientSecret])
        let answer = try await api.call(
            "POST", "/oauth/token",
            form: [
                ("grant_type", "client_credentials"), ("client_id", clientID), ("client_secret", clientSecret.value),
                ("audience", "https://\(api.domain)/api/v2/"),
            ], step: "the token request")
        guard answer.status == 200 else { throw tokenError(answer, api: api, clientID: clientID) }
        guard let access = answer.object["access_token"]?.string, !access.isEmpty else {
            throw api.unexpected(answer, step: "the token request", detail: "no access_token")
        }
        let token = Secret(access)
        var granted: [String]?
        if let scope = answer.object["scope"]?.string { granted = scope.split(separator: " ").map(String.init) }
        if let granted {
            let missing = neededScopes.filter { !granted.contains($0) }
            if !missing.isEmpty { throw scopeMissing(missing) }
        }
        return Auth0Management(api: api.redacting(token), authorization: Secret("Bearer " + access), grantedScopes: granted)
    }

    /// The same client, also keeping `secret` out of every text (a Sigil client secret sent in a connection).
    func redacting(_ secret: Secret<String>) -> Auth0Management {
        var copy = self
        copy.api = api.redacting(secret)
        return copy
    }

    // MARK: connections

    /// `POST /api/v2/connections`; the created connection (with its `id`).
    func createConnection(_ body: JSONValue, name: String) async throws -> [String: JSONValue] {
        let step = "creating the connection \(name)"
        let answer = try await api.call("POST", "/api/v2/connections", json: body, authorization: authorization, step: step)
        guard answer.status == 201 || answer.status == 200 else { throw apiError(answer, step: step, connectionName: name) }
        guard let object = answer.json?.object, let id = object["id"]?.string, !id.isEmpty else {
            throw api.unexpected(answer, step: step, detail: "no connection id")
        }
        return object
    }

    /// `GET /api/v2/connections/{id}`.
    func connection(id: String) async throws -> [String: JSONValue] {
        let step = "reading the connection back"
        let answer = try await api.call("GET", "/api/v2/connections/" + PartnerAPI.segment(id), authorization: authorization, step: step)
        if answer.status == 404 { throw IntegrationError(.partnerObjectMissing, "The Auth0 connection \(id) no longer exists.") }
        guard answer.status == 200, let object = answer.json?.object else { throw apiError(answer, step: step) }
        return object
    }

    /// Changes some `options` of a connection. A PATCH replaces `options` whole (protocols.md
    /// §4.2), and resets `display_name` when it is absent: so GET, merge, PATCH with both.
    func updateConnectionOptions(id: String, merging changes: [String: JSONValue]) async throws -> [String: JSONValue] {
        let current = try await connection(id: id)
        var options = current["options"]?.object ?? [:]
        options.merge(changes) { _, new in new }
        var body: [String: JSONValue] = ["options": .object(options)]
        if let display = current["display_name"], display.string != nil { body["display_name"] = display }
        let step = "updating the connection's options"
        let answer = try await api.call(
            "PATCH", "/api/v2/connections/" + PartnerAPI.segment(id), json: .object(body), authorization: authorization, step: step)
        guard answer.status == 200, let object = answer.json?.object else { throw apiError(answer, step: step) }
        return object
    }

    /// Enables the connection for these applications: `PATCH /api/v2/connections/{id}/clients`
    /// with `[{"client_id", "status": true}]`, at most 50 per request (`enabled_clients` on the
    /// connection is deprecated).
    func enableClients(connectionID: String, clientIDs: [String]) async throws {
        let step = "enabling the connection for \(clientIDs.joined(separator: ", "))"
        for start in stride(from: 0, to: clientIDs.count, by: 50) {
            let chunk = clientIDs[start..<min(start + 50, clientIDs.count)]
            let body = JSONValue.array(chunk.map { JSONValue.object(["client_id": .string($0), "status": .bool(true)]) })
            let answer = try await api.call(
                "PATCH", "/api/v2/connections/" + PartnerAPI.segment(connectionID) + "/clients", json: body, authorization: authorization,
                step: step)
            guard answer.status == 204 || answer.status == 200 else { throw apiError(answer, step: step) }
        }
    }

    /// The applications the connection is enabled for (`GET /api/v2/connections/{id}/clients`,
    /// following `next` for at most 10 pages).
    func enabledClients(connectionID: String) async throws -> [String] {
        let step = "reading the applications the connection is enabled for"
        var out: [String] = []
        var from: String?
        for _ in 0..<10 {
            var query: [(String, String)] = [("take", "100")]
            if let from { query.append(("from", from)) }
            let answer = try await api.call(
                "GET", "/api/v2/connections/" + PartnerAPI.segment(connectionID) + "/clients", query: query, authorization: authorization, step: step)
            guard answer.status == 200, let object = answer.json?.object else { throw apiError(answer, step: step) }
            out += (object["clients"]?.array ?? []).compactMap { $0.object?["client_id"]?.string }
            guard let next = object["next"]?.string, !next.isEmpty else { break }
            from = next
        }
        return out
    }

    /// `DELETE /api/v2/connections/{id}` (undoing a setup that failed on Sigil's side).
    func deleteConnection(id: String) async throws {
        let step = "deleting the connection again"
        let answer = try await api.call("DELETE", "/api/v2/connections/" + PartnerAPI.segment(id), authorization: authorization, step: step)
        guard [200, 202, 204].contains(answer.status) else { throw apiError(answer, step: step) }
    }

    // MARK: applications

    /// The tenant's applications (`GET /api/v2/clients`, 100 a page, at most 10 pages).
    func clients() async throws -> [[String: JSONValue]] {
        var out: [[String: JSONValue]] = []
        for page in 0..<Self.clientPages {
            let step = "listing the tenant's applications"
            let answer = try await api.call(
                "GET", "/api/v2/clients", query: [("per_page", "100"), ("page", String(page))], authorization: authorization, step: step)
            guard answer.status == 200 else { throw apiError(answer, step: step) }
            let items = answer.json?.array ?? answer.object["clients"]?.array ?? []
            out += items.compactMap(\.object)
            if items.count < 100 { break }
        }
        return out
    }

    static let clientPages = 10

    /// The tenant name in Auth0's SP entity ID (`urn:auth0:{tenant}:{connection}`), read from a
    /// canonical domain: `acme` for `acme.auth0.com` and `acme.us.auth0.com`; nil otherwise.
    static func tenantName(domain: String) -> String? {
        let host = (domain.split(separator: ":").first.map(String.init) ?? domain).lowercased()
        guard host.hasSuffix(".auth0.com"), let first = host.split(separator: ".").first, !first.isEmpty else { return nil }
        return String(first)
    }

    // MARK: names

    /// Auth0's rule for connection names: `^[a-zA-Z0-9](-[a-zA-Z0-9]|[a-zA-Z0-9])*$`, at most 128.
    static func isValidConnectionName(_ name: String) -> Bool {
        let bytes = Array(name.utf8)
        guard !bytes.isEmpty, bytes.count <= 128 else { return false }
        func alphanumeric(_ b: UInt8) -> Bool { (0x30...0x39).contains(b) || (0x41...0x5A).contains(b) || (0x61...0x7A).contains(b) }
        guard alphanumeric(bytes[0]), alphanumeric(bytes[bytes.count - 1]) else { return false }
        for (i, b) in bytes.enumerated() where !alphanumeric(b) {
            guard b == UInt8(ascii: "-"), alphanumeric(bytes[i + 1]) else { return false }
        }
        return true
    }

    static func nameInvalid(_ name: String) -> IntegrationError {
        IntegrationError(
            .auth0ConnectionNameInvalid,
            "\"\(name.prefix(140))\" is not a valid Auth0 connection name: 1 to 128 letters, digits and single hyphens, starting and ending with a letter or digit (^[a-zA-Z0-9](-[a-zA-Z0-9]|[a-zA-Z0-9])*$), e.g. sigil-passwordless."
        )
    }

    // MARK: errors

    static func scopeMissing(_ scopes: [String]) -> IntegrationError {
        let list = scopes.isEmpty ? "a needed scope" : "the \(scopes.joined(separator: ", ")) scope\(scopes.count == 1 ? "" : "s")"
        return IntegrationError(.auth0ScopeMissing, "The Machine-to-Machine application lacks \(list): \(scopesPath), and run this again.")
    }

    static func rateLimited(_ answer: PartnerAPI.Answer) -> IntegrationError {
        let wait = answer.retryAfter
        return IntegrationError(
            .auth0RateLimited,
            "Auth0 is rate-limiting the Management API (429): wait \(wait.map { "\($0) seconds" } ?? "a minute") and run this again.",
            retryAfter: wait)
    }

    /// The token endpoint's refusals (`{error, error_description}`), as Auth0 documents them.
    static func tokenError(_ answer: PartnerAPI.Answer, api: PartnerAPI, clientID: String) -> IntegrationError {
        let error = answer.object["error"]?.string ?? ""
        let description = api.scrub(answer.object["error_description"]?.string ?? "")
        let app = "the application \(clientID.prefix(64))"
        switch answer.status {
        case 401:
            return IntegrationError(
                .auth0SecretWrong,
                "Auth0 refused the client ID and secret (401 \(error.isEmpty ? "access_denied" : api.scrub(error))). In Auth0, open Applications → Applications → your Machine-to-Machine application → Settings, and copy its Domain, Client ID and Client Secret again (a rotated secret stops working at once)."
            )
        case 403 where error == "unauthorized_client":
            return IntegrationError(
                .auth0GrantDisabled,
                "Auth0 does not let \(app) use the Client Credentials grant: in Auth0, Applications → Applications → that application → Settings → Advanced Settings → Grant Types, tick Client Credentials, save, and run this again."
            )
        case 403 where description.contains("Service not found"):
            return IntegrationError(
                .auth0DomainWrong,
                "Auth0 has no Management API at https://\(api.domain)/api/v2/: give the tenant's own domain (shown in Settings, e.g. acme.us.auth0.com), not a custom domain."
            )
        case 403 where description.contains("not been granted scopes"):
            let named = description.components(separatedBy: "scopes:").last ?? ""
            let scopes = named.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            return scopeMissing(scopes)
        case 403:
            return IntegrationError(
                .auth0APINotAuthorized,
                "The application \(clientID.prefix(64)) is not authorised for the Auth0 Management API: in Auth0, Applications → APIs → Auth0 Management API → Machine to Machine Applications, switch it on and tick create:connections, read:connections and update:connections (read:clients to list your applications), then Update and run this again."
            )
        case 429:
            return rateLimited(answer)
        default:
            return api.unexpected(answer, step: "the token request", detail: [error, description].filter { !$0.isEmpty }.joined(separator: " "))
        }
    }

    /// The Management API's refusals (`{statusCode, error, message, errorCode}`).
    func apiError(_ answer: PartnerAPI.Answer, step: String, connectionName: String? = nil) -> IntegrationError {
        let code = answer.object["errorCode"]?.string ?? ""
        let message = api.scrub(answer.object["message"]?.string ?? "")
        switch answer.status {
        case 401:
            return IntegrationError(
                .auth0TokenRejected,
                "Auth0's Management API refused the token its token endpoint had just issued (\(step): \(message)). Check that the domain is the tenant's own domain and run this again."
            )
        case 403:
            let named = message.components(separatedBy: "expected any of:").dropFirst().first ?? ""
            let scopes = named.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            return Self.scopeMissing(scopes)
        case 409:
            let name = connectionName ?? "of that name"
            return IntegrationError(
                .auth0ConnectionNameTaken,
                "Auth0 already has a connection named \(name): choose another connection name, or delete that connection (Authentication → Enterprise → SAML, or Authentication → Social) if it is left over from an earlier attempt."
            )
        case 400 where connectionName != nil && message.contains("property name"):
            return Self.nameInvalid(connectionName ?? "")
        case 400:
            return IntegrationError(.partnerRefused, "Auth0 refused \(step) (400\(code.isEmpty ? "" : " \(api.scrub(code))")): \(message)")
        case 404 where code == "inexistent_client":
            return IntegrationError(
                .auth0ClientUnknown,
                "Auth0 has no application with one of the client IDs to enable (\(step)): copy each Client ID from Applications → Applications → the application → Settings."
            )
        case 429:
            return Self.rateLimited(answer)
        default:
            return api.unexpected(answer, step: step, detail: [code, message].filter { !$0.isEmpty }.joined(separator: " "))
        }
    }
}
