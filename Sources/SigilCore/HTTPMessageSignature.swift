import Crypto
import Foundation

/// Verification of HTTP Message Signatures (RFC 9421) made with a shared secret (`hmac-sha256`),
/// and of the body digest they cover (`Content-Digest`, RFC 9530). Written for inbound hooks
/// (docs/connectors.md "Inbound hooks"): Descope's HTTP connector signs this way.
///
/// What is checked: one signature named in both `Signature-Input` and `Signature`; its covered
/// components include `@method`, the target (`@target-uri`, or `@authority` with `@path`) and
/// `content-digest`; `created` and `nonce` are present; `alg`, when given, is `hmac-sha256`; the
/// signature base (§2.5) is rebuilt from this request and its MAC compared in constant time; the
/// digest matches the raw body. Freshness and replay (`created`, `expires`, `nonce`) are the
/// caller's to judge with its clock and memory: `Verified` hands them over.
public enum HTTPMessageSignature {
    public struct Request: Sendable {
        public var method: String
        /// The full target URI as the signer addressed it (`https://host/path?query`).
        public var targetURI: String
        /// Header fields by lowercase name (repeated fields joined with ", ").
        public var headers: [String: String]
        public var body: [UInt8]

        public init(method: String, targetURI: String, headers: [String: String], body: [UInt8]) {
            self.method = method; self.targetURI = targetURI; self.headers = headers; self.body = body
        }
    }

    public struct Verified: Sendable, Equatable {
        public var label: String
        /// Always set under the hook policy.
        public var created: Date?
        public var expires: Date?
        /// Always set under the hook policy.
        public var nonce: String?
        public var keyID: String?
    }

    public struct Failure: Error, Sendable, Equatable, CustomStringConvertible {
        public var description: String
        public init(_ description: String) { self.description = description }
    }

    /// Verifies the request's signature with `secret`. Throws `Failure` naming what is wrong (safe
    /// to log: it never contains the secret or the MAC).
    ///
    /// `hookPolicy` false checks only the MAC and the digest when covered (RFC 9421's own test
    /// vectors cover neither the method nor a nonce).
    public static func verifyHMAC(_ request: Request, secret: [UInt8], hookPolicy: Bool = true) throws(Failure) -> Verified {
        guard let inputField = request.headers["signature-input"], let signatureField = request.headers["signature"] else {
            throw Failure("Signature-Input and Signature are required")
        }
        guard inputField.utf8.count <= 4096, signatureField.utf8.count <= 4096 else { throw Failure("signature fields too long") }
        let inputs = try dictionaryMembers(inputField)
        let signatures = try dictionaryMembers(signatureField)
        guard inputs.count == 1, let (label, rawParams) = inputs.first else { throw Failure("exactly one signature is expected") }
        guard let signatureItem = signatures.first(where: { $0.0 == label })?.1 else { throw Failure("no Signature for \(label)") }
        guard signatureItem.hasPrefix(":"), signatureItem.hasSuffix(":"), signatureItem.count >= 2,
            let mac = Data(base64Encoded: String(signatureItem.dropFirst().dropLast()))
        else { throw Failure("the signature is not a byte sequence") }
        let parsed = try innerList(rawParams)
        let components = parsed.items
        guard Set(components).count == components.count else { throw Failure("a component is covered twice") }
        if hookPolicy {
            guard components.contains("@method") else { throw Failure("@method must be covered") }
            guard components.contains("@target-uri") || (components.contains("@authority") && components.contains("@path")) else {
                throw Failure("the target (@target-uri, or @authority and @path) must be covered")
            }
            guard components.contains("content-digest") else { throw Failure("content-digest must be covered") }
        }
        if let alg = parsed.parameters["alg"], alg != "hmac-sha256" { throw Failure("alg \(alg.prefix(32)) is not hmac-sha256") }
        var created: Date?
        if let text = parsed.parameters["created"] {
            guard let value = Int64(text) else { throw Failure("created is not an integer") }
            created = Date(timeIntervalSince1970: TimeInterval(value))
        }
        let nonce = parsed.parameters["nonce"]
        if hookPolicy {
            guard created != nil else { throw Failure("created is required") }
            guard let nonce, !nonce.isEmpty, nonce.utf8.count <= 256 else { throw Failure("nonce is required") }
        }
        var expires: Date?
        if let text = parsed.parameters["expires"] {
            guard let value = Int64(text) else { throw Failure("expires is not an integer") }
            expires = Date(timeIntervalSince1970: TimeInterval(value))
        }
        if components.contains("content-digest") { try checkContentDigest(request.headers["content-digest"], body: request.body) }
        // The signature base (§2.5): each component's line, then @signature-params with the
        // parameters exactly as the signer serialized them.
        var lines: [String] = []
        for component in components {
            lines.append("\"\(component)\": " + (try value(of: component, in: request)))
        }
        lines.append("\"@signature-params\": " + rawParams)
        let base = Array(lines.joined(separator: "\n").utf8)
        let expected = Array(HMAC<SHA256>.authenticationCode(for: base, using: SymmetricKey(data: secret)))
        guard constantTimeEquals(expected, Array(mac)) else { throw Failure("the signature does not verify") }
        return Verified(label: label, created: created, expires: expires, nonce: nonce, keyID: parsed.parameters["keyid"])
    }

    /// Signs `request` with `hmac-sha256` (what a sender does; tests and tools use it): adds
    /// `Content-Digest` (sha-256) when `content-digest` is covered, then `Signature-Input` and
    /// `Signature` under `label`.
    public static func signHMAC(
        _ request: Request, secret: [UInt8], components: [String], created: Int64, nonce: String?, keyID: String? = nil,
        label: String = "sig1"
    ) throws(Failure) -> Request {
        var signed = request
        if components.contains("content-digest") {
            signed.headers["content-digest"] = "sha-256=:" + Data(SHA256.hash(data: request.body)).base64EncodedString() + ":"
        }
        var params = "(" + components.map { "\"\($0)\"" }.joined(separator: " ") + ");created=\(created)"
        if let keyID { params += ";keyid=\"\(keyID)\"" }
        params += ";alg=\"hmac-sha256\""
        if let nonce { params += ";nonce=\"\(nonce)\"" }
        var lines: [String] = []
        for component in components { lines.append("\"\(component)\": " + (try value(of: component, in: signed))) }
        lines.append("\"@signature-params\": " + params)
        let mac = HMAC<SHA256>.authenticationCode(for: Array(lines.joined(separator: "\n").utf8), using: SymmetricKey(data: secret))
        signed.headers["signature-input"] = label + "=" + params
        signed.headers["signature"] = label + "=:" + Data(mac).base64EncodedString() + ":"
        return signed
    }

    /// `Content-Digest` (RFC 9530) with `sha-256` or `sha-512` matching `body`.
    static func checkContentDigest(_ field: String?, body: [UInt8]) throws(Failure) {
        guard let field else { throw Failure("Content-Digest is required") }
        var checked = false
        for (algorithm, item) in try dictionaryMembers(field) {
            guard item.hasPrefix(":"), item.hasSuffix(":"), item.count >= 2, let digest = Data(base64Encoded: String(item.dropFirst().dropLast())) else {
                throw Failure("Content-Digest is not a byte sequence")
            }
            let actual: [UInt8]
            switch algorithm {
            case "sha-256": actual = Array(SHA256.hash(data: body))
            case "sha-512": actual = Array(SHA512.hash(data: body))
            default: continue
            }
            guard constantTimeEquals(actual, Array(digest)) else { throw Failure("Content-Digest does not match the body") }
            checked = true
        }
        guard checked else { throw Failure("Content-Digest names neither sha-256 nor sha-512") }
    }

    /// A derived component's or header field's value for the signature base.
    static func value(of component: String, in request: Request) throws(Failure) -> String {
        guard let url = URLComponents(string: request.targetURI), let scheme = url.scheme?.lowercased(), let host = url.host?.lowercased() else {
            throw Failure("the target URI is not absolute")
        }
        let defaultPort = (scheme == "https" && url.port == 443) || (scheme == "http" && url.port == 80)
        let authority = host + (url.port.map { defaultPort ? "" : ":\($0)" } ?? "")
        let path = url.percentEncodedPath.isEmpty ? "/" : url.percentEncodedPath
        switch component {
        case "@method": return request.method.uppercased()
        case "@target-uri": return request.targetURI
        case "@authority": return authority
        case "@scheme": return scheme
        case "@path": return path
        case "@query": return "?" + (url.percentEncodedQuery ?? "")
        case "@request-target": return path + (url.percentEncodedQuery.map { "?" + $0 } ?? "")
        default:
            guard !component.hasPrefix("@"), component == component.lowercased() else { throw Failure("component \(component.prefix(40)) is not supported") }
            guard let field = request.headers[component] else { throw Failure("covered field \(component.prefix(40)) is missing") }
            return field.trimmingCharacters(in: .whitespaces)
        }
    }

    // MARK: structured fields (RFC 8941), the parts signatures use

    /// The members of a dictionary field as (key, raw member text), in order.
    static func dictionaryMembers(_ field: String) throws(Failure) -> [(String, String)] {
        var members: [(String, String)] = []
        for part in splitTopLevel(field, separator: ",") {
            let member = part.trimmingCharacters(in: .whitespaces)
            guard let eq = member.firstIndex(of: "=") else { throw Failure("a dictionary member has no value") }
            let key = String(member[..<eq])
            guard isKey(key) else { throw Failure("a dictionary key is malformed") }
            members.append((key, String(member[member.index(after: eq)...])))
        }
        return members
    }

    /// An inner list of strings with parameters: `("a" "b");k=v;k2="s"`.
    static func innerList(_ text: String) throws(Failure) -> (items: [String], parameters: [String: String]) {
        guard text.hasPrefix("("), let close = closingParenthesis(text) else { throw Failure("Signature-Input is not an inner list") }
        let inside = text[text.index(after: text.startIndex)..<close]
        var items: [String] = []
        var rest = Substring(inside)
        while true {
            rest = rest.drop(while: { $0 == " " })
            if rest.isEmpty { break }
            guard rest.first == "\"" else { throw Failure("a covered component is not a string") }
            let (string, after) = try quoted(rest)
            // Component parameters (;sf, ;key, ;req…) are not supported.
            guard after.first != ";" else { throw Failure("component parameters are not supported") }
            items.append(string)
            rest = after
        }
        var parameters: [String: String] = [:]
        var tail = text[text.index(after: close)...]
        while !tail.isEmpty {
            guard tail.first == ";" else { throw Failure("signature parameters are malformed") }
            tail = tail.dropFirst()
            let keyEnd = tail.firstIndex { !($0.isLowercase || $0.isNumber || "_-.*".contains($0)) } ?? tail.endIndex
            let key = String(tail[..<keyEnd])
            guard isKey(key), parameters[key] == nil else { throw Failure("a signature parameter is malformed or repeated") }
            tail = tail[keyEnd...]
            guard tail.first == "=" else { parameters[key] = "?1"; continue }
            tail = tail.dropFirst()
            if tail.first == "\"" {
                let (string, after) = try quoted(tail)
                parameters[key] = string
                tail = after
            } else {
                let end = tail.firstIndex(of: ";") ?? tail.endIndex
                let token = String(tail[..<end])
                guard !token.isEmpty, token.allSatisfy({ $0.isASCII && !$0.isWhitespace && $0 != "\"" }) else {
                    throw Failure("a signature parameter value is malformed")
                }
                parameters[key] = token
                tail = tail[end...]
            }
        }
        return (items, parameters)
    }

    static func isKey(_ key: String) -> Bool {
        guard let first = key.first, first.isLowercase || first == "*" else { return false }
        return key.allSatisfy { ($0.isASCII && ($0.isLowercase || $0.isNumber)) || "_-.*".contains($0) }
    }

    static func quoted(_ text: Substring) throws(Failure) -> (String, Substring) {
        var out = ""
        var index = text.index(after: text.startIndex)
        while index < text.endIndex {
            let c = text[index]
            if c == "\\" {
                index = text.index(after: index)
                guard index < text.endIndex, text[index] == "\"" || text[index] == "\\" else { throw Failure("a string escape is malformed") }
                out.append(text[index])
            } else if c == "\"" {
                return (out, text[text.index(after: index)...])
            } else {
                guard c.isASCII, let v = c.asciiValue, v >= 0x20, v < 0x7f else { throw Failure("a string holds a control character") }
                out.append(c)
            }
            index = text.index(after: index)
        }
        throw Failure("a string is not closed")
    }

    static func closingParenthesis(_ text: String) -> String.Index? {
        var inString = false
        var escaped = false
        for index in text.indices {
            let c = text[index]
            if inString {
                if escaped { escaped = false } else if c == "\\" { escaped = true } else if c == "\"" { inString = false }
            } else if c == "\"" {
                inString = true
            } else if c == ")" {
                return index
            }
        }
        return nil
    }

    /// Splits on `separator` outside strings and byte sequences.
    static func splitTopLevel(_ text: String, separator: Character) -> [String] {
        var parts: [String] = []
        var current = ""
        var inString = false, escaped = false, inBytes = false
        for c in text {
            if inString {
                if escaped { escaped = false } else if c == "\\" { escaped = true } else if c == "\"" { inString = false }
            } else if inBytes {
                if c == ":" { inBytes = false }
            } else if c == "\"" {
                inString = true
            } else if c == ":" {
                inBytes = true
            } else if c == separator {
                parts.append(current)
                current = ""
                continue
            }
            current.append(c)
        }
        if !current.trimmingCharacters(in: .whitespaces).isEmpty { parts.append(current) }
        return parts
    }
}

/// JSON without insignificant whitespace, member order kept: what "compact re-serialisation" of a
/// JSON body means for a signature computed over the compact form (Descope's HMAC,
/// docs/connectors.md). Returns nil when the bytes are not plausibly JSON text (unbalanced strings).
public func compactJSON(_ bytes: [UInt8]) -> [UInt8]? {
    var out: [UInt8] = []
    out.reserveCapacity(bytes.count)
    var inString = false, escaped = false
    for b in bytes {
        if inString {
            out.append(b)
            if escaped { escaped = false } else if b == UInt8(ascii: "\\") { escaped = true } else if b == UInt8(ascii: "\"") { inString = false }
        } else if b == UInt8(ascii: " ") || b == UInt8(ascii: "\n") || b == UInt8(ascii: "\r") || b == UInt8(ascii: "\t") {
            continue
        } else {
            if b == UInt8(ascii: "\"") { inString = true }
            out.append(b)
        }
    }
    return inString ? nil : out
}
