import Distributed
import Model
import Foundation

/// Real-MPI checks of `MPICommunicator`. Expected values are closed forms, so every comparison is exact.
/// `@unchecked Sendable`: one check runs on a second thread while this one only waits for it.
final class MultiRankChecks: @unchecked Sendable {
    let world: MPICommunicator
    var passed = 0
    var failed = 0

    init(world: MPICommunicator) { self.world = world }

    func run() {
        // 1_048_576 Floats are one 4 MiB piece of MPICommunicator.allreduceSum; 3_000_000 are two and a part.
        for length in [0, 1, 3, 7, 1023, 65_537, 1_048_576, 1_048_577, 3_000_000] {
            check("allreduceSum Float, length \(length)") { try allreduceFloats(length) }
        }
        check("allreduceSum Double") { try allreduceDoubles() }
        check("allreduceSum Double, length 524_289: pieces are cut by bytes, not elements") { try allreduceLongDoubles() }
        if world.size & (world.size - 1) == 0 {
            // 524_289 = 2^19 + 1: halves of 262_144 and 262_145 floats, one chunk against two (TreeOrderAllreduce).
            for length in [1, 2, 5, 4099, 524_289, 1_000_003] {
                check("allreduceSumInTreeOrder, length \(length): the pairwise tree of ranks, bit for bit") {
                    try treeOrderAllreduce(length)
                }
            }
            // As the overlapped exchange runs it: on a second thread, polling with sleeps in between.
            for length in [3, 524_289, 1_000_003] {
                check("allreduceSumInTreeOrder polling on a second thread, length \(length): the same bits") {
                    guard world.callsFromAnotherThread else { return "MPI was not started with MPI_THREAD_SERIALIZED" }
                    final class Outcome: @unchecked Sendable { var result: Result<String?, Error> = .success("never ran") }
                    let outcome = Outcome(), done = DispatchSemaphore(value: 0)
                    let thread = Thread {
                        outcome.result = Result { try self.treeOrderAllreduce(length, waiting: .polling(pause: { usleep(20) })) }
                        done.signal()
                    }
                    thread.start()
                    done.wait()  // the semaphore orders the thread's write before this read
                    return try outcome.result.get()
                }
            }
        }
        // Not a Set: its iteration order is seeded per process, and every rank must call collectives in the same order.
        for root in world.size == 1 ? [0] : [0, world.size - 1] {
            check("broadcast Float from root \(root)") { try broadcastFloats(root: root) }
            for length in [0, 1, 100_003] { check("broadcast bytes (\(length)) from root \(root)") { try broadcastBytes(length, root: root) } }
        }
        check("allgather") { try allgather() }
        check("gather bytes of varying length") { try gatherBytes() }
        check("ranksDisagreeing names the odd rank") { try disagreement() }
        check("barrier waits for the slowest rank") { try barrierWaits() }
        check("invalid root is an error, not a hang") { try invalidRoot() }
        check("node shared memory: every rank sees every rank's writes after synchronize") { try sharedMemory() }
        check("shared update queue: pieces taken once each, after every rank published them; a slow rank takes fewer") {
            try sharedUpdateQueue()
        }
        check("weight gradient help: a slow rank's gradient computed partly by the others, with its bits alone") {
            try weightGradientHelp()
        }
        if SplitWeightGradients.isSupported(ranks: world.size) {
            check("split weight gradients: each rank's band of the summed gradient, with the bits of the whole batch's") {
                try splitWeightGradients()
            }
        }
    }

    /// Every rank's values are a function of (rank, index) that every rank can compute, with magnitudes over
    /// 2^40 so that the grouping of the additions shows in the bits; the result must equal the pairwise tree
    /// `PairwiseSum.tree` computed locally — and, from 4 ranks on, differ from the left-to-right sum somewhere.
    private func treeOrderAllreduce(_ length: Int, waiting: CollectiveWait = .spinning) throws -> String? {
        func value(_ rank: Int, _ i: Int) -> Float {
            var bits = UInt64(truncatingIfNeeded: rank &* 1_000_003 &+ i) &* 0x9E37_79B9_7F4A_7C15
            bits ^= bits >> 29
            return Float(Int64(bitPattern: bits) >> 40) * Float(1 << (i % 24))
        }
        var buffer = (0..<length).map { value(world.rank, $0) }
        try buffer.withUnsafeMutableBufferPointer { try world.allreduceSumInTreeOrder($0, waiting: waiting) }
        var differsFromLeftToRight = false
        for i in 0..<length {
            let expected = PairwiseSum.tree(world.size) { value($0, i) }
            if buffer[i].bitPattern != expected.bitPattern { return "element \(i): \(buffer[i]), expected \(expected)" }
            let leftToRight = (0..<world.size).reduce(Float(0)) { $0 + value($1, i) }
            if leftToRight.bitPattern != expected.bitPattern { differsFromLeftToRight = true }
        }
        if world.size >= 4 && length > 1000 && !differsFromLeftToRight {
            return "the tree and the left-to-right sums never differ: the check cannot tell them apart"
        }
        return nil
    }

    /// Rank r fills its stretch of a shared window with r + 1 (one odd-sized stretch per rank, so stretches
    /// share cache lines); after `synchronize` every rank reads all of them, for three rounds of new values.
    private func sharedMemory() throws -> String? {
        let stretch = 1001
        guard let memory = try world.nodeSharedMemory(floats: stretch * world.size) else {
            return "mpirun started every rank on this host, yet no shared window"
        }
        if Int(bitPattern: memory.base) % 64 != 0 { return "base \(memory.base) is not 64-byte aligned" }
        for round in 0..<3 {
            for i in 0..<stretch { memory.base[world.rank * stretch + i] = Float(world.rank + 1 + 10 * round) }
            try memory.synchronize()
            for r in 0..<world.size {
                for i in [0, stretch / 2, stretch - 1] where memory.base[r * stretch + i] != Float(r + 1 + 10 * round) {
                    return "round \(round): float \(i) of rank \(r)'s stretch is \(memory.base[r * stretch + i])"
                }
            }
            try memory.synchronize()  // everyone has read before anyone writes the next round
        }
        return nil
    }

    private func check(_ name: String, _ body: () throws -> String?) {
        let problem: String?
        do { problem = try body() } catch { problem = "threw \(error)" }
        if let problem {
            failed += 1
            print("not ok - rank \(world.rank): \(name): \(problem)")
        } else {
            passed += 1
            if world.isRoot { print("ok - \(name)") }
        }
    }

    /// Rank r contributes (r + 1) · v(i) with v(i) = i mod 1000 + 1; the sum is v(i) · n(n+1)/2,
    /// an integer below 2^24 and so exact in Float whatever the summation order.
    private func allreduceFloats(_ length: Int) throws -> String? {
        let value = { (i: Int) in Float(i % 1000 + 1) }
        var buffer = (0..<length).map { Float(world.rank + 1) * value($0) }
        try world.allreduceSum(&buffer)
        let factor = Float(world.size * (world.size + 1) / 2)
        if let bad = buffer.indices.first(where: { buffer[$0] != value($0) * factor }) {
            return "element \(bad) is \(buffer[bad]), expected \(value(bad) * factor)"
        }
        return nil
    }

    private func allreduceDoubles() throws -> String? {
        var buffer: [Double] = [Double(world.rank), 0.5, 1e15]
        try world.allreduceSum(&buffer)
        let n = Double(world.size)
        let expected = [n * (n - 1) / 2, 0.5 * n, 1e15 * n]
        return buffer == expected ? nil : "got \(buffer), expected \(expected)"
    }

    /// One Double more than a 4 MiB piece of `allreduceSum`.
    private func allreduceLongDoubles() throws -> String? {
        let value = { (i: Int) in Double(i % 997 + 1) }
        var buffer = (0..<524_289).map { Double(world.rank + 1) * value($0) }
        try world.allreduceSum(&buffer)
        let factor = Double(world.size * (world.size + 1) / 2)
        if let bad = buffer.indices.first(where: { buffer[$0] != value($0) * factor }) {
            return "element \(bad) is \(buffer[bad]), expected \(value(bad) * factor)"
        }
        return nil
    }

    private func broadcastFloats(root: Int) throws -> String? {
        var buffer = (0..<1001).map { Float(world.rank * 10_000 + $0) }
        try world.broadcast(&buffer, root: root)
        let expected = (0..<1001).map { Float(root * 10_000 + $0) }
        return buffer == expected ? nil : "received another rank's data"
    }

    private func broadcastBytes(_ length: Int, root: Int) throws -> String? {
        let pattern = { (i: Int) in UInt8(truncatingIfNeeded: i &* 31 &+ 7) }
        var bytes = world.rank == root ? (0..<length).map(pattern) : [UInt8](repeating: 9, count: 5 + world.rank)
        try world.broadcast(bytes: &bytes, root: root)
        return bytes == (0..<length).map(pattern) ? nil : "received \(bytes.count) bytes, expected \(length) of the pattern"
    }

    private func allgather() throws -> String? {
        let values = try world.allgather(UInt64(world.rank) &* 0x9E37_79B9_7F4A_7C15)
        let expected = (0..<world.size).map { UInt64($0) &* 0x9E37_79B9_7F4A_7C15 }
        return values == expected ? nil : "got \(values)"
    }

    private func gatherBytes() throws -> String? {
        let mine = Array("rank \(world.rank) says hello".utf8) + [UInt8](repeating: UInt8(world.rank), count: world.rank * 3)
        let gathered = try world.gather(bytes: mine, root: 0)
        if world.isRoot {
            let expected = (0..<world.size).map { Array("rank \($0) says hello".utf8) + [UInt8](repeating: UInt8($0), count: $0 * 3) }
            return gathered == expected ? nil : "root received \(String(describing: gathered))"
        }
        return gathered == nil ? nil : "a non-root rank received the gather"
    }

    private func disagreement() throws -> String? {
        let odd = world.size - 1
        let ranks = try world.ranksDisagreeing(with: world.rank == odd && odd != 0 ? 2 : 1)
        let expected = odd == 0 ? [] : [odd]
        return ranks == expected ? nil : "reported \(ranks), expected \(expected)"
    }

    /// The last rank arrives 0.3 s late; everyone else must wait for it.
    private func barrierWaits() throws -> String? {
        try world.barrier()
        let late = world.size - 1
        let start = Date()
        if world.rank == late { Thread.sleep(forTimeInterval: 0.3) }
        try world.barrier()
        let waited = Date().timeIntervalSince(start)
        return waited >= 0.25 || world.size == 1 ? nil : "left the barrier after \(waited) s"
    }

    private func invalidRoot() throws -> String? {
        var buffer: [Float] = [1]
        do {
            try world.broadcast(&buffer, root: world.size)
            return "broadcast from root \(world.size) did not throw"
        } catch let error as CommunicatorError {
            return error.description.contains("outside") ? nil : "unexpected message: \(error)"
        }
    }
}
