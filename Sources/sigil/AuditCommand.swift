import ArgumentParser
import Foundation
import SigilJOSE
import SigilServices
import SigilStore

/// `sigil audit …`: the tamper-evident audit log (docs/audit.md).
struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit", abstract: "Verify, checkpoint and export the audit log's hash chains.",
        subcommands: [Verify.self, Checkpoint.self, Export.self, VerifyExport.self])

    /// Exit status when the log (or an export) does not verify; 1 and 2 stay errors.
    static let tamperedExitCode: Int32 = 3

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Check every event, link, head and signed checkpoint; exit 3 when something was changed, deleted or reordered.")
        @Option(help: "Only this tenant's chain (default: every chain, and rows in none).") var tenant: String?
        @Option(
            help: ArgumentHelp(
                "A file of checkpoint tokens kept outside the database, one per line (the `checkpoint` field of the server's "
                    + "\"audit checkpoint\" log lines, or what /.well-known/sigil-audit-checkpoint served).", valueName: "file"))
        var witness: String?
        @Flag(help: "Print JSON.") var json = false
        @OptionGroup var store: StoreOptions

        func run() async throws {
            var witnesses: [String] = []
            if let witness {
                guard let data = FileManager.default.contents(atPath: witness) else { throw ValidationError("cannot read \(witness)") }
                witnesses = String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline)
                    .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty && !$0.hasPrefix("#") }
            }
            try await withRuntime(store) { runtime in
                let tenantID = try await tenant.asyncMap { try await sigil.tenant(runtime, $0).id }
                let slugs = Dictionary(uniqueKeysWithValues: try await runtime.services.context.store.tenants.list().map { ($0.id, $0.slug) })
                let result = try await runtime.services.audit.verify(tenantID: tenantID, witnesses: witnesses, by: .cli)
                func name(_ chain: String) -> String { chain.isEmpty ? "(global)" : slugs[chain] ?? chain }
                if json {
                    try printJSON([
                        "intact": result.intact,
                        "chains": result.chains.map { report -> [String: Any] in
                            var entry: [String: Any] = [
                                "chain": report.chain, "tenant": name(report.chain), "events": report.events,
                                "last_sequence": report.lastSequence, "last_hash": report.lastHash,
                                "checkpoints_verified": report.checkpointsVerified, "intact": report.intact,
                                "findings": report.findings.map(findingJSON),
                            ]
                            if let good = report.lastGoodCheckpoint { entry["last_good_checkpoint"] = good }
                            return entry
                        },
                        "unchained": result.unchained.map(findingJSON),
                    ])
                } else {
                    for report in result.chains {
                        let protected = report.lastGoodCheckpoint.map { "checkpointed through \($0)" } ?? "no checkpoint yet"
                        print(
                            "\(report.intact ? "OK" : "TAMPERED")\t\(name(report.chain))\t\(report.events) events, head \(report.lastSequence), "
                                + "\(report.checkpointsVerified) checkpoints (\(protected))")
                        for finding in report.findings { print("  \(finding.kind.rawValue): \(finding.message)") }
                    }
                    for finding in result.unchained { print("TAMPERED\t\(finding.message)") }
                    print(result.intact ? "audit log intact" : "audit log TAMPERED: \(result.findings.count) finding(s)")
                }
                if !result.intact { throw ExitCode(AuditCommand.tamperedExitCode) }
            }
        }
    }

    struct Checkpoint: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Sign a checkpoint of every chain that moved since its last one (the server does this every few minutes).")
        @OptionGroup var store: StoreOptions

        func run() async throws {
            try await withRuntime(store) { runtime in
                for checkpoint in try await runtime.services.audit.checkpoint() {
                    print("\(checkpoint.chain.isEmpty ? "(global)" : checkpoint.chain)\t\(checkpoint.sequence)\t\(checkpoint.hash)")
                }
            }
        }
    }

    struct Export: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write a range of a tenant's audit chain with its proof (verify it with `sigil audit verify-export`).")
        @Option(help: "Tenant name.") var tenant: String
        @Option(help: "First event (chain position, from 1).") var from: Int64 = 1
        @Option(help: "Last event (default: the newest).") var to: Int64?
        @Option(name: .shortAndLong, help: "Write to this file (default: standard output).") var output: String?
        @OptionGroup var store: StoreOptions

        func run() async throws {
            try await withRuntime(store) { runtime in
                let t = try await sigil.tenant(runtime, tenant)
                let export = try await runtime.services.audit.export(tenantID: t.id, from: from, to: to, by: .cli)
                let bytes = Data(try export.encoded() + Array("\n".utf8))
                if let output {
                    guard FileManager.default.createFile(atPath: output, contents: bytes) else { throw CLIError("cannot write \(output)") }
                    FileHandle.standardError.write(
                        Data("wrote events \(export.events.first?.sequence ?? 0)–\(export.events.last?.sequence ?? 0) with their proof to \(output)\n".utf8))
                } else {
                    FileHandle.standardOutput.write(bytes)
                }
            }
        }
    }

    struct VerifyExport: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "verify-export",
            abstract: "Check an export offline: its events lead to a checkpoint signed by the tenant's key. Exit 3 when they do not.")
        @Argument(help: "The export file.") var file: String
        @Option(help: "A JWKS file you fetched yourself from the tenant's jwks_uri (default: the keys in the export).") var jwks: String?

        func run() async throws {
            guard let data = FileManager.default.contents(atPath: file) else { throw ValidationError("cannot read \(file)") }
            let export: AuditExport
            do { export = try AuditExport.decode(Array(data)) } catch { throw ValidationError("\(file) is not an audit export: \(error)") }
            var trusted: JWKSet?
            if let jwks {
                guard let keyData = FileManager.default.contents(atPath: jwks), let set = try? JSONDecoder().decode(JWKSet.self, from: keyData) else {
                    throw ValidationError("\(jwks) is not a JWKS file")
                }
                trusted = set
            }
            let problems = export.verify(trusted: trusted)
            let range = "events \(export.events.first?.sequence ?? 0)–\(export.events.last?.sequence ?? 0) of chain \(export.chain)"
            if problems.isEmpty {
                print(
                    "proven: \(range) lead to the signed checkpoint\(trusted == nil ? " (keys taken from the export: pass --jwks to check against keys you fetched)" : "")"
                )
            } else {
                for problem in problems { print("NOT PROVEN: \(problem)") }
                throw ExitCode(AuditCommand.tamperedExitCode)
            }
        }
    }
}

private func findingJSON(_ finding: AuditFinding) -> [String: Any] {
    var entry: [String: Any] = ["kind": finding.kind.rawValue, "message": finding.message]
    if let sequence = finding.sequence { entry["sequence"] = sequence }
    if let id = finding.eventID { entry["event_id"] = id }
    return entry
}

extension Optional {
    fileprivate func asyncMap<T>(_ transform: (Wrapped) async throws -> T) async rethrows -> T? {
        guard let value = self else { return nil }
        return try await transform(value)
    }
}
