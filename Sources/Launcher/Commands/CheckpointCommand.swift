import ArgumentParser
import Distributed
import Foundation
import Model
import FileFormats

/// `vae-dist checkpoint`: look inside checkpoints and compare them.
struct CheckpointCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "checkpoint",
        abstract: "Inspect and compare training checkpoints.",
        subcommands: [Show.self, Compare.self])

    /// `vae-dist checkpoint show F`
    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Validate a checkpoint and print what it holds.")
        @Argument(help: "A checkpoint file, `<run>/latest`, or a run directory.")
        var checkpoint: String

        func run() throws {
            let loaded = try TrainingCheckpoint(resolving: checkpoint)
            let m = loaded.metadata
            print("\(loaded.path): valid")
            print("model \(m.config.model.rawValue), arch \(try m.networkSpec().architecture), \(m.parameterCount) parameters, trained on \(m.dataset)")
            print("epoch \(m.epoch + 1), step \(m.stepInEpoch) in epoch, global step \(m.globalStep); trained with \(m.config.flagsDescription)"
                + (m.gradientExchange.map { ", gradient exchange \($0)" } ?? ""))
            print(String(format: "parameter checksum %016llx", m.parameterChecksum))
            print(ReductionPlan.reproducibility(recorded: m.reductionOrder))
        }
    }

    /// `vae-dist checkpoint compare A B --tolerance 1e-5`
    struct Compare: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Compare the parameters of two checkpoints; exit 1 if they differ by more than the tolerance.",
            discussion: """
                The difference is max |a − b| / (1 + max |a|) over all parameters; --tolerance 0 asks for bit-identical
                parameters. Example: vae-dist checkpoint compare runs/np1/latest runs/np4/latest --tolerance 1e-4
                """)
        @Argument(help: "First checkpoint.")
        var first: String
        @Argument(help: "Second checkpoint.")
        var second: String
        @Option(help: "Largest relative difference that still counts as equal (0: bit-identical).")
        var tolerance = 0.0

        func validate() throws {
            guard tolerance >= 0 && tolerance.isFinite else { throw ValidationError("--tolerance must be ≥ 0.") }
        }

        func run() throws {
            let a = try TrainingCheckpoint(resolving: first)
            let b = try TrainingCheckpoint(resolving: second)
            guard a.parameters.count == b.parameters.count else {
                throw TrainingError("\(a.path) has \(a.parameters.count) parameters, \(b.path) has \(b.parameters.count)")
            }
            var maxDifference: Float = 0, maxMagnitude: Float = 0, differing = 0
            for (x, y) in zip(a.parameters, b.parameters) {
                if x.bitPattern != y.bitPattern { differing += 1 }
                maxDifference = max(maxDifference, abs(x - y))
                maxMagnitude = max(maxMagnitude, abs(x))
            }
            let relative = Double(maxDifference) / (1 + Double(maxMagnitude))
            print(String(format: "%d of %d parameters differ; max |a-b| = %.3g, relative %.3g (tolerance %.3g)",
                         differing, a.parameters.count, maxDifference, relative, tolerance))
            let equal = tolerance == 0 ? differing == 0 : relative <= tolerance
            if !equal { throw ExitCode.failure }
        }
    }
}
