import Foundation

/// Every test runs on fixed instants, never the clock.
let t0 = Date(timeIntervalSince1970: 1_800_000_000)

extension Date {
    /// `t0 + 30`, `now + 120`: reads as the timeline the old services worked on.
    static func + (date: Date, seconds: TimeInterval) -> Date { date.addingTimeInterval(seconds) }
    static func - (date: Date, seconds: TimeInterval) -> Date { date.addingTimeInterval(-seconds) }
}
