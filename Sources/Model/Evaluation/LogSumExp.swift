#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// log Σᵢ exp(vᵢ) without overflow or underflow, in Double.
///
/// The importance-weighted likelihood (Burda, Grosse & Salakhutdinov 2016) averages weights
/// w_k = p(x|z_k) p(z_k) / q(z_k|x) whose logarithms are several hundred nats below zero on MNIST-sized
/// images: exp of them underflows to 0 even in Double. Shifting by the maximum m,
/// log Σ exp(vᵢ) = m + log Σ exp(vᵢ − m), keeps every exponent ≤ 0 and the largest term exactly 1.
public enum LogSumExp {
    /// log Σ exp(values). Empty or all −∞ → −∞; any +∞ → +∞; any NaN → NaN.
    public static func evaluate(_ values: UnsafeBufferPointer<Double>) -> Double {
        var maximum = -Double.infinity
        for v in values {
            if v.isNaN { return .nan }
            maximum = max(maximum, v)
        }
        if !maximum.isFinite { return maximum }   // −∞ (nothing has weight) or +∞
        var sum = 0.0
        for v in values { sum += exp(v - maximum) }
        return maximum + log(sum)
    }

    /// `evaluate` for an array.
    public static func evaluate(_ values: [Double]) -> Double {
        values.withUnsafeBufferPointer { evaluate($0) }
    }

    /// log( (1/K) Σ exp(values) ): the log of the mean weight, i.e. the IW bound's log p̂(x).
    public static func logMeanExp(_ values: UnsafeBufferPointer<Double>) -> Double {
        evaluate(values) - log(Double(max(values.count, 1)))
    }
}
