import SigilJOSE
import SigilOAuth
import Testing

@Suite struct ACRAndConsentRequestTests {
    func claims(_ text: String) throws -> JSONValue { try ClaimsRequest.parse(text) }

    @Test func rankingAndSatisfaction() {
        #expect(ACR.satisfies("phrh", "phr") && ACR.satisfies("phr", ACR.authenticator) && ACR.satisfies("phr", "phr"))
        #expect(!ACR.satisfies("phr", "phrh") && !ACR.satisfies(ACR.authenticator, "phr"))
        #expect(!ACR.satisfies("phrh", "urn:example:gold") && ACR.satisfies("urn:example:gold", "urn:example:gold"))
    }

    @Test func whereTheRequirementComesFrom() throws {
        // claims.id_token.acr wins over acr_values, which win over the client's defaults.
        let essential = try claims(#"{"id_token":{"acr":{"essential":true,"values":["phrh","phr"]}}}"#)
        #expect(
            ACR.requirement(acrValues: ["urn:sigil:acr:authenticator"], claims: essential, defaults: ["phr"])
                == .init(values: ["phrh", "phr"], essential: true))
        let single = try claims(#"{"id_token":{"acr":{"value":"phr"}}}"#)
        #expect(ACR.requirement(acrValues: [], claims: single, defaults: []) == .init(values: ["phr"], essential: false))
        #expect(ACR.requirement(acrValues: ["phr"], claims: nil, defaults: ["phrh"]) == .init(values: ["phr"], essential: false))
        #expect(ACR.requirement(acrValues: [], claims: nil, defaults: ["phrh"]) == .init(values: ["phrh"], essential: false))
        // acr named without values, or only unknown voluntary values: nothing asked.
        #expect(ACR.requirement(acrValues: [], claims: try claims(#"{"id_token":{"acr":null}}"#), defaults: []) == nil)
        #expect(ACR.requirement(acrValues: ["1", "2"], claims: nil, defaults: []) == nil)
        // Unknown essential values stay (and cannot be met).
        let gold = ACR.requirement(acrValues: [], claims: try claims(#"{"id_token":{"acr":{"essential":true,"value":"gold"}}}"#), defaults: [])
        #expect(gold?.essential == true && gold?.known.isEmpty == true && gold?.minimum == nil)
    }

    @Test func theSatisfiedValueIsTheStrongestMet() {
        let r = ACR.Requirement(values: ["urn:sigil:acr:authenticator", "phr", "phrh", "x"], essential: false)
        #expect(r.satisfied(by: "phrh") == "phrh" && r.satisfied(by: "phr") == "phr")
        #expect(r.satisfied(by: ACR.authenticator) == ACR.authenticator && r.minimum == ACR.authenticator)
        #expect(ACR.Requirement(values: ["phrh"], essential: false).satisfied(by: "phr") == nil)
    }

    @Test func liveIDAndPasskeysAreNeitherStrongerThanTheOther() {
        #expect(ACR.satisfies(ACR.liveID, ACR.authenticator) && ACR.satisfies(ACR.liveID, ACR.liveID))
        #expect(!ACR.satisfies("phrh", ACR.liveID) && !ACR.satisfies("phr", ACR.liveID) && !ACR.satisfies(ACR.liveID, "phr"))
        #expect(!ACR.satisfies(ACR.authenticator, ACR.liveID) && ACR.satisfies("phrh", "phr") && !ACR.satisfies("phr", "phrh"))
        #expect(ACR.satisfies("gold", "gold") && !ACR.satisfies("gold", ACR.authenticator))
        let r = ACR.Requirement(values: [ACR.liveID, "phr"], essential: false)
        #expect(r.satisfied(by: "phrh") == "phr" && r.satisfied(by: ACR.liveID) == ACR.liveID && r.satisfied(by: ACR.authenticator) == nil)
        #expect(r.minimum == ACR.liveID && ACR.Requirement(values: ["phr", ACR.liveID], essential: false).minimum == "phr")
        #expect(ACR.Requirement(values: ["phrh", ACR.liveID, ACR.authenticator], essential: false).minimum == ACR.authenticator)
    }

    @Test func consentWordsAndCoverage() throws {
        let c = try claims(#"{"userinfo":{"given_name":null,"sub":null},"id_token":{"email":{"essential":true},"acr":null}}"#)
        #expect(ConsentRequest.claimNames(c) == ["email", "given_name"])
        let lines = ConsentRequest.lines(scopes: ["profile", "openid", "custom"], claims: ["given_name"])
        #expect(lines.first?.hasPrefix("Know who you are") == true && lines.contains("See your name") && lines.contains("See your given name"))
        #expect(lines.contains { $0.contains("custom") })
        #expect(ConsentRequest.covers(grantedScopes: ["openid", "email"], grantedClaims: [], scopes: ["openid"], claims: []))
        #expect(!ConsentRequest.covers(grantedScopes: ["openid"], grantedClaims: [], scopes: ["openid", "email"], claims: []))
        #expect(!ConsentRequest.covers(grantedScopes: ["openid"], grantedClaims: [], scopes: ["openid"], claims: ["email"]))
    }
}
