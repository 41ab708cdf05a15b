/// Keyset pagination: items are ordered by id (ids are time-ordered), `after` is the last id of
/// the previous page.
public struct PageRequest: Sendable, Equatable {
    public static let maximumLimit = 200
    public var limit: Int
    public var after: String?

    public init(limit: Int = 50, after: String? = nil) {
        self.limit = min(max(limit, 1), Self.maximumLimit)
        self.after = after
    }
}

public struct Page<Item: Sendable>: Sendable {
    public var items: [Item]
    /// Pass as `after` to get the next page; nil on the last page.
    public var nextCursor: String?

    public init(items: [Item], nextCursor: String?) {
        self.items = items
        self.nextCursor = nextCursor
    }
}

extension Page: Equatable where Item: Equatable {}
