import SigilTestSupport
import Testing

// The backends and fresh stores are in Tests/SigilTestSupport, shared with the store
// conformance suite (one limit on simultaneous PostgreSQL test databases for the whole run).
extension Backend: CustomTestStringConvertible {
    public var testDescription: String { rawValue }
}
