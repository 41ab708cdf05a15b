import Foundation
import SigilCore
import SigilFlows
import SigilStore
import SigilTestSupport
import Testing

@testable import SigilSQLStore

/// Migration 9 on every backend: flow rows stored as the old flat dictionary of strings become
/// typed, versioned `FlowState`, and keep working; a row the old code could not have written is
/// dropped instead of breaking reads.
@Suite("Store conformance: typed flow state migration")
struct FlowStateMigrationTests {
    let f = Fixtures()

    @Test(arguments: Backend.enabled)
    func legacyRowsBecomeTypedFlowState(_ backend: Backend) async throws {
        try await withFreshStore(backend) { (store: SQLStore) async throws in
            let acme = try await store.tenants.create(f.tenant("acme"))
            let ada = try await store.users.create(f.user(acme, "ada@example.com"))
            let now = f.clock.now()
            let legacy: [(id: String, kind: String, state: String, context: [String: String])] = [
                (
                    "ltx_push", "authenticator_push", "approved",
                    [
                        "origin": "https://id.example.com", "browser_hash": "bh", "return_to": "/account", "issuer": "https://id.example.com",
                        "browser": "Chrome on Linux", "application": "Acme account", "client_ip": "192.0.2.7", "uv": "face", "signature": "sig",
                    ]
                ),
                ("ltx_pk", "passkey_authentication", "pending", ["return_to": "/t/acme/account"]),
                (
                    "ltx_enrol", "device_enrolment", "pending",
                    [
                        "browser_hash": "bh", "origin": "https://id.example.com", "issuer": "https://id.example.com", "enrolment_token_hash": "lh",
                        "sign_in": "1", "return_to": "/account", "sealed_secret": "sealed", "email": "new@example.com", "given_name": "N",
                        "family_name": "U", "previewed_at": "1800000000",
                    ]
                ),
                (
                    "samlreq_x", "saml_authn_request", "pending",
                    [
                        "application_id": "app_1", "sp_entity_id": "https://sp.example.com", "request_id": "_r1", "acs_url": "https://sp.example.com/acs",
                        "name_id_format": "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress", "relay_state": "", "force_authn": "true", "signed": "false",
                    ]
                ),
                (
                    "samlslo_x", "saml_logout", "pending",
                    [
                        "user_id": ada.id, "session_id": "ses_1", "finish": "/t/acme/login", "failed": "1", "done": "0",
                        "queue": #"[{"app":"app_2","nameID":"ada@example.com","format":null,"sessionIndex":"_s"}]"#,
                        "current_app": "app_3", "current_request_id": "_q", "current_deadline": "1800000030",
                    ]
                ),
                ("ltx_broken", "authenticator_qr", "pending", ["return_to": "/account"]),
            ]
            try await store.backend.withTransaction { db in
                for row in legacy {
                    try await db.raw(
                        """
                        INSERT INTO login_transactions (\(unsafeRaw: SQLLoginTransactionStore.columns))
                        VALUES (\(bind: row.id), \(bind: acme.id), \(bind: row.kind), \(bind: row.state), 'c', NULL, \(bind: ada.id), NULL, '42',
                                \(bind: try JSONColumn.encode(row.context)), 0, \(bind: now.unixMilliseconds), \(bind: now.unixMilliseconds),
                                \(bind: now.addingTimeInterval(600).unixMilliseconds), 1)
                        """
                    ).run()
                }
            }
            try await store.backend.withLongTransaction { db in try await FlowStateMigration.run(db) }

            let push = try await store.loginTransactions.get(tenantID: acme.id, id: "ltx_push")
            #expect(push.kind == .authenticatorPush && push.authenticatorSignIn?.userVerification == "face")
            #expect(push.authenticatorSignIn?.clientIP == "192.0.2.7" && push.authenticatorSignIn?.returnTo == "/account")
            // It still completes as the old row would have: the machine reads the converted state.
            var machine = AuthenticatorSignInStateMachine(push.record(try #require(push.authenticatorSignIn)))
            #expect(machine.complete(now: now) == .startSession(user: ada.id, userVerification: "face", returnTo: "/account"))

            #expect(
                try await store.loginTransactions.get(tenantID: acme.id, id: "ltx_pk").passkeyCeremony?.purpose
                    == .signIn(returnTo: "/t/acme/account"))
            // Read first, then unwrapped: a `#require(try await …)` over the payload crashed once in the
            // test runtime (signal 11 releasing its result), never reproduced.
            let enrolRow = try await store.loginTransactions.get(tenantID: acme.id, id: "ltx_enrol")
            let enrol = try #require(enrolRow.deviceEnrolment)
            #expect(
                enrol.startedFrom
                    == .link(
                        tokenHash: "lh", returnTo: "/account",
                        newUser: NewUser(email: "new@example.com", givenName: "N", familyName: "U")))
            #expect(enrol.previewedAt == Date(timeIntervalSince1970: 1_800_000_000))
            let samlRow = try await store.loginTransactions.get(tenantID: acme.id, id: "samlreq_x")
            let saml = try #require(samlRow.samlAuthnRequest)
            #expect(saml.forceAuthn && !saml.signed && saml.relayState == nil && saml.requestID == "_r1")
            guard case .propagation(let chain)? = try await store.loginTransactions.get(tenantID: acme.id, id: "samlslo_x").samlLogout else {
                Issue.record("the logout chain was not converted")
                return
            }
            #expect(chain.queue.map(\.app) == ["app_2"] && chain.failed == 1 && chain.finish == "/t/acme/login")
            #expect(chain.current == .init(app: "app_3", requestID: "_q", deadline: Date(timeIntervalSince1970: 1_800_000_030)))
            // A row the old code could not have written (no origin, issuer or binding) is dropped.
            await #expect(throws: StoreError.self) { _ = try await store.loginTransactions.get(tenantID: acme.id, id: "ltx_broken") }
            // Running it again changes nothing.
            try await store.backend.withLongTransaction { db in try await FlowStateMigration.run(db) }
            #expect(try await store.loginTransactions.get(tenantID: acme.id, id: "ltx_push") == push)
        }
    }
}
