import Foundation
import HTTPTypes
import Hummingbird
import SigilCore
import SigilSAML
import SigilServices
import SigilStore

/// The SAML 2.0 identity provider of each tenant (docs/saml.md): metadata, SSO over
/// HTTP-Redirect and HTTP-POST, the resume step after the hosted login, IdP-initiated SSO and
/// basic single logout. Protocol work is in `SAMLIdentityProviderService`; this file only decodes
/// bindings and turns outcomes into pages.
struct SAMLRoutes {
    let services: ServiceSet
    var limiter: RateLimiter = RateLimiter()
    var pages: Pages = .standard

    /// An AuthnRequest from a browser without a session stores a pending request for 15 minutes:
    /// those are counted per address (generously: an office behind one NAT signs in together).
    /// Signed-in browsers are answered at once and counted per session instead, so one user's
    /// SSO does not spend the office's allowance.
    static let anonymousRequestsPerAddress = RateLimiter.Rule(capacity: 60, refillPerSecond: 2)
    static let requestsPerSession = RateLimiter.Rule(capacity: 60, refillPerSecond: 1)

    func register(on router: Router<SigilRequestContext>) {
        router.get("/saml/metadata") { request, context in try await self.metadata(request, context) }
        router.get("/saml/metadata.xml") { request, context in try await self.metadata(request, context) }
        router.get("/saml/sso") { request, context in try await self.ssoRedirect(request, context) }
        router.post("/saml/sso") { request, context in try await self.ssoPost(request, context) }
        router.get("/saml/sso/continue") { request, context in try await self.resume(request, context) }
        router.get("/saml/idp-initiated") { request, context in try await self.idpInitiated(request, context) }
        router.get("/saml/slo") { request, context in try await self.sloRedirect(request, context) }
        router.post("/saml/slo") { request, context in try await self.sloPost(request, context) }
        router.get("/saml/slo/continue") { request, context in try await self.sloContinue(request, context) }
        router.get("/saml/slo/resume") { request, context in try await self.sloResume(request, context) }
    }

    // MARK: steps

    func metadata(_ request: Request, _ context: SigilRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        let signed = ["1", "true"].contains(request.uri.queryParameters.get("signed").map { String($0) } ?? "")
        let xml = try await services.saml.publishedMetadata(tenantID: tenant.id, issuer: context.issuer, signed: signed)
        return PublishedResponse.response(xml, for: request, contentType: "application/samlmetadata+xml")
    }

    func ssoRedirect(_ request: Request, _ context: SigilRequestContext) async throws -> Response {
        let message: SAMLInboundMessage
        do { message = try SAMLRedirectBinding.decode(rawQuery: request.uri.query ?? "") } catch {
            return try await refuse(error, context)
        }
        return try await receive(message, request, context)
    }

    func ssoPost(_ request: Request, _ context: SigilRequestContext) async throws -> Response {
        let message: SAMLInboundMessage
        do { message = try SAMLPOSTBinding.decode(form: try await Self.form(request)) } catch {
            return try await refuse(error, context)
        }
        return try await receive(message, request, context)
    }

    /// An HTTP-POST binding body (at most 512 KiB); a form that is not valid form encoding is a
    /// malformed message, refused with the binding's error page.
    static func form(_ request: Request) async throws(SAMLError) -> [String: String] {
        do {
            return try await URLEncodedForm.read(request, maxBytes: 512 * 1024)
        } catch {
            throw SAMLError(.malformed, "the form is not valid", detail: error.description)
        }
    }

    func receive(_ message: SAMLInboundMessage, _ request: Request, _ context: SigilRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        let session = try await context.browserSession(request, services.sessions)
        let (key, rule) =
            session.map { ("saml-request|session|\($0.0.id)", Self.requestsPerSession) }
            ?? ("saml-request|addr|\(context.clientAddress)", Self.anonymousRequestsPerAddress)
        if let retryAfter = limiter.take(key, rule: rule) {
            throw await RateLimitMiddleware.refusal(retryAfter: retryAfter, group: "saml-request", context: context, services: services)
        }
        return render(try await services.saml.receive(message, tenantID: tenant.id, issuer: context.issuer, session: session), context)
    }

    func resume(_ request: Request, _ context: SigilRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        let q = request.uri.queryParameters
        guard let t = q.get("t"), let k = q.get("k") else {
            return errorPage(SAMLError(.malformed, "this sign-in link is incomplete"), context)
        }
        let session = try await context.browserSession(request, services.sessions)
        return render(
            try await services.saml.resume(
                transactionID: String(t), key: String(k), tenantID: tenant.id,
                issuer: context.issuer, session: session), context)
    }

    func idpInitiated(_ request: Request, _ context: SigilRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        guard let sp = request.uri.queryParameters.get("sp").map({ String($0) }), !sp.isEmpty else {
            return errorPage(SAMLError(.malformed, "say which application to sign in to (sp=<entity ID>)"), context)
        }
        guard case (let session, let user)? = try await context.browserSession(request, services.sessions) else {
            return render(.login(returnTo: .idpInitiated(query: request.uri.query ?? ""), forceLogin: false), context)
        }
        let relay = request.uri.queryParameters.get("RelayState").map { String($0) }
        return render(
            try await services.saml.idpInitiated(
                spEntityID: sp, relayState: relay, tenantID: tenant.id, issuer: context.issuer,
                session: session, user: user), context)
    }

    /// Single logout, HTTP-Redirect: a `SAMLRequest` from an SP, or a `SAMLResponse` answering a
    /// LogoutRequest Sigil sent during propagation.
    func sloRedirect(_ request: Request, _ context: SigilRequestContext) async throws -> Response {
        let query = request.uri.query ?? ""
        let isResponse = request.uri.queryParameters.get("SAMLResponse") != nil
        let message: SAMLInboundMessage
        do { message = try SAMLRedirectBinding.decode(rawQuery: query, parameter: isResponse ? "SAMLResponse" : "SAMLRequest") } catch {
            return try await refuse(error, context, action: "saml.slo.rejected", title: "Sign-out request refused")
        }
        return try await logout(message, isResponse: isResponse, request, context)
    }

    func sloPost(_ request: Request, _ context: SigilRequestContext) async throws -> Response {
        let message: SAMLInboundMessage
        let isResponse: Bool
        do {
            let form = try await Self.form(request)
            isResponse = form["SAMLResponse"] != nil
            message = try SAMLPOSTBinding.decode(form: form, parameter: isResponse ? "SAMLResponse" : "SAMLRequest")
        } catch {
            return try await refuse(error, context, action: "saml.slo.rejected", title: "Sign-out request refused")
        }
        return try await logout(message, isResponse: isResponse, request, context)
    }

    func logout(_ message: SAMLInboundMessage, isResponse: Bool, _ request: Request, _ context: SigilRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        let session = try await context.browserSession(request, services.sessions)
        let outcome = try await services.saml.logout(message, isResponse: isResponse, tenantID: tenant.id, issuer: context.issuer, session: session)
        var response = render(outcome, context)
        // The cookie goes once its session has ended (a refused request leaves both alone).
        if session != nil, try await context.browserSessionAfterChange(request, services.sessions) == nil {
            response.headers.append(HTTPField(name: .setCookie, value: Web.sessionCookie("", context, tenant: tenant, maxAge: 0)))
        }
        return response
    }

    /// "Continue signing out" when a service provider does not answer its LogoutRequest.
    func sloContinue(_ request: Request, _ context: SigilRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        guard let t = request.uri.queryParameters.get("t") else { return signedOutPage(context) }
        return render(try await services.saml.continueLogout(stateID: String(t), tenantID: tenant.id, issuer: context.issuer), context)
    }

    /// The same-site GET after a cross-site POST LogoutRequest (the session cookie is sent here).
    func sloResume(_ request: Request, _ context: SigilRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        guard let t = request.uri.queryParameters.get("t") else { return signedOutPage(context) }
        let session = try await context.browserSession(request, services.sessions)
        let outcome = try await services.saml.resumeLogout(stateID: String(t), tenantID: tenant.id, issuer: context.issuer, session: session)
        var response = render(outcome, context)
        if session != nil, try await context.browserSessionAfterChange(request, services.sessions) == nil {
            response.headers.append(HTTPField(name: .setCookie, value: Web.sessionCookie("", context, tenant: tenant, maxAge: 0)))
        }
        return response
    }

    func render(_ outcome: SAMLIdentityProviderService.LogoutOutcome, _ context: SigilRequestContext) -> Response {
        switch outcome {
        case .post(let form):
            return postPage(form, context, signingOut: true)
        case .redirectToServiceProvider(let url, nil):
            return Web.redirect(url)
        case .redirectToServiceProvider(let url, let skip?):
            return redirectPage(url, skip: Self.path(skip), context)
        case .returnTo(let point):
            return Web.redirect(Web.basePath(context) + Self.path(point))
        case .redirect(let target):
            return Web.redirect(target.hasPrefix("/") ? Web.basePath(context) + target : target)
        case .signedOut(let partial):
            return signedOutPage(context, partial: partial)
        case .error(let error):
            return errorPage(error, context, title: "Sign-out request refused")
        }
    }

    // MARK: rendering

    /// A message that could not even be decoded: audited, and an error page (nothing to trust).
    func refuse(
        _ error: SAMLError, _ context: SigilRequestContext, action: String = "saml.sso.rejected",
        title: String = "Sign-in request refused"
    ) async throws -> Response {
        await services.context.recordFailure(
            action, by: .system, tenantID: context.tenant?.id,
            reason: "\(error.code): \(error.message) \(error.detail)")
        return errorPage(error, context, title: title)
    }

    func render(_ outcome: SAMLIdentityProviderService.Outcome, _ context: SigilRequestContext) -> Response {
        let base = Web.basePath(context)
        switch outcome {
        case .post(let form):
            return postPage(form, context)
        case .login(let returnTo, let force):
            var allowed = CharacterSet.alphanumerics
            allowed.insert(charactersIn: "-._~/")
            let target = (base + Self.path(returnTo)).addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
            return Web.redirect(base + "/login?return_to=" + target + (force ? "&prompt=login" : ""))
        case .error(let error):
            return errorPage(error, context)
        }
    }

    /// The HTTP-POST binding: a form the page script submits on load (keyed on
    /// `data-auto-submit`; CSP allows only our script), with a Continue button without script.
    func postPage(_ form: SAMLIdentityProviderService.PostForm, _ context: SigilRequestContext, signingOut: Bool = false) -> Response {
        let base = Web.basePath(context)
        // The ACS (or logout endpoint) may answer with a redirect to another origin.
        return pages.page(
            .samlPost,
            SAMLPostView(
                base: base, signingOut: signingOut, action: form.action, field: form.field, value: form.value,
                relayState: form.relayState, skip: form.skip.map { base + Self.path($0) }),
            contentSecurityPolicy: Web.handOffCSP(target: form.action))
    }

    /// The HTTP-Redirect binding for one hop of single logout: a page that sends the browser on
    /// to the service provider at once (keyed on `data-auto-follow`), with a link for browsers
    /// without script and the link that skips an SP that does not answer. A page rather than a
    /// bare 303, so Back comes here and "continue signing out" stays in reach.
    /// The path (under the tenant) of each point where a SAML flow returns to Sigil.
    static func path(_ point: SAMLIdentityProviderService.ReturnPoint) -> String {
        switch point {
        case .continueSSO(let transaction, let key): "/saml/sso/continue?t=\(transaction)&k=\(key)"
        case .idpInitiated(let query): "/saml/idp-initiated?" + query
        case .resumeLogout(let state): "/saml/slo/resume?t=\(state)"
        case .continueLogout(let state): "/saml/slo/continue?t=\(state)"
        }
    }

    func redirectPage(_ url: String, skip: String, _ context: SigilRequestContext) -> Response {
        let base = Web.basePath(context)
        return pages.page(.samlRedirect, SAMLRedirectView(base: base, url: url, skip: base + skip))
    }

    func errorPage(_ error: SAMLError, _ context: SigilRequestContext, title: String = "Sign-in request refused") -> Response {
        pages.page(
            .error,
            ErrorView(
                base: Web.basePath(context), title: title,
                heading: "This \(title.hasPrefix("Sign-out") ? "sign-out" : "sign-in") request was refused",
                message: error.message, oauthCode: nil, askAdministrator: true),
            status: .badRequest)
    }

    func signedOutPage(_ context: SigilRequestContext, partial: Bool = false) -> Response {
        pages.page(.signedOut, SignedOutView(base: Web.basePath(context), pageName: "signed-out", partial: partial))
    }
}
