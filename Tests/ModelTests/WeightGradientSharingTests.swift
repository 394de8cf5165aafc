import Testing
@testable import Model

/// The networks hand every weight gradient to `MiniBatch.weightGradientSharing` when there is one, so that
/// ranks waiting in the shared-memory exchange can compute part of it (the multi-rank side is checked under
/// mpirun by multirank-tests and scripts/test).
struct WeightGradientSharingTests {
    /// Shares each gradient as `WeightGradientHelp` does, in one process: a "helper" computes the first third
    /// of the blocks (into the same `dW`), the caller the rest from the last; the helper's rows are reported
    /// at the end. Records which weights came through it.
    final class SplitInThree: WeightGradientSharing {
        var weights: [UnsafeMutablePointer<Float>] = []

        func weightGradient(_ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, into dW: UnsafeMutablePointer<Float>,
                            m: Int, n: Int, leaves: BatchLeaves, rowsDone: (Range<Int>) -> Void) {
            weights.append(dW)
            var helperBlocks = 0, helperRows = 0
            gemmTN(x, dy, dW, m: m, n: n, leaves: leaves, accumulate: false, rowsDone: { helperRows = $0.upperBound },
                   nextRowBlock: { blocks in
                       helperBlocks += 1
                       return helperBlocks <= blocks / 3 ? helperBlocks - 1 : nil
                   })
            var next: Int?
            withoutActuallyEscaping(rowsDone) { rowsDone in
                gemmTN(x, dy, dW, m: m, n: n, leaves: leaves, accumulate: false, rowsDone: rowsDone, nextRowBlock: { blocks in
                    next = (next ?? blocks) - 1
                    return next! >= blocks / 3 ? next : nil
                })
            }
            if helperRows > 0 { rowsDone(0..<helperRows) }
        }
    }

    @Test("every weight gradient goes through the sharing, with the bits and the reports of backward alone",
          arguments: [NetworkKind.vae, .cvae, .regressor])
    func everyWeightShared(_ kind: NetworkKind) {
        let architecture = Architecture(inputSize: 784, encoderHidden: [300, 140], latentSize: 5)
        let network = makeNetwork(NetworkSpec(kind: kind, architecture: architecture, conditionTower: kind == .vae ? [] : [160, 8]),
                                  seed: 5)
        let count = 32
        let pixels = uniformArray(count * 784, tag: 43), labels = (0..<count).map { UInt8($0 % 10) }
        let indices = (0..<count).map { $0 * 577 % 60_000 }
        let leaves = BatchLeaves.of(batch: count, leafCount: 4, rank: 0, size: 1)!
        let parameters = network.makeParameters()

        func step(_ sharing: SplitInThree?) -> (FlatBuffer, [Range<Int>]) {
            let gradients = FlatBuffer(count: network.layout.count)
            var reports: [Range<Int>] = []
            _ = withBatch(pixels: pixels, labels: labels, indices: indices, epoch: 1, leaves: leaves) { plain in
                var batch = plain
                batch.gradientsReady = { reports.append($0) }
                batch.weightGradientSharing = sharing
                return network.forwardBackward(batch, parameters: parameters, gradients: gradients, gradientScale: 1 / 32)
            }
            return (gradients, reports)
        }
        let sharing = SplitInThree()
        let (alone, _) = step(nil), (shared, reports) = step(sharing)
        let differ = (0..<network.layout.count).filter { alone[$0].bitPattern != shared[$0].bitPattern }
        #expect(differ.isEmpty, "\(kind): \(differ.count) gradients differ, the first at \(differ.first ?? -1)")

        // Every weight (each input part of a layer is its own call) went through the sharing.
        let offsets = Set(sharing.weights.map { $0 - shared.baseAddress })
        for entry in network.layout.entries where entry.shape.count == 2 {
            #expect(offsets.contains(entry.offset), "\(kind): \(entry.name) \(entry.shape) was computed without the sharing")
        }
        // Each element reported once, each tensor's reports running downward.
        var times = [Int](repeating: 0, count: network.layout.count)
        for range in reports { for i in range { times[i] += 1 } }
        for entry in network.layout.entries {
            let counts = Set(times[entry.offset..<(entry.offset + entry.count)])
            #expect(counts == [1], "\(kind): elements of \(entry.name) reported \(counts.sorted()) times")
            let starts = reports.filter { (entry.offset..<(entry.offset + entry.count)) ~= $0.lowerBound }.map(\.lowerBound)
            #expect(starts == starts.sorted(by: >), "\(kind): \(entry.name) reported in the order \(starts)")
        }
    }
}
