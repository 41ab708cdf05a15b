import Foundation
import SigilFlows
import SigilIDV

/// Every use case, built over one context.
public struct ServiceSet: Sendable {
    public let context: ServiceContext
    public var tenants: TenantService { TenantService(context: context) }
    public var users: UserService { UserService(context: context) }
    public var applications: ApplicationService { ApplicationService(context: context) }
    public var keys: KeyService { KeyService(context: context) }
    public var saml: SAMLIdentityProviderService { SAMLIdentityProviderService(context: context, logout: logout) }
    /// Ends sessions everywhere (grants, back-channel logout tokens; SAML participants returned).
    public var logout: LogoutService { LogoutService(context: context, dispatcher: backChannel) }
    /// The Shared Signals transmitter (docs/ssf.md).
    public var ssf: SSFService { SSFService(context: context) }
    public let backChannel: BackChannelLogoutDispatcher
    public var adminTokens: AdminTokenService { AdminTokenService(context: context) }
    public var audit: AuditService { AuditService(context: context) }
    public var connectors: ConnectorService { ConnectorService(context: context, idv: idv) }
    public var webhooks: WebhookService {
        var service = WebhookService(context: context)
        service.lease = webhookLease
        return service
    }
    /// How long a node holds a webhook delivery it is sending (`SIGIL_WEBHOOK_LEASE_SECONDS`).
    public var webhookLease: TimeInterval = 30
    public var enrolment: EnrolmentService { EnrolmentService(context: context) }
    public var expirySweep: ExpirySweep { ExpirySweep(context: context) }
    public var sessions: SessionService { SessionService(context: context) }
    /// Upstream identity providers (Sigil as SAML service provider) and sign-in through them.
    public var upstreams: UpstreamService { UpstreamService(context: context, sessions: sessions, idp: saml) }
    public var passkeys: PasskeyService { PasskeyService(context: context) }
    /// A signed-in user's own account: passkeys, devices, consents.
    public var account: AccountService { AccountService(context: context, oauth: oauth) }
    /// `/readyz`: database reachable and migrations current.
    public var readiness: ReadinessCheck { ReadinessCheck(context: context) }
    public var authenticatorEnrolment: AuthenticatorEnrolment { AuthenticatorEnrolment(context: context) }
    public var deviceRequests: DeviceRequestVerifier { DeviceRequestVerifier(context: context) }
    public let authenticatorPolicy: AuthenticatorPolicy
    public var oauthPolicy = OAuthService.Policy()
    public var oauth: OAuthService { OAuthService(context: context, policy: oauthPolicy) }
    public let pushDispatcher: PushDispatcher
    /// The IDV image engine (`sigil-idv-engine`, or none: checks report `engine_unavailable`).
    public var idvEngine: any IDVEngine = UnavailableIDVEngine()
    /// Identity verification: settings, sessions, checks, decisions (docs/idv.md).
    public var idv: IDVService { IDVService(context: context, engine: idvEngine, activityWindow: idvActivityWindow) }
    /// How long an IDV session waits for the next piece of evidence (20 minutes; tests shorten it).
    public var idvActivityWindow: TimeInterval = IDVSessionStateMachine.activityWindow
    public var authenticator: AuthenticatorService {
        AuthenticatorService(context: context, policy: authenticatorPolicy, dispatcher: pushDispatcher)
    }

    public init(
        context: ServiceContext, authenticatorPolicy: AuthenticatorPolicy = AuthenticatorPolicy(),
        pushSender: any PushSender = NoPushSender(),
        backChannel: BackChannelLogoutDispatcher = BackChannelLogoutDispatcher()
    ) {
        self.context = context
        self.backChannel = backChannel
        self.authenticatorPolicy = authenticatorPolicy
        self.pushDispatcher = PushDispatcher(sender: pushSender)
    }
}
