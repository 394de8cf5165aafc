#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Output losses of the decoder P(X|z), each a fused single pass computing the loss sum and its gradient
/// with respect to the decoder's *logits*.
///
/// Losses are summed (over pixels and examples) in Double; the gradient written is
/// `gradientScale · ∂(Σ loss)/∂logit`, where the training loop passes `1 / globalBatch` so that the
/// sum over ranks (either gradient exchange) is the gradient of the global mean (ARCHITECTURE.md, "Invariants").
public enum ElementwiseLoss {
    /// Bernoulli log-likelihood ("sigmoid cross-entropy with logits", §4.1): for logit l and target
    /// x ∈ [0, 1], loss = −[x log σ(l) + (1−x) log(1−σ(l))], computed stably as
    /// `max(l, 0) − l·x + log1p(exp(−|l|))`; gradient `σ(l) − x`. Finite for any finite l.
    /// Returns Σ loss. `gradient` may alias nothing else; it is overwritten.
    public static func sigmoidCrossEntropy(
        logits: UnsafePointer<Float>, targets: UnsafePointer<Float>, gradient: UnsafeMutablePointer<Float>,
        count: Int, gradientScale: Float
    ) -> Double {
        var total = 0.0
        // Each vector of 16 loss terms is widened to Double before it is added: the sum then carries only
        // the rounding of the individual terms (this keeps finite-difference checks of the loss tight).
        var acc = SIMD16<Double>()
        VectorMath.forEachBlock(0..<count) { i, n in
            let l = VectorMath.loadPartial(logits + i, count: n)
            let x = VectorMath.loadPartial(targets + i, count: n)
            let t = VectorMath.expNonPositive(-VectorMath.magnitude(l))         // e^{−|l|} ∈ (0, 1]
            let positive = l.replacing(with: 0, where: l .< 0)                  // max(l, 0)
            let loss = (positive + VectorMath.log1pUnit(t)).addingProduct(-l, x)
            let inverse = 1 / (1 + t)
            let sigmoid = inverse.replacing(with: t * inverse, where: l .< 0)   // σ(l) without overflow
            VectorMath.storePartial((sigmoid - x) * gradientScale, gradient + i, count: n)
            if n == 16 { VectorMath.accumulate(loss, into: &acc) } else { total += VectorMath.partialSum(loss, count: n) }
        }
        return total + acc.sum()
    }

    /// Gaussian log-likelihood with fixed σ (§2.4.3): mean f = σ(l) (the decoder's sigmoid output, so
    /// probabilities and means live in the same [0, 1] space) and
    /// loss = ½ (x − f)² / σ² + ½ log(2π σ²) per pixel (the full negative log density, so the bound is in
    /// nats; the constant does not affect gradients). Gradient w.r.t. the logit: (f − x)/σ² · f(1 − f).
    /// σ weighs reconstruction against the KL term.
    public static func gaussian(
        logits: UnsafePointer<Float>, targets: UnsafePointer<Float>, gradient: UnsafeMutablePointer<Float>,
        count: Int, sigma: Float, gradientScale: Float
    ) -> Double {
        let inverseVariance = 1 / (sigma * sigma)
        let constant = 0.5 * log(2 * Double.pi * Double(sigma) * Double(sigma))
        var squares = 0.0
        var acc = SIMD16<Double>()
        VectorMath.forEachBlock(0..<count) { i, n in
            let l = VectorMath.loadPartial(logits + i, count: n)
            let x = VectorMath.loadPartial(targets + i, count: n)
            let t = VectorMath.expNonPositive(-VectorMath.magnitude(l))
            let inverse = 1 / (1 + t)
            let f = inverse.replacing(with: t * inverse, where: l .< 0)
            let d = f - x
            let g = d * inverseVariance * f * (1 - f) * gradientScale
            VectorMath.storePartial(g, gradient + i, count: n)
            if n == 16 { VectorMath.accumulate(d * d, into: &acc) } else { squares += VectorMath.partialSum(d * d, count: n) }
        }
        squares += acc.sum()
        return 0.5 * squares * Double(inverseVariance) + constant * Double(count)
    }

    /// Probabilities σ(l) from logits (decode, sampling), overwriting `out` (which may equal `logits`).
    public static func sigmoid(_ logits: UnsafePointer<Float>, _ out: UnsafeMutablePointer<Float>, count: Int) {
        VectorMath.forEachBlock(0..<count) { i, n in
            let l = VectorMath.loadPartial(logits + i, count: n)
            let t = VectorMath.expNonPositive(-VectorMath.magnitude(l))
            let inverse = 1 / (1 + t)
            VectorMath.storePartial(inverse.replacing(with: t * inverse, where: l .< 0), out + i, count: n)
        }
    }
}

extension ElementwiseReference {
    /// Scalar sigmoid cross-entropy in Double: the ground truth for `ElementwiseLoss.sigmoidCrossEntropy`.
    public static func sigmoidCrossEntropy(
        logits: UnsafePointer<Float>, targets: UnsafePointer<Float>, gradient: UnsafeMutablePointer<Float>,
        count: Int, gradientScale: Float
    ) -> Double {
        var total = 0.0
        for i in 0..<count {
            let l = Double(logits[i]), x = Double(targets[i])
            total += max(l, 0) - l * x + log1p(exp(-Swift.abs(l)))
            let s = l >= 0 ? 1 / (1 + exp(-l)) : exp(l) / (1 + exp(l))
            gradient[i] = Float((s - x) * Double(gradientScale))
        }
        return total
    }

    /// Scalar Gaussian negative log-likelihood with mean σ(l), in Double.
    public static func gaussian(
        logits: UnsafePointer<Float>, targets: UnsafePointer<Float>, gradient: UnsafeMutablePointer<Float>,
        count: Int, sigma: Float, gradientScale: Float
    ) -> Double {
        let s2 = Double(sigma) * Double(sigma)
        var total = 0.0
        for i in 0..<count {
            let l = Double(logits[i]), x = Double(targets[i])
            let f = 1 / (1 + exp(-l))
            total += 0.5 * (x - f) * (x - f) / s2 + 0.5 * log(2 * Double.pi * s2)
            gradient[i] = Float((f - x) / s2 * f * (1 - f) * Double(gradientScale))
        }
        return total
    }
}
