import Crypto
import Foundation
import SigilCore
import SigilIDV
import SigilJOSE
import SigilOAuth
import SigilStore
import Synchronization

/// A document every client of a tenant gets byte for byte (OIDC discovery, the JWKS, SAML IdP
/// metadata), kept as the bytes to send with a strong entity tag (`"` + SHA-256 of the bytes, in
/// hex, + `"`), so routes answer a repeated GET with `304 Not Modified`.
public struct PublishedDocument: Sendable, Equatable {
    public let bytes: [UInt8]
    public let etag: String

    public init(bytes: [UInt8]) {
        self.bytes = bytes
        etag = "\"" + hexEncoded(SHA256.hash(data: bytes)) + "\""
    }
}

/// What tenant resolution and the published documents would otherwise read from the store on
/// every request: tenants by slug and by host (including "no such tenant": most requests carry a
/// `Host` no tenant registered, and fall back to `default`), and the serialised discovery
/// document, JWKS and SAML metadata per tenant and issuer.
///
/// Correctness rules:
/// - **Keys carry the tenant.** A document's key is (kind, tenant id, issuer): one tenant's
///   document is never found under another's key, and a tenant reached by `/t/{slug}` and by its
///   host gets a document per issuer.
/// - **Changes empty it.** Whatever changes a tenant or its keys (`TenantService.create`,
///   `KeyService.rotate`, `ensureAllAlgorithms`) calls `ServiceContext.tenantDocumentsChanged()`
///   after its commit: that empties this node's cache at once and publishes
///   `TenantDocumentCache.changeKey` on `Store.signals` (PostgreSQL NOTIFY to every node;
///   in process for SQLite). Every node runs `TenantService.followChanges()`, which empties its
///   cache when the key is published.
/// - **No stale refill.** A fill records the cache's generation before it reads the store and is
///   dropped if the cache was emptied meanwhile (a read from before a change, stored after it).
/// - **Bounded staleness without a signal.** A signal can be missed (a PostgreSQL listener
///   reconnecting; a CLI command on SQLite runs in another process, whose in-process signal the
///   server never hears), so an entry is also re-read after `maximumAge` on the context's clock.
/// - **Bounded size.** When full it is emptied (a refill is one or two store reads).
public final class TenantDocumentCache: Sendable {
    /// The change-signal key published after a tenant or its keys changed.
    public static let changeKey = "sigil.tenant-documents"
    /// How long an entry is served without a signal; a change made where no signal reaches this
    /// node shows here after at most this long.
    public static let maximumAge: TimeInterval = 5
    static let capacity = 4096

    enum Key: Hashable, Sendable {
        case slug(String)
        case host(String)
        case document(kind: String, tenantID: String, issuer: String)
    }

    enum Value: Sendable {
        case tenant(Tenant?)
        case document(PublishedDocument)
    }

    struct Entry: Sendable {
        var value: Value
        var storedAt: Date
    }

    struct State: Sendable {
        var generation: UInt64 = 0
        var entries: [Key: Entry] = [:]
    }

    private let state = Mutex<State>(State())

    public init() {}

    /// Changes whenever the cache is emptied.
    var generation: UInt64 { state.withLock { $0.generation } }

    func value(_ key: Key, now: Date) -> Value? {
        state.withLock { state in
            guard let entry = state.entries[key] else { return nil }
            let age = now.timeIntervalSince(entry.storedAt)
            guard age >= 0, age < Self.maximumAge else { return nil }
            return entry.value
        }
    }

    /// Stores `value` unless the cache was emptied since `generation` was read.
    func store(_ key: Key, _ value: Value, now: Date, generation: UInt64) {
        state.withLock { state in
            guard state.generation == generation else { return }
            if state.entries.count >= Self.capacity { state.entries.removeAll() }
            state.entries[key] = Entry(value: value, storedAt: now)
        }
    }

    /// Empties the cache (a tenant or its keys changed, here or on another node).
    public func invalidateAll() {
        state.withLock { state in
            state.generation &+= 1
            state.entries.removeAll()
        }
    }

    /// How many entries are held (for tests and diagnostics).
    public var count: Int { state.withLock { $0.entries.count } }

    /// A tenant lookup through the cache (`nil`: no such tenant, also cached).
    func tenant(_ key: Key, clock: any SigilClock, load: () async throws -> Tenant?) async throws -> Tenant? {
        if case .tenant(let tenant)? = value(key, now: clock.now()) { return tenant }
        let generation = self.generation
        let tenant = try await load()
        store(key, .tenant(tenant), now: clock.now(), generation: generation)
        return tenant
    }

    /// A published document through the cache.
    func document(
        _ kind: String, tenantID: String, issuer: String, clock: any SigilClock, build: () async throws -> [UInt8]
    ) async throws -> PublishedDocument {
        let key = Key.document(kind: kind, tenantID: tenantID, issuer: issuer)
        if case .document(let document)? = value(key, now: clock.now()) { return document }
        let generation = self.generation
        let document = PublishedDocument(bytes: try await build())
        store(key, .document(document), now: clock.now(), generation: generation)
        return document
    }
}

extension ServiceContext {
    /// After a committed change to a tenant or its keys: empties this node's tenant documents
    /// and tells the other nodes to empty theirs.
    func tenantDocumentsChanged() async {
        tenantDocuments.invalidateAll()
        await store.signals.publish(TenantDocumentCache.changeKey)
    }
}

extension TenantService {
    /// Empties this node's tenant documents whenever any node announces a change to a tenant or
    /// its keys; returns when the task is cancelled (within `wakeInterval`). `sigil serve` runs it
    /// for the life of the server.
    public func followChanges(wakeInterval: Duration = .seconds(1)) async {
        let cache = context.tenantDocuments
        while !Task.isCancelled {
            if await context.store.signals.wait(for: TenantDocumentCache.changeKey, timeout: wakeInterval) {
                cache.invalidateAll()
            }
        }
    }
}

extension KeyService {
    /// The published key set as served at `/oauth2/jwks`, serialised once per tenant (sorted
    /// members, unescaped slashes) and kept in the tenant documents until the keys change.
    /// Verification never reads this: it reads the keys from the store (`jwks(tenantID:)`).
    public func publishedJWKS(tenantID: String) async throws -> PublishedDocument {
        try await context.tenantDocuments.document("jwks", tenantID: tenantID, issuer: "", clock: context.clock) {
            try JSONEncoder.sorted.encode(try await jwks(tenantID: tenantID)).map { $0 }
        }
    }
}

extension OAuthService {
    /// The OpenID Provider metadata for `issuer`, serialised once per tenant and issuer.
    public func discoveryDocument(tenantID: String, issuer: String) async throws -> PublishedDocument {
        let kind = policy.requirePAR ? "discovery+par" : "discovery"
        return try await context.tenantDocuments.document(kind, tenantID: tenantID, issuer: issuer, clock: context.clock) {
            // OpenID Connect for Identity Assurance 1.0 metadata beside the core (docs/idv.md).
            try JSONValue.object(
                Discovery.document(issuer: issuer, requirePAR: policy.requirePAR, acrValues: ACR.supported).merging(VerifiedClaims.discovery) { a, _ in a }
            ).serialized()
        }
    }
}

extension SAMLIdentityProviderService {
    /// The IdP metadata for `issuer` (signed or not), built and signed once per tenant, issuer and
    /// variant and kept until the keys change.
    public func publishedMetadata(tenantID: String, issuer: String, signed: Bool) async throws -> PublishedDocument {
        try await context.tenantDocuments.document(
            signed ? "saml-metadata+signed" : "saml-metadata", tenantID: tenantID, issuer: issuer, clock: context.clock
        ) {
            try await metadata(tenantID: tenantID, issuer: issuer, signed: signed)
        }
    }
}
