import Crypto
import Foundation
import Testing

@testable import SigilHTTP

/// The page templates (`Pages`, Sources/SigilHTTP/Templates): every one loads, and every place a
/// user, an administrator, a client or a service provider can put text is escaped by `{{…}}`.
@Suite struct PageTemplateTests {
    static let hostile = #"<script>alert("x")</script>&'"#
    static let escaped = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;"
    let pages = Pages.standard

    /// `html` shows `hostile` escaped exactly `count` times and never raw.
    func expectEscaped(_ html: String, count: Int, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(!html.contains("<script>alert"), "\(html)", sourceLocation: sourceLocation)
        #expect(html.components(separatedBy: Self.escaped).count - 1 == count, "\(html)", sourceLocation: sourceLocation)
    }

    @Test func everyTemplateLoadsAndUsesOnlyEscapedVariables() throws {
        #expect(Set(EmbeddedTemplates.sources.keys) == Set(Pages.Template.allCases.map(\.rawValue)))
        var sources = EmbeddedTemplates.sources
        sources["error"] = "{{<layout}}{{$body}}{{{message}}}{{/body}}{{/layout}}"
        #expect(throws: Pages.LoadError.self) { try Pages(sources: sources) }
        sources["error"] = "{{<layout}}{{$body}}{{& message}}{{/body}}{{/layout}}"
        #expect(throws: Pages.LoadError.self) { try Pages(sources: sources) }
        sources = EmbeddedTemplates.sources
        sources["form-post"] = sources["form-post"]!.replacingOccurrences(of: "submit();", with: "submit(); ")
        #expect(throws: Pages.LoadError.self) { try Pages(sources: sources) }
        sources = EmbeddedTemplates.sources
        sources.removeValue(forKey: "consent")
        #expect(throws: Pages.LoadError.self) { try Pages(sources: sources) }
    }

    @Test func chromeEscapesTheBasePathAndTitle() {
        let html = pages.render(
            .error,
            ErrorView(
                base: Self.hostile, title: Self.hostile, heading: "h", message: "m", oauthCode: nil,
                askAdministrator: false))
        #expect(html.hasPrefix("<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">"))
        #expect(html.contains(#"<link rel="stylesheet" href="\#(Self.escaped)/assets/sigil.css">"#))
        #expect(html.contains(#"<script src="\#(Self.escaped)/assets/sigil.js" defer></script>"#))
        #expect(html.contains(#"<body data-page="error" data-base="\#(Self.escaped)">"#))
        #expect(html.contains("<title>\(Self.escaped) · Sigil</title>"))
        expectEscaped(html, count: 4)
    }

    @Test func loginPage() {
        let h = Self.hostile
        var html = pages.render(.login, LoginView(base: "", tenantName: h, returnTo: h, passkeyOnly: false, deviceBound: false, currentEmail: h))
        expectEscaped(html, count: 4)
        #expect(
            html.contains(#"<body data-page="login" data-base="">"#) && html.contains(#"id="authenticator""#)
                && html.contains(#"<form id="login-form" data-return-to="\#(Self.escaped)">"#)
                && html.contains(#"spellcheck="false" value="\#(Self.escaped)">"#) && html.contains(#"id="current-account""#)
                && !html.contains("acr-note"))
        html = pages.render(.login, LoginView(base: "", tenantName: "T", returnTo: "/account", passkeyOnly: true, deviceBound: true, currentEmail: nil))
        #expect(
            !html.contains(#"id="authenticator""#) && html.contains("on this device or a security key") && !html.contains("current-account")
                && html.contains(#"spellcheck="false">"#))
        html = pages.render(.login, LoginView(base: "", tenantName: "T", returnTo: "/account", passkeyOnly: true, deviceBound: false, currentEmail: nil))
        #expect(html.contains(#"<p id="acr-note" class="hint">This application asks for a passkey.</p>"#))
    }

    @Test func enrolPage() {
        var html = pages.render(.enrol, EnrolView(base: "/t/acme", inviteeEmail: Self.hostile))
        expectEscaped(html, count: 1)
        #expect(!html.contains(#"id="given_name""#) && html.contains(#"data-base="/t/acme""#))
        html = pages.render(.enrol, EnrolView(base: "", inviteeEmail: nil))
        #expect(
            html.contains(#"id="email""#) && html.contains(#"id="given_name""#) && html.contains(#"id="family_name""#)
                && html.contains(#"id="enroll-button""#))
    }

    @Test func accountPage() {
        let h = Self.hostile
        let view = AccountView(
            base: "", csrf: "tok", givenName: h, familyName: h, email: h, isAdmin: true, methods: h, authTime: "t",
            passkeys: [.init(name: h, credentialID: h, added: "d", lastUsed: "u", cloneWarning: true)],
            devices: [.init(name: h, id: h, platform: h, keyProtection: h, added: "d", lastUsed: nil, notifications: true)],
            identityStatus: h, consents: [.init(name: h, clientIDSegment: h, access: h, allowed: "d")])
        let html = pages.render(.account, view)
        expectEscaped(html, count: 14)
        #expect(
            html.contains(#"<p id="account-email">\#(Self.escaped) · administrator</p>"#)
                && html.contains("added d, last used u, <strong>possible copy detected</strong>")
                && html.contains(", notifications on</span>") && !html.contains("no-consents")
                && html.components(separatedBy: #"<input type="hidden" name="csrf" value="tok">"#).count - 1 == 5)
        let empty = pages.render(
            .account,
            AccountView(
                base: "", csrf: "tok", givenName: "A", familyName: "B", email: "a@b", isAdmin: false,
                methods: "hwk", authTime: "t", passkeys: [], devices: [], identityStatus: nil, consents: []))
        #expect(
            empty.contains(#"id="no-consents""#) && empty.contains("You have not verified your identity here.") && !empty.contains("<li>")
                && !empty.contains("administrator"))
    }

    @Test func consentPage() {
        let h = Self.hostile
        let html = pages.render(
            .consent,
            ConsentView(
                base: "", applicationName: h, tenantName: h, lines: [h, "Read your email"], host: h,
                request: h, time: "1", mac: "m"))
        expectEscaped(html, count: 5)
        #expect(
            html.contains("<li>Read your email</li>") && html.contains(#"name="sigil_request" value="\#(Self.escaped)""#)
                && html.contains(#"<button id="consent-allow" type="submit" name="sigil_decision" value="allow">"#))
        #expect(
            OAuthRoutes.consentRequestParameter == "sigil_request" && OAuthRoutes.consentTimeParameter == "sigil_consent_at"
                && OAuthRoutes.consentMACParameter == "sigil_consent_mac" && OAuthRoutes.decisionParameter == "sigil_decision")
    }

    @Test func logoutPages() {
        let h = Self.hostile
        let html = pages.render(
            .logoutConfirm,
            LogoutConfirmView(
                base: "", tenantName: h, csrf: "tok",
                keep: [.init(name: "state", value: h), .init(name: "client_id", value: h)]))
        expectEscaped(html, count: 3)
        #expect(html.contains(#"<input type="hidden" name="state" value="\#(Self.escaped)">"#) && html.contains(#"id="logout-confirm""#))
        let out = pages.render(.signedOut, SignedOutView(base: "", pageName: "signed-out", partial: true))
        #expect(out.contains(#"data-page="signed-out""#) && out.contains(#"id="slo-partial""#))
    }

    @Test func errorPages() {
        let h = Self.hostile
        let html = pages.render(.error, ErrorView(base: "", title: "Refused", heading: h, message: h, oauthCode: h, askAdministrator: true))
        expectEscaped(html, count: 3)
        #expect(html.contains("<code>\(Self.escaped)</code>") && html.contains("tell its administrator"))
    }

    @Test func samlHandOffPages() {
        let h = Self.hostile
        let post = pages.render(.samlPost, SAMLPostView(base: "", signingOut: true, action: h, field: h, value: h, relayState: h, skip: h))
        expectEscaped(post, count: 5)
        #expect(
            post.contains(#"<form id="saml-post" method="post" action="\#(Self.escaped)" data-auto-submit>"#)
                && post.contains("<title>Signing out · Sigil</title>") && post.contains(#"id="slo-skip""#))
        let sso = pages.render(
            .samlPost,
            SAMLPostView(
                base: "", signingOut: false, action: "https://sp/acs", field: "SAMLResponse", value: "PHg+",
                relayState: nil, skip: nil))
        #expect(
            sso.contains("Signing you in…") && sso.contains(#"<input type="hidden" name="SAMLResponse" value="PHg+">"#)
                && !sso.contains("RelayState") && !sso.contains("slo-skip"))
        let hop = pages.render(.samlRedirect, SAMLRedirectView(base: "", url: h, skip: h))
        expectEscaped(hop, count: 2)
        #expect(hop.contains(#"<a id="saml-redirect" href="\#(Self.escaped)" data-auto-follow>Continue</a>"#))
    }

    @Test func authenticatorLanding() {
        expectEscaped(pages.render(.authenticatorLanding, AuthenticatorLandingView(base: "", what: Self.hostile)), count: 1)
    }

    @Test func formPostResponseIsEscapedAndItsScriptMatchesTheHashInItsPolicy() throws {
        let view = FormPostView(
            action: "https://rp.example/cb?a=1&b=\"", fields: [.init(name: "state", value: Self.hostile), .init(name: "iss", value: "https://id")])
        let html = pages.render(.formPost, view)
        expectEscaped(html, count: 1)
        #expect(
            html.contains(#"<form id="continue-form" method="post" action="https://rp.example/cb?a=1&amp;b=&quot;">"#)
                && html.contains(#"<input type="hidden" name="iss" value="https://id">"#))
        // The page's only script is exactly the one whose hash the policy allows.
        let script = try #require(html.components(separatedBy: "<script>").dropFirst().first?.components(separatedBy: "</script>").first)
        #expect(html.components(separatedBy: "<script").count == 2)
        let hash = "sha256-" + Data(SHA256.hash(data: Array(script.utf8))).base64EncodedString()
        #expect(view.contentSecurityPolicy == "default-src 'none'; script-src '\(hash)'; form-action 'self' https:; frame-ancestors 'none'; base-uri 'none'")
    }
}
