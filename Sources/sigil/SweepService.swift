import Foundation
import Logging
import ServiceLifecycle
import SigilServices

/// Runs the expiry sweep every `interval` until graceful shutdown.
struct SweepService: Service {
    let services: ServiceSet
    let interval: Duration
    let logger: Logger

    func run() async throws {
        do {
            try await cancelWhenGracefulShutdown {
                while true {
                    do {
                        let result = try await services.expirySweep.run(now: services.context.clock.now())
                        if result.total > 0 {
                            logger.info("expired rows deleted", metadata: [
                                "enrolment_tokens": .stringConvertible(result.enrolmentTokens),
                                "sessions": .stringConvertible(result.sessions),
                                "login_transactions": .stringConvertible(result.loginTransactions),
                            ])
                        }
                    } catch is CancellationError {
                        return
                    } catch {
                        logger.warning("expiry sweep failed", metadata: ["error": .string("\(error)")])
                    }
                    try await Task.sleep(for: interval)
                }
            }
        } catch is CancellationError {
            return
        }
    }
}
