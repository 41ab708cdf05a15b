import Foundation
import SigilCore
import SigilFlows
import SigilSQLStore
import SigilStore
import SigilTestSupport
import Testing

/// Conformance for migration 16: pending flow rows of a kind, of every tenant, due by a time
/// (the expiry pass that decides unanswered step-up challenges before their rows go).
@Suite("Store conformance: flow rows due")
struct FlowRowsDueConformanceTests {
    let f = Fixtures()

    func challenge(_ store: SQLStore, _ tenant: Tenant, expiresIn seconds: TimeInterval, state: FlowPhase = .pending) async throws -> LoginTransaction {
        let now = f.clock.now()
        let payload = StepUpChallenge(
            keyID: "cnk_1", pushID: "ltx_1", reason: nil, linkHash: "h", redirectURL: nil, requireBiometric: true,
            answerBy: now.addingTimeInterval(seconds))
        return try await store.loginTransactions.create(
            LoginTransaction(
                id: f.ids.make(.stepUpChallenge), tenantID: tenant.id, flow: .stepUpChallenge(payload), state: state, challenge: "c",
                createdAt: now, updatedAt: now, expiresAt: now.addingTimeInterval(seconds)))
    }

    @Test(arguments: Backend.enabled)
    func pendingRowsOfAKindAreListedOncePastTheirTime(_ backend: Backend) async throws {
        try await withFreshStore(backend) { (store: SQLStore) async throws in
            let acme = try await store.tenants.create(f.tenant("acme"))
            let globex = try await store.tenants.create(f.tenant("globex"))
            let now = f.clock.now()
            let early = try await challenge(store, acme, expiresIn: 10)
            let later = try await challenge(store, globex, expiresIn: 20)
            _ = try await challenge(store, acme, expiresIn: 300)
            _ = try await challenge(store, acme, expiresIn: 5, state: .denied)
            let due = try await store.loginTransactions.listDue(kind: .stepUpChallenge, before: now.addingTimeInterval(60), limit: 10)
            // Both tenants, oldest deadline first; not the one due later, nor a decided one.
            #expect(due.map(\.id) == [early.id, later.id])
            #expect(try await store.loginTransactions.listDue(kind: .stepUpChallenge, before: now.addingTimeInterval(60), limit: 1).map(\.id) == [early.id])
            #expect(try await store.loginTransactions.listDue(kind: .authenticatorPush, before: now.addingTimeInterval(600), limit: 10).isEmpty)
            #expect(try await store.loginTransactions.listDue(kind: .stepUpChallenge, before: now, limit: 10).isEmpty)
        }
    }
}
