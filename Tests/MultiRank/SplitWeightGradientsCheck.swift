import Distributed
import Foundation
import Model

extension MultiRankChecks {
    /// `SplitWeightGradients` over a real node-shared window (2, 4 … ranks): a 784 × 400 weight gradient, each
    /// rank with 32 examples of its own in 2 leaves. Three calls (both slots, then the first again), checked
    /// on every rank:
    /// - its band of rows has the bits of the whole batch's gradient computed alone in the global leaves,
    ///   which are the bits of the ranks' own gradients added in the pairwise tree (checked too);
    /// - it wrote no row outside its band, and the rows it reported cover `0 ..< m` once;
    /// - `parts(of:)` names each band's owner as the source of its gradient.
    /// Then a call in which rank 0 holds 16 examples, not 32: the shares do not fit together, so every rank
    /// computes its own gradient alone, all of it, and `parts(of:)` adds every rank's.
    func splitWeightGradients() throws -> String? {
        let m = 784, n = 400, share = 32, k = share * world.size
        let local = BatchLeaves(boundaries: [0, 16, 32])
        let segment = (m * n + 15) / 16 * 16, areaFloats = 2 * ((k * (m + n) + 15) / 16 * 16)
        let controlFloats = SplitWeightGradients.controlBytes(ranks: world.size) / 4
        guard let memory = try world.nodeSharedMemory(floats: world.size * segment + controlFloats + areaFloats) else {
            return "mpirun started every rank on this host, yet no shared window"
        }
        let mine = memory.base + world.rank * segment, control = memory.base + world.size * segment
        var round: Int64 = 0
        let split = SplitWeightGradients(control: UnsafeMutableRawPointer(control), area: control + controlFloats,
                                         areaFloats: areaFloats, segment: mine, parameterCount: m * n, rank: world.rank,
                                         ranks: world.size, fallback: nil, currentRound: { round })
        let xs = (0..<world.size).map { Self.spread(share * m, seed: 2 * $0) }
        let dys = (0..<world.size).map { Self.spread(share * n, seed: 2 * $0 + 1) }
        var whole = [Float](repeating: 0, count: m * n)
        let global = BatchLeaves(boundaries: (0..<(2 * world.size)).map { $0 * 16 } + [k])
        gemmTN(Array(xs.joined()), Array(dys.joined()), &whole, m: m, n: n, leaves: global, accumulate: false)
        let alone: [[Float]] = (0..<world.size).map { r in
            var g = [Float](repeating: 0, count: m * n)
            gemmTN(xs[r], dys[r], &g, m: m, n: n, leaves: local, accumulate: false)
            return g
        }
        if let i = (0..<(m * n)).first(where: { i in whole[i].bitPattern != PairwiseSum.tree(world.size) { alone[$0][i] }.bitPattern }) {
            return "element \(i): the global leaves give \(whole[i]), the ranks' sums in the pairwise tree another"
        }
        let band = SplitWeightGradients.band(world.rank, m: m, ranks: world.size)
        func covers(_ reported: [Range<Int>]) -> Bool {
            reported.sorted { $0.lowerBound < $1.lowerBound }.reduce(0) { $0 == $1.lowerBound ? $1.upperBound : -1 } == m
        }
        for call in 1...4 {
            round = Int64(call)
            let uneven = call == 4 && world.rank == 0
            let leaves = uneven ? BatchLeaves(boundaries: [0, 8, 16]) : local
            mine.update(repeating: .nan, count: m * n)
            try memory.synchronize()
            split.stepBatch = k
            var reported: [Range<Int>] = []
            split.weightGradient(xs[world.rank], dys[world.rank], into: mine, m: m, n: n, leaves: leaves) { reported.append($0) }
            if !covers(reported) { return "call \(call): the reported rows \(reported) do not cover 0..<\(m) once" }
            let parts = split.parts(of: 0..<(m * n), round: Int64(call))
            if call < 4 {
                for row in 0..<m {
                    for j in 0..<n {
                        let value = mine[row * n + j]
                        if band.contains(row) ? value.bitPattern != whole[row * n + j].bitPattern : !value.isNaN {
                            return "call \(call): element (\(row), \(j)) is \(value); band \(band), summed \(whole[row * n + j])"
                        }
                    }
                }
                let owners = (0..<world.size).map { g in
                    let rows = SplitWeightGradients.band(g, m: m, ranks: world.size)
                    return (range: (rows.lowerBound * n)..<(rows.upperBound * n), source: Optional(g))
                }
                if parts.map(\.range) != owners.map(\.range) || parts.map(\.source) != owners.map(\.source) {
                    return "call \(call): parts \(parts), expected each band from its owner \(owners)"
                }
            } else {
                var own = [Float](repeating: 0, count: m * n)
                gemmTN(Array(xs[world.rank].prefix(leaves.rows * m)), Array(dys[world.rank].prefix(leaves.rows * n)), &own,
                       m: m, n: n, leaves: leaves, accumulate: false)
                if let i = (0..<(m * n)).first(where: { mine[$0].bitPattern != own[$0].bitPattern }) {
                    return "uneven shares: element \(i) is \(mine[i]), this rank's own gradient \(own[i])"
                }
                if parts.count != 1 || parts[0].source != nil { return "uneven shares: parts \(parts), expected one sum of every rank's" }
            }
            try memory.synchronize()
        }
        return nil
    }
}
