import Foundation

/// A relying party a browser session signed into: one row per (session, application), written
/// when a SAML Response or an ID token is issued for the session, so logout can reach every one
/// of them (SAML Single Logout, OpenID Connect Back-Channel Logout). Deleted with the session.
public struct SessionParticipant: Codable, Sendable, Equatable {
    public enum ProtocolKind: String, Codable, Sendable {
        case saml, oidc
    }

    public var tenantID: String
    public var sessionID: String
    public var applicationID: String
    public var protocolKind: ProtocolKind
    /// SAML: the NameID sent to the SP, its format, and the SessionIndex.
    public var nameID: String?
    public var nameIDFormat: String?
    public var sessionIndex: String?
    /// OIDC: the ID token's `sub` and `sid`.
    public var subject: String?
    public var sid: String?
    public var createdAt: Date

    public init(
        tenantID: String, sessionID: String, applicationID: String, protocolKind: ProtocolKind, nameID: String? = nil,
        nameIDFormat: String? = nil, sessionIndex: String? = nil, subject: String? = nil, sid: String? = nil, createdAt: Date
    ) {
        self.tenantID = tenantID; self.sessionID = sessionID; self.applicationID = applicationID; self.protocolKind = protocolKind
        self.nameID = nameID; self.nameIDFormat = nameIDFormat; self.sessionIndex = sessionIndex
        self.subject = subject; self.sid = sid; self.createdAt = createdAt
    }
}

public protocol SessionParticipantStore: Sendable {
    /// Records (or refreshes: the latest NameID/SessionIndex/sub win) the application's row for
    /// the session. Throws `StoreError.notFound` when the session or application does not exist.
    func record(_ participant: SessionParticipant) async throws
    /// The session's participants, oldest first.
    func list(tenantID: String, sessionID: String) async throws -> [SessionParticipant]
    /// Forgets one participant (it has been logged out); returns whether a row was deleted.
    @discardableResult
    func delete(tenantID: String, sessionID: String, applicationID: String) async throws -> Bool
    /// Forgets every participant of the session; returns how many.
    @discardableResult
    func deleteAll(tenantID: String, sessionID: String) async throws -> Int
    /// Deletes rows whose session is gone, revoked or expired (the expiry sweep).
    func deleteExpired(now: Date) async throws -> Int
}
