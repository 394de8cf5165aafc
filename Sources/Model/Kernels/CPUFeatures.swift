import CCPUFeatures

/// What the CPU and its operating system support, as far as the kernels care: read once from CPUID
/// and XCR0 (x86-64), or fixed by the architecture (arm64).
///
/// An instruction set is usable only when both agree: the CPU has the instructions (CPUID) *and* the
/// OS saves the registers they use on a context switch (XCR0). A CPU with AVX-512 under an OS or
/// hypervisor that does not enable the opmask and ZMM state faults on the first zmm instruction.
public struct CPUFeatures: Sendable, Hashable {
    /// CPUID leaf 1, ECX (FMA, OSXSAVE, AVX, ...).
    public var leaf1ECX: UInt32
    /// CPUID leaf 7 subleaf 0, EBX (AVX2, BMI, AVX-512 F/DQ/CD/BW/VL, ...).
    public var leaf7EBX: UInt32
    /// XCR0, the register states the OS saves; 0 when OSXSAVE is off.
    public var xcr0: UInt64
    /// `x86_64` or `arm64` (the architecture this binary runs as).
    public var architecture: String

    public init(leaf1ECX: UInt32, leaf7EBX: UInt32, xcr0: UInt64, architecture: String) {
        self.leaf1ECX = leaf1ECX
        self.leaf7EBX = leaf7EBX
        self.xcr0 = xcr0
        self.architecture = architecture
    }

    /// The CPU this process runs on.
    public static let current: CPUFeatures = {
        #if arch(x86_64)
        let maxLeaf = vd_cpuid(0, 0).eax
        let leaf1 = vd_cpuid(1, 0).ecx
        let leaf7 = maxLeaf >= 7 ? vd_cpuid(7, 0).ebx : 0
        let osxsave = leaf1 & (1 << 27) != 0
        return CPUFeatures(leaf1ECX: leaf1, leaf7EBX: leaf7, xcr0: osxsave ? vd_xgetbv0() : 0, architecture: "x86_64")
        #else
        return CPUFeatures(leaf1ECX: 0, leaf7EBX: 0, xcr0: 0, architecture: "arm64")
        #endif
    }()

    /// The CPUID bits the AVX2 kernels (and an x86-64-v3 build) rely on, by name.
    static let avx2Bits: [(name: String, leaf1ECX: UInt32, leaf7EBX: UInt32)] = [
        ("AVX", 1 << 28, 0), ("FMA", 1 << 12, 0), ("AVX2", 0, 1 << 5),
    ]
    /// The CPUID bits of x86-64-v4, which the AVX-512 kernels are compiled for.
    static let avx512Bits: [(name: String, leaf1ECX: UInt32, leaf7EBX: UInt32)] = [
        ("AVX512F", 0, 1 << 16), ("AVX512DQ", 0, 1 << 17), ("AVX512CD", 0, 1 << 28),
        ("AVX512BW", 0, 1 << 30), ("AVX512VL", 0, 1 << 31),
    ]
    /// XCR0 bits 1–2: SSE and AVX (ymm) state.
    static let ymmState: UInt64 = 0x6
    /// XCR0 bits 5–7: opmask, upper halves of zmm0–15, zmm16–31.
    static let zmmState: UInt64 = 0xE0

    /// Names of the CPUID bits of `bits` that this CPU lacks.
    func missing(_ bits: [(name: String, leaf1ECX: UInt32, leaf7EBX: UInt32)]) -> [String] {
        bits.filter { leaf1ECX & $0.leaf1ECX != $0.leaf1ECX || leaf7EBX & $0.leaf7EBX != $0.leaf7EBX }.map(\.name)
    }

    /// Nil when the kernels of `path` can run here; otherwise why not.
    public func unavailability(of path: KernelPath) -> String? {
        switch path {
        case .avx512: avx512Unavailability
        case .avx2: avx2Unavailability
        case .neon: architecture == "arm64" ? nil : "not an arm64 CPU"
        case .reference: nil
        }
    }

    /// Nil when the AVX2 kernels can run; otherwise why not.
    public var avx2Unavailability: String? {
        guard architecture == "x86_64" else { return "not an x86-64 CPU" }
        let lacking = missing(Self.avx2Bits)
        if !lacking.isEmpty { return "the CPU lacks \(lacking.joined(separator: ", "))" }
        if xcr0 & Self.ymmState != Self.ymmState {
            return "the OS does not save the ymm registers (XCR0 = 0x\(String(xcr0, radix: 16)))"
        }
        return nil
    }

    /// Nil when the AVX-512 kernels can run; otherwise why not.
    public var avx512Unavailability: String? {
        if let reason = avx2Unavailability { return reason }
        let lacking = missing(Self.avx512Bits)
        if !lacking.isEmpty { return "the CPU lacks \(lacking.joined(separator: ", "))" }
        if xcr0 & (Self.ymmState | Self.zmmState) != Self.ymmState | Self.zmmState {
            return "the OS does not save the opmask and zmm registers (XCR0 = 0x\(String(xcr0, radix: 16)))"
        }
        return nil
    }
}
