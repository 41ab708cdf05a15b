import Foundation
import SigilCore
import SigilSQLStore
import SigilServices
import SigilStore
import SigilTestSupport
import Testing

@Suite struct EnrolmentTests {
    @Test(arguments: Backend.enabled) func firstAdminLinksAreSingleUseExpireAndAreSwept(_ backend: Backend) async throws {
        try await withServices(backend) { h in
            let (store, clock, services, tenant) = (h.store, h.clock, h.services, h.tenant)

            let (link, expires) = try await services.enrolment.createFirstAdminLink(tenant: tenant, issuer: "https://id.example.com/", by: .system)
            #expect(expires == clock.now().addingTimeInterval(EnrolmentService.firstAdminLifetime))
            #expect(link.value.hasPrefix("https://id.example.com/enroll/sigil_en_"))
            #expect("\(link)" == "<redacted>")
            let token = String(link.value.split(separator: "/").last!)

            // The token is stored only as a hash.
            let events = try await store.audit.list(tenantID: tenant.id, page: PageRequest(limit: 10)).items
            #expect(events.contains { $0.action == "enrolment.link_created" })
            #expect(!String(decoding: try JSONEncoder().encode(events), as: UTF8.self).contains(token))

            let redeemed = try await services.enrolment.redeem(token: token)
            #expect(redeemed.purpose == .firstAdmin)
            await #expect(throws: StoreError.self) { _ = try await services.enrolment.redeem(token: token) }
            #expect(try await store.enrolmentTokens.anyConsumed(tenantID: tenant.id, purpose: .firstAdmin))

            let (second, _) = try await services.enrolment.createFirstAdminLink(tenant: tenant, issuer: "https://id.example.com", by: .system)
            clock.advance(by: EnrolmentService.firstAdminLifetime + 1)
            await #expect(throws: StoreError.self) { _ = try await services.enrolment.redeem(token: String(second.value.split(separator: "/").last!)) }
            #expect(try await services.expirySweep.run(now: clock.now()).enrolmentTokens == 2)
            #expect(try await services.expirySweep.run(now: clock.now()).enrolmentTokens == 0)
        }
    }
}
