import Testing
@testable import Model

/// `gemmTN`'s `nextRowBlock`: ranks that share out the blocks of rows of one weight gradient
/// (`WeightGradientSharing`) must together write the bits one call alone writes, whoever takes which block.
@Suite struct SharedRowBlocksTests {
    /// Calls that take the blocks `schedule` gives them (call i takes `schedule[i]`, in that order),
    /// against one call that takes none. Returns the problems found.
    static func shared(_ kernels: GEMMDispatch.KernelSet, m: Int, n: Int, leaves: BatchLeaves,
                       schedule: @escaping (Int) -> [[Int]]) -> [String] {
        let k = leaves.rows
        let a = CanonicalOrderTests.spread(k * m, tag: 30), b = CanonicalOrderTests.spread(k * n, tag: 31)
        var whole = [Float](repeating: .nan, count: m * n), parts = whole
        var problems: [String] = []
        leaves.boundaries.withUnsafeBufferPointer { bounds in
            a.withUnsafeBufferPointer { a in b.withUnsafeBufferPointer { b in
                whole.withUnsafeMutableBufferPointer { c in
                    kernels.gemmTNLeaves(a.baseAddress!, b.baseAddress!, c.baseAddress!, m, n, bounds, false, nil, nil)
                }
                var blockCount = 0, calls: [[Int]] = [], bands: [(block: Int, rows: Range<Int>)] = []
                parts.withUnsafeMutableBufferPointer { c in
                    // The first call learns the block count from the kernel and plans every call's blocks.
                    var call = 0
                    repeat {
                        var taken: [Int] = [], reported: [Range<Int>] = []
                        kernels.gemmTNLeaves(a.baseAddress!, b.baseAddress!, c.baseAddress!, m, n, bounds, false,
                                             { reported.append($0) }, { blocks in
                            if calls.isEmpty { blockCount = blocks; calls = schedule(blocks) }
                            if blocks != blockCount { problems.append("block count \(blocks), then \(blockCount)") }
                            guard call < calls.count, taken.count < calls[call].count else { return nil }
                            taken.append(calls[call][taken.count])
                            return taken.last
                        })
                        // A call reports its own blocks, each once it is taken and computed.
                        if reported.count != taken.count { problems.append("call \(call): \(reported.count) bands for \(taken.count) blocks") }
                        bands += zip(taken, reported).map { ($0, $1) }
                        call += 1
                    } while call < calls.count
                }
                // Block i holds rows i·u ..< min(m, (i+1)·u), and together the blocks hold every row once.
                let unit = bands.map(\.rows.count).max() ?? 0
                for band in bands where band.rows != (band.block * unit)..<min(m, (band.block + 1) * unit) {
                    problems.append("block \(band.block) of \(unit) rows reported as \(band.rows)")
                }
                if bands.map(\.rows.count).reduce(0, +) != m || Set(bands.map(\.block)).count != bands.count {
                    problems.append("the bands \(bands.map(\.rows)) do not hold the \(m) rows once")
                }
            } }
        }
        let differ = (0..<(m * n)).filter { whole[$0].bitPattern != parts[$0].bitPattern }.count
        if differ > 0 { problems.append("\(differ) of \(m * n) entries differ from one call alone") }
        // And one call alone is the product: within the float summation bound of the naive one.
        var plain = [Float](repeating: 0, count: m * n), scale = plain
        GEMMReference.gemmTN(a, b, &plain, m: m, n: n, k: k, accumulate: false)
        GEMMReference.gemmTN(a.map(abs), b.map(abs), &scale, m: m, n: n, k: k, accumulate: false)
        let outside = (0..<(m * n)).filter { abs(whole[$0] - plain[$0]) > 2 * Float(k + 2) * 0x1p-24 * scale[$0] + 1e-30 }
        if !outside.isEmpty { problems.append("\(outside.count) entries outside the error bound of the naive product") }
        return problems
    }

    static let shapes: [(m: Int, n: Int, k: Int, leafCount: Int)] = [
        (784, 400, 64, 4), (400, 784, 64, 4), (1000, 500, 32, 2), (130, 270, 96, 8), (7, 5, 16, 2),
        (300, 700, 256, 8),  // a depth of 256: several column blocks, so B is packed per block
    ]

    /// `shared` on every shape, with the calls `schedule` plans for the block count.
    static func check(_ path: KernelPath, schedule: @escaping (Int) -> [[Int]]) throws {
        let kernels = try #require(GEMMDispatch.kernels(for: path))
        for shape in shapes {
            let leaves = BatchLeaves(boundaries: (0...shape.leafCount).map { $0 * shape.k / shape.leafCount })
            let problems = shared(kernels, m: shape.m, n: shape.n, leaves: leaves, schedule: schedule)
            #expect(problems.isEmpty, "\(path) \(shape): \(problems)")
        }
    }

    @Test("one call, then another from the other end, write the bits of one call alone, on every kernel path",
          arguments: GEMMDispatch.availablePaths)
    func twoEnds(path: KernelPath) throws {
        // A helper takes the first third of the blocks, the owner the rest from the last.
        try Self.check(path) { blocks in [Array(0..<(blocks / 3)), Array((blocks / 3)..<blocks).reversed()] }
    }

    @Test("three calls taking the blocks in a scattered order write the bits of one call alone",
          arguments: GEMMDispatch.availablePaths)
    func scattered(path: KernelPath) throws {
        try Self.check(path) { blocks in
            let order = (0..<blocks).map { ($0 * 7 + 3) % blocks }  // a permutation when 7 ∤ blocks
            let permutation = Set(order).count == blocks ? order : Array(0..<blocks).reversed()
            return (0..<3).map { call in permutation.enumerated().filter { $0.offset % 3 == call }.map(\.element) }
        }
    }

    @Test("a fast path shares out blocks of whole tiles, at most half a packed row block")
    func blockRows() {
        #expect(gemmLeavesSharedRows(m: 784) % GEMMTile.rows == 0 && gemmLeavesSharedRows(m: 784) <= GEMMBlocking.transposedRowBlock / 2)
        #expect(gemmLeavesSharedRows(m: 5) == GEMMTile.rows)
    }
}
