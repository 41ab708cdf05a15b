import Foundation
import SigilServices
import Testing

/// Issue 11 item 9: outbound fetches chosen by tenant administrators (SP metadata, client
/// JWKS) cannot reach loopback, link-local or private addresses unless the operator allows a
/// host, and failures all read the same. That the address checked is the one connected to needs
/// a live socket: SigilHTTPTests' `OutboundPolicyTests.resolvedAddressesAreCheckedNotJustTheName`.
@Suite struct OutboundPolicyTests {
    @Test func urlsPointingInsideAreRefusedBeforeAnyLookUp() {
        let policy = OutboundPolicy()
        for url in [
            "https://127.0.0.1/m", "https://localhost/m", "https://a.localhost/m", "https://10.1.2.3/m", "https://172.20.0.1/m",
            "https://192.168.1.1/m", "https://169.254.169.254/latest/meta-data", "https://[::1]/m", "https://[fe80::1]/m",
            "https://[fd00::1]/m", "https://[::ffff:127.0.0.1]/m", "https://100.64.0.1/m", "https://0.0.0.0/m",
        ] {
            #expect(policy.refusal(url) == "must not point at a loopback, link-local or private address", "\(url)")
        }
        #expect(policy.refusal("http://127.0.0.1:8080/m") == "must not point at a loopback, link-local or private address")
        #expect(policy.refusal("http://sp.example.com/m") == "must use https")
        #expect(policy.refusal("https://sp.example.com/metadata") == nil)
        #expect(policy.refusal("https://93.184.216.34/m") == nil)
        let allowing = OutboundPolicy(environmentValue: "127.0.0.1, Metadata.Internal")
        #expect(allowing.refusal("http://127.0.0.1:8080/m") == nil)
        #expect(allowing.refusal("https://metadata.internal/m") == nil)
        #expect(allowing.refusal("https://10.0.0.1/m") != nil)
    }

    @Test func publicAddressClassification() {
        func ip(_ s: String) -> [UInt8] { IPAddress.parse(s)! }
        for address in ["8.8.8.8", "93.184.216.34", "2606:4700::1111", "2001:4860:4860::8888"] {
            #expect(OutboundPolicy.isPublic(ip(address)), "\(address)")
        }
        for address in [
            "127.0.0.1", "10.0.0.1", "172.16.0.1", "172.31.255.255", "192.168.0.1", "169.254.1.1", "100.64.0.1", "0.0.0.0",
            "224.0.0.1", "255.255.255.255", "198.18.0.1", "::", "::1", "fe80::1", "fc00::1", "fd12:3456::1", "ff02::1",
            "::ffff:10.0.0.1", "64:ff9b::a00:1", "2002:7f00:1::1", "2001:db8::1",
        ] {
            #expect(!OutboundPolicy.isPublic(ip(address)), "\(address)")
        }
        #expect(IPAddress.parse("1.2.3") == nil && IPAddress.parse("01.2.3.4") == nil && IPAddress.parse("1:2:3") == nil)
        #expect(IPAddress.parse("::ffff:1.2.3.4") == [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 1, 2, 3, 4])
    }

    @Test func unreachableTargetsAllReadTheSame() {
        let messages = Set(
            [
                RemoteFetchError.status(404), .status(500), .timeout, .unreachable("connection refused"), .addressNotPermitted,
                .tooLarge(10),
            ].map(\.publicDescription))
        #expect(messages.count == 1)
        #expect(RemoteFetchError.notAllowed("must use https").publicDescription.contains("must use https"))
    }
}
