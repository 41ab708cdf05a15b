/// An element with its prefix, namespace declarations and attributes exactly as written.
///
/// `namespaceURI` (and each attribute's) is resolved when parsing; when you build elements by
/// hand, set it yourself and declare the namespaces you use (`namespaceDeclarations`), because
/// serialisation and canonicalization work from prefixes and declarations, as XML does.
public struct DOMElement: Sendable, Equatable {
    public var prefix: String?
    public var localName: String
    public var namespaceURI: String?
    public var namespaceDeclarations: [DOMNamespaceDeclaration]
    public var attributes: [DOMAttribute]
    public var children: [DOMNode]

    public init(
        prefix: String? = nil, localName: String, namespaceURI: String? = nil,
        namespaceDeclarations: [DOMNamespaceDeclaration] = [], attributes: [DOMAttribute] = [],
        children: [DOMNode] = []
    ) {
        self.prefix = prefix
        self.localName = localName
        self.namespaceURI = namespaceURI
        self.namespaceDeclarations = namespaceDeclarations
        self.attributes = attributes
        self.children = children
    }

    public var qualifiedName: String { prefix.map { "\($0):\(localName)" } ?? localName }

    /// The value of the attribute with this local name and namespace (`nil`: no namespace).
    public func attribute(_ localName: String, namespaceURI: String? = nil) -> String? {
        attributes.first { $0.localName == localName && $0.namespaceURI == namespaceURI }?.value
    }

    public mutating func setAttribute(_ localName: String, namespaceURI: String? = nil, prefix: String? = nil, value: String) {
        if let i = attributes.firstIndex(where: { $0.localName == localName && $0.namespaceURI == namespaceURI }) {
            attributes[i].value = value
        } else {
            attributes.append(DOMAttribute(prefix: prefix, localName: localName, namespaceURI: namespaceURI, value: value))
        }
    }

    /// Child elements, in order.
    public var childElements: [DOMElement] { children.compactMap(\.element) }

    /// Child elements with this local name and namespace.
    public func childElements(named localName: String, namespaceURI: String?) -> [DOMElement] {
        childElements.filter { $0.localName == localName && $0.namespaceURI == namespaceURI }
    }

    /// The first child element with this local name and namespace.
    public func firstChild(named localName: String, namespaceURI: String?) -> DOMElement? {
        childElements.first { $0.localName == localName && $0.namespaceURI == namespaceURI }
    }

    /// The concatenation of the element's own text children, skipping comments and processing
    /// instructions: `<NameID>admin@x.com<!---->.evil.com</NameID>` gives `admin@x.com.evil.com`.
    public var text: String {
        var s = ""
        for child in children { if case .text(let t) = child { s += t } }
        return s
    }

    /// All descendant text in document order (comments and processing instructions skipped).
    public var textContent: String {
        var s = ""
        for child in children {
            switch child {
            case .text(let t): s += t
            case .element(let e): s += e.textContent
            case .comment, .processingInstruction: break
            }
        }
        return s
    }

    /// The first descendant-or-self element (document order) for which `predicate` holds.
    public func firstDescendantOrSelf(where predicate: (DOMElement) -> Bool) -> DOMElement? {
        if predicate(self) { return self }
        for child in children {
            if case .element(let e) = child, let found = e.firstDescendantOrSelf(where: predicate) { return found }
        }
        return nil
    }

    /// Visits every descendant-or-self element in document order, with its path of child
    /// indices from `self`.
    public func forEachElement(_ body: (DOMElement, [Int]) throws -> Void) rethrows {
        try visit(path: [], body)
    }

    private func visit(path: [Int], _ body: (DOMElement, [Int]) throws -> Void) rethrows {
        try body(self, path)
        for (i, child) in children.enumerated() {
            if case .element(let e) = child { try e.visit(path: path + [i], body) }
        }
    }

    /// The element at a path of child indices from `self` (`[]` is `self`).
    public func element(at path: [Int]) -> DOMElement? {
        var current = self
        for i in path {
            guard i >= 0, i < current.children.count, case .element(let e) = current.children[i] else { return nil }
            current = e
        }
        return current
    }

    /// Replaces the element at a path of child indices (`[]` replaces `self`).
    public mutating func replaceElement(at path: [Int], with element: DOMElement) {
        guard let first = path.first else { self = element; return }
        guard first < children.count, case .element(var child) = children[first] else { return }
        child.replaceElement(at: Array(path.dropFirst()), with: element)
        children[first] = .element(child)
    }

    /// The namespace bindings in scope on the element at `path` *before* its own declarations
    /// are applied, i.e. what its ancestors (from `self`, plus `inherited`) declare. Prefix `""`
    /// is the default namespace; an undeclared default is absent.
    public func namespacesInScope(above path: [Int], inherited: [String: String] = [:]) -> [String: String] {
        var scope = inherited
        var current = self
        for i in path {
            scope = current.applyingDeclarations(to: scope)
            guard i < current.children.count, case .element(let e) = current.children[i] else { break }
            current = e
        }
        return scope
    }

    /// The attributes in the `xml:` namespace (`xml:lang`, `xml:space`, …) on the ancestors of
    /// the element at `path`, nearest winning; inclusive canonicalization of a subtree needs them.
    func xmlAttributesInherited(above path: [Int]) -> [DOMAttribute] {
        var byName: [String: DOMAttribute] = [:]
        var current = self
        for i in path {
            for a in current.attributes where a.namespaceURI == XMLNamespace.xml { byName[a.localName] = a }
            guard i < current.children.count, case .element(let e) = current.children[i] else { break }
            current = e
        }
        return Array(byName.values)
    }

    public func applyingDeclarations(to scope: [String: String]) -> [String: String] {
        var s = scope
        for d in namespaceDeclarations {
            let key = d.prefix ?? ""
            if d.uri.isEmpty && d.prefix == nil { s[""] = nil } else { s[key] = d.uri }
        }
        return s
    }
}
