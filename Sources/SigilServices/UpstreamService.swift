import Crypto
import Foundation
import SigilCore
import SigilJOSE
import SigilSAML
import SigilStore
import X509
import _CryptoExtras

/// Upstream identity providers (Sigil as SAML service provider): the connections a tenant
/// imports from an IdP's metadata, their refresh, and Sigil's SP metadata for each.
/// Sign-in through a connection is `UpstreamService+SAML`.
public struct UpstreamService: Sendable {
    public let context: ServiceContext
    public let sessions: SessionService
    /// Signs a session's service providers out (single logout towards and from the upstream IdP).
    public let idp: SAMLIdentityProviderService

    public init(context: ServiceContext, sessions: SessionService, idp: SAMLIdentityProviderService) {
        self.context = context
        self.sessions = sessions
        self.idp = idp
    }

    /// How long a connection's SP certificate is valid.
    public static let certificateValidity: TimeInterval = 5 * 365 * 24 * 3600

    // MARK: Sigil's service-provider values for a connection

    public struct SPValues: Sendable, Equatable {
        public var entityID: String
        public var acsURL: String
        public var sloURL: String
        public var metadataURL: String
    }

    public static func spValues(issuer: String, name: String) -> SPValues {
        let base = "\(issuer)/saml/sp/\(name)"
        return SPValues(entityID: base + "/metadata", acsURL: base + "/acs", sloURL: base + "/slo", metadataURL: base + "/metadata")
    }

    /// The SP metadata of `name` (404 for an unknown or disabled connection).
    public func spMetadata(tenantID: String, issuer: String, name: String) async throws -> [UInt8] {
        guard let c = try await context.store.upstreams.find(tenantID: tenantID, name: name), c.enabled, let saml = c.saml else {
            throw StoreError.notFound("upstream connection", name)
        }
        let sp = Self.spValues(issuer: issuer, name: c.name)
        return SPConnectionMetadata(
            entityID: sp.entityID, acsURL: sp.acsURL, sloURL: sp.sloURL, certificatePEM: saml.spCertificatePEM,
            nameIDFormat: saml.nameIDFormat
        ).document()
    }

    /// Enabled connections, for the login page's buttons and identifier-first routing.
    public func enabledConnections(tenantID: String) async throws -> [UpstreamConnection] {
        try await context.store.upstreams.list(tenantID: tenantID).filter(\.enabled)
    }

    /// The enabled connection whose email domains include `email`'s domain, if any.
    public func route(tenantID: String, email: String) async throws -> UpstreamConnection? {
        guard let at = email.lastIndex(of: "@") else { return nil }
        let domain = email[email.index(after: at)...].lowercased()
        return try await enabledConnections(tenantID: tenantID).first { $0.policy.emailDomains.contains(domain) }
    }

    // MARK: creating and changing connections

    /// Where the IdP's values come from.
    public enum MetadataSource: Sendable {
        /// Fetched now and on schedule (`validUntil`, `cacheDuration`, HTTP caching).
        case url(String)
        /// A metadata document the administrator uploaded.
        case document([UInt8])
        /// Typed in by hand.
        case manual(entityID: String, ssoURL: String, ssoBinding: String, sloURL: String?, certificatesPEM: [String])
    }

    public struct NewSAMLConnection: Sendable {
        public var name: String
        public var displayName: String?
        public var metadata: MetadataSource
        /// Pick one IdP out of an aggregate (`EntitiesDescriptor`).
        public var idpEntityID: String?
        /// The metadata must be signed by this certificate (PEM).
        public var metadataSigningCertificatePEM: String?
        public var attributes: UpstreamAttributeMapping
        public var emailDomains: [String]
        public var linkDomains: [String]
        public var provisionUsers: Bool
        public var allowUnsolicited: Bool
        public var allowInsecureSHA1: Bool
        public var nameIDFormat: String?
        public var stepUp: Bool = false

        public init(
            name: String, displayName: String? = nil, metadata: MetadataSource, idpEntityID: String? = nil,
            metadataSigningCertificatePEM: String? = nil, attributes: UpstreamAttributeMapping = .init(), emailDomains: [String] = [],
            linkDomains: [String] = [], provisionUsers: Bool = true, allowUnsolicited: Bool = false, allowInsecureSHA1: Bool = false,
            nameIDFormat: String? = nil
        ) {
            self.name = name; self.displayName = displayName; self.metadata = metadata; self.idpEntityID = idpEntityID
            self.metadataSigningCertificatePEM = metadataSigningCertificatePEM; self.attributes = attributes
            self.emailDomains = emailDomains; self.linkDomains = linkDomains; self.provisionUsers = provisionUsers
            self.allowUnsolicited = allowUnsolicited; self.allowInsecureSHA1 = allowInsecureSHA1; self.nameIDFormat = nameIDFormat
        }
    }

    static func normalizedDomains(_ domains: [String], field: String) throws -> [String] {
        var out: [String] = []
        for raw in domains {
            let d = raw.trimmingCharacters(in: .whitespaces).lowercased()
            guard !d.isEmpty, d.utf8.count <= 253, !d.contains("@"), !d.contains("/"), d.contains("."), !d.hasPrefix("."), !d.hasSuffix(".")
            else {
                throw ServiceError.invalid([FieldError(field: field, message: "\(raw.debugDescription) is not a domain name")])
            }
            if !out.contains(d) { out.append(d) }
        }
        return out
    }

    public func createSAML(tenantID: String, _ input: NewSAMLConnection, by principal: Principal) async throws -> UpstreamConnection {
        try authorize(principal, tenantID)
        guard UpstreamConnection.isValidName(input.name) else {
            throw ServiceError.invalid([FieldError(field: "name", message: "name must be 1–63 of a-z, 0-9 and -, not starting or ending with -")])
        }
        let display = (input.displayName ?? input.name).trimmingCharacters(in: .whitespaces)
        if let message = Validate.name(display, field: "display_name", max: 80) {
            throw ServiceError.invalid([FieldError(field: "display_name", message: message)])
        }
        let emailDomains = try Self.normalizedDomains(input.emailDomains, field: "email_domains")
        let linkDomains = try Self.normalizedDomains(input.linkDomains, field: "link_domains")
        for (field, value) in [
            ("attributes.email", input.attributes.email), ("attributes.given_name", input.attributes.givenName),
            ("attributes.family_name", input.attributes.familyName),
        ]
        where value.isEmpty || value.utf8.count > 256 {
            throw ServiceError.invalid([FieldError(field: field, message: "an attribute name of 1–256 characters is required")])
        }
        if let existing = try await context.store.upstreams.find(tenantID: tenantID, name: input.name) {
            throw StoreError.alreadyExists("upstream connection", existing.name)
        }
        let pinned = try input.metadataSigningCertificatePEM.map { try Self.certificate($0, field: "metadata_certificate") }
        let now = context.clock.now()
        let imported: (UpstreamIdPMetadata, String?)
        switch input.metadata {
        case .url(let url):
            let fetched = try await fetchMetadata(url: url, pinned: pinned.map { [$0] } ?? [], entityID: input.idpEntityID)
            imported = (fetched.metadata, fetched.etag)
        case .document(let bytes):
            do { imported = (try UpstreamIdPMetadata.parse(bytes, entityID: input.idpEntityID, pinnedCertificates: pinned.map { [$0] } ?? []), nil) } catch {
                throw ServiceError.invalid([FieldError(field: "metadata", message: error.message)])
            }
        case .manual(let entityID, let ssoURL, let binding, let sloURL, let pems):
            guard !entityID.isEmpty else { throw ServiceError.invalid([FieldError(field: "idp_entity_id", message: "the IdP's entity ID is required")]) }
            guard Self.isWebURL(ssoURL) else { throw ServiceError.invalid([FieldError(field: "sso_url", message: "sso_url must be an http(s) URL")]) }
            guard !pems.isEmpty else {
                throw ServiceError.invalid([FieldError(field: "certificates", message: "at least one IdP signing certificate is required")])
            }
            for pem in pems { _ = try Self.certificate(pem, field: "certificates") }
            let b = binding == "post" ? SAMLBinding.httpPOST.rawValue : SAMLBinding.httpRedirect.rawValue
            imported = (
                UpstreamIdPMetadata(
                    entityID: entityID, singleSignOnServices: [.init(binding: b, location: ssoURL)],
                    singleLogoutServices: sloURL.map { [.init(binding: SAMLBinding.httpRedirect.rawValue, location: $0)] } ?? [],
                    signingCertificatesPEM: pems), nil
            )
        }
        let (metadata, etag) = imported
        if let validUntil = metadata.validUntil, validUntil <= now {
            throw ServiceError.invalid([FieldError(field: "metadata", message: "the metadata expired at \(SAMLTime.format(validUntil)) (validUntil)")])
        }
        guard let sso = metadata.preferredSSO else {
            throw ServiceError.invalid([FieldError(field: "metadata", message: "the IdP has no SingleSignOnService for HTTP-Redirect or HTTP-POST")])
        }
        // The connection's own SP key: signs AuthnRequests, decrypts assertions.
        let material = try SigningKeyMaterial.generate(.rs256)
        let certificate = try SigningCertificate.make(
            for: material, commonName: "Sigil SP \(input.name)", serialNumber: context.random.bytes(16),
            notBefore: now.addingTimeInterval(-300), notAfter: now.addingTimeInterval(Self.certificateValidity), keyEncipherment: true)
        let id = context.ids.make(.upstreamConnection)
        let settings = UpstreamSAMLSettings(
            idpEntityID: metadata.entityID, ssoURL: sso.location, ssoBinding: sso.binding == SAMLBinding.httpPOST.rawValue ? "post" : "redirect",
            sloURL: metadata.preferredSLO?.location,
            sloBinding: metadata.preferredSLO.map { $0.binding == SAMLBinding.httpPOST.rawValue ? "post" : "redirect" },
            signingCertificatesPEM: metadata.signingCertificatesPEM,
            nameIDFormat: input.nameIDFormat.flatMap { NameIDFormat(spelling: $0)?.rawValue } ?? Self.preferredNameIDFormat(metadata.nameIDFormats),
            metadataURL: { if case .url(let u) = input.metadata { return u } else { return nil } }(),
            metadataSigningCertificatePEM: input.metadataSigningCertificatePEM, metadataValidUntil: metadata.validUntil,
            metadataCacheDuration: metadata.cacheDuration, metadataFetchedAt: now, metadataETag: etag,
            allowUnsolicited: input.allowUnsolicited, allowInsecureSHA1: input.allowInsecureSHA1, spKeyID: material.kid,
            spCertificatePEM: certificate,
            sealedSPKey: try context.masterKey.seal(material.privateKeyDER.value, context: Self.sealContext(tenantID: tenantID, connectionID: id)))
        let connection = UpstreamConnection(
            id: id, tenantID: tenantID, name: input.name, displayName: display,
            policy: UpstreamPolicy(
                attributes: input.attributes, emailDomains: emailDomains, linkDomains: linkDomains, provisionUsers: input.provisionUsers,
                stepUp: input.stepUp),
            settings: .saml(settings), createdAt: now, updatedAt: now)
        let context = self.context
        return try await context.store.transaction { tx in
            let created = try await tx.upstreams.create(connection)
            try await tx.audit.append(
                context.auditEvent(
                    "upstream.created", by: principal, tenantID: tenantID, targetType: "upstream_connection", targetID: created.id,
                    after: Self.summary(created)))
            return created
        }
    }

    static func preferredNameIDFormat(_ offered: [String]) -> String? {
        if offered.isEmpty || offered.contains(NameIDFormat.emailAddress.rawValue) { return NameIDFormat.emailAddress.rawValue }
        if offered.contains(NameIDFormat.persistent.rawValue) { return NameIDFormat.persistent.rawValue }
        return offered.first
    }

    static func isWebURL(_ s: String) -> Bool {
        guard let u = URLComponents(string: s), let scheme = u.scheme?.lowercased(), scheme == "https" || scheme == "http", u.host?.isEmpty == false
        else { return false }
        return true
    }

    static func certificate(_ pem: String, field: String) throws -> Certificate {
        do { return try Certificate(pemEncoded: pem) } catch {
            throw ServiceError.invalid([FieldError(field: field, message: "not a readable X.509 PEM certificate")])
        }
    }

    static func sealContext(tenantID: String, connectionID: String) -> String { "sigil/upstream-sp-key/\(tenantID)/\(connectionID)" }

    /// What the audit log records of a connection (no keys).
    static func summary(_ c: UpstreamConnection) -> [String: String] {
        var out = [
            "name": c.name, "display_name": c.displayName, "enabled": c.enabled ? "true" : "false", "protocol": c.protocolName,
            "email_domains": c.policy.emailDomains.joined(separator: " "), "link_domains": c.policy.linkDomains.joined(separator: " "),
            "provision_users": c.policy.provisionUsers ? "true" : "false", "step_up": c.policy.stepUp ? "passkey" : "none",
            "attributes": "email=\(c.policy.attributes.email) given_name=\(c.policy.attributes.givenName) family_name=\(c.policy.attributes.familyName)",
        ]
        switch c.settings {
        case .saml(let saml):
            out.merge([
                "idp_entity_id": saml.idpEntityID, "sso_url": saml.ssoURL, "sso_binding": saml.ssoBinding, "slo_url": saml.sloURL ?? "",
                "signing_certificates": saml.signingCertificatesPEM.map(Self.fingerprint).joined(separator: " "),
                "metadata_url": saml.metadataURL ?? "", "allow_unsolicited": saml.allowUnsolicited ? "true" : "false",
                "allow_insecure_sha1": saml.allowInsecureSHA1 ? "true" : "false",
            ]) { a, _ in a }
        case .oidc(let oidc):
            out.merge([
                "issuer": oidc.issuer, "authorization_endpoint": oidc.authorizationEndpoint, "token_endpoint": oidc.tokenEndpoint,
                "jwks_uri": oidc.jwksURI, "par_endpoint": oidc.parEndpoint ?? "", "client_id": oidc.clientID, "auth_method": oidc.authMethod,
                "scopes": oidc.scopes.joined(separator: " "), "use_par": oidc.usePAR ? "true" : "false",
                "end_session_endpoint": oidc.endSessionEndpoint ?? "",
                "backchannel_logout_supported": oidc.backchannelLogoutSupported == true ? "true" : "false",
            ]) { a, _ in a }
        }
        return out
    }

    /// SHA-256 of the certificate's DER, lower-case hex.
    public static func fingerprint(_ pem: String) -> String {
        guard let der = Data(base64Encoded: PEMText.base64Body(pem)) else { return "unreadable" }
        return hexEncoded(Array(SHA256.hash(data: der)))
    }

    public func list(tenantID: String, by principal: Principal) async throws -> [UpstreamConnection] {
        try authorize(principal, tenantID)
        return try await context.store.upstreams.list(tenantID: tenantID)
    }

    public func get(tenantID: String, name: String, by principal: Principal) async throws -> UpstreamConnection {
        try authorize(principal, tenantID)
        guard let c = try await context.store.upstreams.find(tenantID: tenantID, name: name) else {
            throw StoreError.notFound("upstream connection", name)
        }
        return c
    }

    public func delete(tenantID: String, name: String, by principal: Principal) async throws {
        let c = try await get(tenantID: tenantID, name: name, by: principal)
        let context = self.context
        try await context.store.transaction { tx in
            let deleted = try await tx.upstreams.delete(tenantID: tenantID, id: c.id)
            try await tx.audit.append(
                context.auditEvent(
                    "upstream.deleted", by: principal, tenantID: tenantID, targetType: "upstream_connection", targetID: c.id,
                    before: Self.summary(deleted)))
        }
    }

    public func setEnabled(tenantID: String, name: String, enabled: Bool, by principal: Principal) async throws -> UpstreamConnection {
        let c = try await get(tenantID: tenantID, name: name, by: principal)
        let now = context.clock.now()
        let context = self.context
        return try await context.store.transaction { tx in
            let (before, after) = try await tx.upstreams.update(tenantID: tenantID, id: c.id, expectedVersion: nil) {
                $0.enabled = enabled
                $0.updatedAt = now
            }
            try await tx.audit.append(
                context.auditEvent(
                    "upstream.updated", by: principal, tenantID: tenantID, targetType: "upstream_connection", targetID: c.id,
                    before: Self.summary(before), after: Self.summary(after)))
            return after
        }
    }

    /// A policy change from the admin API (nil: unchanged).
    public struct Change: Sendable {
        public var displayName: String?
        public var enabled: Bool?
        public var emailDomains: [String]?
        public var linkDomains: [String]?
        public var attributes: UpstreamAttributeMapping?
        public var provisionUsers: Bool?
        public var allowUnsolicited: Bool?
        public var stepUp: Bool?

        public init(
            displayName: String? = nil, enabled: Bool? = nil, emailDomains: [String]? = nil, linkDomains: [String]? = nil,
            attributes: UpstreamAttributeMapping? = nil, provisionUsers: Bool? = nil, allowUnsolicited: Bool? = nil, stepUp: Bool? = nil
        ) {
            self.displayName = displayName; self.enabled = enabled; self.emailDomains = emailDomains; self.linkDomains = linkDomains
            self.attributes = attributes; self.provisionUsers = provisionUsers; self.allowUnsolicited = allowUnsolicited; self.stepUp = stepUp
        }
    }

    public func update(tenantID: String, name: String, _ change: Change, by principal: Principal) async throws -> UpstreamConnection {
        let c = try await get(tenantID: tenantID, name: name, by: principal)
        var display: String?
        if let d = change.displayName {
            display = d.trimmingCharacters(in: .whitespaces)
            if let message = Validate.name(display!, field: "display_name", max: 80) {
                throw ServiceError.invalid([FieldError(field: "display_name", message: message)])
            }
        }
        let emailDomains = try change.emailDomains.map { try Self.normalizedDomains($0, field: "email_domains") }
        let linkDomains = try change.linkDomains.map { try Self.normalizedDomains($0, field: "link_domains") }
        if let a = change.attributes {
            for (field, value) in [("attributes.email", a.email), ("attributes.given_name", a.givenName), ("attributes.family_name", a.familyName)]
            where value.isEmpty || value.utf8.count > 256 {
                throw ServiceError.invalid([FieldError(field: field, message: "an attribute name of 1–256 characters is required")])
            }
        }
        let now = context.clock.now()
        let context = self.context
        let newDisplay = display
        return try await context.store.transaction { tx in
            let (before, after) = try await tx.upstreams.update(tenantID: tenantID, id: c.id, expectedVersion: nil) { conn in
                if let newDisplay { conn.displayName = newDisplay }
                if let enabled = change.enabled { conn.enabled = enabled }
                if let emailDomains { conn.policy.emailDomains = emailDomains }
                if let linkDomains { conn.policy.linkDomains = linkDomains }
                if let attributes = change.attributes { conn.policy.attributes = attributes }
                if let provision = change.provisionUsers { conn.policy.provisionUsers = provision }
                if let stepUp = change.stepUp { conn.policy.stepUp = stepUp }
                if let unsolicited = change.allowUnsolicited, case .saml(var saml) = conn.settings {
                    saml.allowUnsolicited = unsolicited
                    conn.settings = .saml(saml)
                }
                conn.updatedAt = now
            }
            try await tx.audit.append(
                context.auditEvent(
                    "upstream.updated", by: principal, tenantID: tenantID, targetType: "upstream_connection", targetID: c.id,
                    before: Self.summary(before), after: Self.summary(after)))
            return after
        }
    }

    // MARK: metadata refresh

    struct Fetched {
        var metadata: UpstreamIdPMetadata
        var etag: String?
    }

    func fetchMetadata(url: String, pinned: [Certificate], entityID: String?) async throws -> Fetched {
        if let why = context.remote.refusal(url) { throw ServiceError.invalid([FieldError(field: "metadata_url", message: why)]) }
        let document: RemoteDocument
        do { document = try await context.remote.metadataDocument(at: url) } catch let error as RemoteFetchError {
            context.logger.info(
                "IdP metadata fetch failed",
                metadata: ["host": .string(URLComponents(string: url)?.host ?? "-"), "reason": .string("\(error)")])
            throw ServiceError.invalid([FieldError(field: "metadata_url", message: "metadata \(error.publicDescription)")])
        }
        do {
            var metadata = try UpstreamIdPMetadata.parse(document.body, entityID: entityID, pinnedCertificates: pinned)
            // HTTP caching: a shorter max-age than the metadata's cacheDuration brings the next fetch forward.
            if let maxAge = document.maxAge { metadata.cacheDuration = min(metadata.cacheDuration ?? maxAge, maxAge) }
            return Fetched(metadata: metadata, etag: nil)
        } catch {
            throw ServiceError.invalid([FieldError(field: "metadata_url", message: "the document is not usable IdP metadata: \(error.message)")])
        }
    }

    public struct RefreshResult: Sendable {
        public var connection: UpstreamConnection
        /// What changed, one line per field (empty: nothing).
        public var changes: [String]
        /// Why the refresh failed (the last good metadata stays), if it did.
        public var failure: String?
    }

    /// Fetches the connection's metadata URL now. A failure keeps the last good copy and is
    /// recorded on the connection (and audited); a change is diffed and audited.
    public func refresh(tenantID: String, name: String, by principal: Principal) async throws -> RefreshResult {
        let c = try await get(tenantID: tenantID, name: name, by: principal)
        return try await refresh(c, by: principal)
    }

    func refresh(_ c: UpstreamConnection, by principal: Principal) async throws -> RefreshResult {
        if c.oidc != nil { return try await refreshDiscovery(c, by: principal) }
        guard let saml = c.saml, let url = saml.metadataURL else {
            throw ServiceError.invalid([FieldError(field: "metadata_url", message: "this connection was not imported from a metadata URL")])
        }
        let now = context.clock.now()
        let pinned = try saml.metadataSigningCertificatePEM.map { [try Self.certificate($0, field: "metadata_certificate")] } ?? []
        var fetched: Fetched?
        var failure: String?
        do {
            let f = try await fetchMetadata(url: url, pinned: pinned, entityID: saml.idpEntityID)
            if let validUntil = f.metadata.validUntil, validUntil <= now {
                failure = "the fetched metadata expired at \(SAMLTime.format(validUntil))"
            } else if f.metadata.preferredSSO == nil {
                failure = "the fetched metadata has no usable SingleSignOnService"
            } else {
                fetched = f
            }
        } catch let error as ServiceError {
            failure = error.message
        }
        let good = fetched, failed = failure
        return try await recordRefresh(c, failure: failed, by: principal, now: now) { conn in
            guard case .saml(var s) = conn.settings else { return }
            if let fetched = good {
                let m = fetched.metadata
                let sso = m.preferredSSO!
                s.ssoURL = sso.location
                s.ssoBinding = sso.binding == SAMLBinding.httpPOST.rawValue ? "post" : "redirect"
                s.sloURL = m.preferredSLO?.location
                s.sloBinding = m.preferredSLO.map { $0.binding == SAMLBinding.httpPOST.rawValue ? "post" : "redirect" }
                s.signingCertificatesPEM = m.signingCertificatesPEM
                s.metadataValidUntil = m.validUntil
                s.metadataCacheDuration = m.cacheDuration
                s.metadataETag = fetched.etag
                s.metadataRefreshError = nil
            } else {
                s.metadataRefreshError = failed
            }
            s.metadataFetchedAt = now
            conn.settings = .saml(s)
        }
    }

    /// Writes a refresh's outcome (`apply`) with its audit event: the diff when something
    /// changed, the failure when the fetch failed (the last good copy stays).
    func recordRefresh(
        _ c: UpstreamConnection, failure: String?, by principal: Principal, now: Date,
        _ apply: @escaping @Sendable (inout UpstreamConnection) -> Void
    ) async throws -> RefreshResult {
        let context = self.context
        let outcome = try await context.store.transaction { tx -> (UpstreamConnection, [String]) in
            let (before, after) = try await tx.upstreams.update(tenantID: c.tenantID, id: c.id, expectedVersion: nil) { conn in
                apply(&conn)
                conn.updatedAt = now
            }
            let changes = Self.diff(Self.summary(before), Self.summary(after))
            if let failure {
                try await tx.audit.append(
                    context.auditEvent(
                        "upstream.metadata_refresh_failed", by: principal, tenantID: c.tenantID, targetType: "upstream_connection",
                        targetID: c.id, outcome: .failure, reason: failure))
            } else if !changes.isEmpty {
                try await tx.audit.append(
                    context.auditEvent(
                        "upstream.metadata_changed", by: principal, tenantID: c.tenantID, targetType: "upstream_connection",
                        targetID: c.id, before: Self.summary(before), after: Self.summary(after)))
            }
            return (after, changes)
        }
        return RefreshResult(connection: outcome.0, changes: outcome.1, failure: failure)
    }

    static func diff(_ before: [String: String], _ after: [String: String]) -> [String] {
        Set(before.keys).union(after.keys).sorted().compactMap { key in
            before[key] == after[key] ? nil : "\(key): \(before[key] ?? "") → \(after[key] ?? "")"
        }
    }

    /// When a connection's metadata should be fetched again: its cacheDuration (bounded to 5
    /// minutes … 24 hours; 6 hours when it states none), and never after its validUntil.
    public static func nextRefresh(_ c: UpstreamConnection) -> Date {
        switch c.settings {
        case .saml(let saml):
            let last = saml.metadataFetchedAt ?? .distantPast
            let interval = min(max(saml.metadataCacheDuration ?? 6 * 3600, 300), 24 * 3600)
            var next = last.addingTimeInterval(saml.metadataRefreshError == nil ? interval : min(interval, 900))
            if let validUntil = saml.metadataValidUntil { next = min(next, validUntil.addingTimeInterval(-3600)) }
            return next
        case .oidc(let oidc):
            // Discovery documents change rarely; keys are fetched when an unknown kid appears.
            return (oidc.discoveryFetchedAt ?? .distantPast).addingTimeInterval(oidc.discoveryRefreshError == nil ? 24 * 3600 : 900)
        }
    }

    /// Refreshes every connection whose metadata is due (the scheduled task, on any node).
    /// Returns the warnings to log: refresh failures, certificates or metadata lapsing within 14 days.
    public func refreshDue() async throws -> [String] {
        let now = context.clock.now()
        var warnings: [String] = []
        for c in try await context.store.upstreams.listWithMetadataURL() where Self.nextRefresh(c) <= now {
            let result = try await refresh(c, by: .system)
            if let failure = result.failure { warnings.append("upstream \(c.name) (tenant \(c.tenantID)): metadata refresh failed: \(failure)") }
        }
        for tenantConnections in try await context.store.upstreams.listWithMetadataURL() {
            warnings += Self.expiryWarnings(tenantConnections, now: now)
        }
        return warnings
    }

    /// SAML certificates and metadata that lapse within `within` (default 14 days).
    public static func expiryWarnings(_ c: UpstreamConnection, now: Date, within: TimeInterval = 14 * 86_400) -> [String] {
        var out: [String] = []
        guard let saml = c.saml else { return [] }
        if let validUntil = saml.metadataValidUntil, validUntil < now.addingTimeInterval(within) {
            out.append("upstream \(c.name): its metadata is valid until \(SAMLTime.format(validUntil))")
        }
        for pem in saml.signingCertificatesPEM {
            if let cert = try? Certificate(pemEncoded: pem), cert.notValidAfter < now.addingTimeInterval(within) {
                out.append("upstream \(c.name): IdP signing certificate \(fingerprint(pem).prefix(16)) expires \(SAMLTime.format(cert.notValidAfter))")
            }
        }
        return out
    }
}

// MARK: the SAML trace (flight recorder)

extension UpstreamService {
    /// A connection's recent sign-in traces, newest first (kept `UpstreamTrace.retention`).
    public func traces(tenantID: String, name: String, limit: Int = 50, by principal: Principal) async throws -> [UpstreamTrace] {
        let c = try await get(tenantID: tenantID, name: name, by: principal)
        return try await context.store.upstreams.traces(tenantID: tenantID, connectionID: c.id, limit: min(max(limit, 1), 200))
    }

    public func trace(tenantID: String, id: String, by principal: Principal) async throws -> UpstreamTrace {
        try authorize(principal, tenantID)
        guard let trace = try await context.store.upstreams.trace(tenantID: tenantID, id: id) else {
            throw StoreError.notFound("upstream trace", id)
        }
        return trace
    }
}

extension UpstreamService {
    /// A request refused before its message could be read (not a form, too large): audited under
    /// `action` (`upstream.saml.rejected`, `upstream.oidc.logout_rejected`, …) like every other refusal.
    public func recordUnreadableRequest(_ action: String, tenantID: String, name: String, message: String) async {
        await context.recordFailure(action, by: .system, tenantID: tenantID, reason: "malformed: connection \(name): \(message)")
    }
}
