import Foundation
import SigilFlows
import Synchronization

/// One flow (a sign-in, an enrolment, a SAML request or logout), held server-side so any node can continue it:
/// its typed state (`flow`, decided by its SigilFlows state machine), the one-time challenge, and where it stands.
public struct LoginTransaction: Sendable, Equatable {
    public typealias Kind = FlowKind
    public typealias State = FlowPhase

    public var id: String
    public var tenantID: String
    /// The flow's kind, kept as its own column (queries select by it); always `flow.kind`.
    public private(set) var kind: Kind
    public var state: State
    /// The one-time challenge (base64url).
    public var challenge: String
    /// SHA-256 of a secret only the rightful parties know (the QR payload's secret), if any.
    public var secretHash: String?
    /// The user, once known (identifier-first, enrolment, or after approval).
    public var userID: String?
    /// The device that answered, if any.
    public var deviceID: String?
    /// The number shown for number matching, if any.
    public var number: String?
    /// The flow's typed, versioned state (SigilFlows). Its kind never changes.
    public var flow: FlowState {
        didSet { precondition(flow.kind == kind, "a flow row keeps its kind") }
    }
    /// Failed attempts against this transaction (wrong number, bad signature).
    public var failures: Int
    public var createdAt: Date
    public var updatedAt: Date
    public var expiresAt: Date
    public var version: Int

    public init(
        id: String, tenantID: String, flow: FlowState, state: State = .pending, challenge: String, secretHash: String? = nil,
        userID: String? = nil, deviceID: String? = nil, number: String? = nil,
        failures: Int = 0, createdAt: Date, updatedAt: Date, expiresAt: Date, version: Int = 1
    ) {
        self.id = id; self.tenantID = tenantID; self.kind = flow.kind; self.flow = flow; self.state = state; self.challenge = challenge
        self.secretHash = secretHash; self.userID = userID; self.deviceID = deviceID; self.number = number
        self.failures = failures; self.createdAt = createdAt; self.updatedAt = updatedAt
        self.expiresAt = expiresAt; self.version = version
    }

    /// The row as its flow's state machine sees it, with `payload`.
    public func record<Payload>(_ payload: Payload) -> FlowRecord<Payload> {
        FlowRecord(
            phase: state, userID: userID, deviceID: deviceID, failures: failures, createdAt: createdAt, updatedAt: updatedAt,
            expiresAt: expiresAt, payload: payload)
    }

    /// Writes a state machine's record back (`wrap` puts the payload into its `FlowState` case).
    public mutating func apply<Payload>(_ record: FlowRecord<Payload>, _ wrap: (Payload) -> FlowState) {
        state = record.phase; userID = record.userID; deviceID = record.deviceID; failures = record.failures
        updatedAt = record.updatedAt; expiresAt = record.expiresAt
        flow = wrap(record.payload)
    }

    // The typed payloads, when the row is of that flow.
    public var authenticatorSignIn: AuthenticatorSignIn? { if case .authenticatorSignIn(let v) = flow { v } else { nil } }
    public var deviceEnrolment: DeviceEnrolment? { if case .deviceEnrolment(let v) = flow { v } else { nil } }
    public var passkeyCeremony: PasskeyCeremony? { if case .passkeyCeremony(let v) = flow { v } else { nil } }
    public var samlAuthnRequest: SAMLAuthnRequestFlow? { if case .samlAuthnRequest(let v) = flow { v } else { nil } }
    public var samlLogout: SAMLLogoutFlow? { if case .samlLogout(let v) = flow { v } else { nil } }
    /// The upstream sign-in of a SAML or OIDC upstream row.
    public var upstreamLogin: UpstreamLogin? {
        switch flow {
        case .upstreamSAML(.login(let v)): v
        case .upstreamOIDC(let v): v.login
        default: nil
        }
    }

    /// Writes an upstream sign-in's state machine record back into its SAML or OIDC row.
    public mutating func applyUpstream(_ record: FlowRecord<UpstreamLogin>) {
        switch flow {
        case .upstreamOIDC(let oidc):
            apply(record) { .upstreamOIDC(UpstreamOIDCLogin(login: $0, nonce: oidc.nonce, sealedVerifier: oidc.sealedVerifier)) }
        default:
            apply(record) { .upstreamSAML(.login($0)) }
        }
    }
}

public protocol LoginTransactionStore: Sendable {
    func create(_ transaction: LoginTransaction) async throws -> LoginTransaction
    func get(tenantID: String, id: String) async throws -> LoginTransaction
    /// Pending push requests for a user (what a device's stream delivers).
    func listPending(tenantID: String, userID: String, kind: LoginTransaction.Kind, now: Date) async throws -> [LoginTransaction]
    /// Locked read-modify-write, like the other aggregates' updates.
    func update(tenantID: String, id: String, _ mutate: @escaping @Sendable (inout LoginTransaction) throws -> Void) async throws -> LoginTransaction
    /// Pending rows of `kind`, of any tenant, whose `expiresAt` is at or before `before` (oldest
    /// first, at most `limit`): flows the expiry sweep must decide before their rows go.
    func listDue(kind: LoginTransaction.Kind, before: Date, limit: Int) async throws -> [LoginTransaction]
    func deleteExpired(now: Date) async throws -> Int
}

extension LoginTransactionStore {
    /// `update`, returning what `mutate` returned (a state machine's action) with the row.
    public func update<Result: Sendable>(
        tenantID: String, id: String,
        returning mutate: @escaping @Sendable (inout LoginTransaction) throws -> Result
    ) async throws
        -> (LoginTransaction, Result)
    {
        let box = ResultBox<Result>()
        let updated = try await update(tenantID: tenantID, id: id) { t in box.set(try mutate(&t)) }
        guard let result = box.get() else { throw StoreError(.unavailable, entity: "login transaction", detail: "the update did not run") }
        return (updated, result)
    }
}

/// Carries a value out of an update closure (a `Mutex`, as the project's other shared state).
private final class ResultBox<Value: Sendable>: Sendable {
    private let value = Mutex<Value?>(nil)
    func set(_ new: Value) { value.withLock { $0 = new } }
    func get() -> Value? { value.withLock { $0 } }
}
