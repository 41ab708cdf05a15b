import Foundation
import Logging
import SigilCore
import SigilJOSE
import SigilOAuth

/// Why a one-click integration (issue 14) stopped, for the administrator: a stable `code` and a
/// `message` that names what to change in the vendor's console. Messages are built from Sigil's
/// own words, the vendor's error codes and vendor descriptions passed through `PartnerAPI.scrub`:
/// never a credential, an access token or an `Authorization` header. Equal when the codes are.
public struct IntegrationError: Error, Sendable, Equatable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let name: String
        private init(_ name: String) { self.name = name }
        public var description: String { name }

        /// Auth0 refused the client ID and secret (401 `access_denied`).
        public static let auth0SecretWrong = Code("auth0_secret_wrong")
        /// The application may not use the client-credentials grant (403 `unauthorized_client`).
        public static let auth0GrantDisabled = Code("auth0_grant_disabled")
        /// The application is not authorised for the Management API (no client grant).
        public static let auth0APINotAuthorized = Code("auth0_api_not_authorized")
        /// No Management API at `https://{domain}/api/v2/` ("Service not found": a custom domain?).
        public static let auth0DomainWrong = Code("auth0_domain_wrong")
        /// A Management API scope is missing (named in the message).
        public static let auth0ScopeMissing = Code("auth0_scope_missing")
        /// The Management API refused the token it had just issued (401).
        public static let auth0TokenRejected = Code("auth0_token_rejected")
        public static let auth0ConnectionNameTaken = Code("auth0_connection_name_taken")
        public static let auth0ConnectionNameInvalid = Code("auth0_connection_name_invalid")
        /// An application to enable the connection for does not exist.
        public static let auth0ClientUnknown = Code("auth0_client_unknown")
        /// The tenant name (the middle of Auth0's SP entity ID) could not be found out.
        public static let auth0TenantUnknown = Code("auth0_tenant_unknown")
        public static let auth0RateLimited = Code("auth0_rate_limited")
        /// Okta refused the API token (401 `E0000011`).
        public static let oktaTokenInvalid = Code("okta_token_invalid")
        /// The token's administrator lacks the right (403 `E0000006`).
        public static let oktaNotAdmin = Code("okta_not_admin")
        /// An identity provider or rule of that name exists.
        public static let oktaNameTaken = Code("okta_name_taken")
        public static let oktaRateLimited = Code("okta_rate_limited")
        /// The vendor domain or URL is not one Sigil calls (syntax, http, a private address).
        public static let partnerURLInvalid = Code("partner_url_invalid")
        public static let partnerUnreachable = Code("partner_unreachable")
        /// The vendor refused a request for a reason with no code of its own (the message quotes it).
        public static let partnerRefused = Code("partner_refused")
        public static let partnerAnswerUnexpected = Code("partner_answer_unexpected")
        /// Sigil's own application could not be created (the message says what was undone).
        public static let sigilApplicationFailed = Code("sigil_application_failed")
        /// Both sides exist but a last step (enabling applications, a routing rule) failed.
        public static let incomplete = Code("integration_incomplete")
        public static let invalidInput = Code("invalid_input")
        /// An object Sigil had made at the vendor is gone (404 on reading it back).
        public static let partnerObjectMissing = Code("partner_object_missing")
        /// No integration of that id in this tenant.
        public static let unknownIntegration = Code("unknown_integration")
    }

    public let code: Code
    /// For the administrator; safe to print and to store in the audit log.
    public let message: String
    /// Seconds the vendor asked Sigil to wait (`Retry-After` of a 429).
    public let retryAfter: Int?

    public init(_ code: Code, _ message: String, retryAfter: Int? = nil) {
        self.code = code
        self.message = message
        self.retryAfter = retryAfter
    }

    public var description: String { "\(code): \(message)" }

    public static func == (a: IntegrationError, b: IntegrationError) -> Bool { a.code == b.code }

    /// The same error with a sentence added (what was undone, what exists).
    func adding(_ sentence: String) -> IntegrationError {
        IntegrationError(code, message + " " + sentence, retryAfter: retryAfter)
    }
}

/// A small JSON-over-HTTPS caller for a partner's management API (Auth0, Okta), on top of
/// `RemoteDocuments.send`, so under the `OutboundPolicy`: https to public addresses; plain http
/// and private addresses only for hosts the operator lists in `SIGIL_OUTBOUND_ALLOW_HOSTS` (the
/// interop fakes on 127.0.0.1). Answers are read up to 1 MiB; no redirect is followed.
///
/// Nothing here logs a header or a body: a log line names the vendor, the host, the step, the
/// method, the path and the status. Every text taken from an answer goes through `scrub`, which
/// removes this call's credentials and tokens, so a vendor that echoes one cannot put it into an
/// error, the audit log or a log line.
struct PartnerAPI: Sendable {
    enum Vendor: String, Sendable {
        case auth0 = "Auth0"
        case okta = "Okta"
    }

    /// One answer: the status, the body as JSON (nil when empty or not JSON) and the headers.
    struct Answer: Sendable {
        var status: Int
        var json: JSONValue?
        var response: OutboundResponse

        var object: [String: JSONValue] { json?.object ?? [:] }
        func header(_ name: String) -> String? { response.header(name) }
        /// `Retry-After` in seconds (the date form is not used by Auth0 or Okta).
        var retryAfter: Int? { header("retry-after").flatMap { Int($0.trimmingCharacters(in: .whitespaces)) } }
    }

    static let bodyLimit = 1 << 20

    let vendor: Vendor
    /// `https://host[:port]` (`http://` only for an allowed host), without a path.
    let base: String
    /// `host[:port]`, lower-cased: Auth0's "domain", Okta's org host.
    let domain: String
    let remote: RemoteDocuments
    let logger: Logger
    /// Never repeated in an error, a log line or a description.
    private var secrets: [Secret<String>]

    init(vendor: Vendor, baseURL: String, remote: RemoteDocuments, logger: Logger, secrets: [Secret<String>]) throws {
        let (base, domain) = try Self.normalise(baseURL, policy: remote.policy, vendor: vendor)
        self.vendor = vendor
        self.base = base
        self.domain = domain
        self.remote = remote
        self.logger = logger
        self.secrets = secrets
    }

    /// The same caller, also keeping `secret` out of every text (an access token once issued).
    func redacting(_ secret: Secret<String>) -> PartnerAPI {
        var copy = self
        copy.secrets.append(secret)
        return copy
    }

    /// `acme.us.auth0.com`, `https://acme.okta.com/` → (`https://acme.us.auth0.com`, `acme.us.auth0.com`).
    /// A bare host means https; http only for a host the operator allows.
    static func normalise(_ text: String, policy: OutboundPolicy, vendor: Vendor) throws -> (base: String, domain: String) {
        var value = text.trimmingCharacters(in: .whitespacesAndNewlines)
        while value.hasSuffix("/") { value.removeLast() }
        if !value.contains("://") { value = "https://" + value }
        let shown = String(text.prefix(100))
        let example = vendor == .auth0 ? "acme.us.auth0.com" : "https://acme.okta.com"
        let bad = IntegrationError(
            .partnerURLInvalid, "The \(vendor.rawValue) domain \"\(shown)\" is not a host name or an https URL without a path (e.g. \(example)).")
        guard let components = URLComponents(string: value), let scheme = components.scheme?.lowercased(),
            let rawHost = components.host, !rawHost.isEmpty, components.user == nil, components.password == nil,
            components.query == nil, components.fragment == nil, components.path.isEmpty
        else { throw bad }
        let host = rawHost.lowercased()
        let hostText = host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host
        let domain = components.port.map { "\(hostText):\($0)" } ?? hostText
        switch scheme {
        case "https":
            break
        case "http":
            guard policy.isAllowlisted(host) else {
                throw IntegrationError(
                    .partnerURLInvalid,
                    "Sigil calls \(vendor.rawValue) over https only (plain http only to a host the operator lists in SIGIL_OUTBOUND_ALLOW_HOSTS): use https://\(domain)."
                )
            }
        default:
            throw bad
        }
        return ("\(scheme)://\(domain)", domain)
    }

    /// A path segment (an object id) percent-encoded.
    static func segment(_ value: String) -> String {
        var allowed = CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
        allowed.insert(charactersIn: "-._~")
        return value.addingPercentEncoding(withAllowedCharacters: allowed) ?? value
    }

    /// Sends one request and returns the answer whatever its status; throws `IntegrationError`
    /// only when no answer came (unreachable, refused by the outbound policy, too large).
    /// `authorization` is the whole header value (`Bearer …`, `SSWS …`); `step` names the call
    /// in log lines and messages.
    func call(
        _ method: String, _ path: String, query: [(String, String)] = [], json body: JSONValue? = nil,
        form: [(String, String)]? = nil, authorization: Secret<String>? = nil, step: String
    ) async throws -> Answer {
        var text = base + path
        if !query.isEmpty { text += "?" + UpstreamOIDC.formEncoded(query) }
        guard let url = URL(string: text) else {
            throw IntegrationError(.partnerURLInvalid, "Sigil could not build the \(vendor.rawValue) URL for \(step).")
        }
        var headers: [(String, String)] = [("accept", "application/json")]
        var bytes: [UInt8]?
        if let form {
            headers.append(("content-type", "application/x-www-form-urlencoded"))
            bytes = Array(UpstreamOIDC.formEncoded(form).utf8)
        } else if let body {
            headers.append(("content-type", "application/json"))
            bytes = try body.serialized()
        }
        if let authorization { headers.append(("authorization", authorization.value)) }
        let response: OutboundResponse
        do {
            response = try await remote.send(OutboundRequest(method: method, url: url, headers: headers, body: bytes), limit: Self.bodyLimit)
        } catch let error as RemoteFetchError {
            logger.warning(
                "partner API call failed",
                metadata: [
                    "vendor": .string(vendor.rawValue), "host": .string(domain), "step": .string(step), "method": .string(method),
                    "path": .string(path), "reason": .string(scrub(error.description)),
                ])
            switch error {
            case .notAllowed(let why):
                throw IntegrationError(.partnerURLInvalid, "Sigil will not call \(vendor.rawValue) at \(domain): the address \(why).")
            case .addressNotPermitted:
                throw IntegrationError(
                    .partnerURLInvalid,
                    "\(domain) resolves to a private or loopback address, which Sigil does not call unless the operator lists the host in SIGIL_OUTBOUND_ALLOW_HOSTS."
                )
            case .tooLarge:
                throw IntegrationError(.partnerAnswerUnexpected, "\(vendor.rawValue) answered \(step) with more than 1 MiB; Sigil stopped reading.")
            default:
                throw IntegrationError(
                    .partnerUnreachable,
                    "\(vendor.rawValue) at \(domain) did not answer (\(step)): check the domain, and that this server can reach it over https.")
            }
        }
        let json: JSONValue? =
            response.body.isEmpty
            ? nil : ((try? JSONValue.parse(response.body)) ?? (try? JSONDecoder().decode(JSONValue.self, from: Data(response.body))))
        logger.info(
            "partner API call",
            metadata: [
                "vendor": .string(vendor.rawValue), "host": .string(domain), "step": .string(step), "method": .string(method),
                "path": .string(path), "status": .stringConvertible(response.status),
            ])
        return Answer(status: response.status, json: json, response: response)
    }

    /// `text` without this call's secrets and control characters, at most 300 characters: fit to
    /// quote a vendor's error description to an administrator.
    func scrub(_ text: String) -> String {
        var out = text
        for secret in secrets where secret.value.count >= 4 {
            out = out.replacingOccurrences(of: secret.value, with: "<redacted>")
        }
        let printable = out.unicodeScalars.filter { $0.value >= 0x20 && $0.value != 0x7F }
        out = String(String.UnicodeScalarView(printable))
        return out.count > 300 ? String(out.prefix(300)) + "…" : out
    }

    /// An answer Sigil has no mapping for.
    func unexpected(_ answer: Answer, step: String, detail: String = "") -> IntegrationError {
        let said = detail.isEmpty ? "" : ": \(scrub(detail))"
        return IntegrationError(
            .partnerAnswerUnexpected, "\(vendor.rawValue) answered \(step) with HTTP \(answer.status)\(said), which Sigil did not expect.")
    }
}
