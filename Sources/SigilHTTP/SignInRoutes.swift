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
    var pages: Pages = .standard

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
        router.post("/account/identity/verify") { request, context in try await self.verifyIdentity(request, context) }
        router.post("/logout") { request, context in try await self.logout(request, context) }
    }

    static func asset(_ text: String, type: String) -> Response {
        Response(status: .ok, headers: [.contentType: type, .cacheControl: "public, max-age=300"], body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    // MARK: sessions

    /// The browser's session after a sign-in: the same user's is re-authenticated in place, another
    /// user's is ended (`replacingSession`).
    func startSession(
        user: User, amr: [String], acr: String, request: Request, context: SigilRequestContext, redirect: String
    ) async throws -> Response {
        let tenant = try context.requireTenant()
        let previous = try await context.browserSession(request, services.sessions)?.0
        let (_, cookie) = try await services.sessions.start(tenantID: tenant.id, userID: user.id, amr: amr, acr: acr, replacing: previous)
        try await Self.endReplaced(previous, by: user.id, services: services, context: context)
        let maxAge = Int(services.sessions.policy.absoluteTimeout)
        return try JSONResponse.make(
            ["redirect": redirect],
            headers: [
                .setCookie: Web.sessionCookie(cookie.value, context, tenant: tenant, maxAge: maxAge), .cacheControl: "no-store",
            ])
    }

    /// A sign-in as another user in a browser that held a session ends that session (its grants and
    /// back-channel logout), so signing out later cannot leave the first account's tokens alive.
    static func endReplaced(_ previous: Session?, by userID: String, services: ServiceSet, context: SigilRequestContext) async throws {
        guard let previous, previous.userID != userID else { return }
        try await services.logout.endSession(previous, issuer: context.issuer, reason: "another account signed in in this browser")
    }

    // MARK: /login

    func loginPage(_ request: Request, _ context: SigilRequestContext) async throws -> Response {
        let base = Web.basePath(context)
        let returnTo = Web.safeReturnPath(request.uri.queryParameters.get("return_to").map { String($0) }, base: base)
        let current = try await context.browserSession(request, services.sessions)
        if current != nil, request.uri.queryParameters.get("prompt") != "login" {
            return Web.redirect(returnTo)
        }
        let tenant = try context.requireTenant()
        // An application asked for a stronger sign-in (acr): offer only the methods that reach it.
        let acr = request.uri.queryParameters.get("acr").map { String($0) }
        let passkeyOnly = acr.map(ACR.needsPasskey) ?? false
        let liveID = acr == ACR.liveID
        // Sigil keeps one account per browser: a new sign-in (prompt=login, select_account, max_age,
        // acr) offers the current one.
        let connections = try await services.upstreams.enabledConnections(tenantID: tenant.id)
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~/")
        let encodedReturn = returnTo.addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
        // The organisation-account form's redirect chain ends at an upstream IdP: Chromium applies
        // form-action to it, so the page allows exactly those sign-in endpoints' origins.
        let upstreamOrigins = Set(
            connections.compactMap { c in WebOrigin.of(c.saml?.ssoURL ?? c.oidc?.authorizationEndpoint ?? "") }.filter { origin in
                // Only plain origins reach the policy (nothing that could end a directive).
                origin.unicodeScalars.allSatisfy { CharacterSet.alphanumerics.contains($0) || ".-:/[]".unicodeScalars.contains($0) }
            }
        ).sorted()
        let policy =
            upstreamOrigins.isEmpty
            ? Web.pageCSP : Web.pageCSP.replacingOccurrences(of: "form-action 'self'", with: "form-action 'self' " + upstreamOrigins.joined(separator: " "))
        return pages.page(
            .login,
            LoginView(
                base: base, tenantName: tenant.displayName, returnTo: returnTo, passkeyOnly: passkeyOnly,
                deviceBound: acr == ACR.phrh, liveID: liveID, currentEmail: current?.1.email,
                upstreams: passkeyOnly || liveID
                    ? []
                    : connections.map {
                        UpstreamButton(id: "upstream-\($0.name)", href: "\(base)/login/upstream/\($0.name)?return_to=\(encodedReturn)", label: $0.displayName)
                    },
                upstreamRouting: !passkeyOnly && !liveID && connections.contains { !$0.policy.emailDomains.isEmpty },
                upstreamNotFound: request.uri.queryParameters.get("upstream") == "none"),
            contentSecurityPolicy: policy)
    }

    func passkeyOptions(_ request: Request, _ context: SigilRequestContext) async throws -> Response {
        try Web.requireSameOrigin(request, context)
        let tenant = try context.requireTenant()
        let body = try await JSONBody.decode(ReturnToBody.self, from: request, context: context, allowed: ["return_to"])
        let returnTo = Web.safeReturnPath(body.returnTo, base: Web.basePath(context))
        let (transaction, options) = try await services.passkeys.beginAuthentication(
            tenantID: tenant.id, issuer: context.issuer,
            returnTo: returnTo)
        return try Self.optionsResponse(transaction: transaction, options: options)
    }

    func passkeyVerify(_ request: Request, _ context: SigilRequestContext) async throws -> Response {
        try Web.requireSameOrigin(request, context)
        let tenant = try context.requireTenant()
        let body = try await JSONBody.decode(CeremonyBody.self, from: request, context: context, allowed: CeremonyBody.fields)
        let signIn = try await services.passkeys.finishAuthentication(
            tenantID: tenant.id, issuer: context.issuer,
            transactionID: body.transaction, response: try body.credential.assertion())
        return try await startSession(
            user: signIn.user, amr: signIn.amr, acr: signIn.acr, request: request, context: context,
            redirect: signIn.returnTo ?? Web.basePath(context) + "/account")
    }

    // MARK: /enroll/{token}

    func usableEnrolment(_ context: SigilRequestContext) async throws -> (EnrolmentToken, String) {
        let tenant = try context.requireTenant()
        guard let token = context.parameters.get("token") else { throw Problem.notFound() }
        guard let found = try await services.enrolment.usableLink(token: token, tenantID: tenant.id) else {
            throw Problem(
                status: .notFound, type: "enrolment-link-invalid", title: "This enrolment link is invalid, used or expired",
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
            return pages.page(
                .error,
                ErrorView(
                    base: base, title: "Link expired", heading: problem.title, message: problem.detail ?? "",
                    oauthCode: nil, askAdministrator: false), status: problem.status)
        }
        let invitee = try await services.enrolment.invitee(of: enrolment)
        return pages.page(.enrol, EnrolView(base: base, inviteeEmail: invitee?.email))
    }

    func enrolOptions(_ request: Request, _ context: SigilRequestContext) async throws -> Response {
        try Web.requireSameOrigin(request, context)
        let (enrolment, token) = try await usableEnrolment(context)
        let body = try await JSONBody.decode(EnrolBody.self, from: request, context: context, allowed: EnrolBody.fields)
        let (transaction, options) = try await services.enrolment.beginPasskeyEnrolment(
            link: enrolment, token: token, email: body.email, givenName: body.givenName, familyName: body.familyName, issuer: context.issuer)
        return try Self.optionsResponse(transaction: transaction, options: options)
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
        return try await startSession(
            user: user, amr: method.amr, acr: method.acr, request: request, context: context,
            redirect: Web.basePath(context) + "/account")
    }

    // MARK: /account

    func accountPage(_ request: Request, _ context: SigilRequestContext) async throws -> Response {
        let base = Web.basePath(context)
        guard let (session, user) = try await context.browserSession(request, services.sessions) else {
            return Web.redirect("\(base)/login?return_to=\(base)/account")
        }
        let overview = try await services.account.overview(user: user)
        let identity = try await services.idv.latestIdentity(tenantID: user.tenantID, userID: user.id)
        let passkeys = overview.passkeys, devices = overview.devices, consents = overview.consents
        let csrf = Web.csrfToken(session: session, masterKey: services.context.masterKey)
        let formatter = ISO8601DateFormatter()
        let view = AccountView(
            base: base, csrf: csrf, givenName: user.givenName, familyName: user.familyName, email: user.email, isAdmin: user.isAdmin,
            methods: session.amr.joined(separator: ", "), authTime: formatter.string(from: session.authTime),
            passkeys: passkeys.map { p in
                .init(
                    name: p.name, credentialID: p.credentialID, added: formatter.string(from: p.createdAt),
                    lastUsed: p.lastUsedAt.map(formatter.string(from:)), cloneWarning: p.cloneWarning)
            },
            devices: devices.map { d in
                .init(
                    name: d.name, id: d.id, platform: d.platform, keyProtection: d.keyProtection, added: formatter.string(from: d.createdAt),
                    lastUsed: d.lastUsedAt.map(formatter.string(from:)), notifications: d.sealedPushToken != nil)
            },
            identityStatus: identity.map {
                "\($0.status == .verified ? "Verified" : "Not verified") on \(formatter.string(from: $0.time)) (\($0.assuranceLevel))"
            },
            consents: consents.map { entry in
                .init(
                    name: entry.application?.name ?? "A removed application",
                    clientIDSegment: AuthorizationResponse.formEncode(entry.grant.clientID),
                    access: ConsentRequest.lines(scopes: entry.grant.scopes, claims: entry.grant.claims).joined(separator: "; "),
                    allowed: formatter.string(from: entry.grant.createdAt))
            })
        // Signing out may continue as SAML single logout: redirects to service providers after the POST.
        return pages.page(.account, view, contentSecurityPolicy: Web.handOffCSP(target: context.issuer))
    }

    func addPasskeyOptions(_ request: Request, _ context: SigilRequestContext) async throws -> Response {
        try Web.requireSameOrigin(request, context)
        guard let (_, user) = try await context.browserSession(request, services.sessions) else { throw Problem.unauthenticatedUser() }
        _ = try await JSONBody.decode(EmptyBody.self, from: request, context: context, allowed: [])
        let (transaction, options) = try await services.account.beginAddingPasskey(user: user, issuer: context.issuer)
        return try Self.optionsResponse(transaction: transaction, options: options)
    }

    func addPasskeyVerify(_ request: Request, _ context: SigilRequestContext) async throws -> Response {
        try Web.requireSameOrigin(request, context)
        guard let (_, user) = try await context.browserSession(request, services.sessions) else { throw Problem.unauthenticatedUser() }
        let body = try await JSONBody.decode(CeremonyBody.self, from: request, context: context, allowed: CeremonyBody.fields)
        try await services.account.finishAddingPasskey(
            user: user, issuer: context.issuer, transactionID: body.transaction,
            response: try body.credential.registration(), name: body.passkeyName)
        return try JSONResponse.make(["redirect": Web.basePath(context) + "/account"])
    }

    /// An account page form's POST: our own origin, a signed-in session, its CSRF token. Nil when
    /// signed out (the caller sends the browser to sign in).
    func accountForm(_ request: Request, _ context: SigilRequestContext) async throws -> User? {
        try Web.requireSameOrigin(request, context)
        guard let (session, user) = try await context.browserSession(request, services.sessions) else { return nil }
        let form = try await Self.form(request)
        try Web.checkCSRF(form["csrf"], session: session, masterKey: services.context.masterKey)
        return user
    }

    func deletePasskey(_ request: Request, _ context: SigilRequestContext) async throws -> Response {
        let base = Web.basePath(context)
        guard let user = try await accountForm(request, context) else { return Web.redirect("\(base)/login") }
        guard let credentialID = context.parameters.get("id") else { throw Problem.notFound() }
        try await services.account.removePasskey(user: user, credentialID: credentialID)
        return Web.redirect("\(base)/account")
    }

    /// The account page's "Verify my identity": an IDV session about this user, back to /account after.
    func verifyIdentity(_ request: Request, _ context: SigilRequestContext) async throws -> Response {
        guard let user = try await accountForm(request, context) else { return Web.redirect("\(Web.basePath(context))/login") }
        let subject = try await services.idv.userSubject(tenantID: user.tenantID, userID: user.id)
        let started = try await services.idv.start(
            tenantID: user.tenantID, origin: .account, expected: ["given_name": user.givenName, "family_name": user.familyName],
            subjectID: subject.id, by: .user(user.id))
        return Web.redirect(IDVRoutes.path(context, started.id), headers: [.setCookie: IDVRoutes.cookie(started.secret, context, sid: started.id)])
    }

    /// Removes an application's access: the consent and every token the application holds for the user.
    func revokeConsent(_ request: Request, _ context: SigilRequestContext) async throws -> Response {
        let base = Web.basePath(context)
        guard let user = try await accountForm(request, context) else { return Web.redirect("\(base)/login") }
        guard let clientID = context.parameters.get("client_id") else { throw Problem.notFound() }
        try await services.oauth.revokeConsent(tenantID: user.tenantID, userID: user.id, clientID: clientID, by: .user(user.id))
        return Web.redirect("\(base)/account")
    }

    func logout(_ request: Request, _ context: SigilRequestContext) async throws -> Response {
        try Web.requireSameOrigin(request, context)
        let base = Web.basePath(context)
        let tenant = try context.requireTenant()
        if let (session, _) = try await context.browserSession(request, services.sessions) {
            let form = try await Self.form(request)
            try Web.checkCSRF(form["csrf"], session: session, masterKey: services.context.masterKey)
            // Ends the session everywhere: grants, back-channel logout to OIDC clients, and the
            // session's SAML service providers through this browser before landing on /login.
            let outcome = try await services.upstreams.signOut(
                session, tenantID: tenant.id, issuer: context.issuer, reason: "sign-out",
                finish: "/login")
            var response = SAMLRoutes(services: services, pages: pages).render(outcome, context)
            response.headers.append(HTTPField(name: .setCookie, value: Web.sessionCookie("", context, tenant: tenant, maxAge: 0)))
            return response
        }
        return Web.redirect("\(base)/login", headers: [.setCookie: Web.sessionCookie("", context, tenant: tenant, maxAge: 0)])
    }

    /// A hosted page's own form (account, sign-out): problem+json when it is not a valid form.
    static func form(_ request: Request) async throws -> [String: String] {
        do {
            return try await URLEncodedForm.read(request)
        } catch {
            throw error.problem
        }
    }

    static func optionsResponse(transaction: LoginTransaction, options: [String: any Sendable]) throws -> Response {
        let object: [String: Any] = ["transaction": transaction.id, "publicKey": options]
        let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys, .withoutEscapingSlashes])
        return Response(
            status: .ok, headers: [.contentType: "application/json", .cacheControl: "no-store"],
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
        let cleaned = String(
            (name ?? "").unicodeScalars.filter { !$0.properties.isWhitespace || $0 == " " }
                .filter { $0.properties.generalCategory != .control && $0.properties.generalCategory != .format }
        )
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
        RegistrationResponse(
            credentialID: try checkType(), clientDataJSON: try Self.bytes(response.clientDataJson, "clientDataJSON"),
            attestationObject: try Self.bytes(response.attestationObject, "attestationObject"),
            transports: response.transports ?? [])
    }

    func assertion() throws -> AssertionResponse {
        AssertionResponse(
            credentialID: try checkType(), clientDataJSON: try Self.bytes(response.clientDataJson, "clientDataJSON"),
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
