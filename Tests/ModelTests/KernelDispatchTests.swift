import Testing
import Model

/// The choice of GEMM kernels for given CPUID/XCR0 bits, and the promise that makes mixing CPUs safe:
/// the AVX2 and AVX-512 kernels give bit-identical products.
struct KernelDispatchTests {
    // CPUID.1:ECX: FMA (12), OSXSAVE (27), AVX (28). CPUID.7.0:EBX: AVX2 (5), AVX-512 F/DQ/CD/BW/VL.
    static let leaf1 = UInt32(1 << 12 | 1 << 27 | 1 << 28)
    static let avx2Leaf7 = UInt32(1 << 5)
    static let avx512Leaf7 = avx2Leaf7 | UInt32(1 << 16 | 1 << 17 | 1 << 28 | 1 << 30 | 1 << 31)
    static let xcr0AVX512: UInt64 = 0xE7
    static let xcr0AVX: UInt64 = 0x7

    static func x86(leaf1: UInt32 = leaf1, leaf7: UInt32, xcr0: UInt64) -> CPUFeatures {
        CPUFeatures(leaf1ECX: leaf1, leaf7EBX: leaf7, xcr0: xcr0, architecture: "x86_64")
    }

    static func choose(_ features: CPUFeatures, request: String? = nil) throws -> KernelSelection {
        try GEMMDispatch.select(features: features, request: request)
    }

    @Test("AVX-512 is chosen where the CPU has all of x86-64-v4's subsets and the OS saves zmm state")
    func avx512() throws {
        let choice = try Self.choose(Self.x86(leaf7: Self.avx512Leaf7, xcr0: Self.xcr0AVX512))
        #expect(choice.path == .avx512)
    }

    @Test("no AVX-512 when the OS does not save the zmm and opmask state")
    func osWithoutZMMState() throws {
        let features = Self.x86(leaf7: Self.avx512Leaf7, xcr0: Self.xcr0AVX)
        let choice = try Self.choose(features)
        #expect(choice.path == .avx2)
        #expect(choice.reason.contains("XCR0 = 0x7"))
        #expect(GEMMDispatch.kernels(for: .avx512, features: features) == nil)
    }

    @Test("a CPU lacking one AVX-512 subset gets AVX2, and the reason names the subset")
    func partialAVX512() throws {
        let choice = try Self.choose(Self.x86(leaf7: Self.avx512Leaf7 & ~UInt32(1 << 30), xcr0: Self.xcr0AVX512))
        #expect(choice.path == .avx2)
        #expect(choice.reason.contains("AVX512BW"))
    }

    @Test("without AVX2 and FMA only the reference can run")
    func noAVX2() throws {
        let choice = try Self.choose(Self.x86(leaf1: Self.leaf1 & ~UInt32(1 << 12), leaf7: Self.avx2Leaf7, xcr0: Self.xcr0AVX))
        #expect(choice.path == .reference)
        #expect(choice.reason.contains("FMA"))
    }

    @Test("arm64 runs NEON")
    func arm() throws {
        let features = CPUFeatures(leaf1ECX: 0, leaf7EBX: 0, xcr0: 0, architecture: "arm64")
        #expect(try Self.choose(features).path == .neon)
        #expect(throws: KernelSelectionError.self) { try Self.choose(features, request: "avx2") }
    }

    @Test("VAE_DIST_KERNELS forces any path the CPU can run, case-insensitively")
    func forced() throws {
        let features = Self.x86(leaf7: Self.avx512Leaf7, xcr0: Self.xcr0AVX512)
        #expect(try Self.choose(features, request: "avx512").path == .avx512)
        #expect(try Self.choose(features, request: "AVX2").path == .avx2)
        #expect(try Self.choose(features, request: "reference").path == .reference)
        #expect(try Self.choose(features, request: "").path == .avx512)  // empty is unset
    }

    @Test("VAE_DIST_KERNELS naming an unknown path or one the CPU cannot run is an error naming why")
    func forcedBadly() {
        let avx2Only = Self.x86(leaf7: Self.avx2Leaf7, xcr0: Self.xcr0AVX)
        #expect(throws: KernelSelectionError(description:
            "VAE_DIST_KERNELS=avx512 cannot run here: the CPU lacks AVX512F, AVX512DQ, AVX512CD, AVX512BW, AVX512VL")) {
            try Self.choose(avx2Only, request: "avx512")
        }
        #expect(throws: KernelSelectionError.self) { try Self.choose(avx2Only, request: "sse") }
        #expect(throws: KernelSelectionError.self) { try Self.choose(avx2Only, request: "neon") }
    }

    @Test("the AVX2 and AVX-512 kernels give bit-identical products",
          .enabled(if: GEMMDispatch.kernels(for: .avx512) != nil && GEMMDispatch.kernels(for: .avx2) != nil),
          arguments: GEMMTests.Form.allCases)
    func sameBits(form: GEMMTests.Form) {
        let avx2 = GEMMDispatch.kernels(for: .avx2)!, avx512 = GEMMDispatch.kernels(for: .avx512)!
        var rng = SplitMix64(seed: 0xB17_1DE7)
        let shapes = [(1, 1, 1), (7, 33, 17), (64, 40, 400), (128, 20, 400), (65, 785, 300), (33, 1000, 513),
                      (400, 784, 64), (20, 400, 128), (128, 784, 1000), (250, 60, 64), (128, 30, 250),
                      // gemmTN computing Cᵀ on AVX-512 (n = 40, 17: ill-fitting lanes) and C on AVX2.
                      (400, 40, 64), (785, 17, 65)]
        for (m, n, k) in shapes {
            for accumulate in [false, true] {
                let a = (0..<m * k).map { _ in rng.nextSignedUnitFloat() }
                let b = (0..<k * n).map { _ in rng.nextSignedUnitFloat() }
                var c1 = (0..<m * n).map { _ in rng.nextSignedUnitFloat() }
                var c2 = c1
                GEMMTests.run(form, a, b, &c1, m: m, n: n, k: k, accumulate: accumulate, kernels: avx2)
                GEMMTests.run(form, a, b, &c2, m: m, n: n, k: k, accumulate: accumulate, kernels: avx512)
                let differing = zip(c1, c2).filter { $0.bitPattern != $1.bitPattern }.count
                #expect(differing == 0, "\(form.rawValue) m=\(m) n=\(n) k=\(k) accumulate=\(accumulate)")
            }
        }
    }

    @Test("this CPU's FMA peaks are measured as positive and finite", .enabled(if: GEMMDispatch.kernels(for: .avx512) != nil))
    func peaksMeasured() {
        let peaks = GEMMDispatch.measureFMAPeaks(rounds: 2, iterations: 20_000)
        #expect(peaks.ymm > 1 && peaks.ymm.isFinite)
        #expect(peaks.zmm > 1 && peaks.zmm.isFinite)
    }
}
