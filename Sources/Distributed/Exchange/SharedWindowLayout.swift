import Model

/// How the exchanges that share memory divide their window: [parameters | first moment | second moment |
/// gradients of rank 0 | ... of rank k−1], every part starting on a cache line, k the ranks sharing it
/// (all ranks for `SharedMemoryExchange`, one host's for `HierarchicalExchange`); and the slice of the
/// parameters each rank reduces and updates.
struct SharedWindowLayout {
    let parameters: FlatBuffer
    let adam: Adam
    /// Every sharing rank's gradient segment, in rank order.
    let gradientSegments: [UnsafePointer<Float>]
    /// This rank's segment: where its backward pass writes.
    let gradients: FlatBuffer
    /// The parameters this rank reduces and updates: its 1/k, cut at cache-line (16-float) boundaries.
    let slice: Range<Int>

    /// Floats between the starts of two parts.
    static func stride(parameterCount: Int) -> Int { (max(parameterCount, 1) + 15) / 16 * 16 }

    /// Floats the window needs for `ranks` sharing ranks.
    static func floats(parameterCount: Int, ranks: Int) -> Int { (3 + ranks) * stride(parameterCount: parameterCount) }

    init(memory: NodeSharedMemory, parameterCount: Int, learningRate: Double, weightDecay: Double) {
        let stride = Self.stride(parameterCount: parameterCount)
        func part(_ index: Int) -> FlatBuffer {
            FlatBuffer(borrowing: memory.base + index * stride, count: parameterCount, owner: memory)
        }
        parameters = part(0)
        adam = Adam(firstMoment: part(1), secondMoment: part(2), learningRate: learningRate, weightDecay: weightDecay)
        gradientSegments = (0..<memory.size).map { UnsafePointer(memory.base + (3 + $0) * stride) }
        gradients = part(3 + memory.rank)
        slice = Self.slice(of: memory.rank, ranks: memory.size, count: parameterCount)
    }

    /// Rank `rank`'s part of `0..<count`: n nearly equal ranges whose inner bounds are multiples of 16.
    static func slice(of rank: Int, ranks: Int, count: Int) -> Range<Int> {
        func bound(_ r: Int) -> Int { r == ranks ? count : min(count, (count * r / ranks) / 16 * 16) }
        return bound(rank)..<bound(rank + 1)
    }
}
