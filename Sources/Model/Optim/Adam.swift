/// Adam over the flat parameter buffer (Kingma & Ba 2015), PyTorch's defaults and formula
/// (see `ElementwiseAdam`). The optimizer state is two flat buffers (m, v) in the parameter layout plus
/// the step count. Every rank applies the same update to the gradient summed over ranks: to its own
/// replica (allreduce exchange) or to its slice of one node-shared copy. `firstMoment`, `secondMoment`
/// and `step` are exposed for checkpoints.
public final class Adam: @unchecked Sendable {
    public var learningRate: Double
    public var beta1: Double
    public var beta2: Double
    public var epsilon: Double
    /// Coupled L2 weight decay as in Caffe / PyTorch `weight_decay`: g ← g + wd·θ before the moments.
    public var weightDecay: Double
    public let firstMoment: FlatBuffer
    public let secondMoment: FlatBuffer
    /// Number of updates applied so far (t of the bias correction; the next update uses t = step + 1).
    public var step: Int

    public convenience init(parameterCount: Int, learningRate: Double = 1e-3, beta1: Double = 0.9,
                            beta2: Double = 0.999, epsilon: Double = 1e-8, weightDecay: Double = 0) {
        self.init(firstMoment: FlatBuffer(count: parameterCount), secondMoment: FlatBuffer(count: parameterCount),
                  learningRate: learningRate, beta1: beta1, beta2: beta2, epsilon: epsilon, weightDecay: weightDecay)
    }

    /// Adam over moment buffers the caller provides (zeroed, or restored), e.g. in node-shared memory.
    public init(firstMoment: FlatBuffer, secondMoment: FlatBuffer, learningRate: Double = 1e-3, beta1: Double = 0.9,
                beta2: Double = 0.999, epsilon: Double = 1e-8, weightDecay: Double = 0) {
        precondition(firstMoment.count == secondMoment.count, "Adam: moment sizes differ")
        self.learningRate = learningRate
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
        self.firstMoment = firstMoment
        self.secondMoment = secondMoment
        step = 0
    }

    /// One update: θ ← Adam(θ, g). Gradients are read, not cleared.
    public func update(parameters: FlatBuffer, gradients: FlatBuffer) {
        precondition(parameters.count == firstMoment.count && gradients.count == firstMoment.count,
                     "Adam: buffer sizes \(parameters.count), \(gradients.count) != \(firstMoment.count)")
        step += 1
        ElementwiseAdam.update(
            parameters: parameters.baseAddress, gradients: gradients.baseAddress, firstMoment: firstMoment.baseAddress,
            secondMoment: secondMoment.baseAddress, count: parameters.count, learningRate: learningRate, beta1: beta1,
            beta2: beta2, epsilon: epsilon, weightDecay: weightDecay, step: step)
    }

    /// One update of `range` only, with the gradient summed over `sources` (every rank's gradient buffer,
    /// in rank order) in the same pass: the node-shared-memory step, where each rank updates its slice of
    /// the one parameter copy. Every rank calls it once per step, so `step` advances everywhere alike.
    public func update(parameters: FlatBuffer, summing sources: [UnsafePointer<Float>], range: Range<Int>) {
        var remaining: Range<Int>? = range
        update(parameters: parameters, summing: sources) { defer { remaining = nil }; return remaining.map { ($0, nil) } }
    }

    /// One update of the ranges `nextPart` yields until it returns nil: the node-shared-memory step, where
    /// the ranks take pieces as they come (`SharedUpdateQueue`). Each range's summed gradient lies in every
    /// source, to be added as above (`source` nil), or already summed in `sources[source]` alone (a weight
    /// gradient the ranks of a node computed in bands, each over the whole batch). Every rank calls it once
    /// per step, so `step` advances everywhere alike.
    public func update(parameters: FlatBuffer, summing sources: [UnsafePointer<Float>],
                       parts nextPart: () -> (range: Range<Int>, source: Int?)?) {
        step += 1
        sources.withUnsafeBufferPointer { sources in
            while let (range, source) = nextPart() {
                precondition(parameters.count == firstMoment.count && range.lowerBound >= 0 && range.upperBound <= parameters.count,
                             "Adam: range \(range) outside \(parameters.count) parameters")
                ElementwiseAdam.update(
                    parameters: parameters.baseAddress,
                    summing: source.map { UnsafeBufferPointer(rebasing: sources[$0...$0]) } ?? sources,
                    firstMoment: firstMoment.baseAddress, secondMoment: secondMoment.baseAddress, range: range,
                    learningRate: learningRate, beta1: beta1, beta2: beta2, epsilon: epsilon, weightDecay: weightDecay,
                    step: step)
            }
        }
    }
}
