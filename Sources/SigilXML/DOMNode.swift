/// A node of the SigilXML tree. Text holds the parsed character data (entity and character
/// references already replaced; CDATA sections merged in as text). Comments are separate nodes,
/// so text APIs never stop at, or get split by, an injected comment.
public enum DOMNode: Sendable, Equatable {
    case element(DOMElement)
    case text(String)
    case comment(String)
    case processingInstruction(target: String, data: String)

    public var element: DOMElement? {
        if case .element(let e) = self { return e }
        return nil
    }
}

/// A namespace declaration exactly as written on an element: `xmlns="…"` (prefix `nil`) or
/// `xmlns:p="…"`. An empty `uri` with a `nil` prefix is the undeclaration `xmlns=""`.
public struct DOMNamespaceDeclaration: Sendable, Hashable {
    public var prefix: String?
    public var uri: String

    public init(prefix: String?, uri: String) {
        self.prefix = prefix
        self.uri = uri
    }
}

/// An attribute other than a namespace declaration. `namespaceURI` is resolved from the prefix
/// (unprefixed attributes are in no namespace).
public struct DOMAttribute: Sendable, Hashable {
    public var prefix: String?
    public var localName: String
    public var namespaceURI: String?
    public var value: String

    public init(prefix: String? = nil, localName: String, namespaceURI: String? = nil, value: String) {
        self.prefix = prefix
        self.localName = localName
        self.namespaceURI = namespaceURI
        self.value = value
    }

    public var qualifiedName: String { prefix.map { "\($0):\(localName)" } ?? localName }
}

/// A parsed document: the comments and processing instructions around the root element, and
/// the root. Whitespace outside the root is not kept (canonical XML drops it too).
public struct DOMDocument: Sendable, Equatable {
    public var beforeRoot: [DOMNode]
    public var root: DOMElement
    public var afterRoot: [DOMNode]

    public init(root: DOMElement, beforeRoot: [DOMNode] = [], afterRoot: [DOMNode] = []) {
        self.root = root
        self.beforeRoot = beforeRoot
        self.afterRoot = afterRoot
    }
}

/// The namespace URIs SigilXML needs to know by name.
public enum XMLNamespace {
    public static let xml = "http://www.w3.org/XML/1998/namespace"
    public static let xmlns = "http://www.w3.org/2000/xmlns/"
    public static let dsig = "http://www.w3.org/2000/09/xmldsig#"
    public static let excC14N = "http://www.w3.org/2001/10/xml-exc-c14n#"
}
