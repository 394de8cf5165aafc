@testable import Distributed
import Testing

/// `SharedUpdateQueue` in one process: which pieces backward's reports publish. (Several ranks taking
/// pieces over a real node-shared window: Tests/MultiRank/SharedUpdateQueueCheck.swift, under mpirun.)
struct SharedUpdateQueueTests {
    /// A queue of one rank over a zeroed control block, for `count` floats in pieces of 64.
    static func withQueue(count: Int, tensors: [Range<Int>], _ body: (SharedUpdateQueue) -> Void) {
        let bytes = SharedUpdateQueue.controlBytes(count: count, pieceFloats: 64, ranks: 1)
        let control = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        defer { control.deallocate() }
        control.initializeMemory(as: UInt8.self, repeating: 0, count: bytes)
        body(SharedUpdateQueue(control: control, count: count, pieceFloats: 64, rank: 0, ranks: 1, reportedRanges: tensors))
    }

    @Test("a piece is published once its tensors' floats are reported, in any bands; the padding between tensors never holds it back")
    func reportsPublishPieces() {
        // Tensors of 100, 30 and 200 floats, each padded to 16 floats, as ParameterLayout lays them out.
        let tensors = [0..<100, 112..<142, 144..<344], count = 352
        Self.withQueue(count: count, tensors: tensors) { queue in
            for round: Int64 in 1...2 {
                // What is final: the padding from the start, then each band reported.
                var final = (0..<count).map { i in !tensors.contains { $0.contains(i) } }
                // Backward: the last tensor first, each in bands from its end.
                for tensor in tensors.reversed() {
                    var upper = tensor.upperBound
                    while upper > tensor.lowerBound {
                        let band = max(tensor.lowerBound, upper - 24)..<upper
                        queue.reported(band, round: round)
                        for i in band { final[i] = true }
                        upper = band.lowerBound
                        for (index, piece) in queue.pieces.enumerated() {
                            let expected = piece.allSatisfy { final[$0] }
                            #expect(queue.isPublished(index, round: round) == expected,
                                    "round \(round): after \(band), piece \(piece) published: \(!expected)")
                        }
                    }
                }
                #expect(queue.pieces.indices.allSatisfy { queue.isPublished($0, round: round) })
                queue.publishAll(round: round, finite: true)
                while queue.claim(round: round) != nil {}
                #expect(queue.pieces.indices.allSatisfy { !queue.isPublished($0, round: round + 1) })
            }
        }
    }

    @Test("without tensors every float must be reported: a piece with an unreported float waits for publishAll")
    func everyFloatCounts() {
        Self.withQueue(count: 128, tensors: []) { queue in
            queue.reported(0..<60, round: 1)
            queue.reported(64..<128, round: 1)
            #expect(!queue.isPublished(0, round: 1) && queue.isPublished(1, round: 1))
            queue.publishAll(round: 1, finite: true)
            #expect(queue.isPublished(0, round: 1))
        }
    }
}
