import ArgumentParser
import Foundation
import Distributed
import Model
import FileFormats

/// Times `allreduceSum` of Float buffers the size of the models' gradients, or with `--order tree` the
/// tree-order allreduce that training runs (`--reduction-order canonical`, the default).
///
/// Protocol (the same as scripts/bench/allreduce_c.c, so the two compare directly): per size, 20
/// warm-up calls, then `iterations` times { barrier; t0 = MPI_Wtime; allreduce; t = MPI_Wtime - t0 },
/// rank 0's times reported as min/median/max with the algorithm bandwidth bytes/time.
struct BenchAllreduce: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "allreduce",
        abstract: "Time allreduce(SUM) of gradient-sized Float buffers (run under mpirun or launch).",
        discussion: """
            Sizes default to the gradient buffers of the classic and the deep VAE (about 2.6 and 11.4 MB).
            Example: vae-dist launch -n 2 -- bench allreduce --iterations 500
            `--order tree` times the fixed-tree allreduce training uses (power-of-two ranks); `native`
            (the default) is MPI_Allreduce, as scripts/bench/allreduce-vs-c compares with C.
            """)

    enum Order: String, ExpressibleByArgument, CaseIterable { case native, tree }

    @Option(help: "native: MPI_Allreduce; tree: the fixed-tree allreduce of training.")
    var order: Order = .native

    @Option(help: "Buffer sizes in Floats (comma-separated; default: the classic and the deep VAE's gradients).")
    var floats: String?

    @Option(help: "Timed calls per size.")
    var iterations: Int = 300

    @Flag(help: "One JSON object per size instead of text.")
    var json = false

    func validate() throws {
        guard iterations >= 1, iterations <= 10_000_000 else { throw ValidationError("--iterations must be 1...10000000.") }
        guard let sizes = parsedSizes(), !sizes.isEmpty else {
            throw ValidationError("--floats takes positive integers separated by commas (up to 10^9), e.g. 652824,2844844.")
        }
        _ = sizes
    }

    private func parsedSizes() -> [Int]? {
        guard let floats else {
            return [Architecture.classic, .deep].map { makeNetwork(NetworkSpec(kind: .vae, architecture: $0), seed: 0).layout.count }
        }
        let parts = floats.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard parts.allSatisfy({ $0 != nil && $0! > 0 && $0! <= 1_000_000_000 }) else { return nil }
        return parts.map { $0! }
    }

    func run() throws {
        let sizes = parsedSizes()!
        runOnWorld { world in
            if order == .tree && world.size & (world.size - 1) != 0 {
                throw ValidationError("--order tree needs a power of two of ranks, not \(world.size).")
            }
            for count in sizes {
                // The trainer's own gradient buffer type: 2 MiB-aligned and huge-page advised from 2 MiB up.
                let buffer = FlatBuffer(count: count)
                let pointer = UnsafeMutableBufferPointer(start: buffer.baseAddress, count: count)
                let allreduce = { [order] in
                    order == .tree ? try world.allreduceSumInTreeOrder(pointer, waiting: .spinning) : try world.allreduceSum(pointer)
                }
                for _ in 0..<20 { try allreduce() }
                var times = [Double]()
                times.reserveCapacity(iterations)
                for _ in 0..<iterations {
                    try world.barrier()
                    let start = MPICommunicator.wallTime()
                    try allreduce()
                    times.append(MPICommunicator.wallTime() - start)
                }
                guard world.isRoot else { continue }
                let summary = TimingSummary(seconds: times)
                let bytes = Double(count * MemoryLayout<Float>.stride)
                if json {
                    print(JSONLine.encode(AllreduceLine(
                        order: order.rawValue, np: world.size, floats: count, bytes: Int(bytes), iterations: iterations, minMS: summary.min * 1e3,
                        medianMS: summary.median * 1e3, maxMS: summary.max * 1e3, algbwGBps: bytes / summary.median / 1e9)))
                } else {
                    print(String(
                        format: "allreduce swift %@ np=%d floats=%d (%.1f MB) iters=%d min=%.3f ms median=%.3f ms max=%.3f ms algbw=%.2f GB/s",
                        order.rawValue, world.size, count, bytes / 1e6, iterations, summary.min * 1e3, summary.median * 1e3,
                        summary.max * 1e3, bytes / summary.median / 1e9))
                }
            }
        }
    }
}

/// One `bench allreduce --json` line; scripts/bench/allreduce-vs-c reads it beside the C program's.
private struct AllreduceLine: Encodable {
    var bench = "allreduce", impl = "swift"
    var order: String, np: Int, floats: Int, bytes: Int, iterations: Int
    var minMS: Double, medianMS: Double, maxMS: Double, algbwGBps: Double
    enum CodingKeys: String, CodingKey {
        case bench, impl, order, np, floats, bytes, iterations
        case minMS = "min_ms", medianMS = "median_ms", maxMS = "max_ms", algbwGBps = "algbw_gbps"
    }
}

/// min / median / max of a list of durations.
struct TimingSummary {
    let min: Double, median: Double, max: Double

    init(seconds: [Double]) {
        let sorted = seconds.sorted()
        min = sorted.first ?? 0
        max = sorted.last ?? 0
        median = seconds.median ?? 0
    }
}
