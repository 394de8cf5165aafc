/// Layer widths of an encoder/decoder pair: `input → encoderHidden… → (μ, log σ²) ∈ ℝ^{2·latent}` and
/// `latent → decoderHidden… → input` (logits). Every hidden layer is ReLU; the head and the output layer
/// are linear (the output feeds a sigmoid inside the loss).
public struct Architecture: Sendable, Equatable, CustomStringConvertible {
    public var inputSize: Int
    public var encoderHidden: [Int]
    public var latentSize: Int
    public var decoderHidden: [Int]

    /// `decoderHidden` defaults to the encoder's widths mirrored.
    public init(inputSize: Int = 784, encoderHidden: [Int], latentSize: Int, decoderHidden: [Int]? = nil) {
        precondition(inputSize > 0 && latentSize > 0, "Architecture: sizes must be positive")
        precondition((encoderHidden + (decoderHidden ?? [])).allSatisfy { $0 > 0 }, "Architecture: widths must be positive")
        self.inputSize = inputSize
        self.encoderHidden = encoderHidden
        self.latentSize = latentSize
        self.decoderHidden = decoderHidden ?? encoderHidden.reversed()
    }

    /// The PyTorch example (`pytorch/examples` vae/main.py): 784-400, latent 20, decoder 20-400-784.
    public static let classic = Architecture(encoderHidden: [400], latentSize: 20)

    /// The tutorial's model (§4.1, widened Caffe MNIST autoencoder): 784-1000-500-250, latent 30, mirrored.
    public static let deep = Architecture(encoderHidden: [1000, 500, 250], latentSize: 30)

    /// A preset by name (`classic`, `deep`), or hidden widths written `"1000-500-250"` (decoder mirrored;
    /// `""` means no hidden layer). Returns nil for anything else.
    public static func parse(_ text: String, latentSize: Int? = nil, inputSize: Int = 784) -> Architecture? {
        var result: Architecture
        switch text {
        case "classic": result = .classic
        case "deep": result = .deep
        default:
            guard let widths = LayerWidths.parse(text) else { return nil }
            result = Architecture(inputSize: inputSize, encoderHidden: widths, latentSize: latentSize ?? 20)
        }
        result.inputSize = inputSize
        if let latentSize {
            guard latentSize > 0 else { return nil }
            result.latentSize = latentSize
        }
        return result
    }

    /// `784-1000-500-250-(2x30) | 30-250-500-1000-784`
    public var description: String {
        let encoder = LayerWidths.text([inputSize] + encoderHidden)
        let decoder = LayerWidths.text([latentSize] + decoderHidden + [inputSize])
        return "\(encoder)-(2x\(latentSize)) | \(decoder)"
    }
}

/// What the network is conditioned on (the CVAE's X and the regressor's input, tutorial §5).
public enum Conditioning: Sendable, Equatable {
    /// Unconditional (plain VAE).
    case none
    /// One pixel column of the image (default: column 14 of 28, the "middle column", 28 pixels),
    /// stochastically binarized with P(1) = intensity, redrawn on every pass from the counter RNG.
    case pixelColumn(column: Int, imageWidth: Int)
    /// One-hot class label.
    case label(classes: Int)

    /// The tutorial's condition: the middle column of a 28×28 image.
    public static let middleColumn = Conditioning.pixelColumn(column: 14, imageWidth: 28)
    /// One-hot of the 10 MNIST classes.
    public static let digitLabel = Conditioning.label(classes: 10)

    /// Width of the condition vector for images of `inputSize` pixels.
    public func size(inputSize: Int) -> Int {
        switch self {
        case .none: return 0
        case .pixelColumn(_, let width): return inputSize / width
        case .label(let classes): return classes
        }
    }
}

/// How P(X|z) reads the pixels.
public enum OutputDistribution: Sendable, Equatable {
    /// Bernoulli / sigmoid cross-entropy on continuous pixels in [0, 1] (§4.1).
    case bernoulli
    /// Gaussian N(σ(logit), σ² I) with fixed σ (§2.4.3): σ trades reconstruction against KL.
    case gaussian(sigma: Float)
}

/// Which model.
public enum NetworkKind: String, Sendable, Equatable, CaseIterable {
    case vae, cvae, regressor
}

/// Everything needed to build a network (and to check that two ranks built the same one).
public struct NetworkSpec: Sendable, Equatable {
    public var kind: NetworkKind
    public var architecture: Architecture
    /// Ignored for `.vae`; must not be `.none` for `.cvae` and `.regressor`.
    public var conditioning: Conditioning
    public var output: OutputDistribution
    /// Widths of the condition tower (`ConditionTower`, tutorial §5: `[1000, 500, 250]`), whose ReLU
    /// features replace the raw condition at the encoder's and decoder's first layers. Empty (the
    /// default) feeds the raw condition; always empty for `.vae`.
    public var conditionTower: [Int]

    public init(kind: NetworkKind, architecture: Architecture, conditioning: Conditioning = .middleColumn,
                output: OutputDistribution = .bernoulli, conditionTower: [Int] = []) {
        self.kind = kind
        self.architecture = architecture
        self.conditioning = kind == .vae ? .none : conditioning
        self.output = output
        self.conditionTower = kind == .vae ? [] : conditionTower
        precondition(kind == .vae || self.conditioning != .none, "NetworkSpec: \(kind) needs a condition")
        precondition(conditionTower.allSatisfy { $0 > 0 }, "NetworkSpec: condition tower widths must be positive")
        if case .pixelColumn(let column, let width) = self.conditioning {
            precondition(column >= 0 && column < width && architecture.inputSize % width == 0,
                         "NetworkSpec: column \(column) of width \(width) does not fit \(architecture.inputSize) pixels")
        }
    }
}
