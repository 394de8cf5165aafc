import Distributed
import Testing

@Suite struct ShardSamplerTests {
    @Test func permutationIsAPermutationAndDependsOnSeedAndEpoch() {
        let sampler = ShardSampler(exampleCount: 1000, globalBatch: 64, seed: 7)
        let p0 = sampler.permutation(epoch: 0)
        #expect(p0.sorted() == Array(0..<1000))
        #expect(p0 != Array(0..<1000))
        #expect(p0 == sampler.permutation(epoch: 0))
        #expect(p0 != sampler.permutation(epoch: 1))
        #expect(p0 != ShardSampler(exampleCount: 1000, globalBatch: 64, seed: 8).permutation(epoch: 0))
    }

    /// Every position is roughly uniform: over 4000 epochs of a 10-element shuffle, each element lands in
    /// each position 400 times on average; a fixed-point or off-by-one bug moves counts far outside ±25%.
    @Test func shuffleIsRoughlyUniform() {
        let sampler = ShardSampler(exampleCount: 10, globalBatch: 10, seed: 1)
        var counts = [[Int]](repeating: [Int](repeating: 0, count: 10), count: 10)
        for epoch in 0..<4000 {
            for (position, example) in sampler.permutation(epoch: epoch).enumerated() { counts[example][position] += 1 }
        }
        #expect(counts.joined().allSatisfy { (300...500).contains($0) })
    }

    @Test(arguments: [1, 2, 3, 4, 7])
    func ranksPartitionEveryGlobalBatch(size: Int) {
        for keep in [false, true] {
            let sampler = ShardSampler(exampleCount: 103, globalBatch: 10, seed: 3, keepPartialBatch: keep)
            #expect(sampler.stepsPerEpoch == (keep ? 11 : 10))
            let permutation = sampler.permutation(epoch: 2)
            var seen: [Int] = []
            for step in 0..<sampler.stepsPerEpoch {
                var batch: [Int] = []
                for rank in 0..<size {
                    let local = sampler.localIndices(step: step, rank: rank, size: size, permutation: permutation)
                    #expect(abs(local.count - sampler.globalBatchSize(step: step) / size) <= 1)
                    batch += local
                }
                #expect(batch == Array(permutation[(step * 10)..<(step * 10 + sampler.globalBatchSize(step: step))]))
                seen += batch
            }
            #expect(Set(seen).count == seen.count)
            #expect(seen.count == (keep ? 103 : 100))
        }
    }
}
