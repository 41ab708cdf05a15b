import Foundation
import Logging
import PostgresNIO
import SigilCore
import SigilSQLStore
import SigilStore
import SigilTestSupport
import Testing

// The backends and fresh stores (`Backend`, `withFreshStore`, `freshStore`) are in
// Tests/SigilTestSupport, shared with SigilServicesTests.
extension Backend: CustomTestStringConvertible {
    public var testDescription: String { rawValue }
}

struct Fixtures {
    static let start = Date(timeIntervalSince1970: 1_800_000_000)
    let ids: IdentifierGenerator
    let clock: ManualClock

    init() {
        clock = ManualClock(Self.start)
        ids = IdentifierGenerator(clock: clock, random: SystemRandom())
    }

    func tenant(_ slug: String, host: String? = nil) -> Tenant {
        Tenant(id: ids.make(.tenant), slug: slug, displayName: slug.capitalized, host: host, createdAt: clock.now(), updatedAt: clock.now())
    }

    func user(_ tenant: Tenant, _ email: String) -> User {
        User(
            id: ids.make(.user), tenantID: tenant.id, email: email, givenName: "Ada", familyName: "Lovelace",
            status: .active, createdAt: clock.now(), updatedAt: clock.now())
    }

    func oidcApp(_ tenant: Tenant, clientID: String = UUID().uuidString) -> Application {
        Application(
            id: ids.make(.application), tenantID: tenant.id, name: "Portal",
            settings: .oidc(
                OIDCClientSettings(
                    clientID: clientID, clientSecretHash: tokenHash("s3cret"),
                    redirectURIs: ["https://rp.example/cb"], tokenEndpointAuthMethod: "client_secret_basic",
                    requirePKCE: true, requirePAR: false)),
            createdAt: clock.now(), updatedAt: clock.now())
    }

    func samlApp(_ tenant: Tenant, entityID: String) -> Application {
        Application(
            id: ids.make(.application), tenantID: tenant.id, name: "Okta",
            settings: .saml(
                SAMLServiceProviderSettings(
                    entityID: entityID,
                    assertionConsumerServices: [.init(url: "https://acme.okta.com/sso/saml2/0oa1", isDefault: true)])),
            createdAt: clock.now(), updatedAt: clock.now())
    }
}
