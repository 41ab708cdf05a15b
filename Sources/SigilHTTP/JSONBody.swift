import Foundation
import HTTPTypes
import Hummingbird
import SigilCore

/// Strict JSON request bodies: `application/json` only, a size limit, a JSON object at the top,
/// no fields the endpoint does not know, and typed decoding with the failing field named.
enum JSONBody {
    static let maxBytes = 64 * 1024

    static func decode<T: Decodable>(_ type: T.Type, from request: Request, context: SigilRequestContext, allowed: Set<String>) async throws -> T {
        let data = Data(try await checked(request, allowed: allowed).readableBytesView)
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        do {
            return try decoder.decode(T.self, from: data)
        } catch let DecodingError.keyNotFound(key, ctx) {
            let field = fieldPath(ctx.codingPath + [key])
            throw Problem.invalidType(field, "\(field) is required")
        } catch let DecodingError.typeMismatch(_, ctx), let DecodingError.valueNotFound(_, ctx) {
            let field = fieldPath(ctx.codingPath)
            throw Problem.invalidType(field, "\(field) has the wrong type")
        } catch let DecodingError.dataCorrupted(ctx) {
            let field = fieldPath(ctx.codingPath)
            throw Problem.invalidType(field, "\(field) has an invalid value")
        }
    }

    /// Every check but the typed decoding, on the raw body: media type (415), size (413), I-JSON
    /// (`StrictJSON`: duplicate members, lone surrogates…), an object at the top, only `allowed`
    /// fields (400 `unknown-field`), no explicit null (400 `invalid-field-type`). Returns the body.
    /// The admin API runs it before the generated decoder (`AdminGate`); the hosted pages through
    /// `decode`.
    static func checked(_ request: Request, allowed: Set<String>) async throws -> ByteBuffer {
        let mediaType = request.headers[.contentType]?.split(separator: ";").first?.trimmingCharacters(in: .whitespaces).lowercased()
        guard mediaType == "application/json" || mediaType == "application/merge-patch+json" else {
            throw Problem(status: .unsupportedMediaType, type: "unsupported-media-type", title: "Send the body as application/json")
        }
        let buffer: ByteBuffer
        do {
            buffer = try await request.body.collect(upTo: maxBytes)
        } catch {
            throw Problem(
                status: .contentTooLarge, type: "payload-too-large", title: "The request body is too large",
                detail: "at most \(maxBytes) bytes")
        }
        let data = Data(buffer.readableBytesView)
        do { try StrictJSON.check(buffer.readableBytesView) } catch {
            throw Problem.invalidJSON(error.description)
        }
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: data, options: [])
        } catch {
            throw Problem.invalidJSON("the body could not be parsed as JSON")
        }
        guard let dictionary = object as? [String: Any] else { throw Problem.invalidJSON("the body must be a JSON object") }
        let unknown = dictionary.keys.filter { !allowed.contains($0) }.sorted()
        guard unknown.isEmpty else { throw Problem.unknownFields(unknown) }
        // No request field of the admin API or the hosted pages is nullable (the OpenAPI document
        // says which types each takes): an explicit null is refused, not read as "absent". Only
        // the fields themselves: a free-form value (a jwks document) is the field's own business.
        if let field = dictionary.keys.sorted().first(where: { dictionary[$0] is NSNull }) {
            throw Problem.invalidType(field, "\(field) must not be null")
        }
        return buffer
    }

    static func fieldPath(_ path: [any CodingKey]) -> String {
        path.map { key in
            if let index = key.intValue { return "[\(index)]" }
            // Undo convertFromSnakeCase for the message.
            return key.stringValue.reduce(into: "") { out, ch in
                if ch.isUppercase { out += "_" + ch.lowercased() } else { out.append(ch) }
            }
        }.reduce("") { acc, part in part.hasPrefix("[") ? acc + part : (acc.isEmpty ? part : acc + "." + part) }
    }
}

enum JSONResponse {
    static let encoder: JSONEncoder = {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.dateEncodingStrategy = .iso8601
        return encoder
    }()

    static func make<T: Encodable>(
        _ value: T, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:],
        contentType: String = "application/json"
    ) throws -> Response {
        let data = try encoder.encode(value)
        var all: HTTPFields = [.contentType: contentType]
        all.append(contentsOf: headers)
        return Response(status: status, headers: all, body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}
