import Crypto

/// SHA-256 of a high-entropy token, hex encoded: how bearer tokens, client secrets and one-time
/// links are stored. (They carry 256 random bits, so a slow password hash adds nothing.)
public func tokenHash(_ token: String) -> String {
    SHA256.hash(data: Array(token.utf8)).map { byte in
        let s = String(byte, radix: 16)
        return s.count == 1 ? "0" + s : s
    }.joined()
}
