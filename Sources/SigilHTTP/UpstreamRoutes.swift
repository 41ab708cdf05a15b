import Foundation
import HTTPTypes
import Hummingbird
import SigilCore
import SigilSAML
import SigilServices
import SigilStore

/// Sigil as SAML service provider of a tenant's upstream identity providers (docs/upstream.md):
/// the login page's buttons lead to `/login/upstream/{name}`, which sends a signed AuthnRequest;
/// the IdP posts its Response to `/saml/sp/{name}/acs` (cross-site, so no cookie arrives); Sigil's
/// page then submits the same-site `/saml/sp/{name}/acs/continue`, where the browser that started
/// the sign-in is recognised by its binding cookie and the session starts. Protocol work is in
/// `UpstreamService`.
struct UpstreamRoutes {
    let services: ServiceSet
    var limiter: RateLimiter = RateLimiter()
    var pages: Pages = .standard

    /// Responses posted to an ACS, per address (each costs a signature check or two).
    static let responsesPerAddress = RateLimiter.Rule(capacity: 30, refillPerSecond: 1)

    func register(on router: Router<SigilRequestContext>) {
        router.get("/login/upstream") { request, context in try await self.route(request, context) }
        router.get("/login/upstream/:name") { request, context in try await self.begin(request, context) }
        router.post("/login/upstream/step-up/options") { request, context in try await self.stepUpOptions(request, context) }
        router.post("/login/upstream/step-up/verify") { request, context in try await self.stepUpVerify(request, context) }
        router.post("/login/upstream/step-up/push") { request, context in try await self.stepUpPush(request, context) }
        router.post("/login/upstream/step-up/authenticator") { request, context in try await self.stepUpAuthenticator(request, context) }
        router.get("/saml/sp/:name/metadata") { request, context in try await self.metadata(request, context) }
        router.post("/saml/sp/:name/acs") { request, context in try await self.acs(request, context) }
        router.post("/saml/sp/:name/acs/continue") { request, context in try await self.continueSignIn(request, context) }
        router.get("/saml/sp/:name/slo") { request, context in try await self.sloRedirect(request, context) }
        router.post("/saml/sp/:name/slo") { request, context in try await self.sloPost(request, context) }
        router.get("/saml/sp/:name/slo/start") { request, context in try await self.sloStart(request, context) }
        router.get("/saml/sp/:name/slo/respond") { request, context in try await self.sloRespond(request, context) }
        router.get("/oidc/rp/:name/callback") { request, context in try await self.oidcCallback(request, context) }
        router.post("/oidc/rp/:name/callback/continue") { request, context in try await self.continueSignIn(request, context) }
        router.get("/oidc/rp/:name/jwks") { request, context in try await self.clientJWKS(request, context) }
        router.get("/oidc/rp/:name/logout/start") { request, context in try await self.oidcLogoutStart(request, context) }
        router.get("/oidc/rp/:name/logged-out") { request, context in try await self.oidcLoggedOut(request, context) }
        router.post("/oidc/rp/:name/backchannel-logout") { request, context in try await self.backChannelLogout(request, context) }
    }

    static func path(_ context: SigilRequestContext, name: String, _ tail: String) -> String {
        Web.basePath(context) + "/saml/sp/\(name)/\(tail)"
    }

    func name(_ context: SigilRequestContext) throws -> String {
        guard let name = context.parameters.get("name"), UpstreamConnection.isValidName(name) else { throw Problem.notFound() }
        return name
    }

    /// Identifier-first: the email's domain picks the connection; otherwise back to the login page.
    func route(_ request: Request, _ context: SigilRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        let base = Web.basePath(context)
        let returnTo = Web.safeReturnPath(request.uri.queryParameters.get("return_to").map { String($0) }, base: base)
        let email = request.uri.queryParameters.get("email").map { String($0.prefix(254)) } ?? ""
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~/")
        let encodedReturn = returnTo.addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
        guard let connection = try await services.upstreams.route(tenantID: tenant.id, email: email) else {
            return Web.redirect("\(base)/login?return_to=\(encodedReturn)&upstream=none")
        }
        return Web.redirect("\(base)/login/upstream/\(connection.name)?return_to=\(encodedReturn)")
    }

    func begin(_ request: Request, _ context: SigilRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        let name = try name(context)
        let returnTo = Web.safeReturnPath(request.uri.queryParameters.get("return_to").map { String($0) }, base: Web.basePath(context))
        // The browser's binding secret (shared with the authenticator's login binding).
        let (value, setCookie) = AuthenticatorRoutes.binding(
            request, context, tenant: tenant, random: services.context.random, maxAge: Int(UpstreamService.loginLifetime))
        let outbound: UpstreamService.Outbound
        do {
            outbound = try await services.upstreams.begin(
                tenantID: tenant.id, issuer: context.issuer, name: name, returnTo: returnTo, browserHash: tokenHash(value))
        } catch let error as StoreError where error.code == .notFound {
            throw Problem.notFound()
        } catch let rejected as UpstreamService.Rejected {
            return refusal(context, rejected, status: .badGateway)
        }
        switch outbound {
        case .redirect(let url):
            return Web.redirect(url, headers: [.setCookie: setCookie])
        case .post(let url, let fields):
            let view = FormPostView(action: url, fields: fields.sorted { $0.key < $1.key }.map { HiddenField(name: $0.key, value: $0.value) })
            var response = Pages.html(pages.render(.formPost, view), contentSecurityPolicy: view.contentSecurityPolicy)
            response.headers[.setCookie] = setCookie
            return response
        }
    }

    func metadata(_ request: Request, _ context: SigilRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        let name = try name(context)
        do {
            let xml = try await services.upstreams.spMetadata(tenantID: tenant.id, issuer: context.issuer, name: name)
            return PublishedResponse.response(PublishedDocument(bytes: xml), for: request, contentType: "application/samlmetadata+xml")
        } catch let error as StoreError where error.code == .notFound {
            throw Problem.notFound()
        }
    }

    func acs(_ request: Request, _ context: SigilRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        let name = try name(context)
        if limiter.take("upstream-acs:\(context.clientAddress)", rule: Self.responsesPerAddress) != nil {
            return refusal(
                context, UpstreamService.Rejected(reason: "rateLimited", message: "too many sign-in responses from this address; wait a minute"),
                status: .tooManyRequests)
        }
        // A SAML message's limit (512 KiB), not a hosted page form's: signed responses with
        // certificates, encryption and many attributes run past 16 KiB.
        let form: [String: String]
        do { form = try await SAMLRoutes.form(request) } catch {
            let why = "the sign-in response is not a readable form of at most 512 KiB (\(error.detail))"
            await services.upstreams.recordUnreadableRequest("upstream.saml.rejected", tenantID: tenant.id, name: name, message: why)
            return refusal(context, UpstreamService.Rejected(reason: "malformed", message: why))
        }
        do {
            let accepted = try await services.upstreams.consumeResponse(tenantID: tenant.id, issuer: context.issuer, name: name, form: form)
            // The same-site step: Sigil's own page posts to Sigil, so the SameSite=Strict binding
            // cookie is sent and the browser that started the sign-in is recognised.
            let view = FormPostView(
                action: Self.path(context, name: name, "acs/continue"),
                fields: [HiddenField(name: "flow", value: accepted.flowID), HiddenField(name: "key", value: accepted.key)])
            return Pages.html(pages.render(.formPost, view), contentSecurityPolicy: view.contentSecurityPolicy)
        } catch let rejected as UpstreamService.Rejected {
            return refusal(context, rejected)
        }
    }

    func continueSignIn(_ request: Request, _ context: SigilRequestContext) async throws -> Response {
        try Web.requireSameOrigin(request, context)
        let tenant = try context.requireTenant()
        let name = try name(context)
        let form = try await SignInRoutes.form(request)
        let browserHash = AuthenticatorRoutes.bindingHash(request, context, tenant: tenant)
        do {
            let previous = try await context.browserSession(request, services.sessions)?.0
            let outcome = try await services.upstreams.continueBrowserStep(
                tenantID: tenant.id, name: name, flowID: form["flow"] ?? "", key: form["key"] ?? "", browserHash: browserHash, replacing: previous)
            guard case .signedIn(let signedIn) = outcome else {
                if case .stepUp(let flowID) = outcome {
                    let page = try await services.upstreams.stepUpPage(tenantID: tenant.id, flowID: flowID, browserHash: browserHash)
                    return pages.page(
                        .stepUp,
                        StepUpView(
                            base: Web.basePath(context), connection: page.connection, flow: flowID, passkey: page.passkey,
                            authenticator: page.authenticator))
                }
                throw Problem.notFound()
            }
            try await SignInRoutes.endReplaced(previous, by: signedIn.user.id, services: services, context: context)
            let maxAge = Int(services.sessions.policy.absoluteTimeout)
            let destination = signedIn.returnTo.isEmpty ? Web.basePath(context) + "/account" : signedIn.returnTo
            // A page that navigates, not a 303: see ContinueLinkView.
            var response = pages.page(.continueLink, ContinueLinkView(base: Web.basePath(context), url: destination))
            response.headers[.setCookie] = Web.sessionCookie(signedIn.cookie.value, context, tenant: tenant, maxAge: maxAge)
            return response
        } catch let rejected as UpstreamService.Rejected {
            return refusal(context, rejected)
        }
    }

    // MARK: step-up with the user's Sigil passkey

    func stepUpOptions(_ request: Request, _ context: SigilRequestContext) async throws -> Response {
        try Web.requireSameOrigin(request, context)
        let tenant = try context.requireTenant()
        let body = try await JSONBody.decode(StepUpOptionsBody.self, from: request, context: context, allowed: ["flow"])
        do {
            let (transaction, options) = try await services.upstreams.stepUpOptions(
                tenantID: tenant.id, issuer: context.issuer, flowID: body.flow, browserHash: AuthenticatorRoutes.bindingHash(request, context, tenant: tenant))
            return try SignInRoutes.optionsResponse(transaction: transaction, options: options)
        } catch let rejected as UpstreamService.Rejected {
            throw Problem(status: .forbidden, type: "step-up-refused", title: rejected.message)
        }
    }

    func stepUpVerify(_ request: Request, _ context: SigilRequestContext) async throws -> Response {
        try Web.requireSameOrigin(request, context)
        let tenant = try context.requireTenant()
        let body = try await JSONBody.decode(StepUpVerifyBody.self, from: request, context: context, allowed: ["flow", "transaction", "credential"])
        do {
            let previous = try await context.browserSession(request, services.sessions)?.0
            let signedIn = try await services.upstreams.finishStepUp(
                tenantID: tenant.id, issuer: context.issuer, flowID: body.flow, browserHash: AuthenticatorRoutes.bindingHash(request, context, tenant: tenant),
                transactionID: body.transaction, response: try body.credential.assertion(), replacing: previous)
            try await SignInRoutes.endReplaced(previous, by: signedIn.user.id, services: services, context: context)
            return try signedInJSON(signedIn, context, tenant: tenant)
        } catch let rejected as UpstreamService.Rejected {
            throw Problem(status: .forbidden, type: "step-up-refused", title: rejected.message)
        }
    }

    /// A finished step-up: the session cookie, and where the page goes next.
    func signedInJSON(_ signedIn: UpstreamService.SignedIn, _ context: SigilRequestContext, tenant: Tenant) throws -> Response {
        try JSONResponse.make(
            ["redirect": signedIn.returnTo.isEmpty ? Web.basePath(context) + "/account" : signedIn.returnTo],
            headers: [
                .setCookie: Web.sessionCookie(
                    signedIn.cookie.value, context, tenant: tenant, maxAge: Int(services.sessions.policy.absoluteTimeout)),
                .cacheControl: "no-store",
            ])
    }

    // MARK: step-up with the user's Sigil authenticator

    /// A push to the flow's user's authenticator; the page watches it like a push sign-in.
    func stepUpPush(_ request: Request, _ context: SigilRequestContext) async throws -> Response {
        try Web.requireSameOrigin(request, context)
        let tenant = try context.requireTenant()
        let body = try await JSONBody.decode(StepUpOptionsBody.self, from: request, context: context, allowed: ["flow"])
        let routes = AuthenticatorRoutes(services: services)
        let (value, setCookie) = routes.binding(request, context, tenant: tenant)
        do {
            let transaction = try await services.upstreams.startStepUpPush(
                tenant: tenant, issuer: context.issuer, flowID: body.flow,
                start: routes.loginStart(request, context, bindingValue: value, returnTo: nil), authenticator: services.authenticator)
            return try JSONResponse.make(
                StartedView(transaction, base: Web.basePath(context), payload: nil), headers: [.setCookie: setCookie, .cacheControl: "no-store"])
        } catch let rejected as UpstreamService.Rejected {
            throw Problem(status: .forbidden, type: "step-up-refused", title: rejected.message)
        }
    }

    /// The push was approved: the session starts (upstream + authenticator methods).
    func stepUpAuthenticator(_ request: Request, _ context: SigilRequestContext) async throws -> Response {
        try Web.requireSameOrigin(request, context)
        let tenant = try context.requireTenant()
        let body = try await JSONBody.decode(StepUpAuthenticatorBody.self, from: request, context: context, allowed: ["flow", "transaction"])
        do {
            let previous = try await context.browserSession(request, services.sessions)?.0
            let signedIn = try await services.upstreams.finishStepUpWithAuthenticator(
                tenant: tenant, flowID: body.flow, browserHash: AuthenticatorRoutes.bindingHash(request, context, tenant: tenant),
                transactionID: body.transaction, authenticator: services.authenticator, replacing: previous)
            try await SignInRoutes.endReplaced(previous, by: signedIn.user.id, services: services, context: context)
            return try signedInJSON(signedIn, context, tenant: tenant)
        } catch let rejected as UpstreamService.Rejected {
            throw Problem(status: .forbidden, type: "step-up-refused", title: rejected.message)
        }
    }

    // MARK: OpenID Connect upstreams

    /// The provider's authorization response (a cross-site GET): redeemed and checked, then the
    /// same-site step, as at the SAML ACS.
    func oidcCallback(_ request: Request, _ context: SigilRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        let name = try name(context)
        if limiter.take("upstream-acs:\(context.clientAddress)", rule: Self.responsesPerAddress) != nil {
            return refusal(
                context, UpstreamService.Rejected(reason: "rateLimited", message: "too many sign-in responses from this address; wait a minute"),
                status: .tooManyRequests)
        }
        var query: [String: String] = [:]
        for (key, value) in request.uri.queryParameters {
            // RFC 6749 §3.1: a parameter sent twice is an invalid response.
            guard query[String(key)] == nil else {
                return refusal(context, UpstreamService.Rejected(reason: "malformed", message: "the response repeats \(key)"))
            }
            query[String(key)] = String(value)
        }
        do {
            let accepted = try await services.upstreams.callback(tenantID: tenant.id, issuer: context.issuer, name: name, query: query)
            let view = FormPostView(
                action: Web.basePath(context) + "/oidc/rp/\(name)/callback/continue",
                fields: [HiddenField(name: "flow", value: accepted.flowID), HiddenField(name: "key", value: accepted.key)])
            return Pages.html(pages.render(.formPost, view), contentSecurityPolicy: view.contentSecurityPolicy)
        } catch let rejected as UpstreamService.Rejected {
            return refusal(context, rejected)
        }
    }

    func clientJWKS(_ request: Request, _ context: SigilRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        let name = try name(context)
        do {
            let bytes = try await services.upstreams.clientJWKS(tenantID: tenant.id, name: name)
            return PublishedResponse.response(PublishedDocument(bytes: bytes), for: request, contentType: "application/jwk-set+json")
        } catch let error as StoreError where error.code == .notFound {
            throw Problem.notFound()
        }
    }

    // MARK: single logout (docs/upstream.md)

    func sloRedirect(_ request: Request, _ context: SigilRequestContext) async throws -> Response {
        let isResponse = request.uri.queryParameters.get("SAMLResponse") != nil
        do {
            let message = try SAMLRedirectBinding.decode(rawQuery: request.uri.query ?? "", parameter: isResponse ? "SAMLResponse" : "SAMLRequest")
            return try await slo(message, request, context)
        } catch let error as SAMLError {
            return refusal(context, UpstreamService.Rejected(reason: error.code.description, message: error.message))
        }
    }

    func sloPost(_ request: Request, _ context: SigilRequestContext) async throws -> Response {
        do {
            let form = try await SAMLRoutes.form(request)
            let isResponse = form["SAMLResponse"] != nil
            let message = try SAMLPOSTBinding.decode(form: form, parameter: isResponse ? "SAMLResponse" : "SAMLRequest")
            return try await slo(message, request, context)
        } catch let error as SAMLError {
            return refusal(context, UpstreamService.Rejected(reason: error.code.description, message: error.message))
        }
    }

    func slo(_ message: SAMLInboundMessage, _ request: Request, _ context: SigilRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        let name = try name(context)
        do {
            let step = try await services.upstreams.upstreamLogoutMessage(tenantID: tenant.id, issuer: context.issuer, name: name, message: message)
            return render(step, context)
        } catch let rejected as UpstreamService.Rejected {
            return refusal(context, rejected)
        }
    }

    func sloStart(_ request: Request, _ context: SigilRequestContext) async throws -> Response {
        try await logoutStep(request, context, leavesSigil: true) { tenantID, issuer, name, flow in
            try await services.upstreams.startUpstreamLogout(tenantID: tenantID, issuer: issuer, name: name, flowID: flow)
        }
    }

    // MARK: OpenID Connect logout (docs/upstream.md)

    /// The last hop of Sigil's sign-out: on to the provider's end_session_endpoint.
    func oidcLogoutStart(_ request: Request, _ context: SigilRequestContext) async throws -> Response {
        try await logoutStep(request, context, leavesSigil: true) { tenantID, issuer, name, flow in
            try await services.upstreams.startOIDCLogout(tenantID: tenantID, issuer: issuer, name: name, flowID: flow)
        }
    }

    /// The provider's post_logout_redirect_uri: the sign-out finishes where it was going.
    func oidcLoggedOut(_ request: Request, _ context: SigilRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        let name = try name(context)
        do {
            let step = try await services.upstreams.finishOIDCLogout(
                tenantID: tenant.id, name: name, state: request.uri.queryParameters.get("state").map { String($0) })
            return render(step, context)
        } catch let rejected as UpstreamService.Rejected {
            return refusal(context, rejected)
        }
    }

    /// Back-Channel Logout 1.0 §2.8: 200 when the logout token was acted on (even if no session
    /// matched), 400 with a JSON error when it is refused; never cached.
    func backChannelLogout(_ request: Request, _ context: SigilRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        let name = try name(context)
        let form: [String: String]
        do { form = try await URLEncodedForm.read(request) } catch {
            let message = "the request body is not a form with a logout_token (at most 16 KB)"
            await services.upstreams.recordUnreadableRequest("upstream.oidc.logout_rejected", tenantID: tenant.id, name: name, message: message)
            return try Self.backChannelError(message, status: .badRequest)
        }
        do {
            _ = try await services.upstreams.backChannelLogout(
                tenantID: tenant.id, issuer: context.issuer, name: name, logoutToken: form["logout_token"])
            return Response(status: .ok, headers: [.cacheControl: "no-store"])
        } catch let rejected as UpstreamService.Rejected {
            // The keys could not be fetched: a provider may retry later (not the token's fault).
            return try Self.backChannelError(
                rejected.message, status: rejected.reason == "providerUnreachable" ? .serviceUnavailable : .badRequest)
        }
    }

    static func backChannelError(_ description: String, status: HTTPResponse.Status) throws -> Response {
        try JSONResponse.make(
            ["error": "invalid_request", "error_description": description], status: status, headers: [.cacheControl: "no-store"])
    }

    func sloRespond(_ request: Request, _ context: SigilRequestContext) async throws -> Response {
        try await logoutStep(request, context) { tenantID, issuer, name, flow in
            try await services.upstreams.answerIdP(tenantID: tenantID, issuer: issuer, name: name, flowID: flow)
        }
    }

    /// A logout step named by `?flow=`: the service's next step, or its refusal page.
    /// `leavesSigil`: a redirect to the IdP is a page that navigates, not a 303 — this hop can
    /// follow the sign-out form's POST through 303s, and Chromium would hold the IdP's origin
    /// against that form's `form-action 'self'` (see ContinueLinkView).
    func logoutStep(
        _ request: Request, _ context: SigilRequestContext, leavesSigil: Bool = false,
        _ step: (_ tenantID: String, _ issuer: String, _ name: String, _ flow: String) async throws -> UpstreamService.LogoutStep
    ) async throws -> Response {
        let tenant = try context.requireTenant()
        let name = try name(context)
        let flow = request.uri.queryParameters.get("flow").map { String($0) } ?? ""
        do {
            let next = try await step(tenant.id, context.issuer, name, flow)
            if leavesSigil, case .redirect(let url) = next {
                var response = pages.page(.continueLink, ContinueLinkView(base: Web.basePath(context), url: url, heading: "Signing you out"))
                response.headers.append(HTTPField(name: .setCookie, value: Web.sessionCookie("", context, tenant: tenant, maxAge: 0)))
                return response
            }
            return render(next, context)
        } catch let rejected as UpstreamService.Rejected {
            return refusal(context, rejected)
        }
    }

    func render(_ step: UpstreamService.LogoutStep, _ context: SigilRequestContext) -> Response {
        let saml = SAMLRoutes(services: services, limiter: limiter, pages: pages)
        var response: Response
        switch step {
        case .redirect(let url):
            response = Web.redirect(url)
        case .post(let url, let fields):
            let view = FormPostView(action: url, fields: fields.sorted { $0.key < $1.key }.map { HiddenField(name: $0.key, value: $0.value) })
            response = Pages.html(pages.render(.formPost, view), contentSecurityPolicy: view.contentSecurityPolicy)
        case .finish(let target?):
            response = saml.render(.redirect(target), context)
        case .finish(nil):
            response = saml.render(.signedOut(partial: false), context)
        case .chain(let outcome):
            response = saml.render(outcome, context)
        }
        // The IdP signed this browser out: its Sigil cookie goes too (the session has ended).
        if let tenant = context.tenant {
            response.headers.append(HTTPField(name: .setCookie, value: Web.sessionCookie("", context, tenant: tenant, maxAge: 0)))
        }
        return response
    }

    func refusal(_ context: SigilRequestContext, _ rejected: UpstreamService.Rejected, status: HTTPResponse.Status = .badRequest) -> Response {
        pages.page(
            .error,
            ErrorView(
                base: Web.basePath(context), title: "Sign-in refused", heading: "This sign-in was refused", message: rejected.message,
                oauthCode: nil, askAdministrator: true, reason: rejected.reason),
            status: status)
    }
}

struct StepUpOptionsBody: Decodable {
    var flow: String
}

struct StepUpAuthenticatorBody: Decodable {
    var flow: String
    var transaction: String
}

struct StepUpVerifyBody: Decodable {
    var flow: String
    var transaction: String
    var credential: CredentialJSON
}
