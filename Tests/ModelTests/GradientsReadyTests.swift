import Testing
@testable import Model

/// What backward tells an overlapping exchange (`MiniBatch.gradientsReady`) must be true when it is told:
/// a layer reported is final, so an exchange that sends it at once sends the step's gradient.
struct GradientsReadyTests {
    @Test("each layer is reported once, after its gradients are final, and every tensor is reported",
          arguments: [NetworkKind.vae, .cvae, .regressor])
    func reportsFinalGradients(_ kind: NetworkKind) {
        let architecture = Architecture(inputSize: 784, encoderHidden: [48, 24], latentSize: 5)
        let network = makeNetwork(NetworkSpec(kind: kind, architecture: architecture, conditionTower: kind == .vae ? [] : [16, 8]),
                                  seed: 5)
        let parameters = network.makeParameters()
        let gradients = FlatBuffer(count: network.layout.count)
        let batch = 32
        let pixels = uniformArray(batch * 784, tag: 41), labels = (0..<batch).map { UInt8($0 % 10) }
        let indices = (0..<batch).map { $0 * 577 % 60_000 }
        var reports: [(range: Range<Int>, values: [Float])] = []
        _ = withBatch(pixels: pixels, labels: labels, indices: indices, epoch: 1) { plain in
            var batch = plain
            batch.gradientsReady = { range in
                reports.append((range, (range.lowerBound..<range.upperBound).map { gradients[$0] }))
            }
            return network.forwardBackward(batch, parameters: parameters, gradients: gradients, gradientScale: 1 / 32)
        }
        // Final when told: nothing written afterwards.
        for (range, values) in reports {
            #expect(range.indices.allSatisfy { gradients[$0].bitPattern == values[$0 - range.lowerBound].bitPattern },
                    "\(kind): the layer at \(range) changed after it was reported")
        }
        // Each tensor exactly once, and none left out.
        for entry in network.layout.entries {
            let covering = reports.filter { $0.range.contains(entry.offset) && $0.range.upperBound >= entry.offset + entry.count }
            #expect(covering.count == 1, "\(kind): \(entry.name) reported \(covering.count) times")
        }
        // The last layer first, as backward runs: the first report is the tensor at the end of the buffer.
        let last = network.layout.entries.max { $0.offset < $1.offset }!
        if kind == .vae { #expect(reports.first?.range.contains(last.offset) == true, "the output layer comes first") }
    }
}
