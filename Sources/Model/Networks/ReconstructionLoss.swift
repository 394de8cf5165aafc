/// −log P(X|z) for the chosen output distribution, summed, with its logit gradient (see `ElementwiseLoss`).
public enum ReconstructionLoss {
    public static func evaluate(
        _ output: OutputDistribution, logits: UnsafePointer<Float>, targets: UnsafePointer<Float>,
        gradient: UnsafeMutablePointer<Float>, count: Int, gradientScale: Float
    ) -> Double {
        switch output {
        case .bernoulli:
            return ElementwiseLoss.sigmoidCrossEntropy(logits: logits, targets: targets, gradient: gradient,
                                                       count: count, gradientScale: gradientScale)
        case .gaussian(let sigma):
            return ElementwiseLoss.gaussian(logits: logits, targets: targets, gradient: gradient, count: count,
                                            sigma: sigma, gradientScale: gradientScale)
        }
    }
}

/// Small shared pieces of the inference entry points (not hot paths).
enum InferenceHelpers {
    /// Rows processed at once by inference calls.
    static let chunkRows = 256

    static func rows(_ floats: Int, width: Int) -> Int {
        precondition(floats % width == 0, "array of \(floats) floats is not a whole number of \(width)-wide rows")
        return floats / width
    }

    static func chunks(_ count: Int, _ body: (_ start: Int, _ rows: Int) -> Void) {
        var start = 0
        while start < count {
            let rows = min(chunkRows, count - start)
            body(start, rows)
            start += rows
        }
    }

    static func conditions(
        _ conditioning: Conditioning, inputSize: Int, pixels: [Float], labels: [UInt8], exampleIndices: [Int],
        epoch: Int, rng: CounterRNG, stream: NoiseStream
    ) -> [Float] {
        let width = conditioning.size(inputSize: inputSize)
        let count = exampleIndices.count
        if width == 0 { return [] }
        switch conditioning {
        case .pixelColumn: precondition(pixels.count >= count * inputSize, "conditions: too few pixels")
        case .label: precondition(labels.count >= count, "conditions: too few labels")
        case .none: break
        }
        var out = [Float](repeating: 0, count: count * width)
        let noPixels: [Float] = [0]
        let source = pixels.isEmpty ? noPixels : pixels
        out.withUnsafeMutableBufferPointer { o in
            source.withUnsafeBufferPointer { x in
                labels.withUnsafeBufferPointer { l in
                    exampleIndices.withUnsafeBufferPointer { e in
                        ConditionBuilder.fill(o.baseAddress!, conditioning: conditioning, rows: count,
                                              inputSize: inputSize, pixels: x.baseAddress!, labels: l.baseAddress,
                                              exampleIndices: e.baseAddress!, epoch: epoch, rng: rng, stream: stream)
                    }
                }
            }
        }
        return out
    }
}
