/// The store's typed error. `code` is what callers switch on; `detail` is for logs and never
/// holds secrets.
public struct StoreError: Error, Sendable, Equatable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        let name: String
        private init(_ name: String) { self.name = name }
        public var description: String { name }

        /// The record does not exist (or belongs to another tenant).
        public static let notFound = Code("notFound")
        /// A record with the same unique key (id, email, client_id, entity ID, host…) exists.
        public static let alreadyExists = Code("alreadyExists")
        /// The change cannot be applied to the current state (stale version, record in use).
        public static let conflict = Code("conflict")
        /// The database could not be reached or failed.
        public static let unavailable = Code("unavailable")
    }

    public let code: Code
    /// Which aggregate: "tenant", "user", "application", …
    public let entity: String
    public let detail: String

    public init(_ code: Code, entity: String, detail: String = "") {
        self.code = code
        self.entity = entity
        self.detail = detail
    }

    public var description: String { "\(entity) \(code)\(detail.isEmpty ? "" : ": \(detail)")" }

    public static func == (a: StoreError, b: StoreError) -> Bool { a.code == b.code && a.entity == b.entity }

    public static func notFound(_ entity: String, _ detail: String = "") -> StoreError { .init(.notFound, entity: entity, detail: detail) }
    public static func alreadyExists(_ entity: String, _ detail: String = "") -> StoreError { .init(.alreadyExists, entity: entity, detail: detail) }
    public static func conflict(_ entity: String, _ detail: String = "") -> StoreError { .init(.conflict, entity: entity, detail: detail) }
}
