import Foundation
import OpenAPIRuntime
import SigilAdminAPI
import SigilCore
import SigilIDV
import SigilJOSE
import SigilServices
import SigilStore

/// `/api/admin/v1/idv/…`: identity verification's policy, CSCA list, sessions and subjects (docs/idv.md).
extension AdminAPI {
    package func getIdvPolicy(_ input: Operations.GetIdvPolicy.Input) async throws -> Operations.GetIdvPolicy.Output {
        let call = try AdminCall.get()
        let tenantID = try call.tenantID()
        guard call.principal.canAccess(tenantID: tenantID) else { throw ServiceError(.forbidden, "this token cannot act on this tenant") }
        return .ok(.init(body: .json(Self.policy(try await services.idv.settings(tenantID: tenantID)))))
    }

    package func putIdvPolicy(_ input: Operations.PutIdvPolicy.Input) async throws -> Operations.PutIdvPolicy.Output {
        let call = try AdminCall.get()
        guard case .json(let body) = input.body else { throw Problem.unsupportedBody }
        var policy = IDVPolicy()
        if let v = body.documentTypes {
            // A list, not a set: each type once.
            guard !v.isEmpty, v.count == Set(v).count else {
                throw ServiceError.invalid([FieldError(field: "document_types", message: "document_types names each type once, at least one")])
            }
            policy.documentTypes = Set(v.map(\.rawValue))
        }
        if let v = body.countries { policy.countries = Set(v) }
        policy.minimumAge = body.minimumAge
        if let v = body.requireChip { policy.requireChip = v }
        if let v = body.requireFaceMatch { policy.requireFaceMatch = v }
        if let v = body.requireLiveness { policy.requireLiveness = v }
        if let v = body.weakestNameMatch { policy.weakestNameMatch = NameMatch.Kind(rawValue: v.rawValue) ?? .fuzzy }
        if let v = body.reviewReasons { policy.reviewReasons = Set(v) }
        let settings = IDVSettings(
            policy: policy, faceMatchThreshold: body.faceMatchThreshold ?? IDVSettings.defaultThreshold, retentionDays: body.retentionDays ?? 30)
        let saved = try await services.idv.saveSettings(tenantID: try call.tenantID(), settings, by: call.principal)
        return .ok(.init(body: .json(Self.policy(saved))))
    }

    static func policy(_ s: IDVSettings) -> Schemas.IdvPolicy {
        Schemas.IdvPolicy(
            documentTypes: s.policy.documentTypes.sorted().compactMap { .init(rawValue: $0) }, countries: s.policy.countries.sorted(),
            minimumAge: s.policy.minimumAge, requireChip: s.policy.requireChip, requireFaceMatch: s.policy.requireFaceMatch,
            requireLiveness: s.policy.requireLiveness, weakestNameMatch: .init(rawValue: s.policy.weakestNameMatch.rawValue),
            reviewReasons: s.policy.reviewReasons.sorted(), faceMatchThreshold: s.faceMatchThreshold, retentionDays: s.retentionDays)
    }

    package func listIdvCscas(_ input: Operations.ListIdvCscas.Input) async throws -> Operations.ListIdvCscas.Output {
        let call = try AdminCall.get()
        let all = try await services.idv.cscas(tenantID: try call.tenantID(), by: call.principal)
        return .ok(.init(body: .json(.init(items: all.map(Self.csca)))))
    }

    package func importIdvCscas(_ input: Operations.ImportIdvCscas.Input) async throws -> Operations.ImportIdvCscas.Output {
        let call = try AdminCall.get()
        guard case .json(let body) = input.body else { throw Problem.unsupportedBody }
        var list: [UInt8]?
        if let text = body.masterList {
            guard text.utf8.count <= 120_000 else {
                throw ServiceError.invalid([FieldError(field: "master_list", message: "master_list is at most 120000 characters")])
            }
            guard let data = Data(base64Encoded: text, options: .ignoreUnknownCharacters), !data.isEmpty else {
                throw ServiceError.invalid([FieldError(field: "master_list", message: "master_list must be base64 DER")])
            }
            list = [UInt8](data)
        }
        let added = try await services.idv.importCSCAs(tenantID: try call.tenantID(), pem: body.pem, masterList: list, by: call.principal)
        return .created(.init(body: .json(.init(imported: added.count, items: added.map(Self.csca)))))
    }

    static func csca(_ r: CSCARecord) -> Schemas.IdvCsca { .init(id: r.id, subject: r.subject, createdAt: r.createdAt) }

    package func deleteIdvCsca(_ input: Operations.DeleteIdvCsca.Input) async throws -> Operations.DeleteIdvCsca.Output {
        let call = try AdminCall.get()
        try await services.idv.deleteCSCA(tenantID: try call.tenantID(), id: input.path.id, by: call.principal)
        return .noContent(.init())
    }

    package func createIdvSession(_ input: Operations.CreateIdvSession.Input) async throws -> Operations.CreateIdvSession.Output {
        let call = try AdminCall.get()
        guard case .json(let body) = input.body else { throw Problem.unsupportedBody }
        let tenantID = try call.tenantID()
        guard call.principal.canAccess(tenantID: tenantID) else { throw ServiceError(.forbidden, "this token cannot act on this tenant") }
        var expected: [String: String] = [:]
        var errors: [FieldError] = []
        if let e = body.expected {
            for (field, value) in [("given_name", e.givenName), ("family_name", e.familyName)] {
                guard let value else { continue }
                if value.isEmpty || value.count > 200 || value.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
                    errors.append(FieldError(field: "expected.\(field)", message: "\(field) is 1 to 200 characters, no control characters"))
                } else {
                    expected[field] = value
                }
            }
            if let v = e.birthdate {
                if IDVService.isCalendarDate(v) {
                    expected["birthdate"] = v
                } else {
                    errors.append(FieldError(field: "expected.birthdate", message: "birthdate is a date, YYYY-MM-DD"))
                }
            }
        }
        guard errors.isEmpty else { throw ServiceError.invalid(errors) }
        let started = try await services.idv.start(tenantID: tenantID, origin: .admin, expected: expected, by: call.principal)
        let issuer = call.context.issuer
        return .created(
            .init(
                body: .json(
                    .init(
                        id: started.id, sessionUrl: issuer + "/idv/\(started.id)/open?k=\(started.secret)",
                        handoffUrl: issuer + "/idv/\(started.id)/handoff?k=\(started.handoffSecret)", expiresAt: started.expiresAt))))
    }

    package func getIdvSession(_ input: Operations.GetIdvSession.Input) async throws -> Operations.GetIdvSession.Output {
        let call = try AdminCall.get()
        let (s, claims) = try await services.idv.adminStatus(tenantID: try call.tenantID(), id: input.path.id, by: call.principal)
        let origin: Schemas.IdvSession.OriginPayload =
            switch s.origin {
            case .oidc: .oidc
            case .admin: .admin
            case .connector: .connector
            case .account: .account
            }
        return .ok(
            .init(
                body: .json(
                    .init(
                        id: input.path.id, state: .init(rawValue: s.stage) ?? .expired, status: s.decision.flatMap { .init(rawValue: $0.rawValue) },
                        assuranceLevel: s.assuranceLevel, origin: origin, clientId: s.clientID, subject: s.subjectID, evidence: s.evidence,
                        reasons: s.reasons, checks: s.checks.map { .init(name: $0.name, passed: $0.passed, reasons: $0.reasons) },
                        verifiedClaims: try claims.map(Self.container), expiresAt: s.expiresAt))))
    }

    package func exportIdvSubject(_ input: Operations.ExportIdvSubject.Input) async throws -> Operations.ExportIdvSubject.Output {
        let call = try AdminCall.get()
        guard let (s, identity) = try await services.idv.export(tenantID: try call.tenantID(), subjectID: input.path.id, by: call.principal) else {
            throw StoreError.notFound("idv subject", input.path.id)
        }
        let identityJSON = try identity.map { try JSONValue.parse(Array(JSONEncoder().encode($0))) }
        return .ok(
            .init(
                body: .json(
                    .init(
                        id: s.id, clientId: s.clientID, userId: s.userID, status: s.status, verifiedAt: s.verifiedAt, expiresAt: s.identityExpiresAt,
                        verifiedIdentity: try identityJSON.map(Self.container), createdAt: s.createdAt))))
    }

    package func deleteIdvSubject(_ input: Operations.DeleteIdvSubject.Input) async throws -> Operations.DeleteIdvSubject.Output {
        let call = try AdminCall.get()
        try await services.idv.deleteSubject(tenantID: try call.tenantID(), subjectID: input.path.id, by: call.principal)
        return .noContent(.init())
    }

    static func container(_ value: JSONValue) throws -> OpenAPIObjectContainer {
        try JSONDecoder().decode(OpenAPIObjectContainer.self, from: Data(try value.serialized()))
    }
}
