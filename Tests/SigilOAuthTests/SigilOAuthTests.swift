import Crypto
import Foundation
import SigilCore
import SigilJOSE
import SigilOAuth
import Testing

@Suite struct PKCETests {
    // RFC 7636 Appendix B.
    @Test func rfc7636AppendixBVector() throws {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
        #expect(PKCE.challenge(for: verifier) == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
        #expect(PKCE.verify(verifier: verifier, challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"))
        #expect(!PKCE.verify(verifier: verifier + "x", challenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"))
        #expect(!PKCE.verify(verifier: "short", challenge: PKCE.challenge(for: "short")))
    }

    @Test func plainAndMissingMethodAreRefused() {
        #expect(throws: OAuthError.self) { try PKCE.validateChallenge("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", method: "plain") }
        #expect(throws: OAuthError.self) { try PKCE.validateChallenge("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM", method: nil) }
        #expect(throws: OAuthError.self) { try PKCE.validateChallenge("too-short", method: "S256") }
    }
}

@Suite struct AuthorizationRequestTests {
    let client = OAuthClient(
        clientID: "c1", redirectURIs: ["https://rp.example/cb", "https://rp.example/cb2"], grantTypes: [.authorizationCode],
        authMethod: .clientSecretBasic, requirePKCE: true, requirePAR: false, allowedScopes: ["openid", "email", "profile"])
    let challenge = PKCE.challenge(for: String(repeating: "v", count: 43))

    func base() -> [String: String] {
        [
            "response_type": "code", "client_id": "c1", "redirect_uri": "https://rp.example/cb", "scope": "openid email",
            "state": "s", "nonce": "n", "code_challenge": challenge, "code_challenge_method": "S256",
        ]
    }

    @Test func aCompleteRequestValidates() throws {
        let v = try AuthorizationRequest.validate(base(), client: client)
        #expect(v.scopes == ["openid", "email"] && v.isOpenID && v.responseMode == .query && v.codeChallenge == challenge)
    }

    @Test func redirectURIMismatchIsNeverRedirected() {
        for bad in ["https://rp.example/cb/", "https://rp.example/cb?x=1", "https://RP.example/cb", "https://evil.example/cb"] {
            var p = base(); p["redirect_uri"] = bad
            do { _ = try AuthorizationRequest.validate(p, client: client); Issue.record("accepted \(bad)") } catch {
                #expect(error.redirect == nil)
            }
        }
        var p = base(); p["redirect_uri"] = nil
        do { _ = try AuthorizationRequest.validate(p, client: client); Issue.record("accepted without redirect_uri") } catch {
            #expect(error.redirect == nil) // two registered: must be named
        }
    }

    @Test func laterErrorsGoBackToTheClientWithState() {
        let cases: [(String, String?, OAuthError.Code)] = [
            ("response_type", "token", .unsupportedResponseType), ("scope", "openid admin", .invalidScope),
            ("code_challenge_method", "plain", .invalidRequest), ("code_challenge", nil, .invalidRequest),
            ("prompt", "none login", .invalidRequest), ("max_age", "-1", .invalidRequest), ("claims", "[1]", .invalidRequest),
            ("request", "eyJ", .requestNotSupported), ("response_mode", "fragment", .invalidRequest),
        ]
        for (name, value, code) in cases {
            var p = base(); p[name] = value
            if name == "code_challenge" { p["code_challenge_method"] = nil }
            do { _ = try AuthorizationRequest.validate(p, client: client); Issue.record("accepted \(name)=\(value ?? "nil")") } catch {
                #expect(error.error.code == code, "\(name)")
                #expect(error.redirect?.state == "s" && error.redirect?.redirectURI == "https://rp.example/cb", "\(name)")
            }
        }
    }

    @Test func responsesCarryIssAndEncodeValues() {
        let target = AuthorizationResponse.Target(redirectURI: "https://rp.example/cb?a=1", mode: .query, state: "x y&z")
        guard case .redirect(let url) = AuthorizationResponse.success(code: "abc", target: target, issuer: "https://id.example.com") else {
            Issue.record("not a redirect"); return
        }
        #expect(url == "https://rp.example/cb?a=1&code=abc&state=x%20y%26z&iss=https%3A%2F%2Fid.example.com")
        let post = AuthorizationResponse.error(
            OAuthError(.accessDenied, "no"), target: .init(redirectURI: "https://rp.example/cb", mode: .formPost, state: "\"><s"),
            issuer: "https://id.example.com")
        // A value, not HTML: the HTTP layer renders (and escapes) it (SigilHTTPTests PageTemplateTests).
        #expect(
            post
                == .formPost(
                    .init(
                        action: "https://rp.example/cb",
                        fields: [
                            .init(name: "error", value: "access_denied"), .init(name: "error_description", value: "no"),
                            .init(name: "state", value: "\"><s"), .init(name: "iss", value: "https://id.example.com"),
                        ])))
    }
}

@Suite struct JWSTests {
    @Test func signAndVerifyBothAlgorithmsAndRejectTampering() throws {
        for alg in SigningAlgorithm.allCases {
            let key = try SigningKeyMaterial.generate(alg)
            let token = try JWS.sign(payload: ["sub": "u", "n": 5, "ok": true], key: key, type: "at+jwt")
            let parsed = try JWS.parse(token)
            #expect(parsed.type == "at+jwt" && parsed.keyID == key.kid && parsed.payload["n"]?.int == 5 && parsed.payload["ok"]?.bool == true)
            #expect(JWS.verify(parsed, with: JWKSet(keys: [key.publicJWK])))
            let parts = token.split(separator: ".")
            let forged = try JWS.parse(parts[0] + "." + Base64URL.encode(Array(#"{"sub":"admin"}"#.utf8)) + "." + parts[2])
            #expect(!JWS.verify(forged, with: key.publicJWK))
            let none = try JWS.parse(Base64URL.encode(Array(#"{"alg":"none"}"#.utf8)) + "." + parts[1] + ".")
            #expect(!JWS.verify(none, with: key.publicJWK))
        }
    }

    /// Parsed public keys are cached by their material, so a JWKS that gives a `kid` new material is
    /// verified with the new key, and a key cached for one algorithm never verifies another's token.
    @Test func parsedKeysAreCachedByMaterialNotByKid() throws {
        let first = try SigningKeyMaterial.generate(.rs256)
        let second = try SigningKeyMaterial.generate(.rs256)
        let token = try JWS.parse(try JWS.sign(payload: ["sub": "u"], key: second, type: "JWT"))
        var reused = first.publicJWK
        reused.kid = second.kid
        // Verified (and cached) under the first key's material: refused, however often it is asked.
        for _ in 0..<3 { #expect(!JWS.verify(token, with: JWKSet(keys: [reused]))) }
        // The same kid now carries the second key's material: accepted, then again from the cache.
        for _ in 0..<3 { #expect(JWS.verify(token, with: JWKSet(keys: [second.publicJWK]))) }
        // The RSA key's members offered as an EC key, or the token's alg changed: no cached key applies.
        var asEC = second.publicJWK
        asEC.kty = "EC"
        asEC.crv = "P-256"
        #expect(!JWS.verify(token, with: asEC))
        let parts = try JWS.sign(payload: ["sub": "u"], key: second, type: "JWT").split(separator: ".")
        let relabelled = try JWS.parse(
            Base64URL.encode(Array(#"{"alg":"ES256","kid":"\#(second.kid)"}"#.utf8)) + "." + parts[1] + "." + parts[2])
        #expect(!JWS.verify(relabelled, with: second.publicJWK))
        // A 1024-bit modulus is refused every time (it is never cached as usable).
        var small = second.publicJWK
        small.n = Base64URL.encode([0xC3] + [UInt8](repeating: 0x5A, count: 126) + [0x01])
        for _ in 0..<2 { #expect(!JWS.verify(token, with: small)) }
    }

    @Test func idTokenHasTheCoreClaims() {
        let auth = TokenClaims.Authentication(authTime: Date(timeIntervalSince1970: 1000), amr: ["hwk", "user"], acr: "phrh", sessionID: "ses_1")
        let claims = TokenClaims.idToken(
            issuer: "https://id.example.com", subject: "usr_1", clientID: "c1", now: Date(timeIntervalSince1970: 2000),
            lifetime: 600, authentication: auth, nonce: "n", accessToken: "tok", userClaims: ["email": "a@b.c"])
        for name in ["iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "at_hash", "sid", "email"] {
            #expect(claims[name] != nil, "\(name)")
        }
        #expect(claims["exp"]?.int == 2600 && claims["at_hash"]?.string?.count == 22)
        #expect(claims[TokenClaims.verificationProcessClaim] == nil)
        // A LiveID sign-in with a face re-match: the verification reference in both tokens.
        var rematched = auth
        rematched.verificationProcess = "idv_1"
        let id = TokenClaims.idToken(
            issuer: "https://id.example.com", subject: "usr_1", clientID: "c1", now: Date(timeIntervalSince1970: 2000),
            lifetime: 600, authentication: rematched, nonce: nil, accessToken: nil, userClaims: [:])
        let at = TokenClaims.accessToken(
            issuer: "https://id.example.com", subject: "usr_1", clientID: "c1", scopes: ["openid"], now: Date(timeIntervalSince1970: 2000),
            lifetime: 600, jti: "g.1", authentication: rematched)
        #expect(id["urn:sigil:claims:verification_process"]?.string == "idv_1" && at["urn:sigil:claims:verification_process"]?.string == "idv_1")
    }

    @Test func claimSelectionFollowsScopesAndTheClaimsParameter() throws {
        let profile = UserClaims.Profile(subject: "u", email: "a@b.c", givenName: "A", familyName: "B", updatedAt: Date())
        #expect(Set(UserClaims.select(profile, scopes: ["openid"], allowedScopes: ["openid"], claims: nil, target: "userinfo").keys) == ["sub"])
        #expect(
            Set(UserClaims.select(profile, scopes: ["openid", "email"], allowedScopes: ["openid", "email"], claims: nil, target: "userinfo").keys)
                == ["sub", "email"])
        let request = try ClaimsRequest.parse(#"{"id_token":{"given_name":{"essential":true},"email":null}}"#)
        #expect(
            Set(UserClaims.select(profile, scopes: ["openid"], allowedScopes: ["openid", "profile"], claims: request, target: "id_token").keys)
                == ["sub", "given_name"])
    }

    @Test func clientAssertionClaims() throws {
        let now = Date(timeIntervalSince1970: 10_000)
        let good: [String: JSONValue] = ["iss": "c1", "sub": "c1", "aud": "https://id.example.com/oauth2/token", "exp": 10_100, "jti": "j1"]
        let auds: Set<String> = ["https://id.example.com", "https://id.example.com/oauth2/token"]
        #expect(try ClientAssertion.check(good, clientID: "c1", audiences: auds, now: now).jti == "j1")
        for (name, value) in [("iss", JSONValue.string("c2")), ("aud", "https://other"), ("exp", 9_000), ("exp", 20_000), ("jti", .null)] {
            var bad = good; bad[name] = value
            #expect(throws: OAuthError.self, "\(name)") { try ClientAssertion.check(bad, clientID: "c1", audiences: auds, now: now) }
        }
    }

    @Test func discoveryHasTheRequiredFields() {
        let doc = Discovery.document(issuer: "https://id.example.com", requirePAR: false, acrValues: ["phr"])
        for name in [
            "issuer", "authorization_endpoint", "token_endpoint", "jwks_uri", "response_types_supported", "subject_types_supported",
            "id_token_signing_alg_values_supported", "code_challenge_methods_supported", "pushed_authorization_request_endpoint",
            "require_pushed_authorization_requests", "end_session_endpoint", "claims_parameter_supported",
            "authorization_response_iss_parameter_supported",
        ] {
            #expect(doc[name] != nil, "\(name)")
        }
        #expect(doc["code_challenge_methods_supported"] == .strings(["S256"]))
    }
}
