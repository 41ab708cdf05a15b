import Foundation
import SigilIDV
import Testing

@testable import SigilFlows

/// The stored envelope `{"v":1,"flow":…,"data":…}`, and `FlowState.legacy` on rows exactly as
/// the old services wrote them (25dd03e: AuthenticatorService, AuthenticatorEnrolment,
/// PasskeyService with SignInRoutes, SAMLIdentityProviderService and its +Logout, and CIBA).
@Suite struct FlowStateTests {
    static let newUser = NewUser(email: "ada@example.com", givenName: "Ada", familyName: "Lovelace")

    static var fullQR: AuthenticatorSignIn {
        var s = AuthenticatorSignIn(
            channel: .qr, origin: "https://id.example.com", browserHash: "bh", returnTo: "/t/acme/account",
            issuer: "https://id.example.com/t/acme", browser: "Safari on macOS", application: "Acme account",
            clientIP: "2001:db8::7", sealedSecret: "sealed")
        s.claimedAt = t0 + 5
        s.userVerification = "face"
        s.signature = "MEUCIQ"
        s.endReason = .wrongNumber
        return s
    }

    static var enrolmentFromLink: DeviceEnrolment {
        var e = DeviceEnrolment(
            startedFrom: .link(tokenHash: "lh", returnTo: "/t/acme/admin", newUser: newUser), origin: "https://id.example.com",
            browserHash: "bh", issuer: "https://id.example.com/t/acme", sealedSecret: "sealed")
        e.previewedAt = t0 + 10
        e.deviceName = "Pixel 9"
        e.signedInAt = t0 + 40.5
        return e
    }

    static var chain: LogoutChain {
        var c = LogoutChain(
            sessionID: "ses_1", initiator: .init(app: "app_mail", requestID: "_lr1", relayState: nil), finish: "/t/acme/login",
            queue: [LogoutParticipant(app: "app_wiki", nameID: "alice@example.com", format: nil, sessionIndex: "_s1")])
        c.confirmed = 2
        c.failed = 1
        c.current = .init(app: "app_crm", requestID: "_hop", deadline: t0 + 30)
        return c
    }

    /// One value of every case (and every payload shape), with the kind each must report.
    static let cases: [(FlowState, FlowKind)] = [
        (.passkeyCeremony(.init(purpose: .signIn(returnTo: "/t/acme/account"))), .passkeyAuthentication),
        (.passkeyCeremony(.init(purpose: .enrolment(linkHash: "lh", newUser: nil))), .passkeyRegistration),
        (.passkeyCeremony(.init(purpose: .enrolment(linkHash: "lh", newUser: newUser))), .passkeyRegistration),
        (.passkeyCeremony(.init(purpose: .addToAccount(sessionUser: "usr_1"))), .passkeyRegistration),
        (.authenticatorSignIn(fullQR), .authenticatorQR),
        (
            .authenticatorSignIn(
                .init(
                    channel: .push, origin: "https://id.example.com", browserHash: "bh", returnTo: "", issuer: "https://id.example.com",
                    browser: "Unknown browser", application: "Payroll")), .authenticatorPush
        ),
        (
            .deviceEnrolment(.init(startedFrom: .account(sessionUser: "usr_1"), origin: "o", browserHash: "bh", issuer: "i", sealedSecret: "s")),
            .deviceEnrolment
        ),
        (.deviceEnrolment(enrolmentFromLink), .deviceEnrolment),
        (
            .samlAuthnRequest(
                .init(
                    applicationID: "app_1", spEntityID: "https://sp.example.org", requestID: "_r", acsURL: "https://sp.example.org/acs",
                    nameIDFormat: "", relayState: nil, forceAuthn: false, signed: false)), .samlAuthnRequest
        ),
        (
            .samlAuthnRequest(
                .init(
                    applicationID: "app_1", spEntityID: "https://sp.example.org", requestID: "_r", acsURL: "https://sp.example.org/acs",
                    nameIDFormat: "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent", relayState: "rs", forceAuthn: true,
                    signed: true)), .samlAuthnRequest
        ),
        (.samlLogout(.replayMarker(spEntityID: "https://sp.example.org", requestID: "_lr")), .samlLogout),
        (
            .samlLogout(
                .awaitingSameSiteStep(
                    .init(
                        app: "app_1", requestID: "_lr", nameID: "n", nameIDFormat: nil, sessionIndexes: [],
                        relayState: nil, binding: "post"))), .samlLogout
        ),
        (.samlLogout(.propagation(chain)), .samlLogout),
        (.samlLogout(.propagation(.init(sessionID: "ses_2", initiator: nil, finish: nil, queue: []))), .samlLogout),
    ]

    // MARK: the envelope

    @Test func everyCaseRoundTrips() throws {
        for (state, kind) in Self.cases {
            let data = try JSONEncoder().encode(state)
            let decoded = try JSONDecoder().decode(FlowState.self, from: data)
            #expect(decoded == state, "\(String(decoding: data, as: UTF8.self))")
            #expect(decoded.kind == kind)
        }
    }

    @Test func theEnvelopeIsVersionedAndNamed() throws {
        let names: [FlowKind: String] = [
            .passkeyAuthentication: "passkey_ceremony", .passkeyRegistration: "passkey_ceremony", .authenticatorQR: "authenticator_sign_in",
            .authenticatorPush: "authenticator_sign_in", .deviceEnrolment: "device_enrolment", .samlAuthnRequest: "saml_authn_request",
            .samlLogout: "saml_logout",
        ]
        #expect(FlowState.version == 1)
        for (state, kind) in Self.cases {
            let object = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(state)) as? [String: Any])
            #expect(Set(object.keys) == ["v", "flow", "data"])
            #expect(object["v"] as? Int == 1)
            #expect(object["flow"] as? String == names[kind])
            #expect(object["data"] is [String: Any])
        }
    }

    @Test func aStoredDocumentDecodes() throws {
        let json = #"""
            {"v":1,"flow":"saml_authn_request","data":{"applicationID":"app_1","spEntityID":"https://sp.example.org","requestID":"_r",
             "acsURL":"https://sp.example.org/acs","nameIDFormat":"","forceAuthn":true,"signed":false}}
            """#
        let decoded = try JSONDecoder().decode(FlowState.self, from: Data(json.utf8))
        #expect(
            decoded
                == .samlAuthnRequest(
                    .init(
                        applicationID: "app_1", spEntityID: "https://sp.example.org", requestID: "_r",
                        acsURL: "https://sp.example.org/acs", nameIDFormat: "", relayState: nil, forceAuthn: true,
                        signed: false)))
    }

    @Test(arguments: [0, 2, 99])
    func anUnknownVersionIsRefused(_ version: Int) throws {
        let valid = try JSONEncoder().encode(FlowState.samlLogout(.replayMarker(spEntityID: "sp", requestID: "_r")))
        var object = try #require(try JSONSerialization.jsonObject(with: valid) as? [String: Any])
        object["v"] = version
        let data = try JSONSerialization.data(withJSONObject: object)
        let error = #expect(throws: FlowState.UnsupportedVersion.self) { try JSONDecoder().decode(FlowState.self, from: data) }
        #expect(error?.version == version)
    }

    @Test func anUnknownFlowOrAMissingVersionIsRefused() {
        for json in [
            #"{"v":1,"flow":"password_reset","data":{}}"#, #"{"flow":"saml_logout","data":{"replayMarker":{"spEntityID":"s","requestID":"r"}}}"#,
            #"{"v":1,"flow":"saml_authn_request","data":{"applicationID":"app_1"}}"#,
        ] {
            #expect(throws: DecodingError.self, "\(json)") { try JSONDecoder().decode(FlowState.self, from: Data(json.utf8)) }
        }
    }

    // MARK: legacy rows: passkeys

    /// SignInRoutes.passkeyOptions: `["return_to": returnTo]` through beginAuthentication.
    @Test func legacyPasskeyAuthentication() throws {
        let row = ["return_to": "/t/acme/oauth2/authorize?request_uri=urn%3Aietf%3Aparams%3Aoauth%3Arequest_uri%3Ax"]
        #expect(
            try FlowState.legacy(kind: .passkeyAuthentication, context: row)
                == .passkeyCeremony(.init(purpose: .signIn(returnTo: "/t/acme/oauth2/authorize?request_uri=urn%3Aietf%3Aparams%3Aoauth%3Arequest_uri%3Ax"))))
        #expect(try FlowState.legacy(kind: .passkeyAuthentication, context: [:]) == .passkeyCeremony(.init(purpose: .signIn(returnTo: "/account"))))
    }

    /// SignInRoutes.addPasskeyOptions: `["session_user": user.id]`, plus `user_id` from
    /// beginRegistration (the row's userID column carries it too).
    @Test func legacyPasskeyRegistrationFromTheAccountPage() throws {
        let row = ["session_user": "usr_01J8", "user_id": "usr_01J8"]
        let state = try FlowState.legacy(kind: .passkeyRegistration, context: row)
        #expect(state == .passkeyCeremony(.init(purpose: .addToAccount(sessionUser: "usr_01J8"))))
        #expect(state.kind == .passkeyRegistration)
    }

    /// SignInRoutes.enrolOptions: an invitation for an existing user, and the first administrator
    /// (who does not exist yet: email and names travel with the ceremony).
    @Test func legacyPasskeyRegistrationFromAnEnrolmentLink() throws {
        let invitation = ["enrolment_token_hash": "q0dV2h", "user_id": "usr_01J8"]
        #expect(
            try FlowState.legacy(kind: .passkeyRegistration, context: invitation)
                == .passkeyCeremony(.init(purpose: .enrolment(linkHash: "q0dV2h", newUser: nil))))
        let firstAdmin = [
            "enrolment_token_hash": "q0dV2h", "email": "ada@example.com", "given_name": "Ada", "family_name": "Lovelace",
            "user_id": "usr_01J9",
        ]
        #expect(
            try FlowState.legacy(kind: .passkeyRegistration, context: firstAdmin)
                == .passkeyCeremony(.init(purpose: .enrolment(linkHash: "q0dV2h", newUser: Self.newUser))))
    }

    @Test func legacyPasskeyRegistrationWithoutAnOwnerIsRefused() {
        let error = #expect(throws: FlowState.LegacyUnreadable.self) {
            try FlowState.legacy(kind: .passkeyRegistration, context: ["user_id": "usr_01J8"])
        }
        #expect(error?.kind == .passkeyRegistration)
        #expect(error?.missing == "enrolment_token_hash")
    }

    // MARK: legacy rows: authenticator sign-in

    /// AuthenticatorService.create for a QR code, then `claim`, then `answer` (approve).
    static let qrRow: [String: String] = [
        "origin": "https://id.example.com", "browser_hash": "Yk3n", "return_to": "/t/acme/account", "issuer": "https://id.example.com/t/acme",
        "browser": "Firefox on Linux", "application": "Acme account", "client_ip": "192.0.2.7", "sealed_secret": "v1.AAAA.BBBB",
    ]

    @Test func legacyQRSignInAsCreated() throws {
        let expected = AuthenticatorSignIn(
            channel: .qr, origin: "https://id.example.com", browserHash: "Yk3n", returnTo: "/t/acme/account",
            issuer: "https://id.example.com/t/acme", browser: "Firefox on Linux", application: "Acme account",
            clientIP: "192.0.2.7", sealedSecret: "v1.AAAA.BBBB")
        #expect(try FlowState.legacy(kind: .authenticatorQR, context: Self.qrRow) == .authenticatorSignIn(expected))
    }

    @Test func legacyQRSignInClaimedAndApproved() throws {
        var row = Self.qrRow
        row["claimed_at"] = "1800000005"
        row["uv"] = "fingerprint"
        row["signature"] = "MEQCIF1"
        guard case .authenticatorSignIn(let s) = try FlowState.legacy(kind: .authenticatorQR, context: row) else {
            Issue.record("not an authenticator sign-in"); return
        }
        #expect(s.channel == .qr)
        #expect(s.claimedAt == t0 + 5)
        #expect(s.userVerification == "fingerprint")
        #expect(s.signature == "MEQCIF1")
        #expect(s.endReason == nil)
        #expect(s.sealedSecret == "v1.AAAA.BBBB")
    }

    @Test func legacyEndReasons() throws {
        let reasons: [String: AuthenticatorSignIn.EndReason?] = [
            "declined": .declined, "reported": .reported, "superseded": .superseded, "cancelled": .cancelled,
            "wrong_number": .wrongNumber, "too_many_failures": .tooManyFailures, "something_else": nil,
        ]
        for (stored, reason) in reasons {
            var row = Self.qrRow
            row["end_reason"] = stored
            guard case .authenticatorSignIn(let s) = try FlowState.legacy(kind: .authenticatorQR, context: row) else {
                Issue.record("not an authenticator sign-in"); return
            }
            #expect(s.endReason == reason, "\(stored)")
        }
    }

    /// AuthenticatorService.create for an identifier-first push (no sealed secret; no client IP
    /// when the proxy gave none), then superseded by a newer one.
    @Test func legacyPushSignIn() throws {
        let row = [
            "origin": "https://id.example.com", "browser_hash": "Yk3n", "return_to": "/t/acme/account", "issuer": "https://id.example.com/t/acme",
            "browser": "Chrome on Android", "application": "Acme account", "end_reason": "superseded",
        ]
        var expected = AuthenticatorSignIn(
            channel: .push, origin: "https://id.example.com", browserHash: "Yk3n", returnTo: "/t/acme/account",
            issuer: "https://id.example.com/t/acme", browser: "Chrome on Android", application: "Acme account")
        expected.endReason = .superseded
        let state = try FlowState.legacy(kind: .authenticatorPush, context: row)
        #expect(state == .authenticatorSignIn(expected))
        #expect(state.kind == .authenticatorPush)
    }

    /// OAuthService.backchannelAuthorize (CIBA): a push whose "browser" is the client: return_to
    /// empty, no User-Agent, the application name with the binding message.
    @Test func legacyCIBAPush() throws {
        let row = [
            "origin": "https://id.example.com/t/acme", "browser_hash": "c1b4", "return_to": "", "issuer": "https://id.example.com/t/acme",
            "browser": "Unknown browser", "application": "Payroll — Approve transfer 42", "client_ip": "198.51.100.4",
            "uv": "pin", "signature": "MEUCIQ",
        ]
        var expected = AuthenticatorSignIn(
            channel: .push, origin: "https://id.example.com/t/acme", browserHash: "c1b4", returnTo: "",
            issuer: "https://id.example.com/t/acme", browser: "Unknown browser",
            application: "Payroll — Approve transfer 42", clientIP: "198.51.100.4")
        expected.userVerification = "pin"
        expected.signature = "MEUCIQ"
        #expect(try FlowState.legacy(kind: .authenticatorPush, context: row) == .authenticatorSignIn(expected))
    }

    @Test func legacySignInsWithoutRequiredKeysAreRefused() {
        for kind in [FlowKind.authenticatorQR, .authenticatorPush] {
            for key in ["origin", "browser_hash", "issuer"] {
                var row = Self.qrRow
                row[key] = nil
                let error = #expect(throws: FlowState.LegacyUnreadable.self) { try FlowState.legacy(kind: kind, context: row) }
                #expect(error?.missing == key, "\(kind) \(key)")
                #expect(error?.kind == kind)
                #expect(error?.description == "a \(kind.rawValue) row without \(key)")
            }
        }
    }

    // MARK: legacy rows: device enrolment

    /// AuthenticatorEnrolment.start(user:…) from the account page, previewed, registered.
    @Test func legacyEnrolmentFromTheAccountPage() throws {
        let row = [
            "session_user": "usr_01J8", "browser_hash": "Yk3n", "origin": "https://id.example.com", "issuer": "https://id.example.com/t/acme",
            "sealed_secret": "v1.CCCC.DDDD", "previewed_at": "1800000010", "device_name": "Pixel 9",
        ]
        var expected = DeviceEnrolment(
            startedFrom: .account(sessionUser: "usr_01J8"), origin: "https://id.example.com", browserHash: "Yk3n",
            issuer: "https://id.example.com/t/acme", sealedSecret: "v1.CCCC.DDDD")
        expected.previewedAt = t0 + 10
        expected.deviceName = "Pixel 9"
        #expect(try FlowState.legacy(kind: .deviceEnrolment, context: row) == .deviceEnrolment(expected))
    }

    /// AuthenticatorEnrolment.start(enrolment:…) for an invitation of an existing user, ended by
    /// failures (`end_reason` has no field: a denied enrolment is shown as "failed" whatever it says).
    @Test func legacyEnrolmentFromAnInvitation() throws {
        let row = [
            "browser_hash": "Yk3n", "origin": "https://id.example.com", "issuer": "https://id.example.com/t/acme", "enrolment_token_hash": "q0dV",
            "sign_in": "1", "return_to": "/t/acme/account", "sealed_secret": "v1.CCCC.DDDD", "end_reason": "too_many_failures",
        ]
        let expected = DeviceEnrolment(
            startedFrom: .link(tokenHash: "q0dV", returnTo: "/t/acme/account", newUser: nil), origin: "https://id.example.com",
            browserHash: "Yk3n", issuer: "https://id.example.com/t/acme", sealedSecret: "v1.CCCC.DDDD")
        #expect(try FlowState.legacy(kind: .deviceEnrolment, context: row) == .deviceEnrolment(expected))
    }

    /// The first administrator's link: the new person's names, registered, and the browser signed in.
    @Test func legacyEnrolmentOfTheFirstAdministrator() throws {
        let row = [
            "browser_hash": "Yk3n", "origin": "https://id.example.com", "issuer": "https://id.example.com/t/acme", "enrolment_token_hash": "q0dV",
            "sign_in": "1", "return_to": "/t/acme/admin", "email": "ada@example.com", "given_name": "Ada", "family_name": "Lovelace",
            "sealed_secret": "v1.CCCC.DDDD", "previewed_at": "1800000010", "device_name": "Ada's iPhone", "signed_in": "1800000040",
        ]
        var expected = DeviceEnrolment(
            startedFrom: .link(tokenHash: "q0dV", returnTo: "/t/acme/admin", newUser: Self.newUser),
            origin: "https://id.example.com", browserHash: "Yk3n", issuer: "https://id.example.com/t/acme",
            sealedSecret: "v1.CCCC.DDDD")
        expected.previewedAt = t0 + 10
        expected.deviceName = "Ada's iPhone"
        expected.signedInAt = t0 + 40
        #expect(try FlowState.legacy(kind: .deviceEnrolment, context: row) == .deviceEnrolment(expected))
    }

    @Test func legacyEnrolmentsWithoutRequiredKeysAreRefused() {
        let account = [
            "session_user": "usr_01J8", "browser_hash": "Yk3n", "origin": "https://id.example.com", "issuer": "https://id.example.com/t/acme",
            "sealed_secret": "v1.CCCC.DDDD",
        ]
        for key in ["session_user", "browser_hash", "origin", "issuer", "sealed_secret"] {
            var row = account
            row[key] = nil
            let error = #expect(throws: FlowState.LegacyUnreadable.self) { try FlowState.legacy(kind: .deviceEnrolment, context: row) }
            #expect(error?.missing == key)
            #expect(error?.kind == .deviceEnrolment)
        }
        var link = account
        link["session_user"] = nil
        link["enrolment_token_hash"] = "q0dV"
        link["sealed_secret"] = nil
        let error = #expect(throws: FlowState.LegacyUnreadable.self) { try FlowState.legacy(kind: .deviceEnrolment, context: link) }
        #expect(error?.missing == "sealed_secret")
    }

    // MARK: legacy rows: SAML SSO

    /// SAMLIdentityProviderService.receive: every key, `relay_state` "" when there was none.
    @Test func legacySAMLAuthnRequests() throws {
        let plain = [
            "application_id": "app_01J8", "sp_entity_id": "https://sp.example.org/metadata", "request_id": "ONELOGIN_4f1c",
            "acs_url": "https://sp.example.org/acs", "name_id_format": "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
            "relay_state": "", "force_authn": "false", "signed": "true",
        ]
        #expect(
            try FlowState.legacy(kind: .samlAuthnRequest, context: plain)
                == .samlAuthnRequest(
                    .init(
                        applicationID: "app_01J8", spEntityID: "https://sp.example.org/metadata", requestID: "ONELOGIN_4f1c",
                        acsURL: "https://sp.example.org/acs",
                        nameIDFormat: "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress", relayState: nil, forceAuthn: false, signed: true)))
        var forced = plain
        forced["relay_state"] = "https://sp.example.org/deep/link?x=1"
        forced["force_authn"] = "true"
        forced["signed"] = "false"
        #expect(
            try FlowState.legacy(kind: .samlAuthnRequest, context: forced)
                == .samlAuthnRequest(
                    .init(
                        applicationID: "app_01J8", spEntityID: "https://sp.example.org/metadata", requestID: "ONELOGIN_4f1c",
                        acsURL: "https://sp.example.org/acs",
                        nameIDFormat: "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress", relayState: "https://sp.example.org/deep/link?x=1",
                        forceAuthn: true, signed: false)))
    }

    @Test func legacySAMLAuthnRequestsWithoutRequiredKeysAreRefused() {
        let row = [
            "application_id": "app_01J8", "sp_entity_id": "https://sp.example.org/metadata", "request_id": "_r", "acs_url": "https://sp.example.org/acs",
            "name_id_format": "", "relay_state": "", "force_authn": "false", "signed": "false",
        ]
        for key in ["application_id", "request_id", "acs_url"] {
            var broken = row
            broken[key] = nil
            let error = #expect(throws: FlowState.LegacyUnreadable.self) { try FlowState.legacy(kind: .samlAuthnRequest, context: broken) }
            #expect(error?.missing == key)
        }
    }

    // MARK: legacy rows: SAML logout

    /// `logout`: the LogoutRequest-ID replay row.
    @Test func legacySAMLLogoutReplayMarker() throws {
        let row = ["sp_entity_id": "https://sp.example.org/metadata", "request_id": "_lr_9f2"]
        #expect(
            try FlowState.legacy(kind: .samlLogout, context: row)
                == .samlLogout(.replayMarker(spEntityID: "https://sp.example.org/metadata", requestID: "_lr_9f2")))
    }

    /// `logout` with the POST binding and no cookie: the verified request as the old struct's
    /// JSONEncoder wrote it (nil optionals left out).
    @Test func legacySAMLLogoutAwaitingTheSameSiteStep() throws {
        let full =
            #"{"app":"app_01J8","requestID":"_lr_9f2","nameID":"alice@example.com","nameIDFormat":"urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress","sessionIndexes":["_ab12","_cd34"],"relayState":"rs-7","binding":"post"}"#
        #expect(
            try FlowState.legacy(kind: .samlLogout, context: ["accepted": full])
                == .samlLogout(
                    .awaitingSameSiteStep(
                        .init(
                            app: "app_01J8", requestID: "_lr_9f2", nameID: "alice@example.com",
                            nameIDFormat: "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
                            sessionIndexes: ["_ab12", "_cd34"], relayState: "rs-7", binding: "post"))))
        let bare = #"{"app":"app_01J8","requestID":"_lr_9f3","nameID":"","sessionIndexes":[],"binding":"post"}"#
        #expect(
            try FlowState.legacy(kind: .samlLogout, context: ["accepted": bare])
                == .samlLogout(
                    .awaitingSameSiteStep(
                        .init(
                            app: "app_01J8", requestID: "_lr_9f3", nameID: "", nameIDFormat: nil, sessionIndexes: [], relayState: nil, binding: "post"))))
    }

    static let queueJSON =
        #"[{"app":"app_wiki","nameID":"alice@example.com","format":"urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress","sessionIndex":"_s1"},{"app":"app_crm","nameID":"Zk9x"}]"#
    static let wiki = LogoutParticipant(
        app: "app_wiki", nameID: "alice@example.com", format: "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
        sessionIndex: "_s1")
    static let crm = LogoutParticipant(app: "app_crm", nameID: "Zk9x", format: nil, sessionIndex: nil)

    /// `accept` then `propagate`: an SP's LogoutRequest, as stored before the first hop.
    @Test func legacySAMLLogoutChainStartedByAServiceProvider() throws {
        let row = [
            "user_id": "usr_01J8", "session_id": "ses_01J8", "initiator_app": "app_mail", "initiator_request_id": "_lr_1",
            "initiator_relay_state": "inbox", "queue": Self.queueJSON, "failed": "0", "done": "0",
        ]
        let expected = LogoutChain(
            sessionID: "ses_01J8", initiator: .init(app: "app_mail", requestID: "_lr_1", relayState: "inbox"), finish: nil,
            queue: [Self.wiki, Self.crm])
        #expect(try FlowState.legacy(kind: .samlLogout, context: row) == .samlLogout(.propagation(expected)))
    }

    /// `step` sent the wiki its LogoutRequest: the queue shrank and the hop is recorded.
    @Test func legacySAMLLogoutChainWithAHopInFlight() throws {
        let row = [
            "user_id": "usr_01J8", "session_id": "ses_01J8", "initiator_app": "app_mail", "initiator_request_id": "_lr_1",
            "queue": #"[{"app":"app_crm","nameID":"Zk9x"}]"#, "failed": "1", "done": "0", "current_app": "app_wiki",
            "current_request_id": "_hop_1", "current_deadline": "1800000030",
        ]
        var expected = LogoutChain(
            sessionID: "ses_01J8", initiator: .init(app: "app_mail", requestID: "_lr_1", relayState: nil), finish: nil,
            queue: [Self.crm])
        expected.failed = 1
        expected.current = .init(app: "app_wiki", requestID: "_hop_1", deadline: t0 + 30)
        #expect(try FlowState.legacy(kind: .samlLogout, context: row) == .samlLogout(.propagation(expected)))
    }

    /// `advance` closed the hop (current_app and current_request_id removed, current_deadline
    /// left behind), then `finish` completed Sigil's own sign-out.
    @Test func legacySAMLLogoutChainAfterAHopAndFinished() throws {
        let row = [
            "user_id": "usr_01J8", "session_id": "ses_01J8", "finish": "/t/acme/login", "queue": "[]", "failed": "0", "done": "2",
            "current_deadline": "1800000030",
        ]
        var expected = LogoutChain(sessionID: "ses_01J8", initiator: nil, finish: "/t/acme/login", queue: [])
        expected.confirmed = 2
        #expect(try FlowState.legacy(kind: .samlLogout, context: row) == .samlLogout(.propagation(expected)))
    }

    @Test func legacySAMLLogoutRowsThatCannotBeReadAreRefused() {
        #expect(throws: DecodingError.self) { try FlowState.legacy(kind: .samlLogout, context: ["accepted": "{\"app\":\"app_1\"}"]) }
        #expect(throws: DecodingError.self) { try FlowState.legacy(kind: .samlLogout, context: ["accepted": "not json"]) }
        #expect(throws: DecodingError.self) {
            try FlowState.legacy(kind: .samlLogout, context: ["session_id": "ses_1", "queue": #"[{"nameID":"x"}]"#])
        }
    }

    // MARK: every kind

    @Test func legacyKeepsTheKind() throws {
        let rows: [FlowKind: [String: String]] = [
            .passkeyAuthentication: ["return_to": "/t/acme/account"],
            .passkeyRegistration: ["session_user": "usr_1", "user_id": "usr_1"],
            .authenticatorQR: Self.qrRow,
            .authenticatorPush: Self.qrRow.filter { $0.key != "sealed_secret" },
            .deviceEnrolment: ["session_user": "usr_1", "browser_hash": "b", "origin": "o", "issuer": "i", "sealed_secret": "s"],
            .samlAuthnRequest: ["application_id": "a", "request_id": "r", "acs_url": "u"],
            .samlLogout: ["sp_entity_id": "s", "request_id": "r"],
        ]
        // Kinds born after version 1 have no legacy rows.
        #expect(Set(rows.keys) == Set(FlowKind.allCases).subtracting([.upstreamSAML, .upstreamOIDC, .upstreamOIDCLogout, .idvSession, .stepUpChallenge]))
        #expect(throws: FlowState.LegacyUnreadable.self) { try FlowState.legacy(kind: .upstreamSAML, context: [:]) }
        #expect(throws: FlowState.LegacyUnreadable.self) { try FlowState.legacy(kind: .idvSession, context: [:]) }
        // An IDV session round-trips through the stored format with its kind.
        var idv = IDVSession(origin: .oidc(authorization: "{}"), sealedExpected: "sealed")
        idv.evidence = [.selfie: "selfie", .chip: "chip"]
        idv.liveness = LivenessChallenge(id: "c", steps: [.neutral, .blink], issuedAt: Date(timeIntervalSince1970: 1))
        let stored = FlowState.idvSession(idv)
        #expect(stored.kind == .idvSession)
        #expect(try JSONDecoder().decode(FlowState.self, from: try JSONEncoder().encode(stored)) == stored)
        for (kind, row) in rows {
            let state = try FlowState.legacy(kind: kind, context: row)
            #expect(state.kind == kind)
            let data = try JSONEncoder().encode(state)
            #expect(try JSONDecoder().decode(FlowState.self, from: data) == state)
        }
    }
}
