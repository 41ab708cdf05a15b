import Foundation

/// The kinds of flow rows (`login_transactions.kind`).
public enum FlowKind: String, Codable, Sendable, CaseIterable {
    case passkeyRegistration = "passkey_registration"
    case passkeyAuthentication = "passkey_authentication"
    case authenticatorQR = "authenticator_qr"
    case authenticatorPush = "authenticator_push"
    case deviceEnrolment = "device_enrolment"
    /// A SAML AuthnRequest waiting for sign-in; its deterministic ID doubles as the request-ID
    /// replay cache entry.
    case samlAuthnRequest = "saml_authn_request"
    /// SAML single logout: a LogoutRequest ID seen (replay), a POST waiting for its same-site
    /// step, or a logout being propagated.
    case samlLogout = "saml_logout"
    /// Sigil as SAML service provider: a sign-in sent to an upstream IdP, or a consumed
    /// assertion ID (replay cache).
    case upstreamSAML = "upstream_saml"
    /// Sigil as OpenID Connect relying party: a sign-in sent to an upstream provider.
    case upstreamOIDC = "upstream_oidc"
    /// Logout with an upstream provider: Sigil's sign-out at its end_session_endpoint, or a
    /// logout token's jti (replay cache).
    case upstreamOIDCLogout = "upstream_oidc_logout"
    /// An identity verification session (docs/idv.md).
    case idvSession = "idv_session"
    /// A LiveID step-up asked for through the connector API (docs/connectors.md).
    case stepUpChallenge = "step_up_challenge"
}

/// A flow row's typed, versioned payload: one Codable value per kind, instead of a dictionary of
/// strings. Stored as `{"v": 1, "flow": "<kind>", "data": {…}}`; rows written before version 1
/// (a flat object of strings) are converted by `FlowState.legacy` (SQL migration 9).
public enum FlowState: Sendable, Equatable {
    case passkeyCeremony(PasskeyCeremony)
    case authenticatorSignIn(AuthenticatorSignIn)
    case deviceEnrolment(DeviceEnrolment)
    case samlAuthnRequest(SAMLAuthnRequestFlow)
    case samlLogout(SAMLLogoutFlow)
    case upstreamSAML(UpstreamSAMLFlow)
    case upstreamOIDC(UpstreamOIDCLogin)
    case upstreamOIDCLogout(UpstreamOIDCLogoutFlow)
    case idvSession(IDVSession)
    case stepUpChallenge(StepUpChallenge)

    /// The stored format's version. Bump it, and add a conversion, when a payload changes shape
    /// in a way old rows cannot decode.
    public static let version = 1

    public var kind: FlowKind {
        switch self {
        case .passkeyCeremony(let c): c.isRegistration ? .passkeyRegistration : .passkeyAuthentication
        case .authenticatorSignIn(let s): s.channel == .qr ? .authenticatorQR : .authenticatorPush
        case .deviceEnrolment: .deviceEnrolment
        case .samlAuthnRequest: .samlAuthnRequest
        case .samlLogout: .samlLogout
        case .upstreamSAML: .upstreamSAML
        case .upstreamOIDC: .upstreamOIDC
        case .upstreamOIDCLogout: .upstreamOIDCLogout
        case .idvSession: .idvSession
        case .stepUpChallenge: .stepUpChallenge
        }
    }
}

extension FlowState: Codable {
    private enum Keys: String, CodingKey { case v, flow, data }
    private enum Name: String, Codable {
        case passkeyCeremony = "passkey_ceremony", authenticatorSignIn = "authenticator_sign_in", deviceEnrolment = "device_enrolment"
        case samlAuthnRequest = "saml_authn_request", samlLogout = "saml_logout", upstreamSAML = "upstream_saml"
        case upstreamOIDC = "upstream_oidc", upstreamOIDCLogout = "upstream_oidc_logout", idvSession = "idv_session"
        case stepUpChallenge = "step_up_challenge"
    }

    public struct UnsupportedVersion: Error, Sendable { public let version: Int }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        let version = try c.decode(Int.self, forKey: .v)
        guard version == Self.version else { throw UnsupportedVersion(version: version) }
        switch try c.decode(Name.self, forKey: .flow) {
        case .passkeyCeremony: self = .passkeyCeremony(try c.decode(PasskeyCeremony.self, forKey: .data))
        case .authenticatorSignIn: self = .authenticatorSignIn(try c.decode(AuthenticatorSignIn.self, forKey: .data))
        case .deviceEnrolment: self = .deviceEnrolment(try c.decode(DeviceEnrolment.self, forKey: .data))
        case .samlAuthnRequest: self = .samlAuthnRequest(try c.decode(SAMLAuthnRequestFlow.self, forKey: .data))
        case .samlLogout: self = .samlLogout(try c.decode(SAMLLogoutFlow.self, forKey: .data))
        case .upstreamSAML: self = .upstreamSAML(try c.decode(UpstreamSAMLFlow.self, forKey: .data))
        case .upstreamOIDC: self = .upstreamOIDC(try c.decode(UpstreamOIDCLogin.self, forKey: .data))
        case .upstreamOIDCLogout: self = .upstreamOIDCLogout(try c.decode(UpstreamOIDCLogoutFlow.self, forKey: .data))
        case .idvSession: self = .idvSession(try c.decode(IDVSession.self, forKey: .data))
        case .stepUpChallenge: self = .stepUpChallenge(try c.decode(StepUpChallenge.self, forKey: .data))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: Keys.self)
        try c.encode(Self.version, forKey: .v)
        switch self {
        case .passkeyCeremony(let v): try c.encode(Name.passkeyCeremony, forKey: .flow); try c.encode(v, forKey: .data)
        case .authenticatorSignIn(let v): try c.encode(Name.authenticatorSignIn, forKey: .flow); try c.encode(v, forKey: .data)
        case .deviceEnrolment(let v): try c.encode(Name.deviceEnrolment, forKey: .flow); try c.encode(v, forKey: .data)
        case .samlAuthnRequest(let v): try c.encode(Name.samlAuthnRequest, forKey: .flow); try c.encode(v, forKey: .data)
        case .samlLogout(let v): try c.encode(Name.samlLogout, forKey: .flow); try c.encode(v, forKey: .data)
        case .upstreamSAML(let v): try c.encode(Name.upstreamSAML, forKey: .flow); try c.encode(v, forKey: .data)
        case .upstreamOIDC(let v): try c.encode(Name.upstreamOIDC, forKey: .flow); try c.encode(v, forKey: .data)
        case .upstreamOIDCLogout(let v): try c.encode(Name.upstreamOIDCLogout, forKey: .flow); try c.encode(v, forKey: .data)
        case .idvSession(let v): try c.encode(Name.idvSession, forKey: .flow); try c.encode(v, forKey: .data)
        case .stepUpChallenge(let v): try c.encode(Name.stepUpChallenge, forKey: .flow); try c.encode(v, forKey: .data)
        }
    }
}

// MARK: rows written before typed flow state

extension FlowState {
    public struct LegacyUnreadable: Error, Sendable, CustomStringConvertible {
        public let kind: FlowKind
        public let missing: String
        public var description: String { "a \(kind.rawValue) row without \(missing)" }
    }

    /// Converts a row stored as a flat dictionary of strings (before version 1). Every key the
    /// old code wrote is carried over; a row the old code could not have written throws.
    public static func legacy(kind: FlowKind, context c: [String: String]) throws -> FlowState {
        func need(_ key: String) throws -> String {
            guard let value = c[key] else { throw LegacyUnreadable(kind: kind, missing: key) }
            return value
        }
        func time(_ key: String) -> Date? { c[key].flatMap(Double.init).map { Date(timeIntervalSince1970: $0) } }
        func newUser() -> NewUser? {
            guard let email = c["email"] else { return nil }
            return NewUser(email: email, givenName: c["given_name"] ?? "", familyName: c["family_name"] ?? "")
        }
        switch kind {
        case .passkeyAuthentication:
            return .passkeyCeremony(.init(purpose: .signIn(returnTo: c["return_to"] ?? "/account")))
        case .passkeyRegistration:
            if let session = c["session_user"] { return .passkeyCeremony(.init(purpose: .addToAccount(sessionUser: session))) }
            return .passkeyCeremony(.init(purpose: .enrolment(linkHash: try need("enrolment_token_hash"), newUser: newUser())))
        case .authenticatorQR, .authenticatorPush:
            var s = AuthenticatorSignIn(
                channel: kind == .authenticatorQR ? .qr : .push, origin: try need("origin"),
                browserHash: try need("browser_hash"), returnTo: c["return_to"] ?? "", issuer: try need("issuer"),
                browser: c["browser"] ?? "Unknown browser", application: c["application"] ?? "",
                clientIP: c["client_ip"], sealedSecret: c["sealed_secret"])
            s.claimedAt = time("claimed_at")
            s.userVerification = c["uv"]
            s.signature = c["signature"]
            s.endReason = c["end_reason"].flatMap(AuthenticatorSignIn.EndReason.init(rawValue:))
            return .authenticatorSignIn(s)
        case .deviceEnrolment:
            let from: DeviceEnrolment.Origin
            if let link = c["enrolment_token_hash"] {
                from = .link(tokenHash: link, returnTo: c["return_to"] ?? "/account", newUser: newUser())
            } else {
                from = .account(sessionUser: try need("session_user"))
            }
            var e = DeviceEnrolment(
                startedFrom: from, origin: try need("origin"), browserHash: try need("browser_hash"),
                issuer: try need("issuer"), sealedSecret: try need("sealed_secret"))
            e.previewedAt = time("previewed_at")
            e.deviceName = c["device_name"]
            e.signedInAt = time("signed_in")
            return .deviceEnrolment(e)
        case .samlAuthnRequest:
            return .samlAuthnRequest(
                .init(
                    applicationID: try need("application_id"), spEntityID: c["sp_entity_id"] ?? "", requestID: try need("request_id"),
                    acsURL: try need("acs_url"), nameIDFormat: c["name_id_format"] ?? "", relayState: c["relay_state"].flatMap { $0.isEmpty ? nil : $0 },
                    forceAuthn: c["force_authn"] == "true", signed: c["signed"] == "true"))
        case .upstreamSAML, .upstreamOIDC, .upstreamOIDCLogout, .idvSession, .stepUpChallenge:
            // Written only by version 1 and later.
            throw LegacyUnreadable(kind: kind, missing: "a version")
        case .samlLogout:
            if let accepted = c["accepted"] {
                return .samlLogout(.awaitingSameSiteStep(try JSONDecoder().decode(AcceptedLogoutRequest.self, from: Data(accepted.utf8))))
            }
            if let queue = c["queue"] {
                var chain = LogoutChain(
                    sessionID: c["session_id"] ?? "",
                    initiator: c["initiator_app"].map { .init(app: $0, requestID: c["initiator_request_id"] ?? "", relayState: c["initiator_relay_state"]) },
                    finish: c["finish"], queue: try JSONDecoder().decode([LogoutParticipant].self, from: Data(queue.utf8)))
                chain.failed = Int(c["failed"] ?? "0") ?? 0
                chain.confirmed = Int(c["done"] ?? "0") ?? 0
                if let app = c["current_app"], let request = c["current_request_id"] {
                    chain.current = .init(app: app, requestID: request, deadline: time("current_deadline") ?? .distantPast)
                }
                return .samlLogout(.propagation(chain))
            }
            return .samlLogout(.replayMarker(spEntityID: c["sp_entity_id"] ?? "", requestID: c["request_id"] ?? ""))
        }
    }
}
