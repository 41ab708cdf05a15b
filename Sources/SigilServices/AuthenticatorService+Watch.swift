import Foundation
import SigilAuthenticatorProtocol
import SigilStore

/// Watching authenticator state change: the browser's view of one login transaction and a
/// device's pending requests. Changes arrive as `ChangeSignal`s (from any node) carrying only
/// ids; a watcher re-reads the store on each, and at least every `safetyPoll`, so a lost signal
/// costs latency, not correctness.
extension AuthenticatorService {
    /// The longest a watcher waits without re-reading the store.
    public static let safetyPoll: Duration = .seconds(5)

    /// A browser watching its login transaction (`/login/transactions/{tx}/events`).
    public struct TransactionWatch: Sendable {
        let context: ServiceContext
        let tenantID: String
        /// The transaction as the watch began.
        public let initial: BrowserSnapshot

        /// The transaction now. Once its row is gone (swept after expiry), `expired`, one version
        /// after the first snapshot.
        public func snapshot() async -> BrowserSnapshot {
            if let t = try? await context.store.loginTransactions.get(tenantID: tenantID, id: initial.transaction) {
                return AuthenticatorService.snapshot(t, now: context.clock.now())
            }
            return BrowserSnapshot(
                transaction: initial.transaction, kind: initial.kind, state: "expired", number: nil,
                expiresAt: initial.expiresAt, reason: nil, version: initial.version + 1)
        }

        /// Returns when the transaction may have changed, or after `timeout`.
        public func waitForChange(timeout: Duration) async {
            _ = await context.store.signals.wait(for: initial.transaction, timeout: timeout)
        }
    }

    /// Starts watching `transaction` (already checked to belong to the browser).
    public func watch(tenant: Tenant, transaction: LoginTransaction) -> TransactionWatch {
        TransactionWatch(context: context, tenantID: tenant.id, initial: Self.snapshot(transaction, now: context.clock.now()))
    }

    /// What a device's event stream shows (`/authenticator/v1/stream`).
    public enum DeviceState: Sendable, Equatable {
        /// The device was removed (by its user, an administrator or itself).
        case removed
        /// The device is registered; these requests wait for its answer.
        case pending([RequestView])
    }

    /// A device watching for requests addressed to its user.
    public struct DeviceWatch: Sendable {
        let service: AuthenticatorService
        let tenant: Tenant
        let device: AuthenticatedDevice

        /// The device's state now. A failed read of the pending requests shows none (the next
        /// round reads again).
        public func current() async -> DeviceState {
            if (try? await service.context.store.authenticatorDevices.get(tenantID: tenant.id, id: device.device.id)) == nil {
                return .removed
            }
            return .pending((try? await service.pending(tenant: tenant, device: device)) ?? [])
        }

        /// Returns when something for the device's user may have changed, or after `timeout`.
        public func waitForChange(timeout: Duration) async {
            _ = await service.context.store.signals.wait(for: device.user.id, timeout: timeout)
        }
    }

    public func watch(tenant: Tenant, device: AuthenticatedDevice) -> DeviceWatch {
        DeviceWatch(service: self, tenant: tenant, device: device)
    }

    /// The device's pending requests; when there are none, waits up to `wait` for one to appear
    /// (long poll), or until `stop` says the server is shutting down.
    public func pending(
        tenant: Tenant, device: AuthenticatedDevice, waitingUpTo wait: Duration,
        stop: @Sendable () -> Bool
    ) async throws -> [RequestView] {
        let deadline = ContinuousClock.now + wait
        while true {
            let requests = try await pending(tenant: tenant, device: device)
            if !requests.isEmpty || ContinuousClock.now >= deadline || stop() { return requests }
            _ = await context.store.signals.wait(for: device.user.id, timeout: min(Self.safetyPoll, deadline - ContinuousClock.now))
        }
    }
}
