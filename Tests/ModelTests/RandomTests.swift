import Testing
@testable import Model

@Suite struct RandomTests {
    /// Random123's published known-answer vectors for philox4x32-10 (kat_vectors).
    @Test func philoxKnownAnswers() {
        let cases: [(SIMD4<UInt32>, SIMD2<UInt32>, SIMD4<UInt32>)] = [
            (SIMD4(0, 0, 0, 0), SIMD2(0, 0), SIMD4(0x6627_e8d5, 0xe169_c58d, 0xbc57_ac4c, 0x9b00_dbd8)),
            (SIMD4(repeating: 0xffff_ffff), SIMD2(repeating: 0xffff_ffff),
             SIMD4(0x408f_276d, 0x41c8_3b0e, 0xa20b_c7c6, 0x6d54_51fd)),
            (SIMD4(0x243f_6a88, 0x85a3_08d3, 0x1319_8a2e, 0x0370_7344), SIMD2(0xa409_3822, 0x299f_31d0),
             SIMD4(0xd16c_fe09, 0x94fd_cceb, 0x5001_e420, 0x2412_6ea1)),
        ]
        for (counter, key, expected) in cases {
            #expect(Philox4x32.block(counter: counter, key: key) == expected)
        }
    }

    @Test func fillsAreDeterministicAndPrefixStable() {
        let rng = CounterRNG(seed: 42)
        var a = [Float](repeating: 0, count: 37), b = [Float](repeating: 0, count: 37), c = [Float](repeating: 0, count: 5)
        a.withUnsafeMutableBufferPointer { rng.fillGaussian($0.baseAddress!, count: 37, epoch: 3, example: 9, stream: .reparameterization) }
        b.withUnsafeMutableBufferPointer { rng.fillGaussian($0.baseAddress!, count: 37, epoch: 3, example: 9, stream: .reparameterization) }
        c.withUnsafeMutableBufferPointer { rng.fillGaussian($0.baseAddress!, count: 5, epoch: 3, example: 9, stream: .reparameterization) }
        #expect(a == b)
        #expect(Array(a[0..<5]) == c)                       // value j does not depend on the count requested
        var d = a
        d.withUnsafeMutableBufferPointer { rng.fillGaussian($0.baseAddress!, count: 37, epoch: 4, example: 9, stream: .reparameterization) }
        #expect(d != a)                                     // a new epoch redraws
        d.withUnsafeMutableBufferPointer { rng.fillGaussian($0.baseAddress!, count: 37, epoch: 3, example: 9, stream: .evaluationReparameterization) }
        #expect(d != a)                                     // streams are independent
        d.withUnsafeMutableBufferPointer { CounterRNG(seed: 43).fillGaussian($0.baseAddress!, count: 37, epoch: 3, example: 9, stream: .reparameterization) }
        #expect(d != a)
    }

    /// Example i's noise is the same whether it sits in a batch of 1 or of 64 (and wherever in the batch).
    @Test func noiseIndependentOfBatchSplit() {
        let rng = CounterRNG(seed: 7)
        let width = 30
        let indices = (0..<64).map { 1000 + 37 * $0 }
        var whole = [Float](repeating: 0, count: 64 * width)
        indices.withUnsafeBufferPointer { idx in
            whole.withUnsafeMutableBufferPointer { rng.fillGaussianRows($0.baseAddress!, width: width, examples: idx, epoch: 2, stream: .reparameterization) }
        }
        for (r, example) in indices.enumerated() {
            var single = [Float](repeating: 0, count: width)
            [example].withUnsafeBufferPointer { idx in
                single.withUnsafeMutableBufferPointer { rng.fillGaussianRows($0.baseAddress!, width: width, examples: idx, epoch: 2, stream: .reparameterization) }
            }
            #expect(Array(whole[(r * width)..<((r + 1) * width)]) == single)
        }
        // Same for the CVAE's binarized condition, through the network API, with shuffled order.
        let network = makeNetwork(NetworkSpec(kind: .cvae, architecture: Architecture(inputSize: 784, encoderHidden: [8], latentSize: 2)), seed: 5)
        let pixels = uniformArray(8 * 784, tag: 1)
        let ids = [3, 99, 7, 123_456, 0, 42, 5, 6]
        let all = network.conditions(pixels: pixels, labels: [], exampleIndices: ids, epoch: 1, noise: .training)
        for (r, id) in ids.enumerated().reversed() {
            let one = network.conditions(pixels: Array(pixels[(r * 784)..<((r + 1) * 784)]), labels: [], exampleIndices: [id], epoch: 1, noise: .training)
            #expect(Array(all[(r * 28)..<((r + 1) * 28)]) == one)
        }
    }

    @Test func gaussianAndUniformMoments() {
        let n = 200_000
        let g = gaussianArray(n, tag: 99)
        let mean = g.reduce(0.0) { $0 + Double($1) } / Double(n)
        let variance = g.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(n) - mean * mean
        // Standard errors: mean 1/√n ≈ 0.0022, variance √(2/n) ≈ 0.0032; 5 standard errors.
        #expect(abs(mean) < 0.012)
        #expect(abs(variance - 1) < 0.016)
        #expect(g.allSatisfy { $0.isFinite })
        let u = uniformArray(n, tag: 98)
        #expect(u.allSatisfy { $0 >= 0 && $0 < 1 })
        let uMean = u.reduce(0.0) { $0 + Double($1) } / Double(n)
        #expect(abs(uMean - 0.5) < 0.004)   // sd of the mean ≈ 0.00065
    }

    @Test func binarizationFollowsIntensity() {
        // Column pixels of intensity 0 never fire, 1 always, 0.25 about a quarter of the time.
        let width = 4, height = 3, rows = 4000
        var pixels = [Float](repeating: 0, count: rows * width * height)
        for r in 0..<rows { pixels[r * 12 + 0 * width + 1] = 0; pixels[r * 12 + 1 * width + 1] = 1; pixels[r * 12 + 2 * width + 1] = 0.25 }
        var out = [Float](repeating: -1, count: rows * height)
        let indices = Array(0..<rows)
        pixels.withUnsafeBufferPointer { p in
            indices.withUnsafeBufferPointer { i in
                out.withUnsafeMutableBufferPointer {
                    ConditionBuilder.fill($0.baseAddress!, conditioning: .pixelColumn(column: 1, imageWidth: width), rows: rows,
                                          inputSize: 12, pixels: p.baseAddress!, labels: nil, exampleIndices: i.baseAddress!,
                                          epoch: 0, rng: CounterRNG(seed: 1), stream: .binarization)
                }
            }
        }
        #expect((0..<rows).allSatisfy { out[$0 * 3] == 0 && out[$0 * 3 + 1] == 1 })
        let fraction = Double((0..<rows).filter { out[$0 * 3 + 2] == 1 }.count) / Double(rows)
        #expect(abs(fraction - 0.25) < 0.035)   // sd ≈ 0.0068; 5 sd
    }
}
