import SigilServices
import Testing

/// Expects `body` to throw an `AuthenticatorServiceError` with `code`.
func expectAuthenticatorError(
    _ code: AuthenticatorServiceError.Code, _ body: () async throws -> Void,
    sourceLocation: SourceLocation = #_sourceLocation
) async {
    do {
        try await body()
        Issue.record("expected \(code)", sourceLocation: sourceLocation)
    } catch let error as AuthenticatorServiceError {
        #expect(error.code == code, "got \(error)", sourceLocation: sourceLocation)
    } catch {
        Issue.record("expected \(code), got \(error)", sourceLocation: sourceLocation)
    }
}
