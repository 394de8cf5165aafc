#if canImport(Glibc)
import Glibc
#endif

/// The three matrix products of a linear layer's training step (see GEMM.swift), by the entry point that
/// computes them.
public enum GEMMKind: String, Sendable, CaseIterable {
    /// `Y = X·W`, `gemm`.
    case forward
    /// `dW = Xᵀ·dY`, `gemmTN` (in the batch's leaves or not).
    case weightGradient = "weightGrad"
    /// `dX = dY·Wᵀ`, `gemmNT`.
    case inputGradient = "inputGrad"
}

/// Optional time and FLOP counters for the public GEMM entry points, for `vae-dist bench train
/// --profile`: forward GEMMs are `gemm` (`X·W`), backward GEMMs `gemmTN` and `gemmNT`; and the same per
/// shape, so that a GEMM's speed inside training can be set beside `bench kernels`' on warm operands. Off
/// by default; when off, a GEMM pays one load and branch. Per process, so per rank; not thread-safe (each
/// rank computes on one thread).
public enum GEMMProfile {
    public struct Counters: Sendable, Equatable {
        public var forwardNanoseconds: UInt64 = 0
        public var backwardNanoseconds: UInt64 = 0
        public var flops: Double = 0
        public init() {}
    }

    /// One GEMM shape of a step: `C[m×n]` over depth `k`, as `kind` computes it, the depth summed in `leaves`
    /// leaves (`BatchLeaves`; 1 but for weight gradients in the canonical reduction order).
    public struct Shape: Sendable, Hashable {
        public var kind: GEMMKind
        public var m: Int, n: Int, k: Int
        public var leaves: Int
        public init(kind: GEMMKind, m: Int, n: Int, k: Int, leaves: Int = 1) {
            (self.kind, self.m, self.n, self.k, self.leaves) = (kind, m, n, k, leaves)
        }
        public var flops: Double { 2 * Double(m) * Double(n) * Double(k) }
    }

    /// The calls of one shape, their time and FLOPs (less than `calls × shape.flops` where calls shared one `C`
    /// out among ranks: each counts the rows it computed).
    public struct Tally: Sendable, Equatable {
        public var calls = 0
        public var nanoseconds: UInt64 = 0
        public var flops: Double = 0
    }

    nonisolated(unsafe) public static var isEnabled = false
    nonisolated(unsafe) public private(set) static var counters = Counters()
    /// Since the last `reset()`.
    nonisolated(unsafe) public private(set) static var shapes: [Shape: Tally] = [:]

    public static func reset() {
        counters = Counters()
        shapes = [:]
    }

    /// Runs `body`, one GEMM, timing it when enabled. `computedRows`, read after `body`: how many of `C`'s `m`
    /// rows it computed, when it computed only some (a weight gradient shared out among ranks); nil for all.
    @inline(__always)
    static func measure(_ kind: GEMMKind, m: Int, n: Int, k: Int, leaves: Int = 1, computedRows: (() -> Int)? = nil,
                        _ body: () -> Void) {
        guard isEnabled else { return body() }
        let start = monotonicNanoseconds()
        body()
        let elapsed = monotonicNanoseconds() - start
        if kind == .forward { counters.forwardNanoseconds += elapsed } else { counters.backwardNanoseconds += elapsed }
        let shape = Shape(kind: kind, m: m, n: n, k: k, leaves: leaves)
        let flops = shape.flops * Double(computedRows?() ?? m) / Double(max(m, 1))
        counters.flops += flops
        shapes[shape, default: Tally()].calls += 1
        shapes[shape, default: Tally()].nanoseconds += elapsed
        shapes[shape, default: Tally()].flops += flops
    }

    /// CLOCK_MONOTONIC in nanoseconds.
    public static func monotonicNanoseconds() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
    }
}
