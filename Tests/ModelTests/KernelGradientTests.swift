import Testing
@testable import Model

/// Finite-difference checks of each kernel's backward against its own forward.
///
/// Method: a scalar L (the kernel's loss, or Σ w·y with fixed random w for kernels with array outputs) is
/// accumulated in Double from the Float forward; ∂L/∂θ is estimated by central differences with step h
/// whose denominator is the exactly representable Float(θ+h) − Float(θ−h). Error sources:
/// truncation h²·|L‴|/6 (zero for the piecewise-linear layers, whose pre-activations are kept ≥ 0.02 away from
/// the ReLU kink so ±h never crosses it) and Float rounding of the forward, ≈ 1e−7·|terms|/h. With h = 1e−2
/// both stay below ~1e−5·(scale of L), so a tolerance of 1e−4 absolute + 1e−3 relative is tight: a wrong
/// factor, sign, index or missing term is off by O(1).
@Suite struct KernelGradientTests {
    static let absoluteTolerance = 1e-4
    static let relativeTolerance = 1e-3

    @Test(arguments: [Activation.identity, .relu])
    func linearLayerWithTwoInputParts(_ activation: Activation) {
        let rows = 3, widthA = 5, widthB = 2, outputs = 6
        var layout = ParameterLayout()
        let layer = Linear("l", inputs: widthA + widthB, outputs: outputs, activation: activation, layout: &layout)
        let parameters = FlatBuffer(uniformArray(layout.count, tag: 30, in: -0.5...0.5))
        let gradients = FlatBuffer(count: layout.count)
        let a = FlatBuffer(uniformArray(rows * widthA, tag: 31, in: -1...1)), b = uniformArray(rows * widthB, tag: 32, in: -1...1)
        let w = uniformArray(rows * outputs, tag: 33, in: -1...1)
        var y = [Float](repeating: 0, count: rows * outputs)

        func forwardLoss() -> Double {
            y.withUnsafeMutableBufferPointer { out in
                layer.forwardPart(a.baseAddress, width: widthA, firstRow: 0, rows: rows, output: out.baseAddress!, parameters: parameters.baseAddress, accumulate: false)
                layer.forwardPart(b, width: widthB, firstRow: widthA, rows: rows, output: out.baseAddress!, parameters: parameters.baseAddress, accumulate: true)
                layer.finishForward(out.baseAddress!, rows: rows, parameters: parameters.baseAddress)
            }
            return zip(y, w).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        }
        // The data must keep every pre-activation ≥ 0.02 from the ReLU kink, so that ±h (which moves a
        // pre-activation by ≤ h·max|input| = 0.01) never crosses it. Checked, not assumed:
        var sameOffsets = ParameterLayout()   // built the same way, so the offsets equal `layer`'s
        let identity = Linear("l", inputs: widthA + widthB, outputs: outputs, activation: .identity, layout: &sameOffsets)
        var pre = [Float](repeating: 0, count: rows * outputs)
        for _ in 0..<50 {
            pre.withUnsafeMutableBufferPointer { out in
                identity.forwardPart(a.baseAddress, width: widthA, firstRow: 0, rows: rows, output: out.baseAddress!, parameters: parameters.baseAddress, accumulate: false)
                identity.forwardPart(b, width: widthB, firstRow: widthA, rows: rows, output: out.baseAddress!, parameters: parameters.baseAddress, accumulate: true)
                identity.finishForward(out.baseAddress!, rows: rows, parameters: parameters.baseAddress)
            }
            // Nudge the bias of any unit that sits near the kink for some row.
            let near = (0..<outputs).filter { c in (0..<rows).contains { abs(pre[$0 * outputs + c]) < 0.02 } }
            if near.isEmpty { break }
            for c in near { parameters[layer.biasOffset + c] += 0.013 }
        }
        #expect(pre.allSatisfy { abs($0) >= 0.02 }, "test data too close to the ReLU kink: \(pre)")

        _ = forwardLoss()
        var dy = w, dA = [Float](repeating: 0, count: rows * widthA)
        y.withUnsafeBufferPointer { out in
            dy.withUnsafeMutableBufferPointer { d in
                layer.backwardActivation(d.baseAddress!, output: out.baseAddress!, rows: rows, gradients: gradients.baseAddress)
                layer.backwardWeightsPart(a.baseAddress, width: widthA, firstRow: 0, rows: rows, preActivationGradient: d.baseAddress!, gradients: gradients.baseAddress)
                layer.backwardWeightsPart(b, width: widthB, firstRow: widthA, rows: rows, preActivationGradient: d.baseAddress!, gradients: gradients.baseAddress)
                dA.withUnsafeMutableBufferPointer {
                    layer.backwardInputPart(preActivationGradient: d.baseAddress!, width: widthA, firstRow: 0, rows: rows, inputGradient: $0.baseAddress!, parameters: parameters.baseAddress)
                }
            }
        }
        var result = GradientCheckResult()
        let realParameters = [layer.weightOffset..<(layer.weightOffset + (widthA + widthB) * outputs),
                              layer.biasOffset..<(layer.biasOffset + outputs)].joined()
        for i in realParameters {
            let fd = centralDifference(parameters.baseAddress, i, h: 1e-2, forwardLoss)
            result.record(index: i, analytic: Double(gradients[i]), numeric: fd, absolute: Self.absoluteTolerance,
                          relative: Self.relativeTolerance, floor: 1e-2)
        }
        for i in 0..<(rows * widthA) {
            let fd = centralDifference(a.baseAddress, i, h: 1e-2, forwardLoss)
            result.record(index: 10_000 + i, analytic: Double(dA[i]), numeric: fd, absolute: Self.absoluteTolerance,
                          relative: Self.relativeTolerance, floor: 1e-2)
        }
        print("linear \(activation): \(result)")
        #expect(result.failures == 0, "\(result)")
        #expect(result.checked == (widthA + widthB) * outputs + outputs + rows * widthA)
    }

    @Test func sigmoidCrossEntropyGradient() {
        let count = 40
        let logits = FlatBuffer(uniformArray(count, tag: 40, in: -6...6))
        let targets = uniformArray(count, tag: 41)
        var gradient = [Float](repeating: 0, count: count)
        func loss() -> Double {
            var scratch = [Float](repeating: 0, count: count)
            return ElementwiseLoss.sigmoidCrossEntropy(logits: logits.baseAddress, targets: targets, gradient: &scratch, count: count, gradientScale: 1)
        }
        _ = ElementwiseLoss.sigmoidCrossEntropy(logits: logits.baseAddress, targets: targets, gradient: &gradient, count: count, gradientScale: 1)
        var result = GradientCheckResult()
        for i in 0..<count {
            let fd = centralDifference(logits.baseAddress, i, h: 1e-2, loss)
            result.record(index: i, analytic: Double(gradient[i]), numeric: fd, absolute: Self.absoluteTolerance,
                          relative: Self.relativeTolerance, floor: 1e-2)
        }
        print("sigmoid CE: \(result)")
        #expect(result.failures == 0, "\(result)")
    }

    @Test func gaussianLikelihoodGradient() {
        let count = 40
        let logits = FlatBuffer(uniformArray(count, tag: 42, in: -4...4))
        let targets = uniformArray(count, tag: 43)
        var gradient = [Float](repeating: 0, count: count)
        func loss() -> Double {
            var scratch = [Float](repeating: 0, count: count)
            return ElementwiseLoss.gaussian(logits: logits.baseAddress, targets: targets, gradient: &scratch, count: count, sigma: 0.5, gradientScale: 1)
        }
        _ = ElementwiseLoss.gaussian(logits: logits.baseAddress, targets: targets, gradient: &gradient, count: count, sigma: 0.5, gradientScale: 1)
        var result = GradientCheckResult()
        for i in 0..<count {
            let fd = centralDifference(logits.baseAddress, i, h: 1e-2, loss)
            result.record(index: i, analytic: Double(gradient[i]), numeric: fd, absolute: Self.absoluteTolerance,
                          relative: Self.relativeTolerance, floor: 1e-2)
        }
        print("gaussian: \(result)")
        #expect(result.failures == 0, "\(result)")
    }

    /// L = KL(head) + Σ w·z(head, ε): checks the KL kernel and the reparameterization backward together.
    @Test func latentKLAndReparameterizationGradient() {
        let rows = 3, latent = 4
        let head = FlatBuffer(uniformArray(rows * 2 * latent, tag: 44, in: -1.5...1.5))
        let epsilon = gaussianArray(rows * latent, tag: 45), w = uniformArray(rows * latent, tag: 46, in: -1...1)
        func loss() -> Double {
            var z = [Float](repeating: 0, count: rows * latent)
            ElementwiseLatent.reparameterizeForward(head: head.baseAddress, epsilon: epsilon, z: &z, rows: rows, latent: latent)
            return ElementwiseLatent.gaussianKL(head: head.baseAddress, rows: rows, latent: latent)
                + zip(z, w).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        }
        var gradient = [Float](repeating: 0, count: head.count)
        _ = ElementwiseLatent.gaussianKL(head: head.baseAddress, headGradient: &gradient, rows: rows, latent: latent, gradientScale: 1)
        ElementwiseLatent.reparameterizeBackward(head: head.baseAddress, epsilon: epsilon, zGradient: w, headGradient: &gradient, rows: rows, latent: latent)
        var result = GradientCheckResult()
        for i in 0..<head.count {
            let fd = centralDifference(head.baseAddress, i, h: 1e-2, loss)
            result.record(index: i, analytic: Double(gradient[i]), numeric: fd, absolute: Self.absoluteTolerance,
                          relative: Self.relativeTolerance, floor: 1e-2)
        }
        print("latent: \(result)")
        #expect(result.failures == 0, "\(result)")
    }
}
