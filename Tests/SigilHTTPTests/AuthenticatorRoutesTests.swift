import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import SigilAuthenticatorProtocol
import SigilCore
import SigilServices
import SigilStore
import Testing

/// The authenticator's HTTP surface through the real route table: browser start, QR image,
/// signed device requests, snapshot, complete; and the refusals at the edge.
@Suite struct AuthenticatorRoutesTests {
    static let origin = "https://id.example.com"

    struct Phone {
        let id: String
        let key: P256.Signing.PrivateKey

        func headers(_ method: String, _ path: String, body: [UInt8], nonce: String? = nil) throws -> HTTPFields {
            let ts = Int64(Date().timeIntervalSince1970)
            let n = nonce ?? Base64URL.encode(SystemRandom().bytes(16))
            let message = try CanonicalMessage.request(
                method: method, target: AuthenticatorRoutesTests.origin + path, deviceID: id,
                timestamp: ts, nonce: n, body: body)
            return [
                HTTPField.Name("Sigil-Device")!: id, HTTPField.Name("Sigil-Timestamp")!: String(ts), HTTPField.Name("Sigil-Nonce")!: n,
                HTTPField.Name("Sigil-Signature")!: try DeviceSignature.sign(message, with: key), .contentType: "application/json",
            ]
        }
    }

    func enrolPhone(_ h: Harness) async throws -> (Phone, User) {
        let tenant = try await h.defaultTenant()
        let user = try await h.services.users.create(tenantID: tenant.id, .init(email: "ada@example.com", givenName: "Ada", familyName: "L"), by: .cli)
        let key = P256.Signing.PrivateKey()
        let device = try await h.store.authenticatorDevices.create(
            AuthenticatorDevice(
                id: h.services.context.ids.make(.authenticatorDevice), tenantID: tenant.id, userID: user.id,
                publicKey: Base64URL.encode(Array(key.publicKey.x963Representation)), name: "phone", platform: "cli", createdAt: Date()))
        return (Phone(id: device.id, key: key), user)
    }

    static func cookie(_ response: TestResponse, _ name: String) -> String? {
        for value in response.headers[values: .setCookie] where value.hasPrefix(name + "=") {
            return String(value.dropFirst(name.count + 1).prefix(while: { $0 != ";" }))
        }
        return nil
    }

    @Test func qrSignInOverHTTP() async throws {
        try await Harness.run { h in
            let (phone, user) = try await enrolPhone(h)
            // Cross-origin start is refused (crossOriginQRStartRejected).
            try await h.request(.post, "/login/qr/start", json: "{}", headers: [.origin: "https://evil.example"]).expectProblem(.forbidden, "cross-origin")
            let start = try await h.request(.post, "/login/qr/start", json: #"{"return_to":"/account"}"#, headers: [.origin: Self.origin])
            #expect(start.status == .ok)
            let binding = try #require(Self.cookie(start, "__Host-sigil_login_default"))
            #expect(start.headers[values: .setCookie].first?.contains("SameSite=Strict") == true)
            let body = try start.json()
            let tx = try #require(body["transaction"] as? String)
            let payload = try AuthenticatorPayload.parse(try #require(body["deep_link"] as? String))
            #expect(payload.transactionID == tx && payload.issuer == Self.origin)
            let cookies: HTTPFields = [.cookie: "__Host-sigil_login_default=\(binding)", .origin: Self.origin, .contentType: "application/json"]

            // The image is only for the browser that started it.
            let svg = try await h.request(.get, "/login/transactions/\(tx)/qr.svg", headers: cookies)
            #expect(svg.status == .ok && svg.headers[.contentType] == "image/svg+xml" && svg.text.hasPrefix("<svg"))
            try await h.request(.get, "/login/transactions/\(tx)/qr.svg").expectProblem(.notFound, "login-transaction-unknown")
            try await h.request(.get, "/login/transactions/\(tx)").expectProblem(.notFound, "login-transaction-unknown")

            // unsignedClaimRejected
            let claimBody = Wire.encode(ClaimBody(secret: payload.secret))
            try await h.request(.post, "/authenticator/v1/transactions/\(tx)/claim", json: String(decoding: claimBody, as: UTF8.self))
                .expectProblem(.unauthorized, "device-auth-required")
            let claimPath = "/authenticator/v1/transactions/\(tx)/claim"
            let headers = try phone.headers("POST", claimPath, body: claimBody)
            let claim = try await h.request(.post, claimPath, json: String(decoding: claimBody, as: UTF8.self), headers: headers)
            #expect(claim.status == .ok, "\(claim.text)")
            let view = try Wire.decode(RequestView.self, from: Array(claim.text.utf8))
            #expect(view.transaction == tx && view.kind == "qr" && !claim.text.contains("number"))
            // nonceReuseRejected: the same signed request again.
            try await h.request(.post, claimPath, json: String(decoding: claimBody, as: UTF8.self), headers: headers).expectProblem(
                .unauthorized, "device-replay")
            // bodyTamperRejected
            var tampered = try phone.headers("POST", claimPath, body: claimBody)
            tampered[.contentType] = "application/json"
            try await h.request(.post, claimPath, json: #"{"secret":"AAAAAAAAAAAAAAAAAAAAAA"}"#, headers: tampered)
                .expectProblem(.unauthorized, "device-signature-invalid")

            let snapshot = try await h.request(.get, "/login/transactions/\(tx)", headers: cookies).json()
            #expect(snapshot["state"] as? String == "scanned")
            let number = try #require(snapshot["number"] as? String)

            let t = try await h.store.loginTransactions.get(tenantID: user.tenantID, id: tx)
            let approval = try CanonicalMessage.approval(
                issuer: Self.origin, transactionID: tx, challenge: view.challenge, origin: Self.origin,
                number: number, decision: .approve, userVerification: .presence)
            let approveBody = Wire.encode(
                ApproveBody(number: number, userVerification: "presence", signature: try DeviceSignature.sign(approval, with: phone.key)))
            let approvePath = "/authenticator/v1/transactions/\(tx)/approve"
            let approved = try await h.request(
                .post, approvePath, json: String(decoding: approveBody, as: UTF8.self),
                headers: try phone.headers("POST", approvePath, body: approveBody))
            let approvedState = try approved.json()["state"] as? String
            #expect(approved.status == .ok && approvedState == "approved", "\(approved.text)")
            #expect(t.challenge == view.challenge)

            // crossOriginCompleteRejected, then the real completion.
            try await h.request(
                .post, "/login/transactions/\(tx)/complete", json: "{}",
                headers: [.cookie: "__Host-sigil_login_default=\(binding)", .origin: "https://evil.example"]
            ).expectProblem(.forbidden, "cross-origin")
            let complete = try await h.request(.post, "/login/transactions/\(tx)/complete", json: "{}", headers: cookies)
            #expect(complete.status == .ok, "\(complete.text)")
            let session = try #require(Self.cookie(complete, "__Host-sigil_session_default"))
            #expect(complete.headers[values: .setCookie].contains { $0.hasPrefix("__Host-sigil_login_default=;") && $0.contains("Max-Age=0") })
            let account = try await h.request(.get, "/account", headers: [.cookie: "__Host-sigil_session_default=\(session)"])
            #expect(account.status == .ok && account.text.contains("ada@example.com") && account.text.contains("swk, user, mca"))
            try await h.request(.post, "/login/transactions/\(tx)/complete", json: "{}", headers: cookies).expectProblem(.conflict, "login-already-used")

            // A finished transaction's event stream: one final event, then it ends.
            let events = try await h.request(.get, "/login/transactions/\(tx)/events", headers: cookies)
            #expect(events.headers[.contentType] == "text/event-stream")
            #expect(events.text.hasPrefix("retry: 2000") && events.text.contains("event: completed"))
            // A reconnect to a finished transaction gets 204 (EventSource stops).
            let again = try await h.request(
                .get, "/login/transactions/\(tx)/events",
                headers: [.cookie: "__Host-sigil_login_default=\(binding)", HTTPField.Name("Last-Event-ID")!: "4"])
            #expect(again.status == .noContent)
        }
    }

    @Test func pushStartLooksTheSameForEveryone() async throws {
        try await Harness.run { h in
            _ = try await enrolPhone(h)
            var shapes: [[String]] = []
            for email in ["ada@example.com", "nobody@example.com"] {
                let r = try await h.request(.post, "/login/push/start", json: #"{"email":"\#(email)"}"#, headers: [.origin: Self.origin])
                #expect(r.status == .ok)
                let body = try r.json()
                shapes.append(body.keys.sorted())
                #expect((body["number"] as? String)?.count == 2)
            }
            #expect(shapes[0] == shapes[1])
            try await h.request(.post, "/login/push/start", json: #"{"email":"not an email"}"#, headers: [.origin: Self.origin])
                .expectProblem(.unprocessableContent, "validation-failed")
            await h.services.pushDispatcher.drain()
        }
    }

    @Test func pendingAndDeviceSelfRemoval() async throws {
        try await Harness.run { h in
            let (phone, _) = try await enrolPhone(h)
            let r = try await h.request(.post, "/login/push/start", json: #"{"email":"ada@example.com"}"#, headers: [.origin: Self.origin])
            let tx = try #require(try r.json()["transaction"] as? String)
            await h.services.pushDispatcher.drain()
            let path = "/authenticator/v1/pending?wait=0"
            let pending = try await h.request(.get, path, headers: try phone.headers("GET", path, body: []))
            #expect(pending.status == .ok, "\(pending.text)")
            let list = try Wire.decode(PendingList.self, from: Array(pending.text.utf8))
            #expect(list.requests.map(\.transaction) == [tx])
            try await h.request(.get, "/authenticator/v1/pending?wait=99", headers: try phone.headers("GET", "/authenticator/v1/pending?wait=99", body: []))
                .expectProblem(.unprocessableContent, "invalid-input")
            let removed = try await h.request(.delete, "/authenticator/v1/device", headers: try phone.headers("DELETE", "/authenticator/v1/device", body: []))
            #expect(removed.status == .noContent)
            // removedDeviceRejected
            try await h.request(.get, path, headers: try phone.headers("GET", path, body: [])).expectProblem(.unauthorized, "device-revoked")
        }
    }
}

/// A phone as the first sign-in method, from the first administrator's enrolment link.
@Suite struct LinkEnrolmentTests {
    static let origin = "https://id.example.com"

    @Test func firstAdministratorEnrolsAPhoneAndIsSignedIn() async throws {
        try await Harness.run { h in
            let tenant = try await h.defaultTenant()
            let (url, _) = try await h.services.enrolment.createFirstAdminLink(tenant: tenant, issuer: Self.origin, by: .system)
            let path = String(url.value.dropFirst(Self.origin.count))
            // The fields are checked before anything is created.
            try await h.request(.post, path + "/device", json: #"{"email":"nope"}"#, headers: [.origin: Self.origin])
                .expectProblem(.unprocessableContent, "validation-failed")
            let start = try await h.request(
                .post, path + "/device", json: #"{"email":"root@example.com","given_name":"Root","family_name":"Admin"}"#,
                headers: [.origin: Self.origin])
            #expect(start.status == .ok, "\(start.text)")
            let binding = try #require(AuthenticatorRoutesTests.cookie(start, "__Host-sigil_login_default"))
            let payload = try AuthenticatorPayload.parse(try #require(try start.json()["link"] as? String))
            #expect(try await h.store.users.find(tenantID: tenant.id, email: "root@example.com") == nil) // not before a device registers

            let previewBody = Wire.encode(EnrolmentPreviewBody(transaction: payload.transactionID, secret: payload.secret))
            let preview = try await h.request(.post, "/authenticator/v1/enroll/preview", json: String(decoding: previewBody, as: UTF8.self))
            #expect(preview.status == .ok, "\(preview.text)")
            let view = try Wire.decode(EnrolmentPreviewView.self, from: Array(preview.text.utf8))
            #expect(view.user.email == "root@example.com")
            let key = P256.Signing.PrivateKey()
            let publicKey = Base64URL.encode(Array(key.publicKey.x963Representation))
            let proof = try DeviceSignature.sign(
                try CanonicalMessage.enrolment(
                    issuer: Self.origin, transactionID: payload.transactionID,
                    challenge: view.challenge, publicKey: publicKey), with: key)
            let registration = Wire.encode(
                DeviceRegistrationBody(
                    transaction: payload.transactionID, secret: payload.secret, publicKey: publicKey,
                    name: "Root's phone", platform: "cli", keyProtection: "software", push: nil, proof: proof))
            let registered = try await h.request(.post, "/authenticator/v1/devices", json: String(decoding: registration, as: UTF8.self))
            #expect(registered.status == .created, "\(registered.text)")
            let admin = try #require(try await h.store.users.find(tenantID: tenant.id, email: "root@example.com"))
            #expect(admin.isAdmin)
            // The link is used up.
            #expect(try await h.request(.get, path).status == .notFound)

            let cookies: HTTPFields = [.cookie: "__Host-sigil_login_default=\(binding)", .origin: Self.origin, .contentType: "application/json"]
            let snapshot = try await h.request(.get, "/login/transactions/\(payload.transactionID)", headers: cookies).json()
            #expect(snapshot["state"] as? String == "completed")
            let complete = try await h.request(.post, "/login/transactions/\(payload.transactionID)/complete", json: "{}", headers: cookies)
            #expect(complete.status == .ok, "\(complete.text)")
            let session = try #require(AuthenticatorRoutesTests.cookie(complete, "__Host-sigil_session_default"))
            let account = try await h.request(.get, "/account", headers: [.cookie: "__Host-sigil_session_default=\(session)"])
            #expect(
                account.text.contains("root@example.com · administrator") && account.text.contains("Root&#39;s phone") || account.text.contains("Root's phone"))
            // One sign-in per enrolment; another browser gets nothing.
            try await h.request(.post, "/login/transactions/\(payload.transactionID)/complete", json: "{}", headers: cookies)
                .expectProblem(.conflict, "login-already-used")
        }
    }
}
