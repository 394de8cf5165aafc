import Model

/// Times every matrix product of one training step of a network, one GEMM at a time.
///
/// A linear layer with weight `W[in × out]` and a per-rank batch `B` does three products per step
/// (see GEMM.swift): forward `X·W` = `gemm(m: B, n: out, k: in)`, weight gradient `Xᵀ·dY` =
/// `gemmTN(m: in, n: out, k: B)` and input gradient `dY·Wᵀ` = `gemmNT(m: B, n: in, k: out)` — the
/// last one skipped for the encoder's first layer, whose input is the data. Each GEMM is timed alone
/// on its own operands (warm caches, as in a training loop that reuses its buffers), overwriting `C`
/// (`accumulate: false`, like numpy's `matmul(..., out=c)`; accumulating adds one read of `C`).
///
/// Used by `vae-dist bench kernels` and compared with numpy/OpenBLAS by scripts/bench/kernels-vs-numpy.
public enum KernelBenchmark {
    /// One linear layer, `inputs → outputs`.
    public struct Layer: Sendable, Hashable {
        public var inputs: Int
        public var outputs: Int
        /// False for the encoder's first layer: nothing upstream needs `dX`.
        public var needsInputGradient: Bool

        public init(_ inputs: Int, _ outputs: Int, needsInputGradient: Bool = true) {
            self.inputs = inputs
            self.outputs = outputs
            self.needsInputGradient = needsInputGradient
        }

        /// `"784->400"`: ASCII so it survives every terminal and JSON consumer.
        public var label: String { "\(inputs)->\(outputs)" }
    }

    /// A network as the list of its linear layers in forward order.
    public struct Architecture: Sendable, Hashable {
        public var name: String
        public var layers: [Layer]

        public init(name: String, layers: [Layer]) {
            self.name = name
            self.layers = layers
        }

        /// Encoder widths then decoder widths; the encoder's last layer outputs μ and log σ² fused
        /// (2 × latent), the decoder starts from the latent `z`.
        public init(name: String, encoder: [Int], decoder: [Int]) {
            var layers: [Layer] = []
            for (i, pair) in zip(encoder, encoder.dropFirst()).enumerated() {
                layers.append(Layer(pair.0, pair.1, needsInputGradient: i > 0))
            }
            for pair in zip(decoder, decoder.dropFirst()) { layers.append(Layer(pair.0, pair.1)) }
            self.init(name: name, layers: layers)
        }

        /// The layers of one of the model's architectures (`Model.Architecture`): the encoder ends in the fused
        /// head (2 × latent), the decoder starts from z.
        public init(name: String, _ model: Model.Architecture) {
            self.init(name: name, encoder: [model.inputSize] + model.encoderHidden + [2 * model.latentSize],
                      decoder: [model.latentSize] + model.decoderHidden + [model.inputSize])
        }

        /// `--arch classic` (784→400→2×20, 20→400→784) and `--arch deep` (784→1000→500→250→2×30, mirrored).
        public static let classic = Architecture(name: "classic", Model.Architecture.classic)
        public static let deep = Architecture(name: "deep", Model.Architecture.deep)
        public static let presets = [classic, deep]

        public static func named(_ name: String) -> Architecture? { presets.first { $0.name == name } }
    }

    public typealias Kind = GEMMKind

    /// One GEMM of a training step.
    public struct Product: Sendable, Hashable {
        public var layerIndex: Int
        public var layer: Layer
        public var kind: Kind
        public var m: Int, n: Int, k: Int

        public var flops: Double { 2 * Double(m) * Double(n) * Double(k) }
    }

    public struct Timing: Sendable {
        public var product: Product
        /// Seconds per call: fastest and median of `samples` timed calls.
        public var best: Double
        public var median: Double
        public var samples: Int

        public var gflopsBest: Double { product.flops / best / 1e9 }
        public var gflopsMedian: Double { product.flops / median / 1e9 }
    }

    public struct StepReport: Sendable {
        public var kernels: KernelPath
        public var architecture: String
        public var batch: Int
        public var timings: [Timing]

        /// Sum of the fastest times of all products of the step.
        public var totalBest: Double { timings.reduce(0) { $0 + $1.best } }
        public var totalMedian: Double { timings.reduce(0) { $0 + $1.median } }
        public var totalFlops: Double { timings.reduce(0) { $0 + $1.product.flops } }
        /// Step throughput: all FLOPs over the summed best times.
        public var gflopsBest: Double { totalFlops / totalBest / 1e9 }
        public var gflopsMedian: Double { totalFlops / totalMedian / 1e9 }
    }

    /// Every GEMM of one step in execution order: forward through all layers, then backward from
    /// the last layer (weight gradient, then input gradient).
    public static func products(of architecture: Architecture, batch: Int) -> [Product] {
        let layers = Array(architecture.layers.enumerated())
        var list = layers.map { i, l in
            Product(layerIndex: i, layer: l, kind: .forward, m: batch, n: l.outputs, k: l.inputs)
        }
        for (i, l) in layers.reversed() {
            list.append(Product(layerIndex: i, layer: l, kind: .weightGradient, m: l.inputs, n: l.outputs, k: batch))
            if l.needsInputGradient {
                list.append(Product(layerIndex: i, layer: l, kind: .inputGradient, m: batch, n: l.inputs, k: l.outputs))
            }
        }
        return list
    }

    /// Times all products of one step with `kernels` (by default those `GEMMDispatch` chose).
    /// `minimumSeconds` of timed calls per product (after warm-up).
    /// `leaves` > 1 times the weight gradients in `BatchLeaves` order (`--reduction-order canonical`).
    public static func run(
        _ architecture: Architecture, batch: Int, kernels: GEMMDispatch.KernelSet = GEMMDispatch.active,
        minimumSeconds: Double = 0.2, leaves: Int = 1
    ) -> StepReport {
        StepReport(kernels: kernels.path, architecture: architecture.name, batch: batch,
                   timings: products(of: architecture, batch: batch).map {
                       time($0, kernels: kernels, minimumSeconds: minimumSeconds, leaves: leaves)
                   })
    }

    /// Times one product: a few warm-up calls, then single calls timed one by one until their total
    /// reaches `minimumSeconds` (and at least 5 calls).
    public static func time(
        _ product: Product, kernels: GEMMDispatch.KernelSet = GEMMDispatch.active, minimumSeconds: Double = 0.2,
        leaves: Int = 1
    ) -> Timing {
        let m = product.m, n = product.n, k = product.k
        let (aCount, bCount) = product.kind == .inputGradient ? (m * k, n * k) : (m * k, k * n)
        let a = filledBuffer(max(aCount, 1), seed: 1), b = filledBuffer(max(bCount, 1), seed: 2)
        let c = filledBuffer(max(m * n, 1), seed: 3)
        defer { for p in [a, b, c] { UnsafeMutableRawPointer(p).deallocate() } }
        let boundaries = (0...leaves).map { $0 * k / leaves }
        let call: () -> Void = switch product.kind {
        case .forward: { kernels.gemm(a, b, c, m, n, k, false) }
        case .weightGradient where leaves > 1:
            { boundaries.withUnsafeBufferPointer { kernels.gemmTNLeaves(a, b, c, m, n, $0, false, nil, nil) } }
        case .weightGradient: { kernels.gemmTN(a, b, c, m, n, k, false) }
        case .inputGradient: { kernels.gemmNT(a, b, c, m, n, k, false) }
        }
        let clock = ContinuousClock()
        let warmUpEnd = clock.now.advanced(by: .milliseconds(20))
        var warmUps = 0
        while warmUps < 3 || clock.now < warmUpEnd { call(); warmUps += 1 }
        var samples: [Double] = []
        var total = 0.0
        while total < minimumSeconds || samples.count < 5 {
            let seconds = clock.measure(call).seconds
            samples.append(seconds)
            total += seconds
        }
        samples.sort()
        return Timing(product: product, best: samples[0], median: samples.median!, samples: samples.count)
    }

    /// 64-byte aligned operands with values in [-1, 1) (no zeros or denormals to flatter the timing).
    private static func filledBuffer(_ count: Int, seed: UInt64) -> UnsafeMutablePointer<Float> {
        let raw = UnsafeMutableRawPointer.allocate(byteCount: count * MemoryLayout<Float>.stride, alignment: 64)
        let buffer = raw.bindMemory(to: Float.self, capacity: count)
        var state = seed &* 0x9E37_79B9_7F4A_7C15
        for i in 0..<count {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            buffer[i] = Float(state >> 40) * 0x1p-23 - 1
        }
        return buffer
    }
}
