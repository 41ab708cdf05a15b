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

    func register(on router: Router<SigilRequestContext>) {
        router.get("/saml/metadata") { request, context in try await self.metadata(request, context) }
        router.get("/saml/metadata.xml") { request, context in try await self.metadata(request, context) }
        router.get("/saml/sso") { request, context in try await self.ssoRedirect(request, context) }
        router.post("/saml/sso") { request, context in try await self.ssoPost(request, context) }
        router.get("/saml/sso/continue") { request, context in try await self.resume(request, context) }
        router.get("/saml/idp-initiated") { request, context in try await self.idpInitiated(request, context) }
        router.get("/saml/slo") { request, context in try await self.sloRedirect(request, context) }
        router.post("/saml/slo") { request, context in try await self.sloPost(request, context) }
    }

    // MARK: steps

    func metadata(_ request: Request, _ context: SigilRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        let signed = ["1", "true"].contains(request.uri.queryParameters.get("signed").map { String($0) } ?? "")
        let xml = try await services.saml.metadata(tenantID: tenant.id, issuer: context.issuer, signed: signed)
        return Response(status: .ok, headers: [.contentType: "application/samlmetadata+xml", .cacheControl: "public, max-age=300"],
                        body: .init(byteBuffer: ByteBuffer(bytes: xml)))
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
        do { message = try SAMLPOSTBinding.decode(form: try await Web.form(request, maxBytes: 512 * 1024)) } catch let error as SAMLError {
            return try await refuse(error, context)
        }
        return try await receive(message, request, context)
    }

    func receive(_ message: SAMLInboundMessage, _ request: Request, _ context: SigilRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        let session = try await SignInRoutes(services: services).currentSession(request, context)
        return render(try await services.saml.receive(message, tenantID: tenant.id, issuer: context.issuer, session: session), context)
    }

    func resume(_ request: Request, _ context: SigilRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        let q = request.uri.queryParameters
        guard let t = q.get("t"), let k = q.get("k") else {
            return errorPage(SAMLError(.malformed, "this sign-in link is incomplete"), context)
        }
        let session = try await SignInRoutes(services: services).currentSession(request, context)
        return render(try await services.saml.resume(transactionID: String(t), key: String(k), tenantID: tenant.id,
                                                     issuer: context.issuer, session: session), context)
    }

    func idpInitiated(_ request: Request, _ context: SigilRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        guard let sp = request.uri.queryParameters.get("sp").map { String($0) }, !sp.isEmpty else {
            return errorPage(SAMLError(.malformed, "say which application to sign in to (sp=<entity ID>)"), context)
        }
        guard case let (session, user)? = try await SignInRoutes(services: services).currentSession(request, context) else {
            return render(.login(returnTo: "/saml/idp-initiated?" + (request.uri.query ?? ""), forceLogin: false), context)
        }
        let relay = request.uri.queryParameters.get("RelayState").map { String($0) }
        return render(try await services.saml.idpInitiated(spEntityID: sp, relayState: relay, tenantID: tenant.id, issuer: context.issuer,
                                                           session: session, user: user), context)
    }

    func sloRedirect(_ request: Request, _ context: SigilRequestContext) async throws -> Response {
        let query = request.uri.query ?? ""
        if request.uri.queryParameters.get("SAMLResponse") != nil { return signedOutPage(context) }
        let message: SAMLInboundMessage
        do { message = try SAMLRedirectBinding.decode(rawQuery: query) } catch { return try await refuse(error, context, action: "saml.slo.rejected") }
        return try await logout(message, request, context)
    }

    func sloPost(_ request: Request, _ context: SigilRequestContext) async throws -> Response {
        let form = try await Web.form(request, maxBytes: 512 * 1024)
        if form["SAMLResponse"] != nil { return signedOutPage(context) }
        let message: SAMLInboundMessage
        do { message = try SAMLPOSTBinding.decode(form: form) } catch { return try await refuse(error, context, action: "saml.slo.rejected") }
        return try await logout(message, request, context)
    }

    func logout(_ message: SAMLInboundMessage, _ request: Request, _ context: SigilRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        let session = try await SignInRoutes(services: services).currentSession(request, context)
        let outcome = try await services.saml.logout(message, tenantID: tenant.id, issuer: context.issuer, session: session?.0)
        var response = outcome.map { render($0, context) } ?? signedOutPage(context)
        response.headers.append(HTTPField(name: .setCookie, value: Web.sessionCookie("", context, tenant: tenant, maxAge: 0)))
        return response
    }

    // MARK: rendering

    /// A message that could not even be decoded: audited, and an error page (nothing to trust).
    func refuse(_ error: SAMLError, _ context: SigilRequestContext, action: String = "saml.sso.rejected") async throws -> Response {
        await services.context.recordFailure(action, by: .system, tenantID: context.tenant?.id,
                                             reason: "\(error.code): \(error.message) \(error.detail)")
        return errorPage(error, context)
    }

    func render(_ outcome: SAMLIdentityProviderService.Outcome, _ context: SigilRequestContext) -> Response {
        let base = Web.basePath(context)
        switch outcome {
        case .post(let form):
            return postPage(form, context)
        case .login(let returnTo, let force):
            var allowed = CharacterSet.alphanumerics
            allowed.insert(charactersIn: "-._~/")
            let target = (base + returnTo).addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
            return Web.redirect(base + "/login?return_to=" + target + (force ? "&prompt=login" : ""))
        case .error(let error):
            return errorPage(error, context)
        }
    }

    /// The HTTP-POST binding: a form the page script submits on load (keyed on
    /// `data-auto-submit`; CSP allows only our script), with a Continue button without script.
    func postPage(_ form: SAMLIdentityProviderService.PostForm, _ context: SigilRequestContext) -> Response {
        let relay = form.relayState.map { #"<input type="hidden" name="RelayState" value="\#(Web.escape($0))">"# } ?? ""
        var response = Web.page(title: "Signing in", name: "saml-post", base: Web.basePath(context), body: """
            <h1>Signing you in…</h1>
            <form id="saml-post" method="post" action="\(Web.escape(form.action))" data-auto-submit>
            <input type="hidden" name="\(Web.escape(form.field))" value="\(Web.escape(form.value))">
            \(relay)
            <p class="hint">If nothing happens, press Continue.</p>
            <button type="submit">Continue</button>
            </form>
            """)
        var origin = "'none'"
        if let url = URLComponents(string: form.action), let scheme = url.scheme, let host = url.host {
            origin = url.port.map { "\(scheme)://\(host):\($0)" } ?? "\(scheme)://\(host)"
        }
        response.headers[.contentSecurityPolicy] = Web.pageCSP.replacingOccurrences(of: "form-action 'self'", with: "form-action \(origin)")
        return response
    }

    func errorPage(_ error: SAMLError, _ context: SigilRequestContext) -> Response {
        Web.page(title: "Sign-in request refused", name: "error", base: Web.basePath(context), body: """
            <h1>This sign-in request was refused</h1>
            <p>\(Web.escape(error.message))</p>
            <p class="hint">Go back to the application and try again. If it keeps happening, tell its administrator.</p>
            """, status: .badRequest)
    }

    func signedOutPage(_ context: SigilRequestContext) -> Response {
        Web.page(title: "Signed out", name: "signed-out", base: Web.basePath(context), body: "<h1>You are signed out</h1>")
    }
}
