import Testing
@testable import Model

/// What backward tells an overlapping exchange (`MiniBatch.gradientsReady`) must be true when it is told:
/// a part reported is final, so an exchange that sends it at once sends the step's gradient, and backward
/// no longer reads its parameters, so the shared-memory exchange may update them at once.
struct GradientsReadyTests {
    static let kinds = [NetworkKind.vae, .cvae, .regressor]
    /// One leaf (the weight gradient in one pass: each weight reported whole) and four (in bands of rows).
    static let leafCounts = [1, 4]

    @Test("every parameter is reported once, after its gradient is final and its last read; the end of the buffer first",
          arguments: kinds, leafCounts)
    func reportsFinalGradients(_ kind: NetworkKind, leafCount: Int) {
        let architecture = Architecture(inputSize: 784, encoderHidden: [48, 24], latentSize: 5)
        let network = makeNetwork(NetworkSpec(kind: kind, architecture: architecture, conditionTower: kind == .vae ? [] : [16, 8]),
                                  seed: 5)
        let batch = 32
        let pixels = uniformArray(batch * 784, tag: 41), labels = (0..<batch).map { UInt8($0 % 10) }
        let indices = (0..<batch).map { $0 * 577 % 60_000 }
        let leaves = BatchLeaves.of(batch: batch, leafCount: leafCount, rank: 0, size: 1)!

        /// One step; with `poison`, each reported range of the parameters is overwritten with NaN at once, as if
        /// another rank updated it: the gradients must not notice.
        func step(poison: Bool) -> (gradients: FlatBuffer, reports: [(range: Range<Int>, values: [Float])]) {
            let parameters = network.makeParameters(), gradients = FlatBuffer(count: network.layout.count)
            var reports: [(range: Range<Int>, values: [Float])] = []
            _ = withBatch(pixels: pixels, labels: labels, indices: indices, epoch: 1, leaves: leaves) { plain in
                var batch = plain
                batch.gradientsReady = { range in
                    reports.append((range, range.map { gradients[$0] }))
                    if poison { for i in range { parameters[i] = .nan } }
                }
                return network.forwardBackward(batch, parameters: parameters, gradients: gradients, gradientScale: 1 / 32)
            }
            return (gradients, reports)
        }
        let (gradients, reports) = step(poison: false)

        // Final when told: nothing written afterwards.
        for (range, values) in reports {
            #expect(range.indices.allSatisfy { gradients[$0].bitPattern == values[$0 - range.lowerBound].bitPattern },
                    "\(kind): the gradients at \(range) changed after they were reported")
        }
        // Every element of every tensor exactly once, and nothing outside the tensors.
        var times = [Int](repeating: 0, count: network.layout.count)
        for (range, _) in reports { for i in range { times[i] += 1 } }
        for entry in network.layout.entries {
            let counts = Set(times[entry.offset..<(entry.offset + entry.count)])
            #expect(counts == [1], "\(kind): elements of \(entry.name) reported \(counts.sorted()) times")
        }
        #expect(reports.map(\.range.count).reduce(0, +) == network.layout.parameterCount)
        // Bands: with leaves, the fast kernels hand a weight of many rows (the encoder's first, 784 or more)
        // on in more than one report (the reference GEMM reports it whole; the regressor has none so tall).
        let tallest = network.layout.entries.filter { $0.shape.count == 2 }.max { $0.shape[0] < $1.shape[0] }!
        if leafCount > 1, GEMMDispatch.active.path != .reference, tallest.shape[0] >= 784 {
            let parts = reports.filter { tallest.offset..<(tallest.offset + tallest.count) ~= $0.range.lowerBound }.count
            #expect(parts > 1, "\(kind): \(tallest.name) \(tallest.shape) came in \(parts) report")
        }
        // The last layer first, as backward runs: the first report is at the end of the buffer, and within a
        // tensor each report lies below the one before (the order the shared update takes pieces in).
        let last = network.layout.entries.max { $0.offset < $1.offset }!
        if kind == .vae { #expect(reports.first?.range.contains(last.offset) == true, "the output layer comes first") }
        for entry in network.layout.entries {
            let within = reports.map(\.range).filter { (entry.offset..<(entry.offset + entry.count)).contains($0.lowerBound) }
            #expect(zip(within, within.dropFirst()).allSatisfy { $1.upperBound <= $0.lowerBound },
                    "\(kind): \(entry.name) reported in the order \(within)")
        }

        // Parameters reported are no longer read: overwriting them at once changes no gradient bit.
        let (poisoned, _) = step(poison: true)
        let differing = (0..<gradients.count).filter { gradients[$0].bitPattern != poisoned[$0].bitPattern }
        let changed = differing.count, first = differing.first ?? -1
        #expect(changed == 0, "\(kind): gradients changed when reported parameters were overwritten, first at \(first)")
    }
}
