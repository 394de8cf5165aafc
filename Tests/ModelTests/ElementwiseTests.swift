import Foundation
import Testing
@testable import Model

@Suite struct ElementwiseTests {
    @Test func vectorExpAndLog1pMatchLibm() {
        var worstExp = 0.0, worstLog = 0.0
        var x: Float = -87
        while x <= 0 {
            let v = VectorMath.expNonPositive(SIMD16(repeating: x))[0]
            worstExp = max(worstExp, abs(Double(v) - Foundation.exp(Double(x))) / Foundation.exp(Double(x)))
            x += 0.0137
        }
        var t: Float = 1e-30
        while t <= 1 {
            let v = VectorMath.log1pUnit(SIMD16(repeating: t))[0]
            worstLog = max(worstLog, abs(Double(v) - Foundation.log1p(Double(t))) / Foundation.log1p(Double(t)))
            t *= 1.013
        }
        // A few float ulps (ulp = 1.2e-7 relative).
        #expect(worstExp < 5e-7, "exp rel err \(worstExp)")
        #expect(worstLog < 5e-7, "log1p rel err \(worstLog)")
    }

    @Test func biasForwardBackwardMatchReference() {
        for (rows, cols) in [(1, 1), (3, 7), (5, 16), (4, 33), (2, 785)] {
            for activation in [Activation.identity, .relu] {
                let x = uniformArray(rows * cols, tag: 1, in: -1...1), bias = uniformArray(cols, tag: 2, in: -1...1)
                var fast = x, slow = x
                bias.withUnsafeBufferPointer { b in
                    fast.withUnsafeMutableBufferPointer { ElementwiseBias.forward($0.baseAddress!, bias: b.baseAddress!, rows: rows, cols: cols, activation: activation) }
                    slow.withUnsafeMutableBufferPointer { ElementwiseReference.biasForward($0.baseAddress!, bias: b.baseAddress!, rows: rows, cols: cols, activation: activation) }
                }
                #expect(fast == slow)
                let dy = uniformArray(rows * cols, tag: 3, in: -1...1)
                var dFast = dy, dSlow = dy
                var gFast = [Float](repeating: 0.5, count: cols), gSlow = gFast
                fast.withUnsafeBufferPointer { y in
                    dFast.withUnsafeMutableBufferPointer { d in gFast.withUnsafeMutableBufferPointer {
                        ElementwiseBias.backward(d.baseAddress!, output: y.baseAddress!, biasGradient: $0.baseAddress!, rows: rows, cols: cols, activation: activation) } }
                    dSlow.withUnsafeMutableBufferPointer { d in gSlow.withUnsafeMutableBufferPointer {
                        ElementwiseReference.biasBackward(d.baseAddress!, output: y.baseAddress!, biasGradient: $0.baseAddress!, rows: rows, cols: cols, activation: activation) } }
                }
                #expect(dFast == dSlow)
                for c in 0..<cols { #expect(abs(gFast[c] - gSlow[c]) <= 1e-6 * Float(rows)) }
            }
        }
    }

    @Test func sigmoidCrossEntropyMatchesDoubleReference() {
        for count in [1, 15, 16, 17, 784 * 3 + 5] {
            let logits = uniformArray(count, tag: 4, in: -30...30), targets = uniformArray(count, tag: 5)
            var gFast = [Float](repeating: 0, count: count), gSlow = gFast
            let (fast, slow) = logits.withUnsafeBufferPointer { l in targets.withUnsafeBufferPointer { x in
                (gFast.withUnsafeMutableBufferPointer { ElementwiseLoss.sigmoidCrossEntropy(logits: l.baseAddress!, targets: x.baseAddress!, gradient: $0.baseAddress!, count: count, gradientScale: 0.25) },
                 gSlow.withUnsafeMutableBufferPointer { ElementwiseReference.sigmoidCrossEntropy(logits: l.baseAddress!, targets: x.baseAddress!, gradient: $0.baseAddress!, count: count, gradientScale: 0.25) })
            } }
            #expect(abs(fast - slow) <= 1e-6 * slow, "count \(count): \(fast) vs \(slow)")
            for i in 0..<count { #expect(abs(gFast[i] - gSlow[i]) <= 1e-7) }
        }
    }

    @Test func gaussianLikelihoodMatchesDoubleReference() {
        let count = 101
        let logits = uniformArray(count, tag: 6, in: -8...8), targets = uniformArray(count, tag: 7)
        var gFast = [Float](repeating: 0, count: count), gSlow = gFast
        let (fast, slow) = logits.withUnsafeBufferPointer { l in targets.withUnsafeBufferPointer { x in
            (gFast.withUnsafeMutableBufferPointer { ElementwiseLoss.gaussian(logits: l.baseAddress!, targets: x.baseAddress!, gradient: $0.baseAddress!, count: count, sigma: 0.2, gradientScale: 1) },
             gSlow.withUnsafeMutableBufferPointer { ElementwiseReference.gaussian(logits: l.baseAddress!, targets: x.baseAddress!, gradient: $0.baseAddress!, count: count, sigma: 0.2, gradientScale: 1) })
        } }
        #expect(abs(fast - slow) <= 1e-5 * abs(slow))
        for i in 0..<count { #expect(abs(gFast[i] - gSlow[i]) <= 2e-6 * max(1, abs(gSlow[i]))) }
    }

    /// Logits ±100 (and ±1e4, 0): finite, and the exact closed-form values.
    @Test func sigmoidCrossEntropyAtExtremeLogits() {
        let logits: [Float] = [100, 100, 100, -100, -100, -100, 1e4, -1e4, 0, 0]
        let targets: [Float] = [1, 0, 0.5, 1, 0, 0.5, 0, 1, 0, 1]
        let expectedLoss: [Double] = [0, 100, 50, 100, 0, 50, 1e4, 1e4, log(2), log(2)]
        let expectedGradient: [Float] = [0, 1, 0.5, -1, 0, -0.5, 1, -1, 0.5, -0.5]
        for i in logits.indices {
            var g: Float = .nan
            var l = logits[i], x = targets[i]
            let loss = ElementwiseLoss.sigmoidCrossEntropy(logits: &l, targets: &x, gradient: &g, count: 1, gradientScale: 1)
            #expect(loss.isFinite && g.isFinite)
            // exp(−100) < 2⁻¹²⁶ is clamped to 2⁻¹²⁶ ≈ 1.2e−38: absolutely negligible next to the terms here.
            #expect(abs(loss - expectedLoss[i]) <= 1e-6 * max(1, expectedLoss[i]), "l=\(l) x=\(x): \(loss)")
            #expect(abs(g - expectedGradient[i]) <= 1e-7, "l=\(l) x=\(x): grad \(g)")
        }
        // Sixteen lanes of the same extremes in one vector.
        let many = [Float](repeating: -100, count: 16), ones = [Float](repeating: 1, count: 16)
        var grad = [Float](repeating: 0, count: 16)
        let total = grad.withUnsafeMutableBufferPointer { ElementwiseLoss.sigmoidCrossEntropy(logits: many, targets: ones, gradient: $0.baseAddress!, count: 16, gradientScale: 1) }
        #expect(total == 1600)
        #expect(grad.allSatisfy { $0 == -1 })
    }

    /// KL[N(μ, σ²) ‖ N(0, 1)] = ½(σ² + μ² − 1 − log σ²) and its gradients, against closed forms.
    @Test func gaussianKLClosedForms() {
        let mu: [Float] = [0, 3, -2, 0, 0, 0.5]
        let logVariance: [Float] = [0, 0, 0, -20, 20, 1e-4]
        var head = [Float]()
        for i in mu.indices { head += [mu[i], logVariance[i]] }   // rows of latent 1: [μ | log σ²]
        var gradient = [Float](repeating: .nan, count: head.count)
        let total = gradient.withUnsafeMutableBufferPointer {
            ElementwiseLatent.gaussianKL(head: head, headGradient: $0.baseAddress!, rows: mu.count, latent: 1, gradientScale: 2)
        }
        var expected = 0.0
        for i in mu.indices {
            let m = Double(mu[i]), lv = Double(logVariance[i])
            let kl = 0.5 * (exp(lv) + m * m - 1 - lv)
            expected += kl
            #expect(gradient[2 * i] == 2 * mu[i])
            #expect(abs(Double(gradient[2 * i + 1]) - 2 * 0.5 * (exp(lv) - 1)) <= 1e-6 * max(1, exp(lv)))
        }
        #expect(abs(total - expected) <= 1e-12 * expected)
        // Single cases that are exact: N(0,1) has zero KL; μ = 3 gives 4.5; log σ² = −20 gives ½(e⁻²⁰ + 19).
        #expect(ElementwiseLatent.gaussianKL(head: [0, 0], rows: 1, latent: 1) == 0)
        #expect(ElementwiseLatent.gaussianKL(head: [3, 0], rows: 1, latent: 1) == 4.5)
        #expect(abs(ElementwiseLatent.gaussianKL(head: [0, -20], rows: 1, latent: 1) - 0.5 * (exp(-20) + 19)) < 1e-12)
        // Near log σ² = 0 the term is second order (≈ lv²/4); expm1 keeps it accurate.
        let small = ElementwiseLatent.gaussianKL(head: [0, 1e-4], rows: 1, latent: 1)
        #expect(abs(small - 0.25 * 1e-8) < 1e-13)
    }

    @Test func adamMatchesReference() {
        let n = 37
        var pFast = uniformArray(n, tag: 10, in: -1...1), pSlow = pFast
        var mFast = [Float](repeating: 0, count: n), vFast = mFast, mSlow = mFast, vSlow = mFast
        for step in 1...5 {
            let g = uniformArray(n, tag: UInt64(20 + step), in: -1...1)
            ElementwiseAdam.update(parameters: &pFast, gradients: g, firstMoment: &mFast, secondMoment: &vFast, count: n,
                                   learningRate: 1e-2, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0.01, step: step)
            ElementwiseReference.adam(parameters: &pSlow, gradients: g, firstMoment: &mSlow, secondMoment: &vSlow, count: n,
                                      learningRate: 1e-2, beta1: 0.9, beta2: 0.999, epsilon: 1e-8, weightDecay: 0.01, step: step)
        }
        for i in 0..<n { #expect(abs(pFast[i] - pSlow[i]) <= 1e-6) }
    }

    /// Two steps worked by hand (PyTorch formula), θ₀ = 1, lr 0.1, defaults otherwise:
    /// t=1, g=0.5:   m=0.05, v=0.00025, m̂=0.5, v̂=0.25 → θ = 1 − 0.1·0.5/(0.5+1e−8) = 0.900000002
    /// t=2, g=−0.25: m=0.02, v=0.00031225, m̂=0.02/0.19=0.10526316, v̂=0.00031225/0.001999=0.15620310,
    ///               √v̂=0.39522538 → θ = 0.9 − 0.1·0.10526316/0.39522538 = 0.87336630
    /// With weight decay 0.1 at t=1: g = 0.5 + 0.1·1 = 0.6, m̂ = 0.6, √v̂ = 0.6 → θ = 0.9 as well;
    /// at t=2: g = −0.25 + 0.1·0.9 = −0.16 → m=0.038, v=0.00038524, m̂=0.2, v̂=0.19271636, θ=0.9−0.1·0.2/0.43899=0.85444137
    @Test func adamHandComputedSteps() {
        let theta = FlatBuffer([1]), gradient = FlatBuffer([0.5])
        let adam = Adam(parameterCount: 1, learningRate: 0.1)
        adam.update(parameters: theta, gradients: gradient)
        #expect(abs(theta[0] - 0.9) < 1e-7)
        #expect(adam.step == 1)
        #expect(abs(adam.firstMoment[0] - 0.05) <= 1e-7 * 0.05)
        #expect(abs(adam.secondMoment[0] - 0.00025) <= 1e-7 * 0.00025)
        gradient[0] = -0.25
        adam.update(parameters: theta, gradients: gradient)
        #expect(abs(theta[0] - 0.873_366_30) < 2e-7)

        let theta2 = FlatBuffer([1]), gradient2 = FlatBuffer([0.5])
        let decayed = Adam(parameterCount: 1, learningRate: 0.1, weightDecay: 0.1)
        decayed.update(parameters: theta2, gradients: gradient2)
        #expect(abs(theta2[0] - 0.9) < 1e-7)
        gradient2[0] = -0.25
        decayed.update(parameters: theta2, gradients: gradient2)
        let m = 0.9 * 0.06 + 0.1 * -0.16, v = 0.999 * 0.00036 + 0.001 * 0.0256
        let expected = 0.9 - 0.1 * (m / 0.19) / ((v / (1 - 0.999 * 0.999)).squareRoot() + 1e-8)
        #expect(abs(Double(theta2[0]) - expected) < 2e-7)
        #expect(abs(expected - 0.854_441_37) < 1e-7)
    }

    /// The node-shared-memory update: each rank updates its slice with the gradient summed over all ranks'
    /// buffers in rank order. Slices that tile the parameters must give, bit for bit, the full update on the
    /// pre-summed gradient (the allreduce path; for two sources the sums are the same floats), and leave
    /// everything outside their slice untouched.
    @Test(arguments: [1, 2, 3, 4])
    func adamSummingSlicesEqualsFullUpdateOnSummedGradient(sources count: Int) {
        let n = 1000
        let gradients = (0..<count).map { FlatBuffer(uniformArray(n, tag: UInt64(40 + $0), in: -1...1)) }
        let summed = FlatBuffer(count: n)
        for i in 0..<n { summed[i] = (1..<count).reduce(gradients[0][i]) { $0 + gradients[$1][i] } }
        let start = uniformArray(n, tag: 50, in: -1...1)
        let whole = FlatBuffer(start), sliced = FlatBuffer(start)
        let wholeAdam = Adam(parameterCount: n, learningRate: 1e-2, weightDecay: 0.01)
        let slicedAdams = (0..<3).map { _ in Adam(parameterCount: n, learningRate: 1e-2, weightDecay: 0.01) }
        let bounds = [0, 336, 672, n]  // cache-line multiples, as SharedMemoryExchange cuts them
        for _ in 1...3 {
            wholeAdam.update(parameters: whole, gradients: summed)
            for (part, adam) in slicedAdams.enumerated() {
                adam.update(parameters: sliced, summing: gradients.map { UnsafePointer($0.baseAddress) },
                            range: bounds[part]..<bounds[part + 1])
            }
        }
        #expect(whole.toArray() == sliced.toArray())
        // Each slice's moments are right inside it and untouched (zero) outside.
        for (part, adam) in slicedAdams.enumerated() {
            let inside = bounds[part]..<bounds[part + 1]
            for i in [0, 335, 336, 671, 672, n - 1] {
                if inside.contains(i) {
                    #expect(adam.firstMoment[i] == wholeAdam.firstMoment[i] && adam.secondMoment[i] == wholeAdam.secondMoment[i])
                } else {
                    #expect(adam.firstMoment[i] == 0 && adam.secondMoment[i] == 0)
                }
            }
        }
    }
}
