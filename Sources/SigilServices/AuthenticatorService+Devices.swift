import Foundation
import SigilAuthenticatorProtocol
import SigilStore

/// Changes to a registered authenticator device outside a sign-in.
extension AuthenticatorService {
    /// Removes a device (from the account page, `via: "account"`, or by the device itself,
    /// `via: "device"`) with `authenticator.device_removed`, then wakes the device's stream so it
    /// sees `revoked`.
    public func removeDevice(tenantID: String, userID: String, deviceID: String, by principal: Principal, via: String) async throws {
        let context = self.context
        try await context.store.transaction { tx in
            try await tx.authenticatorDevices.delete(tenantID: tenantID, userID: userID, id: deviceID)
            try await tx.audit.append(
                context.auditEvent(
                    "authenticator.device_removed", by: principal, tenantID: tenantID,
                    targetType: "authenticator_device", targetID: deviceID, after: ["via": via, "user": userID]))
        }
        await context.store.signals.publish(userID)
    }

    /// Sets the device's push registration (checked, sealed under the master key and bound to the
    /// device), or clears it when `registration.provider` is nil.
    public func setPushToken(tenant: Tenant, device: AuthenticatedDevice, registration: PushRegistration) async throws {
        var sealed: String? = nil
        if registration.provider != nil {
            try PushTokens.validate(registration)
            sealed = try PushTokens.seal(registration, deviceID: device.device.id, masterKey: context.masterKey)
        }
        try await context.store.authenticatorDevices.setPushToken(tenantID: tenant.id, id: device.device.id, sealed: sealed)
    }
}
