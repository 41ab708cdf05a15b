import Crypto
import Foundation
import SigilCore
import SigilFlows
import SigilIDV
import SigilJOSE
import SigilStore
import SwiftASN1

/// Identity verification (docs/idv.md): the tenant's settings and CSCA list, IDV sessions (flow
/// rows driven by `IDVSessionStateMachine`), their sealed evidence, the checks over it, the
/// decision, and the verified identities it leaves. Images, chip files and extracted PII are
/// sealed under the master key and never logged.
public struct IDVService: Sendable {
    public let context: ServiceContext
    public let engine: any IDVEngine
    /// How long a session waits for the next piece of evidence (shortened only by tests).
    public let activityWindow: TimeInterval

    public init(context: ServiceContext, engine: any IDVEngine, activityWindow: TimeInterval = IDVSessionStateMachine.activityWindow) {
        self.context = context
        self.engine = engine
        self.activityWindow = activityWindow
    }

    public static let maximumEvidenceBytes = 10 << 20
    static let evidenceKinds: Set<IDVSession.EvidenceKind> = [.documentFront, .documentBack, .selfie, .chip, .liveness]

    // MARK: settings and trust anchors

    public func settings(tenantID: String) async throws -> IDVSettings {
        try await context.store.idv.settings(tenantID: tenantID) ?? IDVSettings()
    }

    public func saveSettings(tenantID: String, _ settings: IDVSettings, by principal: Principal) async throws -> IDVSettings {
        try authorize(principal, tenantID)
        var errors: [FieldError] = []
        let known: Set<String> = ["passport", "idcard", "driving_permit", "residence_permit"]
        if settings.policy.documentTypes.isEmpty || !settings.policy.documentTypes.isSubset(of: known) {
            errors.append(FieldError(field: "document_types", message: "document_types must name at least one of " + known.sorted().joined(separator: ", ")))
        }
        if !(0.2...1.2).contains(settings.faceMatchThreshold) {
            errors.append(FieldError(field: "face_match_threshold", message: "face_match_threshold must be between 0.2 and 1.2 (0.6 is dlib's)"))
        }
        if !(0...3650).contains(settings.retentionDays) {
            errors.append(FieldError(field: "retention_days", message: "retention_days must be between 0 and 3650"))
        }
        if let age = settings.policy.minimumAge, !(0...130).contains(age) {
            errors.append(FieldError(field: "minimum_age", message: "minimum_age must be between 0 and 130"))
        }
        if settings.policy.countries.count > 300
            || settings.policy.countries.contains(where: { $0.isEmpty || $0.count > 3 || !$0.allSatisfy({ ("A"..."Z").contains($0) || $0 == "<" }) })
        {
            errors.append(FieldError(field: "countries", message: "countries are ICAO codes as in the MRZ (D, UTO, USA)"))
        }
        if settings.policy.reviewReasons.count > 50
            || settings.policy.reviewReasons.contains(where: {
                $0.isEmpty || $0.utf8.count > 64 || !$0.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x5F }
            })
        {
            errors.append(FieldError(field: "review_reasons", message: "review_reasons are reason codes such as mrz_corrected (a-z, 0-9, _)"))
        }
        guard errors.isEmpty else { throw ServiceError.invalid(errors) }
        let now = context.clock.now()
        let context = self.context
        try await context.store.transaction { tx in
            try await tx.idv.saveSettings(tenantID: tenantID, settings, at: now)
            try await tx.audit.append(
                context.auditEvent(
                    "idv.policy_updated", by: principal, tenantID: tenantID, targetType: "idv_policy", targetID: tenantID,
                    after: [
                        "document_types": settings.policy.documentTypes.sorted().joined(separator: " "),
                        "require_chip": String(settings.policy.requireChip), "require_face_match": String(settings.policy.requireFaceMatch),
                        "require_liveness": String(settings.policy.requireLiveness), "threshold": String(settings.faceMatchThreshold),
                        "retention_days": String(settings.retentionDays),
                    ]))
        }
        return settings
    }

    /// Imports CSCA certificates (PEM, one or more) or a signed CSCA master list (DER CMS; its
    /// signer must chain to a CSCA in the list or already trusted). Returns the certificates added.
    public func importCSCAs(tenantID: String, pem: String?, masterList: [UInt8]?, by principal: Principal) async throws -> [CSCARecord] {
        try authorize(principal, tenantID)
        var certificates: [[UInt8]] = []
        if let pem {
            guard pem.utf8.count <= 120_000 else { throw ServiceError.invalid([FieldError(field: "pem", message: "pem is at most 120000 characters")]) }
            certificates += Self.pemBlocks(pem)
            if certificates.isEmpty { throw ServiceError.invalid([FieldError(field: "pem", message: "pem holds no CERTIFICATE block")]) }
        }
        if let masterList {
            let trusted = try await context.store.idv.cscas(tenantID: tenantID).map(\.der)
            do {
                certificates += try CSCAMasterList.parse(masterList, trusted: trusted).certificates
            } catch {
                throw ServiceError.invalid([FieldError(field: "master_list", message: "the master list was refused: \(error.reason)")])
            }
        }
        guard !certificates.isEmpty else { throw ServiceError.invalid([FieldError(field: "pem", message: "give pem or master_list")]) }
        let now = context.clock.now()
        var records: [CSCARecord] = []
        for der in certificates {
            guard let names = PassiveAuthentication.certificateNames(der) else {
                throw ServiceError.invalid([FieldError(field: "pem", message: "a certificate could not be parsed")])
            }
            records.append(CSCARecord(tenantID: tenantID, id: hexEncoded(SHA256.hash(data: der)), subject: names.subject, der: der, createdAt: now))
        }
        let context = self.context
        let offered = records
        let added = try await context.store.transaction { tx -> [CSCARecord] in
            var added: [CSCARecord] = []
            for r in offered where try await tx.idv.addCSCA(r) { added.append(r) }
            try await tx.audit.append(
                context.auditEvent(
                    "idv.csca_imported", by: principal, tenantID: tenantID, targetType: "idv_csca", targetID: tenantID,
                    after: ["added": String(added.count), "offered": String(offered.count), "ids": added.map(\.id).joined(separator: " ")]))
            return added
        }
        return added
    }

    public func cscas(tenantID: String, by principal: Principal) async throws -> [CSCARecord] {
        try authorize(principal, tenantID)
        return try await context.store.idv.cscas(tenantID: tenantID)
    }

    public func deleteCSCA(tenantID: String, id: String, by principal: Principal) async throws {
        try authorize(principal, tenantID)
        let context = self.context
        let deleted = try await context.store.transaction { tx -> Bool in
            guard try await tx.idv.deleteCSCA(tenantID: tenantID, id: id) else { return false }
            try await tx.audit.append(context.auditEvent("idv.csca_deleted", by: principal, tenantID: tenantID, targetType: "idv_csca", targetID: id))
            return true
        }
        if !deleted { throw StoreError.notFound("csca", id) }
    }

    /// The CERTIFICATE blocks of a PEM text, DER (swift-asn1's PEM reader).
    static func pemBlocks(_ text: String) -> [[UInt8]] {
        ((try? PEMDocument.parseMultiple(pemString: text)) ?? []).filter { $0.discriminator == "CERTIFICATE" }.map { Array($0.derBytes) }
    }

    // MARK: sessions

    /// A session just started: its id, the browser's secret (the capture page's cookie), and the
    /// one-time hand-off secret for the phone.
    public struct Started: Sendable {
        public var id: String
        public var secret: String
        public var handoffSecret: String
        public var expiresAt: Date
    }

    public func start(
        tenantID: String, origin: IDVSession.Origin, expected: [String: String], clientID: String? = nil, subjectID: String? = nil,
        connector: IDVSession.ConnectorOptions? = nil, by principal: Principal
    ) async throws -> Started {
        let now = context.clock.now()
        let id = context.ids.make(.idvSession)
        let secret = Base64URL.encode(context.random.bytes(32))
        let handoff = handoffSecret(id)
        // What the relying party sent about the person is sealed like the evidence.
        let wanted = expected.filter { ["given_name", "family_name", "birthdate"].contains($0.key) }
        let sealedOrigin: IDVSession.Origin
        if case .oidc(let request) = origin {
            sealedOrigin = .oidc(authorization: try context.masterKey.seal(Array(request.utf8), context: Self.requestContext(tenantID: tenantID, session: id)))
        } else {
            sealedOrigin = origin
        }
        var session = IDVSession(
            origin: sealedOrigin,
            sealedExpected: wanted.isEmpty
                ? nil
                : try context.masterKey.seal(
                    Array(try JSONEncoder.sorted.encode(wanted)), context: Self.requestContext(tenantID: tenantID, session: id) + "/expected"))
        session.clientID = clientID
        session.subjectID = subjectID
        session.connector = connector
        session.handoffHash = tokenHash(handoff)
        let expiresAt = now.addingTimeInterval(activityWindow)
        let row = LoginTransaction(
            id: id, tenantID: tenantID, flow: .idvSession(session), challenge: Base64URL.encode(context.random.bytes(16)),
            secretHash: tokenHash(secret), createdAt: now, updatedAt: now, expiresAt: expiresAt)
        let context = self.context
        try await context.store.transaction { tx in
            _ = try await tx.loginTransactions.create(row)
            try await tx.audit.append(
                context.auditEvent(
                    "idv.session_started", by: principal, tenantID: tenantID, targetType: "idv_session", targetID: id,
                    after: ["origin": Self.originName(origin), "client_id": clientID ?? "", "subject": subjectID ?? ""]))
        }
        return Started(id: id, secret: secret, handoffSecret: handoff, expiresAt: expiresAt)
    }

    /// The one-time hand-off link's secret: derived from the session id under the master key, so
    /// the capture page can show the same QR code after a reload; spent on first use.
    public func handoffSecret(_ id: String) -> String {
        Base64URL.encode(context.masterKey.authenticationCode(Array(id.utf8), purpose: "idv-handoff"))
    }

    static func originName(_ o: IDVSession.Origin) -> String {
        switch o {
        case .oidc: "oidc"
        case .admin: "admin"
        case .connector: "connector"
        case .account: "account"
        }
    }

    /// Why a browser or app request on a session was refused.
    public struct Refused: Error, Sendable, Equatable {
        public var code: String
        public var message: String
        public var missing: [String] = []
        public init(_ code: String, _ message: String, missing: [String] = []) { self.code = code; self.message = message; self.missing = missing }
    }

    /// What an expired session's link and page say.
    public static let expiredRefusal = Refused("session_expired", "This verification has expired. Start again from the application.")

    static func refusal(_ r: FlowRefusal) -> Refused {
        switch r {
        case .expired: Refused("session_expired", "This verification has expired. Start again from the application.")
        case .used, .ended, .answered: Refused("session_finished", "This verification has already finished.")
        case .notApproved: Refused("not_decided", "This verification has not been decided yet.")
        case .claimedByAnother: Refused("handoff_used", "This code was already used on another device.")
        default: Refused("unknown_session", "This verification does not exist or this browser may not use it.")
        }
    }

    /// The IDV session row `id`, or nil (not an IDV session id, not found, not this tenant's).
    func sessionRow(tenantID: String, id: String) async -> (LoginTransaction, IDVSession)? {
        guard id.hasPrefix(IdentifierKind.idvSession.rawValue + "_"), id.utf8.count < 64,
            let row = try? await context.store.loginTransactions.get(tenantID: tenantID, id: id), case .idvSession(let s) = row.flow
        else { return nil }
        return (row, s)
    }

    /// The session if `secret` is its browser secret (constant-time), else `unknown_session`.
    func load(tenantID: String, id: String, secret: String?) async throws -> (LoginTransaction, IDVSession) {
        let (row, s, _) = try await loadWithDevice(tenantID: tenantID, id: id, secret: secret)
        return (row, s)
    }

    /// … and whether the secret is the phone's (the hand-off) rather than the starting browser's.
    func loadWithDevice(tenantID: String, id: String, secret: String?) async throws -> (LoginTransaction, IDVSession, phone: Bool) {
        guard let secret, let (row, s) = await sessionRow(tenantID: tenantID, id: id), let expected = row.secretHash else {
            throw Self.refusal(.unknown)
        }
        let presented = Array(tokenHash(secret).utf8)
        let desktop = constantTimeEquals(presented, Array(expected.utf8))
        let phone = s.phoneSecretHash.map { constantTimeEquals(presented, Array($0.utf8)) } ?? false
        guard desktop || phone else { throw Self.refusal(.unknown) }
        return (row, s, !desktop)
    }

    /// Runs `event` on the session's machine in one locked update; throws the refusal.
    @discardableResult
    func step(
        tenantID: String, id: String, _ event: @escaping @Sendable (inout IDVSessionStateMachine, Date) -> IDVSessionStateMachine.Action
    ) async throws -> (LoginTransaction, IDVSessionStateMachine.Action) {
        let now = context.clock.now()
        let window = activityWindow
        let (row, action) = try await context.store.loginTransactions.update(tenantID: tenantID, id: id) { t -> IDVSessionStateMachine.Action in
            guard case .idvSession(let payload) = t.flow else { return .refuse(.unknown) }
            var machine = IDVSessionStateMachine(t.record(payload), window: window)
            let action = event(&machine, now)
            if case .refuse = action { return action }
            t.apply(machine.record, FlowState.idvSession)
            return action
        }
        if case .refuse(let r) = action { throw Self.refusal(r) }
        return (row, action)
    }

    /// Stores one piece of evidence (sealed), replacing an earlier capture of its kind.
    public func addEvidence(
        tenantID: String, id: String, secret: String?, kind: String, bytes: [UInt8]
    ) async throws -> [String] {
        let (_, session) = try await load(tenantID: tenantID, id: id, secret: secret)
        return try await store(tenantID: tenantID, id: id, session: session, kind: kind, bytes: bytes)
    }

    func store(tenantID: String, id: String, session: IDVSession, kind: String, bytes: [UInt8]) async throws -> [String] {
        guard let k = IDVSession.EvidenceKind(rawValue: kind), Self.evidenceKinds.contains(k) else {
            throw Refused("unknown_evidence", "Evidence must be one of: " + Self.evidenceKinds.map(\.rawValue).sorted().joined(separator: ", "))
        }
        guard !bytes.isEmpty else { throw Refused("empty_evidence", "The upload was empty.") }
        guard bytes.count <= Self.maximumEvidenceBytes else { throw Refused("evidence_too_large", "The upload is larger than 10 MiB.") }
        switch k {
        case .chip:
            do { _ = try ChipEvidence.parse(bytes) } catch { throw Refused(error.reason, "The chip data could not be read (\(error.reason)).") }
        case .liveness:
            guard session.liveness != nil else { throw Refused("no_liveness_challenge", "Start the liveness check first.") }
        default:
            guard Self.isImage(bytes) else { throw Refused("not_an_image", "Upload a JPEG or PNG photo.") }
        }
        let now = context.clock.now()
        let settings = try await settings(tenantID: tenantID)
        let sealed = try context.masterKey.seal(bytes, context: Self.evidenceContext(tenantID: tenantID, session: id, kind: k.rawValue))
        let record = IDVEvidenceRecord(
            tenantID: tenantID, sessionID: id, kind: k.rawValue, sealed: sealed, createdAt: now,
            expiresAt: now.addingTimeInterval(IDVSessionStateMachine.maximumLifetime + Double(settings.retentionDays) * 86_400))
        try await context.store.idv.putEvidence(record)
        let (row, _) = try await step(tenantID: tenantID, id: id) { m, now in m.addEvidence(k, reference: k.rawValue, now: now) }
        guard case .idvSession(let updated) = row.flow else { return [] }
        return updated.evidence.keys.map(\.rawValue).sorted()
    }

    static func requestContext(tenantID: String, session: String) -> String { "sigil/idv-request/\(tenantID)/\(session)" }

    /// The expected values, opened.
    func expected(_ s: IDVSession, tenantID: String, id: String) throws -> [String: String] {
        guard let sealed = s.sealedExpected else { return [:] }
        let bytes = try context.masterKey.open(sealed, context: Self.requestContext(tenantID: tenantID, session: id) + "/expected")
        return (try? JSONDecoder().decode([String: String].self, from: Data(bytes))) ?? [:]
    }

    /// Retake advice for an image just stored (`blurry`, `glare`, `too_dark`, `too_small`): advice
    /// only, the checks decide. Empty without an engine or for chip files and liveness frames.
    public func advice(kind: String, bytes: [UInt8]) async -> [String] {
        let what: String
        switch IDVSession.EvidenceKind(rawValue: kind) {
        case .documentFront, .documentBack: what = "document"
        case .selfie: what = "selfie"
        default: return []
        }
        return (try? await engine.quality(of: bytes, kind: what)) ?? []
    }

    static func evidenceContext(tenantID: String, session: String, kind: String) -> String { "sigil/idv-evidence/\(tenantID)/\(session)/\(kind)" }
    public static func identityContext(tenantID: String, reference: String) -> String { "sigil/idv-identity/\(tenantID)/\(reference)" }

    static func isImage(_ b: [UInt8]) -> Bool {
        b.starts(with: [0xFF, 0xD8, 0xFF]) || b.starts(with: [0x89, 0x50, 0x4E, 0x47]) || b.starts(with: [0x00, 0x00, 0x00, 0x0C, 0x6A, 0x50])
            || b.starts(with: [0xFF, 0x4F, 0xFF, 0x51])
    }

    /// A new active liveness challenge for the session (docs/idv.md "Liveness").
    public func livenessChallenge(tenantID: String, id: String, secret: String?) async throws -> LivenessChallenge {
        _ = try await load(tenantID: tenantID, id: id, secret: secret)
        return try await issueLiveness(tenantID: tenantID, id: id)
    }

    /// A liveness challenge for the app the session was handed off to (its signed request).
    public func livenessChallengeForDevice(tenantID: String, id: String, deviceID: String) async throws -> LivenessChallenge {
        _ = try await requireDevice(tenantID: tenantID, id: id, deviceID: deviceID)
        return try await issueLiveness(tenantID: tenantID, id: id)
    }

    /// A new active liveness challenge (random id and steps), issued now.
    func newLivenessChallenge() -> LivenessChallenge {
        let random = context.random
        return LivenessChallenge.issue(
            id: Base64URL.encode(random.bytes(12)), now: context.clock.now(),
            random: { n in Int(random.bytes(1)[0]) % n })
    }

    func issueLiveness(tenantID: String, id: String) async throws -> LivenessChallenge {
        let challenge = newLivenessChallenge()
        try await step(tenantID: tenantID, id: id) { m, now in m.issueLiveness(challenge, now: now) }
        return challenge
    }

    /// Whether `text` is a real calendar date written `YYYY-MM-DD` (year 1800 or later).
    public static func isCalendarDate(_ text: String) -> Bool {
        let parts = text.split(separator: "-")
        guard text.utf8.count == 10, parts.count == 3, let y = Int(parts[0]), let m = Int(parts[1]), let d = Int(parts[2]), y >= 1800 else { return false }
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        return DateComponents(year: y, month: m, day: d).isValidDate(in: calendar)
    }

    /// The tenant's policy with a connector's requirements applied: fewer document types, liveness
    /// required. Never weaker than the tenant's.
    public static func policy(_ policy: IDVPolicy, narrowedBy options: IDVSession.ConnectorOptions?) -> IDVPolicy {
        guard let options else { return policy }
        var p = policy
        if let types = options.documentTypes { p.documentTypes = policy.documentTypes.intersection(types) }
        if options.requireLiveness { p.requireLiveness = true }
        return p
    }

    /// The evidence the policy needs before checks can run, for this document type.
    static func required(documentType: String, policy: IDVPolicy, have: Set<IDVSession.EvidenceKind>) -> Set<IDVSession.EvidenceKind> {
        var need: Set<IDVSession.EvidenceKind> = []
        if policy.requireFaceMatch { need.insert(.selfie) }
        if policy.requireLiveness { need.insert(.liveness) }
        switch documentType {
        case "driving_permit": need.insert(.documentBack)
        default: if policy.requireChip || have.contains(.chip) { need.insert(.chip) } else { need.insert(.documentFront) }
        }
        return need
    }

    /// The user says the capture is complete: run the checks and decide.
    public func submit(tenantID: String, id: String, secret: String?, documentType: String) async throws -> IDVDecision {
        let (_, session) = try await load(tenantID: tenantID, id: id, secret: secret)
        return try await decide(tenantID: tenantID, id: id, session: session, documentType: documentType)
    }

    func decide(tenantID: String, id: String, session: IDVSession, documentType: String) async throws -> IDVDecision {
        let settings = try await settings(tenantID: tenantID)
        guard ["passport", "idcard", "driving_permit", "residence_permit"].contains(documentType) else {
            throw Refused("unknown_document_type", "Choose a passport, an identity card or a driving licence.")
        }
        let policy = Self.policy(settings.policy, narrowedBy: session.connector)
        let required = Self.required(documentType: documentType, policy: policy, have: Set(session.evidence.keys))
        let (_, action) = try await step(tenantID: tenantID, id: id) { m, now in m.submit(required: required, now: now) }
        if case .missing(let kinds) = action {
            throw Refused("missing_evidence", "Still needed: " + kinds.map(\.rawValue).joined(separator: ", "), missing: kinds.map(\.rawValue))
        }
        // Checks over the sealed evidence (outside any transaction: the engine takes seconds).
        var evidence: [String: [UInt8]] = [:]
        var livenessAt: Date?
        for r in try await context.store.idv.evidence(tenantID: tenantID, sessionID: id) {
            if r.kind == IDVSession.EvidenceKind.liveness.rawValue { livenessAt = r.createdAt }
            evidence[r.kind] = try context.masterKey.open(r.sealed, context: Self.evidenceContext(tenantID: tenantID, session: id, kind: r.kind))
        }
        let cscas = try await context.store.idv.cscas(tenantID: tenantID).map(\.der)
        let now = context.clock.now()
        let findings = await IDVChecks(engine: engine, threshold: settings.faceMatchThreshold).run(
            documentType: documentType, evidence: evidence, cscas: cscas, liveness: session.liveness,
            expected: try expected(session, tenantID: tenantID, id: id),
            livenessReceivedAt: livenessAt, now: now)
        let outcome = IDVDecider.decide(findings, policy: policy, now: now)
        return try await record(
            outcome, tenantID: tenantID, id: id, session: session, documentType: documentType, settings: settings,
            portrait: findings.faceMatch?.passed == true ? findings.portraitTemplate : nil)
    }

    /// Writes the decision, the sealed identity, the subject's latest verification and the audit
    /// event in one transaction; deletes the evidence at once when the retention is 0 days. A
    /// VERIFIED subject also keeps `portrait`, the matched portrait's template, for step-ups'
    /// face re-match (only there: the session's own result never holds it).
    func record(
        _ outcome: IDVDecider.Outcome, tenantID: String, id: String, session: IDVSession, documentType: String, settings: IDVSettings,
        portrait: [Double]? = nil
    ) async throws -> IDVDecision {
        let now = context.clock.now()
        let identity = VerifiedIdentity(
            status: outcome.decision, assuranceLevel: outcome.assuranceLevel, time: now, process: id, claims: outcome.claims,
            document: outcome.document, nameMatches: outcome.nameMatches)
        let sealed = try context.masterKey.seal(
            Array(try JSONEncoder.sorted.encode(identity)), context: Self.identityContext(tenantID: tenantID, reference: id))
        let context = self.context
        let retention = Double(settings.retentionDays) * 86_400
        try await context.store.transaction { tx in
            let (_, action) = try await tx.loginTransactions.update(tenantID: tenantID, id: id) { t -> IDVSessionStateMachine.Action in
                guard case .idvSession(var payload) = t.flow else { return .refuse(.unknown) }
                payload.documentType = documentType
                payload.sealedIdentity = sealed
                payload.assuranceLevel = outcome.assuranceLevel
                var machine = IDVSessionStateMachine(t.record(payload))
                let action = machine.decide(checks: outcome.checks, decision: outcome.decision, reasons: outcome.reasons, userID: nil, now: now)
                if case .refuse = action { return action }
                t.apply(machine.record, FlowState.idvSession)
                return action
            }
            if case .refuse(let r) = action { throw Self.refusal(r) }
            if let subjectID = session.subjectID, var subject = try await tx.idv.subject(tenantID: tenantID, id: subjectID) {
                // The subject's latest verification: a FAILED one does not erase an earlier VERIFIED.
                if outcome.decision == .verified || subject.status != IDVDecision.verified.rawValue {
                    var kept = identity
                    if outcome.decision == .verified { kept.portraitTemplate = portrait }
                    subject.sealedIdentity = try context.masterKey.seal(
                        Array(try JSONEncoder.sorted.encode(kept)), context: Self.identityContext(tenantID: tenantID, reference: subjectID))
                    subject.status = outcome.decision.rawValue
                    subject.verifiedAt = now
                    subject.identityExpiresAt = now.addingTimeInterval(max(retention, 86_400))
                    try await tx.idv.saveSubject(subject)
                }
            }
            if retention == 0 { _ = try await tx.idv.deleteEvidence(tenantID: tenantID, sessionID: id) }
            try await tx.audit.append(
                context.auditEvent(
                    "idv.decided", by: .system, tenantID: tenantID, targetType: "idv_session", targetID: id,
                    outcome: outcome.decision == .verified ? .success : .failure,
                    after: [
                        "decision": outcome.decision.rawValue, "assurance_level": outcome.assuranceLevel, "document_type": documentType,
                        "subject": session.subjectID ?? "",
                        "checks": outcome.checks.map { "\($0.name)=\($0.passed ? "pass" : "fail")" }.joined(separator: " "),
                    ],
                    reason: outcome.reasons.isEmpty ? nil : outcome.reasons.joined(separator: " ")))
        }
        return outcome.decision
    }

    public func cancel(tenantID: String, id: String, secret: String?) async throws {
        _ = try await load(tenantID: tenantID, id: id, secret: secret)
        try await step(tenantID: tenantID, id: id) { m, now in m.cancel(now: now) }
        _ = try await context.store.idv.deleteEvidence(tenantID: tenantID, sessionID: id)
        await context.recordFailure("idv.cancelled", by: .system, tenantID: tenantID, reason: "the user cancelled \(id)")
    }

    /// The phone's one-time hand-off link: returns a new browser secret for the phone's cookie
    /// (the desktop keeps its own).
    public func useHandoff(tenantID: String, id: String, handoffSecret: String, browserSecret: () -> String) async throws -> String {
        guard await sessionRow(tenantID: tenantID, id: id) != nil else { throw Self.refusal(.unknown) }
        // The phone gets its own secret, in the same step that spends the hand-off; the desktop keeps its own.
        let fresh = browserSecret()
        let (hash, phone) = (tokenHash(handoffSecret), tokenHash(fresh))
        try await step(tenantID: tenantID, id: id) { m, now in m.useHandoff(secretHash: hash, phoneSecretHash: phone, now: now) }
        return fresh
    }

    // MARK: from the Sigil authenticator

    /// The app scanned the hand-off code: the session is bound to this device from now on (the
    /// one-time hand-off is spent). A session about a Sigil user takes only that user's devices.
    public func claimForDevice(tenantID: String, id: String, handoffSecret: String, deviceID: String, userID: String) async throws {
        guard let (_, s) = await sessionRow(tenantID: tenantID, id: id) else { throw Self.refusal(.unknown) }
        if let subjectID = s.subjectID, let subject = try await context.store.idv.subject(tenantID: tenantID, id: subjectID),
            let owner = subject.userID, owner != userID
        {
            throw Refused("not_this_device", "This verification is about another account.")
        }
        let hash = tokenHash(handoffSecret)
        try await step(tenantID: tenantID, id: id) { m, now in
            let action = m.useHandoff(secretHash: hash, now: now)
            if action == .stored { m.bind(device: deviceID) }
            return action
        }
        try await context.store.audit.append(
            context.auditEvent(
                "idv.device_claimed", by: .user(userID), tenantID: tenantID, targetType: "idv_session", targetID: id, after: ["device": deviceID]))
    }

    func requireDevice(tenantID: String, id: String, deviceID: String) async throws -> IDVSession {
        guard let (row, s) = await sessionRow(tenantID: tenantID, id: id) else { throw Self.refusal(.unknown) }
        guard let bound = row.deviceID, constantTimeEquals(Array(bound.utf8), Array(deviceID.utf8)) else {
            throw Refused("not_this_device", "Scan the code on the verification page first.")
        }
        return s
    }

    public func addEvidenceFromDevice(tenantID: String, id: String, deviceID: String, kind: String, bytes: [UInt8]) async throws -> [String] {
        let session = try await requireDevice(tenantID: tenantID, id: id, deviceID: deviceID)
        return try await store(tenantID: tenantID, id: id, session: session, kind: kind, bytes: bytes)
    }

    public func submitFromDevice(tenantID: String, id: String, deviceID: String, documentType: String) async throws -> IDVDecision {
        let session = try await requireDevice(tenantID: tenantID, id: id, deviceID: deviceID)
        return try await decide(tenantID: tenantID, id: id, session: session, documentType: documentType)
    }

    public struct Status: Sendable, Equatable {
        public var stage: String
        public var decision: IDVDecision?
        public var assuranceLevel: String?
        public var reasons: [String]
        public var checks: [IDVCheck]
        public var evidence: [String]
        public var origin: IDVSession.Origin
        public var clientID: String?
        public var subjectID: String?
        public var answered: Bool
        public var expiresAt: Date
        /// The caller is the phone the session was handed off to.
        public var onPhone: Bool = false
        /// The one-time hand-off (phone browser or app) is still unused.
        public var handoffOpen: Bool = false
        /// A connector's requirements, when a connector started the session.
        public var connector: IDVSession.ConnectorOptions?
    }

    public func status(tenantID: String, id: String, secret: String?) async throws -> Status {
        let (row, s, phone) = try await loadWithDevice(tenantID: tenantID, id: id, secret: secret)
        var status = Self.status(row, s, now: context.clock.now())
        status.onPhone = phone
        return status
    }

    static func status(_ row: LoginTransaction, _ s: IDVSession, now: Date) -> Status {
        Status(
            stage: IDVSessionStateMachine(row.record(s)).stage(now: now), decision: s.decision, assuranceLevel: s.assuranceLevel,
            reasons: s.reasons, checks: s.checks, evidence: s.evidence.keys.map(\.rawValue).sorted(), origin: s.origin, clientID: s.clientID,
            subjectID: s.subjectID, answered: s.answeredAt != nil, expiresAt: row.expiresAt,
            handoffOpen: s.handoffUsedAt == nil && s.handoffHash != nil && row.deviceID == nil, connector: s.connector)
    }

    /// An admin's view of a session, with its verified claims (standard dialect) when verified.
    public func adminStatus(tenantID: String, id: String, by principal: Principal) async throws -> (Status, JSONValue?) {
        try authorize(principal, tenantID)
        guard let (row, s) = await sessionRow(tenantID: tenantID, id: id) else { throw StoreError.notFound("idv session", id) }
        let now = context.clock.now()
        let claims = try s.sealedIdentity.flatMap { try identity(tenantID: tenantID, sealed: $0, reference: id) }.flatMap {
            VerifiedClaims.response(for: $0, claims: nil, now: now)
        }
        return (Self.status(row, s, now: now), claims)
    }

    func identity(tenantID: String, sealed: String, reference: String) throws -> VerifiedIdentity? {
        try Self.openIdentity(context.masterKey, tenantID: tenantID, sealed: sealed, reference: reference)
    }

    /// Opens a sealed `VerifiedIdentity` (the token endpoint also reads a session's result this way, inside its transaction).
    public static func openIdentity(_ key: MasterKey, tenantID: String, sealed: String, reference: String) throws -> VerifiedIdentity? {
        let bytes = try key.open(sealed, context: identityContext(tenantID: tenantID, reference: reference))
        return try? JSONDecoder().decode(VerifiedIdentity.self, from: Data(bytes))
    }

    /// Answers the session's origin once: for an OIDC session, the decided identity to put in a
    /// code (nil after a cancel: the client gets `access_denied`).
    public func answer(tenantID: String, id: String, secret: String?) async throws -> (
        session: IDVSession, identity: VerifiedIdentity?, oidcRequest: String?
    ) {
        // Only the browser that started the session continues to the relying party (its flow, its cookies).
        let (_, _, phone) = try await loadWithDevice(tenantID: tenantID, id: id, secret: secret)
        if phone { throw Refused("continue_on_computer", "Done here. Go back to your computer to continue.") }
        let (row, _) = try await step(tenantID: tenantID, id: id) { m, now in m.answer(now: now) }
        guard case .idvSession(let s) = row.flow else { throw Self.refusal(.unknown) }
        var request: String?
        if case .oidc(let sealed) = s.origin {
            request = String(decoding: try context.masterKey.open(sealed, context: Self.requestContext(tenantID: tenantID, session: id)), as: UTF8.self)
        }
        return (s, try s.sealedIdentity.flatMap { try identity(tenantID: tenantID, sealed: $0, reference: id) }, request)
    }

    // MARK: subjects and privacy

    /// The subject for a relying party's identifier of the person (Okta's `login_hint`), created once.
    public func subject(tenantID: String, clientID: String, externalID: String?) async throws -> IDVSubject {
        let now = context.clock.now()
        guard let externalID, !externalID.isEmpty else {
            // No hint: a subject of its own for this one verification.
            let s = IDVSubject(tenantID: tenantID, id: context.ids.make(.idvSubject), clientID: clientID, externalKeyHash: nil, userID: nil, createdAt: now)
            try await context.store.idv.saveSubject(s)
            return s
        }
        let key = tokenHash(clientID + "\u{0}" + externalID)
        if let found = try await context.store.idv.subject(tenantID: tenantID, clientID: clientID, externalKeyHash: key) { return found }
        let s = IDVSubject(tenantID: tenantID, id: context.ids.make(.idvSubject), clientID: clientID, externalKeyHash: key, userID: nil, createdAt: now)
        do {
            try await context.store.idv.saveSubject(s)
        } catch let error as StoreError where error.code == .alreadyExists {
            // Another node created it first.
            if let found = try await context.store.idv.subject(tenantID: tenantID, clientID: clientID, externalKeyHash: key) { return found }
            throw error
        }
        return s
    }

    /// A Sigil user's own subject (the account page's verifications), created once.
    public func userSubject(tenantID: String, userID: String) async throws -> IDVSubject {
        if let found = try await context.store.idv.subjects(tenantID: tenantID, userID: userID).first { return found }
        let s = IDVSubject(
            tenantID: tenantID, id: context.ids.make(.idvSubject), clientID: nil, externalKeyHash: tokenHash("user\u{0}" + userID), userID: userID,
            createdAt: context.clock.now())
        try await context.store.idv.saveSubject(s)
        return s
    }

    /// A user's latest verification, opened (nil when none, or past its retention).
    public func latestIdentity(tenantID: String, userID: String) async throws -> VerifiedIdentity? {
        guard let s = try await context.store.idv.subjects(tenantID: tenantID, userID: userID).first, let sealed = s.sealedIdentity else { return nil }
        return try identity(tenantID: tenantID, sealed: sealed, reference: s.id)
    }

    /// A subject by its id, or a Sigil user's subject by the user's id.
    func resolveSubject(tenantID: String, id: String) async throws -> IDVSubject? {
        if id.hasPrefix(IdentifierKind.user.rawValue + "_") { return try await context.store.idv.subjects(tenantID: tenantID, userID: id).first }
        return try await context.store.idv.subject(tenantID: tenantID, id: id)
    }

    /// Everything Sigil holds about a subject's verification (the privacy export), or nil.
    public func export(tenantID: String, subjectID: String, by principal: Principal) async throws -> (IDVSubject, VerifiedIdentity?)? {
        try authorize(principal, tenantID)
        guard let s = try await resolveSubject(tenantID: tenantID, id: subjectID) else { return nil }
        let subjectID = s.id
        let identity = try s.sealedIdentity.flatMap { try self.identity(tenantID: tenantID, sealed: $0, reference: subjectID) }
        await context.recordFailure("idv.subject_exported", by: principal, tenantID: tenantID, reason: "export of \(subjectID)")
        return (s, identity)
    }

    /// Deletes a subject and its verified identity (the privacy delete).
    public func deleteSubject(tenantID: String, subjectID given: String, by principal: Principal) async throws {
        try authorize(principal, tenantID)
        guard let subjectID = try await resolveSubject(tenantID: tenantID, id: given)?.id else { throw StoreError.notFound("idv subject", given) }
        let context = self.context
        let deleted = try await context.store.transaction { tx -> Bool in
            guard try await tx.idv.deleteSubject(tenantID: tenantID, id: subjectID) else { return false }
            try await tx.audit.append(
                context.auditEvent("idv.subject_deleted", by: principal, tenantID: tenantID, targetType: "idv_subject", targetID: subjectID))
            return true
        }
        if !deleted { throw StoreError.notFound("idv subject", subjectID) }
    }

    /// The retention sweep: evidence and identities past their time (one audit event when any went).
    public func sweep() async throws -> (evidence: Int, identities: Int) {
        let result = try await context.store.idv.sweep(before: context.clock.now())
        if result.evidence + result.identities > 0 {
            try await context.store.audit.append(
                context.auditEvent(
                    "idv.retention_swept", by: .system, tenantID: nil,
                    after: ["evidence": String(result.evidence), "identities": String(result.identities)]))
        }
        return result
    }
}
