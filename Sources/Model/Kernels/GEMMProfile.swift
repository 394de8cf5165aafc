#if canImport(Glibc)
import Glibc
#endif

/// Optional time and FLOP counters for the public GEMM entry points, for `vae-dist bench train
/// --profile`: forward GEMMs are `gemm` (`X·W`), backward GEMMs `gemmTN` and `gemmNT`. Off by default;
/// when off, a GEMM pays one load and branch. Per process, so per rank; not thread-safe (each rank
/// computes on one thread).
public enum GEMMProfile {
    public struct Counters: Sendable, Equatable {
        public var forwardNanoseconds: UInt64 = 0
        public var backwardNanoseconds: UInt64 = 0
        public var flops: Double = 0
        public init() {}
    }

    nonisolated(unsafe) public static var isEnabled = false
    nonisolated(unsafe) public private(set) static var counters = Counters()

    public static func reset() { counters = Counters() }

    @inline(__always)
    static func measure(forward: Bool, m: Int, n: Int, k: Int, _ body: () -> Void) {
        guard isEnabled else { return body() }
        let start = monotonicNanoseconds()
        body()
        let elapsed = monotonicNanoseconds() - start
        if forward { counters.forwardNanoseconds += elapsed } else { counters.backwardNanoseconds += elapsed }
        counters.flops += 2 * Double(m) * Double(n) * Double(k)
    }

    /// CLOCK_MONOTONIC in nanoseconds.
    public static func monotonicNanoseconds() -> UInt64 {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return UInt64(time.tv_sec) * 1_000_000_000 + UInt64(time.tv_nsec)
    }
}
