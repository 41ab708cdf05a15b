import Hummingbird
import SigilStore

/// The per-request context: the tenant resolved from the host or `/t/{tenant}/`, and its issuer.
public struct SigilRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// Set by `TenantResponder` before routing; nil only for requests that never reach a route.
    public var tenant: Tenant?
    /// The tenant's base URL: its OIDC issuer and the prefix of every URL Sigil prints for it.
    public var issuer: String = ""
    /// The path as the client sent it (before the `/t/{tenant}` prefix was removed).
    public var originalPath: String = ""

    /// The client's IP address: the TCP peer, or behind proxies named in `SIGIL_TRUSTED_PROXIES`
    /// the address they forwarded (`TrustedProxies`, set by `TenantResponder`).
    public var clientAddress: String = "unknown"

    /// The browser session, resolved on first use (`browserSession(_:_:)`); shared by the copies of
    /// this context that middlewares and routes pass along within the request.
    let sessionSlot = BrowserSessionSlot()

    public init(source: Source) {
        self.coreContext = .init(source: source)
        self.clientAddress = source.channel.remoteAddress?.ipAddress ?? "unknown"
    }

    /// Admin API bodies are small.
    public var maxUploadSize: Int { 256 * 1024 }

    public func requireTenant() throws -> Tenant {
        guard let tenant else { throw Problem.tenantNotFound() }
        return tenant
    }
}
