import Foundation
import SigilCore
import SigilStore
import SigilTestSupport
import Testing

@testable import SigilSQLStore

/// Conformance for connector API keys and idempotent answers (migration 15): keys found by hash,
/// listed per tenant, named uniquely among a tenant's unrevoked keys, revoked, expired and touched;
/// one stored answer per caller and key, unreadable once expired, swept.
@Suite("Store conformance: connector keys")
struct ConnectorKeyStoreConformanceTests {
    let f = Fixtures()

    func key(_ tenant: Tenant, _ name: String) -> ConnectorKey {
        let secret = "sck_" + UUID().uuidString
        return ConnectorKey(
            id: f.ids.make(.connectorKey), tenantID: tenant.id, name: name, keyHash: tokenHash(secret),
            displayPrefix: String(secret.prefix(8)), scopes: ["idv:write", "idv:read"],
            redirectOrigins: ["https://app.example", "https://flows.example:8443"], createdAt: f.clock.now())
    }

    func record(_ key: ConnectorKey, _ idempotencyKey: String, at: Date, lifetime: TimeInterval) -> IdempotencyRecord {
        IdempotencyRecord(
            tenantID: key.tenantID, keyID: key.id, idempotencyKey: idempotencyKey, requestHash: tokenHash("POST /sessions {}"),
            status: 201, sealedResponse: "sealed:\(UUID().uuidString)", createdAt: at, expiresAt: at.addingTimeInterval(lifetime))
    }

    @Test(arguments: Backend.enabled)
    func keysPerTenant(_ backend: Backend) async throws {
        try await withFreshStore(backend) { (store: SQLStore) async throws in
            let acme = try await store.tenants.create(f.tenant("acme"))
            let beta = try await store.tenants.create(f.tenant("beta"))
            let descope = key(acme, "descope")
            try await store.connectorKeys.create(descope)
            #expect(try await store.connectorKeys.find(keyHash: descope.keyHash) == descope)
            #expect(try await store.connectorKeys.find(keyHash: tokenHash("sck_unknown")) == nil)
            #expect(try await store.connectorKeys.get(tenantID: acme.id, id: descope.id) == descope)
            #expect(try await store.connectorKeys.get(tenantID: beta.id, id: descope.id) == nil)

            // Names are unique among a tenant's unrevoked keys; hashes everywhere.
            await #expect(throws: StoreError.alreadyExists("connector key")) { try await store.connectorKeys.create(key(acme, "descope")) }
            var twin = key(beta, "other")
            twin.keyHash = descope.keyHash
            await #expect(throws: StoreError.alreadyExists("connector key")) { try await store.connectorKeys.create(twin) }
            var orphan = key(acme, "orphan")
            orphan.tenantID = "ten_missing"
            await #expect(throws: StoreError.notFound("connector key")) { try await store.connectorKeys.create(orphan) }
            let betaDescope = key(beta, "descope")
            try await store.connectorKeys.create(betaDescope)
            f.clock.advance(by: 1)
            let zapier = key(acme, "zapier")
            try await store.connectorKeys.create(zapier)
            #expect(try await store.connectorKeys.list(tenantID: acme.id) == [descope, zapier])
            #expect(try await store.connectorKeys.list(tenantID: beta.id) == [betaDescope])

            // Revoked, a key keeps its row (and stays in the list) and frees its name.
            let revokedAt = f.clock.now()
            #expect(try await !store.connectorKeys.revoke(tenantID: beta.id, id: descope.id, at: revokedAt))
            #expect(try await store.connectorKeys.revoke(tenantID: acme.id, id: descope.id, at: revokedAt))
            #expect(try await !store.connectorKeys.revoke(tenantID: acme.id, id: descope.id, at: revokedAt))
            let revoked = try #require(try await store.connectorKeys.find(keyHash: descope.keyHash))
            #expect(revoked.revokedAt == revokedAt && !revoked.isActive(at: revokedAt))
            f.clock.advance(by: 1)
            let successor = key(acme, "descope")
            try await store.connectorKeys.create(successor)
            #expect(try await store.connectorKeys.list(tenantID: acme.id).map(\.id) == [descope.id, zapier.id, successor.id])

            // Rotation's overlap: the old key stops at a set time.
            let stop = f.clock.now().addingTimeInterval(3600)
            #expect(try await store.connectorKeys.expire(tenantID: acme.id, id: zapier.id, at: stop))
            #expect(try await !store.connectorKeys.expire(tenantID: beta.id, id: zapier.id, at: stop))
            #expect(try await !store.connectorKeys.expire(tenantID: acme.id, id: "cnk_missing", at: stop))
            let expiring = try #require(try await store.connectorKeys.get(tenantID: acme.id, id: zapier.id))
            #expect(expiring.expiresAt == stop && expiring.isActive(at: f.clock.now()) && !expiring.isActive(at: stop))

            // A use is noted; an older one never overwrites a newer one.
            let used = f.clock.now().addingTimeInterval(5)
            try await store.connectorKeys.touch(id: zapier.id, at: used)
            try await store.connectorKeys.touch(id: zapier.id, at: used.addingTimeInterval(-3))
            #expect(try await store.connectorKeys.get(tenantID: acme.id, id: zapier.id)?.lastUsedAt == used)
            try await store.connectorKeys.touch(id: "cnk_missing", at: used)
        }
    }

    @Test(arguments: Backend.enabled)
    func idempotentAnswers(_ backend: Backend) async throws {
        try await withFreshStore(backend) { (store: SQLStore) async throws in
            let acme = try await store.tenants.create(f.tenant("acme"))
            let caller = key(acme, "descope")
            let other = key(acme, "zapier")
            try await store.connectorKeys.create(caller)
            try await store.connectorKeys.create(other)
            let now = f.clock.now()
            let short = record(caller, "idem-1", at: now, lifetime: 60)
            let long = record(caller, "idem-2", at: now, lifetime: 86_400)
            try await store.connectorKeys.saveIdempotent(short)
            try await store.connectorKeys.saveIdempotent(long)
            // A concurrent duplicate is refused; the caller reads the first answer instead.
            var duplicate = short
            duplicate.sealedResponse = "sealed:second"
            await #expect(throws: StoreError.alreadyExists("idempotency record")) {
                try await store.connectorKeys.saveIdempotent(duplicate)
            }
            // Keys are per caller.
            try await store.connectorKeys.saveIdempotent(record(other, "idem-1", at: now, lifetime: 60))
            // A caller that is not a key: an OAuth client of the connector API (migration 19).
            var client = record(caller, "idem-3", at: now, lifetime: 60)
            client.keyID = "client:backend"
            try await store.connectorKeys.saveIdempotent(client)
            #expect(try await store.connectorKeys.idempotent(tenantID: acme.id, keyID: "client:backend", idempotencyKey: "idem-3", at: now) == client)

            func answer(_ idempotencyKey: String, at: Date) async throws -> IdempotencyRecord? {
                try await store.connectorKeys.idempotent(tenantID: acme.id, keyID: caller.id, idempotencyKey: idempotencyKey, at: at)
            }
            #expect(try await answer("idem-1", at: now) == short)
            #expect(try await answer("idem-9", at: now) == nil)
            // Expired answers are not returned.
            let expiry = short.expiresAt
            #expect(try await answer("idem-1", at: expiry) == nil)
            #expect(try await answer("idem-2", at: expiry) == long)

            // The sweep deletes the expired ones only.
            #expect(try await store.connectorKeys.deleteExpiredIdempotent(before: expiry) == 3)
            #expect(try await store.connectorKeys.deleteExpiredIdempotent(before: expiry) == 0)
            #expect(try await answer("idem-2", at: expiry) == long)

            // A key whose answer expired (and was not swept yet) takes a new one.
            let reused = record(caller, "idem-2", at: long.expiresAt, lifetime: 60)
            try await store.connectorKeys.saveIdempotent(reused)
            #expect(try await answer("idem-2", at: long.expiresAt) == reused)
        }
    }

    /// Hook sources (migration 17): named uniquely per tenant, only for the tenant's own keys,
    /// listed by name, deleted, and gone with their key's row.
    @Test(arguments: Backend.enabled)
    func hookSources(_ backend: Backend) async throws {
        try await withFreshStore(backend) { (store: SQLStore) async throws in
            let acme = try await store.tenants.create(f.tenant("acme"))
            let beta = try await store.tenants.create(f.tenant("beta"))
            let k = key(acme, "descope")
            try await store.connectorKeys.create(k)
            func source(_ tenant: Tenant, _ name: String, key: String) -> HookSource {
                HookSource(
                    id: f.ids.make(.hookSource), tenantID: tenant.id, name: name, connectorKeyID: key, signature: "rfc9421",
                    sealedSecret: "sealed:\(UUID().uuidString)", config: #"{"minimumRiskScore":50}"#, createdAt: f.clock.now())
            }
            let descope = source(acme, "descope", key: k.id)
            try await store.connectorKeys.createHookSource(descope)
            #expect(try await store.connectorKeys.hookSource(tenantID: acme.id, name: "descope") == descope)
            #expect(try await store.connectorKeys.hookSource(tenantID: beta.id, name: "descope") == nil)
            await #expect(throws: StoreError.alreadyExists("hook source")) {
                try await store.connectorKeys.createHookSource(source(acme, "descope", key: k.id))
            }
            // Another tenant's key, or none: not found.
            await #expect(throws: StoreError.notFound("connector key")) { try await store.connectorKeys.createHookSource(source(beta, "x", key: k.id)) }
            let risk = source(acme, "alpha-risk", key: k.id)
            try await store.connectorKeys.createHookSource(risk)
            #expect(try await store.connectorKeys.hookSources(tenantID: acme.id) == [risk, descope])
            #expect(try await store.connectorKeys.deleteHookSource(tenantID: acme.id, name: "alpha-risk"))
            #expect(try await !store.connectorKeys.deleteHookSource(tenantID: acme.id, name: "alpha-risk"))
            #expect(try await store.connectorKeys.hookSources(tenantID: acme.id) == [descope])
        }
    }
}
