import Testing
import Model

/// The canonical reduction order (`BatchLeaves`): the leaves a rank holds, the pairwise tree, and the
/// property everything rests on — a batch summed whole gives exactly (bit for bit) the tree of the sums of
/// its halves, for the weight-gradient GEMM on every kernel path, the bias sums, and whole networks.
struct CanonicalOrderTests {
    @Test("leaves of a rank are the ShardSampler's slice, cut at ⌊iB/L⌋; a world size not dividing L has none")
    func leavesFollowTheShards() throws {
        let r1 = try #require(BatchLeaves.of(batch: 128, leafCount: 8, rank: 1, size: 2))
        #expect(r1.boundaries == [0, 16, 32, 48, 64])
        let odd = try #require(BatchLeaves.of(batch: 100, leafCount: 4, rank: 1, size: 2))
        #expect(odd.boundaries == [0, 25, 50])
        #expect(BatchLeaves.of(batch: 128, leafCount: 8, rank: 0, size: 3) == nil)
        #expect(BatchLeaves.of(batch: 128, leafCount: 8, rank: 0, size: 16) == nil)
        for batch in [1, 5, 64, 100, 127, 128, 1000] {
            for leafCount in [1, 2, 4, 8] {
                for size in [1, 2, 4, 8] where leafCount % size == 0 {
                    for rank in 0..<size {
                        let leaves = try #require(BatchLeaves.of(batch: batch, leafCount: leafCount, rank: rank, size: size))
                        let slice = (rank * batch / size)..<((rank + 1) * batch / size)
                        #expect(leaves.rows == slice.count && leaves.count == leafCount / size,
                                "batch \(batch), \(leafCount) leaves, rank \(rank) of \(size)")
                    }
                }
            }
        }
        #expect([16, 31, 32, 64, 128, 256, 100_000].map { BatchLeaves.leafCount(globalBatch: $0) } == [1, 1, 2, 4, 8, 16, 64])
    }

    /// Values far apart in magnitude, so that every grouping of their sum rounds differently.
    static func spread(_ count: Int, tag: UInt64) -> [Float] {
        uniformArray(count, tag: tag, in: -1...1).enumerated().map { i, x in x * Float(1 << (i * 7 % 23)) }
    }

    @Test("PairwiseSum adds ((a+b)+(c+d))+((e+f)+(g+h)), which left to right does not give")
    func pairwiseTree() {
        let x = Self.spread(8, tag: 1)
        let tree = ((x[0] + x[1]) + (x[2] + x[3])) + ((x[4] + x[5]) + (x[6] + x[7]))
        #expect(PairwiseSum.tree(8) { x[$0] }.bitPattern == tree.bitPattern)
        let columns = 8 * 9 + 3  // vectors of 8 and a scalar tail
        let sources = (0..<4).map { Self.spread(columns, tag: 10 + UInt64($0)) }
        var result = [Float](repeating: 0, count: columns)
        let pointers = sources.map { $0.withUnsafeBufferPointer { $0.baseAddress! } }  // arrays outlive the call
        withExtendedLifetime(sources) { PairwiseSum.sum(pointers, into: &result, count: columns) }
        var leftToRightDiffers = false
        for i in 0..<columns {
            let expected = (sources[0][i] + sources[1][i]) + (sources[2][i] + sources[3][i])
            #expect(result[i].bitPattern == expected.bitPattern, "column \(i)")
            if ((sources[0][i] + sources[1][i]) + sources[2][i]) + sources[3][i] != expected { leftToRightDiffers = true }
        }
        #expect(leftToRightDiffers, "the data must tell the orders apart")
    }

    /// The weight gradient over all leaves equals the tree of the gradients over each half (and quarter) of
    /// them, bit for bit, on every kernel path; and stays within the summation bound of the naive product.
    @Test("gemmTN in leaves: the whole batch is the tree of its halves, bit for bit, on every kernel path",
          arguments: GEMMDispatch.availablePaths)
    func leavesGEMMSplits(path: KernelPath) throws {
        let kernels = try #require(GEMMDispatch.kernels(for: path))
        for (m, n, batch) in [(7, 5, 100), (13, 33, 128), (40, 400, 64), (784, 40, 37), (1, 70, 8), (65, 17, 300),
                                  (20, 400, 64), (24, 48, 96), (85, 300, 64), (130, 270, 96)] {
            let a = Self.spread(batch * m, tag: 20), b = Self.spread(batch * n, tag: 21)
            // Each band of rows the kernel reports done holds its final values then; the bands cover the
            // rows once, the last band first.
            func product(rows range: Range<Int>, leaves: BatchLeaves) -> [Float] {
                var c = [Float](repeating: .nan, count: m * n)
                var bands: [(rows: Range<Int>, values: [Float])] = []
                leaves.boundaries.withUnsafeBufferPointer { bounds in
                    a.withUnsafeBufferPointer { a in b.withUnsafeBufferPointer { b in c.withUnsafeMutableBufferPointer { c in
                        let base = c.baseAddress!
                        kernels.gemmTNLeaves(a.baseAddress! + range.lowerBound * m, b.baseAddress! + range.lowerBound * n,
                                             base, m, n, bounds, false, { rows in
                            bands.append((rows, Array(UnsafeBufferPointer(start: base + rows.lowerBound * n, count: rows.count * n))))
                        }, nil)
                    } } }
                }
                #expect(bands.reversed().map(\.rows.lowerBound) == [0] + bands.reversed().dropLast().map(\.rows.upperBound)
                        && bands.first?.rows.upperBound == m, "\(path) m=\(m) n=\(n): bands \(bands.map(\.rows))")
                for band in bands where band.values.indices.contains(where: {
                    band.values[$0].bitPattern != c[band.rows.lowerBound * n + $0].bitPattern
                }) {
                    Issue.record("\(path) m=\(m) n=\(n): rows \(band.rows) changed after they were reported done")
                }
                return c
            }
            func part(_ rank: Int, of size: Int) -> [Float] {
                let leaves = BatchLeaves.of(batch: batch, leafCount: 8, rank: rank, size: size)!
                let start = rank * batch / size
                return product(rows: start..<(start + leaves.rows), leaves: leaves)
            }
            let whole = part(0, of: 1)
            let halves = zip(part(0, of: 2), part(1, of: 2)).map(+)
            let quarters = (0..<4).map { part($0, of: 4) }
            var mismatches = 0
            for i in 0..<(m * n) {
                let tree = (quarters[0][i] + quarters[1][i]) + (quarters[2][i] + quarters[3][i])
                if whole[i].bitPattern != halves[i].bitPattern || whole[i].bitPattern != tree.bitPattern { mismatches += 1 }
            }
            #expect(mismatches == 0, "\(path) m=\(m) n=\(n) batch=\(batch): \(mismatches) entries differ")
            // Against the plain product: the same sum in another order, within the float summation bound.
            var plain = [Float](repeating: 0, count: m * n), scale = plain
            a.withUnsafeBufferPointer { a in b.withUnsafeBufferPointer { b in
                GEMMReference.gemmTN(a.baseAddress!, b.baseAddress!, &plain, m: m, n: n, k: batch, accumulate: false)
            } }
            let absA = a.map(abs), absB = b.map(abs)
            GEMMReference.gemmTN(absA, absB, &scale, m: m, n: n, k: batch, accumulate: false)
            var worst = 0.0
            for i in 0..<(m * n) {
                let bound: Double = 2 * Double(batch + 2) * 0x1p-24 * Double(scale[i]) + 1e-30
                worst = max(worst, Double(abs(whole[i] - plain[i])) / bound)
            }
            #expect(worst <= 1, "\(path) m=\(m) n=\(n) batch=\(batch): error/bound \(worst)")
        }
    }

    @Test("bias sums in leaves: the SIMD kernel equals the scalar reference bit for bit, and the tree of its halves")
    func biasLeaves() {
        let rows = 100, cols = 37
        let dy = Self.spread(rows * cols, tag: 30), y = uniformArray(rows * cols, tag: 31, in: -1...1)
        func biasGradient(_ range: Range<Int>, _ leaves: BatchLeaves, reference: Bool = false) -> [Float] {
            var d = Array(dy[(range.lowerBound * cols)..<(range.upperBound * cols)])
            let out = Array(y[(range.lowerBound * cols)..<(range.upperBound * cols)])
            var g = [Float](repeating: .nan, count: cols)
            if reference {
                ElementwiseReference.biasBackward(&d, output: out, biasGradient: &g, leaves: leaves, cols: cols, activation: .relu)
            } else {
                ElementwiseBias.backward(&d, output: out, biasGradient: &g, leaves: leaves, cols: cols, activation: .relu)
            }
            return g
        }
        let whole = biasGradient(0..<rows, BatchLeaves.of(batch: rows, leafCount: 4, rank: 0, size: 1)!)
        let reference = biasGradient(0..<rows, BatchLeaves.of(batch: rows, leafCount: 4, rank: 0, size: 1)!, reference: true)
        let low = biasGradient(0..<50, BatchLeaves.of(batch: rows, leafCount: 4, rank: 0, size: 2)!)
        let high = biasGradient(50..<100, BatchLeaves.of(batch: rows, leafCount: 4, rank: 1, size: 2)!)
        for c in 0..<cols {
            #expect(whole[c].bitPattern == reference[c].bitPattern, "column \(c)")
            #expect(whole[c].bitPattern == (low[c] + high[c]).bitPattern, "column \(c)")
        }
    }

    /// Every model: forward/backward on a batch of 64 in 4 leaves gives exactly the sum of the gradients of
    /// its two halves (each holding 2 leaves) — what 1 and 2 ranks compute.
    @Test("a network's gradient on the whole batch is the sum of its halves' gradients, bit for bit",
          arguments: [NetworkKind.vae, .cvae, .regressor])
    func networkSplits(_ kind: NetworkKind) {
        let architecture = Architecture(inputSize: 784, encoderHidden: [48, 24], latentSize: 5)
        let network = makeNetwork(NetworkSpec(kind: kind, architecture: architecture, conditionTower: kind == .vae ? [] : [16]),
                                  seed: 3)
        let parameters = network.makeParameters()
        let batch = 64
        let pixels = uniformArray(batch * 784, tag: 40), labels = (0..<batch).map { UInt8($0 % 10) }
        let indices = (0..<batch).map { $0 * 911 % 60_000 }
        func gradient(rank: Int, size: Int) -> FlatBuffer {
            let leaves = BatchLeaves.of(batch: batch, leafCount: 4, rank: rank, size: size)!
            let start = rank * batch / size, rows = start..<(start + leaves.rows)
            let g = FlatBuffer(count: network.layout.count)
            _ = withBatch(pixels: Array(pixels[(rows.lowerBound * 784)..<(rows.upperBound * 784)]),
                          labels: Array(labels[rows]), indices: Array(indices[rows]), epoch: 2, leaves: leaves) {
                network.forwardBackward($0, parameters: parameters, gradients: g, gradientScale: 1 / Float(batch))
            }
            return g
        }
        let whole = gradient(rank: 0, size: 1), low = gradient(rank: 0, size: 2), high = gradient(rank: 1, size: 2)
        var mismatches = 0
        for i in 0..<whole.count where whole[i].bitPattern != (low[i] + high[i]).bitPattern { mismatches += 1 }
        #expect(mismatches == 0, "\(kind): \(mismatches) of \(whole.count) gradient entries differ")
        // The forward-only loss with the training noise sums the same leaves: the same terms, exactly.
        let leaves = BatchLeaves.of(batch: batch, leafCount: 4, rank: 0, size: 1)!
        let g = FlatBuffer(count: network.layout.count)
        let (trained, evaluated) = withBatch(pixels: pixels, labels: labels, indices: indices, epoch: 2, leaves: leaves) {
            (network.forwardBackward($0, parameters: parameters, gradients: g, gradientScale: 1 / Float(batch)),
             network.loss($0, parameters: parameters, noise: .training, epsilon: nil))
        }
        #expect(trained == evaluated, "\(kind)")
    }
}

/// Loss sums on `LossGrid` are exact, so any order gives the same bits.
struct LossGridTests {
    @Test("losses on the grid add up to the same bits in any order; NaN and ∞ pass through")
    func gridSumsAreExact() {
        let losses = (0..<1000).map { i in LossGrid.round(Double(CanonicalOrderTests.spread(1, tag: UInt64(i))[0]).magnitude * 300 + 0.1) }
        let forward = losses.reduce(0, +), backward = losses.reversed().reduce(0, +)
        let pairwise = PairwiseSum.tree(losses.count, { losses[$0] }, add: +)
        #expect(forward.bitPattern == backward.bitPattern && forward.bitPattern == pairwise.bitPattern)
        let raw = losses.map { $0 + 1e-9 * Double($0.exponent) }  // off the grid: the orders disagree somewhere
        #expect(raw.reduce(0, +) != raw.reversed().reduce(0, +) || raw.reduce(0, +) != PairwiseSum.tree(raw.count, { raw[$0] }, add: +))
        #expect(abs(LossGrid.round(262.58912345678) - 262.58912345678) <= LossGrid.spacing / 2)
        #expect(LossGrid.round(.nan).isNaN && LossGrid.round(.infinity) == .infinity)
    }
}
