import Foundation
import HTTPTypes
import Hummingbird
import SigilCore
import SigilFlows
import SigilOAuth
import SigilServices
import SigilStore
import SigilWebAuthn

/// The hosted sign-in pages and their JSON endpoints: `/login`, `/enroll/{token}`, `/account`,
/// `/logout`, and the static assets they load.
struct SignInRoutes {
    let services: ServiceSet

    func register(on router: Router<SigilRequestContext>) {
        router.get("/assets/sigil.js") { _, _ in Self.asset(Assets.script, type: "text/javascript; charset=utf-8") }
        router.get("/assets/sigil.css") { _, _ in Self.asset(Assets.stylesheet, type: "text/css; charset=utf-8") }
        router.get("/login") { request, context in try await self.loginPage(request, context) }
        router.post("/login/passkey/options") { request, context in try await self.passkeyOptions(request, context) }
        router.post("/login/passkey/verify") { request, context in try await self.passkeyVerify(request, context) }
        router.get("/enroll/:token") { request, context in try await self.enrolPage(request, context) }
        router.post("/enroll/:token/options") { request, context in try await self.enrolOptions(request, context) }
        router.post("/enroll/:token/verify") { request, context in try await self.enrolVerify(request, context) }
        router.get("/account") { request, context in try await self.accountPage(request, context) }
        router.post("/account/passkeys/options") { request, context in try await self.addPasskeyOptions(request, context) }
        router.post("/account/passkeys/verify") { request, context in try await self.addPasskeyVerify(request, context) }
        router.post("/account/passkeys/:id/delete") { request, context in try await self.deletePasskey(request, context) }
        router.post("/account/consents/:client_id/delete") { request, context in try await self.revokeConsent(request, context) }
        router.post("/logout") { request, context in try await self.logout(request, context) }
    }

    static func asset(_ text: String, type: String) -> Response {
        Response(status: .ok, headers: [.contentType: type, .cacheControl: "public, max-age=300"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    // MARK: sessions

    func currentSession(_ request: Request, _ context: SigilRequestContext) async throws -> (Session, User)? {
        let tenant = try context.requireTenant()
        guard let cookie = Web.cookie(Web.sessionCookieName(context, tenant: tenant), in: request) else { return nil }
        return try await services.sessions.resolve(cookie: cookie, tenantID: tenant.id)
    }

    func startSession(user: User, amr: [String], acr: String, context: SigilRequestContext, redirect: String) async throws -> Response {
        let tenant = try context.requireTenant()
        let (_, cookie) = try await services.sessions.start(tenantID: tenant.id, userID: user.id, amr: amr, acr: acr)
        let maxAge = Int(services.sessions.policy.absoluteTimeout)
        return try JSONResponse.make(["redirect": redirect], headers: [
            .setCookie: Web.sessionCookie(cookie.value, context, tenant: tenant, maxAge: maxAge), .cacheControl: "no-store",
        ])
    }

    // MARK: /login

    func loginPage(_ request: Request, _ context: SigilRequestContext) async throws -> Response {
        let base = Web.basePath(context)
        let returnTo = Web.safeReturnPath(request.uri.queryParameters.get("return_to").map { String($0) }, base: base)
        let current = try await currentSession(request, context)
        if current != nil, request.uri.queryParameters.get("prompt") != "login" {
            return Web.redirect(returnTo)
        }
        let tenant = try context.requireTenant()
        // An application asked for a stronger sign-in (acr): offer only the methods that reach it.
        let acr = request.uri.queryParameters.get("acr").map { String($0) }
        let passkeyOnly = acr.flatMap(ACR.rank).map { $0 > (ACR.rank(ACR.authenticator) ?? 0) } ?? false
        var notes = ""
        if passkeyOnly {
            notes += acr == ACR.phrh
                ? #"<p id="acr-note" class="hint">This application asks for a passkey kept on this device or a security key.</p>"#
                : #"<p id="acr-note" class="hint">This application asks for a passkey.</p>"#
        }
        // Sigil keeps one account per browser: a new sign-in (prompt=login, select_account, max_age,
        // acr) offers the current one.
        if let (_, user) = current {
            notes += #"<p id="current-account" class="hint">You are signed in as <strong>\#(Web.escape(user.email))</strong>. Sign in again to continue.</p>"#
        }
        let authenticator = passkeyOnly ? "" : """
            <section id="authenticator" aria-labelledby="authenticator-title">
              <h2 id="authenticator-title">Or use the Sigil app on your phone</h2>
              <div id="qr-panel">
                <img id="qr-image" alt="Sign-in code for the Sigil authenticator" width="246" height="246" hidden>
                <p class="hint">Scan this code with the Sigil authenticator, then type the number shown here into the app.</p>
                <p><a id="qr-link" class="phone-only" href="#">Open the Sigil authenticator on this phone</a></p>
                <p id="qr-number" class="number" aria-live="polite"></p>
                <button id="qr-refresh" type="button" class="secondary" hidden>Show a new code</button>
              </div>
              <button id="push-button" type="button" class="secondary">Send a request to my phone</button>
              <p id="push-number" class="number" aria-live="polite"></p>
              <p id="auth-status" role="status" aria-live="polite"></p>
            </section>
            """
        return Web.page(title: "Sign in", name: "login", base: base, body: """
            <h1>Sign in to \(Web.escape(tenant.displayName))</h1>
            \(notes)
            <form id="login-form" data-return-to="\(Web.escape(returnTo))">
              <label for="username">Email</label>
              <input id="username" name="username" type="email" autocomplete="username webauthn" autocapitalize="none" spellcheck="false"\
            \(current.map { #" value="\#(Web.escape($0.1.email))""# } ?? "")>
              <button id="passkey-button" type="submit">Sign in with a passkey</button>
            </form>
            <p id="status" role="status" aria-live="polite"></p>
            \(authenticator)
            <p class="hint">Sigil has no passwords. Use the passkey on this device (Face ID, Touch ID, Windows Hello) or a phone nearby.</p>
            """)
    }

    func passkeyOptions(_ request: Request, _ context: SigilRequestContext) async throws -> Response {
        try Web.requireSameOrigin(request, context)
        let tenant = try context.requireTenant()
        let body = try await JSONBody.decode(ReturnToBody.self, from: request, context: context, allowed: ["return_to"])
        let returnTo = Web.safeReturnPath(body.returnTo, base: Web.basePath(context))
        let (transaction, options) = try await services.passkeys.beginAuthentication(tenantID: tenant.id, issuer: context.issuer,
                                                                                     returnTo: returnTo)
        return try Self.optionsResponse(transaction: transaction, options: options)
    }

    func passkeyVerify(_ request: Request, _ context: SigilRequestContext) async throws -> Response {
        try Web.requireSameOrigin(request, context)
        let tenant = try context.requireTenant()
        let body = try await JSONBody.decode(CeremonyBody.self, from: request, context: context, allowed: CeremonyBody.fields)
        let signIn = try await services.passkeys.finishAuthentication(tenantID: tenant.id, issuer: context.issuer,
                                                                     transactionID: body.transaction, response: try body.credential.assertion())
        return try await startSession(user: signIn.user, amr: signIn.amr, acr: signIn.acr, context: context,
                                      redirect: signIn.returnTo ?? Web.basePath(context) + "/account")
    }

    // MARK: /enroll/{token}

    func usableEnrolment(_ context: SigilRequestContext) async throws -> (EnrolmentToken, String) {
        let tenant = try context.requireTenant()
        guard let token = context.parameters.get("token") else { throw Problem.notFound() }
        guard let found = try await services.enrolment.usableLink(token: token, tenantID: tenant.id) else {
            throw Problem(status: .notFound, type: "enrolment-link-invalid", title: "This enrolment link is invalid, used or expired",
                          detail: "ask your administrator for a new link")
        }
        return (found, token)
    }

    func enrolPage(_ request: Request, _ context: SigilRequestContext) async throws -> Response {
        let base = Web.basePath(context)
        let enrolment: EnrolmentToken
        do {
            (enrolment, _) = try await usableEnrolment(context)
        } catch let problem as Problem {
            return Web.page(title: "Link expired", name: "error", base: base, body: """
                <h1>\(Web.escape(problem.title))</h1><p>\(Web.escape(problem.detail ?? ""))</p>
                """, status: problem.status)
        }
        let fields: String
        if let user = try await services.enrolment.invitee(of: enrolment) {
            fields = "<p>Create a passkey for <strong>\(Web.escape(user.email))</strong>.</p>"
        } else {
            fields = """
                <p>You are the first administrator of this Sigil. Tell us who you are, then create a passkey.</p>
                <label for="email">Email</label><input id="email" name="email" type="email" autocomplete="email" required>
                <label for="given_name">Given name</label><input id="given_name" name="given_name" autocomplete="given-name" required>
                <label for="family_name">Family name</label><input id="family_name" name="family_name" autocomplete="family-name" required>
                """
        }
        return Web.page(title: "Enrol", name: "enroll", base: base, body: """
            <h1>Set up your sign-in</h1>
            <form id="enroll-form">
            \(fields)
            <button id="enroll-button" type="submit">Create a passkey</button>
            <button id="enroll-device" type="button" class="secondary">Use the Sigil app on a phone instead</button>
            </form>
            <p id="status" role="status" aria-live="polite"></p>
            <div id="enroll-device-panel" hidden>
              <img id="enroll-device-qr" alt="Enrolment code for the Sigil authenticator" width="270" height="270">
              <p class="hint">Scan this code with the Sigil authenticator on your phone.</p>
              <p><a id="enroll-device-link" href="#">Enrolment link</a></p>
            </div>
            <p id="enroll-device-status" role="status" aria-live="polite"></p>
            """)
    }

    func enrolOptions(_ request: Request, _ context: SigilRequestContext) async throws -> Response {
        try Web.requireSameOrigin(request, context)
        let tenant = try context.requireTenant()
        let (enrolment, token) = try await usableEnrolment(context)
        let body = try await JSONBody.decode(EnrolBody.self, from: request, context: context, allowed: EnrolBody.fields)
        let owner: PasskeyService.NewCredentialOwner
        var existing: [String] = []
        var newUser: NewUser?
        if let userID = enrolment.userID {
            (owner, existing) = try await services.enrolment.invitedPasskeyOwner(of: enrolment, userID: userID)
        } else {
            let (email, given, family) = try await firstAdministrator(body, tenant: tenant)
            owner = .init(userID: services.context.ids.make(.user), email: email, displayName: "\(given) \(family)")
            newUser = NewUser(email: email, givenName: given, familyName: family)
        }
        let (transaction, options) = try await services.passkeys.beginRegistration(
            tenantID: tenant.id, issuer: context.issuer, owner: owner, excludeCredentialIDs: existing,
            purpose: .enrolment(linkHash: tokenHash(token), newUser: newUser))
        return try Self.optionsResponse(transaction: transaction, options: options)
    }

    /// The first administrator's fields from the enrolment page, checked, for an email not yet taken.
    func firstAdministrator(_ body: EnrolBody, tenant: Tenant) async throws -> (email: String, given: String, family: String) {
        let admin = try await services.enrolment.firstAdministrator(tenantID: tenant.id, email: body.email, givenName: body.givenName,
                                                                    familyName: body.familyName)
        return (admin.email, admin.givenName, admin.familyName)
    }

    func enrolVerify(_ request: Request, _ context: SigilRequestContext) async throws -> Response {
        try Web.requireSameOrigin(request, context)
        let tenant = try context.requireTenant()
        let (_, token) = try await usableEnrolment(context)
        let body = try await JSONBody.decode(CeremonyBody.self, from: request, context: context, allowed: CeremonyBody.fields)
        let (user, passkey) = try await services.enrolment.finishPasskeyEnrolment(
            tenantID: tenant.id, issuer: context.issuer, token: token, transactionID: body.transaction,
            response: try body.credential.registration(), name: body.passkeyName)
        let method = PasskeyService.methods(backupEligible: passkey.backupEligible)
        return try await startSession(user: user, amr: method.amr, acr: method.acr, context: context,
                                      redirect: Web.basePath(context) + "/account")
    }

    // MARK: /account

    func accountPage(_ request: Request, _ context: SigilRequestContext) async throws -> Response {
        let base = Web.basePath(context)
        guard let (session, user) = try await currentSession(request, context) else {
            return Web.redirect("\(base)/login?return_to=\(base)/account")
        }
        let overview = try await services.account.overview(user: user)
        let passkeys = overview.passkeys, devices = overview.devices, consents = overview.consents
        let csrf = Web.csrfToken(session: session, masterKey: services.context.masterKey)
        let formatter = ISO8601DateFormatter()
        let rows = passkeys.map { p in
            """
            <li><span class="name">\(Web.escape(p.name))</span> <span class="meta">added \(formatter.string(from: p.createdAt))\
            \(p.lastUsedAt.map { ", last used \(formatter.string(from: $0))" } ?? "")\(p.cloneWarning ? ", <strong>possible copy detected</strong>" : "")</span>
            <form method="post" action="\(Web.escape(base))/account/passkeys/\(Web.escape(p.credentialID))/delete">
            <input type="hidden" name="csrf" value="\(csrf)"><button type="submit" class="secondary">Remove</button></form></li>
            """
        }.joined(separator: "\n")
        let deviceRows = devices.map { d in
            """
            <li><span class="name">\(Web.escape(d.name))</span> <span class="meta">\(Web.escape(d.platform)), key in \(Web.escape(d.keyProtection)), \
            added \(formatter.string(from: d.createdAt))\(d.lastUsedAt.map { ", last used \(formatter.string(from: $0))" } ?? "")\
            \(d.sealedPushToken == nil ? "" : ", notifications on")</span>
            <form method="post" action="\(Web.escape(base))/account/devices/\(Web.escape(d.id))/delete">
            <input type="hidden" name="csrf" value="\(csrf)"><button type="submit" class="secondary">Remove</button></form></li>
            """
        }.joined(separator: "\n")
        let consentRows = consents.map { entry in
            """
            <li><span class="name">\(Web.escape(entry.application?.name ?? "A removed application"))</span> \
            <span class="meta">\(Web.escape(ConsentRequest.lines(scopes: entry.grant.scopes, claims: entry.grant.claims).joined(separator: "; "))), \
            allowed \(formatter.string(from: entry.grant.createdAt))</span>
            <form method="post" action="\(Web.escape(base))/account/consents/\(Web.escape(AuthorizationResponse.formEncode(entry.grant.clientID)))/delete">
            <input type="hidden" name="csrf" value="\(csrf)"><button type="submit" class="secondary">Remove access</button></form></li>
            """
        }.joined(separator: "\n")
        var page = Web.page(title: "Your account", name: "account", base: base, body: """
            <h1>\(Web.escape(user.givenName)) \(Web.escape(user.familyName))</h1>
            <p id="account-email">\(Web.escape(user.email))\(user.isAdmin ? " · administrator" : "")</p>
            <p class="meta">Signed in with \(Web.escape(session.amr.joined(separator: ", "))) at \(formatter.string(from: session.authTime))</p>
            <h2>Passkeys</h2>
            <ul id="passkeys">\(rows)</ul>
            <button id="add-passkey" type="button">Add a passkey</button>
            <p id="status" role="status" aria-live="polite"></p>
            <h2>Phones with the Sigil authenticator</h2>
            <ul id="devices">\(deviceRows)</ul>
            <button id="add-device" type="button">Add a phone</button>
            <div id="device-panel" hidden>
              <img id="device-qr" alt="Enrolment code for the Sigil authenticator" width="270" height="270">
              <p class="hint">Scan this code with the Sigil authenticator on your phone.</p>
              <p><a id="device-link" href="#">Enrolment link</a></p>
            </div>
            <p id="device-status" role="status" aria-live="polite"></p>
            <h2>Applications with access</h2>
            \(consents.isEmpty ? #"<p id="no-consents" class="hint">No application has asked for your approval yet.</p>"# : "")
            <ul id="consents">\(consentRows)</ul>
            <form method="post" action="\(Web.escape(base))/logout"><input type="hidden" name="csrf" value="\(csrf)">
            <button id="sign-out" type="submit" class="secondary">Sign out</button></form>
            """)
        // Signing out may continue as SAML single logout: redirects to service providers after the POST.
        page.headers[.contentSecurityPolicy] = Web.handOffCSP(target: context.issuer)
        return page
    }

    func addPasskeyOptions(_ request: Request, _ context: SigilRequestContext) async throws -> Response {
        try Web.requireSameOrigin(request, context)
        guard let (_, user) = try await currentSession(request, context) else { throw Problem.unauthenticatedUser() }
        _ = try await JSONBody.decode(EmptyBody.self, from: request, context: context, allowed: [])
        let existing = try await services.account.passkeyCredentialIDs(user: user)
        let (transaction, options) = try await services.passkeys.beginRegistration(
            tenantID: user.tenantID, issuer: context.issuer,
            owner: .init(userID: user.id, email: user.email, displayName: "\(user.givenName) \(user.familyName)"),
            excludeCredentialIDs: existing, purpose: .addToAccount(sessionUser: user.id))
        return try Self.optionsResponse(transaction: transaction, options: options)
    }

    func addPasskeyVerify(_ request: Request, _ context: SigilRequestContext) async throws -> Response {
        try Web.requireSameOrigin(request, context)
        guard let (_, user) = try await currentSession(request, context) else { throw Problem.unauthenticatedUser() }
        let body = try await JSONBody.decode(CeremonyBody.self, from: request, context: context, allowed: CeremonyBody.fields)
        try await services.account.finishAddingPasskey(user: user, issuer: context.issuer, transactionID: body.transaction,
                                                       response: try body.credential.registration(), name: body.passkeyName)
        return try JSONResponse.make(["redirect": Web.basePath(context) + "/account"])
    }

    func deletePasskey(_ request: Request, _ context: SigilRequestContext) async throws -> Response {
        try Web.requireSameOrigin(request, context)
        let base = Web.basePath(context)
        guard let (session, user) = try await currentSession(request, context) else { return Web.redirect("\(base)/login") }
        let form = try await Web.form(request)
        try Web.checkCSRF(form["csrf"], session: session, masterKey: services.context.masterKey)
        guard let credentialID = context.parameters.get("id") else { throw Problem.notFound() }
        try await services.account.removePasskey(user: user, credentialID: credentialID)
        return Web.redirect("\(base)/account")
    }

    /// Removes an application's access: the consent and every token the application holds for the user.
    func revokeConsent(_ request: Request, _ context: SigilRequestContext) async throws -> Response {
        try Web.requireSameOrigin(request, context)
        let base = Web.basePath(context)
        guard let (session, user) = try await currentSession(request, context) else { return Web.redirect("\(base)/login") }
        let form = try await Web.form(request)
        try Web.checkCSRF(form["csrf"], session: session, masterKey: services.context.masterKey)
        guard let clientID = context.parameters.get("client_id") else { throw Problem.notFound() }
        try await services.oauth.revokeConsent(tenantID: user.tenantID, userID: user.id, clientID: clientID, by: .user(user.id))
        return Web.redirect("\(base)/account")
    }

    func logout(_ request: Request, _ context: SigilRequestContext) async throws -> Response {
        try Web.requireSameOrigin(request, context)
        let base = Web.basePath(context)
        let tenant = try context.requireTenant()
        if let (session, _) = try await currentSession(request, context) {
            let form = try await Web.form(request)
            try Web.checkCSRF(form["csrf"], session: session, masterKey: services.context.masterKey)
            // Ends the session everywhere: grants, back-channel logout to OIDC clients, and the
            // session's SAML service providers through this browser before landing on /login.
            let outcome = try await services.saml.signOut(session, tenantID: tenant.id, issuer: context.issuer, reason: "sign-out",
                                                          finish: "/login")
            var response = SAMLRoutes(services: services).render(outcome, context)
            response.headers.append(HTTPField(name: .setCookie, value: Web.sessionCookie("", context, tenant: tenant, maxAge: 0)))
            return response
        }
        return Web.redirect("\(base)/login", headers: [.setCookie: Web.sessionCookie("", context, tenant: tenant, maxAge: 0)])
    }

    static func optionsResponse(transaction: LoginTransaction, options: [String: any Sendable]) throws -> Response {
        let object: [String: Any] = ["transaction": transaction.id, "publicKey": options]
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        return Response(status: .ok, headers: [.contentType: "application/json", .cacheControl: "no-store"],
                        body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

// MARK: request bodies

struct EmptyBody: Decodable {}

struct ReturnToBody: Decodable {
    var returnTo: String?
}

struct EnrolBody: Decodable {
    static let fields: Set<String> = ["email", "given_name", "family_name"]
    var email: String?
    var givenName: String?
    var familyName: String?
}

/// `{"transaction": "ltx_…", "name": "optional passkey name", "credential": PublicKeyCredential as JSON}`.
struct CeremonyBody: Decodable {
    static let fields: Set<String> = ["transaction", "credential", "name"]
    var transaction: String
    var name: String?
    var credential: CredentialJSON

    /// The passkey's label as shown on the account page: printable, at most 64 characters.
    var passkeyName: String {
        let cleaned = String((name ?? "").unicodeScalars.filter { !$0.properties.isWhitespace || $0 == " " }
            .filter { $0.properties.generalCategory != .control && $0.properties.generalCategory != .format })
            .trimmingCharacters(in: .whitespaces)
        return cleaned.isEmpty ? "Passkey" : String(cleaned.prefix(64))
    }
}

/// A `PublicKeyCredential` serialised as WebAuthn L3 `toJSON()` does: binary fields base64url.
struct CredentialJSON: Decodable {
    struct ResponseJSON: Decodable {
        var clientDataJson: String
        var attestationObject: String?
        var transports: [String]?
        var authenticatorData: String?
        var signature: String?
        var userHandle: String?

        enum CodingKeys: String, CodingKey {
            case clientDataJson = "clientDataJSON"
            case attestationObject, transports, authenticatorData, signature, userHandle
        }
    }

    var id: String
    var rawId: String
    var type: String
    var response: ResponseJSON

    static func bytes(_ value: String?, _ field: String) throws -> [UInt8] {
        guard let value, let data = Base64URL.decode(value) else {
            throw Problem.invalidType("credential.response.\(field)", "credential.response.\(field) must be base64url")
        }
        return Array(data)
    }

    func checkType() throws -> [UInt8] {
        guard type == "public-key" else { throw Problem.invalidType("credential.type", "credential.type must be public-key") }
        let raw = try Self.bytes(rawId, "rawId")
        guard Base64URL.encode(raw) == id else { throw Problem.invalidType("credential.id", "credential.id must equal rawId") }
        return raw
    }

    func registration() throws -> RegistrationResponse {
        RegistrationResponse(credentialID: try checkType(), clientDataJSON: try Self.bytes(response.clientDataJson, "clientDataJSON"),
                             attestationObject: try Self.bytes(response.attestationObject, "attestationObject"),
                             transports: response.transports ?? [])
    }

    func assertion() throws -> AssertionResponse {
        AssertionResponse(credentialID: try checkType(), clientDataJSON: try Self.bytes(response.clientDataJson, "clientDataJSON"),
                          authenticatorData: try Self.bytes(response.authenticatorData, "authenticatorData"),
                          signature: try Self.bytes(response.signature, "signature"),
                          userHandle: try response.userHandle.map { try Self.bytes($0, "userHandle") })
    }
}

extension Problem {
    static func unauthenticatedUser() -> Problem {
        Problem(status: .unauthorized, type: "not-signed-in", title: "Sign in first")
    }
}
