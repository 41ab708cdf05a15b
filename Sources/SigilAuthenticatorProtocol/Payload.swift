import SigilCore

/// What a QR code or link carries (docs/authenticator-protocol.md §1.1): the tenant issuer, the
/// transaction id and a secret in the URL fragment, which browsers never send to a server.
public struct AuthenticatorPayload: Sendable, Hashable {
    public enum Purpose: String, Sendable, Hashable {
        case login
        case enrolment
    }

    public let purpose: Purpose
    /// The tenant issuer, byte-exact as the device must match it against its enrolments.
    public let issuer: String
    public let transactionID: String
    public let secret: String

    public init(purpose: Purpose, issuer: String, transactionID: String, secret: String) {
        self.purpose = purpose
        self.issuer = issuer
        self.transactionID = transactionID
        self.secret = secret
    }

    static func path(_ purpose: Purpose) -> String {
        switch purpose {
        case .login: "/login/qr#"
        case .enrolment: "/authenticator/v1/enroll#"
        }
    }

    /// The canonical https form: `{issuer}/login/qr#{txid}.{secret}`.
    public var url: String { issuer + Self.path(purpose) + transactionID + "." + secret }

    /// The app deep link: `sigil://login?u=…` or `sigil://enroll?u=…`.
    public var deepLink: String {
        (purpose == .login ? "sigil://login?u=" : "sigil://enroll?u=") + Self.percentEncode(url)
    }

    /// Percent-encodes every byte outside ALPHA / DIGIT / "-" / "." / "_" / "~".
    static func percentEncode(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            let c = Character(UnicodeScalar(byte))
            if c.isASCII && (c.isLetter || c.isNumber || "-._~".contains(c)) {
                out.append(c)
            } else {
                out += "%" + String(byte, radix: 16, uppercase: true).leftPadded(to: 2)
            }
        }
        return out
    }

    static func percentDecode(_ text: String) -> String? {
        var bytes: [UInt8] = []
        var iterator = Array(text.utf8).makeIterator()
        while let byte = iterator.next() {
            if byte == UInt8(ascii: "%") {
                guard let hi = iterator.next(), let lo = iterator.next(),
                    let value = UInt8(String(decoding: [hi, lo], as: UTF8.self), radix: 16)
                else { return nil }
                bytes.append(value)
            } else {
                bytes.append(byte)
            }
        }
        return String(validating: bytes, as: UTF8.self)
    }

    /// Parses either form. Refuses anything not shaped exactly like a Sigil payload.
    public static func parse(_ text: String) throws(AuthenticatorProtocolError) -> AuthenticatorPayload {
        var candidate = text.trimmingWhitespace()
        for (prefix, _) in [("sigil://login?u=", Purpose.login), ("sigil://enroll?u=", Purpose.enrolment)] where candidate.hasPrefix(prefix) {
            guard let decoded = percentDecode(String(candidate.dropFirst(prefix.count))) else {
                throw AuthenticatorProtocolError(.malformedPayload, "the link is not percent-encoded correctly")
            }
            candidate = decoded
        }
        for purpose in [Purpose.login, .enrolment] {
            let marker = path(purpose)
            guard let range = candidate.range(of: marker) else { continue }
            let issuer = String(candidate[..<range.lowerBound])
            let fragment = candidate[range.upperBound...]
            let parts = fragment.split(separator: ".", omittingEmptySubsequences: false)
            guard issuer.hasPrefix("https://") || issuer.hasPrefix("http://"), !issuer.contains("#"),
                parts.count == 2, IdentifierGenerator.isWellFormed(String(parts[0]), kind: .loginTransaction),
                let secret = Base64URL.decode(String(parts[1])), secret.count == 16
            else {
                throw AuthenticatorProtocolError(.malformedPayload, "this is not a Sigil \(purpose.rawValue) code")
            }
            return AuthenticatorPayload(purpose: purpose, issuer: issuer, transactionID: String(parts[0]), secret: String(parts[1]))
        }
        throw AuthenticatorProtocolError(.malformedPayload, "this is not a Sigil code")
    }
}

extension String {
    func leftPadded(to width: Int) -> String { count >= width ? self : String(repeating: "0", count: width - count) + self }

    func trimmingWhitespace() -> String {
        var scalars = Substring(self)
        while let first = scalars.first, first.isWhitespace { scalars = scalars.dropFirst() }
        while let last = scalars.last, last.isWhitespace { scalars = scalars.dropLast() }
        return String(scalars)
    }
}
