import Crypto
import SigilCore
import Synchronization

/// Device keys as P-256 scalars in memory, for the CLI (whose state file keeps the scalars) and tests.
/// Key protection `software`. A handle's id is derived from the public key, so it is stable across
/// runs without being stored.
public final class SoftwareKeyStore: DeviceKeyStore {
    private let keys = Mutex<[String: [UInt8]]>([:])

    public init() {}

    public func generateKey() async throws -> (handle: DeviceKeyHandle, publicKey: [UInt8], protection: KeyProtection) {
        let key = P256.Signing.PrivateKey()
        let handle = store(key)
        return (handle, Array(key.publicKey.x963Representation), .software)
    }

    public func sign(_ message: [UInt8], with handle: DeviceKeyHandle) async throws -> [UInt8] {
        guard let scalar = keys.withLock({ $0[handle.id] }) else {
            throw AuthenticatorError(.keyStore, "no such device key")
        }
        let key = try P256.Signing.PrivateKey(rawRepresentation: scalar)
        return Array(try key.signature(for: message).derRepresentation)
    }

    public func deleteKey(_ handle: DeviceKeyHandle) async throws {
        _ = keys.withLock { $0.removeValue(forKey: handle.id) }
    }

    /// Adds a stored 32-byte scalar; returns its handle.
    @discardableResult
    public func importKey(scalar: [UInt8]) throws -> DeviceKeyHandle {
        do {
            return store(try P256.Signing.PrivateKey(rawRepresentation: scalar))
        } catch {
            throw AuthenticatorError(.keyStore, "a stored device key is not a valid P-256 scalar")
        }
    }

    /// The 32-byte scalar behind `handle`, for persisting it (the CLI's state file).
    public func exportScalar(_ handle: DeviceKeyHandle) -> [UInt8]? {
        keys.withLock { $0[handle.id] }
    }

    /// The X9.63 public key behind `handle`.
    public func publicKey(_ handle: DeviceKeyHandle) -> [UInt8]? {
        guard let scalar = exportScalar(handle), let key = try? P256.Signing.PrivateKey(rawRepresentation: scalar) else { return nil }
        return Array(key.publicKey.x963Representation)
    }

    private func store(_ key: P256.Signing.PrivateKey) -> DeviceKeyHandle {
        let digest = SHA256.hash(data: key.publicKey.x963Representation)
        let handle = DeviceKeyHandle(id: "software:" + String(Base64URL.encode(Array(digest)).prefix(22)))
        keys.withLock { $0[handle.id] = Array(key.rawRepresentation) }
        return handle
    }
}
