import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import Mustache
import SigilCore

/// Every HTML page Sigil serves, rendered from one mustache template each
/// (`Sources/SigilHTTP/Templates/*.mustache`). The EmbedTemplates build plugin compiles the
/// template files into the module (`EmbeddedTemplates.sources`), so the binary needs no resource
/// bundle beside it; `Pages.standard` parses them once, when `SigilServer.router` is built.
///
/// `{{…}}` is the only HTML escaper (`& < > " '`, for element content and quoted attributes);
/// templates never use the unescaped `{{{…}}}` / `{{&…}}` forms (a test checks), so no page
/// builds HTML by string interpolation. Page chrome is `layout.mustache`, which pages extend
/// (`{{<layout}}`) filling the `title`, `page` and `body` blocks.
struct Pages: Sendable {
    enum Template: String, CaseIterable, Sendable {
        case layout
        case login
        case enrol
        case account
        case consent
        case logoutConfirm = "logout-confirm"
        case signedOut = "signed-out"
        case error
        case samlPost = "saml-post"
        case samlRedirect = "saml-redirect"
        case authenticatorLanding = "authenticator-landing"
        case formPost = "form-post"
        case continueLink = "continue-link"
        case stepUp = "step-up"
        case idv
        case liveID = "liveid"
        case adminx
    }

    struct LoadError: Error, CustomStringConvertible {
        let description: String
    }

    private let library: MustacheLibrary

    /// The templates compiled into this binary, parsed once.
    static let standard: Pages = {
        do {
            return try Pages(sources: EmbeddedTemplates.sources)
        } catch {
            fatalError("SigilHTTP's embedded page templates do not load: \(error)")
        }
    }()

    init(sources: [String: String]) throws {
        var library = MustacheLibrary()
        for template in Template.allCases {
            guard let text = sources[template.rawValue] else { throw LoadError(description: "no template \(template.rawValue).mustache") }
            if text.contains("{{{") || text.contains("{{&") {
                throw LoadError(description: "\(template.rawValue).mustache uses an unescaped variable")
            }
            do {
                try library.register(text, named: template.rawValue)
            } catch {
                throw LoadError(description: "\(template.rawValue).mustache: \(error)")
            }
        }
        // The form_post page's one inline script is allowed by its hash: the template must hold exactly that script.
        guard sources[Template.formPost.rawValue]?.contains("<script>\(FormPostView.autoSubmitScript)</script>") == true else {
            throw LoadError(description: "form-post.mustache must contain <script>\(FormPostView.autoSubmitScript)</script>")
        }
        self.library = library
    }

    func render(_ template: Template, _ view: Any) -> String {
        guard let html = library.render(view, withTemplate: template.rawValue) else {
            preconditionFailure("template \(template.rawValue) was checked at load")
        }
        return html
    }

    /// A hosted page: `text/html`, never cached, with the page policy (`Web.pageCSP`) unless the page
    /// hands off to another site (`Web.handOffCSP(target:)`).
    func page(
        _ template: Template, _ view: some PageView, status: HTTPResponse.Status = .ok,
        contentSecurityPolicy: String = Web.pageCSP
    ) -> Response {
        Self.html(render(template, view), status: status, contentSecurityPolicy: contentSecurityPolicy)
    }

    static func html(_ html: String, status: HTTPResponse.Status = .ok, contentSecurityPolicy: String) -> Response {
        Response(
            status: status,
            headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store", .contentSecurityPolicy: contentSecurityPolicy],
            body: .init(byteBuffer: ByteBuffer(string: html)))
    }
}

/// What `layout.mustache` reads from every page's view: the tenant's base path for asset and form URLs.
protocol PageView {
    var base: String { get }
}

// MARK: views (one per template; every String is escaped by the template)

struct LoginView: PageView {
    let base: String
    let tenantName: String
    let returnTo: String
    /// The application asked for more than the authenticator gives (acr): passkeys only.
    let passkeyOnly: Bool
    /// … and for a passkey kept on this device or a security key (`phrh`).
    let deviceBound: Bool
    /// The application asked for LiveID: the Sigil app with a biometric check, no passkey.
    var liveID: Bool = false
    /// Set when the browser is signed in already (a new sign-in was asked for).
    let currentEmail: String?
    /// Upstream identity providers offered as buttons.
    var upstreams: [UpstreamButton] = []
    var hasUpstreams: Bool { !upstreams.isEmpty }
    /// Some connection routes by email domain: offer the organisation-account form.
    var upstreamRouting: Bool = false
    /// The routing form found no connection for the email typed.
    var upstreamNotFound: Bool = false
}

struct UpstreamButton {
    let id: String
    let href: String
    let label: String
}

struct EnrolView: PageView {
    let base: String
    /// The invited user's email; nil for the first administrator, who types their details.
    let inviteeEmail: String?
}

struct AccountView: PageView {
    struct PasskeyRow {
        let name: String
        let credentialID: String
        let added: String
        let lastUsed: String?
        let cloneWarning: Bool
    }

    struct DeviceRow {
        let name: String
        let id: String
        let platform: String
        let keyProtection: String
        let added: String
        let lastUsed: String?
        let notifications: Bool
    }

    struct ConsentRow {
        let name: String
        /// The client id, percent-encoded for its path segment.
        let clientIDSegment: String
        let access: String
        let allowed: String
    }

    let base: String
    let csrf: String
    let givenName: String
    let familyName: String
    let email: String
    let isAdmin: Bool
    let methods: String
    let authTime: String
    let passkeys: [PasskeyRow]
    let devices: [DeviceRow]
    /// The latest identity verification, if any ("Verified on …").
    let identityStatus: String?
    let consents: [ConsentRow]
}

struct ConsentView: PageView {
    let base: String
    let applicationName: String
    let tenantName: String
    let lines: [String]
    let host: String
    /// The form's hidden fields (names from `OAuthRoutes`): the request, the time shown, the MAC.
    let request: String
    let time: String
    let mac: String
}

struct HiddenField: Sendable, Equatable {
    let name: String
    let value: String
}

struct LogoutConfirmView: PageView {
    let base: String
    let tenantName: String
    let csrf: String
    /// post_logout_redirect_uri, state, client_id as received.
    let keep: [HiddenField]
}

struct SignedOutView: PageView {
    let base: String
    /// `data-page`: "logged-out" (OIDC logout) or "signed-out" (SAML single logout).
    let pageName: String
    /// Some service providers could not be signed out.
    let partial: Bool
}

struct ErrorView: PageView {
    let base: String
    let title: String
    let heading: String
    let message: String
    /// OAuth error code shown with "start again" advice.
    let oauthCode: String?
    /// SAML: "try again, or tell the application's administrator".
    let askAdministrator: Bool
    /// A machine reason shown with the message (upstream sign-in refusals).
    var reason: String? = nil
}

struct SAMLPostView: PageView {
    let base: String
    let signingOut: Bool
    let action: String
    let field: String
    let value: String
    let relayState: String?
    /// "Continue signing out" link (full path), during single logout.
    let skip: String?
}

/// A signed-in hop whose next step is a GET the page's script opens (with `location.replace`): a
/// 303 after a form POST would put the whole redirect chain under the page's `form-action`.
struct ContinueLinkView: PageView {
    let base: String
    let url: String
    var heading = "Signed in"
}

/// A connector's LiveID step-up challenge (`liveid.mustache`).
struct LiveIDView: PageView {
    let base: String
    let heading: String
    /// While pending: the number to pick on the phone.
    let number: String?
    /// `pending`, `match`, `no_match` or `expired`.
    let result: String
    let message: String?
    /// The meta refresh's content ("2", or "0;url=…" once decided with somewhere to go), if any.
    let refresh: String?
    let continueURL: String?
}

/// The step-up page after an upstream sign-in.
struct StepUpView: PageView {
    let base: String
    let connection: String
    let flow: String
    /// Which of the user's second factors the page offers.
    let passkey: Bool
    let authenticator: Bool
}

struct SAMLRedirectView: PageView {
    let base: String
    let url: String
    let skip: String
}

struct AuthenticatorLandingView: PageView {
    let base: String
    /// What the link is: "sign-in code", "enrolment link".
    let what: String
}

/// The OAuth `form_post` response page (OAuth 2.0 Form Post Response Mode): a bare form posted by
/// one inline script whose hash is the page's only script source.
struct FormPostView {
    let action: String
    let fields: [HiddenField]

    static let autoSubmitScript = "document.forms[0].submit();"
    static let scriptHash = "sha256-" + Data(SHA256.hash(data: Array(autoSubmitScript.utf8))).base64EncodedString()

    /// The client's callback may redirect on to another origin after the POST: see WebOrigin.handOffFormAction.
    var contentSecurityPolicy: String {
        "default-src 'none'; script-src '\(Self.scriptHash)'; \(WebOrigin.handOffFormAction(target: action)); frame-ancestors 'none'; base-uri 'none'"
    }
}
