extension DOMDocument {
    /// The document as UTF-8 bytes: namespace declarations and attributes in the order the tree
    /// holds them, empty elements as `<a/>`, text and attribute values escaped so that parsing
    /// the output gives the same tree (CR, and TAB/LF in attributes, as character references).
    public func serialized(xmlDeclaration: Bool = true) -> [UInt8] {
        var out: [UInt8] = xmlDeclaration ? Array("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n".utf8) : []
        for node in beforeRoot { DOMElement.serialize(node, to: &out); out.append(0x0A) }
        root.serialize(to: &out)
        for node in afterRoot { out.append(0x0A); DOMElement.serialize(node, to: &out) }
        return out
    }
}

extension DOMElement {
    /// The element alone as UTF-8 bytes (no XML declaration). Prefixes declared on ancestors are
    /// not added: serialise the document when the element relies on them.
    public func serialized() -> [UInt8] {
        var out: [UInt8] = []
        serialize(to: &out)
        return out
    }

    func serialize(to out: inout [UInt8]) {
        out.append(0x3C)
        out += Array(qualifiedName.utf8)
        for d in namespaceDeclarations {
            out += Array(" xmlns".utf8)
            if let p = d.prefix { out.append(0x3A); out += Array(p.utf8) }
            out += Array("=\"".utf8)
            XMLCanonicalizer.escapeAttribute(d.uri, to: &out)
            out.append(0x22)
        }
        for a in attributes {
            out.append(0x20)
            out += Array(a.qualifiedName.utf8)
            out += Array("=\"".utf8)
            XMLCanonicalizer.escapeAttribute(a.value, to: &out)
            out.append(0x22)
        }
        if children.isEmpty { out += Array("/>".utf8); return }
        out.append(0x3E)
        for child in children { Self.serialize(child, to: &out) }
        out += Array("</".utf8)
        out += Array(qualifiedName.utf8)
        out.append(0x3E)
    }

    static func serialize(_ node: DOMNode, to out: inout [UInt8]) {
        switch node {
        case .element(let e): e.serialize(to: &out)
        case .text(let t): XMLCanonicalizer.escapeText(t, to: &out)
        case .comment(let c): out += Array("<!--".utf8) + Array(c.utf8) + Array("-->".utf8)
        case .processingInstruction(let target, let data):
            out += Array("<?".utf8) + Array(target.utf8)
            if !data.isEmpty { out.append(0x20); out += Array(data.utf8) }
            out += Array("?>".utf8)
        }
    }
}
