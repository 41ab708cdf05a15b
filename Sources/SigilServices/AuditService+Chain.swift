import Foundation
import SigilCore
import SigilJOSE
import SigilStore

/// The tamper-evident side of the audit log (docs/audit.md): signed checkpoints of each chain,
/// verification of the whole table, and export of a range with the proof that it belongs to a
/// signed chain.
extension AuditService {
    /// The `typ` of a checkpoint JWS.
    public static let checkpointType = "sigil-audit-checkpoint+jwt"
    /// The MAC purpose of the global chain's checkpoints.
    static let globalCheckpointPurpose = "audit-checkpoint/global"
    /// Rows read per query while verifying or exporting.
    static let batch = 2_000

    // MARK: Checkpoints

    /// Signs a checkpoint for every chain whose head moved past its newest checkpoint. Any node may
    /// run this; two nodes signing the same position store one. Returns the checkpoints made here.
    @discardableResult
    public func checkpoint() async throws -> [AuditCheckpoint] {
        var made: [AuditCheckpoint] = []
        for head in try await context.store.audit.chainHeads() where head.sequence > 0 {
            let newest = try await context.store.audit.checkpoints(chain: head.chain).last
            if let newest, newest.sequence >= head.sequence { continue }
            if let checkpoint = try await checkpoint(head), try await context.store.audit.addCheckpoint(checkpoint) {
                made.append(checkpoint)
            }
        }
        return made
    }

    /// The chain's head now, signed (not stored). Nil for a tenant that no longer exists.
    func checkpoint(_ head: AuditChainHead) async throws -> AuditCheckpoint? {
        let now = context.clock.now()
        let payload: [String: JSONValue] = [
            "chain": .string(head.chain), "seq": .int(head.sequence), "hash": .string(head.hash),
            "iat": .int(Int64(now.timeIntervalSince1970)),
        ]
        let signed: String
        if head.chain.isEmpty {
            signed = try Self.macToken(payload, masterKey: context.masterKey)
        } else {
            guard (try? await context.store.tenants.get(id: head.chain)) != nil else { return nil }
            let key = try await KeyService(context: context).currentSigningKey(tenantID: head.chain, algorithm: .rs256)
            signed = try JWS.sign(payload: payload, key: key, type: Self.checkpointType)
        }
        return AuditCheckpoint(chain: head.chain, sequence: head.sequence, hash: head.hash, signed: signed, createdAt: now)
    }

    /// `mac.` ‖ base64url(payload) ‖ `.` ‖ base64url(HMAC-SHA256 under a key derived from the
    /// master key). Global events have no tenant key; whoever verifies them holds the master key.
    static func macToken(_ payload: [String: JSONValue], masterKey: MasterKey) throws -> String {
        let input = "mac." + Base64URL.encode(try JSONValue.object(payload).serialized())
        return input + "." + Base64URL.encode(masterKey.authenticationCode(Array(input.utf8), purpose: globalCheckpointPurpose))
    }

    /// What a stored checkpoint's signature covers, checked. Only keys this deployment made count:
    /// the key row must open with the master key and its private key must match the public key
    /// that verifies, so a key row an attacker added to the table (with their own public key) signs
    /// nothing that verifies here.
    func check(_ checkpoint: AuditCheckpoint, chain: String) async -> CheckedCheckpoint {
        let fallback = CheckedCheckpoint(sequence: checkpoint.sequence, hash: checkpoint.hash, issuedAt: checkpoint.createdAt)
        func failed(_ problem: String) -> CheckedCheckpoint {
            var result = fallback
            result.problem = problem
            return result
        }
        let payload: [String: JSONValue]
        if chain.isEmpty {
            let parts = checkpoint.signed.split(separator: ".", omittingEmptySubsequences: false)
            guard parts.count == 3, parts[0] == "mac", let body = Base64URL.decode(String(parts[1])),
                let mac = Base64URL.decode(String(parts[2])), let object = (try? JSONValue.parse(body))?.object
            else { return failed("not a checkpoint token") }
            let expected = context.masterKey.authenticationCode(Array("mac.\(parts[1])".utf8), purpose: Self.globalCheckpointPurpose)
            guard constantTimeEquals(expected, mac) else { return failed("its MAC does not verify under this master key (forged or altered)") }
            payload = object
        } else {
            guard let parsed = try? JWS.parse(checkpoint.signed), parsed.type == Self.checkpointType, let kid = parsed.keyID else {
                return failed("not a checkpoint JWS")
            }
            guard let records = try? await context.store.signingKeys.list(tenantID: chain, forUpdate: false),
                let record = records.first(where: { $0.kid == kid })
            else { return failed("it names key \(kid), which this tenant does not have") }
            let keys = KeyService(context: context)
            guard let material = try? keys.decryptUncached(record), material.kid == record.kid else {
                return failed("key \(kid) does not open with this master key: the key row was not made by this deployment")
            }
            guard JWS.verify(parsed, with: material.publicJWK) else {
                return failed("its signature does not verify with key \(kid) (forged or altered)")
            }
            payload = parsed.payload
        }
        guard payload["chain"]?.string == chain, let sequence = payload["seq"]?.int, let hash = payload["hash"]?.string,
            let issued = payload["iat"]?.int
        else { return failed("its signed content names another chain or lacks a position") }
        let result = CheckedCheckpoint(sequence: sequence, hash: hash, issuedAt: Date(timeIntervalSince1970: Double(issued)))
        if sequence != checkpoint.sequence || hash != checkpoint.hash {
            // The columns were edited; the signed values are what counts, and the edit is a finding.
            var edited = result
            edited.problem = "its stored position or hash (\(checkpoint.sequence)) differs from what it signed (\(sequence)): the checkpoint row was edited"
            return edited
        }
        return result
    }

    /// What a checkpoint token says, unverified (to sort witnesses by chain).
    static func claims(of token: String) -> (chain: String, sequence: Int64, hash: String)? {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let body = Base64URL.decode(String(parts[1])), let payload = (try? JSONValue.parse(body))?.object,
            let chain = payload["chain"]?.string, let sequence = payload["seq"]?.int, let hash = payload["hash"]?.string
        else { return nil }
        return (chain, sequence, hash)
    }

    /// The newest stored checkpoint of a tenant's chain (what `/.well-known/sigil-audit-checkpoint`
    /// publishes), nil before the first one.
    public func latestCheckpoint(tenantID: String) async throws -> AuditCheckpoint? {
        try await context.store.audit.checkpoints(chain: tenantID).last
    }

    /// A tenant's checkpoints, oldest first (the admin API's `GET /audit-checkpoints`).
    public func checkpoints(tenantID: String, by principal: Principal) async throws -> [AuditCheckpoint] {
        try authorize(principal, tenantID)
        return try await context.store.audit.checkpoints(chain: tenantID)
    }

    // MARK: Verification

    /// Verifies one tenant's chain, or (global principals, `tenantID` nil) every chain and the rows
    /// that are in none.
    /// `witnesses` are checkpoint tokens kept outside the database (from the server's log or the
    /// published endpoint): checked like stored ones, they still count when an attacker has deleted
    /// the checkpoints table's rows and the events after them.
    public func verify(tenantID: String?, witnesses: [String] = [], by principal: Principal) async throws -> AuditVerification {
        if let tenantID {
            try authorize(principal, tenantID)
        } else if !principal.isGlobal {
            throw ServiceError(.forbidden, "verifying every tenant's audit log needs a global admin token")
        }
        let heads = try await context.store.audit.chainHeads()
        var chains = Set(heads.map(\.chain))
        if let tenantID {
            chains = [tenantID]
        } else {
            for tenant in try await allTenants() { chains.insert(tenant.id) }
        }
        var reports: [AuditChainReport] = []
        for chain in chains.sorted() {
            reports.append(try await verify(chain: chain, head: heads.first { $0.chain == chain }, witnesses: witnesses))
        }
        var unchained: [AuditFinding] = []
        var verifier = AuditChainVerifier(chain: tenantID ?? "")
        for row in try await context.store.audit.unchained(limit: 1_000) where tenantID == nil || row.event.tenantID == tenantID {
            verifier.consume(row)
        }
        unchained = verifier.finish(head: nil, checkpoints: []).findings.filter { $0.kind == .unchained }
        return AuditVerification(chains: reports, unchained: unchained)
    }

    func verify(chain: String, head: AuditChainHead?, witnesses: [String] = []) async throws -> AuditChainReport {
        var verifier = AuditChainVerifier(chain: chain)
        var after: Int64 = 0
        while true {
            let rows = try await context.store.audit.chained(chain: chain, after: after, limit: Self.batch)
            for row in rows { verifier.consume(row) }
            guard let last = rows.last?.sequence, rows.count == Self.batch else { break }
            after = last
        }
        var checked: [CheckedCheckpoint] = []
        let stored = try await context.store.audit.checkpoints(chain: chain)
        for checkpoint in stored {
            checked.append(await check(checkpoint, chain: chain))
        }
        for token in witnesses where !stored.contains(where: { $0.signed == token }) {
            guard let claimed = Self.claims(of: token), claimed.chain == chain else { continue }
            checked.append(
                await check(
                    AuditCheckpoint(chain: chain, sequence: claimed.sequence, hash: claimed.hash, signed: token, createdAt: context.clock.now()),
                    chain: chain))
        }
        return verifier.finish(head: head, checkpoints: checked)
    }

    private func allTenants() async throws -> [Tenant] { try await context.store.tenants.list() }

    // MARK: Export

    /// Events `from`…`to` of a tenant's chain with what proves them: the hash before the range, the
    /// content digests (not the contents) of the events after it up to a signed checkpoint, that
    /// checkpoint, and the tenant's public keys. Makes a fresh checkpoint when none covers `to` yet.
    public func export(tenantID: String, from: Int64, to: Int64?, by principal: Principal) async throws -> AuditExport {
        try authorize(principal, tenantID)
        guard from >= 1 else { throw ServiceError(.invalidInput, "the range starts at event 1 or later") }
        let head = try await context.store.audit.chainHeads().first { $0.chain == tenantID }
        guard let head, head.sequence >= from else {
            throw ServiceError(.invalidInput, "the tenant's audit chain has \(head?.sequence ?? 0) events; nothing at \(from)")
        }
        let last = min(to ?? head.sequence, head.sequence)
        guard last >= from else { throw ServiceError(.invalidInput, "the range ends before it starts") }
        var checkpoint = try await context.store.audit.checkpoints(chain: tenantID).first { $0.sequence >= last }
        if checkpoint == nil, let fresh = try await self.checkpoint(head) {
            _ = try await context.store.audit.addCheckpoint(fresh)
            checkpoint = fresh
        }
        guard let checkpoint else { throw StoreError.notFound("tenant", tenantID) }
        var events: [AuditExport.Entry] = []
        var links: [AuditExport.Link] = []
        var after = from - 1
        var previous: String?
        while after < checkpoint.sequence {
            let rows = try await context.store.audit.chained(chain: tenantID, after: after, limit: Self.batch)
            guard !rows.isEmpty else { break }
            for row in rows {
                guard let sequence = row.sequence, sequence <= checkpoint.sequence else { continue }
                if sequence <= last {
                    if previous == nil { previous = row.previousHash }
                    events.append(AuditExport.Entry(sequence: sequence, event: row.event))
                } else {
                    links.append(AuditExport.Link(sequence: sequence, digest: AuditChain.hex(AuditChain.contentDigest(row.event))))
                }
            }
            after = rows.last?.sequence ?? checkpoint.sequence
        }
        let keys = try await KeyService(context: context).jwks(tenantID: tenantID)
        return AuditExport(
            format: AuditExport.formatName, chain: tenantID, previousHash: previous ?? AuditChain.genesis, events: events, links: links,
            checkpoint: checkpoint.signed, keys: keys)
    }
}

/// `sigil audit verify`'s answer.
public struct AuditVerification: Sendable, Equatable {
    public var chains: [AuditChainReport]
    public var unchained: [AuditFinding]

    public var intact: Bool { unchained.isEmpty && chains.allSatisfy(\.intact) }
    public var findings: [AuditFinding] { chains.flatMap(\.findings) + unchained }
}

/// A range of one tenant's audit chain with its proof, as `sigil audit export` writes it.
public struct AuditExport: Codable, Sendable, Equatable {
    public static let formatName = "sigil-audit-export/1"

    public struct Entry: Codable, Sendable, Equatable {
        public var sequence: Int64
        public var event: AuditEvent
    }

    /// An event after the range, by its content digest only.
    public struct Link: Codable, Sendable, Equatable {
        public var sequence: Int64
        public var digest: String
    }

    public var format: String
    public var chain: String
    /// `hash` of the event before the first exported one (the genesis hash when the range starts at 1).
    public var previousHash: String
    public var events: [Entry]
    public var links: [Link]
    /// The checkpoint JWS the chain is proven against.
    public var checkpoint: String
    /// The tenant's published keys when the export was made (a verifier should prefer keys it
    /// fetched itself from the tenant's JWKS).
    public var keys: JWKSet

    enum CodingKeys: String, CodingKey {
        case format, chain, events, links, checkpoint, keys
        case previousHash = "previous_hash"
    }

    /// The file form: JSON, event times in milliseconds (what the chain hashes), sorted keys.
    public func encoded() throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .millisecondsSince1970
        return Array(try encoder.encode(self))
    }

    public static func decode(_ bytes: [UInt8]) throws -> AuditExport {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .millisecondsSince1970
        return try decoder.decode(AuditExport.self, from: Data(bytes))
    }

    /// Recomputes the chain from `previousHash` through the events and the links, and checks that
    /// it reaches the hash the checkpoint signs with a key of `trusted` (or of the export's own
    /// keys). Returns problems; empty means the range is proven.
    public func verify(trusted: JWKSet? = nil) -> [String] {
        var problems: [String] = []
        guard format == Self.formatName else { return ["unknown format \(format)"] }
        guard let parsed = try? JWS.parse(checkpoint), parsed.type == AuditService.checkpointType else {
            return ["the checkpoint is not a checkpoint JWS"]
        }
        if !JWS.verify(parsed, with: trusted ?? keys) {
            problems.append("the checkpoint's signature does not verify with \(trusted == nil ? "the export's keys" : "the trusted keys")")
        }
        guard parsed.payload["chain"]?.string == chain, let signedSequence = parsed.payload["seq"]?.int,
            let signedHash = parsed.payload["hash"]?.string
        else { return problems + ["the checkpoint names another chain or no position"] }
        var hash = previousHash
        var expected = events.first?.sequence ?? 1
        for entry in events {
            guard entry.sequence == expected else {
                problems.append("event \(expected) is missing from the export")
                return problems
            }
            guard entry.event.tenantID == chain,
                let next = AuditChain.link(chain: chain, sequence: entry.sequence, previous: hash, contentDigest: AuditChain.contentDigest(entry.event))
            else { return problems + ["event \(entry.sequence) (\(entry.event.id)) cannot be linked"] }
            hash = next
            expected += 1
        }
        for link in links {
            guard link.sequence == expected, let digest = AuditChain.hexBytes(link.digest), digest.count == 32,
                let next = AuditChain.link(chain: chain, sequence: link.sequence, previous: hash, contentDigest: digest)
            else { return problems + ["the proof's link \(link.sequence) is missing or malformed"] }
            hash = next
            expected += 1
        }
        if expected - 1 != signedSequence || hash != signedHash {
            problems.append(
                "the events do not lead to the signed checkpoint (event \(signedSequence)): an exported event was changed, removed or reordered")
        }
        return problems
    }
}
