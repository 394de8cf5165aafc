/// SplitMix64 (Steele, Lea & Flood 2014): a tiny, fast, seedable generator for test inputs and fuzzing,
/// where a failure must be replayable from its seed. Not the training noise — that is `CounterRNG`.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    public var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in `0..<bound` (0 when `bound` ≤ 0); modulo bias is irrelevant for test inputs.
    public mutating func below(_ bound: Int) -> Int { bound <= 0 ? 0 : Int(next() % UInt64(bound)) }

    /// Uniform in [-1, 1) with 24 random bits.
    public mutating func nextSignedUnitFloat() -> Float { Float(next() >> 40) * 0x1p-23 - 1 }
}
