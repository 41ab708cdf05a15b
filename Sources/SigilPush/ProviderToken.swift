import Foundation
import SigilCore

/// Compact JWS helpers for the provider credentials (APNs ES256 JWT, Google RS256 assertion).
enum CompactJWT {
    /// `base64url(header) "." base64url(claims)`; the JSON is built in a fixed order.
    static func signingInput(header: String, claims: String) -> String {
        Base64URL.encode(Array(header.utf8)) + "." + Base64URL.encode(Array(claims.utf8))
    }

    static func assemble(signingInput: String, signature: some DataProtocol) -> String {
        signingInput + "." + Base64URL.encode(signature)
    }
}

/// One cached credential (an APNs provider JWT or an OAuth access token), refreshed when it is too
/// old or when the provider refuses it. Concurrent callers share a single refresh.
actor CredentialCache {
    struct Entry: Sendable {
        var value: String
        var validUntil: Date
    }

    private var entry: Entry?
    private var refreshing: Task<Entry, any Error>?
    private let make: @Sendable () async throws -> Entry
    private let clock: any SigilClock

    init(clock: any SigilClock, make: @escaping @Sendable () async throws -> Entry) {
        self.clock = clock
        self.make = make
    }

    func current() async throws -> String {
        if let entry, clock.now() < entry.validUntil { return entry.value }
        if let refreshing { return try await refreshing.value.value }
        let task = Task { try await make() }
        refreshing = task
        defer { refreshing = nil }
        let fresh = try await task.value
        entry = fresh
        return fresh.value
    }

    /// Drops `value` if it is still the cached one (the provider said it expired or is invalid).
    func invalidate(_ value: String) {
        if entry?.value == value { entry = nil }
    }
}
