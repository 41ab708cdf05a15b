/// Wraps a value that must never be printed: `description`, `debugDescription` and string
/// interpolation show `<redacted>`. Read the value only where it is used.
public struct Secret<Value: Sendable>: Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    public let value: Value
    public init(_ value: Value) { self.value = value }
    public var description: String { "<redacted>" }
    public var debugDescription: String { "<redacted>" }
}

extension Secret: Equatable where Value: Equatable {}
