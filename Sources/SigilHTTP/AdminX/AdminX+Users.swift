import Foundation
import HTTPTypes
import Hummingbird
import SigilAdminAPI
import SigilServices
import SigilStore

/// Users: the list and search, invite, and one user's page (passkeys, phones, sessions, consents,
/// verification status) with disable / enable, sign out everywhere and delete.
extension AdminXRoutes {
    func registerUsers(on router: Router<SigilRequestContext>) {
        get(router, "/adminx/users") { r, c, a in try await self.users(r, c, a) }
        get(router, "/adminx/users/invite") { _, c, a in self.inviteForm(c, a, [:], nil) }
        post(router, "/adminx/users/invite") { _, c, a, f in try await self.invite(c, a, f) }
        get(router, "/adminx/users/:id") { r, c, a in try await self.user(r, c, a, id: try c.parameters.require("id")) }
        post(router, "/adminx/users/:id/status") { _, c, a, f in try await self.setStatus(c, a, f, id: try c.parameters.require("id")) }
        post(router, "/adminx/users/:id/roles") { _, c, a, f in try await self.setRoles(c, a, f, id: try c.parameters.require("id")) }
        post(router, "/adminx/users/:id/sessions/revoke") { _, c, a, _ in try await self.signOutEverywhere(c, a, id: try c.parameters.require("id")) }
        post(router, "/adminx/users/:id/invite") { _, c, a, _ in try await self.reinvite(c, a, id: try c.parameters.require("id")) }
        get(router, "/adminx/users/:id/delete") { _, c, a in try await self.confirmDeleteUser(c, a, id: try c.parameters.require("id")) }
        post(router, "/adminx/users/:id/delete") { _, c, a, f in try await self.deleteUser(c, a, f, id: try c.parameters.require("id")) }
    }

    func userCrumbs(_ a: AdminXCaller) -> [AdminXLink] { [AdminXLink("Users", a.root + "/users")] }

    func users(_ request: Request, _ context: SigilRequestContext, _ a: AdminXCaller) async throws -> Response {
        let cursor = request.uri.queryParameters.get("cursor").map { String($0) }
        let query = request.uri.queryParameters.get("q").map { String($0).trimmingCharacters(in: .whitespaces) } ?? ""
        var view = a.view(context, title: "Users", current: .users)
        if request.uri.queryParameters.get("deleted") != nil { view.flash = "User deleted." }
        var items: [Components.Schemas.User]
        var next: String?
        if query.hasPrefix("usr_"), !query.contains("@") {
            // A user ID: that user (through the API's own read), or nobody.
            items = []
            if let found = try? await api.getUser(.init(path: .init(id: query))).ok.body.json { items = [found] }
        } else {
            let page = try await api.listUsers(.init(query: .init(limit: 25, cursor: cursor, q: query.isEmpty ? nil : query))).ok.body.json
            items = page.items
            let q = query.isEmpty ? "" : "q=\(Self.queryEncode(query))&"
            next = page.nextCursor.map { "\(a.root)/users?\(q)cursor=\(Self.queryEncode($0))" }
        }
        let rows = items.map { user in
            AdminXRow(cells: [
                AdminXCell(user.email ?? "", href: "\(a.root)/users/\(Self.segment(user.id ?? ""))", header: true),
                AdminXCell([user.givenName, user.familyName].compactMap { $0 }.joined(separator: " ")),
                AdminXCell(user.status?.rawValue ?? "", badge: user.status == .active ? "ok" : "bad"),
                AdminXCell(Self.date(user.createdAt)),
            ])
        }
        view.blocks = [
            AdminXBlock(
                "search",
                form: AdminXForm(
                    "user-search", action: "\(a.root)/users", submit: "Search", get: true,
                    inputs: [
                        AdminXInput(.text("search"), name: "q", label: "Find a user", value: query, hint: "Part of an email address, or a user ID (usr_…).")
                    ])),
            AdminXBlock("actions", links: [AdminXLink("Invite a user", "\(a.root)/users/invite", id: "invite-user", primary: true)]),
            AdminXBlock(
                "list",
                table: AdminXTable(
                    "users", caption: query.isEmpty ? "Users" : "Users matching “\(query)”", columns: ["Email", "Name", "Status", "Created"], rows: rows,
                    empty: query.isEmpty
                        ? "No users yet. Invite one: they enrol a passkey or the Sigil authenticator from the link."
                        : "No user has an email address containing that, or that ID.",
                    first: cursor == nil && query.isEmpty ? nil : "\(a.root)/users", next: next)),
        ]
        return render(view)
    }

    func inviteForm(_ context: SigilRequestContext, _ a: AdminXCaller, _ values: [String: String], _ error: (any Error)?) -> Response {
        var view = a.view(context, title: "Invite a user", current: .users, breadcrumbs: userCrumbs(a))
        view.intro = "Sigil creates the user and an enrolment link (valid for 7 days, once) for them to set up a passkey or the Sigil authenticator."
        view.blocks = [
            AdminXBlock(
                "invite",
                form: AdminXForm(
                    "invite-form", action: "\(a.root)/users/invite", submit: "Invite", cancel: "\(a.root)/users",
                    inputs: [
                        AdminXInput(.text("email"), name: "email", label: "Email", value: values["email"] ?? "", required: true),
                        AdminXInput(.text("text"), name: "given_name", label: "Given name", value: values["given_name"] ?? ""),
                        AdminXInput(.text("text"), name: "family_name", label: "Family name", value: values["family_name"] ?? ""),
                        AdminXInput(
                            .checkbox, name: "admin", label: "Role",
                            choices: [("on", "Administrator of this tenant", "Can use AdminX and change everything in this tenant.")],
                            selected: values["admin"] == "on" ? ["on"] : []),
                    ]))
        ]
        let status = error.map { Self.show($0, on: &view, formBlock: 0) } ?? .ok
        return render(view, status: status)
    }

    func invite(_ context: SigilRequestContext, _ a: AdminXCaller, _ form: [String: String]) async throws -> Response {
        let created: Components.Schemas.User
        do {
            var object: [String: Any] = ["email": (form["email"] ?? "").trimmingCharacters(in: .whitespaces)]
            for name in ["given_name", "family_name"] { object[name] = (form[name] ?? "").trimmingCharacters(in: .whitespaces) }
            if form["admin"] == "on" { object["roles"] = [User.adminRole] }
            created = try await api.createUser(.init(body: .json(try Self.body(Components.Schemas.CreateUser.self, object)))).created.body.json
        } catch {
            return inviteForm(context, a, form, error)
        }
        return try await userPage(context, a, id: created.id ?? "", flash: "User created.", invite: try await inviteLink(context, a, userID: created.id ?? ""))
    }

    /// A fresh one-time enrolment link for the user (shown once: only its hash is kept).
    func inviteLink(_ context: SigilRequestContext, _ a: AdminXCaller, userID: String) async throws -> (String, Date) {
        let user = try await services.users.get(tenantID: a.tenant.id, id: userID, by: a.principal)
        let (url, expires) = try await services.enrolment.createUserInvite(tenant: a.tenant, user: user, issuer: context.issuer, by: a.principal)
        return (url.value, expires)
    }

    func reinvite(_ context: SigilRequestContext, _ a: AdminXCaller, id: String) async throws -> Response {
        try await userPage(context, a, id: id, flash: "New enrolment link created.", invite: try await inviteLink(context, a, userID: id))
    }

    func user(_ request: Request, _ context: SigilRequestContext, _ a: AdminXCaller, id: String) async throws -> Response {
        let flash: String? =
            switch request.uri.queryParameters.get("done") {
            case "disabled": "User disabled and signed out everywhere."
            case "active": "User enabled."
            case "admin": "The user is now an administrator of this tenant."
            case "not-admin": "The user is no longer an administrator."
            case "signed-out": "Signed out everywhere: sessions ended, tokens revoked, applications told (back-channel logout)."
            default: nil
            }
        return try await userPage(context, a, id: id, flash: flash, invite: nil)
    }

    func userPage(_ context: SigilRequestContext, _ a: AdminXCaller, id: String, flash: String?, invite: (String, Date)?) async throws -> Response {
        let user = try await api.getUser(.init(path: .init(id: id))).ok.body.json
        let passkeys = try await api.listUserPasskeys(.init(path: .init(id: id))).ok.body.json.items
        let consents = try await api.listUserConsents(.init(path: .init(id: id))).ok.body.json.items
        // Read beside the API's operations (whose authorization just passed): phones, sessions, verification.
        let activity = try await services.users.activity(tenantID: a.tenant.id, userID: id, by: a.principal)
        let devices = activity.devices, sessions = activity.sessions
        let identity = try await services.idv.latestIdentity(tenantID: a.tenant.id, userID: id)
        let path = "\(a.root)/users/\(Self.segment(id))"
        let name = [user.givenName, user.familyName].compactMap { $0 }.filter { !$0.isEmpty }.joined(separator: " ")
        var view = a.view(context, title: user.email ?? id, current: .users, breadcrumbs: userCrumbs(a))
        view.flash = flash
        if let (url, expires) = invite {
            view.blocks.append(
                AdminXBlock(
                    "enrolment", heading: "Enrolment link",
                    paragraphs: ["Send this link to \(user.email ?? "the user"). It works once, until \(Self.date(expires)), and is shown only now."],
                    fields: [AdminXField("enrolment-link", "Enrolment link", url, copy: true)], secret: true))
        }
        let active = user.status == .active
        let isAdmin = (user.roles ?? []).contains(.admin)
        view.blocks.append(
            AdminXBlock(
                "profile", heading: "Profile",
                fields: [
                    AdminXField("user-id", "User ID", id, copy: true), AdminXField("user-name", "Name", name.isEmpty ? "—" : name, mono: false),
                    AdminXField("user-status", "Status", user.status?.rawValue ?? "", mono: false),
                    AdminXField("user-role", "Role", isAdmin ? "Administrator" : "User", mono: false),
                    AdminXField("user-created", "Created", Self.date(user.createdAt), mono: false),
                    AdminXField(
                        "user-verification", "Identity verification",
                        identity.map { "\($0.status == .verified ? "Verified" : "Not verified") on \(Self.date($0.time)) (\($0.assuranceLevel))" }
                            ?? "Not verified", mono: false),
                ]))
        view.blocks.append(
            AdminXBlock(
                "passkeys",
                table: AdminXTable(
                    "passkeys-table", caption: "Passkeys", columns: ["Name", "Synced", "Added", "Last used", "Warning"],
                    rows: passkeys.map { p in
                        AdminXRow(cells: [
                            AdminXCell(p.name, header: true), AdminXCell(p.backupEligible == true ? "yes" : "no"),
                            AdminXCell(Self.date(p.createdAt)), AdminXCell(Self.date(p.lastUsedAt)),
                            p.cloneWarning == true ? AdminXCell("possible copy", badge: "bad") : AdminXCell("—"),
                        ])
                    }, empty: "No passkeys.")))
        view.blocks.append(
            AdminXBlock(
                "devices",
                table: AdminXTable(
                    "devices-table", caption: "Phones with the Sigil authenticator", columns: ["Name", "Platform", "Key", "Added", "Last used"],
                    rows: devices.map { d in
                        AdminXRow(cells: [
                            AdminXCell(d.name, header: true), AdminXCell(d.platform), AdminXCell(d.keyProtection), AdminXCell(Self.date(d.createdAt)),
                            AdminXCell(Self.date(d.lastUsedAt)),
                        ])
                    }, empty: "No phones.")))
        view.blocks.append(
            AdminXBlock(
                "sessions",
                table: AdminXTable(
                    "sessions-table", caption: "Active sessions", columns: ["Signed in", "Methods", "Last seen", "Expires"],
                    rows: sessions.map { s in
                        AdminXRow(cells: [
                            AdminXCell(Self.date(s.authTime)), AdminXCell(s.amr.joined(separator: ", "), mono: true), AdminXCell(Self.date(s.lastSeenAt)),
                            AdminXCell(Self.date(min(s.idleExpiresAt, s.absoluteExpiresAt))),
                        ])
                    }, empty: "No active sessions.")))
        view.blocks.append(
            AdminXBlock(
                "consents",
                table: AdminXTable(
                    "consents-table", caption: "Applications the user allowed", columns: ["Application", "Scopes", "Allowed"],
                    rows: consents.map { c in
                        AdminXRow(cells: [
                            AdminXCell(c.applicationName ?? c.clientId, header: true), AdminXCell(c.scopes.joined(separator: " "), mono: true),
                            AdminXCell(Self.date(c.createdAt)),
                        ])
                    }, empty: "No consents.")))
        var buttons = [AdminXButton(buttonID: "sign-out-everywhere", buttonAction: "\(path)/sessions/revoke", buttonLabel: "Sign out everywhere")]
        buttons.append(AdminXButton(buttonID: "new-enrolment-link", buttonAction: "\(path)/invite", buttonLabel: "New enrolment link"))
        view.blocks.append(
            AdminXBlock(
                "manage", heading: "Manage",
                form: AdminXForm(
                    "status-form", action: "\(path)/status", submit: active ? "Disable user" : "Enable user", danger: active,
                    inputs: [
                        AdminXInput(.hidden, name: "status", label: "", value: active ? "disabled" : "active"),
                        AdminXInput(.hidden, name: "version", label: "", value: String(user.version ?? 0)),
                    ]),
                buttons: buttons))
        view.blocks.append(
            AdminXBlock(
                "role", heading: "Administrator",
                paragraphs: [
                    isAdmin
                        ? "This user administers this tenant in AdminX."
                        : "Make this user an administrator of this tenant: they can use AdminX and change everything in it."
                ],
                form: AdminXForm(
                    "role-form", action: "\(path)/roles", submit: isAdmin ? "Remove administrator role" : "Make administrator", danger: isAdmin,
                    inputs: [
                        AdminXInput(.hidden, name: "admin", label: "", value: isAdmin ? "off" : "on"),
                        AdminXInput(.hidden, name: "version", label: "", value: String(user.version ?? 0)),
                    ])))
        view.blocks.append(
            AdminXBlock(
                "delete", heading: "Delete this user", paragraphs: ["Their passkeys, phones, sessions and consents are deleted with them."], danger: true,
                links: [AdminXLink("Delete user…", "\(path)/delete", id: "delete-user")]))
        return render(view)
    }

    func setStatus(_ context: SigilRequestContext, _ a: AdminXCaller, _ form: [String: String], id: String) async throws -> Response {
        let version = form["version"].flatMap(Int.init)
        let status = form["status"] == "disabled" ? "disabled" : "active"
        if id == a.user.id, status == "disabled" { throw ServiceError(.forbidden, "you cannot disable your own account from AdminX") }
        let patch = try Self.body(Components.Schemas.PatchUser.self, ["status": status])
        _ = try await api.updateUser(.init(path: .init(id: id), headers: .init(ifMatch: version.map(AdminAPI.etag)), body: .json(patch))).ok
        return Web.redirect("\(a.root)/users/\(Self.segment(id))?done=\(status)")
    }

    func setRoles(_ context: SigilRequestContext, _ a: AdminXCaller, _ form: [String: String], id: String) async throws -> Response {
        let admin = form["admin"] == "on"
        if id == a.user.id, !admin { throw ServiceError(.forbidden, "you cannot remove your own administrator role") }
        let version = form["version"].flatMap(Int.init)
        let patch = try Self.body(Components.Schemas.PatchUser.self, ["roles": admin ? [User.adminRole] : []])
        _ = try await api.updateUser(.init(path: .init(id: id), headers: .init(ifMatch: version.map(AdminAPI.etag)), body: .json(patch))).ok
        return Web.redirect("\(a.root)/users/\(Self.segment(id))?done=\(admin ? "admin" : "not-admin")")
    }

    func signOutEverywhere(_ context: SigilRequestContext, _ a: AdminXCaller, id: String) async throws -> Response {
        _ = try await api.revokeUserSessions(.init(path: .init(id: id))).ok
        return Web.redirect("\(a.root)/users/\(Self.segment(id))?done=signed-out")
    }

    func confirmDeleteUser(_ context: SigilRequestContext, _ a: AdminXCaller, id: String) async throws -> Response {
        let user = try await api.getUser(.init(path: .init(id: id))).ok.body.json
        let path = "\(a.root)/users/\(Self.segment(id))"
        var view = a.view(context, title: "Delete \(user.email ?? id)?", current: .users, breadcrumbs: userCrumbs(a))
        view.blocks = [
            AdminXBlock(
                "confirm", paragraphs: ["This cannot be undone. \(user.email ?? id) is signed out everywhere and can no longer sign in."], danger: true,
                form: AdminXForm(
                    "delete-form", action: "\(path)/delete", submit: "Delete user", danger: true, cancel: path,
                    inputs: [AdminXInput(.hidden, name: "version", label: "", value: String(user.version ?? 0))]))
        ]
        return render(view)
    }

    func deleteUser(_ context: SigilRequestContext, _ a: AdminXCaller, _ form: [String: String], id: String) async throws -> Response {
        if id == a.user.id { throw ServiceError(.forbidden, "you cannot delete your own account from AdminX") }
        let version = form["version"].flatMap(Int.init)
        _ = try await api.deleteUser(.init(path: .init(id: id), headers: .init(ifMatch: version.map(AdminAPI.etag)))).noContent
        return Web.redirect("\(a.root)/users?deleted=1")
    }
}
