import Foundation
import Synchronization

#if canImport(FoundationXML)
import FoundationXML
#endif

/// Limits and policies of the hardened parser. The defaults suit SAML messages.
public struct XMLParserOptions: Sendable {
    /// What to do with processing instructions (`<?target data?>`; the XML declaration is not one).
    public enum ProcessingInstructionPolicy: Sendable {
        /// Refuse the document (`.processingInstructionForbidden`). SAML never needs them.
        case reject
        /// Keep them in the tree; canonicalization outputs them as the specs say.
        case keep
    }

    /// Largest input accepted, in bytes (default 1 MiB).
    public var maxBytes: Int = 1 << 20
    /// Deepest element nesting accepted; the root is depth 1 (default 64).
    public var maxDepth: Int = 64
    /// Most attributes on one element, namespace declarations included (default 64).
    public var maxAttributesPerElement: Int = 64
    /// Longest single text node, in UTF-8 bytes, after CDATA sections are merged (default 256 KiB).
    public var maxTextBytes: Int = 256 << 10
    /// Most elements in one document (default 20,000).
    public var maxElements: Int = 20_000
    public var processingInstructions: ProcessingInstructionPolicy = .reject

    public init() {}

    public static let `default` = XMLParserOptions()
}

/// The hardened XML parser: FoundationXML's `XMLParser` (libxml2) with namespace processing off,
/// behind checks of its own.
///
/// Refused before any parsing: input over `maxBytes`, input that is not UTF-8 (UTF-16 byte-order
/// mark, another `encoding=` in the XML declaration, invalid UTF-8), and any markup declaration —
/// `<!` that does not open a comment or a CDATA section (`<!DOCTYPE`, `<!ENTITY`, …). During
/// parsing: DTD and entity callbacks, references to undeclared entities (only `&lt; &gt; &amp;
/// &apos; &quot;` and character references exist without a DTD), processing instructions unless
/// allowed, depth, attribute-count, element-count and text-size limits, and namespace errors
/// (undeclared prefixes, duplicate expanded attribute names, rebinding `xml`/`xmlns`).
public enum XMLDocumentParser {
    private static let parseLock = Mutex(())

    public static func parse(_ bytes: some DataProtocol, options: XMLParserOptions = .default) throws(XMLSecurityError) -> DOMDocument {
        let data = Data(bytes)
        try precheck(data, options: options)
        let delegate = TreeBuilder(options: options)
        let parser = XMLParser(data: data)
        parser.shouldProcessNamespaces = false
        parser.shouldReportNamespacePrefixes = false
        parser.shouldResolveExternalEntities = false
        parser.delegate = delegate
        // FoundationXML's XMLParser is not documented as safe to run concurrently (it drives
        // libxml2, whose parser setup touches global state), so parses are serialised
        // process-wide. SAML messages are small; this costs little next to the signature checks.
        let ok = parseLock.withLock { _ in parser.parse() }
        if let failure = delegate.failure { throw failure }
        guard ok else {
            let code = (parser.parserError as? NSError)?.code ?? -1
            // libxml2 XML_ERR_UNDECLARED_ENTITY (26) and XML_WAR_UNDECLARED_ENTITY (27)
            if code == 26 || code == 27 {
                throw XMLSecurityError(.entityForbidden, "reference to an undeclared entity (line \(parser.lineNumber))")
            }
            throw XMLSecurityError(.malformed, "not well-formed XML (parser error \(code), line \(parser.lineNumber))")
        }
        guard let root = delegate.root else { throw XMLSecurityError(.malformed, "no root element") }
        return DOMDocument(root: root, beforeRoot: delegate.beforeRoot, afterRoot: delegate.afterRoot)
    }

    /// Parses a document and returns its root element.
    public static func parseElement(_ bytes: some DataProtocol, options: XMLParserOptions = .default) throws(XMLSecurityError) -> DOMElement {
        try parse(bytes, options: options).root
    }

    static func precheck(_ data: Data, options: XMLParserOptions) throws(XMLSecurityError) {
        guard data.count <= options.maxBytes else {
            throw XMLSecurityError(.limitExceeded, "input of \(data.count) bytes exceeds the limit of \(options.maxBytes)")
        }
        let b = [UInt8](data)
        if b.count >= 2 && ((b[0] == 0xFE && b[1] == 0xFF) || (b[0] == 0xFF && b[1] == 0xFE)) || b.contains(0) {
            throw XMLSecurityError(.unsupportedEncoding, "only UTF-8 input is accepted")
        }
        guard String(validating: b, as: UTF8.self) != nil else {
            throw XMLSecurityError(.unsupportedEncoding, "input is not valid UTF-8")
        }
        var start = 0
        if b.starts(with: [0xEF, 0xBB, 0xBF]) { start = 3 }
        if b[start...].starts(with: Array("<?xml".utf8)), let end = find(Array("?>".utf8), in: b, from: start) {
            let decl = String(decoding: b[start..<end], as: UTF8.self)
            if let r = decl.range(of: "encoding") {
                let rest = decl[r.upperBound...].drop { $0 == " " || $0 == "=" || $0 == "\t" || $0 == "\n" || $0 == "\r" }
                if let quote = rest.first, quote == "\"" || quote == "'" {
                    let name = rest.dropFirst().prefix { $0 != quote }.lowercased()
                    guard name == "utf-8" || name == "utf8" else {
                        throw XMLSecurityError(.unsupportedEncoding, "encoding \(name) is not accepted; use UTF-8")
                    }
                }
            }
        }
        // Any `<!` outside comments and CDATA sections is a markup declaration (DOCTYPE and what a
        // DTD may hold). Comments and CDATA are skipped precisely, so their content may say anything.
        // Processing instructions are checked here too, before XMLParser sees them: with
        // `.reject` any `<?` after the XML declaration is refused; with `.keep`, one without data
        // (`<?target?>`) is refused, because FoundationXML's XMLParser on Linux crashes on it.
        let comment = Array("<!--".utf8), cdata = Array("<![CDATA[".utf8)
        var i = start
        if b[start...].starts(with: Array("<?xml".utf8)), b.count > start + 5, [0x20, 0x09, 0x0A, 0x0D].contains(b[start + 5]) {
            // The declaration's pseudo-attributes (version, encoding, standalone) never hold `<` or
            // `>`: one that does is not a declaration, and skipping to the next `?>` would hide a
            // processing instruction behind it from the check below (the 10-minute fuzz run found
            // `<?xml v: S><?xmlns:?>`, which crashed FoundationXML).
            guard let end = find(Array("?>".utf8), in: b, from: start), !b[(start + 5)..<end].contains(where: { $0 == 0x3C || $0 == 0x3E }) else {
                throw XMLSecurityError(.malformed, "the XML declaration is malformed")
            }
            i = end + 2
        }
        while i < b.count - 1 {
            if b[i] == 0x3C && b[i + 1] == 0x3F {
                guard options.processingInstructions == .keep else {
                    throw XMLSecurityError(.processingInstructionForbidden, "processing instructions are refused")
                }
                guard let end = find(Array("?>".utf8), in: b, from: i + 2) else {
                    throw XMLSecurityError(.malformed, "unterminated processing instruction")
                }
                let body = b[(i + 2)..<end]
                let target = body.prefix { ![0x20, 0x09, 0x0A, 0x0D].contains($0) }
                let data = body.dropFirst(target.count).drop { [0x20, 0x09, 0x0A, 0x0D].contains($0) }
                if data.isEmpty {
                    throw XMLSecurityError(.processingInstructionForbidden, "a processing instruction without data is not supported")
                }
                i = end + 2
                continue
            }
            if b[i] == 0x3C && b[i + 1] == 0x21 {
                if b[i...].starts(with: comment) {
                    guard let end = find(Array("-->".utf8), in: b, from: i + 4) else {
                        throw XMLSecurityError(.malformed, "unterminated comment")
                    }
                    i = end + 3
                    continue
                }
                if b[i...].starts(with: cdata) {
                    guard let end = find(Array("]]>".utf8), in: b, from: i + 9) else {
                        throw XMLSecurityError(.malformed, "unterminated CDATA section")
                    }
                    i = end + 3
                    continue
                }
                let word = String(decoding: b[i..<min(b.count, i + 10)], as: UTF8.self)
                throw XMLSecurityError(.doctypeForbidden, "markup declaration \(word.debugDescription) is refused (no DTDs)")
            }
            i += 1
        }
    }

    private static func find(_ needle: [UInt8], in hay: [UInt8], from: Int) -> Int? {
        guard needle.count <= hay.count else { return nil }
        var i = from
        while i + needle.count <= hay.count {
            if hay[i] == needle[0] && hay[i..<(i + needle.count)].elementsEqual(needle) { return i }
            i += 1
        }
        return nil
    }
}

/// Builds the tree from `XMLParser` events. Used by one parse on one thread, then dropped.
private final class TreeBuilder: NSObject, XMLParserDelegate {
    private struct Open {
        var element: DOMElement
        var scope: [String: String]
    }

    let options: XMLParserOptions
    var failure: XMLSecurityError?
    var root: DOMElement?
    var beforeRoot: [DOMNode] = []
    var afterRoot: [DOMNode] = []
    private var stack: [Open] = []
    private var pendingText = ""
    private var pendingTextBytes = 0
    private var elementCount = 0

    init(options: XMLParserOptions) { self.options = options }

    private func fail(_ parser: XMLParser, _ error: XMLSecurityError) {
        if failure == nil { failure = error }
        parser.abortParsing()
    }

    private func flushText() {
        guard !pendingText.isEmpty else { return }
        if !stack.isEmpty { stack[stack.count - 1].element.children.append(.text(pendingText)) }
        pendingText = ""
        pendingTextBytes = 0
    }

    private func appendOutsideText(_ node: DOMNode) {
        if !stack.isEmpty {
            stack[stack.count - 1].element.children.append(node)
        } else if root == nil {
            beforeRoot.append(node)
        } else {
            afterRoot.append(node)
        }
    }

    private static func split(_ qname: String) -> (prefix: String?, local: String)? {
        let parts = qname.split(separator: ":", omittingEmptySubsequences: false)
        switch parts.count {
        case 1: return (nil, qname)
        case 2 where !parts[0].isEmpty && !parts[1].isEmpty: return (String(parts[0]), String(parts[1]))
        default: return nil
        }
    }

    func parser(
        _ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?,
        qualifiedName qName: String?, attributes attributeDict: [String: String] = [:]
    ) {
        guard failure == nil else { return }
        if stack.isEmpty && root != nil { return fail(parser, XMLSecurityError(.malformed, "content after the root element")) }
        flushText()
        elementCount += 1
        guard elementCount <= options.maxElements else {
            return fail(parser, XMLSecurityError(.limitExceeded, "more than \(options.maxElements) elements"))
        }
        guard stack.count < options.maxDepth else {
            return fail(parser, XMLSecurityError(.limitExceeded, "element nesting deeper than \(options.maxDepth)"))
        }
        guard attributeDict.count <= options.maxAttributesPerElement else {
            return fail(parser, XMLSecurityError(.limitExceeded, "more than \(options.maxAttributesPerElement) attributes on one element"))
        }
        guard let (prefix, local) = Self.split(elementName) else {
            return fail(parser, XMLSecurityError(.malformed, "bad element name \(elementName.debugDescription)"))
        }
        var scope = stack.last?.scope ?? ["xml": XMLNamespace.xml]
        var declarations: [DOMNamespaceDeclaration] = []
        var plain: [(prefix: String?, local: String, value: String)] = []
        for (name, value) in attributeDict.sorted(by: { $0.key < $1.key }) {
            guard let (p, l) = Self.split(name) else {
                return fail(parser, XMLSecurityError(.malformed, "bad attribute name \(name.debugDescription)"))
            }
            if p == nil && l == "xmlns" {
                if value == XMLNamespace.xml || value == XMLNamespace.xmlns {
                    return fail(parser, XMLSecurityError(.malformed, "the default namespace cannot be \(value)"))
                }
                declarations.append(DOMNamespaceDeclaration(prefix: nil, uri: value))
                scope[""] = value.isEmpty ? nil : value
            } else if p == "xmlns" {
                if l == "xmlns" || (l == "xml" && value != XMLNamespace.xml) || (l != "xml" && (value == XMLNamespace.xml || value == XMLNamespace.xmlns)) {
                    return fail(parser, XMLSecurityError(.malformed, "illegal declaration of prefix \(l)"))
                }
                if value.isEmpty { return fail(parser, XMLSecurityError(.malformed, "prefix \(l) cannot be undeclared in XML 1.0")) }
                declarations.append(DOMNamespaceDeclaration(prefix: l, uri: value))
                scope[l] = value
            } else {
                plain.append((p, l, value))
            }
        }
        var namespace: String? = nil
        if let prefix {
            guard let uri = scope[prefix] else {
                return fail(parser, XMLSecurityError(.undeclaredPrefix, "element prefix \(prefix) is not declared"))
            }
            namespace = uri
        } else {
            namespace = scope[""]
        }
        var attributes: [DOMAttribute] = []
        var seen = Set<String>()
        for a in plain {
            var uri: String? = nil
            if let p = a.prefix {
                guard let u = scope[p] else {
                    return fail(parser, XMLSecurityError(.undeclaredPrefix, "attribute prefix \(p) is not declared"))
                }
                uri = u
            }
            guard seen.insert("\(uri ?? "")\u{0}\(a.local)").inserted else {
                return fail(parser, XMLSecurityError(.malformed, "attribute \(a.local) appears twice in one namespace"))
            }
            attributes.append(DOMAttribute(prefix: a.prefix, localName: a.local, namespaceURI: uri, value: a.value))
        }
        let element = DOMElement(
            prefix: prefix, localName: local, namespaceURI: namespace,
            namespaceDeclarations: declarations, attributes: attributes)
        stack.append(Open(element: element, scope: scope))
    }

    func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName qName: String?) {
        guard failure == nil, !stack.isEmpty else { return }
        flushText()
        let open = stack.removeLast()
        if stack.isEmpty {
            root = open.element
        } else {
            stack[stack.count - 1].element.children.append(.element(open.element))
        }
    }

    private func addText(_ parser: XMLParser, _ string: String) {
        guard failure == nil else { return }
        if stack.isEmpty {
            if string.allSatisfy({ $0 == " " || $0 == "\n" || $0 == "\t" || $0 == "\r" }) { return }
            return fail(parser, XMLSecurityError(.malformed, "text outside the root element"))
        }
        pendingText += string
        pendingTextBytes += string.utf8.count
        if pendingTextBytes > options.maxTextBytes {
            fail(parser, XMLSecurityError(.limitExceeded, "a text node longer than \(options.maxTextBytes) bytes"))
        }
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) { addText(parser, string) }
    func parser(_ parser: XMLParser, foundIgnorableWhitespace whitespaceString: String) { addText(parser, whitespaceString) }

    func parser(_ parser: XMLParser, foundCDATA CDATABlock: Data) {
        guard let s = String(data: CDATABlock, encoding: .utf8) else {
            return fail(parser, XMLSecurityError(.unsupportedEncoding, "CDATA section is not UTF-8"))
        }
        addText(parser, s)
    }

    func parser(_ parser: XMLParser, foundComment comment: String) {
        guard failure == nil else { return }
        flushText()
        appendOutsideText(.comment(comment))
    }

    func parser(_ parser: XMLParser, foundProcessingInstructionWithTarget target: String, data: String?) {
        guard failure == nil else { return }
        guard options.processingInstructions == .keep else {
            return fail(parser, XMLSecurityError(.processingInstructionForbidden, "processing instruction \(target) is refused"))
        }
        flushText()
        appendOutsideText(.processingInstruction(target: target, data: data ?? ""))
    }

    // Any DTD event is a refusal (the pre-parse scan should already have caught it).
    private func dtd(_ parser: XMLParser, _ what: String) {
        fail(parser, XMLSecurityError(.doctypeForbidden, "DTD construct refused: \(what)"))
    }
    func parser(_ parser: XMLParser, foundNotationDeclarationWithName name: String, publicID: String?, systemID: String?) { dtd(parser, "notation \(name)") }
    func parser(_ parser: XMLParser, foundUnparsedEntityDeclarationWithName name: String, publicID: String?, systemID: String?, notationName: String?) {
        dtd(parser, "entity \(name)")
    }
    func parser(
        _ parser: XMLParser, foundAttributeDeclarationWithName attributeName: String, forElement elementName: String, type: String?, defaultValue: String?
    ) { dtd(parser, "attribute list") }
    func parser(_ parser: XMLParser, foundElementDeclarationWithName elementName: String, model: String) { dtd(parser, "element \(elementName)") }
    func parser(_ parser: XMLParser, foundInternalEntityDeclarationWithName name: String, value: String?) { dtd(parser, "entity \(name)") }
    func parser(_ parser: XMLParser, foundExternalEntityDeclarationWithName name: String, publicID: String?, systemID: String?) {
        dtd(parser, "external entity \(name)")
    }

    func parser(_ parser: XMLParser, resolveExternalEntityName name: String, systemID: String?) -> Data? {
        fail(parser, XMLSecurityError(.entityForbidden, "reference to entity \(name)"))
        return nil
    }

    func parser(_ parser: XMLParser, parseErrorOccurred parseError: any Error) {
        // `parse()` returns false; the caller maps the parser's error code.
    }
}
