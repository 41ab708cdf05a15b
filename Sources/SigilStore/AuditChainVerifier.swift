import Foundation

/// One thing `sigil audit verify` found wrong, in words an operator can act on.
public struct AuditFinding: Sendable, Equatable, Codable {
    public enum Kind: String, Sendable, Codable {
        /// An event's content no longer matches the hash written with it.
        case changed
        /// Positions in the chain with no event: deleted.
        case missing
        /// An intact event found at another position than the one it was written at.
        case reordered
        /// An event does not follow the one before it (the earlier one was rewritten with a new
        /// hash, or something between them was removed).
        case brokenLink = "broken_link"
        /// A row in the audit table that was never chained: written around Sigil.
        case unchained
        /// Events at the end of the chain are gone (the head or a checkpoint is further on).
        case truncated
        /// The head row disagrees with the last event.
        case headMismatch = "head_mismatch"
        /// The chain at a checkpoint's position is not what was signed there: rewritten and rehashed.
        case checkpointMismatch = "checkpoint_mismatch"
        /// A checkpoint whose signature does not verify with a key of this tenant.
        case checkpointInvalid = "checkpoint_invalid"
    }

    public var kind: Kind
    public var sequence: Int64?
    public var eventID: String?
    public var message: String

    public init(_ kind: Kind, sequence: Int64? = nil, eventID: String? = nil, _ message: String) {
        self.kind = kind; self.sequence = sequence; self.eventID = eventID; self.message = message
    }
}

/// A checkpoint as the verifier may use it: what its signature covers, and whether it verified.
public struct CheckedCheckpoint: Sendable, Equatable {
    public var sequence: Int64
    public var hash: String
    public var issuedAt: Date
    /// Nil when the signature verified; otherwise why not.
    public var problem: String?

    public init(sequence: Int64, hash: String, issuedAt: Date, problem: String? = nil) {
        self.sequence = sequence; self.hash = hash; self.issuedAt = issuedAt; self.problem = problem
    }
}

/// The outcome for one chain.
public struct AuditChainReport: Sendable, Equatable {
    public var chain: String
    public var events: Int
    public var lastSequence: Int64
    public var lastHash: String
    public var checkpointsVerified: Int
    /// The position of the newest checkpoint that verified and matched; events after it are
    /// protected by the chain alone (see docs/audit.md).
    public var lastGoodCheckpoint: Int64?
    public var findings: [AuditFinding]

    public var intact: Bool { findings.isEmpty }
}

/// Checks one chain, reading its events once in sequence order (`consume`), then the head and
/// the checkpoints (`finish`). Pure: the store reads rows, the service checks signatures.
public struct AuditChainVerifier: Sendable {
    public let chain: String
    private var lastSequence: Int64 = 0
    private var lastHash = AuditChain.genesis
    private var count = 0
    private var findings: [AuditFinding] = []
    /// The event id at each position.
    private var eventAt: [Int64: String] = [:]
    private var hashAt: [Int64: String] = [:]
    /// Rows whose own hash does not verify at their position, and rows that do not follow the
    /// previous row: classified at the end, once every hash is known.
    private var unverified: [(row: ChainedAuditEvent, digest: [UInt8])] = []
    private var unlinked: [ChainedAuditEvent] = []

    /// How far from its position, and for how many rows, `finish` looks for where a row that
    /// does not verify was written.
    static let reorderSearchWindow: Int64 = 1_000
    static let reorderSearchRows = 200

    public init(chain: String) { self.chain = chain }

    /// The next row of this chain, in ascending sequence.
    public mutating func consume(_ row: ChainedAuditEvent) {
        guard let sequence = row.sequence, let stored = row.hash else {
            findings.append(
                AuditFinding(
                    .unchained, eventID: row.event.id,
                    "event \(row.event.id) (\(row.event.action) at \(Self.iso(row.event.occurredAt))) is not in the chain: it was written to the table around Sigil"
                ))
            return
        }
        count += 1
        let expected = lastSequence + 1
        var gap = false
        if sequence > expected {
            gap = true
            findings.append(
                AuditFinding(
                    .missing, sequence: expected,
                    sequence - 1 == expected
                        ? "event \(expected) is missing (deleted) between \(describe(lastSequence)) and event \(sequence) (\(row.event.id))"
                        : "events \(expected)–\(sequence - 1) are missing (deleted) between \(describe(lastSequence)) and event \(sequence) (\(row.event.id))"
                ))
        }
        let digest = AuditChain.contentDigest(row.event)
        let previous = row.previousHash ?? ""
        if AuditChain.link(chain: chain, sequence: sequence, previous: previous, contentDigest: digest) != stored {
            unverified.append((row, digest))
        } else if !gap && previous != lastHash {
            unlinked.append(row)
        }
        eventAt[sequence] = row.event.id
        hashAt[sequence] = stored
        lastSequence = sequence
        lastHash = stored
    }

    /// Ends the scan with the head row and the checkpoints (signatures already checked).
    public mutating func finish(head: AuditChainHead?, checkpoints: [CheckedCheckpoint]) -> AuditChainReport {
        // An intact event at the wrong position still verifies at the position it was written at:
        // look for it near where it is now (reorderings move events locally; the search is bounded
        // so a table rewritten wholesale still verifies in linear time).
        for (index, (row, digest)) in unverified.enumerated() {
            let sequence = row.sequence ?? 0
            var writtenAt: Int64?
            if index < Self.reorderSearchRows, let previous = row.previousHash {
                let low = max(1, sequence - Self.reorderSearchWindow)
                for candidate in low...(sequence + Self.reorderSearchWindow) where candidate != sequence {
                    if AuditChain.link(chain: chain, sequence: candidate, previous: previous, contentDigest: digest) == row.hash {
                        writtenAt = candidate
                        break
                    }
                }
            }
            if let writtenAt {
                findings.append(
                    AuditFinding(
                        .reordered, sequence: sequence, eventID: row.event.id,
                        "event \(sequence) (\(row.event.id), \(row.event.action)) was written as event \(writtenAt): events were reordered"))
            } else {
                findings.append(
                    AuditFinding(
                        .changed, sequence: sequence, eventID: row.event.id,
                        "event \(sequence) (\(row.event.id), \(row.event.action)) was changed after it was written: its content or chain fields no longer match its hash"
                    ))
            }
        }
        for row in unlinked {
            let sequence = row.sequence ?? 0
            findings.append(
                AuditFinding(
                    .brokenLink, sequence: sequence, eventID: row.event.id,
                    "event \(sequence) (\(row.event.id)) does not follow event \(sequence - 1): event \(sequence - 1) was replaced or rehashed, or events between them were removed"
                ))
        }
        if let head {
            if head.sequence > lastSequence {
                findings.append(
                    AuditFinding(
                        .truncated, sequence: lastSequence + 1,
                        "the chain's head is at event \(head.sequence) but the last event found is \(lastSequence): events \(lastSequence + 1)–\(head.sequence) were deleted"
                    ))
            } else if head.sequence < lastSequence || head.hash != lastHash {
                findings.append(
                    AuditFinding(
                        .headMismatch, sequence: head.sequence,
                        "the chain's head (event \(head.sequence)) does not match the last event (\(lastSequence)): the head row or the last events were edited"
                    ))
            }
        } else if count > 0 {
            findings.append(AuditFinding(.headMismatch, "the chain has events but no head row: the head row was deleted"))
        }
        var verified = 0
        var lastGood: Int64?
        for checkpoint in checkpoints.sorted(by: { $0.sequence < $1.sequence }) {
            if let problem = checkpoint.problem {
                findings.append(
                    AuditFinding(.checkpointInvalid, sequence: checkpoint.sequence, "the checkpoint at event \(checkpoint.sequence) is not valid: \(problem)"))
                continue
            }
            verified += 1
            if checkpoint.sequence > lastSequence {
                findings.append(
                    AuditFinding(
                        .truncated, sequence: lastSequence + 1,
                        "a checkpoint signed at \(Self.iso(checkpoint.issuedAt)) covers event \(checkpoint.sequence) but the chain ends at \(lastSequence): events \(lastSequence + 1)–\(checkpoint.sequence) were deleted"
                    ))
            } else if let stored = hashAt[checkpoint.sequence], stored != checkpoint.hash {
                let from = (lastGood ?? 0) + 1
                findings.append(
                    AuditFinding(
                        .checkpointMismatch, sequence: checkpoint.sequence,
                        "the chain at event \(checkpoint.sequence) is not what the checkpoint signed at \(Self.iso(checkpoint.issuedAt)) says: events \(from)–\(checkpoint.sequence) were rewritten and rehashed"
                    ))
            } else if hashAt[checkpoint.sequence] != nil {
                lastGood = checkpoint.sequence
            }
        }
        return AuditChainReport(
            chain: chain, events: count, lastSequence: lastSequence, lastHash: lastHash, checkpointsVerified: verified,
            lastGoodCheckpoint: lastGood, findings: findings.sorted { ($0.sequence ?? 0, $0.kind.rawValue) < ($1.sequence ?? 0, $1.kind.rawValue) })
    }

    private func describe(_ sequence: Int64) -> String {
        guard sequence > 0, let id = eventAt[sequence] else { return "the start of the chain" }
        return "event \(sequence) (\(id))"
    }

    static func iso(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.string(from: date)
    }
}
