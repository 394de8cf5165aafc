import Foundation
import Model

/// The second table of `bench train --profile`, after the last epoch: one rank's GEMMs by shape in
/// milliseconds per step and GFLOP/s, the most time first, beside the same GEMM timed alone on warm
/// operands (`KernelBenchmark`, as `bench kernels` does, with the same leaves). The ratio is what training
/// costs a GEMM: operands the rest of the step has pushed out of the caches, and the other ranks' share of
/// the L3 and of memory bandwidth. A weight gradient shared out among ranks (`calls` above 1 on a rank that
/// helped) counts the FLOPs of the rows each call computed.
struct GEMMShapeReport {
    var rank: Int
    var shapes: [GEMMProfile.Shape: GEMMProfile.Tally]
    var steps: Int
    /// Seconds of timed calls per shape for the "alone" column (its best call; shorter runs met this VM's slow
    /// phases too often); 0 leaves it out.
    var aloneSeconds = 0.1

    var text: String {
        guard steps > 0, !shapes.isEmpty else { return "GEMMs of rank \(rank): none timed" }
        var lines = ["GEMMs of rank \(rank) by shape, C[m×n] over depth k in `leaves` leaves; per step, and alone on warm operands:",
                     "  kind          m      n      k leaves  calls       ms   GFLOP/s   alone  in training/alone"]
        for (shape, tally) in shapes.sorted(by: { $0.value.nanoseconds > $1.value.nanoseconds }) {
            let seconds = Double(tally.nanoseconds) / 1e9
            let rate = tally.flops / max(seconds, 1e-12) / 1e9
            var line = String(format: "  %@ %6d %6d %6d %6d %6.2f %8.3f %9.1f",
                              shape.kind.rawValue.padding(toLength: 10, withPad: " ", startingAt: 0), shape.m, shape.n,
                              shape.k, shape.leaves, Double(tally.calls) / Double(steps), seconds * 1e3 / Double(steps), rate)
            if aloneSeconds > 0 {
                let product = KernelBenchmark.Product(layerIndex: 0, layer: .init(0, 0), kind: shape.kind,
                                                      m: shape.m, n: shape.n, k: shape.k)
                let alone = KernelBenchmark.time(product, minimumSeconds: aloneSeconds, leaves: shape.leaves).gflopsBest
                line += String(format: " %7.1f %8.2f", alone, rate / alone)
            }
            lines.append(line)
        }
        return lines.joined(separator: "\n")
    }
}
