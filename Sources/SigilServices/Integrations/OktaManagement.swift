import Foundation
import Logging
import SigilCore
import SigilJOSE

/// Okta's management API as the one-click setups use it (protocols.md §5, §1.7): the identity
/// provider key store, SAML 2.0 and custom IDV (`IDV_STANDARD`) identity providers, and IdP
/// discovery routing rules, behind an SSWS API token that lives in this value only, for one setup.
/// Okta's documented refusals (`E0000011`, `E0000006`, 429 `E0000047`) become `IntegrationError`s
/// that say what to change in the Admin Console.
struct OktaManagement: Sendable {
    var api: PartnerAPI
    /// `SSWS {token}`.
    private let authorization: Secret<String>

    var domain: String { api.domain }
    var base: String { api.base }

    init(orgURL: String, apiToken: Secret<String>, remote: RemoteDocuments, logger: Logger) throws {
        api = try PartnerAPI(vendor: .okta, baseURL: orgURL, remote: remote, logger: logger, secrets: [apiToken])
        authorization = Secret("SSWS " + apiToken.value)
    }

    /// The same client, also keeping `secret` out of every text (a Sigil client secret sent in an IdP).
    func redacting(_ secret: Secret<String>) -> OktaManagement {
        var copy = self
        copy.api = api.redacting(secret)
        return copy
    }

    /// Checks the token with a read (`GET /api/v1/idps?limit=1`) before Sigil creates anything.
    func probe() async throws {
        let step = "checking the API token"
        let answer = try await api.call("GET", "/api/v1/idps", query: [("limit", "1")], authorization: authorization, step: step)
        guard answer.status == 200 else { throw error(answer, step: step) }
    }

    // MARK: keys

    /// Uploads an RSA signing certificate to the IdP key store (`POST /api/v1/idps/credentials/keys`
    /// with `{"x5c": [base64 DER]}`) and returns its `kid`; `created` is false when Okta already
    /// held that certificate (an earlier setup), whose key is then used as it is.
    func uploadKey(x5c: String) async throws -> (kid: String, created: Bool) {
        let step = "uploading Sigil's signing certificate"
        let answer = try await api.call(
            "POST", "/api/v1/idps/credentials/keys", json: .object(["x5c": .strings([x5c])]), authorization: authorization, step: step)
        if answer.status == 200 || answer.status == 201 {
            guard let kid = answer.object["kid"]?.string, !kid.isEmpty else { throw api.unexpected(answer, step: step, detail: "no kid") }
            return (kid, true)
        }
        if answer.status == 400, causes(answer).contains(where: { $0.contains("already exists") }) {
            let listed = try await api.call("GET", "/api/v1/idps/credentials/keys", authorization: authorization, step: "finding the key Okta already holds")
            guard listed.status == 200 else { throw error(listed, step: "finding the key Okta already holds") }
            for key in listed.json?.array ?? [] {
                if let object = key.object, object["x5c"]?.strings?.first == x5c, let kid = object["kid"]?.string { return (kid, false) }
            }
        }
        throw error(answer, step: step)
    }

    /// `DELETE /api/v1/idps/credentials/keys/{kid}` (undoing a setup).
    func deleteKey(kid: String) async throws {
        let step = "deleting the uploaded key again"
        let answer = try await api.call(
            "DELETE", "/api/v1/idps/credentials/keys/" + PartnerAPI.segment(kid), authorization: authorization, step: step)
        guard answer.status == 204 || answer.status == 200 else { throw error(answer, step: step) }
    }

    // MARK: identity providers

    /// `POST /api/v1/idps`; the created IdP (with its `id` and `_links`).
    func createIdP(_ body: JSONValue, name: String) async throws -> [String: JSONValue] {
        let step = "creating the identity provider \(name)"
        let answer = try await api.call("POST", "/api/v1/idps", json: body, authorization: authorization, step: step)
        guard answer.status == 200 || answer.status == 201 else { throw error(answer, step: step) }
        guard let object = answer.json?.object, let id = object["id"]?.string, !id.isEmpty else {
            throw api.unexpected(answer, step: step, detail: "no identity provider id")
        }
        return object
    }

    /// `GET /api/v1/idps/{id}`.
    func idp(id: String) async throws -> [String: JSONValue] {
        let step = "reading the identity provider back"
        let answer = try await api.call("GET", "/api/v1/idps/" + PartnerAPI.segment(id), authorization: authorization, step: step)
        if answer.status == 404 { throw IntegrationError(.partnerObjectMissing, "The Okta identity provider \(id) no longer exists.") }
        guard answer.status == 200, let object = answer.json?.object else { throw error(answer, step: step) }
        return object
    }

    /// `PUT /api/v1/idps/{id}` (a repair: the whole object, as read and corrected).
    func replaceIdP(id: String, _ body: [String: JSONValue]) async throws -> [String: JSONValue] {
        let step = "updating the identity provider"
        var object = body
        for readOnly in ["id", "created", "lastUpdated", "_links", "status"] { object.removeValue(forKey: readOnly) }
        let answer = try await api.call("PUT", "/api/v1/idps/" + PartnerAPI.segment(id), json: .object(object), authorization: authorization, step: step)
        guard answer.status == 200, let updated = answer.json?.object else { throw error(answer, step: step) }
        return updated
    }

    /// `GET /api/v1/idps/credentials/keys/{kid}`: the key's `x5c`.
    func key(kid: String) async throws -> [String: JSONValue] {
        let step = "reading the identity provider's signing key"
        let answer = try await api.call("GET", "/api/v1/idps/credentials/keys/" + PartnerAPI.segment(kid), authorization: authorization, step: step)
        if answer.status == 404 { throw IntegrationError(.partnerObjectMissing, "Okta's IdP key \(kid) no longer exists.") }
        guard answer.status == 200, let object = answer.json?.object else { throw error(answer, step: step) }
        return object
    }

    /// `GET /api/v1/policies/{policyId}/rules/{ruleId}`.
    func rule(policyID: String, ruleID: String) async throws -> [String: JSONValue] {
        let step = "reading the routing rule"
        let answer = try await api.call(
            "GET", "/api/v1/policies/" + PartnerAPI.segment(policyID) + "/rules/" + PartnerAPI.segment(ruleID), authorization: authorization,
            step: step)
        if answer.status == 404 { throw IntegrationError(.partnerObjectMissing, "The Okta routing rule \(ruleID) no longer exists.") }
        guard answer.status == 200, let object = answer.json?.object else { throw error(answer, step: step) }
        return object
    }

    /// `DELETE /api/v1/idps/{id}` (undoing a setup).
    func deleteIdP(id: String) async throws {
        let step = "deleting the identity provider again"
        let answer = try await api.call("DELETE", "/api/v1/idps/" + PartnerAPI.segment(id), authorization: authorization, step: step)
        guard answer.status == 204 || answer.status == 200 else { throw error(answer, step: step) }
    }

    // MARK: routing rules

    /// The org's IdP discovery policy (`GET /api/v1/policies?type=IDP_DISCOVERY`: one per org).
    func discoveryPolicyID() async throws -> String {
        let step = "reading the IdP discovery policy"
        let answer = try await api.call("GET", "/api/v1/policies", query: [("type", "IDP_DISCOVERY")], authorization: authorization, step: step)
        guard answer.status == 200 else { throw error(answer, step: step) }
        guard let id = answer.json?.array?.first?.object?["id"]?.string else {
            throw api.unexpected(answer, step: step, detail: "no IDP_DISCOVERY policy")
        }
        return id
    }

    /// `POST /api/v1/policies/{policyId}/rules`; the created rule.
    func createRule(policyID: String, _ body: JSONValue) async throws -> [String: JSONValue] {
        let step = "creating the routing rule"
        let answer = try await api.call(
            "POST", "/api/v1/policies/" + PartnerAPI.segment(policyID) + "/rules", json: body, authorization: authorization, step: step)
        guard answer.status == 200 || answer.status == 201, let object = answer.json?.object, object["id"]?.string != nil else {
            throw error(answer, step: step)
        }
        return object
    }

    // MARK: errors

    func causes(_ answer: PartnerAPI.Answer) -> [String] {
        (answer.object["errorCauses"]?.array ?? []).compactMap { $0.object?["errorSummary"]?.string }.map { api.scrub($0) }
    }

    /// Okta's error object (`errorCode`, `errorSummary`, `errorCauses`) as an `IntegrationError`.
    func error(_ answer: PartnerAPI.Answer, step: String) -> IntegrationError {
        let code = answer.object["errorCode"]?.string ?? ""
        let summary = api.scrub(answer.object["errorSummary"]?.string ?? "")
        let reasons = causes(answer)
        if answer.status == 401 || code == "E0000011" {
            return IntegrationError(
                .oktaTokenInvalid,
                "Okta refused the API token (\(code.isEmpty ? "401" : code) \(summary.isEmpty ? "Invalid token provided" : summary)). Create a new one in the Okta Admin Console → Security → API → Tokens → Create token, signed in as an administrator who may manage identity providers and policies (Super Administrator); a token also expires after 30 days without use."
            )
        }
        if answer.status == 403 || code == "E0000006" {
            return IntegrationError(
                .oktaNotAdmin,
                "The API token's administrator may not do this (\(step): \(code.isEmpty ? "403" : code)). In the Okta Admin Console → Security → Administrators, give the administrator who created the token the Super Administrator role (or a custom role with the Identity Providers and Policies permissions), or create the token signed in as such an administrator, and run this again."
            )
        }
        if answer.status == 429 || code == "E0000047" {
            let wait = answer.retryAfter
            return IntegrationError(
                .oktaRateLimited,
                "Okta is rate-limiting its management API (\(code.isEmpty ? "429" : code)): wait \(wait.map { "\($0) seconds" } ?? "a minute") and run this again.",
                retryAfter: wait)
        }
        if answer.status == 400, summary.hasSuffix(": name"), reasons.contains(where: { $0.contains("already exists") }) {
            return IntegrationError(
                .oktaNameTaken,
                "Okta already has an object of that name (\(step)): choose another name, or delete the old one in Security → Identity Providers if it is left over from an earlier attempt."
            )
        }
        if answer.status == 400 {
            let detail = ([summary] + reasons).filter { !$0.isEmpty }.joined(separator: "; ")
            return IntegrationError(.partnerRefused, "Okta refused \(step) (\(code.isEmpty ? "400" : code)): \(detail)")
        }
        return api.unexpected(answer, step: step, detail: [code, summary].filter { !$0.isEmpty }.joined(separator: " "))
    }
}
