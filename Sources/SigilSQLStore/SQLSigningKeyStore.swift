import Foundation
import SQLKit
import SigilStore

struct SQLSigningKeyStore: SigningKeyStore {
    let runner: SQLRunner
    static let columns = "kid, tenant_id, algorithm, state, sealed_private_key, public_jwk, certificate_pem, created_at, updated_at"

    func create(_ key: SigningKeyRecord) async throws -> SigningKeyRecord {
        try await runner.write("signing key") { db in
            try await db.raw(
                """
                INSERT INTO signing_keys (\(unsafeRaw: Self.columns))
                VALUES (\(bind: key.kid), \(bind: key.tenantID), \(bind: key.algorithm), \(bind: key.state.rawValue),
                        \(bind: key.sealedPrivateKey), \(bind: key.publicJWK), \(bind: key.certificatePEM),
                        \(bind: key.createdAt.ms), \(bind: key.updatedAt.ms))
                """
            ).run()
            return key
        }
    }

    func list(tenantID: String, forUpdate: Bool) async throws -> [SigningKeyRecord] {
        let lock = forUpdate ? runner.forUpdate : ""
        return try await runner.read("signing key") { db in
            try await db.raw(
                """
                SELECT \(unsafeRaw: Self.columns) FROM signing_keys WHERE tenant_id = \(bind: tenantID)
                ORDER BY created_at, kid\(unsafeRaw: lock)
                """
            ).all().map(Self.decode)
        }
    }

    func setState(tenantID: String, kid: String, state: SigningKeyState, at: Date) async throws {
        try await runner.write("signing key") { db in
            let rows = try await db.raw(
                """
                UPDATE signing_keys SET state = \(bind: state.rawValue), updated_at = \(bind: at.ms)
                WHERE tenant_id = \(bind: tenantID) AND kid = \(bind: kid) RETURNING kid
                """
            ).all()
            if rows.isEmpty { throw StoreError.notFound("signing key", kid) }
        }
    }

    static func decode(_ row: any SQLRow) throws -> SigningKeyRecord {
        guard let state = SigningKeyState(rawValue: try row.string("state")) else {
            throw StoreError(.unavailable, entity: "signing key", detail: "stored state is unknown")
        }
        return SigningKeyRecord(
            kid: try row.string("kid"), tenantID: try row.string("tenant_id"), algorithm: try row.string("algorithm"),
            state: state, sealedPrivateKey: try row.string("sealed_private_key"), publicJWK: try row.string("public_jwk"),
            certificatePEM: try row.optionalString("certificate_pem"), createdAt: try row.date("created_at"),
            updatedAt: try row.date("updated_at"))
    }
}
