import Foundation
import SigilCore
import SigilJOSE
import SigilSQLStore
import SigilServices
import SigilStore
import SigilTestSupport
import Testing

/// Signed checkpoints, verification with them, and exports (docs/audit.md).
@Suite("Audit chain: checkpoints, verification, export")
struct AuditChainServiceTests {
    @Test(arguments: Backend.enabled)
    func checkpointsAreSignedByTheTenantKeyAndVerify(_ backend: Backend) async throws {
        try await withServices(backend) { h in
            _ = try await h.user("ada@example.com")
            _ = try await h.user("bob@example.com")
            let made = try await h.services.audit.checkpoint()
            let mine = try #require(made.first { $0.chain == h.tenant.id })
            let parsed = try JWS.parse(mine.signed)
            #expect(parsed.type == AuditService.checkpointType)
            // Anyone with the published JWKS can check it.
            #expect(JWS.verify(parsed, with: try await h.services.keys.jwks(tenantID: h.tenant.id)))
            #expect(parsed.payload["seq"]?.int == mine.sequence && parsed.payload["hash"]?.string == mine.hash)
            // Nothing moved: nothing new to sign.
            #expect(try await h.services.audit.checkpoint().isEmpty)
            let result = try await h.services.audit.verify(tenantID: nil, by: .cli)
            #expect(result.intact, "\(result.findings)")
            let report = try #require(result.chains.first { $0.chain == h.tenant.id })
            #expect(report.checkpointsVerified == 1 && report.lastGoodCheckpoint == mine.sequence)
            // A tenant-scoped admin token sees its own chain only.
            await #expect(throws: ServiceError.self) {
                _ = try await h.services.audit.verify(tenantID: nil, by: .adminToken(id: "adm_1", tenantID: h.tenant.id))
            }
        }
    }

    @Test(arguments: Backend.enabled)
    func aKeyRowTheAttackerAddedSignsNothing(_ backend: Backend) async throws {
        try await withServices(backend) { h in
            _ = try await h.user("ada@example.com")
            try await h.services.audit.checkpoint()
            // The attacker's own key, stored as if it were the tenant's (they cannot seal it with the master key).
            let attacker = try SigningKeyMaterial.generate(.rs256)
            let now = h.clock.now()
            _ = try await h.store.signingKeys.create(
                SigningKeyRecord(
                    kid: attacker.kid, tenantID: h.tenant.id, algorithm: "RS256", state: .retired, sealedPrivateKey: "v1.AAAA",
                    publicJWK: String(decoding: try JSONEncoder().encode(attacker.publicJWK), as: UTF8.self), certificatePEM: nil,
                    createdAt: now, updatedAt: now))
            let head = try #require(try await h.store.audit.chainHeads().first { $0.chain == h.tenant.id })
            let forged = try JWS.sign(
                payload: [
                    "chain": .string(h.tenant.id), "seq": .int(head.sequence + 5), "hash": .string(String(repeating: "b", count: 64)),
                    "iat": .int(Int64(now.timeIntervalSince1970)),
                ], key: attacker, type: AuditService.checkpointType)
            _ = try await h.store.audit.addCheckpoint(
                AuditCheckpoint(chain: h.tenant.id, sequence: head.sequence + 5, hash: String(repeating: "b", count: 64), signed: forged, createdAt: now))
            let report = try #require(try await h.services.audit.verify(tenantID: h.tenant.id, by: .cli).chains.first)
            let finding = try #require(report.findings.first)
            #expect(report.findings.count == 1 && finding.kind == .checkpointInvalid)
            #expect(finding.message.contains("does not open with this master key"))
        }
    }

    @Test(arguments: Backend.enabled)
    func theGlobalChainIsCheckpointedUnderTheMasterKey(_ backend: Backend) async throws {
        try await withServices(backend) { h in
            _ = try await h.services.adminTokens.create(tenantID: nil, name: "ops", by: .cli)
            let made = try await h.services.audit.checkpoint()
            #expect(made.contains { $0.chain.isEmpty && $0.signed.hasPrefix("mac.") })
            #expect(try await h.services.audit.verify(tenantID: nil, by: .cli).intact)
            // Another deployment's master key cannot vouch for it.
            let other = ServiceSet(
                context: ServiceContext(
                    store: h.store, clock: h.clock, random: InsecureSeededRandom(seed: "other"),
                    masterKey: try MasterKey(rawBytes: Array(repeating: 9, count: 32))))
            let global = try #require(try await other.audit.verify(tenantID: nil, by: .cli).chains.first { $0.chain.isEmpty })
            #expect(global.findings.map(\.kind) == [.checkpointInvalid])
        }
    }

    @Test(arguments: Backend.enabled)
    func anExportProvesItsRangeAndNothingElse(_ backend: Backend) async throws {
        try await withServices(backend) { h in
            for name in ["ada", "bob", "cy", "dee"] { _ = try await h.user("\(name)@example.com") }
            let jwks = try await h.services.keys.jwks(tenantID: h.tenant.id)
            // No checkpoint yet: the export makes one.
            let export = try await h.services.audit.export(tenantID: h.tenant.id, from: 2, to: 3, by: .cli)
            #expect(export.events.map(\.sequence) == [2, 3] && !export.links.isEmpty)
            #expect(export.verify(trusted: jwks).isEmpty)
            let roundTripped = try AuditExport.decode(try export.encoded())
            #expect(roundTripped.verify(trusted: jwks).isEmpty)

            var edited = roundTripped
            edited.events[0].event.actor = "admin_token:someone-else"
            #expect(!edited.verify(trusted: jwks).isEmpty)
            var dropped = roundTripped
            dropped.events.removeLast()
            #expect(!dropped.verify(trusted: jwks).isEmpty)
            var swapped = roundTripped
            swapped.events.swapAt(0, 1)
            #expect(!swapped.verify(trusted: jwks).isEmpty)
            let stranger = JWKSet(keys: [try SigningKeyMaterial.generate(.rs256).publicJWK])
            #expect(!roundTripped.verify(trusted: stranger).isEmpty)
            await #expect(throws: ServiceError.self) {
                _ = try await h.services.audit.export(tenantID: h.tenant.id, from: 99, to: nil, by: .cli)
            }
        }
    }
}
