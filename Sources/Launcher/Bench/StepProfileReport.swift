import Distributed
import Foundation
import Model

/// The per-phase table of `bench train --profile`: milliseconds per step of each phase on every rank,
/// and how the GEMMs and the whole step compare with the FMA peak of the cores used.
struct StepProfileReport {
    var epoch: Int
    /// One entry per rank, in rank order.
    var phases: [StepPhases]
    /// One core's FMA peak at the running kernels' vector width, GFLOP/s.
    var peakPerCore: Double
    var kernels: KernelPath

    var text: String {
        guard let first = phases.first, first.steps > 0 else { return "profile epoch \(epoch): no steps" }
        let ranks = phases.count
        var lines = ["profile epoch \(epoch), ms per step (\(kernels) kernels), "
                     + (ranks == 1 ? "rank 0:" : "ranks 0-\(ranks - 1):")]
        func perStep(_ nanoseconds: UInt64, _ p: StepPhases) -> String {
            String(format: "%7.3f", Double(nanoseconds) / 1e6 / Double(max(p.steps, 1)))
        }
        let names = first.named.map(\.name)
        for (index, name) in names.enumerated() {
            let cells = phases.map { perStep($0.named[index].nanoseconds, $0) }
            lines.append("  " + name.padding(toLength: 12, withPad: " ", startingAt: 0) + cells.joined(separator: "  "))
        }
        lines.append("  " + "step".padding(toLength: 12, withPad: " ", startingAt: 0)
                     + phases.map { perStep($0.stepNanoseconds, $0) }.joined(separator: "  "))
        if phases.contains(where: { $0.assistNanoseconds > 0 }) {
            lines.append("  of bwd GEMM, blocks of slower ranks' weight gradients: "
                         + phases.map { perStep($0.assistNanoseconds, $0) }.joined(separator: "  "))
        }
        let gemmSeconds = phases.map { Double($0.forwardGEMMNanoseconds + $0.backwardGEMMNanoseconds) / 1e9 }.reduce(0, +)
        let flops = phases.map(\.gemmFlops).reduce(0, +)
        let stepSeconds = phases.map { Double($0.stepNanoseconds) / 1e9 }.max() ?? 0
        let gemmRate = flops / max(gemmSeconds, 1e-12) / 1e9
        if peakPerCore > 0 {
            lines.append(String(
                format: "  GEMMs: %.1f GFLOP/s per core, %.0f%% of the %.1f GFLOP/s FMA peak; whole steps: %.0f%% of the FLOP limit of %d core%@",
                gemmRate, 100 * gemmRate / peakPerCore, peakPerCore,
                100 * flops / max(stepSeconds, 1e-12) / 1e9 / (peakPerCore * Double(ranks)), ranks, ranks == 1 ? "" : "s"))
        }
        return lines.joined(separator: "\n")
    }
}
