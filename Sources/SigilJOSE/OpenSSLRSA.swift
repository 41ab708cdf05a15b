import CSigilOpenSSL
import Foundation
import SigilCore

/// Which library signs RS256. OpenSSL 3's RSA uses the CPU's wide multiply instructions (AVX-512
/// IFMA where present) and signs 2–2.5 times as fast as the BoringSSL inside swift-crypto on such
/// machines, and no slower elsewhere (scripts/bench/README.md); RSASSA-PKCS1-v1_5 is deterministic,
/// so both produce the same bytes (`OpenSSLRSATests`). `SIGIL_RSA_SIGNER=boringssl` keeps every
/// signature in swift-crypto.
public enum RSASignerLibrary: String, Sendable, CaseIterable {
    case openSSL = "openssl"
    case boringSSL = "boringssl"

    /// Chosen once per process from `SIGIL_RSA_SIGNER` (default `openssl`).
    public static let preferred: RSASignerLibrary =
        ProcessInfo.processInfo.environment["SIGIL_RSA_SIGNER"].flatMap { RSASignerLibrary(rawValue: $0.lowercased()) } ?? .openSSL

    /// The linked libcrypto's version string.
    public static var openSSLVersion: String { String(cString: sigil_openssl_version()) }
}

/// An RSA private key held by libcrypto, parsed once. Immutable after creation; libcrypto allows
/// concurrent signing with one key (each signature makes its own context), hence `@unchecked`.
final class OpenSSLRSAKey: @unchecked Sendable {
    private let key: OpaquePointer
    let size: Int

    /// Nil when libcrypto does not read `der` as an RSA key.
    init?(der: [UInt8]) {
        guard let key = der.withUnsafeBufferPointer({ sigil_rsa_key_from_der($0.baseAddress, $0.count) }) else { return nil }
        self.key = key
        self.size = sigil_rsa_key_size(key)
    }

    deinit { sigil_rsa_key_free(key) }

    func signSHA256(_ message: [UInt8]) throws -> [UInt8] {
        var signature = [UInt8](repeating: 0, count: size)
        var length = 0
        let ok = message.withUnsafeBufferPointer { input in
            signature.withUnsafeMutableBufferPointer { output in
                sigil_rsa_sign_sha256(key, input.baseAddress, input.count, output.baseAddress, &length)
            }
        }
        guard ok == 1, length == size else { throw SigilError(.internalFailure, "libcrypto could not sign") }
        return signature
    }
}
