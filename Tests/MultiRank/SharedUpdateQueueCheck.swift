import Distributed
import Foundation

extension MultiRankChecks {
    /// `SharedUpdateQueue` over a real node-shared window, four rounds. Each rank writes its "gradients"
    /// (rank r's element in round t is 100 t + r) layer by layer, last layer first, each layer in three
    /// bands reported as they are written, last band first (as backward's weight gradients go); the last
    /// rank is slow (5 ms per band). Then every rank takes pieces until none is left and marks each element
    /// it updates. Checked, on every rank:
    /// - a taken piece holds every rank's values of this round (nobody takes a piece before all published it);
    /// - no element is updated twice in a round, and after the round every element is updated;
    /// - the others have updated pieces the slow rank reported before it enters the exchange;
    /// - `allFinite` is false in the round where rank 0 reported a non-finite gradient, true otherwise;
    /// - the ranks took every piece once, and the slow rank fewer than an even share: the others updated
    ///   what it had finished while it was still in "backward".
    /// A problem is recorded and the protocol still runs to the end, so no rank is left waiting.
    func sharedUpdateQueue() throws -> String? {
        let count = 40_000, pieceFloats = 1_024, layers = 5, layerFloats = count / layers  // layers cut across pieces
        let controlFloats = SharedUpdateQueue.controlBytes(count: count, pieceFloats: pieceFloats, ranks: world.size) / 4
        guard let memory = try world.nodeSharedMemory(floats: (world.size + 1) * count + controlFloats) else {
            return "mpirun started every rank on this host, yet no shared window"
        }
        let data = memory.base, mark = memory.base + world.size * count
        let queue = SharedUpdateQueue(control: UnsafeMutableRawPointer(mark + count), count: count, pieceFloats: pieceFloats,
                                      rank: world.rank, ranks: world.size)
        let slow = world.size - 1, nonFiniteRound: Int64 = 3
        var problem: String?
        func record(_ text: @autoclosure () -> String) { if problem == nil { problem = "rank \(world.rank): " + text() } }
        var takenBySlow = 0.0
        for round in Int64(1)...4 {
            for layer in stride(from: layers - 1, through: 0, by: -1) {
                let cuts = (0...3).map { layer * layerFloats + $0 * layerFloats / 3 }
                for band in stride(from: 2, through: 0, by: -1) {
                    let range = cuts[band]..<cuts[band + 1]
                    for i in range { data[world.rank * count + i] = Float(100 * round) + Float(world.rank) }
                    queue.reported(range, round: round)
                    if world.rank == slow && world.size > 1 { usleep(5_000) }
                }
            }
            if world.rank == slow && world.size > 1 && !(0..<count).contains(where: { mark[$0] == Float(round) }) {
                record("round \(round): no piece updated before the slow rank entered the exchange, 75 ms after its first report")
            }
            queue.publishAll(round: round, finite: !(round == nonFiniteRound && world.rank == 0))
            var taken = 0
            while let claimed = queue.claim(round: round) {
                taken += 1
                for i in claimed.piece {
                    if mark[i] == Float(round) { record("round \(round): element \(i) updated twice") }
                    for r in 0..<world.size where data[r * count + i] != Float(100 * round) + Float(r) {
                        record("round \(round): piece \(claimed.piece) taken before rank \(r) published element \(i)")
                    }
                    mark[i] = Float(round)
                }
            }
            let finite = queue.allFinite(round: round).finite
            if finite != (round != nonFiniteRound) { record("round \(round): allFinite said \(finite)") }
            try memory.synchronize()
            if let i = (0..<count).first(where: { mark[$0] != Float(round) }) { record("round \(round): element \(i) not updated") }
            var counts = [Double(taken), world.rank == slow ? Double(taken) : 0]
            try world.allreduceSum(&counts)
            if Int(counts[0]) != queue.pieces.count { record("round \(round): \(Int(counts[0])) pieces taken of \(queue.pieces.count)") }
            takenBySlow += counts[1]
            try memory.synchronize()  // every rank has checked before the next round writes
        }
        let evenShare = 4 * Double(queue.pieces.count) / Double(world.size)
        if world.size > 1 && takenBySlow >= evenShare {
            record("the slow rank took \(Int(takenBySlow)) of \(4 * queue.pieces.count) pieces, not fewer than an even share")
        }
        return problem
    }
}
