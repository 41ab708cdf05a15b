import Crypto
import Foundation
import SigilCore
import Testing

/// RFC 9421 HMAC signatures and RFC 9530 digests, as inbound hooks check them.
@Suite struct HTTPMessageSignatureTests {
    /// RFC 9421 Appendix B.2.5 (HMAC-SHA256 over date, @authority and content-type).
    @Test func theRFCsOwnHMACExampleVerifies() throws {
        let secret = Array(Data(base64Encoded: "uzvJfB4u3N0Jy4T7NZ75MDVcr8zSTInedJtkgcu46YW4XByzNJjxBdtjUkdJPBtbmHhIDi6pcl8jsasjlTMtDQ==")!)
        let request = HTTPMessageSignature.Request(
            method: "POST", targetURI: "https://example.com/foo?param=Value&Pet=dog",
            headers: [
                "date": "Tue, 20 Apr 2021 02:07:55 GMT", "content-type": "application/json",
                "signature-input": #"sig-b25=("date" "@authority" "content-type");created=1618884473;keyid="test-shared-secret""#,
                "signature": "sig-b25=:pxcQw6G3AjtMBQjwo8XzkZf/bws5LelbaMk5rGIGtE8=:",
            ], body: Array(#"{"hello": "world"}"#.utf8))
        let verified = try HTTPMessageSignature.verifyHMAC(request, secret: secret, hookPolicy: false)
        #expect(verified.label == "sig-b25" && verified.keyID == "test-shared-secret" && verified.created == Date(timeIntervalSince1970: 1_618_884_473))
        // Under the hook policy the same signature is not enough: no method, target, digest or nonce.
        #expect(throws: HTTPMessageSignature.Failure.self) { try HTTPMessageSignature.verifyHMAC(request, secret: secret) }
        var other = request
        other.headers["date"] = "Tue, 20 Apr 2021 02:07:56 GMT"
        #expect(throws: HTTPMessageSignature.Failure.self) { try HTTPMessageSignature.verifyHMAC(other, secret: secret, hookPolicy: false) }
    }

    static func signed(
        _ body: String, secret: [UInt8], target: String = "https://id.example.com/api/v1/hooks/descope", created: Int = 1_800_000_000,
        nonce: String? = "n-1", components: [String] = ["@method", "@target-uri", "content-digest"]
    ) throws -> HTTPMessageSignature.Request {
        try HTTPMessageSignature.signHMAC(
            .init(method: "POST", targetURI: target, headers: [:], body: Array(body.utf8)), secret: secret, components: components,
            created: Int64(created), nonce: nonce, keyID: "k1")
    }

    @Test func aHookSignatureCoversMethodTargetAndBody() throws {
        let secret = Array("s3cret-s3cret-s3cret-s3cret-0001".utf8)
        let good = try Self.signed(#"{"id":"e1","type":"login.risk"}"#, secret: secret)
        let verified = try HTTPMessageSignature.verifyHMAC(good, secret: secret)
        #expect(verified.nonce == "n-1" && verified.created == Date(timeIntervalSince1970: 1_800_000_000))
        // @authority + @path instead of @target-uri is a target too.
        let split = try Self.signed("{}", secret: secret, components: ["@method", "@authority", "@path", "content-digest"])
        #expect(throws: Never.self) { try HTTPMessageSignature.verifyHMAC(split, secret: secret) }
        func refused(_ r: HTTPMessageSignature.Request, _ words: String, secret: [UInt8] = secret) {
            do {
                _ = try HTTPMessageSignature.verifyHMAC(r, secret: secret)
                Issue.record("accepted: \(words)")
            } catch { #expect(error.description.contains(words), "\(error)") }
        }
        var tampered = good
        tampered.body = Array(#"{"id":"e1","type":"user.registered"}"#.utf8)
        refused(tampered, "Content-Digest does not match")
        var moved = good
        moved.targetURI = "https://id.example.com/api/v1/hooks/other"
        refused(moved, "does not verify")
        refused(good, "does not verify", secret: Array("another-secret-another-secret-01".utf8))
        refused(try Self.signed("{}", secret: secret, nonce: nil), "nonce is required")
        refused(try Self.signed("{}", secret: secret, components: ["@method", "@target-uri"]), "content-digest must be covered")
        refused(try Self.signed("{}", secret: secret, components: ["@target-uri", "content-digest"]), "@method must be covered")
        var noHeaders = good
        noHeaders.headers["signature"] = nil
        refused(noHeaders, "are required")
        var two = good
        two.headers["signature-input"] = (good.headers["signature-input"] ?? "") + ", sig2=(\"@method\");created=1"
        refused(two, "exactly one")
        var badDigest = good
        badDigest.headers["content-digest"] = "md5=:AAAA:"
        refused(badDigest, "neither sha-256 nor sha-512")
    }

    @Test func compactJSONKeepsOrderAndStrings() {
        #expect(compactJSON(Array("{ \"b\" : 1,\n \"a\": \"x y\\\" z\" }".utf8)) == Array(#"{"b":1,"a":"x y\" z"}"#.utf8))
        #expect(compactJSON(Array(#"{"a": "open"#.utf8)) == nil)
    }
}
