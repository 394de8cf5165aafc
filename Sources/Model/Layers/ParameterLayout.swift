/// Where each parameter tensor of a model lives inside the model's one `FlatBuffer`.
///
/// Layers are built against a layout: each asks for its weight and bias and keeps the returned offsets.
/// The gradient buffer and Adam's moments use the same layout, so `gradients[offset + i]` is the gradient
/// of `parameters[offset + i]`. Each tensor starts on a 16-float (64-byte) boundary so SIMD loads over a
/// tensor start aligned; the few padding floats stay zero forever (their gradient is always zero).
public struct ParameterLayout: Sendable, Equatable {
    /// One named tensor: `shape` is row-major (`[in, out]` for a weight, `[out]` for a bias).
    public struct Entry: Sendable, Equatable {
        public let name: String
        public let offset: Int
        public let shape: [Int]
        public var count: Int { shape.reduce(1, *) }
        /// Fan-in used by the default initialization, U(−1/√fanIn, 1/√fanIn) as PyTorch's nn.Linear.
        public let fanIn: Int
    }

    public private(set) var entries: [Entry] = []
    /// Total floats including alignment padding: the size of the flat buffers.
    public private(set) var count: Int = 0

    /// Floats per alignment unit (64 bytes).
    public static let alignment = 16

    public init() {}

    /// Reserves a tensor and returns its offset.
    public mutating func allocate(_ name: String, shape: [Int], fanIn: Int) -> Int {
        precondition(!entries.contains { $0.name == name }, "ParameterLayout: duplicate tensor \(name)")
        precondition(shape.allSatisfy { $0 > 0 }, "ParameterLayout: \(name) has empty shape \(shape)")
        let offset = count
        entries.append(Entry(name: name, offset: offset, shape: shape, fanIn: fanIn))
        let n = shape.reduce(1, *)
        count = (offset + n + ParameterLayout.alignment - 1) / ParameterLayout.alignment * ParameterLayout.alignment
        return offset
    }

    /// The tensor called `name`, if any.
    public func entry(named name: String) -> Entry? { entries.first { $0.name == name } }

    /// Number of real parameters (without padding).
    public var parameterCount: Int { entries.reduce(0) { $0 + $1.count } }

    /// PyTorch nn.Linear default initialization of every tensor: U(−1/√fanIn, 1/√fanIn), drawn from the
    /// counter-based RNG with stream `.initialization`, "example index" = tensor number, epoch 0. The
    /// result depends only on `seed` and the layout, never on rank.
    public func initialize(_ parameters: FlatBuffer, seed: UInt64) {
        precondition(parameters.count == count, "ParameterLayout.initialize: buffer has \(parameters.count), layout \(count)")
        parameters.zero()
        for (index, entry) in entries.enumerated() {
            let bound = 1 / Float(entry.fanIn).squareRoot()
            let target = parameters.baseAddress + entry.offset
            CounterRNG(seed: seed).fillUniform(
                target, count: entry.count, epoch: 0, example: UInt64(index), stream: .initialization)
            for i in 0..<entry.count { target[i] = (2 * target[i] - 1) * bound }
        }
    }
}
