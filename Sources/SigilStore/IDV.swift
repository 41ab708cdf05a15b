import Foundation
import SigilIDV

/// A CSCA certificate a tenant trusts for ePassport passive authentication (docs/idv.md).
public struct CSCARecord: Sendable, Equatable {
    public var tenantID: String
    /// SHA-256 of the DER, hex.
    public var id: String
    public var subject: String
    public var der: [UInt8]
    public var createdAt: Date

    public init(tenantID: String, id: String, subject: String, der: [UInt8], createdAt: Date) {
        self.tenantID = tenantID; self.id = id; self.subject = subject; self.der = der; self.createdAt = createdAt
    }
}

/// One piece of evidence of an IDV session, sealed under the master key (images, chip files, frames).
public struct IDVEvidenceRecord: Sendable, Equatable {
    public var tenantID: String
    public var sessionID: String
    public var kind: String
    /// `MasterKey.seal` output.
    public var sealed: String
    public var createdAt: Date
    /// Deleted by the retention sweep after this.
    public var expiresAt: Date

    public init(tenantID: String, sessionID: String, kind: String, sealed: String, createdAt: Date, expiresAt: Date) {
        self.tenantID = tenantID; self.sessionID = sessionID; self.kind = kind; self.sealed = sealed; self.createdAt = createdAt
        self.expiresAt = expiresAt
    }
}

/// Whom verifications are about: a Sigil user, or (Okta's BYO IDV) a subject known only to the
/// relying party, keyed by the hash of its `login_hint` per client. Holds the latest decided
/// identity (sealed) until the retention ends.
public struct IDVSubject: Sendable, Equatable {
    public var tenantID: String
    /// The `sub` Sigil gives the relying party (stable per client and login hint), or the user's id.
    public var id: String
    public var clientID: String?
    /// SHA-256 of the relying party's identifier for the person (`login_hint`), if any.
    public var externalKeyHash: String?
    public var userID: String?
    /// The latest verification: a sealed `VerifiedIdentity`, its status and time.
    public var sealedIdentity: String?
    public var status: String?
    public var verifiedAt: Date?
    public var identityExpiresAt: Date?
    public var createdAt: Date

    public init(
        tenantID: String, id: String, clientID: String?, externalKeyHash: String?, userID: String?, sealedIdentity: String? = nil,
        status: String? = nil, verifiedAt: Date? = nil, identityExpiresAt: Date? = nil, createdAt: Date
    ) {
        self.tenantID = tenantID; self.id = id; self.clientID = clientID; self.externalKeyHash = externalKeyHash; self.userID = userID
        self.sealedIdentity = sealedIdentity; self.status = status; self.verifiedAt = verifiedAt; self.identityExpiresAt = identityExpiresAt
        self.createdAt = createdAt
    }
}

/// Identity verification's own rows: the tenant's settings, its CSCA list, sessions' evidence and
/// the subjects' latest verified identities. The sessions themselves are flow rows (`idv_session`).
public protocol IDVStore: Sendable {
    func settings(tenantID: String) async throws -> IDVSettings?
    func saveSettings(tenantID: String, _ settings: IDVSettings, at: Date) async throws
    func cscas(tenantID: String) async throws -> [CSCARecord]
    /// Adds a certificate; false when the tenant already has it.
    func addCSCA(_ record: CSCARecord) async throws -> Bool
    func deleteCSCA(tenantID: String, id: String) async throws -> Bool
    /// Stores a session's evidence of one kind, replacing an earlier capture of that kind.
    func putEvidence(_ record: IDVEvidenceRecord) async throws
    func evidence(tenantID: String, sessionID: String) async throws -> [IDVEvidenceRecord]
    func deleteEvidence(tenantID: String, sessionID: String) async throws -> Int
    func subject(tenantID: String, id: String) async throws -> IDVSubject?
    func subject(tenantID: String, clientID: String, externalKeyHash: String) async throws -> IDVSubject?
    func subjects(tenantID: String, userID: String) async throws -> [IDVSubject]
    /// Inserts or replaces by (tenant, id).
    func saveSubject(_ subject: IDVSubject) async throws
    func deleteSubject(tenantID: String, id: String) async throws -> Bool
    /// Deletes evidence past its retention and clears identities past theirs; returns (evidence, identities).
    func sweep(before: Date) async throws -> (evidence: Int, identities: Int)
}
