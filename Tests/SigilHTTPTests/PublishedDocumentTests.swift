import Foundation
import HTTPTypes
import SigilServices
import Testing

/// Discovery, JWKS and SAML metadata served from the tenant documents cache: strong `ETag`,
/// `304 Not Modified` for a matching `If-None-Match`, `Cache-Control: public, max-age=60`, one
/// tenant's document never another's, and a new tag after a rotation.
@Suite struct PublishedDocumentTests {
    static let paths = ["/.well-known/openid-configuration", "/oauth2/jwks", "/saml/metadata", "/saml/metadata?signed=1"]

    @Test func documentsCarryAStrongTagAndAnswer304ToIt() async throws {
        try await Harness.run { h in
            for path in Self.paths {
                let first = try await h.request(.get, path)
                #expect(first.status == .ok, "\(path)")
                let etag = try #require(first.headers[.eTag], "\(path)")
                #expect(etag.hasPrefix("\"") && !etag.hasPrefix("W/"))
                #expect(first.headers[.cacheControl] == "public, max-age=60")
                // The same bytes and tag on the next request.
                let second = try await h.request(.get, path)
                #expect(second.headers[.eTag] == etag)
                #expect(second.body == first.body)
                for condition in [etag, "W/" + etag, "\"other\", " + etag, "*"] {
                    let notModified = try await h.request(.get, path, headers: [.ifNoneMatch: condition])
                    #expect(notModified.status == .notModified, "\(path) If-None-Match: \(condition)")
                    #expect(notModified.body.readableBytes == 0)
                    #expect(notModified.headers[.eTag] == etag)
                    #expect(notModified.headers[.cacheControl] == "public, max-age=60")
                }
                let other = try await h.request(.get, path, headers: [.ifNoneMatch: "\"something-else\""])
                #expect(other.status == .ok)
                #expect(other.body == first.body)
            }
            let discovery = try await h.request(.get, "/.well-known/openid-configuration")
            #expect(discovery.headers[.accessControlAllowOrigin] == "*")
            #expect(discovery.headers[.contentType] == "application/json")
            #expect(try await h.request(.get, "/saml/metadata").headers[.contentType] == "application/samlmetadata+xml")
        }
    }

    @Test func eachTenantAndIssuerHasItsOwnDocumentAndTag() async throws {
        try await Harness.run { h in
            let created = try await h.admin(.post, "/tenants", json: #"{"name":"acme","host":"acme.example.com"}"#)
            #expect(created.status == .created, "\(created.text)")
            let host: HTTPFields = [HTTPField.Name("Host")!: "acme.example.com"]
            for path in Self.paths {
                // Fill the default tenant's entries first, then ask for acme's by prefix and by host.
                let defaultDocument = try await h.request(.get, path)
                let byPrefix = try await h.request(.get, "/t/acme" + path)
                let byHost = try await h.request(.get, path, headers: host)
                let defaultTag = try #require(defaultDocument.headers[.eTag])
                #expect(byPrefix.headers[.eTag] != defaultTag, "\(path)")
                #expect(byHost.headers[.eTag] != defaultTag, "\(path)")
                // A tag of one tenant does not make another answer 304.
                let crossed = try await h.request(.get, "/t/acme" + path, headers: [.ifNoneMatch: defaultTag])
                #expect(crossed.status == .ok, "\(path)")
                #expect(crossed.body == byPrefix.body)
                // And the default tenant still gets its own.
                #expect(try await h.request(.get, path).body == defaultDocument.body)
            }
            let issuerByPrefix = try await h.request(.get, "/t/acme/.well-known/openid-configuration").json()["issuer"] as? String
            let issuerByHost = try await h.request(.get, "/.well-known/openid-configuration", headers: host).json()["issuer"] as? String
            #expect(issuerByPrefix == "https://id.example.com/t/acme")
            #expect(issuerByHost == "https://acme.example.com")
            #expect(try await h.request(.get, "/.well-known/openid-configuration").json()["issuer"] as? String == "https://id.example.com")
        }
    }

    @Test func rotationChangesTheTagAtOnce() async throws {
        try await Harness.run { h in
            let jwks = try await h.request(.get, "/oauth2/jwks")
            let metadata = try await h.request(.get, "/saml/metadata")
            let jwksTag = try #require(jwks.headers[.eTag])
            let metadataTag = try #require(metadata.headers[.eTag])
            #expect(try await h.admin(.post, "/keys/rotate").status == .ok)
            let newJWKS = try await h.request(.get, "/oauth2/jwks", headers: [.ifNoneMatch: jwksTag])
            #expect(newJWKS.status == .ok)
            #expect(newJWKS.headers[.eTag] != jwksTag)
            let newMetadata = try await h.request(.get, "/saml/metadata", headers: [.ifNoneMatch: metadataTag])
            #expect(newMetadata.status == .ok)
            #expect(newMetadata.headers[.eTag] != metadataTag)
        }
    }
}
