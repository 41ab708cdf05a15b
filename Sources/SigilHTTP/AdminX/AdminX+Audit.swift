import Foundation
import HTTPTypes
import Hummingbird
import SigilAdminAPI
import SigilServices
import SigilStore

/// The dashboard (the last day's sign-ins, identity verifications and alerts), the audit log
/// (filter, paginate, export) and, for global administrators, the tenants.
extension AdminXRoutes {
    typealias Event = Components.Schemas.AuditEvent

    func registerAudit(on router: Router<SigilRequestContext>) {
        get(router, "/adminx/audit") { r, c, a in try await self.audit(r, c, a) }
        get(router, "/adminx/audit/export") { r, c, a in try await self.exportAudit(r, c, a) }
    }

    func registerTenants(on router: Router<SigilRequestContext>) {
        get(router, "/adminx/tenants") { _, c, a in try await self.tenants(c, a, [:], nil, created: nil) }
        post(router, "/adminx/tenants") { _, c, a, f in try await self.createTenant(c, a, f) }
    }

    /// What the audit page filters on; every part optional.
    struct AuditFilter {
        var action = ""
        var actor = ""
        var outcome = ""

        init(_ request: Request) {
            func value(_ name: String) -> String { request.uri.queryParameters.get(name).map { String($0).trimmingCharacters(in: .whitespaces) } ?? "" }
            action = value("action")
            actor = value("actor")
            outcome = value("outcome")
        }

        var isEmpty: Bool { action.isEmpty && actor.isEmpty && outcome.isEmpty }

        /// `action` matches a whole name or a prefix ending in "." (`oauth.`).
        func matches(_ e: Event) -> Bool {
            let name = e.action ?? ""
            if !action.isEmpty, !(name == action || (action.hasSuffix(".") && name.hasPrefix(action))) { return false }
            if !actor.isEmpty, e.actor != actor { return false }
            if !outcome.isEmpty, e.outcome?.rawValue != outcome { return false }
            return true
        }

        var query: String {
            [("action", action), ("actor", actor), ("outcome", outcome)].filter { !$0.1.isEmpty }
                .map { "\($0.0)=\(AdminXRoutes.queryEncode($0.1))" }.joined(separator: "&")
        }
    }

    /// Reads the audit log newest first through the API, keeping what the filter matches: at most
    /// `limit` matches, looking at no more than `scan` events. Returns the matches and where to go on.
    func auditEvents(filter: AuditFilter, cursor: String?, limit: Int, scan: Int) async throws -> ([Event], String?) {
        var matches: [Event] = []
        var cursor = cursor
        var scanned = 0
        while scanned < scan {
            let page = try await api.listAuditEvents(.init(query: .init(limit: filter.isEmpty ? min(limit, 200) : 200, cursor: cursor))).ok.body.json
            for event in page.items {
                scanned += 1
                guard filter.matches(event) else { continue }
                matches.append(event)
                if matches.count == limit { return (matches, event.id) }
            }
            guard let next = page.nextCursor else { return (matches, nil) }
            cursor = next
        }
        return (matches, cursor)
    }

    func audit(_ request: Request, _ context: SigilRequestContext, _ a: AdminXCaller) async throws -> Response {
        let filter = AuditFilter(request)
        let cursor = request.uri.queryParameters.get("cursor").map { String($0) }
        let (events, next) = try await auditEvents(filter: filter, cursor: cursor, limit: 50, scan: 2000)
        var view = a.view(context, title: "Audit log", current: .audit)
        view.intro = "Every change and security decision in this tenant, newest first. The log is hash-chained: sigil audit verify on the server checks it."
        let rows = events.map { e in
            AdminXRow(cells: [
                AdminXCell(Self.date(e.occurredAt)), AdminXCell(e.action ?? "", mono: true, header: true),
                AdminXCell(e.outcome?.rawValue ?? "", badge: e.outcome == .failure ? "bad" : "ok"), AdminXCell(e.actor ?? "", mono: true),
                AdminXCell([e.targetType, e.targetId].compactMap { $0 }.joined(separator: " "), mono: true),
                AdminXCell(Self.summary(e)),
            ])
        }
        let filterQuery = filter.query
        let join = filterQuery.isEmpty ? "" : "&"
        view.blocks = [
            AdminXBlock(
                "filter",
                form: AdminXForm(
                    "audit-filter", action: "\(a.root)/audit", submit: "Filter", get: true,
                    inputs: [
                        AdminXInput(
                            .text("text"), name: "action", label: "Action", value: filter.action,
                            hint: "A name (user.created) or a prefix ending in a dot (oauth.)."),
                        AdminXInput(
                            .text("text"), name: "actor", label: "Actor", value: filter.actor, hint: "user:usr_…, admin_token:…, client:…, system, cli."),
                        AdminXInput(
                            .select, name: "outcome", label: "Outcome",
                            choices: [("", "Any", nil), ("success", "Success", nil), ("failure", "Failure", nil)], selected: [filter.outcome]),
                    ])),
            AdminXBlock(
                "events",
                table: AdminXTable(
                    "audit-events", caption: "Audit events", columns: ["When", "Action", "Outcome", "Actor", "Target", "Details"], rows: rows,
                    empty: filter.isEmpty ? "No events yet." : "No event matches this filter in the events looked at.",
                    first: cursor == nil ? nil : "\(a.root)/audit\(filterQuery.isEmpty ? "" : "?" + filterQuery)",
                    next: next.map { "\(a.root)/audit?\(filterQuery)\(join)cursor=\(Self.queryEncode($0))" }),
                links: [
                    AdminXLink(
                        "Export as JSON lines", "\(a.root)/audit/export?\(filterQuery)", id: "export-audit",
                        text: "Up to 10,000 matching events, newest first.")
                ]),
        ]
        return render(view)
    }

    /// A short, secret-free summary of an event's before/after and reason.
    static func summary(_ e: Event) -> String {
        var parts: [String] = []
        if let reason = e.reason { parts.append(reason) }
        if let after = e.after?.additionalProperties {
            parts += after.keys.sorted().prefix(4).map { "\($0)=\(after[$0] ?? "")" }
        }
        let text = parts.joined(separator: "; ")
        return text.count > 160 ? String(text.prefix(157)) + "…" : text
    }

    func exportAudit(_ request: Request, _ context: SigilRequestContext, _ a: AdminXCaller) async throws -> Response {
        let (events, _) = try await auditEvents(filter: AuditFilter(request), cursor: nil, limit: 10_000, scan: 50_000)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        var buffer = ByteBuffer()
        for event in events {
            buffer.writeBytes(try encoder.encode(event))
            buffer.writeString("\n")
        }
        return Response(
            status: .ok,
            headers: [
                .contentType: "application/x-ndjson", .cacheControl: "no-store",
                .contentDisposition: "attachment; filename=\"sigil-audit-\(a.tenant.slug).jsonl\"",
            ],
            body: .init(byteBuffer: buffer))
    }

    // MARK: dashboard

    func dashboard(_ request: Request, _ context: SigilRequestContext, _ a: AdminXCaller) async throws -> Response {
        let since = services.context.clock.now().addingTimeInterval(-86_400)
        var signIns = 0, failedSignIns = 0, verified = 0, failedIDV = 0
        var alerts: [Event] = []
        var cursor: String?
        var scanned = 0
        scan: while scanned < 5_000 {
            let page = try await api.listAuditEvents(.init(query: .init(limit: 200, cursor: cursor))).ok.body.json
            for e in page.items {
                scanned += 1
                if let at = e.occurredAt, at < since { break scan }
                switch e.action ?? "" {
                case "session.started", "session.reauthenticated": signIns += 1
                case "passkey.sign_in_failed", "authenticator.denied", "authenticator.approval_failed", "authenticator.wrong_number": failedSignIns += 1
                case "idv.decided": if e.outcome == .success { verified += 1 } else { failedIDV += 1 }
                default: break
                }
                if Self.alertActions[e.action ?? ""] != nil, alerts.count < 20 { alerts.append(e) }
            }
            guard let next = page.nextCursor else { break }
            cursor = next
        }
        let applications = try await api.listApplications(.init(query: .init(limit: 200))).ok.body.json
        let users = try await api.listUsers(.init(query: .init(limit: 200))).ok.body.json
        func count(_ n: Int, more: Bool) -> String { more ? "\(n)+" : String(n) }
        var view = a.view(context, title: "Dashboard", current: .dashboard)
        view.intro = "The last 24 hours in \(a.tenant.displayName)."
        view.blocks = [
            AdminXBlock(
                "activity", heading: "Activity",
                fields: [
                    AdminXField("sign-ins", "Sign-ins", String(signIns), mono: false),
                    AdminXField("failed-sign-ins", "Refused sign-in attempts", String(failedSignIns), mono: false),
                    AdminXField("idv-verified", "Identity verifications: VERIFIED", String(verified), mono: false),
                    AdminXField("idv-failed", "Identity verifications: FAILED", String(failedIDV), mono: false),
                    AdminXField("applications-count", "Applications", count(applications.items.count, more: applications.nextCursor != nil), mono: false),
                    AdminXField("users-count", "Users", count(users.items.count, more: users.nextCursor != nil), mono: false),
                ]),
            AdminXBlock(
                "alerts",
                table: AdminXTable(
                    "alerts-table", caption: "Alerts",
                    columns: ["When", "What", "Target", "Details"],
                    rows: alerts.map { e in
                        AdminXRow(cells: [
                            AdminXCell(Self.date(e.occurredAt)), AdminXCell(Self.alertActions[e.action ?? ""] ?? e.action ?? "", header: true),
                            AdminXCell([e.targetType, e.targetId].compactMap { $0 }.joined(separator: " "), mono: true), AdminXCell(Self.summary(e)),
                        ])
                    }, empty: "Nothing needs your attention."),
                links: [AdminXLink("Open the audit log", "\(a.root)/audit")]),
        ]
        if applications.items.isEmpty {
            view.blocks.insert(
                AdminXBlock(
                    "start", heading: "Get started",
                    paragraphs: ["Add the application people will sign in to: an OIDC client (Auth0, Okta, Descope, your app) or a SAML service provider."],
                    links: [AdminXLink("Add Application", "\(a.root)/applications/new", id: "get-started", primary: true)]), at: 0)
        }
        return render(view)
    }

    /// Audit actions that deserve an administrator's eye, with what to call them.
    static let alertActions: [String: String] = [
        "passkey.possible_clone": "A passkey may have been copied",
        "oauth.code_reused": "An authorization code was used twice",
        "oauth.refresh_token_reused": "A refresh token was replayed",
        "saml.sso.signature_unchecked": "A SAML request's signature was not checked",
        "integration.drift": "An integration changed on the partner's side",
        "integration.failed": "An integration failed",
        "admin.access_denied": "Admin access refused",
        "adminx.access_denied": "AdminX access refused",
        "rate_limit.exceeded": "Rate limit reached",
        "authenticator.push_delivery_failed": "A push notification was not delivered",
    ]

    // MARK: tenants

    func tenants(_ context: SigilRequestContext, _ a: AdminXCaller, _ values: [String: String], _ error: (any Error)?, created: String?) async throws
        -> Response
    {
        let items = try await api.listTenants(.init()).ok.body.json.items
        var view = a.view(context, title: "Tenants", current: .tenants)
        view.intro = "Each tenant is a separate identity provider with its own issuer, keys, users and applications."
        view.flash = created.map { "Tenant \($0) created." }
        view.blocks = [
            AdminXBlock(
                "list",
                table: AdminXTable(
                    "tenants-table", caption: "Tenants", columns: ["Name", "Display name", "Issuer", "AdminX"],
                    rows: items.map { t in
                        AdminXRow(cells: [
                            AdminXCell(t.name ?? "", mono: true, header: true), AdminXCell(t.displayName ?? ""), AdminXCell(t.issuer ?? "", mono: true),
                            AdminXCell("Open", href: (t.issuer.flatMap { URL(string: $0)?.path } ?? "") + Self.root + "/"),
                        ])
                    }, empty: "No tenants.")),
            AdminXBlock(
                "create", heading: "Add a tenant",
                form: AdminXForm(
                    "tenant-form", action: "\(a.root)/tenants", submit: "Create tenant",
                    inputs: [
                        AdminXInput(
                            .text("text"), name: "name", label: "Name", value: values["name"] ?? "",
                            hint: "Lowercase letters, digits and hyphens: its path is /t/name.",
                            required: true),
                        AdminXInput(.text("text"), name: "display_name", label: "Display name", value: values["display_name"] ?? ""),
                        AdminXInput(.text("text"), name: "host", label: "Host", value: values["host"] ?? "", hint: "Optional: a host name of its own."),
                    ])),
        ]
        let status = error.map { Self.show($0, on: &view, formBlock: 1) } ?? .ok
        return render(view, status: status)
    }

    func createTenant(_ context: SigilRequestContext, _ a: AdminXCaller, _ form: [String: String]) async throws -> Response {
        do {
            var object: [String: Any] = ["name": (form["name"] ?? "").trimmingCharacters(in: .whitespaces)]
            if let display = Self.trimmed(form, "display_name") { object["display_name"] = display }
            if let host = Self.trimmed(form, "host") { object["host"] = host }
            let tenant = try await api.createTenant(.init(body: .json(try Self.body(Components.Schemas.CreateTenant.self, object)))).created.body.json
            return try await tenants(context, a, [:], nil, created: tenant.name)
        } catch {
            return try await tenants(context, a, form, error, created: nil)
        }
    }
}
