import Foundation
import HTTPTypes
import Hummingbird
import SigilAdminAPI
import SigilCore
import SigilServices
import SigilStore

/// AdminX, the admin portal at `/adminx/` of each tenant: server-rendered pages over the admin
/// API. Every page reads and changes through the admin API's own operations (`AdminAPI`, called
/// in process with `AdminCall.current` set), so the portal and the REST API share their checks,
/// validation and audit by construction; a page only turns a form into the operation's input and
/// its output (or its problem) into HTML.
///
/// Who may use it (`gate`): a signed-in user with the `admin` role, on their own tenant. An
/// administrator of the `default` tenant is a global administrator: their session (the default
/// tenant's cookie, sent to every path of the same host) also opens `/t/{slug}/adminx/` of every
/// tenant, and the Tenants page. Every POST must come from the tenant's origin and carry the
/// session's CSRF token. Pages are `no-store` under `Web.pageCSP` (no inline code, no framing).
struct AdminXRoutes {
    let services: ServiceSet
    let api: AdminAPI
    var pages: Pages = .standard

    static let root = "/adminx"
    /// An administrator's sign-in older than this is asked again before AdminX acts (`prompt=login`:
    /// the same session is re-authenticated in place). Sessions themselves live up to 12 hours.
    static let maximumAuthenticationAge: TimeInterval = 4 * 3600
    /// SAML metadata pasted into a form can be large; nothing else comes near this.
    static let maxFormBytes = 512 * 1024

    typealias Handler = @Sendable (Request, SigilRequestContext, AdminXCaller) async throws -> Response
    typealias FormHandler = @Sendable (Request, SigilRequestContext, AdminXCaller, [String: String]) async throws -> Response

    func register(on router: Router<SigilRequestContext>) {
        router.get("/assets/adminx.js") { _, _ in SignInRoutes.asset(AdminXAssets.script, type: "text/javascript; charset=utf-8") }
        router.get("/assets/adminx.css") { _, _ in SignInRoutes.asset(AdminXAssets.stylesheet, type: "text/css; charset=utf-8") }
        // The router does not tell "/adminx" from "/adminx/": one route serves both.
        get(router, "/adminx/") { r, c, a in try await self.dashboard(r, c, a) }
        registerApplications(on: router)
        registerSettings(on: router)
        registerUsers(on: router)
        registerUpstreams(on: router)
        registerWebhooks(on: router)
        registerIntegrations(on: router)
        registerConnectors(on: router)
        registerAudit(on: router)
        registerTenants(on: router)
    }

    // MARK: the gate

    func get(_ router: Router<SigilRequestContext>, _ path: RouterPath, _ handler: @escaping Handler) {
        router.get(path) { request, context in
            try await self.guarded(request, context) { caller in try await handler(request, context, caller) }
        }
    }

    func post(_ router: Router<SigilRequestContext>, _ path: RouterPath, _ handler: @escaping FormHandler) {
        router.post(path) { request, context in
            try Web.requireSameOrigin(request, context)
            return try await self.guarded(request, context) { caller in
                let form: [String: String]
                do {
                    form = try await URLEncodedForm.read(request, maxBytes: Self.maxFormBytes)
                } catch let invalid as URLEncodedForm.Invalid {
                    throw invalid.problem
                }
                try Web.checkCSRF(form["csrf"], session: caller.session, masterKey: self.services.context.masterKey)
                return try await handler(request, context, caller, form)
            }
        }
    }

    /// Runs `body` as the signed-in administrator, or answers for them: the sign-in page when nobody
    /// is signed in, a 403 page for a user who is not an administrator here. An error the page did
    /// not handle becomes an AdminX error page with the problem's status.
    func guarded(_ request: Request, _ context: SigilRequestContext, _ body: (AdminXCaller) async throws -> Response) async throws -> Response {
        let base = Web.basePath(context)
        let caller: AdminXCaller
        switch try await gate(request, context) {
        case .signIn(let loginBase, let again):
            let path = context.originalPath.isEmpty ? request.uri.path : context.originalPath
            let back = path + (request.uri.query.map { "?\($0)" } ?? "")
            let prompt = again ? "prompt=login&" : ""
            return Web.redirect("\(loginBase)/login?\(prompt)return_to=\(Self.queryEncode(request.method == .get ? back : base + Self.root + "/"))")
        case .notAdministrator(let user):
            await services.context.recordFailure(
                "adminx.access_denied", by: .user(user.id), tenantID: try context.requireTenant().id,
                reason: "not an administrator of this tenant")
            return pages.page(
                .error,
                ErrorView(
                    base: base, title: "Not an administrator", heading: "You are not an administrator here",
                    message: "\(user.email) is signed in, but only administrators of this tenant can use AdminX.",
                    oauthCode: nil, askAdministrator: false),
                status: .forbidden)
        case .administrator(let found):
            caller = found
        }
        do {
            return try await AdminCall.$current.withValue(AdminCall(context: context, principal: caller.principal)) {
                try await body(caller)
            }
        } catch {
            let problem = Problem.from(error)
            if problem.status.code >= 500 {
                context.logger.error("adminx page failed", metadata: ["error": .string(String(describing: error))])
            }
            var view = caller.view(context, title: problem.title, current: nil)
            view.problem = AdminXProblem(title: problem.title, detail: problem.detail)
            view.blocks = [AdminXBlock("back", links: [AdminXLink("Back to the dashboard", "\(base)\(Self.root)/")])]
            return pages.page(.adminx, view, status: problem.status)
        }
    }

    enum GateResult {
        /// Nobody is signed in (false), or an administrator's sign-in is too old (true: sign in again).
        case signIn(loginBase: String, again: Bool)
        case notAdministrator(User)
        case administrator(AdminXCaller)
    }

    /// The tenant's own session (its administrators act on it; the `default` tenant's are global),
    /// else the `default` tenant's session of a global administrator.
    func gate(_ request: Request, _ context: SigilRequestContext) async throws -> GateResult {
        let tenant = try context.requireTenant()
        let base = Web.basePath(context)
        let own = try await context.browserSession(request, services.sessions)
        let now = services.context.clock.now()
        if let (session, user) = own, user.isAdmin {
            if now.timeIntervalSince(session.authTime) > Self.maximumAuthenticationAge { return .signIn(loginBase: base, again: true) }
            let global = tenant.slug == Tenant.defaultSlug
            return .administrator(
                AdminXCaller(
                    session: session, user: user, tenant: tenant, base: base,
                    principal: .administrator(userID: user.id, tenantID: tenant.id, global: global),
                    csrf: Web.csrfToken(session: session, masterKey: services.context.masterKey),
                    signOutBase: base))
        }
        if tenant.slug != Tenant.defaultSlug, let home = try await services.tenants.resolve(slug: Tenant.defaultSlug),
            let cookie = Web.cookie(Web.sessionCookieName(context, tenant: home), in: request),
            let (session, user) = try await services.sessions.resolve(cookie: cookie, tenantID: home.id), user.isAdmin
        {
            let suffix = "/t/\(tenant.slug)"
            let homeBase = base.hasSuffix(suffix) ? String(base.dropLast(suffix.count)) : base
            if now.timeIntervalSince(session.authTime) > Self.maximumAuthenticationAge {
                // Their home tenant's sign-in page re-authenticates them; then back here.
                return .signIn(loginBase: homeBase, again: true)
            }
            return .administrator(
                AdminXCaller(
                    session: session, user: user, tenant: tenant, base: base,
                    principal: .administrator(userID: user.id, tenantID: home.id, global: true),
                    csrf: Web.csrfToken(session: session, masterKey: services.context.masterKey),
                    signOutBase: homeBase))
        }
        if let (_, user) = own { return .notAdministrator(user) }
        return .signIn(loginBase: base, again: false)
    }

    static func queryEncode(_ value: String) -> String {
        var allowed = CharacterSet.urlQueryAllowed
        allowed.remove(charactersIn: "&=+?#")
        return value.addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
    }

    /// A path segment (ids chosen by the API are URL-safe; names of upstreams may not be).
    static func segment(_ value: String) -> String {
        var allowed = CharacterSet.urlPathAllowed
        allowed.remove(charactersIn: "/?#")
        return value.addingPercentEncoding(withAllowedCharacters: allowed) ?? value
    }

    // MARK: pages

    func render(_ view: AdminXView, status: HTTPResponse.Status = .ok) -> Response {
        pages.page(.adminx, view, status: status)
    }

    /// The page again with the operation's problem: each field error next to its control, the rest
    /// (and the problem's title) in the summary at the top, which links to each invalid field.
    static func show(_ error: any Error, on view: inout AdminXView, formBlock: Int) -> HTTPResponse.Status {
        let problem = Problem.from(error)
        guard problem.status.code < 500 else { return problem.status }
        let errors = (problem.errors ?? []).map { (field: $0.field, message: $0.message) }
        var links: [AdminXLink] = []
        if formBlock < view.blocks.count, var form = view.blocks[formBlock].form {
            let unplaced = form.inputs.place(errors)
            for input in form.inputs where input.inputError != nil {
                let target = input.isChoices ? input.options.first?.optionID ?? input.inputID : input.inputID
                links.append(AdminXLink("\(input.inputLabel): \(input.inputError ?? "")", "#\(target)"))
            }
            links += unplaced.map { AdminXLink("\($0.field): \($0.message)", "#\(form.formID)") }
            view.blocks[formBlock].form = form
        } else {
            links = errors.map { AdminXLink("\($0.field): \($0.message)", "#content") }
        }
        view.problem = AdminXProblem(title: problem.title, detail: problem.detail, links: links)
        return problem.status
    }
}

/// The signed-in administrator of one AdminX request.
struct AdminXCaller: Sendable {
    let session: Session
    let user: User
    /// The tenant the page acts on (the request's).
    let tenant: Tenant
    /// That tenant's base path ("" or "/t/{slug}").
    let base: String
    let principal: Principal
    let csrf: String
    /// The base path of the tenant whose session this is (where Sign out goes).
    let signOutBase: String

    var isGlobal: Bool { principal.isGlobal }
    var root: String { base + AdminXRoutes.root }

    enum Section: String, CaseIterable {
        case dashboard, applications, integrations, connectors, authorizationServer, federation, upstreams, users, idv, webhooks, audit, tenants
    }

    /// The page chrome: the sections (Tenants only for a global administrator), `current` marked.
    func view(_ context: SigilRequestContext, title: String, current: Section?, breadcrumbs: [AdminXLink] = []) -> AdminXView {
        var nav: [(Section, String, String)] = [
            (.dashboard, "Dashboard", "/"), (.applications, "Applications", "/applications"), (.integrations, "Integrations", "/integrations"),
            (.connectors, "Connectors", "/connectors"),
            (.authorizationServer, "Authorization Server", "/settings/authorization-server"),
            (.federation, "Federation", "/federation/saml"), (.upstreams, "Upstream IdPs", "/upstreams"), (.users, "Users", "/users"),
            (.idv, "Identity verification", "/idv/policy"), (.webhooks, "Webhooks", "/webhooks"), (.audit, "Audit log", "/audit"),
        ]
        if isGlobal { nav.append((.tenants, "Tenants", "/tenants")) }
        return AdminXView(
            base: base, csrf: csrf, title: title, tenantName: tenant.displayName, userEmail: user.email, isGlobal: isGlobal,
            nav: nav.map { AdminXNav(navLabel: $0.1, navHref: root + $0.2, navCurrent: $0.0 == current) },
            signOutAction: signOutBase + "/logout", signOutCSRF: csrf, breadcrumbs: breadcrumbs, hasBreadcrumbs: !breadcrumbs.isEmpty)
    }
}

// MARK: forms → API bodies

extension AdminXRoutes {
    /// Decodes a JSON object made from a form into the operation's generated body type, as the API
    /// decodes a request: a value the document does not allow is a field error, reported as the
    /// API reports it.
    static func body<T: Decodable>(_ type: T.Type, _ object: [String: Any]) throws -> T {
        let data = try JSONSerialization.data(withJSONObject: object)
        do {
            return try JSONDecoder().decode(T.self, from: data)
        } catch let error as DecodingError {
            switch error {
            case .keyNotFound(let key, let ctx):
                let field = JSONBody.fieldPath(ctx.codingPath + [key])
                throw Problem.invalidType(field, "\(field) is required")
            case .typeMismatch(_, let ctx), .valueNotFound(_, let ctx), .dataCorrupted(let ctx):
                let field = JSONBody.fieldPath(ctx.codingPath)
                throw Problem.invalidType(field, "\(field) has an invalid value")
            @unknown default:
                throw Problem.invalidType("", "the form does not match the operation")
            }
        }
    }

    /// A textarea's lines, trimmed, without blanks.
    static func lines(_ text: String?) -> [String] {
        (text ?? "").split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
    }

    /// The values of a checkbox group named `name.value`.
    static func checked(_ form: [String: String], _ name: String) -> [String] {
        form.keys.filter { $0.hasPrefix(name + ".") && form[$0] == "on" }.map { String($0.dropFirst(name.count + 1)) }.sorted()
    }

    static func trimmed(_ form: [String: String], _ name: String) -> String? {
        guard let value = form[name]?.trimmingCharacters(in: .whitespacesAndNewlines), !value.isEmpty else { return nil }
        return value
    }

    /// "2026-12-07 11:30 UTC".
    static func date(_ date: Date?) -> String {
        guard let date else { return "—" }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute], from: date)
        return String(format: "%04d-%02d-%02d %02d:%02d UTC", c.year ?? 0, c.month ?? 0, c.day ?? 0, c.hour ?? 0, c.minute ?? 0)
    }
}
