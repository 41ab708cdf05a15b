/// The admin API's OpenAPI 3.1 document, `openapi.json` in this directory: the one source the
/// generated `APIProtocol`, `Operations` and `Components` come from (swift-openapi-generator's
/// build plugin, `openapi-generator-config.yaml`), embedded in the binary and served unchanged at
/// `/api/admin/v1/openapi.json`.
package enum AdminAPIDocument {
    /// The document's bytes, exactly as in the repository.
    package static var bytes: [UInt8] { PackageResources.openapi_json }
}

/// The connector API's OpenAPI 3.1 document, `connectors-openapi.json` in this directory, served
/// at `/api/v1/connectors/openapi.json` (docs/connectors.md). The routes are hand-written
/// (`ConnectorRoutes`), tested against this document by `ConnectorAPITests`.
package enum ConnectorAPIDocument {
    package static var bytes: [UInt8] { PackageResources.connectors_openapi_json }
}
