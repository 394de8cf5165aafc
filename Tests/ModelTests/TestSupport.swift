import Model

/// Deterministic test data from the counter RNG (stream `.generation`, "example" = `tag`).
func uniformArray(_ count: Int, tag: UInt64, in range: ClosedRange<Float> = 0...1) -> [Float] {
    var a = [Float](repeating: 0, count: count)
    a.withUnsafeMutableBufferPointer {
        CounterRNG(seed: 12345).fillUniform($0.baseAddress!, count: count, epoch: 7, example: tag, stream: .generation)
    }
    return a.map { range.lowerBound + (range.upperBound - range.lowerBound) * $0 }
}

func gaussianArray(_ count: Int, tag: UInt64) -> [Float] {
    var a = [Float](repeating: 0, count: count)
    a.withUnsafeMutableBufferPointer {
        CounterRNG(seed: 12345).fillGaussian($0.baseAddress!, count: count, epoch: 8, example: tag, stream: .generation)
    }
    return a
}

/// Runs `body` with a `MiniBatch` over arrays (kept alive for the call).
func withBatch<R>(
    pixels: [Float], labels: [UInt8], indices: [Int], epoch: Int, leaves: BatchLeaves? = nil, _ body: (MiniBatch) -> R
) -> R {
    pixels.withUnsafeBufferPointer { p in
        labels.withUnsafeBufferPointer { l in
            indices.withUnsafeBufferPointer { i in
                body(MiniBatch(count: indices.count, pixels: p.baseAddress!, labels: l.baseAddress,
                               exampleIndices: i.baseAddress!, epoch: epoch, leaves: leaves))
            }
        }
    }
}

/// Result of comparing an analytic gradient with central differences.
struct GradientCheckResult: CustomStringConvertible {
    var checked = 0
    var maxAbsoluteError = 0.0
    var maxRelativeError = 0.0      // |fd − analytic| / max(|fd|, floor)
    var worstIndex = -1
    var failures = 0
    var description: String {
        "checked \(checked), max abs err \(maxAbsoluteError), max rel err \(maxRelativeError) at \(worstIndex), failures \(failures)"
    }

    /// Records one comparison; it fails when |fd − analytic| > absolute + relative·|fd|.
    mutating func record(index: Int, analytic: Double, numeric: Double, absolute: Double, relative: Double,
                         floor: Double) {
        let error = abs(numeric - analytic)
        checked += 1
        maxAbsoluteError = max(maxAbsoluteError, error)
        let rel = error / max(abs(numeric), floor)
        if rel > maxRelativeError { maxRelativeError = rel; worstIndex = index }
        if error > absolute + relative * abs(numeric) { failures += 1 }
    }
}

/// Central difference of `loss` w.r.t. `values[i]`, using the actually representable step
/// (Float(θ+h) − Float(θ−h)) as the denominator so rounding of θ ± h adds no error.
func centralDifference(_ values: UnsafeMutablePointer<Float>, _ i: Int, h: Float, _ loss: () -> Double) -> Double {
    let original = values[i]
    let plus = original + h, minus = original - h
    values[i] = plus
    let lossPlus = loss()
    values[i] = minus
    let lossMinus = loss()
    values[i] = original
    return (lossPlus - lossMinus) / (Double(plus) - Double(minus))
}
