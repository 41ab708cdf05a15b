/// Every use case, built over one context.
public struct ServiceSet: Sendable {
    public let context: ServiceContext
    public var tenants: TenantService { TenantService(context: context) }
    public var users: UserService { UserService(context: context) }
    public var applications: ApplicationService { ApplicationService(context: context) }
    public var keys: KeyService { KeyService(context: context) }
    public var adminTokens: AdminTokenService { AdminTokenService(context: context) }
    public var enrolment: EnrolmentService { EnrolmentService(context: context) }
    public var expirySweep: ExpirySweep { ExpirySweep(context: context) }
    public var sessions: SessionService { SessionService(context: context) }
    public var passkeys: PasskeyService { PasskeyService(context: context) }
    public var authenticatorEnrolment: AuthenticatorEnrolment { AuthenticatorEnrolment(context: context) }
    public var deviceRequests: DeviceRequestVerifier { DeviceRequestVerifier(context: context) }

    public init(context: ServiceContext) { self.context = context }
}
