import Foundation
import HTTPTypes
import Hummingbird
import SigilCore
import SigilFlows
import SigilIDV
import SigilJOSE
import SigilOAuth
import SigilQR
import SigilServices
import SigilStore

/// Identity verification's hosted capture (docs/idv.md): the page at `/idv/{id}`, its JSON calls
/// (evidence, liveness challenge, submit, cancel, status), the desktop-to-phone hand-off, and
/// `/idv/{id}/continue`, which answers the session's origin once (an OIDC client's redirect URI).
/// The browser proves it may use a session with the `sigil_idv` cookie (scoped to the session's
/// path); JSON calls also carry `X-Sigil-CSRF` (a MAC of the cookie) from our own origin.
struct IDVRoutes {
    let services: ServiceSet
    var limiter: RateLimiter = RateLimiter()
    var pages: Pages = .standard
    var idv: IDVService { services.idv }

    static let uploadsPerAddress = RateLimiter.Rule(capacity: 120, refillPerSecond: 1)

    func register(on router: Router<SigilRequestContext>) {
        router.get("/assets/idv.js") { _, _ in
            Response(
                status: .ok, headers: [.contentType: "text/javascript; charset=utf-8", .cacheControl: "public, max-age=300"],
                body: .init(byteBuffer: ByteBuffer(string: IDVAssets.script)))
        }
        router.get("/idv/:sid") { request, context in try await self.page(request, context) }
        router.get("/idv/:sid/handoff") { request, context in try await self.handoff(request, context) }
        router.get("/idv/:sid/open") { request, context in try await self.open(request, context) }
        router.get("/idv/:sid/status") { request, context in
            try await self.json(request, context, post: false) { s, secret in try await self.status(s, secret, context) }
        }
        router.post("/idv/:sid/evidence/:kind") { request, context in
            try await self.json(request, context) { s, secret in try await self.evidence(request, context, s, secret) }
        }
        router.post("/idv/:sid/liveness") { request, context in
            try await self.json(request, context) { s, secret in try await self.liveness(context, s, secret) }
        }
        router.post("/idv/:sid/submit") { request, context in
            try await self.json(request, context) { s, secret in try await self.submit(request, context, s, secret) }
        }
        router.post("/idv/:sid/cancel") { request, context in
            try await self.json(request, context) { s, secret in
                let tenantID = try context.requireTenant().id
                let onPhone = try await idv.status(tenantID: tenantID, id: s, secret: secret).onPhone
                try await idv.cancel(tenantID: tenantID, id: s, secret: secret)
                return ["status": "cancelled", "next": onPhone ? .null : .string(Self.path(context, s, "/continue"))]
            }
        }
        router.get("/idv/:sid/continue") { request, context in try await self.continueToOrigin(request, context) }
    }

    // MARK: paths, cookie, CSRF

    static func path(_ context: SigilRequestContext, _ sid: String, _ tail: String = "") -> String {
        Web.basePath(context) + "/idv/" + sid + tail
    }

    static func cookieName(_ context: SigilRequestContext) -> String { Web.isSecure(context) ? "__Secure-sigil_idv" : "sigil_idv" }

    static func cookie(_ secret: String, _ context: SigilRequestContext, sid: String) -> String {
        Web.linkCookie(cookieName(context), secret, path: path(context, sid), maxAge: 7200, context)
    }

    func csrf(_ sid: String, secret: String) -> String {
        Base64URL.encode(services.context.masterKey.authenticationCode(Array((sid + "|" + secret).utf8), purpose: "idv-csrf"))
    }

    /// The `:sid` path parameter, when it is shaped like an IDV session id (else 404). The app's routes use it too.
    static func sid(_ context: SigilRequestContext) throws -> String {
        guard let sid = context.parameters.get("sid"), sid.hasPrefix("idv_"), sid.utf8.count < 64,
            sid.utf8.allSatisfy({ ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x7A) || $0 == 0x5F })
        else { throw Problem.notFound() }
        return sid
    }

    func sid(_ context: SigilRequestContext) throws -> String { try Self.sid(context) }

    /// The HTTP status of a session's refusal, for the page's JSON calls and the app's signed ones alike.
    static func status(of refused: IDVService.Refused) -> HTTPResponse.Status {
        switch refused.code {
        case "unknown_session", "csrf", "not_this_device": .forbidden
        case "session_expired", "session_finished": .gone
        case "evidence_too_large": .contentTooLarge
        case "handoff_used": .conflict
        default: .badRequest
        }
    }

    /// A JSON call on a session: same origin (POST), cookie, CSRF header; refusals as `{"error", "message"}`.
    func json(
        _ request: Request, _ context: SigilRequestContext, post: Bool = true,
        _ body: (String, String?) async throws -> [String: JSONValue]
    ) async throws -> Response {
        let sid = try sid(context)
        let secret = Web.cookie(Self.cookieName(context), in: request)
        do {
            if post {
                try Web.requireSameOrigin(request, context)
                guard let secret, let presented = request.headers[HTTPField.Name("X-Sigil-CSRF")!],
                    constantTimeEquals(Array(presented.utf8), Array(csrf(sid, secret: secret).utf8))
                else { throw IDVService.Refused("csrf", "This page is out of date: reload it.") }
            }
            return OAuthRoutes.json(try await body(sid, secret))
        } catch let refused as IDVService.Refused {
            var out: [String: JSONValue] = ["error": .string(refused.code), "message": .string(refused.message)]
            if !refused.missing.isEmpty { out["missing"] = .strings(refused.missing) }
            return OAuthRoutes.json(out, status: Self.status(of: refused))
        }
    }

    // MARK: the page

    func page(_ request: Request, _ context: SigilRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        let sid = try sid(context)
        let base = Web.basePath(context)
        let secret = Web.cookie(Self.cookieName(context), in: request)
        let status: IDVService.Status
        do {
            status = try await idv.status(tenantID: tenant.id, id: sid, secret: secret)
            if status.stage == "expired" { throw IDVService.expiredRefusal }
        } catch let refused as IDVService.Refused {
            return refusedPage(refused, base: base)
        }
        let settings = try await idv.settings(tenantID: tenant.id)
        guard let secret else { return refusedPage(IDVService.Refused("unknown_session", ""), base: base) }
        // The phone's link: a fresh one-time secret per page view would outdate the QR shown;
        // the session's own hand-off secret is shown while it is unused (it was made at start).
        let handoff = status.onPhone || !status.handoffOpen ? nil : context.issuer + "/idv/" + sid + "/handoff?k=" + idv.handoffSecret(sid)
        let qr = try handoff.map {
            "data:image/svg+xml;base64,"
                + Data(try QRCode.encode($0, errorCorrection: .medium).svg(moduleSize: 4, quietZone: 4, title: "Continue on your phone").utf8)
                .base64EncodedString()
        }
        let policy = IDVService.policy(settings.policy, narrowedBy: status.connector)
        let view = IDVCaptureView(
            base: base, sid: sid, csrf: csrf(sid, secret: secret), stage: status.stage, decided: status.decision?.rawValue,
            handoffURL: handoff, handoffSVG: qr, requireLiveness: policy.requireLiveness,
            requireFaceMatch: policy.requireFaceMatch, documentTypes: policy.documentTypes.sorted(), onPhone: status.onPhone)
        var response = pages.page(.idv, view)
        response.headers[HTTPField.Name("Permissions-Policy")!] = "camera=(self)"
        return response
    }

    func refusedPage(_ refused: IDVService.Refused, base: String) -> Response {
        pages.page(
            .error,
            ErrorView(
                base: base, title: "Identity verification", heading: "This verification cannot continue",
                message: refused.message.isEmpty ? "Open the link from the application again." : refused.message, oauthCode: nil,
                askAdministrator: false),
            status: refused.code == "unknown_session" ? .forbidden : .gone)
    }

    func handoff(_ request: Request, _ context: SigilRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        let sid = try sid(context)
        let key = request.uri.queryParameters.get("k").map { String($0) } ?? ""
        do {
            let secret = try await idv.useHandoff(tenantID: tenant.id, id: sid, handoffSecret: key) {
                Base64URL.encode(services.context.random.bytes(32))
            }
            return Web.redirect(Self.path(context, sid), headers: [.setCookie: Self.cookie(secret, context, sid: sid)])
        } catch let refused as IDVService.Refused {
            return refusedPage(refused, base: Web.basePath(context))
        }
    }

    /// An admin-started session's link (`session_url`): the session's own secret in the query,
    /// moved into the cookie and out of the address bar.
    func open(_ request: Request, _ context: SigilRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        let sid = try sid(context)
        let key = request.uri.queryParameters.get("k").map { String($0) } ?? ""
        do {
            // An expired link says so at once instead of opening a capture page that refuses every upload.
            if try await idv.status(tenantID: tenant.id, id: sid, secret: key).stage == "expired" { throw IDVService.expiredRefusal }
        } catch let refused as IDVService.Refused {
            return refusedPage(refused, base: Web.basePath(context))
        }
        return Web.redirect(Self.path(context, sid), headers: [.setCookie: Self.cookie(key, context, sid: sid), .referrerPolicy: "no-referrer"])
    }

    // MARK: JSON calls

    func status(_ sid: String, _ secret: String?, _ context: SigilRequestContext) async throws -> [String: JSONValue] {
        let s = try await idv.status(tenantID: try context.requireTenant().id, id: sid, secret: secret)
        return [
            "state": .string(s.stage), "status": s.decision.map { .string($0.rawValue) } ?? .null, "evidence": .strings(s.evidence),
            "next": (s.stage == "decided" || s.stage == "cancelled") && !s.onPhone ? .string(Self.path(context, sid, "/continue")) : .null,
        ]
    }

    func evidence(_ request: Request, _ context: SigilRequestContext, _ sid: String, _ secret: String?) async throws -> [String: JSONValue] {
        let tenant = try context.requireTenant()
        if limiter.take("idv-upload|" + context.clientAddress, rule: Self.uploadsPerAddress) != nil {
            throw IDVService.Refused("too_many_uploads", "Too many uploads from this address: wait a minute and try again.")
        }
        let kind = context.parameters.get("kind") ?? ""
        let bytes: [UInt8]
        do {
            bytes = Array(try await request.body.collect(upTo: IDVService.maximumEvidenceBytes).readableBytesView)
        } catch {
            throw IDVService.Refused("evidence_too_large", "The upload is larger than 10 MiB.")
        }
        let have = try await idv.addEvidence(tenantID: tenant.id, id: sid, secret: secret, kind: kind, bytes: bytes)
        let advice = await idv.advice(kind: kind, bytes: bytes)
        return ["stored": .string(kind), "evidence": .strings(have), "advice": .strings(advice)]
    }

    func liveness(_ context: SigilRequestContext, _ sid: String, _ secret: String?) async throws -> [String: JSONValue] {
        let c = try await idv.livenessChallenge(tenantID: try context.requireTenant().id, id: sid, secret: secret)
        return [
            "challenge": .string(c.id), "steps": .strings(c.steps.map(\.rawValue)), "step_seconds": .double(c.stepSeconds),
            "deadline": .int(Int64(c.deadline.timeIntervalSince1970)),
        ]
    }

    func submit(_ request: Request, _ context: SigilRequestContext, _ sid: String, _ secret: String?) async throws -> [String: JSONValue] {
        let body = (try? await request.body.collect(upTo: 4096)).map { Array($0.readableBytesView) } ?? []
        let object = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any]
        let documentType = object?["document_type"] as? String ?? ""
        let tenantID = try context.requireTenant().id
        let decision = try await idv.submit(tenantID: tenantID, id: sid, secret: secret, documentType: documentType)
        let onPhone = try await idv.status(tenantID: tenantID, id: sid, secret: secret).onPhone
        return ["status": .string(decision.rawValue), "next": onPhone ? .null : .string(Self.path(context, sid, "/continue"))]
    }

    // MARK: answering the origin

    func continueToOrigin(_ request: Request, _ context: SigilRequestContext) async throws -> Response {
        let tenant = try context.requireTenant()
        let sid = try sid(context)
        let base = Web.basePath(context)
        let secret = Web.cookie(Self.cookieName(context), in: request)
        let answered: (session: IDVSession, identity: VerifiedIdentity?, oidcRequest: String?)
        do {
            answered = try await idv.answer(tenantID: tenant.id, id: sid, secret: secret)
        } catch let refused as IDVService.Refused {
            return refusedPage(refused, base: base)
        }
        guard let encoded = answered.oidcRequest, let subject = answered.session.subjectID else {
            if case .account = answered.session.origin { return Web.redirect(base + "/account") }
            // A connector's session goes back to the flow that started it (an origin its key allows),
            // with the session id to read the result by; never the result itself.
            if let back = answered.session.connector?.returnURL, var url = URLComponents(string: back) {
                url.queryItems = (url.queryItems ?? []) + [URLQueryItem(name: "session_id", value: sid)]
                if let target = url.string { return Web.redirect(target, headers: [.referrerPolicy: "no-referrer"]) }
            }
            return pages.page(.continueLink, ContinueLinkView(base: base, url: base + "/", heading: "Verification finished"))
        }
        let delivery: AuthorizationResponse.Delivery
        do {
            delivery = try await services.oauth.answerVerification(
                tenantID: tenant.id, issuer: context.issuer, sessionID: sid, encodedRequest: encoded, subjectID: subject, identity: answered.identity)
        } catch let error as OAuthError {
            return pages.page(
                .error,
                ErrorView(
                    base: base, title: "Identity verification", heading: "This verification cannot continue", message: error.description,
                    oauthCode: error.code.rawValue, askAdministrator: true), status: .badRequest)
        }
        switch delivery {
        case .redirect(let url):
            return Web.redirect(url)
        case .formPost(let form):
            let view = FormPostView(action: form.action, fields: form.fields.map { HiddenField(name: $0.name, value: $0.value) })
            return Pages.html(pages.render(.formPost, view), contentSecurityPolicy: view.contentSecurityPolicy)
        }
    }
}

struct IDVCaptureView: PageView {
    let base: String
    let sid: String
    let csrf: String
    let stage: String
    let decided: String?
    let handoffURL: String?
    /// The QR code as a `data:` URL (the page's CSP allows `img-src data:`).
    let handoffSVG: String?
    let requireLiveness: Bool
    let requireFaceMatch: Bool
    let onPhone: Bool
    /// Stored, not computed: the templates read stored properties only.
    let documentOptions: [DocumentOption]

    struct DocumentOption {
        let value: String
        let label: String
    }

    init(
        base: String, sid: String, csrf: String, stage: String, decided: String?, handoffURL: String?, handoffSVG: String?, requireLiveness: Bool,
        requireFaceMatch: Bool, documentTypes: [String], onPhone: Bool
    ) {
        self.base = base; self.sid = sid; self.csrf = csrf; self.stage = stage; self.decided = decided; self.handoffURL = handoffURL
        self.handoffSVG = handoffSVG; self.requireLiveness = requireLiveness; self.requireFaceMatch = requireFaceMatch; self.onPhone = onPhone
        let names = ["passport": "Passport", "idcard": "Identity card", "driving_permit": "Driving licence", "residence_permit": "Residence permit"]
        // Passports first: the commonest document, and the one with a chip.
        let order = ["passport", "idcard", "driving_permit", "residence_permit"]
        documentOptions = order.filter(documentTypes.contains).map { DocumentOption(value: $0, label: names[$0] ?? $0) }
    }
}
