import Testing
@testable import Distributed

/// `EvaluationBlocks`: the held-out split in blocks at fixed positions, each rank a contiguous share, so a
/// block's loss is computed in one call by one rank whatever the number of ranks.
struct EvaluationBlocksTests {
    @Test("the blocks cover the split once, in order, at the same positions for any number of ranks")
    func blocksCoverTheSplit() {
        for count in [0, 1, 499, 500, 10_000, 10_001] {
            let whole = Array(EvaluationBlocks(count: count, block: 500, rank: 0, size: 1))
            #expect(whole.map(\.count).reduce(0, +) == count)
            #expect(whole.allSatisfy { $0.lowerBound % 500 == 0 && $0.count <= 500 })
            for size in [2, 3, 4, 8, 64] {
                let shares = (0..<size).map { Array(EvaluationBlocks(count: count, block: 500, rank: $0, size: size)) }
                #expect(shares.flatMap { $0 } == whole, "count \(count), \(size) ranks")
            }
        }
    }
}
