import Foundation
import SigilAdminAPI
import SigilServices
import SigilStore
import X509

/// `/api/admin/v1/upstreams`: a tenant's upstream identity providers (docs/upstream.md).
extension AdminAPI {
    package func listUpstreams(_ input: Operations.ListUpstreams.Input) async throws -> Operations.ListUpstreams.Output {
        let call = try AdminCall.get()
        let all = try await services.upstreams.list(tenantID: try call.tenantID(), by: call.principal)
        return .ok(.init(body: .json(.init(items: all.map { Self.upstream($0, issuer: call.context.issuer) }))))
    }

    package func createUpstream(_ input: Operations.CreateUpstream.Input) async throws -> Operations.CreateUpstream.Output {
        let call = try AdminCall.get()
        guard case .json(let body) = input.body else { throw Problem.unsupportedBody }
        if body._protocol == .oidc { return try await createOIDCUpstream(body, call: call) }
        let sources = [body.metadataUrl != nil, body.metadata != nil, body.idpEntityId != nil || body.ssoUrl != nil || body.certificates != nil]
        guard sources.filter({ $0 }).count == 1 else {
            throw ServiceError.invalid([
                FieldError(field: "metadata_url", message: "give exactly one of metadata_url, metadata, or idp_entity_id with sso_url and certificates")
            ])
        }
        let source: UpstreamService.MetadataSource
        if let url = body.metadataUrl {
            source = .url(url)
        } else if let xml = body.metadata {
            source = .document(Array(xml.utf8))
        } else {
            source = .manual(
                entityID: body.idpEntityId ?? "", ssoURL: body.ssoUrl ?? "", ssoBinding: body.ssoBinding?.rawValue ?? "redirect", sloURL: nil,
                certificatesPEM: body.certificates ?? [])
        }
        var mapping = UpstreamAttributeMapping()
        if let a = body.attributes {
            if let v = a.email { mapping.email = v }
            if let v = a.givenName { mapping.givenName = v }
            if let v = a.familyName { mapping.familyName = v }
        }
        var input = UpstreamService.NewSAMLConnection(
            name: body.name, displayName: body.displayName, metadata: source,
            idpEntityID: body.metadataUrl != nil || body.metadata != nil ? body.idpEntityId : nil,
            metadataSigningCertificatePEM: body.metadataCertificate, attributes: mapping, emailDomains: body.emailDomains ?? [],
            linkDomains: body.linkDomains ?? [], provisionUsers: body.provisionUsers ?? true, allowUnsolicited: body.allowUnsolicited ?? false,
            allowInsecureSHA1: body.allowInsecureSha1 ?? false, nameIDFormat: body.nameIdFormat)
        input.stepUp = body.stepUp ?? false
        let created = try await services.upstreams.createSAML(tenantID: try call.tenantID(), input, by: call.principal)
        return .created(
            .init(
                headers: .init(eTag: Self.etag(created.version), location: call.url("upstreams/\(created.name)")),
                body: .json(Self.upstream(created, issuer: call.context.issuer))))
    }

    package func getUpstream(_ input: Operations.GetUpstream.Input) async throws -> Operations.GetUpstream.Output {
        let call = try AdminCall.get()
        let c = try await services.upstreams.get(tenantID: try call.tenantID(), name: input.path.name, by: call.principal)
        return .ok(.init(headers: .init(eTag: Self.etag(c.version)), body: .json(Self.upstream(c, issuer: call.context.issuer))))
    }

    package func updateUpstream(_ input: Operations.UpdateUpstream.Input) async throws -> Operations.UpdateUpstream.Output {
        let call = try AdminCall.get()
        guard case .json(let body) = input.body else { throw Problem.unsupportedBody }
        let tenantID = try call.tenantID()
        var attributes: UpstreamAttributeMapping?
        if let a = body.attributes {
            let current = try await services.upstreams.get(tenantID: tenantID, name: input.path.name, by: call.principal).policy.attributes
            attributes = UpstreamAttributeMapping(
                email: a.email ?? current.email, givenName: a.givenName ?? current.givenName, familyName: a.familyName ?? current.familyName)
        }
        let c = try await services.upstreams.update(
            tenantID: tenantID, name: input.path.name,
            .init(
                displayName: body.displayName, enabled: body.enabled, emailDomains: body.emailDomains, linkDomains: body.linkDomains,
                attributes: attributes, provisionUsers: body.provisionUsers, allowUnsolicited: body.allowUnsolicited, stepUp: body.stepUp),
            by: call.principal)
        return .ok(.init(headers: .init(eTag: Self.etag(c.version)), body: .json(Self.upstream(c, issuer: call.context.issuer))))
    }

    package func deleteUpstream(_ input: Operations.DeleteUpstream.Input) async throws -> Operations.DeleteUpstream.Output {
        let call = try AdminCall.get()
        try await services.upstreams.delete(tenantID: try call.tenantID(), name: input.path.name, by: call.principal)
        return .noContent(.init())
    }

    package func refreshUpstream(_ input: Operations.RefreshUpstream.Input) async throws -> Operations.RefreshUpstream.Output {
        let call = try AdminCall.get()
        let result = try await services.upstreams.refresh(tenantID: try call.tenantID(), name: input.path.name, by: call.principal)
        return .ok(
            .init(
                body: .json(
                    .init(upstream: Self.upstream(result.connection, issuer: call.context.issuer), changes: result.changes, failure: result.failure))))
    }

    func createOIDCUpstream(_ body: Components.Schemas.CreateUpstream, call: AdminCall) async throws -> Operations.CreateUpstream.Output {
        guard let issuer = body.issuer, let clientID = body.clientId else {
            throw ServiceError.invalid([FieldError(field: "issuer", message: "an OIDC connection needs issuer and client_id")])
        }
        var mapping = UpstreamAttributeMapping(email: "email", givenName: "given_name", familyName: "family_name")
        if let a = body.attributes {
            if let v = a.email { mapping.email = v }
            if let v = a.givenName { mapping.givenName = v }
            if let v = a.familyName { mapping.familyName = v }
        }
        let created = try await services.upstreams.createOIDC(
            tenantID: try call.tenantID(),
            .init(
                name: body.name, displayName: body.displayName, issuer: issuer, clientID: clientID, clientSecret: body.clientSecret,
                authMethod: body.authMethod?.rawValue, scopes: body.scopes ?? ["openid", "email", "profile"], usePAR: body.usePar ?? false,
                policy: UpstreamPolicy(
                    attributes: mapping, emailDomains: body.emailDomains ?? [], linkDomains: body.linkDomains ?? [],
                    provisionUsers: body.provisionUsers ?? true, stepUp: body.stepUp ?? false)),
            by: call.principal)
        return .created(
            .init(
                headers: .init(eTag: Self.etag(created.version), location: call.url("upstreams/\(created.name)")),
                body: .json(Self.upstream(created, issuer: call.context.issuer))))
    }

    static func upstream(_ c: UpstreamConnection, issuer: String) -> Components.Schemas.Upstream {
        var out = Components.Schemas.Upstream(
            id: c.id, name: c.name, displayName: c.displayName, enabled: c.enabled, _protocol: c.oidc != nil ? .oidc : .saml,
            emailDomains: c.policy.emailDomains, linkDomains: c.policy.linkDomains,
            attributes: .init(email: c.policy.attributes.email, givenName: c.policy.attributes.givenName, familyName: c.policy.attributes.familyName),
            provisionUsers: c.policy.provisionUsers, createdAt: c.createdAt, updatedAt: c.updatedAt)
        out.stepUp = c.policy.stepUp
        switch c.settings {
        case .saml(let saml):
            let sp = UpstreamService.spValues(issuer: issuer, name: c.name)
            out.spEntityId = sp.entityID
            out.acsUrl = sp.acsURL
            out.spMetadataUrl = sp.metadataURL
            out.idpEntityId = saml.idpEntityID
            out.ssoUrl = saml.ssoURL
            out.ssoBinding = saml.ssoBinding == "post" ? .post : .redirect
            out.signingCertificates = saml.signingCertificatesPEM.map { pem in
                .init(
                    sha256: UpstreamService.fingerprint(pem),
                    notAfter: (try? Certificate(pemEncoded: pem))?.notValidAfter ?? Date(timeIntervalSince1970: 0))
            }
            out.metadataUrl = saml.metadataURL
            out.metadataValidUntil = saml.metadataValidUntil
            out.metadataFetchedAt = saml.metadataFetchedAt
            out.metadataRefreshError = saml.metadataRefreshError
            out.allowUnsolicited = saml.allowUnsolicited
            out.allowInsecureSha1 = saml.allowInsecureSHA1
        case .oidc(let oidc):
            let rp = UpstreamService.rpValues(issuer: issuer, name: c.name)
            out.issuer = oidc.issuer
            out.clientId = oidc.clientID
            out.authMethod = .init(rawValue: oidc.authMethod)
            out.redirectUri = rp.redirectURI
            out.jwksUri = rp.jwksURI
            out.postLogoutRedirectUri = rp.postLogoutRedirectURI
            out.backchannelLogoutUri = rp.backchannelLogoutURI
            out.endSessionEndpoint = oidc.endSessionEndpoint
            out.backchannelLogoutSupported = oidc.backchannelLogoutSupported ?? false
            out.scopes = oidc.scopes
            out.usePar = oidc.usePAR
            out.metadataFetchedAt = oidc.discoveryFetchedAt
            out.metadataRefreshError = oidc.discoveryRefreshError
        }
        return out
    }
}

extension AdminAPI {
    package func listUpstreamTraces(_ input: Operations.ListUpstreamTraces.Input) async throws -> Operations.ListUpstreamTraces.Output {
        let call = try AdminCall.get()
        let traces = try await services.upstreams.traces(
            tenantID: try call.tenantID(), name: input.path.name, limit: input.query.limit ?? 50, by: call.principal)
        return .ok(.init(body: .json(.init(items: traces.map { Self.trace($0, name: input.path.name) }))))
    }

    package func getUpstreamTrace(_ input: Operations.GetUpstreamTrace.Input) async throws -> Operations.GetUpstreamTrace.Output {
        let call = try AdminCall.get()
        let tenantID = try call.tenantID()
        let trace = try await services.upstreams.trace(tenantID: tenantID, id: input.path.id, by: call.principal)
        let name = try await services.upstreams.list(tenantID: tenantID, by: call.principal).first { $0.id == trace.connectionID }?.name ?? trace.connectionID
        return .ok(.init(body: .json(Self.trace(trace, name: name))))
    }

    static func trace(_ t: UpstreamTrace, name: String) -> Components.Schemas.UpstreamTrace {
        Components.Schemas.UpstreamTrace(
            id: t.id, connection: name, flowId: t.flowID, outcome: t.outcome == "accepted" ? .accepted : .rejected, reason: t.reason,
            createdAt: t.createdAt, expiresAt: t.expiresAt,
            messages: t.data.messages.map { .init(kind: $0.kind, direction: $0.direction, binding: $0.binding, xml: $0.xml) },
            checks: t.data.checks.map { .init(name: $0.name, passed: $0.passed, detail: $0.detail) })
    }
}
