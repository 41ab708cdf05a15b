import Foundation
import HTTPTypes
import Hummingbird
import SigilServices

/// Answers a GET for a published document (discovery, JWKS, SAML metadata) from its cached bytes,
/// with its strong `ETag`, and `304 Not Modified` when `If-None-Match` names that tag (or `*`).
enum PublishedResponse {
    /// Relying parties and service providers may reuse a document for a minute. Rotation
    /// promotes the key that was already published as `next` (since the previous rotation), so a
    /// copy at most this old already holds the new signing key unless two rotations come within a
    /// minute of each other; a copy older than that is revalidated (a 304 when nothing changed).
    static let cacheControl = "public, max-age=60"

    static func response(
        _ document: PublishedDocument, for request: Request, contentType: String, crossOrigin: Bool = false
    ) -> Response {
        var headers: HTTPFields = [.eTag: document.etag, .cacheControl: cacheControl]
        if crossOrigin { headers[.accessControlAllowOrigin] = "*" }
        if matches(document.etag, request.headers[values: .ifNoneMatch]) {
            return Response(status: .notModified, headers: headers)
        }
        headers[.contentType] = contentType
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: document.bytes)))
    }

    /// RFC 9110 §13.1.2: `*`, or any listed tag equal to ours under weak comparison (a `W/` prefix
    /// is ignored).
    static func matches(_ etag: String, _ fieldValues: [String]) -> Bool {
        for value in fieldValues {
            for item in value.split(separator: ",") {
                var tag = item.trimmingCharacters(in: .whitespaces)[...]
                if tag == "*" { return true }
                if tag.hasPrefix("W/") { tag = tag.dropFirst(2) }
                if tag == etag { return true }
            }
        }
        return false
    }
}
