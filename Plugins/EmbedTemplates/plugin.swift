import Foundation
import PackagePlugin

/// Compiles a target's `*.mustache` files into its module as string literals (`EmbeddedTemplates`),
/// so `sigil` stays one self-contained binary: no resource bundle to ship beside it, nothing for
/// `Bundle.module` to miss when the binary is copied elsewhere. Runs before each build of the target;
/// a changed, added or removed template rebuilds it.
@main
struct EmbedTemplates: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: any Target) throws -> [Command] {
        guard let target = target as? SourceModuleTarget else { return [] }
        let directory = target.directoryURL.appending(path: "Templates")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
        let templates = names.filter { $0.hasSuffix(".mustache") }.sorted().map { directory.appending(path: $0) }
        let output = context.pluginWorkDirectoryURL.appending(path: "EmbeddedTemplates.swift")
        return [
            .buildCommand(
                displayName: "Embedding \(templates.count) templates into \(target.name)",
                executable: try context.tool(named: "sigil-embed-templates").url,
                arguments: [output.path] + templates.map(\.path),
                inputFiles: templates,
                outputFiles: [output])
        ]
    }
}
