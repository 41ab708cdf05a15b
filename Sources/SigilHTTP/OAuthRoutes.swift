import Foundation
import HTTPTypes
import Hummingbird
import SigilCore
import SigilJOSE
import SigilOAuth
import SigilServices
import SigilStore

/// The OpenID Connect provider's endpoints (docs/oidc.md). Each handler is a short list of steps:
/// parse → authenticate the client → call `OAuthService` → answer; every `OAuthError` becomes an
/// RFC 6749 §5.2 JSON error here (or a redirect / error page at the authorization endpoint).
struct OAuthRoutes {
    let services: ServiceSet
    let limiter: RateLimiter
    let pages: Pages
    var oauth: OAuthService { services.oauth }

    init(services: ServiceSet, limiter: RateLimiter = RateLimiter(), pages: Pages = .standard) {
        self.services = services
        self.limiter = limiter
        self.pages = pages
    }

    func register(on router: Router<SigilRequestContext>) {
        router.get("/.well-known/openid-configuration") { request, context in try await self.discovery(request, context) }
        for path in ["/oauth2/authorize", "/oauth2/idv-authorize"] {
            router.get(RouterPath(path)) { request, context in try await self.authorize(request, context, path: path) }
            router.post(RouterPath(path)) { request, context in try await self.authorize(request, context, path: path) }
        }
        router.post("/oauth2/consent") { request, context in try await self.consent(request, context) }
        router.post("/oauth2/par") { request, context in await self.guarded { try await self.par(request, context) } }
        router.post("/oauth2/token") { request, context in await self.guarded { try await self.token(request, context) } }
        router.post("/oauth2/bc-authorize") { request, context in await self.guarded { try await self.backchannelAuthorize(request, context) } }
        router.get("/oauth2/userinfo") { request, context in await self.guarded(bearer: true) { try await self.userinfo(request, context) } }
        router.post("/oauth2/userinfo") { request, context in await self.guarded(bearer: true) { try await self.userinfo(request, context) } }
        router.post("/oauth2/introspect") { request, context in await self.guarded { try await self.introspect(request, context) } }
        router.post("/oauth2/revoke") { request, context in await self.guarded { try await self.revoke(request, context) } }
        // Browser-based (public) clients call these across origins; none of them uses cookies.
        for path in ["/oauth2/token", "/oauth2/userinfo", "/oauth2/revoke"] {
            router.on(RouterPath(path), method: .options) { _, _ in
                Response(
                    status: .noContent,
                    headers: [
                        .accessControlAllowOrigin: "*", .accessControlAllowMethods: "GET, POST",
                        .accessControlAllowHeaders: "Authorization, Content-Type", .accessControlMaxAge: "600",
                    ])
            }
        }
        router.get("/oauth2/logout") { request, context in try await self.logout(request, context) }
        router.post("/oauth2/logout") { request, context in try await self.logout(request, context) }
    }

    // MARK: discovery

    func discovery(_ request: Request, _ context: SigilRequestContext) async throws -> Response {
        let document = try await oauth.discoveryDocument(tenantID: try context.requireTenant().id, issuer: context.issuer)
        return PublishedResponse.response(document, for: request, contentType: "application/json", crossOrigin: true)
    }

    // MARK: /oauth2/authorize

    static let freshParameter = "sigil_fresh"
    static let freshMACParameter = "sigil_fresh_mac"

    func authorize(_ request: Request, _ context: SigilRequestContext, path: String) async throws -> Response {
        let base = Web.basePath(context)
        var parameters: [String: String]
        do {
            parameters = try await Self.parameters(request)
        } catch {
            return errorPage(error, base: base)
        }
        return try await decide(request, context, parameters: parameters, path: path, consent: nil)
    }

    /// The authorization decision for `parameters` (as received, with the sign-in marker if any),
    /// from `/oauth2/authorize` or from the consent page's answer.
    func decide(
        _ request: Request, _ context: SigilRequestContext, parameters received: [String: String], path: String,
        consent: ConsentDecision?
    ) async throws -> Response {
        let tenant = try context.requireTenant()
        let base = Web.basePath(context)
        var parameters = received
        // Coming back from a sign-in this request asked for: the MAC binds the time to the request.
        let freshText = parameters.removeValue(forKey: Self.freshParameter)
        let freshMAC = parameters.removeValue(forKey: Self.freshMACParameter)
        let canonical = Self.encodeForm(parameters)
        var freshAfter: Date?
        if let freshText, let freshMAC, let milliseconds = Int64(freshText),
            services.context.clock.now().timeIntervalSince1970 - Double(milliseconds) / 1000 < oauth.policy.parSignInLifetime,
            constantTimeEquals(Array(freshMAC.utf8), Array(freshMac(freshText, canonical).utf8))
        {
            freshAfter = Date(timeIntervalSince1970: Double(milliseconds) / 1000)
        }
        let session = try await context.browserSession(request, services.sessions)
        let outcome = try await oauth.authorize(
            tenantID: tenant.id, issuer: context.issuer, parameters: parameters, session: session,
            freshAfter: freshAfter, consent: consent)
        switch outcome {
        case .respond(.redirect(let url)):
            return Web.redirect(url)
        case .respond(.formPost(let form)):
            let view = FormPostView(action: form.action, fields: form.fields.map { HiddenField(name: $0.name, value: $0.value) })
            return Pages.html(pages.render(.formPost, view), contentSecurityPolicy: view.contentSecurityPolicy)
        case .signIn(let fresh, _, let acr):
            // The marker lets the resumed request see that this sign-in happened after it was made
            // (prompt=login, max_age, acr), without trusting anything the browser could choose.
            let now = String(Int64((services.context.clock.now().timeIntervalSince1970 * 1000).rounded(.down)))
            let returnTo = base + path + "?" + canonical + "&\(Self.freshParameter)=\(now)&\(Self.freshMACParameter)=\(freshMac(now, canonical))"
            return Web.redirect(
                base + "/login?return_to=" + AuthorizationResponse.formEncode(returnTo) + (fresh ? "&prompt=login" : "")
                    + (acr.map { "&acr=" + AuthorizationResponse.formEncode($0) } ?? ""))
        case .consent(let prompt):
            guard let (signedIn, _) = session else { return errorPage(.invalidRequest("sign in first"), base: base) }
            return consentPage(prompt, received: received, session: signedIn, tenant: tenant, base: base)
        case .errorPage(let error):
            return errorPage(error, base: base)
        case .verifyIdentity(let v):
            // An identity verification client: the person is verified instead of signed in.
            let subject = try await services.idv.subject(tenantID: tenant.id, clientID: v.clientID, externalID: v.loginHint)
            let started = try await services.idv.start(
                tenantID: tenant.id, origin: .oidc(authorization: v.encodedRequest), expected: v.expected, clientID: v.clientID,
                subjectID: subject.id, by: .client(v.clientID))
            return Web.redirect(
                IDVRoutes.path(context, started.id), headers: [.setCookie: IDVRoutes.cookie(started.secret, context, sid: started.id)])
        }
    }

    // MARK: the consent page (docs/oidc.md "Consent")

    static let consentRequestParameter = "sigil_request"
    static let consentTimeParameter = "sigil_consent_at"
    static let consentMACParameter = "sigil_consent_mac"
    static let decisionParameter = "sigil_decision"

    /// Binds the page's answer to this session, this exact request and the time it was shown.
    func consentMac(session: Session, time: String, _ canonical: String) -> String {
        Base64URL.encode(
            services.context.masterKey.authenticationCode(
                Array((session.id + "|" + time + "|" + canonical).utf8),
                purpose: "oauth-consent"))
    }

    func consentPage(_ prompt: ConsentPrompt, received: [String: String], session: Session, tenant: Tenant, base: String) -> Response {
        let now = String(Int64((services.context.clock.now().timeIntervalSince1970 * 1000).rounded(.down)))
        // The request travels as one form-encoded field (no line breaks for the browser to rewrite).
        let canonical = Self.encodeForm(received)
        let host = URLComponents(string: prompt.redirectURI)?.host ?? prompt.redirectURI
        let view = ConsentView(
            base: base, applicationName: prompt.applicationName, tenantName: tenant.displayName, lines: prompt.lines,
            host: host, request: canonical, time: now, mac: consentMac(session: session, time: now, canonical))
        // The answer is a redirect (or a form_post page) to the client, whose callback may redirect on.
        return pages.page(.consent, view, contentSecurityPolicy: Web.handOffCSP(target: prompt.redirectURI))
    }

    /// `POST /oauth2/consent`: the consent page's answer. Same-origin, signed in, and the MAC must
    /// match the page shown for this session and request (at most 10 minutes ago).
    func consent(_ request: Request, _ context: SigilRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        let base = Web.basePath(context)
        try Web.requireSameOrigin(request, context)
        let form: [String: String]
        do {
            form = try await Self.formParameters(request)
        } catch {
            return errorPage(error, base: base)
        }
        guard let (session, _) = try await context.browserSession(request, services.sessions) else {
            return errorPage(.invalidRequest("You are no longer signed in. Start again from the application."), base: base)
        }
        let decision = form[Self.decisionParameter].flatMap(ConsentDecision.init(rawValue:))
        guard let decision, let canonical = form[Self.consentRequestParameter], let time = form[Self.consentTimeParameter],
            let mac = form[Self.consentMACParameter], let milliseconds = Int64(time),
            services.context.clock.now().timeIntervalSince1970 - Double(milliseconds) / 1000 < oauth.policy.parSignInLifetime,
            constantTimeEquals(Array(mac.utf8), Array(consentMac(session: session, time: time, canonical).utf8)),
            let parameters = try? Self.parameters(canonical)
        else {
            await services.context.recordFailure(
                "oauth.consent_refused", by: .user(session.userID), tenantID: tenant.id,
                reason: "consent answer without a valid page token")
            return errorPage(.invalidRequest("This approval page expired. Start again from the application."), base: base)
        }
        return try await decide(request, context, parameters: parameters, path: "/oauth2/authorize", consent: decision)
    }

    func freshMac(_ time: String, _ canonical: String) -> String {
        Base64URL.encode(services.context.masterKey.authenticationCode(Array((time + "|" + canonical).utf8), purpose: "oauth-fresh-login"))
    }

    func errorPage(_ error: OAuthError, base: String) -> Response {
        pages.page(
            .error,
            ErrorView(
                base: base, title: "Sign-in request refused", heading: "This sign-in request cannot continue",
                message: error.description, oauthCode: error.code.rawValue, askAdministrator: false),
            status: .badRequest)
    }

    // MARK: client authentication and per-client limits

    /// Failed client authentications, counted per (client, address), per client and per address;
    /// while any of them is spent every attempt answers 429, right secret or not, so guessing
    /// learns nothing. Successful requests cost nothing here.
    static let failuresPerClientAndAddress = RateLimiter.Rule(capacity: 10, refillPerSecond: 0.1)
    static let failuresPerClient = RateLimiter.Rule(capacity: 100, refillPerSecond: 1)
    static let failuresPerAddress = RateLimiter.Rule(capacity: 30, refillPerSecond: 0.5)
    /// Stored state an authenticated client may create: pushed requests (live 60 s) and CIBA requests.
    static let pushesPerClient = RateLimiter.Rule(capacity: 60, refillPerSecond: 2)
    static let cibaRequestsPerClient = RateLimiter.Rule(capacity: 30, refillPerSecond: 0.5)

    struct Throttled: Error { let retryAfter: Int; let group: String }

    func authenticateClient(
        _ request: Request, _ context: SigilRequestContext, tenant: Tenant, parameters: [String: String],
        endpoint: String
    ) async throws -> OAuthService.AuthenticatedClient {
        let credentials = try Self.credentials(request, parameters)
        let claimed =
            credentials.basicID ?? credentials.clientID
            ?? credentials.assertion.flatMap { try? JWS.parse($0) }?.payload["sub"]?.string ?? "-"
        let keys: [(String, RateLimiter.Rule)] = [
            ("client-auth|pair|\(tenant.id)|\(claimed.prefix(256))|\(context.clientAddress)", Self.failuresPerClientAndAddress),
            ("client-auth|client|\(tenant.id)|\(claimed.prefix(256))", Self.failuresPerClient),
            ("client-auth|addr|\(context.clientAddress)", Self.failuresPerAddress),
        ]
        for (key, rule) in keys {
            if let retryAfter = limiter.peek(key, rule: rule) {
                await services.context.recordFailure(
                    "rate_limit.exceeded", by: .client(String(claimed.prefix(256))), tenantID: tenant.id,
                    reason: "failed client authentication from \(context.clientAddress)")
                throw Throttled(retryAfter: retryAfter, group: "client-authentication")
            }
        }
        do {
            return try await oauth.authenticate(tenantID: tenant.id, issuer: context.issuer, credentials: credentials, endpoint: endpoint)
        } catch let error as OAuthError where error.code == .invalidClient {
            for (key, rule) in keys { _ = limiter.take(key, rule: rule) }
            throw error
        }
    }

    func throttle(_ key: String, _ rule: RateLimiter.Rule, _ context: SigilRequestContext) throws {
        if let retryAfter = limiter.take(key, rule: rule) { throw Throttled(retryAfter: retryAfter, group: String(key.prefix { $0 != "|" })) }
    }

    // MARK: /oauth2/par (RFC 9126)

    func par(_ request: Request, _ context: SigilRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        let parameters = try await Self.requestParameters(request, context, allowJSON: true)
        let client = try await authenticateClient(request, context, tenant: tenant, parameters: parameters, endpoint: "/oauth2/par")
        try throttle("oauth-par|client|\(tenant.id)|\(client.clientID)", Self.pushesPerClient, context)
        let authorization = parameters.filter { !Self.clientAuthParameters.contains($0.key) || $0.key == "client_id" }
        let (requestURI, expiresIn) = try await oauth.push(tenantID: tenant.id, client: client, parameters: authorization)
        return Self.json(["request_uri": .string(requestURI), "expires_in": .int(Int64(expiresIn))], status: .created)
    }

    // MARK: /oauth2/token

    func token(_ request: Request, _ context: SigilRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        let parameters = try await Self.requestParameters(request, context, allowJSON: false)
        let client = try await authenticateClient(request, context, tenant: tenant, parameters: parameters, endpoint: "/oauth2/token")
        let response =
            if parameters["grant_type"] == OAuthService.cibaGrantType {
                try await oauth.cibaToken(
                    tenant: tenant, issuer: context.issuer, client: client, parameters: parameters,
                    authenticator: services.authenticator)
            } else {
                try await oauth.token(tenantID: tenant.id, issuer: context.issuer, client: client, parameters: parameters)
            }
        return Self.json(response.json)
    }

    // MARK: /oauth2/bc-authorize (CIBA, poll mode)

    func backchannelAuthorize(_ request: Request, _ context: SigilRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        let parameters = try await Self.requestParameters(request, context, allowJSON: false)
        let client = try await authenticateClient(request, context, tenant: tenant, parameters: parameters, endpoint: "/oauth2/bc-authorize")
        try throttle("oauth-ciba|client|\(tenant.id)|\(client.clientID)", Self.cibaRequestsPerClient, context)
        let started = try await oauth.backchannelAuthorize(
            tenant: tenant, issuer: context.issuer, client: client, parameters: parameters,
            authenticator: services.authenticator, clientIP: context.clientAddress)
        return Self.json([
            "auth_req_id": .string(started.authReqID), "expires_in": .int(Int64(started.expiresIn)),
            "interval": .int(Int64(started.interval)),
        ])
    }

    // MARK: /oauth2/userinfo

    func userinfo(_ request: Request, _ context: SigilRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        var token: String?
        if let header = request.headers[.authorization] {
            guard header.lowercased().hasPrefix("bearer ") else { throw OAuthError(.invalidToken, "use the Bearer scheme") }
            token = String(header.dropFirst(7)).trimmingCharacters(in: .whitespaces)
        }
        if request.method == .post, request.headers[.contentType]?.lowercased().hasPrefix("application/x-www-form-urlencoded") == true {
            let form = try await Self.formParameters(request)
            if let bodyToken = form["access_token"] {
                guard token == nil else { throw OAuthError.invalidRequest("send the access token one way only") }
                token = bodyToken
            }
        }
        guard let token, !token.isEmpty else { throw BearerMissing() }
        let claims = try await oauth.userinfo(tenantID: tenant.id, issuer: context.issuer, accessToken: token)
        return Self.json(claims)
    }

    // MARK: /oauth2/introspect (RFC 7662) and /oauth2/revoke (RFC 7009)

    func introspect(_ request: Request, _ context: SigilRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        let parameters = try await Self.requestParameters(request, context, allowJSON: false)
        let client = try await authenticateClient(request, context, tenant: tenant, parameters: parameters, endpoint: "/oauth2/introspect")
        guard client.method != .none else { throw OAuthError(.invalidClient, "public clients cannot introspect") }
        guard let token = parameters["token"] else { throw OAuthError.invalidRequest("token is required") }
        let result = try await oauth.introspect(
            tenantID: tenant.id, issuer: context.issuer, client: client, token: token,
            hint: parameters["token_type_hint"])
        return Self.json(result)
    }

    func revoke(_ request: Request, _ context: SigilRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        let parameters = try await Self.requestParameters(request, context, allowJSON: false)
        let client = try await authenticateClient(request, context, tenant: tenant, parameters: parameters, endpoint: "/oauth2/revoke")
        guard let token = parameters["token"] else { throw OAuthError.invalidRequest("token is required") }
        try await oauth.revoke(tenantID: tenant.id, issuer: context.issuer, client: client, token: token)
        return Response(status: .ok, headers: [.cacheControl: "no-store", .contentLength: "0", .accessControlAllowOrigin: "*"])
    }

    // MARK: /oauth2/logout (OpenID Connect RP-Initiated Logout 1.0)

    func logout(_ request: Request, _ context: SigilRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        let base = Web.basePath(context)
        let parameters: [String: String]
        do {
            parameters = try await Self.parameters(request)
        } catch {
            return errorPage(error, base: base)
        }
        var hint: OAuthService.IDTokenHint?
        if let text = parameters["id_token_hint"] {
            guard let verified = try await oauth.verifyIDTokenHint(text, tenantID: tenant.id, issuer: context.issuer) else {
                return errorPage(.invalidRequest("id_token_hint is not an ID token issued here"), base: base)
            }
            hint = verified
        }
        if let given = parameters["client_id"], let hint, given != hint.clientID {
            return errorPage(.invalidRequest("client_id does not match id_token_hint"), base: base)
        }
        let clientID = parameters["client_id"] ?? hint?.clientID
        var destination: String?
        if let uri = parameters["post_logout_redirect_uri"] {
            guard let clientID, let (_, settings) = try await oauth.client(tenantID: tenant.id, clientID: clientID),
                settings.postLogoutRedirectURIs.contains(uri)
            else {
                return errorPage(.invalidRequest("post_logout_redirect_uri is not registered for this client"), base: base)
            }
            var target = uri
            if let state = parameters["state"] {
                target += (uri.contains("?") ? "&" : "?") + "state=" + AuthorizationResponse.formEncode(state)
            }
            destination = target
        }
        let headers: HTTPFields = [:]
        if let (session, user) = try await context.browserSession(request, services.sessions) {
            let confirmed = request.method == .post && parameters["confirm"] == "yes"
            if confirmed {
                try Web.requireSameOrigin(request, context)
                try Web.checkCSRF(parameters["csrf"], session: session, masterKey: services.context.masterKey)
            }
            guard confirmed || hint?.subject == user.id else {
                // Without proof that the client speaks for this session, ask the user (§2, §6).
                let keep = ["post_logout_redirect_uri", "state", "client_id"].compactMap { name in
                    parameters[name].map { HiddenField(name: name, value: $0) }
                }
                let view = LogoutConfirmView(
                    base: base, tenantName: tenant.displayName,
                    csrf: Web.csrfToken(session: session, masterKey: services.context.masterKey), keep: keep)
                // The answer redirects to the client's post-logout URI, or runs SAML single logout.
                return pages.page(.logoutConfirm, view, contentSecurityPolicy: Web.handOffCSP(target: destination ?? context.issuer))
            }
            // Ends the session everywhere (grants, back-channel logout tokens) and runs SAML single
            // logout through the browser before the post-logout redirect.
            let outcome = try await services.upstreams.signOut(
                session, tenantID: tenant.id, issuer: context.issuer,
                reason: "rp-initiated logout" + (clientID.map { " by \($0)" } ?? ""),
                finish: destination)
            var response = SAMLRoutes(services: services, pages: pages).render(outcome, context)
            response.headers.append(HTTPField(name: .setCookie, value: Web.sessionCookie("", context, tenant: tenant, maxAge: 0)))
            return response
        }
        if let destination { return Web.redirect(destination, headers: headers) }
        var page = pages.page(.signedOut, SignedOutView(base: base, pageName: "logged-out", partial: false))
        page.headers.append(contentsOf: headers)
        return page
    }

    // MARK: request parsing

    /// Parameters that authenticate a client rather than describe a request.
    static let clientAuthParameters: Set<String> = ["client_secret", "client_assertion", "client_assertion_type"]

    /// The one form parser (`URLEncodedForm`) with OAuth's rules on top: a refusal is
    /// `invalid_request`, and a parameter sent without a value is treated as omitted (RFC 6749 §3.1).
    static func parameters(_ text: String) throws(OAuthError) -> [String: String] {
        do {
            return URLEncodedForm.withoutEmptyValues(try URLEncodedForm.parse(text))
        } catch {
            throw OAuthError.invalidRequest(error.description)
        }
    }

    /// The query of a GET, the form body of a POST, under the same rules.
    static func parameters(_ request: Request) async throws(OAuthError) -> [String: String] {
        if request.method == .post { return try await formParameters(request) }
        return try parameters(request.uri.query ?? "")
    }

    /// A form body (at most 64 KiB) under the same rules.
    static func formParameters(_ request: Request) async throws(OAuthError) -> [String: String] {
        do {
            return URLEncodedForm.withoutEmptyValues(try await URLEncodedForm.read(request, maxBytes: bodyLimit))
        } catch {
            throw OAuthError.invalidRequest(error.description)
        }
    }

    static let bodyLimit = 64 * 1024

    /// A back-channel request's parameters: `application/x-www-form-urlencoded` (and, at the PAR
    /// endpoint only, a JSON object as Okta documents it, `claims` possibly an object).
    static func requestParameters(_ request: Request, _ context: SigilRequestContext, allowJSON: Bool) async throws -> [String: String] {
        let type = request.headers[.contentType]?.split(separator: ";").first?.trimmingCharacters(in: .whitespaces).lowercased()
        if type == "application/x-www-form-urlencoded" { return try await formParameters(request) }
        if allowJSON, type == "application/json" {
            let text: String
            do {
                text = String(buffer: try await request.body.collect(upTo: bodyLimit))
            } catch {
                throw OAuthError.invalidRequest("the request body is too large")
            }
            guard let object = (try? JSONValue.parse(Array(text.utf8)))?.object else { throw OAuthError.invalidRequest("the body must be a JSON object") }
            var out: [String: String] = [:]
            for (key, value) in object {
                switch value {
                case .string(let s): out[key] = s
                case .int(let i): out[key] = String(i)
                case .object, .array: out[key] = String(decoding: try value.serialized(), as: UTF8.self)
                case .null: continue
                default: throw OAuthError.invalidRequest("parameter \(key.prefix(40)) must be a string")
                }
            }
            return out
        }
        throw OAuthError.invalidRequest("send the parameters as application/x-www-form-urlencoded")
    }

    static func encodeForm(_ parameters: [String: String]) -> String {
        parameters.sorted { $0.key < $1.key }
            .map { AuthorizationResponse.formEncode($0.key) + "=" + AuthorizationResponse.formEncode($0.value) }
            .joined(separator: "&")
    }

    /// Client credentials from the `Authorization: Basic` header (RFC 6749 §2.3.1: each part
    /// form-urlencoded) and the body.
    static func credentials(_ request: Request, _ parameters: [String: String]) throws -> OAuthService.ClientCredentials {
        var c = OAuthService.ClientCredentials(
            clientID: parameters["client_id"], clientSecret: parameters["client_secret"],
            assertionType: parameters["client_assertion_type"], assertion: parameters["client_assertion"])
        if let header = request.headers[.authorization] {
            guard header.lowercased().hasPrefix("basic "), let data = Data(base64Encoded: String(header.dropFirst(6)).trimmingCharacters(in: .whitespaces)),
                let text = String(data: data, encoding: .utf8), let colon = text.firstIndex(of: ":"),
                let id = URLEncodedForm.decode(text[..<colon]), let secret = URLEncodedForm.decode(text[text.index(after: colon)...])
            else {
                throw OAuthError(.invalidClient, "malformed Basic credentials")
            }
            c.basicID = id
            c.basicSecret = secret
        }
        return c
    }

    // MARK: responses

    static func json(_ object: [String: JSONValue], status: HTTPResponse.Status = .ok) -> Response {
        let bytes = (try? JSONValue.object(object).serialized()) ?? Array("{}".utf8)
        return Response(
            status: status,
            headers: [
                .contentType: "application/json", .cacheControl: "no-store", .pragma: "no-cache",
                .accessControlAllowOrigin: "*",
            ],
            body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    struct BearerMissing: Error {}

    /// Runs a back-channel handler, turning protocol errors into RFC 6749 §5.2 / RFC 6750 §3 responses.
    func guarded(bearer: Bool = false, _ body: () async throws -> Response) async -> Response {
        do {
            return try await body()
        } catch let throttled as Throttled {
            // RFC 6585 §4; the body stays an OAuth error object for client libraries.
            var response = Self.json(
                [
                    "error": "temporarily_unavailable",
                    "error_description": .string("too many requests; retry after \(throttled.retryAfter) seconds"),
                ],
                status: .tooManyRequests)
            response.headers[.retryAfter] = String(throttled.retryAfter)
            return response
        } catch is BearerMissing {
            return Response(
                status: .unauthorized,
                headers: [
                    .wwwAuthenticate: #"Bearer realm="sigil""#, .cacheControl: "no-store",
                    .accessControlAllowOrigin: "*", .accessControlExposeHeaders: "WWW-Authenticate",
                ])
        } catch let error as OAuthError {
            services.context.logger.info(
                "oauth request refused",
                metadata: [
                    "error": .string(error.code.rawValue),
                    "detail": .string(error.detail ?? error.description),
                ])
            var response = Self.json(
                ["error": .string(error.code.rawValue), "error_description": .string(error.description)],
                status: HTTPResponse.Status(code: error.status))
            if bearer, error.status == 401 || error.status == 403 {
                response.headers[.wwwAuthenticate] = #"Bearer realm="sigil", error="\#(error.code.rawValue)", error_description="\#(error.description)""#
            } else if error.code == .invalidClient {
                response.headers[.wwwAuthenticate] = #"Basic realm="sigil""#
            }
            return response
        } catch let error as StoreError where error.code == .unavailable {
            return Self.json(["error": "temporarily_unavailable", "error_description": "try again shortly"], status: .serviceUnavailable)
        } catch {
            services.context.logger.error("oauth endpoint failed", metadata: ["error": .string(String(describing: error))])
            return Self.json(["error": "server_error", "error_description": "the server could not complete the request"], status: .internalServerError)
        }
    }
}

extension HTTPField.Name {
    static let pragma = Self("Pragma")!
}
