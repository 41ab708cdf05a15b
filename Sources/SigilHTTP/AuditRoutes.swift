import Foundation
import HTTPTypes
import Hummingbird
import SigilJOSE
import SigilServices
import SigilStore

/// The tenant's newest signed audit checkpoint (docs/audit.md), published like its JWKS so that
/// anyone can keep copies outside Sigil's database: with those, `sigil audit verify --witness`
/// catches even a rollback that removed the checkpoints table's newer rows. It reveals how many
/// audit events the tenant has and, over time, how fast they come; nothing about them.
enum AuditRoutes {
    static func register(on router: Router<SigilRequestContext>, services: ServiceSet) {
        router.get("/.well-known/sigil-audit-checkpoint") { _, context in
            guard let checkpoint = try await services.audit.latestCheckpoint(tenantID: try context.requireTenant().id) else {
                throw Problem(status: .notFound, type: "not-found", title: "This tenant has no audit checkpoint yet")
            }
            let body: JSONValue = .object([
                "seq": .int(checkpoint.sequence), "hash": .string(checkpoint.hash), "checkpoint": .string(checkpoint.signed),
                "jwks_uri": .string(context.issuer + "/oauth2/jwks"),
            ])
            return Response(
                status: .ok,
                headers: [.contentType: "application/json", .cacheControl: "public, max-age=60", .accessControlAllowOrigin: "*"],
                body: .init(byteBuffer: ByteBuffer(bytes: try body.serialized())))
        }
    }
}
