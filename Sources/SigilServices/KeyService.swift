import Foundation
import SigilCore
import SigilJOSE
import SigilStore
import SigilXML
import X509
import _CryptoExtras

/// A tenant's signing keys: creation, rotation with overlap, the published JWKS and the SAML
/// signing certificate. Per algorithm (RS256, ES256) a tenant has one `current` key that signs,
/// one `next` key published ahead of use, and after a rotation one `previous` key still published.
public struct KeyService: Sendable {
    public let context: ServiceContext
    /// How long the SAML signing certificate is valid.
    public static let certificateValidity: TimeInterval = 5 * 365 * 24 * 3600

    public init(context: ServiceContext) { self.context = context }

    /// Generates a key record sealed under the master key, with a certificate for RSA keys.
    func makeKey(_ algorithm: SigningAlgorithm, tenant: Tenant, state: SigningKeyState) throws -> SigningKeyRecord {
        let material = try SigningKeyMaterial.generate(algorithm)
        let now = context.clock.now()
        var certificate: String?
        if algorithm == .rs256 {
            certificate = try SigningCertificate.make(
                for: material, commonName: "Sigil signing key for \(tenant.slug)", serialNumber: context.random.bytes(16),
                notBefore: now.addingTimeInterval(-300), notAfter: now.addingTimeInterval(Self.certificateValidity))
        }
        var jwk = material.publicJWK
        if let certificate { jwk.x5c = [try SigningCertificate.x5cValue(pem: certificate)] }
        let jwkJSON = String(decoding: try JSONEncoder.sorted.encode(jwk), as: UTF8.self)
        return SigningKeyRecord(
            kid: material.kid, tenantID: tenant.id, algorithm: algorithm.rawValue, state: state,
            sealedPrivateKey: try context.masterKey.seal(material.privateKeyDER.value, context: Self.sealContext(tenantID: tenant.id, kid: material.kid)),
            publicJWK: jwkJSON, certificatePEM: certificate, createdAt: now, updatedAt: now)
    }

    static func sealContext(tenantID: String, kid: String) -> String { "sigil/signing-key/\(tenantID)/\(kid)" }

    /// The keys a new tenant starts with: `current` and `next` for each algorithm.
    func initialKeys(for tenant: Tenant) throws -> [SigningKeyRecord] {
        var keys: [SigningKeyRecord] = []
        for algorithm in SigningAlgorithm.allCases {
            keys.append(try makeKey(algorithm, tenant: tenant, state: .current))
            keys.append(try makeKey(algorithm, tenant: tenant, state: .next))
        }
        return keys
    }

    public struct RotationResult: Sendable, Equatable {
        public var algorithm: String
        public var retired: String?
        public var previous: String?
        public var current: String
        public var next: String
    }

    /// Rotates every algorithm's keys: previous → retired, current → previous, next → current, and a
    /// new next. All in one transaction holding the tenant's key rows, so two nodes cannot rotate
    /// the same tenant at once.
    public func rotate(tenantID: String, by principal: Principal) async throws -> [RotationResult] {
        try await ensureAllAlgorithms(tenantID: tenantID)
        let tenant = try await context.store.tenants.get(id: tenantID)
        // Generate outside the transaction: RSA key generation takes a while.
        let fresh = try SigningAlgorithm.allCases.map { try makeKey($0, tenant: tenant, state: .next) }
        let context = self.context
        let results = try await context.store.transaction { tx in
            let keys = try await tx.signingKeys.list(tenantID: tenantID, forUpdate: true)
            let now = context.clock.now()
            var results: [RotationResult] = []
            for newNext in fresh {
                let mine = keys.filter { $0.algorithm == newNext.algorithm }
                guard let next = mine.last(where: { $0.state == .next }) else {
                    throw StoreError.conflict("signing key", "tenant has no next \(newNext.algorithm) key to promote")
                }
                let current = mine.last(where: { $0.state == .current })
                let previous = mine.filter { $0.state == .previous }
                for old in previous { try await tx.signingKeys.setState(tenantID: tenantID, kid: old.kid, state: .retired, at: now) }
                if let current { try await tx.signingKeys.setState(tenantID: tenantID, kid: current.kid, state: .previous, at: now) }
                try await tx.signingKeys.setState(tenantID: tenantID, kid: next.kid, state: .current, at: now)
                _ = try await tx.signingKeys.create(newNext)
                let result = RotationResult(
                    algorithm: newNext.algorithm, retired: previous.last?.kid, previous: current?.kid,
                    current: next.kid, next: newNext.kid)
                results.append(result)
                try await tx.audit.append(
                    context.auditEvent(
                        "keys.rotated", by: principal, tenantID: tenantID, targetType: "signing_key", targetID: next.kid,
                        before: ["current": current?.kid ?? "", "next": next.kid],
                        after: ["current": next.kid, "next": newNext.kid, "previous": current?.kid ?? ""]))
            }
            return results
        }
        // Correctness does not depend on this (every use reads which kid is current, on every
        // node), but this node need not keep the demoted keys' secrets in memory.
        context.signingKeyCache.remove(tenantID: tenantID)
        // The published JWKS and SAML metadata change: here at once, on other nodes at the signal.
        await context.tenantDocumentsChanged()
        return results
    }

    /// The published key set: next, current and previous keys of every algorithm.
    public func jwks(tenantID: String) async throws -> JWKSet {
        let keys = try await context.store.signingKeys.list(tenantID: tenantID, forUpdate: false)
        let order: [SigningKeyState: Int] = [.current: 0, .next: 1, .previous: 2]
        let published = keys.filter { $0.state != .retired }
            .sorted { (order[$0.state] ?? 9, $0.algorithm) < (order[$1.state] ?? 9, $1.algorithm) }
        return JWKSet(keys: try published.map { try JSONDecoder().decode(JWK.self, from: Data($0.publicJWK.utf8)) })
    }

    /// The certificate of the current RSA key (the SAML signing certificate).
    public func currentCertificatePEM(tenantID: String) async throws -> String {
        let keys = try await context.store.signingKeys.list(tenantID: tenantID, forUpdate: false)
        guard let pem = keys.last(where: { $0.state == .current && $0.algorithm == SigningAlgorithm.rs256.rawValue })?.certificatePEM else {
            throw StoreError.notFound("signing certificate", tenantID)
        }
        return pem
    }

    /// The current signing key for `algorithm`, decrypted and parsed (cached per tenant and kid).
    public func currentSigningKey(tenantID: String, algorithm: SigningAlgorithm) async throws -> SigningKeyMaterial {
        try parsed(try await currentRecord(tenantID: tenantID, algorithm: algorithm)).material
    }

    /// The current RSA key and the SAML signer made from it and its certificate, both kept parsed
    /// per tenant and kid. One read of the tenant's key rows says which kid is current.
    func currentSAMLSigner(tenantID: String) async throws -> (key: _RSA.Signing.PrivateKey, signer: XMLSigner) {
        let entry = try parsed(try await currentRecord(tenantID: tenantID, algorithm: .rs256))
        guard let key = entry.material.rsaPrivateKey, let signer = entry.xmlSigner else {
            if entry.certificatePEM != nil { throw SigilError(.internalFailure, "the current RSA key's certificate is not readable") }
            throw StoreError.notFound("signing certificate", tenantID)
        }
        return (key, signer)
    }

    /// The tenant's `current` key row for `algorithm`, read from the store on every call: this read
    /// is what makes a rotation on any node take effect on this one at its next signature.
    func currentRecord(tenantID: String, algorithm: SigningAlgorithm) async throws -> SigningKeyRecord {
        var keys = try await context.store.signingKeys.list(tenantID: tenantID, forUpdate: false)
        if !keys.contains(where: { $0.state == .current && $0.algorithm == algorithm.rawValue }) {
            try await ensureAllAlgorithms(tenantID: tenantID)
            keys = try await context.store.signingKeys.list(tenantID: tenantID, forUpdate: false)
        }
        guard let record = keys.last(where: { $0.state == .current && $0.algorithm == algorithm.rawValue }) else {
            throw StoreError.notFound("signing key", "no current \(algorithm.rawValue) key")
        }
        return record
    }

    /// Gives a tenant created before an algorithm existed (EdDSA came after RS256 and ES256) its
    /// `current` and `next` keys for it. Under the tenant's key-row lock, so nodes that race here
    /// create one pair.
    public func ensureAllAlgorithms(tenantID: String) async throws {
        let existing = Set(try await context.store.signingKeys.list(tenantID: tenantID, forUpdate: false).map(\.algorithm))
        let missing = SigningAlgorithm.allCases.filter { !existing.contains($0.rawValue) }
        guard !missing.isEmpty else { return }
        let tenant = try await context.store.tenants.get(id: tenantID)
        let fresh = try missing.flatMap { [try makeKey($0, tenant: tenant, state: .current), try makeKey($0, tenant: tenant, state: .next)] }
        let context = self.context
        try await context.store.transaction { tx in
            let present = Set(try await tx.signingKeys.list(tenantID: tenantID, forUpdate: true).map(\.algorithm))
            for record in fresh where !present.contains(record.algorithm) {
                _ = try await tx.signingKeys.create(record)
                if record.state == .current {
                    try await tx.audit.append(
                        context.auditEvent(
                            "keys.created", by: .system, tenantID: tenantID, targetType: "signing_key",
                            targetID: record.kid, after: ["algorithm": record.algorithm]))
                }
            }
        }
        await context.tenantDocumentsChanged()
    }

    /// The record's key, decrypted and parsed.
    public func decrypt(_ record: SigningKeyRecord) throws -> SigningKeyMaterial { try parsed(record).material }

    /// The record's key ready to sign, from the cache when this process has loaded that tenant's
    /// kid before. A kid names one immutable key, so its parsed form can be kept: opening the
    /// sealed DER and parsing the key (for RSA also BoringSSL's per-key setup) on every token was
    /// the largest cost after the signature itself.
    func parsed(_ record: SigningKeyRecord) throws -> ParsedSigningKey {
        let cache = context.signingKeyCache
        if let cached = cache.get(tenantID: record.tenantID, kid: record.kid), cached.tenantID == record.tenantID,
            cached.material.kid == record.kid, cached.certificatePEM == record.certificatePEM
        {
            return cached
        }
        let material = try decryptUncached(record)
        // An unreadable certificate fails SAML signing (below), never token signing.
        var signer: XMLSigner?
        if let pem = record.certificatePEM, let key = material.rsaPrivateKey, let certificate = try? Certificate(pemEncoded: pem) {
            signer = XMLSigner(key: .rsa(key), certificate: certificate)
        }
        let entry = ParsedSigningKey(tenantID: record.tenantID, material: material, certificatePEM: record.certificatePEM, xmlSigner: signer)
        cache.put(entry)
        return entry
    }

    func decryptUncached(_ record: SigningKeyRecord) throws -> SigningKeyMaterial {
        guard let algorithm = SigningAlgorithm(rawValue: record.algorithm) else {
            throw SigilError(.internalFailure, "unknown algorithm \(record.algorithm)")
        }
        let der = try context.masterKey.open(record.sealedPrivateKey, context: Self.sealContext(tenantID: record.tenantID, kid: record.kid))
        let material = try SigningKeyMaterial(algorithm: algorithm, privateKeyDER: der)
        guard material.kid == record.kid else { throw SigilError(.internalFailure, "stored key does not match its kid") }
        return material
    }

    /// The tenants whose stored signing keys this node's master key cannot open (one `current`
    /// key tried per tenant). Empty when the key matches the database. A database restored with
    /// another master key, or a node given the wrong `SIGIL_MASTER_KEY`, shows up here before it
    /// serves anything.
    public func tenantsUnreadableWithMasterKey() async throws -> [Tenant] {
        var unreadable: [Tenant] = []
        for tenant in try await context.store.tenants.list() {
            let keys = try await context.store.signingKeys.list(tenantID: tenant.id, forUpdate: false)
            guard let key = keys.first(where: { $0.state == .current }) ?? keys.first else { continue }
            do {
                _ = try decryptUncached(key)
            } catch {
                unreadable.append(tenant)
            }
        }
        return unreadable
    }

    public func list(tenantID: String) async throws -> [SigningKeyRecord] {
        try await context.store.signingKeys.list(tenantID: tenantID, forUpdate: false)
    }
}

extension JSONEncoder {
    static var sorted: JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return encoder
    }
}
