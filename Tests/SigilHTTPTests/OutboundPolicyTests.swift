import Foundation
import Hummingbird
import HummingbirdTesting
import SigilCore
import SigilHTTP
import SigilServices
import Synchronization
import Testing

@testable import SigilRemote

/// Issue 11 item 9 over a live socket: the address checked is the one connected to. The policy's
/// own checks (refused URLs, address classes, one public error) are SigilServicesTests'
/// `OutboundPolicyTests`.
@Suite struct OutboundPolicyTests {
    /// A name that is not an IP literal to the URL check but resolves to loopback (glibc reads
    /// `2130706433` as 127.0.0.1): the resolved address is what is checked and connected to.
    @Test func resolvedAddressesAreCheckedNotJustTheName() async throws {
        let router = Router()
        router.get("/metadata") { _, _ in "<md/>" }
        let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)))
        try await app.test(.live) { client in
            let port = try #require(client.port)
            // Generous limits: this checks which address is used, and the full test run keeps both
            // cores busy for its first minute or two (one read timed out at 5 s there).
            let fetcher = HTTPDocumentFetcher(connectTimeout: .seconds(60), requestTimeout: .seconds(120))
            let url = try #require(URL(string: "http://2130706433:\(port)/metadata"))
            #expect(OutboundPolicy(environmentValue: "2130706433").refusal(url.absoluteString) == nil)
            await #expect(throws: RemoteFetchError.addressNotPermitted) {
                _ = try await fetcher.fetch(url, accept: "*/*", maxBytes: 1024, policy: OutboundPolicy(environmentValue: "other.example"))
            }
            // The same server, allowed by the operator, is read through the checked address.
            let allowed = try await fetcher.fetch(
                try #require(URL(string: "http://127.0.0.1:\(port)/metadata")), accept: "*/*", maxBytes: 1024,
                policy: OutboundPolicy(environmentValue: "127.0.0.1"))
            #expect(allowed.body == Array("<md/>".utf8))
        }
    }
}

/// Behind a TLS terminator every request comes from the proxy: per-address limits must use the
/// address it forwards, and only when the peer is a proxy the operator trusts.
@Suite struct TrustedProxiesTests {
    @Test func forwardedAddressIsUsedOnlyFromTrustedProxies() throws {
        let proxies = try #require(TrustedProxies("10.0.0.0/8, 127.0.0.1 ::1"))
        #expect(proxies.clientAddress(peer: "10.1.2.3", forwardedFor: ["203.0.113.9"]) == "203.0.113.9")
        // Hops appended by trusted proxies are skipped; what the client wrote itself is left of them.
        #expect(proxies.clientAddress(peer: "127.0.0.1", forwardedFor: ["6.6.6.6, 198.51.100.7", "10.9.9.9"]) == "198.51.100.7")
        // An untrusted peer's header is ignored.
        #expect(proxies.clientAddress(peer: "198.51.100.1", forwardedFor: ["1.1.1.1"]) == "198.51.100.1")
        #expect(TrustedProxies.none.clientAddress(peer: "10.1.2.3", forwardedFor: ["1.1.1.1"]) == "10.1.2.3")
        // Garbage stops the walk at the last good hop.
        #expect(proxies.clientAddress(peer: "10.1.2.3", forwardedFor: ["bogus"]) == "10.1.2.3")
        #expect(TrustedProxies("10.0.0.0/33") == nil && TrustedProxies("not-an-ip") == nil)
    }
}

/// Name resolution runs getaddrinfo on a thread of its own; a cancelled caller (graceful shutdown
/// cancelling a delivery loop) must get its answer at once, not after the resolver's timeouts.
@Suite struct OutboundResolverCancellationTests {
    @Test(.timeLimit(.minutes(1))) func aCancelledLookupAnswersWithoutWaitingForTheResolver() async throws {
        let entered = DispatchSemaphore(value: 0)
        let release = DispatchSemaphore(value: 0)
        let finished = DispatchSemaphore(value: 0)
        let lookup = Task {
            try await OutboundResolver.resolve("never.example", within: .seconds(3600)) { _ in
                entered.signal()
                release.wait()
                defer { finished.signal() }
                return [.init(bytes: [192, 0, 2, 1], text: "192.0.2.1")]
            }
        }
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            Thread.detachNewThread {
                entered.wait()
                done.resume()
            }
        }
        lookup.cancel()
        // The resolver is still blocked here: the answer can only be the cancellation.
        await #expect(throws: CancellationError.self) { try await lookup.value }
        release.signal()
        finished.wait()
    }

    @Test func aLookupCancelledBeforeItStartsNeverRuns() async throws {
        let ran = Mutex(false)
        let lookup = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            return try await OutboundResolver.resolve("never.example", within: .seconds(3600)) { _ in
                ran.withLock { $0 = true }
                return []
            }
        }
        await #expect(throws: CancellationError.self) { try await lookup.value }
        #expect(ran.withLock { $0 } == false)
    }

    /// A name nobody answers for fails as unreachable once the limit has passed, while the
    /// lookup itself is still blocked.
    @Test(.timeLimit(.minutes(1))) func aLookupPastItsLimitIsUnreachable() async throws {
        let release = DispatchSemaphore(value: 0)
        let finished = DispatchSemaphore(value: 0)
        do {
            _ = try await OutboundResolver.resolve("slow.example", within: .milliseconds(50)) { _ in
                release.wait()
                finished.signal()
                return [.init(bytes: [192, 0, 2, 9], text: "192.0.2.9")]
            }
            Issue.record("a lookup still blocked returned an answer")
        } catch RemoteFetchError.unreachable(let why) {
            #expect(why == "the host name did not resolve in time")
        }
        release.signal()
        finished.wait()
    }

    @Test func anAnswerStillArrivesWhenNobodyCancels() async throws {
        let addresses = try await OutboundResolver.resolve("fine.example", within: .seconds(3600)) { name in
            #expect(name == "fine.example")
            return [.init(bytes: [192, 0, 2, 7], text: "192.0.2.7")]
        }
        #expect(addresses.map(\.text) == ["192.0.2.7"])
        #expect(try await OutboundResolver.resolve("[::1]", within: .seconds(3600)) { _ in [] }.map(\.text) == ["::1"])
    }
}
