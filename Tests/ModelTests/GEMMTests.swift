import Testing
import Model

/// Every kernel path this CPU can run (AVX-512, AVX2 or NEON, and the reference itself) against the
/// naive triple loops of `GEMMReference`, on shapes chosen to hit every edge: dimensions of 0 and 1,
/// below/around/above the 6×16 and 8×32 tiles (2, 3, 7, 17, 31, 33, 63, 65) and the real layer
/// sizes (784, 785, 1000) that cross the 256-deep and 512-wide cache blocks. Paths this CPU cannot
/// run are reported as skipped.
///
/// Tolerance. Both sides sum the same `k` products in float, in different orders (the kernel uses
/// fused multiply-adds and restarts its sums at every depth block). The standard bound for recursive
/// float summation (Higham, Accuracy and Stability of Numerical Algorithms, §3.1) gives, for each
/// entry, |computed − exact| ≤ γ(k+1) · S with S = |c₀| + Σₚ |aᵢₚ bₚⱼ| and γ(n) ≈ n·u, u = 2⁻²⁴;
/// two results can differ by twice that. So each entry must satisfy
/// |fast − reference| ≤ 2·(k + 2)·2⁻²⁴·S — a bound that holds for any summation order and still
/// catches any wrong or missing product (an error of one term |aᵢₚ bₚⱼ| ~ S/k is far above it).
struct GEMMTests {
    enum Form: String, CaseIterable, CustomTestStringConvertible {
        case ab = "gemm A·B", atb = "gemmTN Aᵀ·B", abt = "gemmNT A·Bᵀ"
        var testDescription: String { rawValue }
    }

    static let dimensions = [0, 1, 2, 3, 7, 17, 31, 33, 63, 65, 784, 785, 1000]

    /// Every combination of the odd dimensions up to a work budget (the kernels run unoptimized in
    /// debug test builds), plus shapes with the real layer sizes in every position.
    static let shapes: [(m: Int, n: Int, k: Int)] = {
        var all: [(m: Int, n: Int, k: Int)] = []
        for m in dimensions { for n in dimensions { for k in dimensions where m * n * k <= 40_000 && m * k + k * n + m * n <= 100_000 {
            all.append((m, n, k))
        } } }
        all += [(64, 40, 400), (3, 1000, 300), (65, 33, 785), (17, 600, 257), (785, 17, 65), (1000, 7, 65),
                (63, 785, 3),
                // Few rows and whole-vector n: gemmTN reads B in place (with k past one depth block too).
                (20, 400, 64), (24, 48, 300), (9, 32, 17),
                // gemmTN copying Aᵀ's rows a block of rows at a time: several blocks, the last one partial.
                (85, 300, 70), (130, 270, 300),
                // gemm's first row tile packing B as it goes: one tile; several row blocks, depth blocks and
                // a partial last column panel.
                (8, 100, 300), (300, 290, 270)]
        return all
    }()

    @Test("AVX-512 kernels match the naive reference", .enabled(if: GEMMDispatch.kernels(for: .avx512) != nil),
          arguments: Form.allCases, [false, true])
    func avx512MatchesReference(form: Form, accumulate: Bool) {
        matchesReference(GEMMDispatch.kernels(for: .avx512)!, form: form, accumulate: accumulate)
    }

    @Test("AVX2 kernels match the naive reference", .enabled(if: GEMMDispatch.kernels(for: .avx2) != nil),
          arguments: Form.allCases, [false, true])
    func avx2MatchesReference(form: Form, accumulate: Bool) {
        matchesReference(GEMMDispatch.kernels(for: .avx2)!, form: form, accumulate: accumulate)
    }

    @Test("NEON kernels match the naive reference", .enabled(if: GEMMDispatch.kernels(for: .neon) != nil),
          arguments: Form.allCases, [false, true])
    func neonMatchesReference(form: Form, accumulate: Bool) {
        matchesReference(GEMMDispatch.kernels(for: .neon)!, form: form, accumulate: accumulate)
    }

    @Test("the kernels the process chose (gemm, gemmTN, gemmNT) match the naive reference",
          arguments: Form.allCases, [false, true])
    func activeMatchesReference(form: Form, accumulate: Bool) {
        matchesReference(GEMMDispatch.active, form: form, accumulate: accumulate, throughPublicFunctions: true)
    }

    func matchesReference(_ kernels: GEMMDispatch.KernelSet, form: Form, accumulate: Bool,
                          throughPublicFunctions: Bool = false) {
        var rng = SplitMix64(seed: 0x5EED_0000 + UInt64(Form.allCases.firstIndex(of: form)!) * 2 + (accumulate ? 1 : 0))
        var failures = 0
        for (m, n, k) in Self.shapes {
            let worst = Self.compare(form: form, m: m, n: n, k: k, accumulate: accumulate, rng: &rng,
                                     kernels: throughPublicFunctions ? nil : kernels)
            if worst > 1 { failures += 1 }
            #expect(worst <= 1, "\(form.rawValue) m=\(m) n=\(n) k=\(k) accumulate=\(accumulate): error/bound \(worst)")
            if failures > 5 { return }
        }
    }

    @Test("k = 0 zero-fills when overwriting and leaves C alone when accumulating",
          arguments: Form.allCases)
    func emptyDepth(form: Form) {
        let a: [Float] = [], b: [Float] = []
        for accumulate in [false, true] {
            var c = [Float](repeating: 3, count: 7 * 5)
            Self.run(form, a, b, &c, m: 7, n: 5, k: 0, accumulate: accumulate, reference: false)
            for path in GEMMDispatch.availablePaths {
                var d = [Float](repeating: 3, count: 7 * 5)
                Self.run(form, a, b, &d, m: 7, n: 5, k: 0, accumulate: accumulate, kernels: GEMMDispatch.kernels(for: path))
                #expect(d.allSatisfy { $0 == (accumulate ? 3 : 0) }, "\(path)")
            }
            #expect(c.allSatisfy { $0 == (accumulate ? 3 : 0) })
        }
    }

    /// Largest |fast − reference| / bound over all entries; also checks that overwriting ignores
    /// the previous contents (C starts as NaN) and that nothing past C is written.
    static func compare(form: Form, m: Int, n: Int, k: Int, accumulate: Bool, rng: inout SplitMix64,
                        kernels: GEMMDispatch.KernelSet? = nil) -> Double {
        let a = (0..<m * k).map { _ in rng.nextSignedUnitFloat() }
        let b = (0..<k * n).map { _ in rng.nextSignedUnitFloat() }
        let guardCount = 19, sentinel: Float = 12345
        let start = (0..<m * n).map { _ in accumulate ? rng.nextSignedUnitFloat() : Float.nan }
        var fast = start + [Float](repeating: sentinel, count: guardCount)
        var reference = start
        run(form, a, b, &fast, m: m, n: n, k: k, accumulate: accumulate, reference: false, kernels: kernels)
        run(form, a, b, &reference, m: m, n: n, k: k, accumulate: accumulate, reference: true)
        if fast[(m * n)...].contains(where: { $0 != sentinel }) { return .infinity }
        // S = |c₀| + Σₚ |aᵢₚ bₚⱼ| for every entry, by the reference on absolute values.
        var scale = start.map { accumulate ? abs($0) : 0 }
        run(form, a.map(abs), b.map(abs), &scale, m: m, n: n, k: k, accumulate: accumulate, reference: true)
        var worst = 0.0
        for i in 0..<m * n {
            let bound = 2 * Double(k + 2) * 0x1p-24 * Double(scale[i]) + Double(Float.leastNormalMagnitude)
            let error = Double(abs(fast[i] - reference[i]))
            if !(error <= bound) { worst = max(worst, error.isNaN ? .infinity : error / bound) }
        }
        return worst
    }

    /// `C (+)= ...` by the reference (`reference`), by `kernels`, or else through the public functions.
    static func run(_ form: Form, _ a: [Float], _ b: [Float], _ c: inout [Float],
                    m: Int, n: Int, k: Int, accumulate: Bool, reference: Bool = false,
                    kernels: GEMMDispatch.KernelSet? = nil) {
        // Empty arrays have no base address; the kernels never read through a pointer when a
        // dimension is 0, so any non-nil pointer will do.
        let dummy = UnsafeMutablePointer<Float>.allocate(capacity: 1)
        defer { dummy.deallocate() }
        a.withUnsafeBufferPointer { a in b.withUnsafeBufferPointer { b in c.withUnsafeMutableBufferPointer { c in
            let ap = a.baseAddress ?? UnsafePointer(dummy), bp = b.baseAddress ?? UnsafePointer(dummy)
            let cp = c.baseAddress ?? dummy
            if let kernels, !reference {
                switch form {
                case .ab: kernels.gemm(ap, bp, cp, m, n, k, accumulate)
                case .atb: kernels.gemmTN(ap, bp, cp, m, n, k, accumulate)
                case .abt: kernels.gemmNT(ap, bp, cp, m, n, k, accumulate)
                }
                return
            }
            switch (form, reference) {
            case (.ab, false): gemm(ap, bp, cp, m: m, n: n, k: k, accumulate: accumulate)
            case (.atb, false): gemmTN(ap, bp, cp, m: m, n: n, k: k, accumulate: accumulate)
            case (.abt, false): gemmNT(ap, bp, cp, m: m, n: n, k: k, accumulate: accumulate)
            case (.ab, true): GEMMReference.gemm(ap, bp, cp, m: m, n: n, k: k, accumulate: accumulate)
            case (.atb, true): GEMMReference.gemmTN(ap, bp, cp, m: m, n: n, k: k, accumulate: accumulate)
            case (.abt, true): GEMMReference.gemmNT(ap, bp, cp, m: m, n: n, k: k, accumulate: accumulate)
            }
        }}}
    }
}

