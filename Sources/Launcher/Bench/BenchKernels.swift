import ArgumentParser
import Foundation
import Model
import FileFormats

/// `vae-dist bench kernels`: GFLOP/s of every GEMM of one training step (see
/// `KernelBenchmark` in the Model module), single-threaded, as an aligned table or JSON lines.
/// scripts/bench/kernels-vs-numpy runs it beside numpy/OpenBLAS on the same shapes.
struct BenchKernels: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kernels",
        abstract: "Time the GEMMs of one training step (single core) and print GFLOP/s.",
        discussion: """
            Per GEMM: warm-up, then single calls until --seconds of timed calls; best and median.
            The step total is all FLOPs over the summed best (and median) times.
            The kernels are those this process chose for the CPU (first line, and `vae-dist info`);
            --kernels times others too, one after the other, for comparison in the same sitting.
            Examples:
              vae-dist bench kernels
              vae-dist bench kernels --arch deep --batch 128 --json
              vae-dist bench kernels --kernels avx2,avx512
            """)

    @Option(help: "Architecture: classic, deep or all.")
    var arch: String = "all"

    @Option(name: .customLong("batch"), help: "Per-rank batch size (repeat or comma-separate; default 64,128).")
    var batches: [String] = []

    @Option(help: "Seconds of timed calls per GEMM.")
    var seconds: Double = 0.2

    @Option(help: "Kernel paths to time (comma-separated: avx512, avx2, neon, reference; default: the chosen one).")
    var kernels: String?

    @Option(help: "Time the weight gradients summed in this many leaves of the batch (the canonical reduction order: 8 for a batch of 128 at np=1, 4 at np=2); 1: one pass.")
    var leaves = 1

    @Flag(help: "One JSON object per GEMM and per step total instead of the table.")
    var json = false

    func validate() throws {
        guard arch == "all" || KernelBenchmark.Architecture.named(arch) != nil else {
            throw ValidationError("--arch must be classic, deep or all (got '\(arch)').")
        }
        guard parsedBatches() != nil else {
            throw ValidationError("--batch takes positive integers up to 65536, e.g. --batch 64 --batch 128 or --batch 64,128.")
        }
        guard seconds > 0, seconds <= 60 else { throw ValidationError("--seconds must be in (0, 60].") }
        guard leaves >= 1 && leaves <= 64 && leaves & (leaves - 1) == 0 else {
            throw ValidationError("--leaves must be a power of two from 1 to 64 (got \(leaves)).")
        }
        _ = try kernelSets()
    }

    private func kernelSets() throws -> [GEMMDispatch.KernelSet] {
        guard let kernels else { return [GEMMDispatch.active] }
        return try kernels.split(separator: ",").map { name in
            guard let path = KernelPath(rawValue: name.trimmingCharacters(in: .whitespaces)) else {
                throw ValidationError("--kernels takes avx512, avx2, neon or reference (got '\(name)').")
            }
            guard let set = GEMMDispatch.kernels(for: path) else {
                throw ValidationError("--kernels \(path): this CPU cannot run them (\(KernelReport.line())).")
            }
            return set
        }
    }

    private func parsedBatches() -> [Int]? {
        let parts = batches.flatMap { $0.split(separator: ",") }.map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard parts.allSatisfy({ $0 != nil && $0! > 0 && $0! <= 65536 }) else { return nil }
        return parts.isEmpty ? [64, 128] : parts.map { $0! }
    }

    func run() throws {
        let architectures = arch == "all" ? KernelBenchmark.Architecture.presets : [KernelBenchmark.Architecture.named(arch)!]
        let peaks = GEMMDispatch.kernels(for: .avx512) == nil ? nil : GEMMDispatch.measureFMAPeaks()
        if json {
            print(JSONLine.encode(KernelsLine(description: KernelReport.line(), fmaPeakYMM: peaks?.ymm, fmaPeakZMM: peaks?.zmm)))
        } else {
            print(KernelReport.line())
            if let peaks {
                print(String(format: "FMA peak of one core: %.1f GFLOP/s with 256-bit vectors, %.1f with 512-bit (%.2fx)",
                             peaks.ymm, peaks.zmm, peaks.zmm / peaks.ymm))
            }
            print(Self.row(["kernels", "arch", "batch", "layer", "kind", "m", "n", "k", "GFLOP/s best", "median"]))
        }
        for kernels in try kernelSets() {
            for architecture in architectures {
                for batch in parsedBatches()! {
                    let report = KernelBenchmark.run(architecture, batch: batch, kernels: kernels, minimumSeconds: seconds,
                                                            leaves: leaves)
                    if json { printJSON(report) } else { printTable(report) }
                }
            }
        }
    }

    private static let widths = [9, 8, 6, 10, 11, 6, 6, 6, 13, 8]

    /// Columns padded to fixed widths: text left-aligned, numbers right-aligned.
    private static func row(_ cells: [String]) -> String {
        zip(cells, widths).enumerated().map { i, pair in
            let (cell, width) = pair
            let pad = String(repeating: " ", count: max(0, width - cell.count))
            return i < 5 ? cell + pad : pad + cell
        }.joined(separator: " ")
    }

    private static func gflops(_ value: Double) -> String { String(format: "%.1f", value) }

    private func printTable(_ report: KernelBenchmark.StepReport) {
        for t in report.timings {
            let p = t.product
            print(Self.row(["\(report.kernels)", report.architecture, "\(report.batch)", p.layer.label, p.kind.rawValue,
                            "\(p.m)", "\(p.n)", "\(p.k)", Self.gflops(t.gflopsBest), Self.gflops(t.gflopsMedian)]))
        }
        print(Self.row(["\(report.kernels)", report.architecture, "\(report.batch)", "step", "total", "", "", "",
                        Self.gflops(report.gflopsBest), Self.gflops(report.gflopsMedian)])
              + String(format: "   (%.3f ms best, %.3f ms median)", report.totalBest * 1e3, report.totalMedian * 1e3))
    }

    /// The first JSON line: which kernels run, and the FMA peaks where both widths exist.
    private struct KernelsLine: Encodable {
        var type = "kernels"
        var description: String
        var fmaPeakYMM: Double?, fmaPeakZMM: Double?
        enum CodingKeys: String, CodingKey {
            case type, description, fmaPeakYMM = "fma_peak_ymm_gflops", fmaPeakZMM = "fma_peak_zmm_gflops"
        }
    }

    /// One GEMM (`type` "gemm") or a step's total (`type` "step_total"); scripts/bench/kernels-vs-numpy reads these.
    private struct TimingLine: Encodable {
        var type: String, kernels: String, arch: String, batch: Int
        var layer: String? = nil, layerIndex: Int? = nil, kind: String? = nil, m: Int? = nil, n: Int? = nil, k: Int? = nil
        var bestSeconds: Double, medianSeconds: Double, samples: Int? = nil, gflopsBest: Double, gflopsMedian: Double
        enum CodingKeys: String, CodingKey {
            case type, kernels, arch, batch, layer, layerIndex = "layer_index", kind, m, n, k
            case bestSeconds = "best_s", medianSeconds = "median_s", samples
            case gflopsBest = "gflops_best", gflopsMedian = "gflops_median"
        }
    }

    private func printJSON(_ report: KernelBenchmark.StepReport) {
        for t in report.timings {
            let p = t.product
            print(JSONLine.encode(TimingLine(
                type: "gemm", kernels: report.kernels.rawValue, arch: report.architecture, batch: report.batch,
                layer: p.layer.label, layerIndex: p.layerIndex, kind: p.kind.rawValue, m: p.m, n: p.n, k: p.k,
                bestSeconds: t.best, medianSeconds: t.median, samples: t.samples,
                gflopsBest: t.gflopsBest, gflopsMedian: t.gflopsMedian)))
        }
        print(JSONLine.encode(TimingLine(
            type: "step_total", kernels: report.kernels.rawValue, arch: report.architecture, batch: report.batch,
            bestSeconds: report.totalBest, medianSeconds: report.totalMedian, gflopsBest: report.gflopsBest,
            gflopsMedian: report.gflopsMedian)))
    }
}
