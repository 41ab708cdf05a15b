import Crypto
import Foundation
import SigilCore
import X509
import _CryptoExtras

/// A protocol message as it arrived over a binding, before anything in it is trusted.
public struct SAMLInboundMessage: Sendable {
    public enum Binding: Sendable, Equatable { case redirect, post }

    /// The XML bytes (inflated for HTTP-Redirect, base64-decoded for HTTP-POST).
    public var xml: [UInt8]
    public var relayState: String?
    public var binding: Binding
    /// HTTP-Redirect only: the detached signature, if the query carried one.
    public var redirectSignature: RedirectSignature?

    public struct RedirectSignature: Sendable {
        /// `SAMLRequest=…&RelayState=…&SigAlg=…` exactly as received (still URL-encoded).
        public var signedBytes: [UInt8]
        public var algorithm: String
        public var signature: [UInt8]
    }

    public init(xml: [UInt8], relayState: String?, binding: Binding, redirectSignature: RedirectSignature? = nil) {
        self.xml = xml; self.relayState = relayState; self.binding = binding; self.redirectSignature = redirectSignature
    }
}

/// HTTP-Redirect binding (SAML bindings §3.4): base64 of raw DEFLATE in the query string, with an
/// optional detached signature over the encoded parameters in a fixed order.
public enum SAMLRedirectBinding {
    /// Largest inflated message accepted.
    public static let maxInflatedBytes = 256 * 1024

    /// Decodes `SAMLRequest` (or `SAMLResponse` with `parameter`) from a raw query string, as
    /// received: the signature check needs the parameters' original encoding.
    public static func decode(rawQuery: String, parameter: String = "SAMLRequest") throws(SAMLError) -> SAMLInboundMessage {
        var raw: [String: String] = [:]
        for pair in rawQuery.split(separator: "&", omittingEmptySubsequences: true) {
            // Not omitting empty parts: `==` or `=x` is a parameter with an empty name, not a crash
            // (the long fuzz run found `==`, which split into nothing).
            let kv = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let key = String(kv[0])
            guard raw[key] == nil else { throw SAMLError(.malformed, "a query parameter appears twice", detail: key) }
            raw[key] = kv.count > 1 ? String(kv[1]) : ""
        }
        guard let encoded = raw[parameter], let value = formDecode(encoded) else {
            throw SAMLError(.malformed, "the \(parameter) parameter is missing")
        }
        guard value.utf8.count < 4 * maxInflatedBytes, let compressed = Data(base64Encoded: value, options: .ignoreUnknownCharacters) else {
            throw SAMLError(.malformed, "\(parameter) is not base64")
        }
        let xml: [UInt8]
        do {
            xml = try Inflater.raw(Array(compressed), limit: maxInflatedBytes)
        } catch {
            throw SAMLError(.malformed, "\(parameter) is not DEFLATE data", detail: "\(error)")
        }
        let relayState = raw["RelayState"].flatMap(formDecode)
        var signature: SAMLInboundMessage.RedirectSignature?
        if let sig = raw["Signature"] {
            guard let sigAlgRaw = raw["SigAlg"], let sigAlg = formDecode(sigAlgRaw),
                let sigText = formDecode(sig), let sigBytes = Data(base64Encoded: sigText, options: .ignoreUnknownCharacters)
            else {
                throw SAMLError(.signatureInvalid, "the request signature is malformed")
            }
            var signed = "\(parameter)=\(encoded)"
            if let rs = raw["RelayState"] { signed += "&RelayState=\(rs)" }
            signed += "&SigAlg=\(sigAlgRaw)"
            signature = .init(signedBytes: Array(signed.utf8), algorithm: sigAlg, signature: Array(sigBytes))
        }
        return SAMLInboundMessage(xml: xml, relayState: relayState, binding: .redirect, redirectSignature: signature)
    }

    /// `application/x-www-form-urlencoded` decoding of one value.
    static func formDecode(_ s: String) -> String? {
        s.replacingOccurrences(of: "+", with: " ").removingPercentEncoding
    }

    /// Verifies a detached Redirect signature with the service provider's configured certificate.
    /// Only RSA-SHA256 (and RSA-SHA384/512) are accepted; SHA-1 is refused.
    public static func verify(_ signature: SAMLInboundMessage.RedirectSignature, certificate: Certificate) throws(SAMLError) {
        guard let key = _RSA.Signing.PublicKey(certificate.publicKey) else {
            throw SAMLError(.signatureInvalid, "the request signature cannot be checked", detail: "SP certificate is not RSA")
        }
        let rsa = _RSA.Signing.RSASignature(rawRepresentation: signature.signature)
        let ok: Bool
        switch signature.algorithm {
        case "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256":
            ok = key.isValidSignature(rsa, for: SHA256.hash(data: signature.signedBytes), padding: .insecurePKCS1v1_5)
        case "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384":
            ok = key.isValidSignature(rsa, for: SHA384.hash(data: signature.signedBytes), padding: .insecurePKCS1v1_5)
        case "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512":
            ok = key.isValidSignature(rsa, for: SHA512.hash(data: signature.signedBytes), padding: .insecurePKCS1v1_5)
        default:
            throw SAMLError(.signatureInvalid, "the request signature algorithm is not accepted", detail: signature.algorithm)
        }
        guard ok else { throw SAMLError(.signatureInvalid, "the request signature does not verify") }
    }

    /// Encodes a message for the Redirect binding: the query string (no leading `?`), signed
    /// with RSA-SHA256 when a key is given.
    public static func encode(
        _ xml: [UInt8], parameter: String = "SAMLRequest", relayState: String?,
        signingKey: _RSA.Signing.PrivateKey? = nil
    ) throws -> String {
        var query = "\(parameter)=\(formEncode(Data(Deflate.stored(xml)).base64EncodedString()))"
        if let relayState { query += "&RelayState=\(formEncode(relayState))" }
        if let signingKey {
            query += "&SigAlg=\(formEncode(SAML.rsaSHA256))"
            let signature = try signingKey.signature(for: SHA256.hash(data: Array(query.utf8)), padding: .insecurePKCS1v1_5)
            query += "&Signature=\(formEncode(signature.rawRepresentation.base64EncodedString()))"
        }
        return query
    }

    static func formEncode(_ s: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return s.addingPercentEncoding(withAllowedCharacters: allowed) ?? s
    }
}

/// HTTP-POST binding (SAML bindings §3.5): base64 of the XML in a form field.
public enum SAMLPOSTBinding {
    public static let maxBytes = 512 * 1024

    public static func decode(form: [String: String], parameter: String = "SAMLRequest") throws(SAMLError) -> SAMLInboundMessage {
        guard let value = form[parameter], !value.isEmpty else { throw SAMLError(.malformed, "the \(parameter) field is missing") }
        guard value.utf8.count < 2 * maxBytes, let bytes = Data(base64Encoded: value, options: .ignoreUnknownCharacters) else {
            throw SAMLError(.malformed, "\(parameter) is not base64")
        }
        return SAMLInboundMessage(xml: Array(bytes), relayState: form["RelayState"], binding: .post, redirectSignature: nil)
    }
}

/// DEFLATE output as stored blocks (RFC 1951 §3.2.4): valid raw DEFLATE any inflater reads. SAML
/// messages are small, so compression is not worth its code.
public enum Deflate {
    public static func stored(_ bytes: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        var offset = 0
        repeat {
            let count = min(65_535, bytes.count - offset)
            let final: UInt8 = offset + count == bytes.count ? 1 : 0
            out.append(final) // BFINAL, BTYPE=00
            out += [UInt8(count & 0xFF), UInt8(count >> 8), UInt8(~count & 0xFF), UInt8((~count >> 8) & 0xFF)]
            out += bytes[offset..<offset + count]
            offset += count
        } while offset < bytes.count
        return out
    }
}
