import SigilStore

/// `/readyz`: is this node ready for traffic? The database answers and every migration this
/// binary knows has been applied. Never throws: an unreachable database is an answer (not ready).
public struct ReadinessCheck: Sendable {
    public let context: ServiceContext

    public init(context: ServiceContext) { self.context = context }

    public func check() async -> StoreHealth {
        await context.store.health()
    }
}
