import Foundation
import SigilCore
import SigilServices
import SigilStore
import SigilTestSupport
import Testing

/// Signing keys at rest (`KeyService`).
@Suite struct KeyServiceTests {
    @Test(arguments: Backend.enabled) func privateKeysAreSealedAtRestAndDecryptToTheirKid(_ backend: Backend) async throws {
        try await withServices(backend) { h in
            let records = try await h.services.keys.list(tenantID: h.tenant.id)
            #expect(!records.isEmpty)
            for record in records {
                #expect(record.sealedPrivateKey.hasPrefix("v1."))
                #expect(try h.services.keys.decrypt(record).kid == record.kid)
                // Sealed for this row only: moving the ciphertext to another kid fails.
                var moved = record
                moved.kid = "another"
                #expect(throws: (any Error).self) { try h.services.keys.decrypt(moved) }
            }
        }
    }
}
