import CVectorMath
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One Adam step (Kingma & Ba 2015) over flat arrays in a single pass, as PyTorch's `torch.optim.Adam`:
///
///     g ← g + wd·θ                      (optional coupled L2 weight decay, as Caffe / PyTorch `weight_decay`)
///     m ← β₁ m + (1 − β₁) g
///     v ← β₂ v + (1 − β₂) g²
///     θ ← θ − (lr / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + ε)
///
/// `step` is t ≥ 1 (the number of this update). The gradient buffer is read, not modified. Hyperparameters
/// are Double so that derived constants (1 − β, bias corrections) are exact before the one rounding to Float.
///
/// Cost: memory-bound — 7 floats of traffic per parameter (read θ, g, m, v; write θ, m, v); `vae-dist bench
/// train --profile` shows its share of a step ("optimizer").
public enum ElementwiseAdam {
    public static func update(
        parameters: UnsafeMutablePointer<Float>, gradients: UnsafePointer<Float>,
        firstMoment m: UnsafeMutablePointer<Float>, secondMoment v: UnsafeMutablePointer<Float>, count: Int,
        learningRate: Double, beta1: Double, beta2: Double, epsilon: Double, weightDecay: Double, step: Int
    ) {
        let constants = Constants(learningRate: learningRate, beta1: beta1, beta2: beta2, epsilon: epsilon,
                                  weightDecay: weightDecay, step: step)
        update(parameters: parameters, firstMoment: m, secondMoment: v, range: 0..<count, constants) { i, n in
            VectorMath.loadPartial(gradients + i, count: n)
        }
    }

    /// The same update over `range` only, with the gradient g = Σₛ sources[s] summed here, pairwise
    /// (`PairwiseSum`: the tree of `BatchLeaves` over the node's ranks), in the same pass. This is the reduction and the optimizer of a node-shared-memory step in one read of
    /// each gradient: every rank updates its own slice of the one shared parameter copy.
    public static func update(
        parameters: UnsafeMutablePointer<Float>, summing sources: UnsafeBufferPointer<UnsafePointer<Float>>,
        firstMoment m: UnsafeMutablePointer<Float>, secondMoment v: UnsafeMutablePointer<Float>, range: Range<Int>,
        learningRate: Double, beta1: Double, beta2: Double, epsilon: Double, weightDecay: Double, step: Int
    ) {
        precondition(!sources.isEmpty, "Adam: no gradient sources")
        let constants = Constants(learningRate: learningRate, beta1: beta1, beta2: beta2, epsilon: epsilon,
                                  weightDecay: weightDecay, step: step)
        switch sources.count {
        case 1:
            let g0 = sources[0]
            update(parameters: parameters, firstMoment: m, secondMoment: v, range: range, constants) { i, n in
                VectorMath.loadPartial(g0 + i, count: n)
            }
        case 2:
            let g0 = sources[0], g1 = sources[1]
            update(parameters: parameters, firstMoment: m, secondMoment: v, range: range, constants) { i, n in
                VectorMath.loadPartial(g0 + i, count: n) + VectorMath.loadPartial(g1 + i, count: n)
            }
        default:
            update(parameters: parameters, firstMoment: m, secondMoment: v, range: range, constants) { i, n in
                PairwiseSum.tree(sources.count) { VectorMath.loadPartial(sources[$0] + i, count: n) }
            }
        }
    }

    /// Step-dependent scalars, formed in Double and rounded once: 1 − β₂ from a Float β₂ would be off by 1e−5.
    struct Constants {
        let stepSize: Float, inverseRootCorrection2: Float, beta1: Float, beta2: Float
        let oneMinusBeta1: Float, oneMinusBeta2: Float, epsilon: Float, weightDecay: Float

        init(learningRate: Double, beta1: Double, beta2: Double, epsilon: Double, weightDecay: Double, step: Int) {
            precondition(step >= 1, "Adam step must be ≥ 1")
            let correction1 = 1 - pow(beta1, Double(step))
            let correction2 = 1 - pow(beta2, Double(step))
            stepSize = Float(learningRate / correction1)
            inverseRootCorrection2 = Float(1 / correction2.squareRoot())
            self.beta1 = Float(beta1)
            self.beta2 = Float(beta2)
            oneMinusBeta1 = Float(1 - beta1)
            oneMinusBeta2 = Float(1 - beta2)
            self.epsilon = Float(epsilon)
            self.weightDecay = Float(weightDecay)
        }
    }

    /// The one loop: 16 parameters at a time (`VectorMath.forEachBlock`), `gradient(i, n)` loads (or sums)
    /// the gradient of i..<i+n.
    @inline(__always)
    static func update(
        parameters: UnsafeMutablePointer<Float>, firstMoment m: UnsafeMutablePointer<Float>,
        secondMoment v: UnsafeMutablePointer<Float>, range: Range<Int>, _ c: Constants,
        gradient: (Int, Int) -> VectorMath.Vector
    ) {
        let b1 = VectorMath.Vector(repeating: c.beta1), b2 = VectorMath.Vector(repeating: c.beta2)
        VectorMath.forEachBlock(range) { i, n in
            let theta = VectorMath.loadPartial(parameters + i, count: n)
            var g = gradient(i, n)
            if c.weightDecay != 0 { g.addProduct(c.weightDecay, theta) }
            let mNew = (g * c.oneMinusBeta1).addingProduct(b1, VectorMath.loadPartial(m + i, count: n))
            let vNew = (g * g * c.oneMinusBeta2).addingProduct(b2, VectorMath.loadPartial(v + i, count: n))
            let denominator = vd_sqrt16(vNew) * c.inverseRootCorrection2 + c.epsilon
            VectorMath.storePartial(mNew, m + i, count: n)
            VectorMath.storePartial(vNew, v + i, count: n)
            VectorMath.storePartial(theta - c.stepSize * mNew / denominator, parameters + i, count: n)
        }
    }
}

extension ElementwiseReference {
    /// Scalar Adam in Double arithmetic (rounded to Float on store): ground truth for `ElementwiseAdam`.
    public static func adam(
        parameters: UnsafeMutablePointer<Float>, gradients: UnsafePointer<Float>,
        firstMoment m: UnsafeMutablePointer<Float>, secondMoment v: UnsafeMutablePointer<Float>, count: Int,
        learningRate: Double, beta1: Double, beta2: Double, epsilon: Double, weightDecay: Double, step: Int
    ) {
        for i in 0..<count {
            let g = Double(gradients[i]) + weightDecay * Double(parameters[i])
            let mi = beta1 * Double(m[i]) + (1 - beta1) * g
            let vi = beta2 * Double(v[i]) + (1 - beta2) * g * g
            let mHat = mi / (1 - pow(beta1, Double(step)))
            let vHat = vi / (1 - pow(beta2, Double(step)))
            m[i] = Float(mi); v[i] = Float(vi)
            parameters[i] = Float(Double(parameters[i]) - learningRate * mHat / (vHat.squareRoot() + epsilon))
        }
    }
}
