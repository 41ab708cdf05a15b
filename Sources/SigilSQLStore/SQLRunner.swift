import Foundation
import PostgresNIO
import SQLKit
import SQLiteKit
import SigilStore
import Synchronization

/// How an aggregate store reaches the database: through the backend (each call its own
/// connection use or transaction) or through the transaction it was handed.
struct SQLRunner: Sendable {
    let backend: any SQLBackend
    let transaction: (any SQLDatabase)?

    var flavor: SQLFlavor { backend.flavor }

    /// `FOR UPDATE` where the database has it; SQLite's `BEGIN IMMEDIATE` already excludes writers.
    var forUpdate: String { flavor == .postgres ? " FOR UPDATE" : "" }

    func read<R: Sendable>(_ entity: String, _ body: @escaping @Sendable (any SQLDatabase) async throws -> R) async throws -> R {
        try await mapErrors(entity) {
            if let transaction { return try await body(transaction) }
            return try await backend.withConnection(body)
        }
    }

    func write<R: Sendable>(_ entity: String, _ body: @escaping @Sendable (any SQLDatabase) async throws -> R) async throws -> R {
        try await mapErrors(entity) {
            if let transaction { return try await body(transaction) }
            return try await backend.withTransaction(body)
        }
    }

    private func mapErrors<R>(_ entity: String, _ body: () async throws -> R) async throws -> R {
        do {
            return try await body()
        } catch let error as StoreError {
            throw error
        } catch is DatabaseTimeout {
            throw StoreError(.unavailable, entity: entity, detail: "the database did not answer in time")
        } catch let error as SQLiteFailure {
            switch error.code {
            case SQLiteFailure.constraintUnique, SQLiteFailure.constraintPrimaryKey:
                throw StoreError.alreadyExists(entity, "unique constraint")
            case SQLiteFailure.constraintForeignKey:
                throw StoreError.notFound(entity, "a referenced record does not exist")
            case _ where error.primary == SQLiteFailure.constraint && (error.message.contains("UNIQUE") || error.message.contains("PRIMARY KEY")):
                throw StoreError.alreadyExists(entity, "unique constraint")
            case _ where error.primary == SQLiteFailure.constraint && error.message.contains("FOREIGN KEY"):
                throw StoreError.notFound(entity, "a referenced record does not exist")
            case _ where error.primary == SQLiteFailure.busy || error.primary == SQLiteFailure.locked:
                throw StoreError(.unavailable, entity: entity, detail: "database is locked")
            default:
                throw error
            }
        } catch let error as SQLiteError {
            switch error.reason {
            case .constraintUniqueFailed, .constraintPrimaryKeyFailed:
                throw StoreError.alreadyExists(entity, "unique constraint")
            case .constraintForeignKeyFailed:
                throw StoreError.notFound(entity, "a referenced record does not exist")
            case .constraint where error.message.contains("UNIQUE") || error.message.contains("PRIMARY KEY"):
                throw StoreError.alreadyExists(entity, "unique constraint")
            case .constraint where error.message.contains("FOREIGN KEY"):
                throw StoreError.notFound(entity, "a referenced record does not exist")
            case .busy, .locked:
                throw StoreError(.unavailable, entity: entity, detail: "database is locked")
            default:
                throw error
            }
        } catch let error as PSQLError {
            switch error.serverInfo?[.sqlState] {
            case "23505": throw StoreError.alreadyExists(entity, "unique constraint")
            case "23503": throw StoreError.notFound(entity, "a referenced record does not exist")
            case "40001", "40P01": throw StoreError.conflict(entity, "concurrent update, retry")
            case nil: throw StoreError(.unavailable, entity: entity, detail: "database connection failed")
            default: throw error
            }
        }
    }
}

extension SQLRow {
    func string(_ column: String) throws -> String { try decode(column: column, as: String.self) }
    func optionalString(_ column: String) throws -> String? { try decode(column: column, as: String?.self) }
    func int(_ column: String) throws -> Int { Int(try decode(column: column, as: Int64.self)) }
    func date(_ column: String) throws -> Date { Date(timeIntervalSince1970: Double(try decode(column: column, as: Int64.self)) / 1000) }
    func optionalDate(_ column: String) throws -> Date? {
        try decode(column: column, as: Int64?.self).map { Date(timeIntervalSince1970: Double($0) / 1000) }
    }
}

extension Date {
    var ms: Int64 { unixMillisecondsForStore }
}

extension Optional where Wrapped == Date {
    var ms: Int64? { self?.unixMillisecondsForStore }
}

/// JSON columns are TEXT in both dialects.
enum JSONColumn {
    static func encode<T: Encodable>(_ value: T) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.dateEncodingStrategy = .millisecondsSince1970
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    static func decode<T: Decodable>(_ type: T.Type, _ text: String) throws -> T {
        let decoder = JSONDecoder()
        decoder.dateDecodingStrategy = .millisecondsSince1970
        return try decoder.decode(type, from: Data(text.utf8))
    }
}

/// A bounded memo of one `Decodable` type's values by the JSON text they were decoded from
/// (`JSONColumn.decode`). Only for value types: a cached value is handed out to every reader.
/// When full it is emptied; a miss costs one decode, as before.
final class DecodedJSONCache<Value: Decodable & Sendable>: Sendable {
    private let entries = Mutex<[String: Value]>([:])
    let capacity: Int

    init(capacity: Int) { self.capacity = capacity }

    func decode(_ text: String) throws -> Value {
        if let known = entries.withLock({ $0[text] }) { return known }
        let value = try JSONColumn.decode(Value.self, text)
        entries.withLock { entries in
            if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
            entries[text] = value
        }
        return value
    }

    var count: Int { entries.withLock { $0.count } }
}
