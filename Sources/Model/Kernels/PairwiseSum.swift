/// Elementwise sums of several buffers, added in the pairwise tree of `BatchLeaves`: for four sources
/// `(s0 + s1) + (s2 + s3)`. Ranks sharing a node sum their gradient segments this way, so the sum is the
/// same tree whether the ranks' subtrees meet in shared memory or over the network.
public enum PairwiseSum {
    /// The tree sum of `load(0) … load(count − 1)`, split at `count / 2` (for a power of two, the perfect tree).
    @inline(__always)
    public static func tree<V>(_ count: Int, _ load: (Int) -> V, add: (V, V) -> V) -> V {
        precondition(count >= 1, "PairwiseSum: nothing to sum")
        switch count {
        case 1: return load(0)
        case 2: return add(load(0), load(1))
        case 4: return add(add(load(0), load(1)), add(load(2), load(3)))
        default:
            func sum(_ low: Int, _ high: Int) -> V {
                if high - low == 1 { return load(low) }
                let middle = low + (high - low) / 2
                return add(sum(low, middle), sum(middle, high))
            }
            return sum(0, count)
        }
    }

    @inline(__always)
    public static func tree<V: SIMD>(_ count: Int, _ load: (Int) -> V) -> V where V.Scalar: FloatingPoint {
        tree(count, load, add: +)
    }

    @inline(__always)
    public static func tree(_ count: Int, _ load: (Int) -> Float) -> Float { tree(count, load, add: +) }

    /// `result[i] = tree over s of sources[s][i]`; `result` may be one of the sources (each element is read
    /// before it is written).
    public static func sum(_ sources: [UnsafePointer<Float>], into result: UnsafeMutablePointer<Float>, count: Int) {
        var i = 0
        while i + 8 <= count {
            let total = tree(sources.count) { UnsafeRawPointer(sources[$0] + i).loadUnaligned(as: SIMD8<Float>.self) }
            UnsafeMutableRawPointer(result + i).storeBytes(of: total, as: SIMD8<Float>.self)
            i += 8
        }
        while i < count {
            result[i] = tree(sources.count) { sources[$0][i] }
            i += 1
        }
    }
}
