import Foundation
import SigilCore
import SigilJOSE
import SigilSQLStore
import SigilStore
import SigilTestSupport
import Testing

@testable import SigilServices

/// Tenants and their published documents kept serialised (`TenantDocumentCache`): never one
/// tenant's document for another, emptied by every change to a tenant or its keys, here at once
/// and on other nodes through the change signal, and re-read after `maximumAge` when no signal
/// came. Nothing here measures time: the clock is the harness's `ManualClock`.
@Suite struct TenantDocumentsTests {
    static func kids(_ document: PublishedDocument) throws -> Set<String> {
        let set = try JSONDecoder().decode(JWKSet.self, from: Data(document.bytes))
        return Set(set.keys.compactMap(\.kid))
    }

    static func text(_ document: PublishedDocument) -> String { String(decoding: document.bytes, as: UTF8.self) }

    @Test(arguments: Backend.enabled) func eachTenantGetsItsOwnDocuments(_ backend: Backend) async throws {
        try await withServices(backend) { h in
            let s = h.services
            let acme = try await s.tenants.create(slug: "acme", host: "acme.example.com", by: .cli)
            let defaultJWKS = try await s.keys.publishedJWKS(tenantID: h.tenant.id)
            let acmeJWKS = try await s.keys.publishedJWKS(tenantID: acme.id)
            #expect(try Self.kids(defaultJWKS).isDisjoint(with: try Self.kids(acmeJWKS)))
            #expect(defaultJWKS.etag != acmeJWKS.etag)
            // Asked again in the other order, each still gets its own.
            #expect(try await s.keys.publishedJWKS(tenantID: acme.id) == acmeJWKS)
            #expect(try await s.keys.publishedJWKS(tenantID: h.tenant.id) == defaultJWKS)
            // The published bytes are the store's keys, as verification reads them.
            #expect(try Self.kids(defaultJWKS) == Set(try await s.keys.jwks(tenantID: h.tenant.id).keys.compactMap(\.kid)))

            // Discovery and SAML metadata: per tenant and per issuer.
            let issuerA = ServiceHarness.issuer + "/t/acme"
            let discoveryDefault = try await s.oauth.discoveryDocument(tenantID: h.tenant.id, issuer: ServiceHarness.issuer)
            let discoveryAcme = try await s.oauth.discoveryDocument(tenantID: acme.id, issuer: issuer(acme))
            let discoveryAcmePath = try await s.oauth.discoveryDocument(tenantID: acme.id, issuer: issuerA)
            #expect(Self.text(discoveryDefault).contains(#""issuer":"https://id.example.com""#))
            #expect(Self.text(discoveryAcme).contains(#""issuer":"https://acme.example.com""#))
            #expect(Self.text(discoveryAcmePath).contains(#""issuer":"https://id.example.com/t/acme""#))
            let metadataDefault = try await s.saml.publishedMetadata(tenantID: h.tenant.id, issuer: ServiceHarness.issuer, signed: false)
            let metadataAcme = try await s.saml.publishedMetadata(tenantID: acme.id, issuer: issuerA, signed: false)
            let metadataAcmeSigned = try await s.saml.publishedMetadata(tenantID: acme.id, issuer: issuerA, signed: true)
            #expect(metadataDefault.etag != metadataAcme.etag)
            #expect(Self.text(metadataAcme).contains(issuerA))
            #expect(!Self.text(metadataDefault).contains("/t/acme"))
            #expect(Self.text(metadataAcmeSigned).contains("SignatureValue"))
            #expect(!Self.text(metadataAcme).contains("SignatureValue"))
            let acmeCertificate = try await s.keys.currentCertificatePEM(tenantID: acme.id)
            let certificateBody = acmeCertificate.split(separator: "\n").filter { !$0.hasPrefix("-----") }.joined()
            #expect(Self.text(metadataAcme).contains(certificateBody))
            #expect(!Self.text(metadataDefault).contains(certificateBody))

            // Tenant resolution: by slug and by host, and "none" for an unknown host.
            #expect(try await s.tenants.resolve(host: "acme.example.com")?.id == acme.id)
            #expect(try await s.tenants.resolve(slug: "acme")?.id == acme.id)
            #expect(try await s.tenants.resolve(slug: Tenant.defaultSlug)?.id == h.tenant.id)
            #expect(try await s.tenants.resolve(host: "other.example.com") == nil)
            #expect(try await s.tenants.resolve(slug: "nobody") == nil)
        }
    }

    func issuer(_ tenant: Tenant) -> String { TenantService.issuer(of: tenant, publicURL: ServiceHarness.issuer) }

    @Test(arguments: Backend.enabled) func rotationReplacesThePublishedDocumentsAtOnce(_ backend: Backend) async throws {
        try await withServices(backend) { h in
            let s = h.services
            let jwks = try await s.keys.publishedJWKS(tenantID: h.tenant.id)
            let metadata = try await s.saml.publishedMetadata(tenantID: h.tenant.id, issuer: ServiceHarness.issuer, signed: false)
            let discovery = try await s.oauth.discoveryDocument(tenantID: h.tenant.id, issuer: ServiceHarness.issuer)
            let rotated = try await s.keys.rotate(tenantID: h.tenant.id, by: .cli)
            // No time passes: only the rotation can have emptied the cache.
            let after = try await s.keys.publishedJWKS(tenantID: h.tenant.id)
            #expect(after.etag != jwks.etag)
            #expect(try Self.kids(after).isSuperset(of: Set(rotated.map(\.next))))
            #expect(try Self.kids(after) == Set(try await s.keys.jwks(tenantID: h.tenant.id).keys.compactMap(\.kid)))
            #expect(try await s.saml.publishedMetadata(tenantID: h.tenant.id, issuer: ServiceHarness.issuer, signed: false).etag != metadata.etag)
            // Discovery does not depend on keys: the same bytes and tag again.
            #expect(try await s.oauth.discoveryDocument(tenantID: h.tenant.id, issuer: ServiceHarness.issuer) == discovery)
        }
    }

    @Test(arguments: Backend.enabled) func aNewTenantIsFoundAtOnceWhereItWasUnknown(_ backend: Backend) async throws {
        try await withServices(backend) { h in
            let s = h.services
            #expect(try await s.tenants.resolve(host: "beta.example.com") == nil)
            #expect(try await s.tenants.resolve(slug: "beta") == nil)
            let beta = try await s.tenants.create(slug: "beta", host: "beta.example.com", by: .cli)
            #expect(try await s.tenants.resolve(host: "beta.example.com")?.id == beta.id)
            #expect(try await s.tenants.resolve(slug: "beta")?.id == beta.id)
        }
    }

    /// A change that announces nothing (made behind the services' back, as a CLI command on SQLite
    /// is for the server) shows once the entry is older than `maximumAge`, and not before.
    @Test(arguments: Backend.enabled) func withoutASignalEntriesAreReadAgainAfterTheirMaximumAge(_ backend: Backend) async throws {
        try await withServices(backend) { h in
            let s = h.services
            let before = try await s.keys.publishedJWKS(tenantID: h.tenant.id)
            let next = try #require(try await h.store.signingKeys.list(tenantID: h.tenant.id, forUpdate: false).first { $0.state == .next })
            try await h.store.signingKeys.setState(tenantID: h.tenant.id, kid: next.kid, state: .retired, at: h.clock.now())
            #expect(try await s.keys.publishedJWKS(tenantID: h.tenant.id) == before)
            h.clock.advance(by: TenantDocumentCache.maximumAge - 0.001)
            #expect(try await s.keys.publishedJWKS(tenantID: h.tenant.id) == before)
            h.clock.advance(by: 0.002)
            let after = try await s.keys.publishedJWKS(tenantID: h.tenant.id)
            #expect(try Self.kids(after) == (try Self.kids(before)).subtracting([next.kid]))
        }
    }

    /// A document read from the store before a change and stored after it is not kept.
    @Test func aFillThatRacedAnInvalidationIsNotKept() async throws {
        let cache = TenantDocumentCache()
        let clock = ManualClock()
        let stale = try await cache.document("jwks", tenantID: "t1", issuer: "", clock: clock) {
            cache.invalidateAll() // the change lands while this fill is reading
            return Array("old".utf8)
        }
        #expect(stale.bytes == Array("old".utf8))
        #expect(cache.count == 0)
        let fresh = try await cache.document("jwks", tenantID: "t1", issuer: "", clock: clock) { Array("new".utf8) }
        #expect(fresh.bytes == Array("new".utf8))
        #expect(cache.count == 1)
        // Same kind and issuer, another tenant: a separate entry, never the first one's bytes.
        let other = try await cache.document("jwks", tenantID: "t2", issuer: "", clock: clock) { Array("t2".utf8) }
        #expect(other.bytes == Array("t2".utf8))
        let again = try await cache.document("jwks", tenantID: "t1", issuer: "", clock: clock) { Array("unused".utf8) }
        #expect(again == fresh)
    }

    @Test func entityTagsAreStrongAndFollowTheBytes() {
        let a = PublishedDocument(bytes: Array("{}".utf8))
        #expect(a.etag.hasPrefix("\"") && a.etag.hasSuffix("\"") && !a.etag.hasPrefix("W/"))
        #expect(a.etag == PublishedDocument(bytes: Array("{}".utf8)).etag)
        #expect(a.etag != PublishedDocument(bytes: Array("{ }".utf8)).etag)
    }

    /// Node A rotates; node B (its own services and caches over the same database: the one
    /// SQLite store, or two PostgreSQL stores with LISTEN/NOTIFY between them) serves the new JWKS
    /// once its follower hears the signal. The clock never moves, so `maximumAge` cannot be what
    /// refreshed it.
    @Test(arguments: Backend.enabled) func anotherNodeFollowsARotation(_ backend: Backend) async throws {
        switch backend {
        case .sqlite:
            try await withFreshStore(.sqlite) { store in try await Self.acrossNodes(store, store) }
        case .postgres:
            let (url, drop) = try await freshPostgresDatabase()
            do {
                let storeA = try await testPostgresStore(url: url)
                try await storeA.migrate()
                let storeB = try await testPostgresStore(url: url)
                do { try await Self.acrossNodes(storeA, storeB) } catch {
                    try? await storeA.close()
                    try? await storeB.close()
                    throw error
                }
                try await storeA.close()
                try await storeB.close()
            } catch {
                try? await drop()
                throw error
            }
            try await drop()
        }
    }

    static func acrossNodes(_ storeA: any Store, _ storeB: any Store) async throws {
        let clock = ManualClock()
        let key = try MasterKey(rawBytes: Array(repeating: 7, count: 32))
        let nodeA = ServiceSet(context: ServiceContext(store: storeA, clock: clock, masterKey: key))
        let nodeB = ServiceSet(context: ServiceContext(store: storeB, clock: clock, masterKey: key))
        let tenant = try await nodeA.tenants.ensureDefault()
        let before = try await nodeB.keys.publishedJWKS(tenantID: tenant.id)
        #expect(try await nodeB.tenants.resolve(slug: Tenant.defaultSlug)?.id == tenant.id)
        let follower = Task { await nodeB.tenants.followChanges(wakeInterval: .milliseconds(200)) }
        let rotated = try await nodeA.keys.rotate(tenantID: tenant.id, by: .cli)
        // A notification is an edge: if B's follower was between two waits when A announced, A
        // announces again (each announcement still has to cross from A to B through the signal).
        var after = try await nodeB.keys.publishedJWKS(tenantID: tenant.id)
        var announcements = 0
        while after == before && announcements < 300 {
            try await Task.sleep(for: .milliseconds(100))
            await storeA.signals.publish(TenantDocumentCache.changeKey)
            announcements += 1
            after = try await nodeB.keys.publishedJWKS(tenantID: tenant.id)
        }
        follower.cancel()
        await follower.value
        #expect(after != before)
        #expect(try kids(after).isSuperset(of: Set(rotated.map(\.next))))
    }
}
