import ArgumentParser

/// Benchmarks print numbers; they never pass or fail. Compare ratios measured in the same run.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure collectives, kernels and training speed.",
        subcommands: [BenchKernels.self, BenchAllreduce.self, BenchTrain.self])
}
