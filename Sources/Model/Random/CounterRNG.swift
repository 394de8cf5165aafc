#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// What a stream of random numbers is for. Different purposes never share numbers, even for the same
/// example and epoch, because the stream id is part of the Philox counter.
public enum NoiseStream: UInt32, Sendable, CaseIterable {
    /// ε ~ N(0, I) of the reparameterization z = μ + σ ⊙ ε (tutorial eq. 10), training.
    case reparameterization = 1
    /// Stochastic binarization of the CVAE's conditioning column (tutorial §5), training; redrawn every
    /// pass because the epoch is part of the counter.
    case binarization = 2
    /// ε when evaluating a held-out loss (kept apart from the training noise).
    case evaluationReparameterization = 3
    /// Binarization when evaluating or when building conditions for sampling.
    case evaluationBinarization = 4
    /// Parameter initialization (the "example" is the tensor number).
    case initialization = 5
    /// z ~ N(0, I) when generating samples (the "example" is the sample number).
    case generation = 6
}

/// Training or evaluation noise: which pair of streams a forward pass draws ε and binarization from.
public enum NoiseMode: Sendable, Equatable {
    case training, evaluation

    public var reparameterization: NoiseStream { self == .training ? .reparameterization : .evaluationReparameterization }
    public var binarization: NoiseStream { self == .training ? .binarization : .evaluationBinarization }
}

/// Counter-based random numbers: every value is a pure function of
/// `(seed, epoch, example, stream, position)` — never of the rank or of how a batch is split.
///
/// Philox4x32-10 (see `Philox4x32`) with
/// - key     = the 64-bit seed (low word, high word),
/// - counter = (block, example, epoch, stream), where `block = position / 4`: each block yields four
///   32-bit words, i.e. four uniforms or four Gaussians.
///
/// So the ε of training example `i` in epoch `e` is the same on 1 rank or 64, in a batch of 1 or 512,
/// and a resumed run reproduces it from `(epoch, example)` alone (ARCHITECTURE.md, "Invariants").
/// Value `j` of a fill does not depend on how many values were requested.
public struct CounterRNG: Sendable, Equatable {
    public let seed: UInt64

    public init(seed: UInt64) { self.seed = seed }

    @inlinable
    var key: SIMD2<UInt32> {
        SIMD2(UInt32(truncatingIfNeeded: seed), UInt32(truncatingIfNeeded: seed >> 32))
    }

    /// The 128 random bits of block `block` of the given stream.
    @inlinable
    public func bits(block: UInt32, epoch: UInt32, example: UInt32, stream: NoiseStream) -> SIMD4<UInt32> {
        Philox4x32.block(counter: SIMD4(block, example, epoch, stream.rawValue), key: key)
    }

    /// Uniform in [0, 1) with 24 random bits (every value exactly representable as Float).
    @inlinable
    public static func unitInterval(_ word: UInt32) -> Float { Float(word >> 8) * 0x1p-24 }

    /// Uniform in (0, 1), never 0 or 1: safe for `log` in Box–Muller.
    @inlinable
    public static func openUnitInterval(_ word: UInt32) -> Double { (Double(word >> 8) + 0.5) * 0x1p-24 }

    /// Fills `count` values uniform in [0, 1).
    public func fillUniform(
        _ out: UnsafeMutablePointer<Float>, count: Int, epoch: Int, example: UInt64, stream: NoiseStream
    ) {
        let (e, x) = CounterRNG.checked(epoch: epoch, example: example)
        var i = 0
        var block: UInt32 = 0
        while i < count {
            let w = bits(block: block, epoch: e, example: x, stream: stream)
            for j in 0..<min(4, count - i) { out[i + j] = CounterRNG.unitInterval(w[j]) }
            i += 4
            block &+= 1
        }
    }

    /// Fills `count` standard normal values by the Box–Muller transform: words (0,1) and (2,3) of each
    /// block give two pairs `r·cos θ, r·sin θ` with `r = √(−2 ln u₁)`, `θ = 2π u₂` (computed in Double).
    public func fillGaussian(
        _ out: UnsafeMutablePointer<Float>, count: Int, epoch: Int, example: UInt64, stream: NoiseStream
    ) {
        let (e, x) = CounterRNG.checked(epoch: epoch, example: example)
        var i = 0
        var block: UInt32 = 0
        while i < count {
            let w = bits(block: block, epoch: e, example: x, stream: stream)
            let r0 = (-2 * log(CounterRNG.openUnitInterval(w[0]))).squareRoot()
            let t0 = 2 * Double.pi * CounterRNG.openUnitInterval(w[1])
            let r1 = (-2 * log(CounterRNG.openUnitInterval(w[2]))).squareRoot()
            let t1 = 2 * Double.pi * CounterRNG.openUnitInterval(w[3])
            let g = SIMD4<Double>(r0 * cos(t0), r0 * sin(t0), r1 * cos(t1), r1 * sin(t1))
            for j in 0..<min(4, count - i) { out[i + j] = Float(g[j]) }
            i += 4
            block &+= 1
        }
    }

    /// Fills rows of `width` Gaussians for a batch: row `r` is the noise of global example
    /// `examples[r]`, so it is identical however the batch is split across ranks.
    public func fillGaussianRows(
        _ out: UnsafeMutablePointer<Float>, width: Int, examples: UnsafeBufferPointer<Int>, epoch: Int,
        stream: NoiseStream
    ) {
        for (r, example) in examples.enumerated() {
            fillGaussian(out + r * width, count: width, epoch: epoch, example: UInt64(example), stream: stream)
        }
    }

    @usableFromInline
    static func checked(epoch: Int, example: UInt64) -> (UInt32, UInt32) {
        precondition(epoch >= 0 && epoch <= Int(UInt32.max), "CounterRNG: epoch \(epoch) out of range")
        precondition(example <= UInt64(UInt32.max), "CounterRNG: example index \(example) out of range")
        return (UInt32(epoch), UInt32(example))
    }
}
