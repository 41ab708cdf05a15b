import Foundation

/// The data of a North American driver's licence or ID card's PDF417 barcode (AAMVA DL/ID Card
/// Design Standard, versions 1–10), once a decoder has turned the barcode into text.
///
/// Layout: `@`, the data element separator (LF), the record separator (RS, 0x1E), the segment
/// terminator (CR), the file type (`ANSI ` or, in version 1, `AAMVA`), the issuer identification
/// number (6 digits), the AAMVA version (2), the jurisdiction version (2, from version 2 on), the
/// number of subfiles (2), then one designator per subfile (type, 4-digit offset, 4-digit length),
/// then the subfiles: `DL` or `ID` then elements `DCSDOE␊DACJOHN␊…`, the last ended by CR.
public struct AAMVARecord: Sendable, Equatable, Codable {
    public var issuerIdentification: String
    public var version: Int
    public var documentType: String
    /// Every element of the DL/ID subfile by its three-letter ID (`DCS`, `DAC`, `DBB`, …).
    public var elements: [String: String]

    public var familyName: String? { elements["DCS"] ?? elements["DAB"] }
    public var givenName: String? { elements["DAC"] ?? elements["DCT"]?.split(separator: ",").first.map(String.init) }
    public var middleName: String? { elements["DAD"] }
    public var documentNumber: String? { elements["DAQ"] }
    public var country: String? { elements["DCG"] }
    /// 1 male, 2 female, 9 not specified (version 1 wrote M/F).
    public var sex: String? {
        switch elements["DBC"] {
        case "1", "M": "M"
        case "2", "F": "F"
        case .some: "X"
        case nil: nil
        }
    }
    public var birthDate: DateComponents? { date("DBB") }
    public var expiryDate: DateComponents? { date("DBA") }
    public var issueDate: DateComponents? { date("DBD") }

    /// Dates are MMDDCCYY in US cards and CCYYMMDD in Canadian ones (the standard's own rule).
    func date(_ id: String) -> DateComponents? {
        guard let text = elements[id], text.count == 8, text.allSatisfy(\.isNumber) else { return nil }
        let d = text.compactMap(\.wholeNumberValue)
        let canadian = country == "CAN"
        let (y, m, day) =
            canadian
            ? (d[0...3].reduce(0) { $0 * 10 + $1 }, d[4] * 10 + d[5], d[6] * 10 + d[7])
            : (d[4...7].reduce(0) { $0 * 10 + $1 }, d[0] * 10 + d[1], d[2] * 10 + d[3])
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        guard (1...12).contains(m), (1...31).contains(day), (1900...2199).contains(y),
            let date = calendar.date(from: DateComponents(year: y, month: m, day: day)), calendar.component(.day, from: date) == day
        else { return nil }
        return DateComponents(year: y, month: m, day: day)
    }
}

public struct AAMVAError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public var description: String { message }
}

extension AAMVARecord {
    /// The elements the standard marks mandatory for a DL/ID subfile that this parser insists on.
    static let required = ["DAQ", "DBB"]

    public static func parse(_ text: String) throws(AAMVAError) -> AAMVARecord {
        let bytes = Array(text.utf8)
        guard bytes.count >= 21, bytes.count <= 8192, bytes[0] == 0x40 else {
            throw AAMVAError(message: "not AAMVA barcode data: it must begin with the compliance indicator @")
        }
        // Separators are declared by the header; real cards use LF, RS, CR.
        let elementSeparator = bytes[1], segmentTerminator = bytes[3]
        let header = String(decoding: bytes[4..<9], as: UTF8.self)
        guard header == "ANSI " || header == "AAMVA" else { throw AAMVAError(message: "the file type is \(header.debugDescription), not ANSI") }
        func digits(_ range: Range<Int>) throws(AAMVAError) -> Int {
            guard range.upperBound <= bytes.count, let n = Int(String(decoding: bytes[range], as: UTF8.self)), n >= 0 else {
                throw AAMVAError(message: "the header is malformed")
            }
            return n
        }
        let iin = String(decoding: bytes[9..<15], as: UTF8.self)
        guard iin.allSatisfy(\.isNumber) else { throw AAMVAError(message: "the issuer identification number is not 6 digits") }
        let version = try digits(15..<17)
        // Version 1 has no jurisdiction version field.
        let entriesAt = version >= 2 ? 19 : 17
        let entries = try digits(entriesAt..<(entriesAt + 2))
        guard (1...20).contains(entries) else { throw AAMVAError(message: "the header names \(entries) subfiles") }
        var designators: [(type: String, offset: Int, length: Int)] = []
        for i in 0..<entries {
            let at = entriesAt + 2 + i * 10
            guard at + 10 <= bytes.count else { throw AAMVAError(message: "the subfile designators are cut short") }
            designators.append((String(decoding: bytes[at..<(at + 2)], as: UTF8.self), try digits((at + 2)..<(at + 6)), try digits((at + 6)..<(at + 10))))
        }
        guard let main = designators.first(where: { $0.type == "DL" || $0.type == "ID" }) else {
            throw AAMVAError(message: "there is no DL or ID subfile")
        }
        // Offsets count from the start of the data; some issuers' are off, so a subfile not
        // found where its designator says is looked for right after the designators.
        let designatorsEnd = entriesAt + 2 + entries * 10
        let type = Array(main.type.utf8)
        func startsSubfile(_ i: Int) -> Bool { i >= designatorsEnd && i + 2 <= bytes.count && bytes[i] == type[0] && bytes[i + 1] == type[1] }
        var start = main.offset
        if !startsSubfile(start) {
            guard let found = (designatorsEnd..<max(designatorsEnd, bytes.count - 1)).first(where: startsSubfile) else {
                throw AAMVAError(message: "the \(main.type) subfile is not where its designator says")
            }
            start = found
        }
        let end = min(bytes.count, start + max(main.length, 0) + 64)
        var body = Array(bytes[(start + 2)..<end])
        if let cut = body.firstIndex(of: segmentTerminator) { body = Array(body[..<cut]) }
        var elements: [String: String] = [:]
        for field in body.split(separator: elementSeparator, omittingEmptySubsequences: true) {
            let line = String(decoding: field, as: UTF8.self).trimmingCharacters(in: .whitespaces)
            guard line.count >= 3 else { continue }
            let id = String(line.prefix(3))
            guard id.allSatisfy({ $0.isUppercase || $0.isNumber }), elements[id] == nil else { continue }
            elements[id] = String(line.dropFirst(3)).trimmingCharacters(in: .whitespaces)
        }
        for id in required where (elements[id] ?? "").isEmpty {
            throw AAMVAError(message: "the \(main.type) subfile has no \(id)")
        }
        return AAMVARecord(issuerIdentification: iin, version: version, documentType: main.type, elements: elements)
    }
}
