/// Philox4x32-10, the counter-based generator of Salmon, Moraes, Dror & Shaw, "Parallel random numbers:
/// as easy as 1, 2, 3" (SC 2011), as in the Random123 library.
///
/// A pure function: `block(counter, key)` maps a 128-bit counter and a 64-bit key to 128 random bits by
/// ten rounds of two 32×32→64-bit multiplies, with the key bumped by the Weyl constants between rounds.
/// No state, so any random number can be computed directly from its "address" — which is what lets the
/// trainer make noise a function of (seed, epoch, example, stream) instead of the rank (see `CounterRNG`).
/// It passes BigCrush; the tests check Random123's published known-answer vectors (kat_vectors).
public enum Philox4x32 {
    public static let multiplier0: UInt32 = 0xD251_1F53
    public static let multiplier1: UInt32 = 0xCD9E_8D57
    public static let weyl0: UInt32 = 0x9E37_79B9   // golden ratio
    public static let weyl1: UInt32 = 0xBB67_AE85   // sqrt(3) - 1

    /// Ten rounds of Philox4x32 on `counter` with `key`.
    @inlinable
    public static func block(counter: SIMD4<UInt32>, key: SIMD2<UInt32>) -> SIMD4<UInt32> {
        var c = counter
        var k = key
        for round in 0..<10 {
            if round > 0 { k &+= SIMD2(weyl0, weyl1) }
            let p0 = UInt64(multiplier0) &* UInt64(c[0])
            let p1 = UInt64(multiplier1) &* UInt64(c[2])
            let hi0 = UInt32(truncatingIfNeeded: p0 >> 32), lo0 = UInt32(truncatingIfNeeded: p0)
            let hi1 = UInt32(truncatingIfNeeded: p1 >> 32), lo1 = UInt32(truncatingIfNeeded: p1)
            c = SIMD4(hi1 ^ c[1] ^ k[0], lo1, hi0 ^ c[3] ^ k[1], lo0)
        }
        return c
    }
}
