/// Builds the CVAE's / regressor's condition vectors X for a batch (tutorial §5).
public enum ConditionBuilder {
    /// Writes `rows × conditioning.size(inputSize)` floats to `out`.
    ///
    /// - `.pixelColumn`: pixel (row k, column c) of each image becomes 1 with probability equal to its
    ///   intensity, using uniform u_k from the counter RNG at `(seed, epoch, exampleIndices[r], stream)`:
    ///   X_k = u_k < intensity (so 0 → always 0, 1 → always 1). Redrawn each epoch, independent of rank.
    /// - `.label`: one-hot of `labels[r]` (labels ≥ classes trap).
    public static func fill(
        _ out: UnsafeMutablePointer<Float>, conditioning: Conditioning, rows: Int, inputSize: Int,
        pixels: UnsafePointer<Float>, labels: UnsafePointer<UInt8>?, exampleIndices: UnsafePointer<Int>,
        epoch: Int, rng: CounterRNG, stream: NoiseStream
    ) {
        switch conditioning {
        case .none:
            return
        case .pixelColumn(let column, let width):
            let height = inputSize / width
            for r in 0..<rows {
                let row = out + r * height
                rng.fillUniform(row, count: height, epoch: epoch, example: UInt64(exampleIndices[r]), stream: stream)
                let image = pixels + r * inputSize
                for k in 0..<height { row[k] = row[k] < image[k * width + column] ? 1 : 0 }
            }
        case .label(let classes):
            guard let labels else { preconditionFailure("ConditionBuilder: label conditioning needs labels") }
            (out).initialize(repeating: 0, count: rows * classes)
            for r in 0..<rows {
                let label = Int(labels[r])
                precondition(label < classes, "ConditionBuilder: label \(label) ≥ \(classes) classes")
                out[r * classes + label] = 1
            }
        }
    }
}
