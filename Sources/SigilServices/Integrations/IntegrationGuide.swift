import Foundation
import SigilCore
import SigilJOSE

/// The manual path of each one-click setup (docs/integrations.md, "By hand"), step by step with
/// this Sigil's exact values, for an administrator who will not hand Sigil a credential. Where the
/// vendor's own value is not known yet (the Auth0 domain, Okta's ACS and audience), a step says
/// where to read it and a later step says what to do with it.
extension IntegrationService {
    public struct GuideStep: Sendable, Equatable {
        public var title: String
        public var lines: [String]
    }

    /// Placeholder for the Auth0 callback until the tenant's domain is known (a reserved name:
    /// nothing can answer there).
    public static let placeholderCallback = "https://auth0-domain.invalid/login/callback"

    public func guide(
        _ kind: IntegrationResult.Kind, tenantID: String, tenantName: String, issuer: String, domain: String?, connectionName: String = "sigil"
    ) async throws -> [GuideStep] {
        let sso = SAMLIdentityProviderService.ssoURL(issuer: issuer)
        let slo = SAMLIdentityProviderService.sloURL(issuer: issuer)
        let entity = SAMLIdentityProviderService.entityID(issuer: issuer)
        let host = domain.map { d in
            d.replacingOccurrences(of: "https://", with: "").replacingOccurrences(of: "http://", with: "").trimmingCharacters(
                in: CharacterSet(charactersIn: "/"))
        }
        let t = "--tenant \(tenantName)"
        switch kind {
        case .auth0Social:
            let callback = host.map { "https://\($0)/login/callback" } ?? Self.placeholderCallback
            var steps = [
                GuideStep(
                    title: "Create Sigil's OIDC application for Auth0",
                    lines: [
                        "sigil app create-oidc \(t) --name \"Auth0 \(host ?? "social")\" --redirect-uri \(callback) --grant-type authorization_code --auth-method client_secret_post --scope openid --scope email --scope profile",
                        host == nil
                            ? "The redirect URI is a placeholder until you know your Auth0 domain (step 5 replaces it)."
                            : "The redirect URI is Auth0's callback for social connections.",
                        "Note the client ID and the secret: the secret is printed once. PKCE (S256) is required; the ID token is signed RS256.",
                    ]),
                GuideStep(
                    title: "Create the custom social connection in Auth0",
                    lines: [
                        "Auth0 Dashboard → Authentication → Social → Create Connection → Create Custom.",
                        "Name: \(connectionName)",
                        "Authorization URL: \(issuer)/oauth2/authorize",
                        "Token URL: \(issuer)/oauth2/token",
                        "Scope: openid email profile",
                        "Client ID and Client Secret: from step 1.",
                        "Fetch User Profile Script:",
                    ] + (try Self.fetchUserProfileScript(userinfoURL: issuer + "/oauth2/userinfo")).split(separator: "\n").map { "    " + $0 }),
                GuideStep(
                    title: "Switch PKCE on (Sigil refuses Auth0's requests without it)",
                    lines: [
                        "Auth0's custom connections send no code_challenge unless options.pkce_enabled is true, and the dashboard does not show it. Without it Auth0 ends at: invalid_request: code_challenge is required (PKCE with S256).",
                        "With a Management API token ($TOKEN, scopes read:connections update:connections): a PATCH replaces options whole, so read, change, write:",
                        "ID=$(curl -s -H \"Authorization: Bearer $TOKEN\" 'https://\(host ?? "YOUR-AUTH0-DOMAIN")/api/v2/connections?name=\(connectionName)' | jq -r '.[0].id')",
                        "curl -s -H \"Authorization: Bearer $TOKEN\" https://\(host ?? "YOUR-AUTH0-DOMAIN")/api/v2/connections/$ID | jq '{options: (.options + {pkce_enabled: true})}' > options.json",
                        "curl -s -X PATCH -H \"Authorization: Bearer $TOKEN\" -H 'Content-Type: application/json' --data @options.json https://\(host ?? "YOUR-AUTH0-DOMAIN")/api/v2/connections/$ID",
                    ]),
                GuideStep(
                    title: "Enable the connection for your Auth0 applications",
                    lines: ["Authentication → Social → \(connectionName) → Applications: switch on each application that should offer Sigil."]),
            ]
            if host == nil {
                steps.append(
                    GuideStep(
                        title: "Replace the placeholder with Auth0's callback",
                        lines: [
                            "sigil app update APP_ID \(t) --add-redirect-uri https://YOUR-AUTH0-DOMAIN/login/callback --remove-redirect-uri \(Self.placeholderCallback)",
                            "YOUR-AUTH0-DOMAIN is the tenant's domain (e.g. acme.us.auth0.com) or its custom domain if users sign in through one.",
                        ]))
            }
            steps.append(
                GuideStep(
                    title: "Try it",
                    lines: [
                        "https://\(host ?? "YOUR-AUTH0-DOMAIN")/authorize?connection=\(connectionName)&client_id=AUTH0_APP_CLIENT_ID&response_type=code&redirect_uri=AUTH0_APP_CALLBACK&scope=openid"
                    ]))
            return steps
        case .auth0SAML:
            let pem = try await keys.currentCertificatePEM(tenantID: tenantID)
            let d = host ?? "YOUR-AUTH0-DOMAIN"
            return [
                GuideStep(
                    title: "Create the SAML connection in Auth0",
                    lines: [
                        "Auth0 Dashboard → Authentication → Enterprise → SAML → Create Connection.",
                        "Connection name: \(connectionName)",
                        "Sign In URL: \(sso)",
                        "Sign Out URL: \(slo)",
                        "X509 Signing Certificate: upload this PEM (Sigil's metadata \(entity) has the same):",
                    ] + pem.split(separator: "\n").map { "    " + $0 } + [
                        "Sign Request: off. Request Protocol Binding: HTTP-POST. Sign-in algorithm: RSA-SHA256, digest SHA256.",
                        "Mappings: {\"email\": \"email\", \"given_name\": \"given_name\", \"family_name\": \"family_name\"}",
                    ]),
                GuideStep(
                    title: "Register Auth0 as a service provider in Sigil",
                    lines: [
                        "Auth0's entity ID is urn:auth0:YOUR-TENANT:\(connectionName) (YOUR-TENANT: the name in the dashboard's tenant menu) and its ACS https://\(d)/login/callback?connection=\(connectionName).",
                        "sigil app create-saml \(t) --name \"Auth0 \(connectionName)\" --entity-id urn:auth0:YOUR-TENANT:\(connectionName) --acs-url 'https://\(d)/login/callback?connection=\(connectionName)' --name-id-format persistent --signing both --attribute email=email --attribute given_name=given_name --attribute family_name=family_name",
                    ]),
                GuideStep(
                    title: "Enable the connection for your Auth0 applications",
                    lines: ["Authentication → Enterprise → SAML → \(connectionName) → Applications; users sign in with connection=\(connectionName)."]),
            ]
        case .oktaSAML:
            let pem = try await keys.currentCertificatePEM(tenantID: tenantID)
            return [
                GuideStep(
                    title: "Add Sigil as a SAML 2.0 identity provider in Okta",
                    lines: [
                        "Okta Admin Console (\(host ?? "YOUR-ORG.okta.com")) → Security → Identity Providers → Add identity provider → SAML 2.0.",
                        "IdP Issuer URI: \(entity)",
                        "IdP Single Sign-On URL: \(sso) (binding HTTP POST)",
                        "IdP Signature Certificate: upload this PEM:",
                    ] + pem.split(separator: "\n").map { "    " + $0 } + [
                        "IdP Username: idpuser.subjectNameId; Match against: Okta Username; If no match is found: Create new user (JIT).",
                        "Trust claims from this identity provider: on (Okta then sees Sigil's session.amr).",
                        "Response signature algorithm: SHA-256, scope Response or Assertion.",
                    ]),
                GuideStep(
                    title: "Register Okta as a service provider in Sigil",
                    lines: [
                        "Okta shows the identity provider's Assertion Consumer Service URL (https://YOUR-ORG/sso/saml2/IDP_ID) and Audience URI (https://www.okta.com/saml2/service-provider/…).",
                        "sigil app create-saml \(t) --name \"Okta\" --entity-id AUDIENCE_URI --acs-url ACS_URL --name-id-format emailAddress --signing both --attribute email=email --attribute firstName=given_name --attribute lastName=family_name",
                    ]),
                GuideStep(
                    title: "Route users to Sigil",
                    lines: [
                        "Security → Identity Providers → Routing rules → Add routing rule: identity provider Sigil; all users, or User matches: Domain list (e.g. example.com)."
                    ]),
            ]
        case .oktaIDV:
            let org = host ?? "YOUR-ORG.okta.com"
            return [
                GuideStep(
                    title: "Create Sigil's OIDC application for Okta",
                    lines: [
                        "sigil app create-oidc \(t) --name \"Okta IDV\" --redirect-uri https://\(org)/idp/identity-verification/callback --grant-type authorization_code --auth-method client_secret_post --require-par --scope openid --scope profile --scope identity_assurance",
                        "Then mark it an identity verification client: PATCH /api/admin/v1/applications/APP_ID with {\"identity_verification\": true} (admin API).",
                        "Note the client ID and the secret (printed once).",
                    ]),
                GuideStep(
                    title: "Add Sigil as a custom identity verification vendor in Okta",
                    lines: [
                        "Okta Admin Console → Security → Identity Providers → Add identity provider → Custom IDV vendor (IDV_STANDARD).",
                        "Issuer: \(issuer)",
                        "Pushed authorization request endpoint: \(issuer)/oauth2/par",
                        "Authorization endpoint: \(issuer)/oauth2/idv-authorize",
                        "Token endpoint: \(issuer)/oauth2/token",
                        "JWKS endpoint: \(issuer)/oauth2/jwks",
                        "Client ID and Client Secret: from step 1. Scopes: openid profile identity_assurance.",
                    ]),
                GuideStep(
                    title: "Use it",
                    lines: [
                        "Security → Authentication Policies → Okta account management policy: a rule with identity verification by this vendor."
                    ]),
            ]
        }
    }
}
