import Foundation
import SigilOAuth
import SigilStore

/// The user's answer on the consent page.
public enum ConsentDecision: String, Sendable {
    case allow, deny
}

/// What the consent page shows: the application, and what it asks for in plain words.
public struct ConsentPrompt: Sendable, Equatable {
    public let applicationName: String
    public let clientID: String
    /// Where the answer goes (the page's CSP allows a form submission to end there).
    public let redirectURI: String
    public let lines: [String]
    public let scopes: [String]
    public let claims: [String]
}

extension OAuthService {
    /// A consent grant with the application it names (nil when the application was deleted).
    public struct ConsentEntry: Sendable {
        public let grant: ConsentGrant
        public let application: Application?
    }

    /// The user's consent grants, for the account page and the admin API.
    public func consents(tenantID: String, userID: String) async throws -> [ConsentEntry] {
        var out: [ConsentEntry] = []
        for grant in try await context.store.consents.list(tenantID: tenantID, userID: userID) {
            let app = try await context.store.applications.find(tenantID: tenantID, clientID: grant.clientID)
            out.append(ConsentEntry(grant: grant, application: app))
        }
        return out
    }

    /// Withdraws the user's consent for a client and revokes every token the client holds for
    /// the user (its grants: refresh tokens stop working, access tokens fail introspection and
    /// userinfo). Returns false when there was no consent. Audited as `consent.revoked`.
    @discardableResult
    public func revokeConsent(tenantID: String, userID: String, clientID: String, by actor: Principal) async throws -> Bool {
        let now = context.clock.now()
        let context = self.context
        let app = try await context.store.applications.find(tenantID: tenantID, clientID: clientID)
        return try await context.store.transaction { tx -> Bool in
            guard let removed = try await tx.consents.delete(tenantID: tenantID, userID: userID, clientID: clientID) else { return false }
            let revoked = try await tx.consents.revokeTokens(tenantID: tenantID, userID: userID, clientID: clientID, at: now)
            try await tx.audit.append(
                context.auditEvent(
                    "consent.revoked", by: actor, tenantID: tenantID, targetType: "user", targetID: userID,
                    before: ["client_id": clientID, "scope": removed.scopes.joined(separator: " ")],
                    after: ["application": app?.id ?? "", "grants_revoked": String(revoked)]))
            return true
        }
    }
}
