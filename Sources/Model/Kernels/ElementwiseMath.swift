#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Vectorized transcendental functions for the loss kernels, on `SIMD16<Float>`.
///
/// Why not libm: the sigmoid cross-entropy evaluates one `exp` and one `log1p` per output pixel
/// (B × 784 per step); scalar `expf`/`log1pf` calls cost more than the whole small-model GEMM. These
/// polynomial versions run in registers and are accurate to a few ulp over the ranges we use
/// (the tests compare them with libm in Double).
public enum VectorMath {
    public typealias Vector = SIMD16<Float>

    /// `exp(x)` for x ≤ 0 (Cephes `expf`): x = n·ln2 + r with |r| ≤ ½ln2, a degree-6 polynomial for
    /// e^r, and 2ⁿ built in the exponent bits. Inputs below −87.33 are clamped so the result stays a
    /// normal float (≥ 2⁻¹²⁶ ≈ 1.2e−38) instead of a denormal: at that size it only ever enters sums
    /// next to numbers ≥ 1, where it vanishes anyway.
    @inlinable @inline(__always)
    public static func expNonPositive(_ x: Vector) -> Vector {
        var x = x.replacing(with: -87.33, where: x .< -87.33)
        x = x.replacing(with: 0, where: x .> 0)
        // Round x·log₂e to the nearest integer n with the 1.5·2²³ trick: after adding it, the integer sits
        // in the low mantissa bits (no rounding-mode call, no float→int conversion; |n| ≤ 126 here).
        let magic = Vector(repeating: 12_582_912)
        let shifted = magic.addingProduct(x, Vector(repeating: 1.442_695_04))
        let n = shifted - magic
        var r = x.addingProduct(n, Vector(repeating: -0.693_359_375))
        r = r.addingProduct(n, Vector(repeating: 2.121_944_4e-4))
        var p = Vector(repeating: 1.987_569_150_0e-4)
        p = Vector(repeating: 1.398_199_950_7e-3).addingProduct(p, r)
        p = Vector(repeating: 8.333_451_907_3e-3).addingProduct(p, r)
        p = Vector(repeating: 4.166_579_589_4e-2).addingProduct(p, r)
        p = Vector(repeating: 1.666_666_545_9e-1).addingProduct(p, r)
        p = Vector(repeating: 5.000_000_120_1e-1).addingProduct(p, r)
        let y = (r + 1).addingProduct(p, r * r)
        let integer = unsafeBitCast(shifted, to: SIMD16<Int32>.self) &- 0x4B40_0000   // n as Int32
        let bits = (integer &+ 127) &<< 23
        return y * unsafeBitCast(bits, to: Vector.self)
    }

    /// `log1p(t)` for t in [0, 1] as 2·atanh(s), s = t / (2 + t) ∈ [0, ⅓]:
    /// 2s·(1 + s²/3 + s⁴/5 + … + s¹⁶/17). No cancellation, so it is accurate for tiny t too (≈ t).
    /// Truncation error < (1/9)⁹/19 ≈ 1.4e−10 relative.
    @inlinable @inline(__always)
    public static func log1pUnit(_ t: Vector) -> Vector {
        let s = t / (t + 2)
        let s2 = s * s
        var p = Vector(repeating: 1.0 / 17)
        p = Vector(repeating: 1.0 / 15).addingProduct(p, s2)
        p = Vector(repeating: 1.0 / 13).addingProduct(p, s2)
        p = Vector(repeating: 1.0 / 11).addingProduct(p, s2)
        p = Vector(repeating: 1.0 / 9).addingProduct(p, s2)
        p = Vector(repeating: 1.0 / 7).addingProduct(p, s2)
        p = Vector(repeating: 1.0 / 5).addingProduct(p, s2)
        p = Vector(repeating: 1.0 / 3).addingProduct(p, s2)
        p = Vector(repeating: 1).addingProduct(p, s2)
        return 2 * s * p
    }

    /// |x| by clearing the sign bits.
    @inlinable @inline(__always)
    public static func magnitude(_ x: Vector) -> Vector {
        let bits = unsafeBitCast(x, to: SIMD16<UInt32>.self) & 0x7FFF_FFFF
        return unsafeBitCast(bits, to: Vector.self)
    }

    /// Calls `body(start, count)` for the 16-float blocks of `range` in order: every full block with the
    /// constant count 16, then the partial tail (count < 16) if any. Written as two loops so that, once
    /// `body` is inlined, the full blocks' `loadPartial`/`storePartial` fold to plain vector moves: one
    /// loop with a variable count keeps the partial paths alive inside the hot loop, and Adam then ran at
    /// half speed (scalar lanes, stack spills).
    @inlinable @inline(__always)
    public static func forEachBlock(_ range: Range<Int>, _ body: (_ start: Int, _ count: Int) -> Void) {
        var i = range.lowerBound
        while range.upperBound - i >= 16 {
            body(i, 16)
            i += 16
        }
        if i < range.upperBound { body(i, range.upperBound - i) }
    }

    /// Loads `count` ≤ 16 floats, padding the rest with `fill`.
    @inlinable @inline(__always)
    public static func loadPartial(_ p: UnsafePointer<Float>, count: Int, fill: Float = 0) -> Vector {
        if count == 16 { return UnsafeRawPointer(p).loadUnaligned(as: Vector.self) }
        var v = Vector(repeating: fill)
        for i in 0..<count { v[i] = p[i] }
        return v
    }

    /// Stores the first `count` ≤ 16 lanes.
    @inlinable @inline(__always)
    public static func storePartial(_ v: Vector, _ p: UnsafeMutablePointer<Float>, count: Int) {
        if count == 16 { UnsafeMutableRawPointer(p).storeBytes(of: v, as: Vector.self); return }
        for i in 0..<count { p[i] = v[i] }
    }

    /// Adds the 16 lanes of `v` to a Double accumulator (lane-wise widening; keeps sums exact enough for
    /// finite-difference checks at the cost of two vector adds).
    @inlinable @inline(__always)
    public static func accumulate(_ v: Vector, into acc: inout SIMD16<Double>) {
        var wide = SIMD16<Double>()
        for i in 0..<16 { wide[i] = Double(v[i]) }
        acc += wide
    }

    /// Sum of the first `count` lanes, in Double.
    @inlinable @inline(__always)
    public static func partialSum(_ v: Vector, count: Int) -> Double {
        if count == 16 { return Double(v.sum()) }
        var s = 0.0
        for i in 0..<count { s += Double(v[i]) }
        return s
    }
}
