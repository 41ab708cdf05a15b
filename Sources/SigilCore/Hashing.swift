import Crypto

/// SHA-256 of a high-entropy token, hex encoded: how bearer tokens, client secrets and one-time
/// links are stored. (They carry 256 random bits, so a slow password hash adds nothing.)
public func tokenHash(_ token: String) -> String {
    hexEncoded(SHA256.hash(data: Array(token.utf8)))
}

/// Lower-case hex, two digits per byte: stored hashes, ETags, audit chain links.
public func hexEncoded(_ bytes: some Sequence<UInt8>) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var out: [UInt8] = []
    out.reserveCapacity(bytes.underestimatedCount * 2)
    for byte in bytes {
        out.append(digits[Int(byte >> 4)])
        out.append(digits[Int(byte & 0x0F)])
    }
    return String(decoding: out, as: UTF8.self)
}
