import ArgumentParser
import Foundation
import SigilServices
import SigilStore

/// `sigil idv …`: identity verification's trust anchors from files (docs/idv.md). A country's
/// CSCA master list is often larger than the admin API takes in one body.
struct IDVCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "idv", abstract: "Identity verification: the CSCA certificates ePassport chips are checked against.",
        subcommands: [ImportCSCAs.self, CSCAs.self])

    struct ImportCSCAs: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "import-cscas",
            abstract: "Trust CSCA certificates: PEM files (one or many certificates each) or ICAO master lists (CMS, DER), whose signature is verified.")
        @Option(help: "Tenant name.") var tenant: String
        @Option(help: ArgumentHelp("A PEM file of CSCA certificates; repeat.", valueName: "file")) var pem: [String] = []
        @Option(name: .customLong("master-list"), help: ArgumentHelp("An ICAO CSCA master list (.ml, DER); repeat.", valueName: "file"))
        var masterList: [String] = []
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var store: StoreOptions

        func validate() throws {
            guard !pem.isEmpty || !masterList.isEmpty else { throw ValidationError("give --pem or --master-list") }
        }

        func run() async throws {
            func read(_ path: String) throws -> Data {
                guard let data = FileManager.default.contents(atPath: path) else { throw ValidationError("cannot read \(path)") }
                return data
            }
            let pems = try pem.map { String(decoding: try read($0), as: UTF8.self) }
            let lists = try masterList.map { [UInt8](try read($0)) }
            try await withRuntime(store) { runtime in
                let t = try await sigil.tenant(runtime, tenant)
                var added: [CSCARecord] = []
                // One certificate at a time: a bundle may be larger than one call takes.
                for text in pems {
                    for block in Self.blocks(text) {
                        added += try await runtime.services.idv.importCSCAs(tenantID: t.id, pem: block, masterList: nil, by: .cli)
                    }
                }
                for list in lists {
                    added += try await runtime.services.idv.importCSCAs(tenantID: t.id, pem: nil, masterList: list, by: .cli)
                }
                if json {
                    let data = try JSONSerialization.data(
                        withJSONObject: ["imported": added.count, "items": added.map { ["id": $0.id, "subject": $0.subject] }], options: [.sortedKeys])
                    print(String(decoding: data, as: UTF8.self))
                } else {
                    print("Imported \(added.count) new CSCA certificate\(added.count == 1 ? "" : "s") (already trusted ones are skipped).")
                    for r in added { print("  \(r.id.prefix(16))…  \(r.subject)") }
                }
            }
        }

        /// The PEM certificate blocks of a file, each with its BEGIN and END lines.
        static func blocks(_ text: String) -> [String] {
            var out: [String] = []
            var current: [Substring]?
            for line in text.split(whereSeparator: \.isNewline) {
                if line.hasPrefix("-----BEGIN CERTIFICATE-----") { current = [line] } else if current != nil { current?.append(line) }
                if line.hasPrefix("-----END CERTIFICATE-----"), let c = current {
                    out.append(c.joined(separator: "\n") + "\n")
                    current = nil
                }
            }
            return out
        }
    }

    struct CSCAs: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "cscas", abstract: "List the tenant's trusted CSCA certificates.")
        @Option(help: "Tenant name.") var tenant: String
        @OptionGroup var store: StoreOptions

        func run() async throws {
            try await withRuntime(store) { runtime in
                let t = try await sigil.tenant(runtime, tenant)
                let all = try await runtime.services.idv.cscas(tenantID: t.id, by: .cli)
                if all.isEmpty { print("No CSCA certificates: chips cannot pass passive authentication.") }
                for r in all { print("\(r.id)  \(r.subject)") }
            }
        }
    }
}
