import HTTPTypes
import Hummingbird
import SigilCore
import SigilFlows
import SigilOAuth
import SigilSAML
import SigilServices
import SigilStore
import SigilWebAuthn
import Testing

@testable import SigilHTTP

/// The one error renderer knows every module's errors: each maps to its own status and problem
/// type, and none of them falls through to the anonymous 500.
@Suite struct ProblemMappingTests {
    struct Case: Sendable, CustomStringConvertible {
        let error: any Error & Sendable
        let status: HTTPResponse.Status
        let type: String
        var description: String { "\(type)" }
    }

    static let cases: [Case] = [
        Case(error: ServiceError(.invalidInput, "bad"), status: .unprocessableContent, type: "validation-failed"),
        Case(error: ServiceError(.signInFailed, "no"), status: .forbidden, type: "sign-in-failed"),
        Case(error: AuthenticatorServiceError(.loginDenied, "declined"), status: .forbidden, type: "login-denied"),
        Case(error: StoreError(.notFound, entity: "user"), status: .notFound, type: "not-found"),
        Case(error: StoreError(.unavailable, entity: "user"), status: .serviceUnavailable, type: "unavailable"),
        Case(error: OAuthError(.invalidClient, "client authentication failed"), status: .unauthorized, type: "oauth-invalid-client"),
        Case(error: OAuthError(.invalidGrant, "used"), status: .badRequest, type: "oauth-invalid-grant"),
        Case(error: OAuthError(.temporarilyUnavailable, "later"), status: .serviceUnavailable, type: "oauth-temporarily-unavailable"),
        Case(error: SAMLError(.replayed, "already used"), status: .badRequest, type: "saml-request-refused"),
        Case(error: WebAuthnError(.badSignature, "no"), status: .badRequest, type: "webauthn-invalid"),
        Case(error: RemoteFetchError.timeout, status: .badGateway, type: "remote-document-unavailable"),
        Case(error: SigilError(.invalidInput, "bad"), status: .unprocessableContent, type: "validation-failed"),
        Case(error: FlowRefusal.used, status: .conflict, type: "flow-used"),
        Case(error: HTTPError(.notFound), status: .notFound, type: "not-found"),
    ]

    @Test(arguments: cases)
    func everyModuleErrorHasItsOwnProblem(_ c: Case) {
        let problem = Problem.from(c.error)
        #expect(problem.status == c.status)
        #expect(problem.type == "urn:sigil:problem:" + c.type)
    }

    @Test func anUnknownErrorIsAnAnonymous500() {
        struct Surprise: Error {}
        let problem = Problem.from(Surprise())
        #expect(problem.status == .internalServerError && problem.detail == nil)
    }
}
