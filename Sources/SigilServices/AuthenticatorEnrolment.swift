import Crypto
import Foundation
import SigilAuthenticatorProtocol
import SigilCore
import SigilFlows
import SigilStore

/// Device enrolment (docs/authenticator-protocol.md §2): a signed-in user starts a
/// `device_enrolment` transaction; the device previews it with the secret from the QR code and
/// registers its P-256 key with a proof of possession over the transaction's challenge.
public struct AuthenticatorEnrolment: Sendable {
    public let context: ServiceContext
    public static let lifetime: TimeInterval = 600
    public static let maximumFailures = 3
    public static let devicesPerUser = 5
    public static let platforms: Set<String> = ["ios", "android", "cli", "other"]
    public static let keyProtections: Set<String> = ["secure_enclave", "strongbox", "tee", "software"]

    public init(context: ServiceContext) { self.context = context }

    public struct Started: Sendable {
        public let transaction: LoginTransaction
        public let payload: AuthenticatorPayload
    }

    /// Starts an enrolment for the signed-in `user`; `origin` is the page's origin.
    public func start(user: User, issuer: String, origin: String, browserHash: String) async throws -> Started {
        let devices = try await context.store.authenticatorDevices.list(tenantID: user.tenantID, userID: user.id)
        guard devices.count < Self.devicesPerUser else {
            throw AuthenticatorServiceError(.deviceLimit, "at most \(Self.devicesPerUser) devices; remove one first")
        }
        let secret = Base64URL.encode(context.random.bytes(16))
        let now = context.clock.now()
        let id = context.ids.make(.loginTransaction)
        let flow = DeviceEnrolment(
            startedFrom: .account(sessionUser: user.id), origin: origin, browserHash: browserHash, issuer: issuer,
            sealedSecret: try AuthenticatorService.sealSecret(secret, transactionID: id, masterKey: context.masterKey))
        let transaction = LoginTransaction(
            id: id, tenantID: user.tenantID, flow: .deviceEnrolment(flow),
            challenge: Base64URL.encode(context.random.bytes(32)), secretHash: tokenHash(secret), userID: user.id,
            createdAt: now, updatedAt: now, expiresAt: now.addingTimeInterval(Self.lifetime))
        _ = try await context.store.loginTransactions.create(transaction)
        return Started(
            transaction: transaction,
            payload: AuthenticatorPayload(purpose: .enrolment, issuer: issuer, transactionID: transaction.id, secret: secret))
    }

    /// A new user named on the first-administrator enrolment page; created only when a device
    /// registers (in the same store transaction that consumes the link).
    public typealias NewUser = SigilFlows.NewUser

    /// Starts an enrolment from a one-time enrolment link (the first administrator's, or an
    /// invitation) instead of a session: the phone is the person's first sign-in method. The link
    /// is consumed when the device registers, and the browser that started it is then signed in.
    public func start(
        enrolment: EnrolmentToken, linkHash: String, newUser: NewUser?, issuer: String, origin: String,
        browserHash: String, returnTo: String
    ) async throws -> Started {
        var pendingUser: NewUser?
        let userID: String
        if let existing = enrolment.userID {
            userID = existing
            let devices = try await context.store.authenticatorDevices.list(tenantID: enrolment.tenantID, userID: userID)
            guard devices.count < Self.devicesPerUser else {
                throw AuthenticatorServiceError(.deviceLimit, "at most \(Self.devicesPerUser) devices; remove one first")
            }
        } else {
            guard let newUser else { throw AuthenticatorServiceError(.invalidInput, "email, given_name and family_name are required") }
            userID = context.ids.make(.user)
            pendingUser = newUser
        }
        let secret = Base64URL.encode(context.random.bytes(16))
        let now = context.clock.now()
        let id = context.ids.make(.loginTransaction)
        let flow = DeviceEnrolment(
            startedFrom: .link(tokenHash: linkHash, returnTo: returnTo, newUser: pendingUser), origin: origin,
            browserHash: browserHash, issuer: issuer,
            sealedSecret: try AuthenticatorService.sealSecret(secret, transactionID: id, masterKey: context.masterKey))
        let transaction = LoginTransaction(
            id: id, tenantID: enrolment.tenantID, flow: .deviceEnrolment(flow), challenge: Base64URL.encode(context.random.bytes(32)),
            secretHash: tokenHash(secret), userID: userID, createdAt: now, updatedAt: now,
            expiresAt: min(now.addingTimeInterval(Self.lifetime), enrolment.expiresAt))
        _ = try await context.store.loginTransactions.create(transaction)
        return Started(
            transaction: transaction,
            payload: AuthenticatorPayload(purpose: .enrolment, issuer: issuer, transactionID: id, secret: secret))
    }

    public struct Preview: Sendable, Equatable {
        public let transactionID: String
        public let issuer: String
        public let tenantName: String
        public let email: String
        public let challenge: String
        public let expiresAt: Date
    }

    /// What the device shows before the user confirms.
    public func preview(tenant: Tenant, transactionID: String, secret: String) async throws -> Preview {
        let transaction = try await claim(tenantID: tenant.id, transactionID: transactionID, secret: secret)
        let now = context.clock.now()
        _ = try await context.store.loginTransactions.update(tenantID: tenant.id, id: transactionID) { t in
            var machine = try Self.machine(t)
            guard case .show = machine.preview(now: now) else { throw Self.unusable }
            t.apply(machine.record, FlowState.deviceEnrolment)
        }
        await context.store.signals.publish(transactionID)
        let email: String
        if let pending = try Self.machine(transaction).pendingEmail {
            email = pending // the first administrator, created when the device registers
        } else {
            email = try await context.store.users.get(tenantID: tenant.id, id: transaction.userID ?? "").email
        }
        return Preview(
            transactionID: transactionID, issuer: transaction.deviceEnrolment?.issuer ?? "", tenantName: tenant.displayName,
            email: email, challenge: transaction.challenge, expiresAt: transaction.expiresAt)
    }

    public struct Registration: Sendable {
        public var transactionID: String
        public var secret: String
        public var publicKey: String
        public var name: String
        public var platform: String
        public var keyProtection: String
        public var proof: String
        public var push: PushRegistration?

        public init(
            transactionID: String, secret: String, publicKey: String, name: String, platform: String, keyProtection: String,
            proof: String, push: PushRegistration? = nil
        ) {
            self.transactionID = transactionID; self.secret = secret; self.publicKey = publicKey; self.name = name
            self.platform = platform; self.keyProtection = keyProtection; self.proof = proof; self.push = push
        }
    }

    /// Registers the device: all checks, then one store transaction that completes the
    /// enrolment, creates the device and writes the audit event.
    public func register(tenant: Tenant, _ registration: Registration) async throws -> (AuthenticatorDevice, User) {
        let transaction = try await claim(tenantID: tenant.id, transactionID: registration.transactionID, secret: registration.secret)
        let name = registration.name.trimmingCharacters(in: .whitespaces)
        guard (1...64).contains(name.count), !name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }),
            Self.platforms.contains(registration.platform), Self.keyProtections.contains(registration.keyProtection)
        else {
            throw AuthenticatorServiceError(.invalidInput, "name (1–64 characters), platform or key_protection is not acceptable")
        }
        guard let keyBytes = Base64URL.decode(registration.publicKey), keyBytes.count == 65,
            (try? P256.Signing.PublicKey(x963Representation: keyBytes)) != nil
        else {
            throw AuthenticatorServiceError(.invalidPublicKey, "public_key must be an uncompressed P-256 point (65 bytes, base64url)")
        }
        let message = try CanonicalMessage.enrolment(
            issuer: transaction.deviceEnrolment?.issuer ?? "", transactionID: transaction.id,
            challenge: transaction.challenge, publicKey: registration.publicKey)
        guard DeviceSignature.verify(registration.proof, message: message, publicKey: registration.publicKey) else {
            try await countFailure(transaction)
            throw AuthenticatorServiceError(.enrolmentProofInvalid, "the proof of possession does not verify")
        }
        let userID = transaction.userID ?? ""
        let now = context.clock.now()
        let context = self.context
        let deviceID = context.ids.make(.authenticatorDevice)
        var sealedPush: String? = nil
        if let push = registration.push, push.provider != nil {
            try PushTokens.validate(push)
            sealedPush = try PushTokens.seal(push, deviceID: deviceID, masterKey: context.masterKey)
        }
        let device = AuthenticatorDevice(
            id: deviceID, tenantID: tenant.id, userID: userID,
            publicKey: registration.publicKey, name: name, platform: registration.platform,
            sealedPushToken: sealedPush, createdAt: now, keyProtection: registration.keyProtection)
        let result: (AuthenticatorDevice, User)
        do {
            result = try await context.store.transaction { tx in
                let (_, action) = try await tx.loginTransactions.update(tenantID: tenant.id, id: transaction.id) { t in
                    var machine = try Self.machine(t)
                    let action = machine.register(device: device.id, name: name, now: now)
                    if case .refuse = action { throw AuthenticatorServiceError(.enrolmentLinkInvalid, "this enrolment was already used") }
                    t.apply(machine.record, FlowState.deviceEnrolment)
                    return action
                }
                guard case .createDevice(_, let linkHash, let pendingUser) = action else { throw Self.unusable }
                // From an enrolment link: the link is used up here, in the same transaction, and the
                // first administrator is created now (never before a device could register).
                if let linkHash {
                    let link: EnrolmentToken
                    do {
                        link = try await tx.enrolmentTokens.consume(tokenHash: linkHash, now: now)
                    } catch let error as StoreError where error.code == .notFound || error.code == .conflict {
                        throw AuthenticatorServiceError(.enrolmentLinkInvalid, "the enrolment link was already used")
                    }
                    if link.userID == nil {
                        var newUser = User(
                            id: userID, tenantID: tenant.id, email: pendingUser?.email ?? "",
                            givenName: pendingUser?.givenName ?? "", familyName: pendingUser?.familyName ?? "",
                            status: .active, createdAt: now, updatedAt: now)
                        if link.purpose == .firstAdmin { newUser.roles = [User.adminRole] }
                        _ = try await tx.users.create(newUser)
                        try await tx.audit.append(
                            context.auditEvent(
                                "user.created", by: .user(userID), tenantID: tenant.id, targetType: "user",
                                targetID: userID,
                                after: [
                                    "email": newUser.email,
                                    "roles": newUser.roles.joined(separator: ","),
                                ]))
                    }
                }
                // The per-user row serialises enrolments of one user across nodes before the recount.
                _ = try await tx.authenticatorUserState.update(tenantID: tenant.id, userID: userID, now: now) { _ in }
                guard try await tx.authenticatorDevices.list(tenantID: tenant.id, userID: userID).count < Self.devicesPerUser else {
                    throw AuthenticatorServiceError(.deviceLimit, "at most \(Self.devicesPerUser) devices; remove one first")
                }
                let user = try await tx.users.get(tenantID: tenant.id, id: userID)
                guard user.status == .active else { throw AuthenticatorServiceError(.accountDisabled, "this account is disabled") }
                let created = try await tx.authenticatorDevices.create(device)
                try await tx.audit.append(
                    context.auditEvent(
                        "authenticator.device_registered", by: .user(userID), tenantID: tenant.id,
                        targetType: "authenticator_device", targetID: created.id,
                        after: [
                            "name": name, "platform": registration.platform,
                            "key_protection": registration.keyProtection,
                            "push": registration.push?.provider ?? "none",
                        ]))
                return (created, user)
            }
        } catch let error as StoreError where error.code == .alreadyExists {
            throw AuthenticatorServiceError(.deviceKeyRegistered, "this device key is already registered")
        }
        await context.store.signals.publish(transaction.id)
        return result
    }

    /// The transaction behind a scanned code, if the secret matches and it can still be used.
    func claim(tenantID: String, transactionID: String, secret: String) async throws -> LoginTransaction {
        let transaction: LoginTransaction
        do {
            transaction = try await context.store.loginTransactions.get(tenantID: tenantID, id: transactionID)
        } catch let error as StoreError where error.code == .notFound {
            throw AuthenticatorServiceError(.enrolmentLinkInvalid, "this enrolment code is unknown, used or expired")
        }
        guard let enrolment = transaction.deviceEnrolment,
            DeviceEnrolmentStateMachine(transaction.record(enrolment)).registrable(now: context.clock.now())
        else {
            throw Self.unusable
        }
        guard let expected = transaction.secretHash, constantTimeEquals(Array(tokenHash(secret).utf8), Array(expected.utf8)) else {
            try await countFailure(transaction)
            throw AuthenticatorServiceError(.transactionSecretInvalid, "the code's secret does not match")
        }
        return transaction
    }

    func countFailure(_ transaction: LoginTransaction) async throws {
        let now = context.clock.now()
        _ = try await context.store.loginTransactions.update(tenantID: transaction.tenantID, id: transaction.id) { t in
            var machine = try Self.machine(t)
            _ = machine.failed(now: now, maximum: Self.maximumFailures)
            t.apply(machine.record, FlowState.deviceEnrolment)
        }
        await context.store.signals.publish(transaction.id)
    }

    static let unusable = AuthenticatorServiceError(.enrolmentLinkInvalid, "this enrolment code is unknown, used or expired")

    /// The row's state machine, if it is a device enrolment.
    static func machine(_ t: LoginTransaction) throws -> DeviceEnrolmentStateMachine {
        guard let enrolment = t.deviceEnrolment else { throw unusable }
        return DeviceEnrolmentStateMachine(t.record(enrolment))
    }
}
