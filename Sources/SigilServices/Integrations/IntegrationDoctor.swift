import Crypto
import Foundation
import SigilCore
import SigilJOSE
import SigilStore
import X509

/// The integration doctor (docs/integrations.md, "Doctor"): compares what a one-click setup made
/// with what is there now, on both sides, and says what drifted in plain language.
///
/// Without credentials (the scheduled check, or `sigil integration doctor` alone) it can see only
/// Sigil's side: the application is still there with the vendor's values, and the signing
/// certificate the vendor was given is still Sigil's current one and not about to expire. With
/// one-time credentials it also reads the vendor's side (the connection or identity provider, its
/// URLs, certificate, mapping, enabled applications, routing rule) and, with `repair`, puts back
/// what Sigil configured there. The credentials are used for that one call, never stored.
extension IntegrationService {
    /// One-time vendor credentials for a doctor run.
    public enum PartnerCredentials: Sendable {
        case auth0(clientID: String, clientSecret: Secret<String>)
        case okta(apiToken: Secret<String>)
    }

    public struct DoctorReport: Sendable, Equatable {
        public var integration: IntegrationRecord
        public var check: IntegrationRecord.Check
        /// What a repair changed, one sentence each.
        public var repaired: [String]
        /// When credentials were given: rotate them.
        public var rotateCredentials: String?
    }

    /// Failures that leave the vendor's side unknown (recorded as `unreachable`); any other
    /// `IntegrationError` (refused credentials, a bad domain) is thrown to the caller.
    static let unreachable: Set<IntegrationError.Code> = [.partnerUnreachable, .auth0RateLimited, .oktaRateLimited, .partnerAnswerUnexpected]

    /// A certificate closer than this to its end is reported.
    public static let certificateWarning: TimeInterval = 30 * 86_400

    public func integrations(tenantID: String, by principal: Principal) async throws -> [IntegrationRecord] {
        try authorize(principal, tenantID)
        return try await context.store.integrationRecords.list(tenantID: tenantID)
    }

    public func integration(tenantID: String, id: String, by principal: Principal) async throws -> IntegrationRecord {
        try authorize(principal, tenantID)
        guard let record = try await context.store.integrationRecords.get(tenantID: tenantID, id: id) else {
            throw IntegrationError(.unknownIntegration, "There is no integration \(id) in this tenant (sigil integration list shows them).")
        }
        return record
    }

    public func doctor(
        tenantID: String, id: String, issuer: String, credentials: PartnerCredentials? = nil, repair: Bool = false, by principal: Principal
    ) async throws -> DoctorReport {
        try authorize(principal, tenantID)
        guard var record = try await context.store.integrationRecords.get(tenantID: tenantID, id: id) else {
            throw IntegrationError(.unknownIntegration, "There is no integration \(id) in this tenant (sigil integration list shows them).")
        }
        if repair && credentials == nil {
            throw IntegrationError(.invalidInput, "A repair changes the vendor's side: give one-time credentials for \(record.partnerDomain).")
        }
        var findings = await sigilFindings(record, tenantID: tenantID)
        var repaired: [String] = []
        var status = "ok"
        var rotate: String?
        if let credentials {
            do {
                let partner = try await partnerFindings(&record, tenantID: tenantID, issuer: issuer, credentials: credentials, repair: repair)
                findings += partner.findings
                repaired = partner.repaired
                rotate = partner.rotate
            } catch let error as IntegrationError where Self.unreachable.contains(error.code) {
                // The vendor did not answer usably: say so, keep Sigil's side. Refused credentials
                // and bad input are errors for the caller (nothing is recorded).
                status = "unreachable"
                findings.append(.init(code: "partner_not_read", side: "partner", message: error.message, repairable: false))
            }
            if repair && !repaired.isEmpty {
                // What was repaired is checked again; what remains is reported.
                findings = findings.filter { !$0.repairable }
                if record.kind == "auth0-saml" || record.kind == "okta-saml",
                    let pem = try? await keys.currentCertificatePEM(tenantID: tenantID), let fp = Self.fingerprint(pem: pem)
                {
                    record.values["certificate_sha256"] = fp
                }
            }
        }
        if status == "ok" && !findings.isEmpty { status = "drift" }
        let check = IntegrationRecord.Check(status: status, findings: findings, checkedAt: context.clock.now(), partnerRead: credentials != nil)
        record.lastCheck = check
        try await context.store.integrationRecords.update(record)
        try await context.store.audit.append(
            context.auditEvent(
                repaired.isEmpty ? "integration.checked" : "integration.repaired", by: principal, tenantID: tenantID, targetType: "integration",
                targetID: id,
                after: [
                    "status": status, "findings": findings.map(\.code).joined(separator: " "), "partner_read": credentials == nil ? "false" : "true",
                    "repaired": String(repaired.count),
                ]))
        return DoctorReport(integration: record, check: check, repaired: repaired, rotateCredentials: rotate)
    }

    /// The scheduled check over every tenant's integrations (Sigil's side only: no credential is
    /// kept to read the vendor's). Audits `integration.drift` when a check finds something it did
    /// not find last time; returns how many integrations drift.
    public func checkAll(limit: Int = 1000) async -> (checked: Int, drifting: Int) {
        guard let records = try? await context.store.integrationRecords.all(limit: limit) else { return (0, 0) }
        var drifting = 0
        for var record in records {
            let findings = await sigilFindings(record, tenantID: record.tenantID)
            let before = Set(record.lastCheck?.findings.map(\.code) ?? [])
            // A finding only the vendor's side can show stays until a doctor run with credentials clears it.
            let kept = (record.lastCheck?.findings ?? []).filter { $0.side == "partner" && $0.code != "certificate_changed" }
            let all = findings + kept
            if !all.isEmpty { drifting += 1 }
            record.lastCheck = .init(
                status: all.isEmpty ? "ok" : "drift", findings: all, checkedAt: context.clock.now(), partnerRead: false)
            try? await context.store.integrationRecords.update(record)
            let new = Set(findings.map(\.code)).subtracting(before)
            if !new.isEmpty {
                try? await context.store.audit.append(
                    context.auditEvent(
                        "integration.drift", by: .system, tenantID: record.tenantID, targetType: "integration", targetID: record.id,
                        after: ["kind": record.kind, "partner_domain": record.partnerDomain, "findings": new.sorted().joined(separator: " ")]))
            }
        }
        return (records.count, drifting)
    }

    // MARK: Sigil's side

    func sigilFindings(_ r: IntegrationRecord, tenantID: String) async -> [IntegrationRecord.Finding] {
        var out: [IntegrationRecord.Finding] = []
        let vendor = r.kind.hasPrefix("auth0") ? "Auth0" : "Okta"
        guard let app = try? await context.store.applications.get(tenantID: tenantID, id: r.applicationID) else {
            return [
                .init(
                    code: "sigil_application_missing", side: "sigil",
                    message:
                        "Sigil's application \(r.applicationID) for \(vendor) (\(r.partnerDomain)) was deleted: sign-ins through it fail. Set the integration up again (sigil integration \(r.kind)), and delete the \(vendor) side of this one.",
                    repairable: false)
            ]
        }
        switch app.settings {
        case .saml(let s):
            if let entity = r.values["sp_entity_id"], s.entityID != entity {
                out.append(
                    .init(
                        code: "sigil_entity_id_changed", side: "sigil",
                        message:
                            "Sigil's application \(app.name) now names the entity ID \(s.entityID); \(vendor) is \(entity). Set it back (sigil app update).",
                        repairable: false))
            }
            if let acs = r.values["acs_url"], !s.assertionConsumerServices.contains(where: { $0.url == acs }) {
                out.append(
                    .init(
                        code: "sigil_acs_changed", side: "sigil",
                        message: "Sigil's application \(app.name) no longer posts to \(vendor)'s ACS \(acs). Add it back (sigil app update).",
                        repairable: false))
            }
        case .oidc(let c):
            for uri in (r.values["redirect_uri"] ?? "").split(separator: " ").map(String.init) where !c.redirectURIs.contains(uri) {
                out.append(
                    .init(
                        code: "sigil_redirect_uri_missing", side: "sigil",
                        message:
                            "Sigil's application \(app.name) no longer allows \(vendor)'s redirect URI \(uri): sign-ins end in an error. Add it back (sigil app update).",
                        repairable: false))
            }
        }
        if r.kind == "auth0-saml" || r.kind == "okta-saml", let pem = try? await keys.currentCertificatePEM(tenantID: tenantID) {
            if let given = r.values["certificate_sha256"], let current = Self.fingerprint(pem: pem), given != current {
                out.append(
                    .init(
                        code: "certificate_changed", side: "partner",
                        message:
                            "Sigil's signing certificate changed (a key rotation) after \(vendor) was given it: \(vendor) refuses Sigil's SAML responses until it has the new one. Run sigil integration doctor \(r.id) --repair with one-time \(vendor) credentials, or upload the certificate from Sigil's SAML metadata in \(vendor)'s console.",
                        repairable: true))
            }
            if let end = Self.notAfter(pem: pem), end.timeIntervalSince(context.clock.now()) < Self.certificateWarning {
                let days = Int(max(0, end.timeIntervalSince(context.clock.now())) / 86_400)
                out.append(
                    .init(
                        code: "certificate_expiring", side: "sigil",
                        message:
                            "Sigil's signing certificate ends in \(days) day\(days == 1 ? "" : "s") (\(ISO8601DateFormatter().string(from: end))): rotate the key (sigil keys rotate), then repair \(vendor) with the doctor.",
                        repairable: false))
            }
        }
        return out
    }

    static func notAfter(pem: String) -> Date? {
        (try? Certificate(pemEncoded: pem)).map { $0.notValidAfter }
    }

    // MARK: the vendor's side

    struct PartnerFindings {
        var findings: [IntegrationRecord.Finding] = []
        var repaired: [String] = []
        var rotate: String?
    }

    func partnerFindings(
        _ r: inout IntegrationRecord, tenantID: String, issuer: String, credentials: PartnerCredentials, repair: Bool
    ) async throws -> PartnerFindings {
        var out = PartnerFindings()
        let pem = try? await keys.currentCertificatePEM(tenantID: tenantID)
        func drift(_ code: String, _ message: String, repairable: Bool = true) {
            out.findings.append(.init(code: code, side: "partner", message: message, repairable: repairable))
        }
        switch (r.kind, credentials) {
        case ("auth0-saml", .auth0(let clientID, let secret)), ("auth0-social", .auth0(let clientID, let secret)):
            out.rotate = Self.auth0Rotate(clientID: clientID)
            let auth0 = try await Auth0Management.connect(
                domain: r.values["partner_base"] ?? r.partnerDomain, clientID: clientID, clientSecret: secret, remote: context.remote, logger: context.logger)
            guard let connectionID = r.object("connection")?.id else { return out }
            let connection: [String: JSONValue]
            do {
                connection = try await auth0.connection(id: connectionID)
            } catch let error as IntegrationError where error.code == .partnerObjectMissing {
                drift(
                    "connection_missing",
                    "The Auth0 connection \(r.object("connection")?.name ?? connectionID) was deleted in Auth0: nobody can sign in through it. Set the integration up again.",
                    repairable: false)
                return out
            }
            let options = connection["options"]?.object ?? [:]
            var fix: [String: JSONValue] = [:]
            if r.kind == "auth0-saml" {
                let sso = SAMLIdentityProviderService.ssoURL(issuer: issuer)
                if options["signInEndpoint"]?.string != sso {
                    drift("sso_url_changed", "Auth0 sends users to \(options["signInEndpoint"]?.string ?? "nothing") instead of Sigil's SSO URL \(sso).")
                    fix["signInEndpoint"] = .string(sso)
                }
                let given = options["signingCert"]?.string.flatMap { Data(base64Encoded: $0) }.map { String(decoding: $0, as: UTF8.self) }
                if let pem, given.flatMap(Self.fingerprint) != Self.fingerprint(pem: pem) {
                    drift("partner_certificate_differs", "Auth0 does not hold Sigil's current signing certificate: it refuses Sigil's SAML responses.")
                    fix["signingCert"] = .string(Data(pem.utf8).base64EncodedString())
                }
                let map = options["fieldsMap"]?.object ?? [:]
                let wanted = ["email": "email", "given_name": "given_name", "family_name": "family_name"]
                if wanted.contains(where: { map[$0.key]?.string != $0.value }) {
                    drift("attribute_mapping_changed", "Auth0's attribute mapping no longer reads Sigil's email, given_name and family_name.")
                    var merged = map
                    for (k, v) in wanted { merged[k] = .string(v) }
                    fix["fieldsMap"] = .object(merged)
                }
            } else {
                let authorize = issuer + "/oauth2/authorize", token = issuer + "/oauth2/token"
                if options["authorizationURL"]?.string != authorize || options["tokenURL"]?.string != token {
                    drift("endpoints_changed", "Auth0's connection no longer points at Sigil's authorization and token endpoints (\(authorize), \(token)).")
                    fix["authorizationURL"] = .string(authorize)
                    fix["tokenURL"] = .string(token)
                }
                if options["pkce_enabled"]?.bool != true {
                    drift(
                        "pkce_disabled",
                        "PKCE is off in the Auth0 connection: Auth0 sends no code_challenge and Sigil refuses its sign-ins (invalid_request: code_challenge is required)."
                    )
                    fix["pkce_enabled"] = true
                }
                if let expected = r.values["client_id"], options["client_id"]?.string != expected {
                    drift(
                        "client_id_changed", "The Auth0 connection uses another client ID than Sigil's application (\(expected)).",
                        repairable: false)
                }
            }
            let enabled = Set(try await auth0.enabledClients(connectionID: connectionID))
            let missing = r.enabledClients.filter { !enabled.contains($0) }
            if !missing.isEmpty {
                drift("connection_not_enabled", "The connection is no longer enabled for the Auth0 applications \(missing.joined(separator: ", ")).")
            }
            if repair {
                if !fix.isEmpty {
                    _ = try await auth0.updateConnectionOptions(id: connectionID, merging: fix)
                    out.repaired.append("The Auth0 connection's \(fix.keys.sorted().joined(separator: ", ")) set back to Sigil's.")
                }
                if !missing.isEmpty {
                    try await auth0.enableClients(connectionID: connectionID, clientIDs: missing)
                    out.repaired.append("The connection enabled again for \(missing.joined(separator: ", ")).")
                }
            }
        case ("okta-saml", .okta(let token)), ("okta-idv", .okta(let token)):
            out.rotate = Self.oktaRevoke
            let okta = try OktaManagement(orgURL: r.values["partner_base"] ?? r.partnerDomain, apiToken: token, remote: context.remote, logger: context.logger)
            guard let idpID = r.object("identity_provider")?.id else { return out }
            var idp: [String: JSONValue]
            do {
                idp = try await okta.idp(id: idpID)
            } catch let error as IntegrationError where error.code == .partnerObjectMissing {
                drift(
                    "identity_provider_missing",
                    "The Okta identity provider \(r.object("identity_provider")?.name ?? idpID) was deleted in Okta. Set the integration up again.",
                    repairable: false)
                return out
            }
            if idp["status"]?.string == "INACTIVE" {
                drift(
                    "identity_provider_inactive",
                    "The Okta identity provider is deactivated: Okta sends nobody to Sigil. Activate it in Security → Identity Providers.", repairable: false)
            }
            var proto = idp["protocol"]?.object ?? [:]
            var endpoints = proto["endpoints"]?.object ?? [:]
            var changed = false
            if r.kind == "okta-saml" {
                let sso = SAMLIdentityProviderService.ssoURL(issuer: issuer)
                if endpoints["sso"]?.object?["url"]?.string != sso {
                    drift("sso_url_changed", "Okta sends users to \(endpoints["sso"]?.object?["url"]?.string ?? "nothing") instead of Sigil's SSO URL \(sso).")
                    endpoints["sso"] = .object(["url": .string(sso), "binding": "HTTP-POST", "destination": .string(sso)])
                    changed = true
                }
                var trust = proto["credentials"]?.object?["trust"]?.object ?? [:]
                let kid = trust["kid"]?.string ?? ""
                let x5c = (try? await okta.key(kid: kid))?["x5c"]?.array?.first?.string
                let current = pem.flatMap { try? SigningCertificate.x5cValue(pem: $0) }
                if let current, x5c != current {
                    drift(
                        "partner_certificate_differs",
                        "Okta's identity provider trusts another certificate than Sigil's current signing certificate: it refuses Sigil's SAML responses.")
                    if repair {
                        let key = try await okta.uploadKey(x5c: current)
                        trust["kid"] = .string(key.kid)
                        var credentials = proto["credentials"]?.object ?? [:]
                        credentials["trust"] = .object(trust)
                        proto["credentials"] = .object(credentials)
                        changed = true
                        if let i = r.partnerObjects.firstIndex(where: { $0.kind == "key" }) {
                            r.partnerObjects[i].id = key.kid
                        } else {
                            r.partnerObjects.append(.init(kind: "key", id: key.kid))
                        }
                        r.values["key_id"] = key.kid
                    }
                }
                if let ruleID = r.values["routing_rule_id"], let policyID = r.values["routing_policy_id"] {
                    do {
                        let rule = try await okta.rule(policyID: policyID, ruleID: ruleID)
                        if rule["status"]?.string == "INACTIVE" {
                            drift("routing_rule_inactive", "The routing rule that sends users to Sigil is deactivated.", repairable: false)
                        }
                    } catch let error as IntegrationError where error.code == .partnerObjectMissing {
                        drift(
                            "routing_rule_missing", "The routing rule that sent users to Sigil was deleted: Okta no longer offers Sigil at sign-in.",
                            repairable: false)
                    }
                }
            } else {
                let wanted: [String: String] = [
                    "par": issuer + "/oauth2/par", "authorization": issuer + "/oauth2/idv-authorize", "token": issuer + "/oauth2/token",
                    "jwks": issuer + "/oauth2/jwks",
                ]
                for (name, url) in wanted.sorted(by: { $0.key < $1.key }) where endpoints[name]?.object?["url"]?.string != url {
                    drift(
                        "endpoint_changed",
                        "Okta's IDV vendor calls \(endpoints[name]?.object?["url"]?.string ?? "nothing") for \(name) instead of Sigil's \(url).")
                    var endpoint = endpoints[name]?.object ?? [:]
                    endpoint["url"] = .string(url)
                    endpoints[name] = .object(endpoint)
                    changed = true
                }
            }
            if repair && changed && r.kind == "okta-idv" && proto["credentials"]?.object?["client"]?.object?["client_secret"]?.string == nil {
                // A PUT replaces the whole IdP: without the client secret in Okta's answer it would erase it.
                out.findings = out.findings.map {
                    var f = $0; f.repairable = false; return f
                }
                out.findings.append(
                    .init(
                        code: "repair_needs_client_secret", side: "partner",
                        message:
                            "Okta's answer does not include the IdP's client secret, and replacing the IdP without it would erase it: correct the endpoints in Okta's console (Security → Identity Providers), or set the integration up again.",
                        repairable: false))
                changed = false
            }
            if repair && changed {
                proto["endpoints"] = .object(endpoints)
                idp["protocol"] = .object(proto)
                _ = try await okta.replaceIdP(id: idpID, idp)
                out.repaired.append("The Okta identity provider's endpoints and trusted key set back to Sigil's.")
            }
        default:
            throw IntegrationError(
                .invalidInput,
                "This integration is with \(r.kind.hasPrefix("auth0") ? "Auth0" : "Okta"): give \(r.kind.hasPrefix("auth0") ? "an Auth0 client ID and secret" : "an Okta API token")."
            )
        }
        return out
    }
}
