import Foundation
import Testing

@testable import SigilXML

/// Canonical forms against libxml2. The expected files beside each vector were produced by
/// `scripts/xml-c14n-vectors.sh` (`xmllint --exc-c14n` and `xmllint --c14n`, which keep comments);
/// `matchesXmllintAtRuntime` re-runs xmllint so stale files cannot hide a divergence.
@Suite("Canonicalization")
struct XMLCanonicalizerTests {
    static var vectorNames: [String] {
        let files = (try? FileManager.default.contentsOfDirectory(atPath: Vectors.c14nDirectory.path)) ?? []
        return files.filter { $0.hasSuffix(".xml") }.map { String($0.dropLast(4)) }.sorted()
    }

    static let parserOptions: XMLParserOptions = {
        var o = XMLParserOptions()
        o.processingInstructions = .keep
        return o
    }()

    static func ours(_ name: String, _ method: XMLCanonicalizationMethod) throws -> String {
        let data = try Data(contentsOf: Vectors.c14nDirectory.appendingPathComponent("\(name).xml"))
        let doc = try XMLDocumentParser.parse(data, options: parserOptions)
        return String(decoding: XMLCanonicalizer.canonicalize(doc, method: method), as: UTF8.self)
    }

    @Test func vectorSetIsPresent() {
        #expect(Self.vectorNames.count >= 12)
    }

    @Test(arguments: vectorNames)
    func exclusiveMatchesCommittedXmllintOutput(_ name: String) throws {
        let expected = try String(contentsOf: Vectors.c14nDirectory.appendingPathComponent("\(name).exc-c14n"), encoding: .utf8)
        #expect(try Self.ours(name, .exclusive(withComments: true, inclusivePrefixes: [])) == expected)
    }

    @Test(arguments: vectorNames)
    func inclusiveMatchesCommittedXmllintOutput(_ name: String) throws {
        let expected = try String(contentsOf: Vectors.c14nDirectory.appendingPathComponent("\(name).c14n"), encoding: .utf8)
        #expect(try Self.ours(name, .inclusive(withComments: true)) == expected)
    }

    @Test(.enabled(if: ReferenceTool.shouldRun("xmllint")), arguments: vectorNames)
    func matchesXmllintAtRuntime(_ name: String) throws {
        guard let xmllint = ReferenceTool.require("xmllint") else { return }
        let file = Vectors.c14nDirectory.appendingPathComponent("\(name).xml").path
        for (flag, method) in [
            ("--exc-c14n", XMLCanonicalizationMethod.exclusive(withComments: true, inclusivePrefixes: [])), ("--c14n", .inclusive(withComments: true)),
        ] {
            let result = try ReferenceTool.run(xmllint, [flag, file])
            #expect(result.status == 0, "\(result.stderr)")
            #expect(try Self.ours(name, method) == String(decoding: result.stdout, as: UTF8.self), "\(flag) \(name)")
        }
    }

    @Test func withoutCommentsDropsComments() throws {
        let doc = try XMLDocumentParser.parse(Data("<!--a--><r>x<!--b-->y</r><!--c-->".utf8))
        #expect(String(decoding: XMLCanonicalizer.canonicalize(doc, method: .exclusive), as: UTF8.self) == "<r>xy</r>")
        #expect(
            String(decoding: XMLCanonicalizer.canonicalize(doc, method: .inclusive(withComments: true)), as: UTF8.self)
                == "<!--a-->\n<r>x<!--b-->y</r>\n<!--c-->")
    }

    // Subtree canonicalization (the document subset an enveloped signature's reference selects).
    static let nested = """
        <a:root xmlns:a="urn:a" xmlns:b="urn:b" xmlns="urn:d" xml:lang="en"><a:mid xmlns:c="urn:c"><b:leaf c:x="1"><inner/></b:leaf></a:mid></a:root>
        """

    @Test func exclusiveSubtreeRendersOnlyVisiblyUtilizedNamespaces() throws {
        let doc = try XMLDocumentParser.parse(Data(Self.nested.utf8))
        let out = try #require(XMLCanonicalizer.canonicalize(subtreeAt: [0, 0], of: doc, method: .exclusive))
        #expect(String(decoding: out, as: UTF8.self) == #"<b:leaf xmlns:b="urn:b" xmlns:c="urn:c" c:x="1"><inner xmlns="urn:d"></inner></b:leaf>"#)
    }

    @Test func exclusiveSubtreeWithInclusivePrefixList() throws {
        let doc = try XMLDocumentParser.parse(Data(Self.nested.utf8))
        let method = XMLCanonicalizationMethod.exclusive(withComments: false, inclusivePrefixes: ["a", "#default"])
        let out = try #require(XMLCanonicalizer.canonicalize(subtreeAt: [0, 0], of: doc, method: method))
        #expect(
            String(decoding: out, as: UTF8.self) == #"<b:leaf xmlns="urn:d" xmlns:a="urn:a" xmlns:b="urn:b" xmlns:c="urn:c" c:x="1"><inner></inner></b:leaf>"#)
    }

    @Test func inclusiveSubtreeRendersAllInScopeNamespacesAndXMLAttributes() throws {
        let doc = try XMLDocumentParser.parse(Data(Self.nested.utf8))
        let out = try #require(XMLCanonicalizer.canonicalize(subtreeAt: [0, 0], of: doc, method: .inclusive))
        #expect(
            String(decoding: out, as: UTF8.self)
                == #"<b:leaf xmlns="urn:d" xmlns:a="urn:a" xmlns:b="urn:b" xmlns:c="urn:c" xml:lang="en" c:x="1"><inner></inner></b:leaf>"#)
    }

    @Test func methodURIsRoundTrip() {
        for m in [
            XMLCanonicalizationMethod.inclusive(withComments: false), .inclusive(withComments: true), .exclusive,
            .exclusive(withComments: true, inclusivePrefixes: []),
        ] {
            #expect(XMLCanonicalizationMethod(uri: m.uri) == m)
        }
        #expect(XMLCanonicalizationMethod(uri: "http://www.w3.org/2006/12/xml-c14n11") == nil)
    }
}
