import SigilJOSE

/// The OIDC `claims` request parameter (Core §5.5): `{"userinfo": {...}, "id_token": {...}}`,
/// each member a claim name mapped to `null` or `{essential, value, values, …}`.
public enum ClaimsRequest {
    public static func parse(_ text: String) throws(OAuthError) -> JSONValue {
        guard text.utf8.count <= 16 * 1024 else { throw .invalidRequest("claims is too large") }
        guard let value = try? JSONValue.parse(Array(text.utf8)), let object = value.object else {
            throw .invalidRequest("claims must be a JSON object")
        }
        for (key, member) in object {
            guard key == "userinfo" || key == "id_token" else { continue } // unknown members are ignored (§5.5)
            guard let requests = member.object else { throw .invalidRequest("claims.\(key) must be an object") }
            for (_, request) in requests {
                switch request {
                case .null, .object: break
                case .array where key == "id_token" || key == "userinfo": break // verified_claims may be an array (IDA)
                default: throw .invalidRequest("each requested claim must be null or an object")
                }
            }
        }
        return value
    }

    /// Claim names requested for `target` (`userinfo` or `id_token`).
    public static func names(in claims: JSONValue?, for target: String) -> [String] {
        claims?.object?[target]?.object.map { Array($0.keys).sorted() } ?? []
    }
}
