import CSharedAtomics
import Distributed
import Foundation
import Model

extension MultiRankChecks {
    /// `WeightGradientHelp` over a real node-shared window, three rounds of a 784 × 400 weight gradient over
    /// 64 examples in 4 leaves, each rank with its own inputs. The last rank is slow: it starts 20 ms late
    /// and sleeps 2 ms at each band it reports, while the others, once done with theirs, wait in the
    /// "exchange" and help whoever offers. Checked, on every rank and round:
    /// - the weight gradient in the window has the bits of this rank computing it alone;
    /// - the reported bands cover the rows once, the last first;
    /// - the slow rank's gradient was partly computed by the others, and the rows the others say they
    ///   computed are the rows the offering ranks say were computed for them.
    func weightGradientHelp() throws -> String? {
        let m = 784, n = 400, k = 64, rounds: Int64 = 3
        let leaves = BatchLeaves(boundaries: [0, 16, 32, 48, 64])
        let segment = (m * n + 15) / 16 * 16, areaFloats = k * (m + n), flagFloats = 16
        let boardFloats = WeightGradientHelp.controlBytes(ranks: world.size) / 4
        let total = world.size * segment + flagFloats + boardFloats + areaFloats
        guard let memory = try world.nodeSharedMemory(floats: total) else {
            return "mpirun started every rank on this host, yet no shared window"
        }
        let flags = UnsafeMutableRawPointer(memory.base + world.size * segment).bindMemory(to: Int64.self, capacity: 8)
        let boards = memory.base + world.size * segment + flagFloats
        var round: Int64 = 0
        let help = WeightGradientHelp(window: memory.base, windowFloats: total, control: UnsafeMutableRawPointer(boards),
                                      area: boards + boardFloats, areaFloats: areaFloats, rank: world.rank,
                                      ranks: world.size, currentRound: { round })
        let x = Self.spread(k * m, seed: 2 * world.rank), dy = Self.spread(k * n, seed: 2 * world.rank + 1)
        var alone = [Float](repeating: 0, count: m * n)
        gemmTN(x, dy, &alone, m: m, n: n, leaves: leaves, accumulate: false)
        let mine = memory.base + world.rank * segment, slow = world.size - 1
        var problem: String?
        func record(_ text: @autoclosure () -> String) { if problem == nil { problem = "rank \(world.rank): " + text() } }
        for r in 1...rounds {
            round = r
            mine.update(repeating: .nan, count: m * n)
            try memory.synchronize()
            if world.rank == slow { usleep(20_000) }
            var bands: [Range<Int>] = []
            help.weightGradient(x, dy, into: mine, m: m, n: n, leaves: leaves) { rows in
                bands.append(rows)
                if world.rank == slow { usleep(2_000) }
            }
            if bands.reversed().map(\.lowerBound) != [0] + bands.reversed().dropLast().map(\.upperBound) || bands.first?.upperBound != m {
                record("round \(r): bands \(bands) do not cover 0..<\(m) once, the last first")
            }
            if let i = (0..<(m * n)).first(where: { mine[$0].bitPattern != alone[$0].bitPattern }) {
                record("round \(r): element \(i) is \(mine[i]), computed alone \(alone[i])")
            }
            if world.rank == slow {
                vd_atomic_store_release(flags, r)
            } else {
                help.enterExchange(round: r)
                while vd_atomic_load_acquire(flags) < r { help.assist(round: r) }
            }
            try memory.synchronize()
        }
        var rows = [Double(help.rowsComputedForOthers), Double(help.rowsComputedByOthers),
                    world.rank == slow ? Double(help.rowsComputedByOthers) : 0]
        try world.allreduceSum(&rows)
        if rows[0] != rows[1] { record("the others say they computed \(Int(rows[0])) rows, the offering ranks \(Int(rows[1]))") }
        if world.size > 1 && rows[2] < Double(m) {
            record("others computed \(Int(rows[2])) rows of the slow rank's \(Int(rounds) * m), fewer than one round's worth")
        }
        return problem
    }

    /// `count` values of `seed`, far apart in magnitude, so that another grouping of a sum shows in the bits:
    /// the inputs of the weight-gradient checks.
    static func spread(_ count: Int, seed: Int) -> [Float] {
        (0..<count).map { i in
            var bits = UInt64(truncatingIfNeeded: seed &* 1_000_003 &+ i) &* 0x9E37_79B9_7F4A_7C15
            bits ^= bits >> 29
            return Float(Int64(bitPattern: bits) >> 40) / Float(1 << 23) * Float(1 << (i * 7 % 23))
        }
    }
}
