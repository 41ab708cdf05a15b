import Testing

@testable import SigilRemote

/// `Cache-Control` from servers Sigil fetches from (IdP metadata, JWKS): any value is safe to read.
@Suite struct CacheControlTests {
    @Test func freshnessAndHostileValues() {
        #expect(HTTPDocumentFetcher.maxAge(["max-age=300"]) == 300)
        #expect(HTTPDocumentFetcher.maxAge(["public, max-age=\"60\""]) == 60)
        #expect(HTTPDocumentFetcher.maxAge(["no-store"]) == 0)
        // A directive of only `=` split into nothing and crashed the reader (the same bug the fuzz run
        // found in the SAML query parser): now it is ignored.
        for hostile in ["=", "==", ",=,", "max-age=", "=300"] {
            #expect(HTTPDocumentFetcher.maxAge([hostile]) == nil, "\(hostile)")
        }
    }
}
