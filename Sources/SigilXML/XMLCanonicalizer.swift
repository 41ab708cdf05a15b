/// A canonicalization algorithm, as named by its URI in XML-DSig.
public enum XMLCanonicalizationMethod: Sendable, Hashable {
    /// Canonical XML 1.0 (inclusive): every namespace in scope is rendered.
    case inclusive(withComments: Bool)
    /// Exclusive XML Canonicalization 1.0: only visibly utilized namespaces are rendered, plus the
    /// prefixes of the InclusiveNamespaces PrefixList (`"#default"` names the default namespace).
    case exclusive(withComments: Bool, inclusivePrefixes: [String])

    public static let exclusive = XMLCanonicalizationMethod.exclusive(withComments: false, inclusivePrefixes: [])
    public static let inclusive = XMLCanonicalizationMethod.inclusive(withComments: false)

    public static let inclusiveURI = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
    public static let inclusiveWithCommentsURI = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315#WithComments"
    public static let exclusiveURI = "http://www.w3.org/2001/10/xml-exc-c14n#"
    public static let exclusiveWithCommentsURI = "http://www.w3.org/2001/10/xml-exc-c14n#WithComments"

    /// The algorithm URI (the PrefixList travels separately, in an `InclusiveNamespaces` element).
    public var uri: String {
        switch self {
        case .inclusive(let c): c ? Self.inclusiveWithCommentsURI : Self.inclusiveURI
        case .exclusive(let c, _): c ? Self.exclusiveWithCommentsURI : Self.exclusiveURI
        }
    }

    /// The method for an algorithm URI, or `nil` for anything else.
    public init?(uri: String, inclusivePrefixes: [String] = []) {
        switch uri {
        case Self.inclusiveURI: self = .inclusive(withComments: false)
        case Self.inclusiveWithCommentsURI: self = .inclusive(withComments: true)
        case Self.exclusiveURI: self = .exclusive(withComments: false, inclusivePrefixes: inclusivePrefixes)
        case Self.exclusiveWithCommentsURI: self = .exclusive(withComments: true, inclusivePrefixes: inclusivePrefixes)
        default: return nil
        }
    }

    var withComments: Bool {
        switch self {
        case .inclusive(let c), .exclusive(let c, _): c
        }
    }
}

/// Canonical XML 1.0 and Exclusive XML Canonicalization 1.0, over a whole document or over a
/// document subset made of one element and all its descendants (what an enveloped signature's
/// same-document reference selects).
public enum XMLCanonicalizer {
    /// The canonical form of a whole document.
    public static func canonicalize(_ document: DOMDocument, method: XMLCanonicalizationMethod) -> [UInt8] {
        var out: [UInt8] = []
        for node in document.beforeRoot {
            if appendTopLevel(node, method: method, to: &out) { out.append(0x0A) }
        }
        appendElement(document.root, parentScope: ["xml": XMLNamespace.xml], rendered: [:], extraXMLAttributes: [], method: method, to: &out)
        for node in document.afterRoot {
            var piece: [UInt8] = []
            if appendTopLevel(node, method: method, to: &piece) { out.append(0x0A); out += piece }
        }
        return out
    }

    /// The canonical form of the subset made of the element at `path` (child indices from the
    /// root) and its descendants, with the namespace context (and, for inclusive c14n, the
    /// `xml:` attributes) of its ancestors.
    public static func canonicalize(subtreeAt path: [Int], of document: DOMDocument, method: XMLCanonicalizationMethod) -> [UInt8]? {
        guard let element = document.root.element(at: path) else { return nil }
        let scope = document.root.namespacesInScope(above: path, inherited: ["xml": XMLNamespace.xml])
        let inherited = document.root.xmlAttributesInherited(above: path)
        return canonicalize(element, inScopeNamespaces: scope, inheritedXMLAttributes: inherited, method: method)
    }

    /// The canonical form of an element subtree. `inScopeNamespaces` are the bindings its
    /// ancestors declare (prefix `""` for the default namespace); `inheritedXMLAttributes` are the
    /// ancestors' `xml:*` attributes, which inclusive c14n copies onto the apex element.
    public static func canonicalize(
        _ element: DOMElement, inScopeNamespaces: [String: String] = [:],
        inheritedXMLAttributes: [DOMAttribute] = [], method: XMLCanonicalizationMethod
    ) -> [UInt8] {
        var scope = inScopeNamespaces
        scope["xml"] = XMLNamespace.xml
        var out: [UInt8] = []
        var extra: [DOMAttribute] = []
        if case .inclusive = method { extra = inheritedXMLAttributes }
        appendElement(element, parentScope: scope, rendered: [:], extraXMLAttributes: extra, method: method, to: &out)
        return out
    }

    // MARK: - The algorithm

    private static func appendTopLevel(_ node: DOMNode, method: XMLCanonicalizationMethod, to out: inout [UInt8]) -> Bool {
        switch node {
        case .comment(let c):
            guard method.withComments else { return false }
            out += Array("<!--".utf8) + Array(c.utf8) + Array("-->".utf8)
            return true
        case .processingInstruction(let target, let data):
            appendPI(target, data, to: &out)
            return true
        case .text, .element:
            return false
        }
    }

    private static func appendPI(_ target: String, _ data: String, to out: inout [UInt8]) {
        out += Array("<?".utf8) + Array(target.utf8)
        if !data.isEmpty { out.append(0x20); out += Array(data.utf8) }
        out += Array("?>".utf8)
    }

    private static func precedes(_ a: String, _ b: String) -> Bool {
        a.utf8.lexicographicallyPrecedes(b.utf8)
    }

    private static func appendElement(
        _ e: DOMElement, parentScope: [String: String], rendered: [String: String],
        extraXMLAttributes: [DOMAttribute], method: XMLCanonicalizationMethod, to out: inout [UInt8]
    ) {
        let scope = e.applyingDeclarations(to: parentScope)
        var emit: [(prefix: String, uri: String)] = []

        func consider(_ p: String, required: Bool) {
            if p == "xml" { return }
            if p.isEmpty {
                let u = scope[""] ?? ""
                if u.isEmpty {
                    if let r = rendered[""], !r.isEmpty { emit.append(("", "")) }
                } else if rendered[""] != u {
                    emit.append(("", u))
                }
            } else if let u = scope[p], rendered[p] != u {
                emit.append((p, u))
            }
        }

        switch method {
        case .inclusive:
            for p in scope.keys where !p.isEmpty { consider(p, required: false) }
            consider("", required: false)
        case .exclusive(_, let inclusivePrefixes):
            var prefixes = Set<String>()
            prefixes.insert(e.prefix ?? "")
            for a in e.attributes { if let p = a.prefix { prefixes.insert(p) } }
            for p in inclusivePrefixes { prefixes.insert(p == "#default" ? "" : p) }
            for p in prefixes { consider(p, required: true) }
        }
        emit.sort { precedes($0.prefix, $1.prefix) }
        var childRendered = rendered
        for n in emit { childRendered[n.prefix] = n.uri }

        var attributes = e.attributes
        for a in extraXMLAttributes where !attributes.contains(where: { $0.namespaceURI == XMLNamespace.xml && $0.localName == a.localName }) {
            attributes.append(a)
        }
        attributes.sort {
            let u0 = $0.namespaceURI ?? "", u1 = $1.namespaceURI ?? ""
            if u0 != u1 { return precedes(u0, u1) }
            return precedes($0.localName, $1.localName)
        }

        out.append(0x3C)
        out += Array(e.qualifiedName.utf8)
        for n in emit {
            out += Array(" xmlns".utf8)
            if !n.prefix.isEmpty { out.append(0x3A); out += Array(n.prefix.utf8) }
            out += Array("=\"".utf8)
            escapeAttribute(n.uri, to: &out)
            out.append(0x22)
        }
        for a in attributes {
            out.append(0x20)
            out += Array(a.qualifiedName.utf8)
            out += Array("=\"".utf8)
            escapeAttribute(a.value, to: &out)
            out.append(0x22)
        }
        out.append(0x3E)
        for child in e.children {
            switch child {
            case .element(let c):
                appendElement(c, parentScope: scope, rendered: childRendered, extraXMLAttributes: [], method: method, to: &out)
            case .text(let t):
                escapeText(t, to: &out)
            case .comment(let c):
                if method.withComments { out += Array("<!--".utf8) + Array(c.utf8) + Array("-->".utf8) }
            case .processingInstruction(let target, let data):
                appendPI(target, data, to: &out)
            }
        }
        out += Array("</".utf8)
        out += Array(e.qualifiedName.utf8)
        out.append(0x3E)
    }

    static func escapeText(_ s: String, to out: inout [UInt8]) {
        for b in s.utf8 {
            switch b {
            case 0x26: out += Array("&amp;".utf8)
            case 0x3C: out += Array("&lt;".utf8)
            case 0x3E: out += Array("&gt;".utf8)
            case 0x0D: out += Array("&#xD;".utf8)
            default: out.append(b)
            }
        }
    }

    static func escapeAttribute(_ s: String, to out: inout [UInt8]) {
        for b in s.utf8 {
            switch b {
            case 0x26: out += Array("&amp;".utf8)
            case 0x3C: out += Array("&lt;".utf8)
            case 0x22: out += Array("&quot;".utf8)
            case 0x09: out += Array("&#x9;".utf8)
            case 0x0A: out += Array("&#xA;".utf8)
            case 0x0D: out += Array("&#xD;".utf8)
            default: out.append(b)
            }
        }
    }
}
