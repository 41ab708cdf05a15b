import SigilJOSE

/// What a client asks the user to approve on the consent page: its scopes and the claims named in
/// the `claims` parameter, in plain words. No I/O: SigilServices stores and compares grants.
public enum ConsentRequest {
    /// Scopes worth a line on the page, in display order, and what they let the application do.
    public static let scopeWords: [(scope: String, words: String)] = [
        ("openid", "Know who you are: your account identifier at this sign-in service"),
        ("email", "See your email address"),
        ("profile", "See your name"),
        ("offline_access", "Keep access while you are not using it, until you remove it"),
        ("identity_assurance", "See your verified identity details"),
    ]

    public static let claimWords: [String: String] = [
        "email": "your email address", "email_verified": "whether your email address is verified",
        "name": "your name", "given_name": "your given name", "family_name": "your family name",
        "updated_at": "when your profile last changed", "verified_claims": "your verified identity details",
    ]

    /// Claims that add nothing about the user beyond the sign-in itself.
    static let sessionClaims: Set<String> = ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "at_hash", "sid"]

    /// The user-data claims named in `claims` (`userinfo` and `id_token`), sorted, deduplicated.
    public static func claimNames(_ claims: JSONValue?) -> [String] {
        let names = Set(ClaimsRequest.names(in: claims, for: "userinfo") + ClaimsRequest.names(in: claims, for: "id_token"))
        return names.subtracting(sessionClaims).sorted()
    }

    /// The lines to show for `scopes` and `claims`: one per known scope, then one per extra claim.
    public static func lines(scopes: [String], claims: [String]) -> [String] {
        var out = scopeWords.filter { scopes.contains($0.scope) }.map(\.words)
        for scope in scopes.sorted() where !scopeWords.contains(where: { $0.scope == scope }) {
            out.append("Use the permission “\(scope)”")
        }
        for claim in claims { out.append("See " + (claimWords[claim] ?? "your “\(claim)”")) }
        return out
    }

    /// Whether a stored grant of `grantedScopes`/`grantedClaims` covers a request.
    public static func covers(grantedScopes: [String], grantedClaims: [String], scopes: [String], claims: [String]) -> Bool {
        Set(scopes).isSubset(of: grantedScopes) && Set(claims).isSubset(of: grantedClaims)
    }
}
