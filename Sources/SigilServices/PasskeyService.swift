import Crypto
import Foundation
import SigilCore
import SigilFlows
import SigilStore
import SigilWebAuthn

/// Passkey ceremonies. Each begins with a login transaction holding the one-time challenge (so any
/// node can finish it) and finishes by verifying the browser's response with SigilWebAuthn and
/// completing the transaction under a lock, so a challenge is used at most once.
public struct PasskeyService: Sendable {
    public let context: ServiceContext
    /// How long a ceremony may take.
    public static let ceremonyLifetime: TimeInterval = 300
    /// Failed verifications after which a transaction is dead.
    public static let maximumFailures = 5

    public let policy: Policy

    public struct Policy: Sendable {
        /// Sign in even when a passkey's signature counter went backwards (a sign that the
        /// credential was copied, WebAuthn L3 §6.1.1). Off: such an assertion is refused and the
        /// passkey flagged until an administrator clears it (docs/sign-in.md "Sign counters").
        public var insecureAllowSignCountRegression: Bool
        public init(insecureAllowSignCountRegression: Bool = false) {
            self.insecureAllowSignCountRegression = insecureAllowSignCountRegression
        }
    }

    public init(context: ServiceContext, policy: Policy = Policy()) {
        self.context = context
        self.policy = policy
    }

    /// The relying party of a tenant's issuer: RP ID is its host, the origin its scheme, host and port.
    public static func relyingParty(issuer: String) throws -> RelyingParty {
        guard let url = URLComponents(string: issuer), let host = url.host, let origin = WebOrigin.of(url) else {
            throw SigilError(.invalidConfiguration, "the issuer \(issuer) is not an absolute URL")
        }
        return RelyingParty(id: host, origins: [origin])
    }

    /// What a registration is for.
    public struct NewCredentialOwner: Sendable {
        public var userID: String
        public var email: String
        public var displayName: String
        public init(userID: String, email: String, displayName: String) {
            self.userID = userID; self.email = email; self.displayName = displayName
        }
    }

    /// Starts a registration for `purpose` (an enrolment link, with the names of a user who does
    /// not exist yet; or the signed-in account). Returns the transaction and the options for
    /// `navigator.credentials.create` (binary fields base64url).
    public func beginRegistration(
        tenantID: String, issuer: String, owner: NewCredentialOwner, excludeCredentialIDs: [String],
        purpose: PasskeyCeremony.Purpose
    ) async throws -> (LoginTransaction, [String: any Sendable]) {
        let rp = try Self.relyingParty(issuer: issuer)
        let challenge = Base64URL.encode(context.random.bytes(32))
        let now = context.clock.now()
        let transaction = LoginTransaction(
            id: context.ids.make(.loginTransaction), tenantID: tenantID, flow: .passkeyCeremony(.init(purpose: purpose)),
            challenge: challenge, userID: owner.userID, createdAt: now, updatedAt: now,
            expiresAt: now.addingTimeInterval(Self.ceremonyLifetime))
        _ = try await context.store.loginTransactions.create(transaction)
        let options: [String: any Sendable] = [
            "challenge": challenge,
            "rp": ["id": rp.id, "name": "Sigil"] as [String: any Sendable],
            "user": ["id": Base64URL.encode(Array(owner.userID.utf8)), "name": owner.email, "displayName": owner.displayName] as [String: any Sendable],
            "pubKeyCredParams": [COSEAlgorithm.es256, .eddsa, .rs256].map { ["type": "public-key", "alg": $0.rawValue] as [String: any Sendable] },
            "timeout": Int(Self.ceremonyLifetime * 1000),
            "attestation": "none",
            "authenticatorSelection": ["residentKey": "required", "requireResidentKey": true, "userVerification": "required"] as [String: any Sendable],
            "excludeCredentials": excludeCredentialIDs.map { ["type": "public-key", "id": $0] as [String: any Sendable] },
        ]
        return (transaction, options)
    }

    /// Verifies a registration response and hands the verified credential to `store`, which runs in
    /// the same database transaction that marks the challenge used (so the caller can create the
    /// user, the passkey and an audit event atomically).
    public func finishRegistration<R: Sendable>(
        tenantID: String, issuer: String, transactionID: String, response: RegistrationResponse,
        store: @escaping @Sendable (any StoreSession, LoginTransaction, VerifiedRegistration) async throws -> R
    ) async throws -> R {
        let transaction = try await usable(tenantID: tenantID, id: transactionID, kind: .passkeyRegistration)
        let verifier = WebAuthnVerifier(relyingParty: try Self.relyingParty(issuer: issuer))
        let verified: VerifiedRegistration
        do {
            verified = try verifier.verifyRegistration(response, expectedChallenge: Array(Base64URL.decode(transaction.challenge) ?? Data()))
        } catch {
            try await recordFailure(transaction, reason: error.message)
            throw ServiceError(.invalidInput, "the passkey could not be verified: \(error.message)")
        }
        let context = self.context
        let now = context.clock.now()
        return try await context.store.transaction { tx in
            let current = try await tx.loginTransactions.update(tenantID: tenantID, id: transactionID) { t in
                var machine = try Self.machine(t)
                if case .refuse(let refusal) = machine.verified(user: nil, now: now) { throw Self.refusalError(refusal) }
                t.apply(machine.record, FlowState.passkeyCeremony)
            }
            return try await store(tx, current, verified)
        }
    }

    /// Makes the stored form of a verified credential.
    public func passkey(from verified: VerifiedRegistration, tenantID: String, userID: String, name: String) -> Passkey {
        Passkey(
            credentialID: Base64URL.encode(verified.credentialID), tenantID: tenantID, userID: userID,
            publicKey: Base64URL.encode(verified.publicKey), algorithm: verified.algorithm.rawValue, signCount: Int(verified.signCount),
            aaguid: verified.aaguid.map { String(format: "%02x", $0) }.joined(), backupEligible: verified.backupEligible,
            backupState: verified.backupState, transports: verified.transports, attestationType: verified.attestationType.rawValue,
            name: name, createdAt: context.clock.now())
    }

    /// Starts a sign-in with a discoverable passkey (the browser offers the user's passkeys for
    /// this RP, also through autofill).
    public func beginAuthentication(tenantID: String, issuer: String, returnTo: String) async throws -> (LoginTransaction, [String: any Sendable]) {
        let rp = try Self.relyingParty(issuer: issuer)
        let challenge = Base64URL.encode(context.random.bytes(32))
        let now = context.clock.now()
        let transaction = LoginTransaction(
            id: context.ids.make(.loginTransaction), tenantID: tenantID,
            flow: .passkeyCeremony(.init(purpose: .signIn(returnTo: returnTo))),
            challenge: challenge, createdAt: now, updatedAt: now,
            expiresAt: now.addingTimeInterval(Self.ceremonyLifetime))
        _ = try await context.store.loginTransactions.create(transaction)
        let options: [String: any Sendable] = [
            "challenge": challenge, "rpId": rp.id, "timeout": Int(Self.ceremonyLifetime * 1000),
            "userVerification": "required", "allowCredentials": [[String: any Sendable]](),
        ]
        return (transaction, options)
    }

    public struct SignIn: Sendable {
        public let user: User
        public let passkey: Passkey
        public let transaction: LoginTransaction
        public let possibleClone: Bool
        /// RFC 8176 methods: `hwk` (device-bound) or `swk` (synced), `user`, `mfa`, and `phr`.
        public let amr: [String]
        /// `phrh` for a device-bound passkey, `phr` for a synced one.
        public let acr: String
        /// Where the sign-in goes next (what the ceremony was started with).
        public var returnTo: String? {
            if case .signIn(let returnTo)? = transaction.passkeyCeremony?.purpose { return returnTo }
            return nil
        }
    }

    /// Verifies an assertion: the passkey must belong to this tenant and to the user its handle
    /// names, the signature must verify over this transaction's challenge, the user must be active.
    public func finishAuthentication(tenantID: String, issuer: String, transactionID: String, response: AssertionResponse) async throws -> SignIn {
        let transaction = try await usable(tenantID: tenantID, id: transactionID, kind: .passkeyAuthentication)
        let credentialID = Base64URL.encode(response.credentialID)
        let stored: Passkey
        do {
            stored = try await context.store.passkeys.get(tenantID: tenantID, credentialID: credentialID)
        } catch let error as StoreError where error.code == .notFound {
            try await recordFailure(transaction, reason: "unknown passkey")
            throw ServiceError(.signInFailed, "this passkey is not registered here")
        }
        let verifier = WebAuthnVerifier(relyingParty: try Self.relyingParty(issuer: issuer))
        let verified: VerifiedAssertion
        do {
            verified = try verifier.verifyAssertion(
                response, expectedChallenge: Array(Base64URL.decode(transaction.challenge) ?? Data()),
                credential: StoredCredential(
                    id: response.credentialID, publicKey: Array(Base64URL.decode(stored.publicKey) ?? Data()),
                    signCount: UInt32(clamping: stored.signCount), backupEligible: stored.backupEligible,
                    userHandle: Array(stored.userID.utf8)))
        } catch {
            try await recordFailure(transaction, reason: error.message)
            throw ServiceError(.signInFailed, "the passkey could not be verified: \(error.message)")
        }
        if stored.cloneWarning && !policy.insecureAllowSignCountRegression {
            try await recordFailure(transaction, reason: "passkey flagged as a possible copy")
            throw ServiceError(.signInFailed, Self.flaggedMessage)
        }
        if verified.possibleClone && !policy.insecureAllowSignCountRegression {
            // The counter went backwards: flag the passkey (until an administrator clears it),
            // keep the stored count, and refuse.
            let context = self.context
            try await context.store.transaction { tx in
                _ = try await tx.passkeys.setCloneWarning(tenantID: tenantID, userID: stored.userID, credentialID: credentialID, true)
                try await tx.audit.append(
                    context.auditEvent(
                        "passkey.possible_clone", by: .user(stored.userID), tenantID: tenantID,
                        targetType: "passkey", targetID: credentialID, outcome: .failure,
                        reason: "sign count \(verified.signCount) not above stored \(stored.signCount); "
                            + "sign-in refused and the passkey flagged"))
            }
            try await recordFailure(transaction, reason: "sign count regression")
            throw ServiceError(.signInFailed, Self.flaggedMessage)
        }
        let user = try await context.store.users.get(tenantID: tenantID, id: stored.userID)
        guard user.status == .active else {
            try await recordFailure(transaction, reason: "user disabled")
            throw ServiceError(.forbidden, "this account is disabled")
        }
        let context = self.context
        let now = context.clock.now()
        let completed = try await context.store.transaction { tx in
            let completed = try await tx.loginTransactions.update(tenantID: tenantID, id: transactionID) { t in
                var machine = try Self.machine(t)
                if case .refuse(let refusal) = machine.verified(user: user.id, now: now) { throw Self.refusalError(refusal) }
                t.apply(machine.record, FlowState.passkeyCeremony)
            }
            try await tx.passkeys.recordUse(
                tenantID: tenantID, credentialID: credentialID, expectedSignCount: stored.signCount,
                signCount: Int(verified.signCount), backupState: verified.backupState,
                cloneWarning: verified.possibleClone, at: now)
            if verified.possibleClone {
                try await tx.audit.append(
                    context.auditEvent(
                        "passkey.possible_clone", by: .user(user.id), tenantID: tenantID,
                        targetType: "passkey", targetID: credentialID, outcome: .failure,
                        reason: "sign count \(verified.signCount) not above stored \(stored.signCount)"))
            }
            return completed
        }
        let method = Self.methods(backupEligible: verified.backupEligible)
        return SignIn(
            user: user, passkey: stored, transaction: completed, possibleClone: verified.possibleClone,
            amr: method.amr, acr: method.acr)
    }

    static let flaggedMessage =
        "this passkey was blocked because it may have been copied; sign in another way, "
        + "or ask your administrator to check it and clear the warning"

    /// What a passkey proves (RFC 8176 `amr`, and an `acr`): a device-bound key (backup
    /// ineligible) is `hwk` and `phrh`; a synced passkey is `swk` and `phr`. Both verified the user.
    public static func methods(backupEligible: Bool) -> (amr: [String], acr: String) {
        backupEligible ? (["swk", "user", "mfa", "phr"], "phr") : (["hwk", "user", "mfa", "phr"], "phrh")
    }

    /// The transaction, if it can still be finished.
    func usable(tenantID: String, id: String, kind: LoginTransaction.Kind) async throws -> LoginTransaction {
        let transaction: LoginTransaction
        do {
            transaction = try await context.store.loginTransactions.get(tenantID: tenantID, id: id)
        } catch let error as StoreError where error.code == .notFound {
            throw ServiceError(.invalidInput, "this sign-in attempt is unknown; start again")
        }
        guard transaction.kind == kind else { throw ServiceError(.invalidInput, "this sign-in attempt is of another kind") }
        if let refusal = try Self.machine(transaction).usable(now: context.clock.now()) { throw Self.refusalError(refusal) }
        return transaction
    }

    /// The row's ceremony state machine.
    static func machine(_ t: LoginTransaction) throws -> PasskeyCeremonyStateMachine {
        guard let ceremony = t.passkeyCeremony else { throw ServiceError(.invalidInput, "this sign-in attempt is of another kind") }
        return PasskeyCeremonyStateMachine(t.record(ceremony))
    }

    static func refusalError(_ refusal: FlowRefusal) -> ServiceError {
        refusal == .expired
            ? ServiceError(.invalidInput, "this sign-in attempt expired; start again")
            : ServiceError(.invalidInput, "this sign-in attempt was already used")
    }

    func recordFailure(_ transaction: LoginTransaction, reason: String) async throws {
        let context = self.context
        try await context.store.transaction { tx in
            _ = try await tx.loginTransactions.update(tenantID: transaction.tenantID, id: transaction.id) { t in
                var machine = try Self.machine(t)
                _ = machine.failed(now: context.clock.now(), maximum: Self.maximumFailures)
                t.apply(machine.record, FlowState.passkeyCeremony)
            }
            try await tx.audit.append(
                context.auditEvent(
                    transaction.kind == .passkeyRegistration ? "passkey.registration_failed" : "passkey.sign_in_failed",
                    by: .system, tenantID: transaction.tenantID, targetType: "login_transaction", targetID: transaction.id,
                    outcome: .failure, reason: reason))
        }
    }
}
